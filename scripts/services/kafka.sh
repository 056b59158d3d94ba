#!/usr/bin/env bash
# Starts a real Apache Kafka broker (KRaft, one node acting as broker and controller) for Aviary's tests on
# 127.0.0.1. The jars come from Maven Central (tools/kafka/pom.xml) and are cached outside the repository.
# Idempotent: a second run finds it answering metadata requests and returns at once.
#
#   scripts/services/kafka.sh          ensure it is running
#   scripts/services/kafka.sh --url    ensure it is running, print the bootstrap address on stdout
#   scripts/services/kafka.sh stop     stop the broker this script started
#
# Environment: AVIARY_TEST_KAFKA_PORT (19092, the client listener), AVIARY_TEST_KAFKA_CONTROLLER_PORT
# (client port + 1), AVIARY_TEST_KAFKA_HEAP (-Xmx512m -Xms128m), AVIARY_TEST_KAFKA_START_TIMEOUT (120 s).
# Everything else lives under ${XDG_CACHE_HOME:-$HOME/.cache}/aviary/kafka-<version>/: libs/ (the jars),
# data-<port>/ (KRaft log dirs), config-<port>/, kafka-<port>.log and kafka-<port>.pid.
set -euo pipefail
# Only the address goes to stdout (fd 3); everything the tools print goes to stderr.
exec 3>&1 1>&2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
POM="$ROOT/tools/kafka/pom.xml"
PROBE="$ROOT/scripts/services/kafka/probe.mjs"
PORT="${AVIARY_TEST_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${AVIARY_TEST_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
HEAP="${AVIARY_TEST_KAFKA_HEAP:--Xmx512m -Xms128m}"
START_TIMEOUT_S="${AVIARY_TEST_KAFKA_START_TIMEOUT:-120}"
BOOTSTRAP="127.0.0.1:$PORT"
VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
[ -n "$VERSION" ] || { echo "[kafka] no <kafka.version> in $POM" >&2; exit 1; }
HOME_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/aviary/kafka-$VERSION"
LIBS="$HOME_DIR/libs"
DATA="$HOME_DIR/data-$PORT"
CONF="$HOME_DIR/config-$PORT"
PIDFILE="$HOME_DIR/kafka-$PORT.pid"
LOGFILE="$HOME_DIR/kafka-$PORT.log"
log() { echo "[kafka] $*" >&2; }

ready() { node "$PROBE" 127.0.0.1 "$PORT" 2000; }
port_open() { node -e 'require("net").connect(+process.argv[1], "127.0.0.1").on("connect", () => process.exit(0)).on("error", () => process.exit(1))' "$1"; }
our_pid() {
  # The pid in the pidfile, if that process is still our broker (pids get reused).
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $CONF/" &&
    echo "$pid"
}
stop_pid() {
  local pid="$1"
  # SIGTERM is a controlled shutdown (flushes, closes the log cleanly); it takes a few seconds.
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  log "pid $pid ignored SIGTERM for 30 s, killing"
  kill -KILL "$pid" 2>/dev/null || true
}
mkdir -p "$HOME_DIR"

if [ "${1:-}" = "stop" ]; then
  if pid="$(our_pid)"; then
    log "stopping pid $pid"
    stop_pid "$pid"
  else
    log "not running (no live broker pid in $PIDFILE)"
  fi
  rm -f "$PIDFILE"
  exit 0
fi

print_url() { if [ "${1:-}" = "--url" ]; then echo "$BOOTSTRAP" >&3; fi; }

# Fast path: already up.
if ready; then print_url "${1:-}"; exit 0; fi

# One starter at a time (parallel test shards may all call this).
exec 9>"$HOME_DIR/kafka-$PORT.lock"
if command -v flock >/dev/null 2>&1 && ! flock -w "$START_TIMEOUT_S" 9; then
  log "another start still holds $HOME_DIR/kafka-$PORT.lock after ${START_TIMEOUT_S}s"
  exit 1
fi
if ready; then print_url "${1:-}"; exit 0; fi
started=$(date +%s%N)

# Java 17 and Maven are on these machines; install them the Debian way if someone removed them.
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then log "need java (17+) and mvn on PATH"; exit 1; fi
  log "installing openjdk-17-jre-headless and maven from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
fi

