#!/usr/bin/env bash
# `npm test`: the whole suite. Starts the real services the integration and e2e tests need
# (PostgreSQL, unleash-server, Kafka), idempotently, then runs lint, types and every jest project.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n\033[1m== %s\033[0m (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

if [ ! -d node_modules ]; then step "npm ci"; npm ci --no-audit --no-fund; fi
if [ ! -f libs/persistence/src/generated/prisma/client.ts ]; then step "prisma generate"; node scripts/prisma-generate.mjs; fi

# Starts scripts/services/<name>.sh and prints the one line it answers; stops the run when the
# service cannot start or answers anything but a single address.
# The answer goes through a file, not a pipe: a daemon that inherited the pipe would hold
# `$(...)` open for as long as it runs (seen in CI: postgres kept it, the run hung for 90 minutes).
service_url() {
  local url out
  out="$(mktemp)"
  timeout 900 bash "scripts/services/$1.sh" --url >"$out" </dev/null || {
    rm -f "$out"
    echo "test-all: could not start $1 (see above)" >&2
    exit 1
  }
  url="$(cat "$out")"
  rm -f "$out"
  case "$url" in
    *$'\n'* | "" | *" "*) echo "test-all: scripts/services/$1.sh --url printed '$url', not one address" >&2; exit 1 ;;
  esac
  printf '%s' "$url"
}

step "services: PostgreSQL"
AVIARY_TEST_DATABASE_URL="${AVIARY_TEST_DATABASE_URL:-$(service_url postgres)}"
step "services: unleash-server"
UNLEASH_URL="${AVIARY_TEST_UNLEASH_URL:-$(service_url unleash)}"
step "services: Kafka"
KAFKA_BROKERS="${AVIARY_TEST_KAFKA_BROKERS:-$(service_url kafka)}"
step "services: Chromium"
AVIARY_TEST_CHROMIUM="$(service_url chromium)"
step "tools: promtool"
AVIARY_TEST_PROMTOOL="$(service_url promtool)"
export AVIARY_TEST_DATABASE_URL UNLEASH_URL KAFKA_BROKERS AVIARY_TEST_CHROMIUM AVIARY_TEST_PROMTOOL
# helm is built from the Go module proxy the first time (minutes): in the background while lint,
# types and the build run (they only get slower). The tests wait for it: timing-sensitive tests
# must not share two cores with a Go compile (seen: unit tests timing out beside it).
helm_out="$(mktemp)"
if [ -n "${AVIARY_TEST_HELM:-}" ]; then echo "$AVIARY_TEST_HELM" >"$helm_out"; helm_pid=""
else
  (timeout 900 bash scripts/services/helm.sh --url >"$helm_out" </dev/null) &
  helm_pid=$!
  # A failed step must not leave the build running (and holding this run's output open).
  trap 'kill "$helm_pid" 2>/dev/null || true' EXIT
fi

# eslint (the longest of these, type-aware) runs on the second core beside format, types and the
# build; its output is printed when it is done, so the steps' output does not interleave.
step "lint (in the background), format, typecheck, build"
lint_out="$(mktemp)"
npx eslint . --max-warnings 0 >"$lint_out" 2>&1 &
lint_pid=$!
trap 'kill ${helm_pid:+"$helm_pid"} "$lint_pid" 2>/dev/null || true' EXIT
npx prettier --check . --log-level warn
npx tsc -p tsconfig.json --noEmit
node scripts/build.mjs
step "lint"
if ! wait "$lint_pid"; then cat "$lint_out"; rm -f "$lint_out"; echo "test-all: lint failed (above)" >&2; exit 1; fi
cat "$lint_out"; rm -f "$lint_out"

step "tools: helm"
if [ -n "$helm_pid" ] && ! wait "$helm_pid"; then echo "test-all: could not build helm (see above)" >&2; exit 1; fi
AVIARY_TEST_HELM="$(cat "$helm_out")"
export AVIARY_TEST_HELM

step "unit tests"
npx jest --selectProjects unit --ci
step "integration tests"
npx jest --selectProjects integration --ci --runInBand
step "e2e tests"
npx jest --selectProjects e2e --ci --runInBand

step "all green"
