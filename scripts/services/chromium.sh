#!/usr/bin/env bash
# Installs Debian's Chromium (if needed) for the status-page tests; prints its path with --url.
set -euo pipefail
exec 3>&1 1>&2
source "$(dirname "$0")/apt-binary.sh"
apt_binary chromium "${AVIARY_TEST_CHROMIUM:-/usr/bin/chromium}" chromium --headless --no-sandbox --disable-gpu --version -- "$@"
