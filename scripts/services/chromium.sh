#!/usr/bin/env bash
# Installs Debian's Chromium (if needed) for the status-page tests; prints its path with --url.
set -euo pipefail
exec 3>&1 1>&2
BIN="${AVIARY_TEST_CHROMIUM:-/usr/bin/chromium}"
log() { echo "[chromium] $*" >&2; }
if [ ! -x "$BIN" ]; then
  log "installing chromium from apt"
  if [ "$(id -u)" != 0 ]; then log "need root (or sudo) to apt-get install chromium"; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
fi
"$BIN" --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1 || { log "$BIN does not run"; exit 1; }
if [ "${1:-}" = "--url" ]; then echo "$BIN" >&3; fi
