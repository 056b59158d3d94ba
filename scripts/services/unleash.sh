#!/usr/bin/env bash
# Starts a real unleash-server (pinned in tools/unleash) for Aviary's tests on 127.0.0.1, backed by the
# test PostgreSQL from postgres.sh. Idempotent: a second run finds it healthy and returns at once.
#
#   scripts/services/unleash.sh          ensure it is running
#   scripts/services/unleash.sh --url    ensure it is running, print its base URL on stdout
#   scripts/services/unleash.sh stop     stop the server this script started
#
# Environment: AVIARY_TEST_UNLEASH_PORT (4242), AVIARY_TEST_UNLEASH_DB (aviary_unleash),
# AVIARY_TEST_PG_PORT (54329, shared with postgres.sh). Logs and pidfile live under
# ${XDG_CACHE_HOME:-$HOME/.cache}/aviary/.
set -euo pipefail
# Only the URL goes to stdout (fd 3); everything the tools print goes to stderr.
exec 3>&1 1>&2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOL="$ROOT/tools/unleash"
PORT="${AVIARY_TEST_UNLEASH_PORT:-4242}"
PG_PORT="${AVIARY_TEST_PG_PORT:-54329}"
DB="${AVIARY_TEST_UNLEASH_DB:-aviary_unleash}"
URL="http://127.0.0.1:$PORT"
STATE="${XDG_CACHE_HOME:-$HOME/.cache}/aviary"
PIDFILE="$STATE/unleash-$PORT.pid"
LOGFILE="$STATE/unleash-$PORT.log"
START_TIMEOUT_S="${AVIARY_TEST_UNLEASH_START_TIMEOUT:-180}"
log() { echo "[unleash] $*" >&2; }
# http_get URL [any]: succeeds on a 2xx answer (or, with "any", on any HTTP answer). curl when present
# (fast), else node, which is always there.
http_get() {
  if command -v curl >/dev/null 2>&1; then
    if [ "${2:-}" = any ]; then curl -s -m 2 -o /dev/null "$1"; else curl -fs -m 2 -o /dev/null "$1"; fi
  else
    node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
      .then((r) => process.exit(r.ok || process.argv[2] === "any" ? 0 : 1), () => process.exit(1))' "$1" "${2:-}"
  fi
}
psql_pg() { psql -h 127.0.0.1 -p "$PG_PORT" -U aviary -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
db_exists() { psql_pg -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" 2>/dev/null | grep -q 1; }
# /health does not touch the database: a server whose database was dropped under it still says GOOD.
healthy() { http_get "$URL/health" && db_exists; }
our_pid() {
  # The pid in the pidfile, if that process is still our launcher (pids get reused).
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "start-server.mjs" "/proc/$pid/cmdline" 2>/dev/null &&
    echo "$pid"
}
mkdir -p "$STATE"

if [ "${1:-}" = "stop" ]; then
  if pid="$(our_pid)"; then
    log "stopping pid $pid"
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "pid $pid ignored SIGTERM, killing"; kill -KILL "$pid"; fi
  else
    log "not running (no live pid in $PIDFILE)"
  fi
  rm -f "$PIDFILE"
  exit 0
fi

print_url() { if [ "${1:-}" = "--url" ]; then echo "$URL" >&3; fi; }

# Fast path: already up.
if healthy; then print_url "${1:-}"; exit 0; fi

# One starter at a time (parallel test shards may all call this).
exec 9>"$STATE/unleash-$PORT.lock"
if command -v flock >/dev/null 2>&1 && ! flock -w "$START_TIMEOUT_S" 9; then
  log "another start still holds $STATE/unleash-$PORT.lock after ${START_TIMEOUT_S}s"
  exit 1
fi
if healthy; then print_url "${1:-}"; exit 0; fi

started=$(date +%s%N)
bash "$ROOT/scripts/services/postgres.sh"
if ! db_exists; then
  log "creating database $DB"
  psql_pg -c "CREATE DATABASE \"$DB\""
fi

# Install the pinned server once per lockfile into the cache, outside any checkout: clones come and
# go (CI clones afresh every run) and a server must never run from a deleted folder.
lock_hash="$(sha256sum "$TOOL/package-lock.json" | cut -d' ' -f1)"
INSTALL="$STATE/unleash-server-${lock_hash:0:16}"
if [ ! -f "$INSTALL/.installed" ] || [ ! -d "$INSTALL/node_modules/unleash-server" ]; then
  log "installing unleash-server into $INSTALL (npm ci)"
  mkdir -p "$INSTALL"
  cp "$TOOL/package.json" "$TOOL/package-lock.json" "$INSTALL/"
  # Install scripts are not needed (husky, telemetry beacons, optional native ssh2 bits).
  npm ci --prefix "$INSTALL" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  touch "$INSTALL/.installed"
fi
# The launcher sits beside its node_modules so its static import resolves there.
cp "$TOOL/start-server.mjs" "$INSTALL/start-server.mjs"

if pid="$(our_pid)"; then
  log "pid $pid is running but not healthy; restarting it"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
fi
if http_get "$URL/" any; then
  log "port $PORT is taken by something that is not a healthy Unleash; set AVIARY_TEST_UNLEASH_PORT"
  exit 1
fi

log "starting unleash-server on $URL (log: $LOGFILE)"
echo "---- $(date -Is) start" >"$LOGFILE"
# setsid: the server must outlive this script and the shell/job that ran it. 9>&-: it must not inherit
# the start lock, or the next start would wait on it for as long as the server runs.
UNLEASH_HOST=127.0.0.1 UNLEASH_PORT="$PORT" UNLEASH_DB_PORT="$PG_PORT" UNLEASH_DB_NAME="$DB" \
  NODE_ENV=production NODE_NO_WARNINGS=1 \
  setsid node "$INSTALL/start-server.mjs" >>"$LOGFILE" 2>&1 </dev/null 3>&- 9>&- &
pid=$!
echo "$pid" >"$PIDFILE"

deadline=$(($(date +%s) + START_TIMEOUT_S))
until healthy; do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "unleash-server exited during start; last log lines:"
    tail -n 40 "$LOGFILE" >&2
    rm -f "$PIDFILE"
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "unleash-server not healthy after ${START_TIMEOUT_S}s; last log lines:"
    tail -n 40 "$LOGFILE" >&2
    exit 1
  fi
  sleep 0.25
done
log "healthy after $((($(date +%s%N) - started) / 1000000)) ms (pid $pid)"
print_url "${1:-}"
