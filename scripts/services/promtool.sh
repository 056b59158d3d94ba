#!/usr/bin/env bash
# Installs Prometheus' promtool (Debian's prometheus package) if needed; prints its path with --url.
set -euo pipefail
exec 3>&1 1>&2
source "$(dirname "$0")/apt-binary.sh"
APT_NO_RECOMMENDS=1 apt_binary promtool "${AVIARY_TEST_PROMTOOL:-/usr/bin/promtool}" prometheus --version -- "$@"
