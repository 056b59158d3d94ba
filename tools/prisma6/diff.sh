#!/usr/bin/env bash
# Prints the SQL Prisma writes for prisma/schema.prisma (or the schema given) built from nothing.
# See diff.mjs for how this runs offline.
set -euo pipefail
exec node "$(dirname "${BASH_SOURCE[0]}")/diff.mjs" "$@"