# The jars: copied once per pom (the stamp is the pom's hash, so editing the pom reinstalls).
pom_hash="$(sha256sum "$POM" | cut -d' ' -f1)"
if [ ! -f "$LIBS/.aviary-pom-sha256" ] || [ "$(cat "$LIBS/.aviary-pom-sha256")" != "$pom_hash" ]; then
  log "downloading Apache Kafka $VERSION and its runtime dependencies from Maven Central into $LIBS"
  tmp="$HOME_DIR/libs.tmp.$$"
  rm -rf "$tmp"
  # Maven's own cache (~/.m2) makes a reinstall fast. Its output only matters when it fails.
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies -Dkafka.libs="$tmp" >"$HOME_DIR/mvn.log" 2>&1; then
    rm -rf "$tmp"
    log "mvn dependency:copy-dependencies failed:"
    tail -n 40 "$HOME_DIR/mvn.log" >&2
    exit 1
  fi
  echo "$pom_hash" >"$tmp/.aviary-pom-sha256"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
fi
CP="$LIBS/*"

# Configuration is rewritten on every start, so changing this script changes the broker.
mkdir -p "$CONF" "$DATA"
cat >"$CONF/server.properties" <<EOF
# Written by scripts/services/kafka.sh; edits are overwritten on the next start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA/logs
metadata.log.dir=$DATA/metadata

# One node: every internal topic has one replica; tests create topics freely and start fast.
auto.create.topics.enable=true
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

# Test data is disposable: small segments, an hour of retention, checked every minute.
log.segment.bytes=8388608
log.retention.ms=3600000
log.retention.bytes=67108864
log.retention.check.interval.ms=60000
log.cleaner.enable=true
num.network.threads=2
num.io.threads=4
EOF
cat >"$CONF/log4j2.properties" <<'EOF'
# Broker log: INFO for the server's own lifecycle, WARN for the chatty per-partition components.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = warn
logger.log.name = kafka.log
logger.log.level = warn
logger.storage.name = org.apache.kafka.storage
logger.storage.level = warn
logger.cluster.name = kafka.cluster
logger.cluster.level = warn
logger.coordinator.name = org.apache.kafka.coordinator
logger.coordinator.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
logger.raft.name = org.apache.kafka.raft
logger.raft.level = warn
logger.metadata.name = org.apache.kafka.image
logger.metadata.level = warn
EOF
JAVA_OPTS=($HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$CONF/log4j2.properties" "-Dkafka.logs.dir=$HOME_DIR")

# Format the KRaft storage once; the cluster id is generated then and kept in meta.properties.
if [ ! -f "$DATA/metadata/meta.properties" ]; then
  cluster_id="$(java -cp "$CP" "${JAVA_OPTS[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
  log "formatting KRaft storage in $DATA (cluster id $cluster_id)"
  if ! java -cp "$CP" "${JAVA_OPTS[@]}" kafka.tools.StorageTool format \
    --config "$CONF/server.properties" --cluster-id "$cluster_id" --ignore-formatted >"$HOME_DIR/format-$PORT.log" 2>&1; then
    log "formatting failed:"
    tail -n 40 "$HOME_DIR/format-$PORT.log" >&2
    exit 1
  fi
fi

if pid="$(our_pid)"; then
  log "pid $pid is running but does not answer metadata requests; restarting it"
  stop_pid "$pid"
fi
for p in "$PORT" "$CONTROLLER_PORT"; do
  if port_open "$p"; then
    log "port $p is taken by something that is not this script's broker; set AVIARY_TEST_KAFKA_PORT"
    exit 1
  fi
done

log "starting Apache Kafka $VERSION on $BOOTSTRAP (controller :$CONTROLLER_PORT, log: $LOGFILE)"
echo "---- $(date -Is) start" >"$LOGFILE"
# setsid: the broker must outlive this script and the shell/job that ran it. 9>&-: it must not inherit
# the start lock, or the next start would wait on it for as long as the broker runs.
setsid java -cp "$CP" "${JAVA_OPTS[@]}" kafka.Kafka "$CONF/server.properties" >>"$LOGFILE" 2>&1 </dev/null 3>&- 9>&- &
pid=$!
echo "$pid" >"$PIDFILE"

deadline=$(($(date +%s) + START_TIMEOUT_S))
until ready; do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "the broker exited during start; last log lines:"
    tail -n 40 "$LOGFILE" >&2
    rm -f "$PIDFILE"
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "the broker does not answer metadata requests after ${START_TIMEOUT_S}s; last log lines:"
    tail -n 40 "$LOGFILE" >&2
    exit 1
  fi
  sleep 0.25
done
log "ready after $((($(date +%s%N) - started) / 1000000)) ms (pid $pid)"
print_url "${1:-}"
