#!/usr/bin/env bash
# Builds helm (v3) from the Go module proxy into ~/.cache/aviary/bin if needed; prints its path with --url.
# The first build takes a few minutes (it compiles Kubernetes' client libraries); later runs are instant.
set -euo pipefail
exec 3>&1 1>&2
VERSION="${AVIARY_HELM_VERSION:-v3.22.0}"
BIN_DIR="${AVIARY_CACHE_DIR:-$HOME/.cache/aviary}/bin"
BIN="$BIN_DIR/helm-$VERSION"
log() { echo "[helm] $*" >&2; }
if [ -n "${AVIARY_TEST_HELM:-}" ]; then BIN="$AVIARY_TEST_HELM"; fi
if [ ! -x "$BIN" ]; then
  command -v go >/dev/null 2>&1 || { log "needs Go to build helm (or set AVIARY_TEST_HELM to a helm binary)"; exit 1; }
  log "building helm $VERSION with go install (one time, a few minutes)"
  mkdir -p "$BIN_DIR"
  tmp="$(mktemp -d)"
  started=$(date +%s)
  GOBIN="$tmp" CGO_ENABLED=0 go install "helm.sh/helm/v3/cmd/helm@$VERSION"
  mv "$tmp/helm" "$BIN"
  rmdir "$tmp"
  log "built in $(( $(date +%s) - started ))s: $BIN"
fi
"$BIN" version --short >/dev/null || { log "$BIN does not run"; exit 1; }
if [ "${1:-}" = "--url" ]; then echo "$BIN" >&3; fi
