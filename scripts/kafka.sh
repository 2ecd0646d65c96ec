#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft, combined broker+controller) for local runs and
# tests, from the jars that scripts/install-kafka.sh caches (no Docker, no ZooKeeper).
#
#   scripts/kafka.sh start                  start in the background; wait until it serves
#   scripts/kafka.sh stop                   stop it (SIGTERM, then SIGKILL after a timeout)
#   scripts/kafka.sh restart
#   scripts/kafka.sh status                 exit 0 when running
#   scripts/kafka.sh topic NAME [PARTS]     create a topic if it does not exist
#   scripts/kafka.sh topics                 list topics
#   scripts/kafka.sh produce TOPIC          send stdin, one message a line
#   scripts/kafka.sh consume TOPIC [MAX]    print messages from the beginning, MAX (default 1)
#                                           or until KAFKA_CONSUME_TIMEOUT_MS (20000) idle
#   scripts/kafka.sh tool CLASS [ARGS...]   run any Kafka main class against the cached jars
#   scripts/kafka.sh logs                   tail the broker log
#   scripts/kafka.sh bootstrap              print the bootstrap address (127.0.0.1:PORT)
#
# `start` is a no-op when this data dir's broker is already running. The first start
# formats the storage with a random cluster id; later starts reuse the data.
#
# Environment:
#   KAFKA_PORT             client listener port (default 9092); advertised as 127.0.0.1
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default KAFKA_PORT+1)
#   KAFKA_DATA_DIR         server.properties, data/ (log dirs), kafka.pid, kafka.log
#                          (default: <repo>/target/kafka; a relative path is from the cwd)
#   KAFKA_PARTITIONS       num.partitions for auto-created topics (default 3)
#   KAFKA_HEAP_OPTS        broker heap (default "-Xms128m -Xmx512m")
#   KAFKA_START_TIMEOUT    seconds to wait for the broker (default 60)
#   KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 30)
#   KAFKA_VERSION, TODO_CACHE   passed to scripts/install-kafka.sh
#   KAFKA_HOME             use this install instead of calling install-kafka.sh
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"

log() { printf '[kafka] %s\n' "$*" >&2; }
die() { printf '[kafka] error: %s\n' "$*" >&2; exit 1; }

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

KAFKA_PORT="${KAFKA_PORT:-9092}"
is_uint "$KAFKA_PORT" || die "KAFKA_PORT must be a port number, got '$KAFKA_PORT'"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
is_uint "$KAFKA_CONTROLLER_PORT" || die "KAFKA_CONTROLLER_PORT must be a port number"
KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-3}"
is_count() { is_uint "$1" && (($1 > 0)); }
is_count "$KAFKA_PARTITIONS" ||
  die "KAFKA_PARTITIONS must be a positive number, got '$KAFKA_PARTITIONS'"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
{ is_uint "$KAFKA_START_TIMEOUT" && is_uint "$KAFKA_STOP_TIMEOUT"; } ||
  die "KAFKA_START_TIMEOUT and KAFKA_STOP_TIMEOUT must be whole seconds"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$repo_root/target/kafka}"
