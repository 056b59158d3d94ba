#!/usr/bin/env bash
# Installs (if needed) and starts a PostgreSQL cluster for Aviary's tests on 127.0.0.1.
# Idempotent: a second run finds it running and returns at once.
# Prints nothing on success but the URL on stdout when called with --url.
set -euo pipefail
# Only the URL goes to stdout (fd 3): tools like pg_ctl print notes ("Removed stale pid file.") that
# would otherwise end up inside `$(postgres.sh --url)`.
exec 3>&1 1>&2
PORT="${AVIARY_TEST_PG_PORT:-54329}"
CLUSTER="aviary"
log() { echo "[postgres] $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing postgresql from apt"
  if [ "$(id -u)" != 0 ]; then log "need root (or sudo) to apt-get install postgresql"; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 3>&-
  apt-get install -y -qq postgresql >/dev/null 3>&-
fi
VER="$(ls /usr/lib/postgresql | sort -V | tail -n1)"

if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$VER $CLUSTER"; then
  log "creating cluster $VER/$CLUSTER on port $PORT"
  pg_createcluster "$VER" "$CLUSTER" -p "$PORT" -- --auth-local=trust --auth-host=trust >/dev/null
  conf="/etc/postgresql/$VER/$CLUSTER"
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "max_connections = 300"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "shared_buffers = 256MB"
  } >>"$conf/postgresql.conf"
fi

status="$(pg_lsclusters -h | awk -v v="$VER" -v c="$CLUSTER" '$1==v && $2==c {print $4}')"
if [ "$status" != "online" ]; then
  log "starting cluster $VER/$CLUSTER"
  # 3>&-: the server must not inherit the URL pipe, or `$(postgres.sh --url)` waits for it to exit.
  pg_ctlcluster --skip-systemctl-redirect "$VER" "$CLUSTER" start 3>&-
fi

for _ in $(seq 1 50); do
  if pg_isready -h 127.0.0.1 -p "$PORT" -q; then break; fi
  sleep 0.2
done
pg_isready -h 127.0.0.1 -p "$PORT" -q || { log "postgres did not become ready"; exit 1; }

# A superuser role for tests (trust auth on loopback, so the password is only for URL syntax).
psql -h 127.0.0.1 -p "$PORT" -U postgres -qtAc "SELECT 1 FROM pg_roles WHERE rolname='aviary'" | grep -q 1 ||
  psql -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE ROLE aviary LOGIN SUPERUSER PASSWORD 'aviary'"
if [ "${1:-}" = "--url" ]; then echo "postgresql://aviary:aviary@127.0.0.1:$PORT/postgres" >&3; fi