[[ "$KAFKA_DATA_DIR" == /* ]] || KAFKA_DATA_DIR="$PWD/$KAFKA_DATA_DIR"

bootstrap="127.0.0.1:$KAFKA_PORT"
props="$KAFKA_DATA_DIR/server.properties"
log_dirs="$KAFKA_DATA_DIR/data"
pid_file="$KAFKA_DATA_DIR/kafka.pid"
log_file="$KAFKA_DATA_DIR/kafka.log"

# --- helpers ----------------------------------------------------------------------------

load_home() { # sets KAFKA_HOME and the main classes (classes.env)
  [[ -n "${KAFKA_CLASSES_LOADED:-}" ]] && return 0
  if [[ -z "${KAFKA_HOME:-}" ]]; then
    KAFKA_HOME="$("$script_dir/install-kafka.sh" | tail -n1)" ||
      die "scripts/install-kafka.sh failed"
  fi
  [[ -f "$KAFKA_HOME/classes.env" ]] ||
    die "$KAFKA_HOME is not a kafka home from scripts/install-kafka.sh (no classes.env)"
  # shellcheck disable=SC1091
  source "$KAFKA_HOME/classes.env"
  command -v java >/dev/null 2>&1 || die "java is not installed (need Java 17)"
  KAFKA_CLASSES_LOADED=1
}

log_opt() { # <broker|tools>: the JVM flag that points the logging backend at its config
  local f="log4j.properties"
  [[ "$1" == tools ]] && f="tools-$f"
  if [[ "${KAFKA_LOG4J:-1}" == 2 ]]; then
    printf '%s\n' "-Dlog4j2.configurationFile=$KAFKA_HOME/config/${f/log4j/log4j2}"
  else
    printf '%s\n' "-Dlog4j.configuration=file:$KAFKA_HOME/config/$f"
  fi
}

run_tool() { # <main class> [args...]: a short-lived CLI JVM, tuned for startup time
  load_home
  local cls="$1"
  shift
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    "$(log_opt tools)" -cp "$KAFKA_HOME/libs/*" "$cls" "$@"
}

read_pid() {
  local pid=""
  [[ -f "$pid_file" ]] && pid="$(tr -dc '0-9' <"$pid_file")"
  printf '%s' "$pid"
}

cmdline_of() { # <pid>
  if [[ -r "/proc/$1/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
  else
    ps -p "$1" -o args= 2>/dev/null || true
  fi
}

is_running() { # our broker: the pid is alive and runs this data dir's server.properties
  local pid
  pid="$(read_pid)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && [[ "$(cmdline_of "$pid")" == *"$props"* ]]
}

port_open() { # <port>: something accepts TCP connections on 127.0.0.1:<port>
  if command -v timeout >/dev/null 2>&1; then
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

log_tail() {
  if [[ -f "$log_file" ]]; then
    printf '[kafka] ---- last lines of %s ----\n' "$log_file" >&2
    tail -n "${1:-40}" "$log_file" >&2
    printf '[kafka] ----\n' >&2
  fi
}

new_cluster_id() { # a Kafka Uuid: 16 random bytes, base64url without padding (22 chars)
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ ${#id} == 22 && "$id" != -* ]] && break # Kafka never hands out ids starting with '-'
  done
  printf '%s\n' "$id"
}

write_properties() {
  cat >"$props.tmp" <<EOF
# Generated by scripts/kafka.sh on each start; edit the script (or its env), not this file.
# Single node, KRaft combined mode: this process is both the broker and the controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$log_dirs
auto.create.topics.enable=true
num.partitions=$KAFKA_PARTITIONS
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

# Small footprint for a laptop / CI box.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.segment.bytes=16777216
log.index.size.max.bytes=1048576
log.retention.hours=24
log.retention.check.interval.ms=60000
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=8388608
log.cleaner.io.buffer.size=524288
offsets.topic.segment.bytes=16777216
transaction.state.log.segment.bytes=16777216
metadata.log.segment.bytes=8388608
metadata.log.max.record.bytes.between.snapshots=4194304
EOF
  mv -f "$props.tmp" "$props"
}

format_storage() {
  [[ -f "$log_dirs/meta.properties" ]] && return 0
  local id out
  id="$(new_cluster_id)"
  log "formatting $log_dirs (cluster id $id)"
  if ! out="$(run_tool "$KAFKA_STORAGE_CLASS" format --ignore-formatted \
    --cluster-id "$id" --config "$props" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "formatting the KRaft storage failed ($KAFKA_STORAGE_CLASS format)"
  fi
}

# --- commands ---------------------------------------------------------------------------

cmd_start() {
  if is_running; then
    log "already running (pid $(read_pid), $bootstrap, data $KAFKA_DATA_DIR)"
    return 0
  fi
  rm -f "$pid_file"
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_open "$p" && die "port $p on 127.0.0.1 is already in use by another process
  (another Kafka? set KAFKA_PORT, or stop it: KAFKA_DATA_DIR=<its dir> $0 stop)"
  done
  load_home
  mkdir -p "$KAFKA_DATA_DIR" "$log_dirs"
  write_properties
  format_storage
  [[ -f "$log_file" ]] && mv -f "$log_file" "$log_file.1"

  local t0=$SECONDS
  local heap jvm
  read -r -a heap <<<"$KAFKA_HEAP_OPTS"
  jvm=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
    -XX:MaxInlineLevel=15 -Djava.awt.headless=true "$(log_opt broker)"
    -cp "$KAFKA_HOME/libs/*" "$KAFKA_BROKER_CLASS" "$props")
  local detach=()
  # Own session: no terminal signals reach it. -w: if setsid must fork, it waits for the child.
  if command -v setsid >/dev/null 2>&1 && setsid -w true 2>/dev/null; then detach=(setsid -w); fi
  log "starting Kafka $KAFKA_VERSION on $bootstrap (controller :$KAFKA_CONTROLLER_PORT, data $KAFKA_DATA_DIR)"
  # One process chain, exec'd all the way down (subshell -> nohup -> setsid -> bash -> java),
  # holding none of the caller's file descriptors. The inner shell writes its own pid, which
  # is the JVM's after its exec, whether or not setsid forks.
  (
    cd "$KAFKA_DATA_DIR" || exit 1
    # shellcheck disable=SC2016 # expanded by the inner shell
    exec nohup ${detach[@]+"${detach[@]}"} bash -c 'echo $$ >"$0"; exec "$@"' "$pid_file" "${jvm[@]}"
  ) >"$log_file" 2>&1 </dev/null &
  local launcher=$!

  local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) pid=""
  while ((SECONDS < deadline)); do
    pid="$(read_pid)"
    if [[ -z "$pid" ]] && ! kill -0 "$launcher" 2>/dev/null; then
      log_tail 60
      die "the broker process exited before it started (log: $log_file)"
    fi
    if [[ -n "$pid" ]]; then
      if ! kill -0 "$pid" 2>/dev/null; then
        log_tail 60
        rm -f "$pid_file"
        die "the broker exited during startup (log: $log_file)"
      fi
      if grep -q 'Kafka Server started' "$log_file" 2>/dev/null && port_open "$KAFKA_PORT"; then
        log "ready on $bootstrap in $((SECONDS - t0))s (pid $pid)"
        return 0
      fi
    fi
    sleep 0.5
  done
  log_tail 60
  pid="$(read_pid)"
  kill -KILL ${pid:+"$pid"} "$launcher" 2>/dev/null || true
  rm -f "$pid_file"
  die "the broker did not come up within ${KAFKA_START_TIMEOUT}s; killed it (log: $log_file)"
}

cmd_stop() {
  if ! is_running; then
    rm -f "$pid_file"
    log "not running (data $KAFKA_DATA_DIR)"
    return 0
  fi
  local pid deadline
  pid="$(read_pid)"
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.3; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$pid_file"
  log "stopped"
}

cmd_status() {
  if is_running; then
    echo "kafka running (pid $(read_pid)) on $bootstrap, data $KAFKA_DATA_DIR"
    return 0
  fi
  echo "kafka not running (data $KAFKA_DATA_DIR)"
  return 1
}

require_running() {
  is_running || die "kafka is not running for $KAFKA_DATA_DIR (run: $0 start)"
}

cmd_topic() {
  [[ $# -ge 1 && -n "$1" ]] || die "usage: $0 topic NAME [PARTITIONS]"
  local parts="${2:-$KAFKA_PARTITIONS}"
  is_count "$parts" || die "PARTITIONS must be a positive number, got '$parts'"
  require_running
  load_home
  run_tool "$KAFKA_TOPICS_CLASS" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$1" --partitions "$parts" --replication-factor 1 >&2 ||
    die "creating topic $1 failed"
  log "topic $1 exists"
}

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit "${1:-2}"
}

[[ $# -ge 1 ]] || usage
cmd="$1"
shift
case "$cmd" in
start) cmd_start ;;
stop) cmd_stop ;;
restart) cmd_stop && cmd_start ;;
status) cmd_status ;;
topic) cmd_topic "$@" ;;
topics)
  require_running
  load_home
  run_tool "$KAFKA_TOPICS_CLASS" --bootstrap-server "$bootstrap" --list
  ;;
produce)
  [[ $# -eq 1 ]] || die "usage: $0 produce TOPIC  (messages on stdin, one a line)"
  require_running
  load_home
  run_tool "$KAFKA_PRODUCER_CLASS" --bootstrap-server "$bootstrap" --topic "$1"
  ;;
consume)
  [[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 consume TOPIC [MAX_MESSAGES]"
  require_running
  load_home
  run_tool "$KAFKA_CONSUMER_CLASS" --bootstrap-server "$bootstrap" --topic "$1" \
    --from-beginning --max-messages "${2:-1}" --timeout-ms "${KAFKA_CONSUME_TIMEOUT_MS:-20000}"
  ;;
tool)
  [[ $# -ge 1 ]] || die "usage: $0 tool MAIN_CLASS [ARGS...]"
  run_tool "$@"
  ;;
logs) tail -n "${LINES:-100}" -f "$log_file" ;;
bootstrap) echo "$bootstrap" ;;
-h | --help | help) usage 0 ;;
*)
  log "unknown command: $cmd"
  usage
  ;;
esac
