# shellcheck shell=bash
# The whole system on one machine, as production runs it: a throwaway PostgreSQL
# (scripts/pg.sh), a single-node KRaft Kafka (scripts/kafka.sh) and every function binary
# with its own daprd sidecar (scripts/install-daprd.sh) loading the components/ YAML that
# ships, with only the broker address rewritten. Used by scripts/e2e-dapr.sh and
# scripts/bench/events.sh.
#
# Source it from a script running under `set -euo pipefail`, then:
#
#   stack_init                  # fresh state dir, build, install, trap: everything stops on exit
#   stack_start_pg              # DATABASE_URL, migrations
#   stack_start_kafka           # broker + topics
#   stack_start_function NAME   # the binary on a free port, then its daprd; waits for both
#   stack_kill_app NAME [SIG]   stack_start_app NAME     (same ports: daprd keeps its app)
#   stack_kill_sidecar NAME     stack_start_sidecar NAME
#   stack_stop_pg               stack_restart_pg         (same port: DATABASE_URL holds)
#   stack_stop_kafka            stack_restart_kafka      (same port)
#
# Everything lives under $STACK_DIR (default target/e2e): logs/<name>.log (the app),
# logs/<name>.daprd.log, logs/kafka.log, pg/server.log, resources/ (the generated daprd
# resources), secrets.json (the file of the local secret store: this run's DATABASE_URL).
# On a non-zero exit the tail of every log is printed.
#
# Environment:
#   STACK_DIR           state and logs (default <repo>/target/e2e); wiped at stack_init
#   STACK_PROFILE       cargo profile of the function binaries: debug (default) or release
#   STACK_BUILD=0       do not run cargo build (use the binaries already built)
#   STACK_CARGO_FEATURES  extra `cargo build --features` (e.g. todo-shared/kafka)
#   STACK_LOG_LINES     lines of each log printed on failure (default 30)
#   STACK_SCHEDULER=1   also start the Dapr scheduler and point every daprd at it (Jobs API)
#   STACK_TOPICS        topics created before the sidecars start (name:partitions ...)
#   CARGO_TARGET_DIR    where cargo puts the binaries (default <repo>/target)
#   LOG_LEVEL           the functions' log level (default info)
#   DAPR_LOG_LEVEL      daprd's log level (default info)
#
# Per-function extra environment: before stack_start_function, set
#   STACK_FUNCTION_ENV[name]="KEY=value KEY2=value2"   (words; no spaces inside values)
# and STACK_COMMON_ENV+=(KEY=value) for every function.
#
# A second replica of a function is started by a name with a suffix, e.g. on-completed.2:
# the same binary, app id and extra environment as on-completed, with ports, logs and
# processes of its own (its daprd joins the same consumer group, as a pod's would).

STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK_DIR="${STACK_DIR:-$STACK_ROOT/target/e2e}"
[[ "$STACK_DIR" == /* ]] || STACK_DIR="$PWD/$STACK_DIR"
STACK_PROFILE="${STACK_PROFILE:-debug}"
STACK_LOG_LINES="${STACK_LOG_LINES:-30}"
STACK_TOPICS="${STACK_TOPICS:-task-events:4 task-updates:4 reminders:4 task-events-dlq:1 task-updates-dlq:1 reminders-dlq:1}"
STACK_NAME="${STACK_NAME:-stack}"

declare -A STACK_PID=()        # "app:<name>", "daprd:<name>", "scheduler" -> pid
declare -A STACK_PORTS=()      # "<name>" -> "app http grpc internal metrics"
declare -A STACK_FUNCTION_ENV=()
STACK_COMMON_ENV=()
STACK_STARTED_PG=""
STACK_STARTED_KAFKA=""
STACK_CLEANED=""
STACK_T0=$SECONDS

stack_log() { printf '[%s %s] %s\n' "$STACK_NAME" "$(date +%H:%M:%S)" "$*" >&2; }

# stack_fail MESSAGE: a failed assertion or step. Exits 1; the EXIT trap prints the logs.
STACK_FAILURE=""
stack_fail() {
  STACK_FAILURE="$*"
  printf '\n[%s] FAILED: %s\n\n' "$STACK_NAME" "$*" >&2
  exit 1
}

# STACK_PYTHON: the real interpreter behind python3 (a version manager's shim can cost
# 100 ms a call); stack_py runs it without site-packages (stdlib only, fast start).
stack_find_python() {
  [[ -n "${STACK_PYTHON:-}" ]] && return
  command -v python3 >/dev/null 2>&1 || stack_fail "python3 is needed"
  STACK_PYTHON="$(python3 -c 'import sys; print(sys.executable)')" || stack_fail "python3 does not run"
}
stack_py() { "$STACK_PYTHON" -S "$@"; }

# stack_free_ports N: sets the array STACK_FREE to N distinct free TCP ports on 127.0.0.1
# (held open together while picked), never one handed out before in this run. Call it
# directly (not in $(...)) so that it remembers what it handed out.
STACK_USED_PORTS=""
stack_free_ports() {
  local ports
  stack_find_python
  ports="$(stack_py - "$1" "$STACK_USED_PORTS" <<'PY'
import socket, sys
used = set(sys.argv[2].split())
socks, ports = [], []
while len(ports) < int(sys.argv[1]):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
    p = str(s.getsockname()[1])
    if p not in used and p not in ports:
        ports.append(p)
print(" ".join(ports))
PY
)" || stack_fail "could not find free ports"
  STACK_USED_PORTS+=" $ports"
  read -r -a STACK_FREE <<<"$ports"
}

# stack_wait_http URL TIMEOUT_S [PID] [WHAT]: poll until URL answers 2xx; fail when the
# timeout passes or the process PID dies first.
stack_wait_http() {
  local url="$1" timeout="$2" pid="${3:-}" what="${4:-$1}" deadline
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      stack_fail "$what exited while starting (see its log above)"
    fi
    sleep 0.2
  done
  stack_fail "$what did not answer $url within ${timeout}s"
}

# --- lifecycle -------------------------------------------------------------------------

# stack_init: a fresh state dir, the trap, the function binaries and daprd.
stack_init() {
  mkdir -p "$STACK_DIR"
  trap stack_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  stack_lock

  # Leftovers of a run that was killed too hard to clean up: stop them, then wipe.
  PG_DIR="$STACK_DIR/pg" "$STACK_ROOT/scripts/pg.sh" stop >/dev/null 2>&1 || true
  KAFKA_DATA_DIR="$STACK_DIR/kafka" KAFKA_STOP_TIMEOUT=10 \
    "$STACK_ROOT/scripts/kafka.sh" stop >/dev/null 2>&1 || true
  stack_kill_leftovers
  rm -rf "$STACK_DIR/pg" "$STACK_DIR/kafka" "$STACK_DIR/logs" "$STACK_DIR/resources" \
    "$STACK_DIR/scheduler" "$STACK_DIR/pids" "$STACK_DIR/secrets.json"
  mkdir -p "$STACK_DIR/logs" "$STACK_DIR/resources"

  command -v curl >/dev/null 2>&1 || stack_fail "curl is needed"
  stack_find_python

  local t0=$SECONDS
  STACK_DAPR_BIN="$("$STACK_ROOT/scripts/install-daprd.sh" | tail -n1)" ||
    stack_fail "scripts/install-daprd.sh failed"
  [[ -x "$STACK_DAPR_BIN/daprd" ]] || stack_fail "no daprd in $STACK_DAPR_BIN"
  stack_log "daprd $("$STACK_DAPR_BIN/daprd" --version) from $STACK_DAPR_BIN ($((SECONDS - t0))s)"

  STACK_BIN="${CARGO_TARGET_DIR:-$STACK_ROOT/target}/$STACK_PROFILE"
  [[ "$STACK_BIN" == /* ]] || STACK_BIN="$STACK_ROOT/$STACK_BIN"
  if [[ "${STACK_BUILD:-1}" != 0 ]]; then
    local args=(build --workspace --locked)
    [[ "$STACK_PROFILE" == release ]] && args+=(--release)
    [[ -n "${STACK_CARGO_FEATURES:-}" ]] && args+=(--features "$STACK_CARGO_FEATURES")
    t0=$SECONDS
    stack_log "cargo ${args[*]}"
    (cd "$STACK_ROOT" && cargo "${args[@]}") >&2 || stack_fail "cargo ${args[*]} failed"
    stack_log "built in $((SECONDS - t0))s"
  fi
  [[ -x "$STACK_BIN/todo-local" ]] || stack_fail "no function binaries in $STACK_BIN (build first)"
  STACK_JWT_SECRET="e2e-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  # Each app and its daprd share it: daprd sends it as dapr-api-token, and the app's
  # event, binding and job routes refuse calls without it.
  STACK_APP_API_TOKEN="app-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}

# stack_lock: one run per state dir (a second would wipe the first one's cluster). A lock
# directory holding the runner's pid, not flock: a descriptor inherited by a child that
# outlives the run would hold a flock forever; a dead runner's pid frees this one.
STACK_LOCKED=""
stack_lock() {
  local lock="$STACK_DIR/.lock.d" owner
  if ! mkdir "$lock" 2>/dev/null; then
    owner="$(tr -dc '0-9' <"$lock/pid" 2>/dev/null || true)"
    if [[ -n "$owner" ]] && kill -0 "$owner" 2>/dev/null; then
      stack_fail "another run (pid $owner) is using $STACK_DIR (set STACK_DIR to run side by side)"
    fi
    rm -rf "$lock"
    mkdir "$lock" 2>/dev/null || stack_fail "cannot lock $STACK_DIR"
  fi
  printf '%s\n' "$$" >"$lock/pid"
  STACK_LOCKED=1
}

# Kills what an earlier run of this state dir left behind (it was killed too hard to clean
# up): every process started with STACK_RUN_DIR=<this dir> in its environment. Only called
# while holding the lock, so none of them belongs to a live run.
stack_kill_leftovers() {
  local env pid pids=()
  for env in /proc/[0-9]*/environ; do
    pid="${env#/proc/}"
    pid="${pid%/environ}"
    [[ "$pid" != "$$" ]] || continue
    if tr '\0' '\n' 2>/dev/null <"$env" | grep -qxF "STACK_RUN_DIR=$STACK_DIR"; then
      pids+=("$pid")
    fi
  done
  if ((${#pids[@]})); then
    stack_log "killing ${#pids[@]} leftover process(es) of an earlier run: ${pids[*]}"
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
}

# stack_stop_pids PID...: SIGTERM, up to 8 s to exit, then SIGKILL; reaps them.
stack_stop_pids() {
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + 8)) pid alive
  while ((SECONDS < deadline)); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.2
  done
  kill -KILL "$@" 2>/dev/null || true
  wait "$@" 2>/dev/null || true
}

stack_cleanup() {
  local rc=$?
  [[ -n "$STACK_CLEANED" ]] && return
  STACK_CLEANED=1
  trap - EXIT INT TERM
  if ((rc != 0)); then stack_dump_logs; fi
  stack_log "stopping everything"
  # The sidecars and apps first, then what they use (scheduler, Kafka, PostgreSQL), so that
  # no sidecar logs errors about a scheduler going away.
  local key pids=()
  for key in "${!STACK_PID[@]}"; do [[ "$key" == scheduler ]] || pids+=("${STACK_PID[$key]}"); done
  stack_stop_pids ${pids[@]+"${pids[@]}"}
  stack_stop_pids ${STACK_PID[scheduler]:+"${STACK_PID[scheduler]}"}
  if [[ -n "$STACK_STARTED_KAFKA" ]]; then
    KAFKA_DATA_DIR="$STACK_DIR/kafka" KAFKA_STOP_TIMEOUT=10 \
      "$STACK_ROOT/scripts/kafka.sh" stop 2>/dev/null || true
  fi
  if [[ -n "$STACK_STARTED_PG" ]]; then
    PG_DIR="$STACK_DIR/pg" "$STACK_ROOT/scripts/pg.sh" stop || true
  fi
  [[ -z "$STACK_LOCKED" ]] || rm -rf "$STACK_DIR/.lock.d"
  if ((rc == 0)); then
    stack_log "done in $((SECONDS - STACK_T0))s; logs in $STACK_DIR/logs"
  else
    stack_log "FAILED (exit $rc) after $((SECONDS - STACK_T0))s; logs in $STACK_DIR/logs"
    [[ -z "$STACK_FAILURE" ]] || printf '[%s] FAILED: %s\n' "$STACK_NAME" "$STACK_FAILURE" >&2
  fi
  exit "$rc"
}

stack_dump_logs() {
  local f n="$STACK_LOG_LINES"
  for f in "$STACK_DIR"/logs/*.log "$STACK_DIR/pg/server.log"; do
    [[ -s "$f" ]] || continue
    printf '\n----- %s (last %s lines) -----\n' "${f#"$STACK_ROOT"/}" "$n" >&2
    tail -n "$n" "$f" | cut -c1-600 >&2
  done
  printf '\n' >&2
}

# --- PostgreSQL ------------------------------------------------------------------------

stack_start_pg() {
  local out
  out="$(PG_DIR="$STACK_DIR/pg" PG_DATABASE=todo_e2e "$STACK_ROOT/scripts/pg.sh" start)" ||
    stack_fail "scripts/pg.sh start failed"
  STACK_STARTED_PG=1
  DATABASE_URL="${out#DATABASE_URL=}"
  export DATABASE_URL
  PSQL="$(command -v psql || printf '%s\n' /usr/lib/postgresql/*/bin/psql | sort -V | tail -n1)"
  [[ -x "$PSQL" ]] || stack_fail "psql not found"
  JWT_SECRET="$STACK_JWT_SECRET" LOG_FORMAT=json "$STACK_BIN/todo-local" migrate \
    >>"$STACK_DIR/logs/migrate.log" 2>&1 || stack_fail "todo-local migrate failed"
  stack_log "PostgreSQL ready: ${DATABASE_URL%%@*}@${DATABASE_URL#*@} (migrated)"
}

# stack_stop_pg, stack_restart_pg: stop PostgreSQL (a fast shutdown: every session is
# ended, open transactions roll back), and start it again on the same data and port, so
# that DATABASE_URL stays valid and the functions' pools reconnect to it.
stack_stop_pg() {
  PG_DIR="$STACK_DIR/pg" "$STACK_ROOT/scripts/pg.sh" stop || stack_fail "scripts/pg.sh stop failed"
}
stack_restart_pg() {
  local out
  out="$(PG_DIR="$STACK_DIR/pg" PG_DATABASE=todo_e2e "$STACK_ROOT/scripts/pg.sh" start)" ||
    stack_fail "scripts/pg.sh start (again) failed"
  [[ "${out#DATABASE_URL=}" == "$DATABASE_URL" ]] ||
    stack_fail "PostgreSQL came back at ${out#DATABASE_URL=}, not $DATABASE_URL (its port was taken)"
}

# stack_sql QUERY: one value (or rows, '|'-separated) from the e2e database.
stack_sql() {
  "$PSQL" "$DATABASE_URL" -X -q -tA -v ON_ERROR_STOP=1 -c "$1"
}

# --- Kafka -----------------------------------------------------------------------------

stack_kafka() { KAFKA_DATA_DIR="$STACK_DIR/kafka" KAFKA_PORT="$KAFKA_PORT" \
  KAFKA_CONTROLLER_PORT="$KAFKA_CONTROLLER_PORT" "$STACK_ROOT/scripts/kafka.sh" "$@"; }

stack_start_kafka() {
  local t0=$SECONDS
  stack_free_ports 2
  KAFKA_PORT="${STACK_FREE[0]}" KAFKA_CONTROLLER_PORT="${STACK_FREE[1]}"
  KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
  export KAFKA_BROKERS
  STACK_STARTED_KAFKA=1
  stack_kafka start || stack_fail "scripts/kafka.sh start failed"
  ln -sf ../kafka/kafka.log "$STACK_DIR/logs/kafka.log"
  local spec
  for spec in $STACK_TOPICS; do
    stack_kafka topic "${spec%%:*}" "${spec#*:}" 2>>"$STACK_DIR/logs/kafka-tools.log" ||
      stack_fail "could not create topic ${spec%%:*}"
  done
  stack_log "Kafka ready on $KAFKA_BROKERS with topics $STACK_TOPICS ($((SECONDS - t0))s)"
  stack_write_resources
}

# stack_stop_kafka, stack_restart_kafka: stop the broker (SIGTERM: a controlled shutdown)
# and start it again on the same data and port.
stack_stop_kafka() {
  KAFKA_STOP_TIMEOUT=20 stack_kafka stop || stack_fail "scripts/kafka.sh stop failed"
}
stack_restart_kafka() {
  stack_kafka start || stack_fail "scripts/kafka.sh start (again) failed"
}

# The shipped components/ with the brokers value pointed at this run's broker and the
# secret store's secretsFile at this run's secrets file, which holds this run's
# DATABASE_URL as `database-url` (the state store's connection string). Any other
# difference from the shipped files would make this test prove less, so nothing else changes.
stack_write_resources() {
  local res="$STACK_DIR/resources" f secrets="$STACK_DIR/secrets.json" file
  [[ -n "${DATABASE_URL:-}" ]] || stack_fail "stack_write_resources needs DATABASE_URL (stack_start_pg first)"
  (umask 077 && stack_py -c 'import json, sys; json.dump({"database-url": sys.argv[1]}, open(sys.argv[2], "w"))' \
    "$DATABASE_URL" "$secrets") || stack_fail "could not write $secrets"
  # shellcheck disable=SC2001 # the path as a sed replacement: \, & and | escaped
  file="$(sed -e 's/[\\&|]/\\&/g' <<<"$secrets")"
  for f in "$STACK_ROOT"/components/*.yaml; do
    sed -E -e "/^[[:space:]]*- name: brokers[[:space:]]*\$/{n;s/(value:[[:space:]]*).*/\1\"$KAFKA_BROKERS\"/}" \
      -e "/^[[:space:]]*- name: secretsFile[[:space:]]*\$/{n;s|(value:[[:space:]]*).*|\1\"$file\"|}" \
      "$f" >"$res/$(basename "$f")"
  done
  grep -q "\"$KAFKA_BROKERS\"" "$res/pubsub.yaml" ||
    stack_fail "could not rewrite the brokers value of components/pubsub.yaml"
  grep -qF "\"$secrets\"" "$res/secretstore.yaml" ||
    stack_fail "could not rewrite the secretsFile value of components/secretstore.yaml"
  if [[ -n "${STACK_SCHEDULER:-}" ]]; then stack_start_scheduler; fi
}

# --- Dapr scheduler (Jobs API) ----------------------------------------------------------

stack_start_scheduler() {
  local ports
  stack_free_ports 5
  ports=("${STACK_FREE[@]}")
  STACK_SCHEDULER_ADDRESS="127.0.0.1:${ports[0]}"
  mkdir -p "$STACK_DIR/scheduler"
  STACK_RUN_DIR="$STACK_DIR" "$STACK_DAPR_BIN/scheduler" --port "${ports[0]}" \
    --listen-address 127.0.0.1 \
    --healthz-listen-address 127.0.0.1 --healthz-port "${ports[1]}" \
    --metrics-listen-address 127.0.0.1 --metrics-port "${ports[2]}" \
    --etcd-data-dir "$STACK_DIR/scheduler/etcd" --etcd-client-port "${ports[3]}" \
    --etcd-initial-cluster "dapr-scheduler-server-0=http://localhost:${ports[4]}" \
    >>"$STACK_DIR/logs/scheduler.log" 2>&1 &
  stack_record scheduler $!
  stack_wait_http "http://127.0.0.1:${ports[1]}/healthz" 60 "${STACK_PID[scheduler]}" "the Dapr scheduler"
  stack_log "Dapr scheduler ready on $STACK_SCHEDULER_ADDRESS"
}

# --- functions and their sidecars -------------------------------------------------------

# stack_record KEY PID: a process of this run, stopped at exit. Start it with
# STACK_RUN_DIR="$STACK_DIR" in its environment so that a later run can find it if this one
# is killed too hard to clean up. PID must be the program's own (not a subshell's: put the
# program itself in the background, not a shell function).
stack_record() {
  STACK_PID[$1]="$2"
}

# stack_port NAME app|http|grpc|internal|metrics
stack_port() {
  local p
  read -r -a p <<<"${STACK_PORTS[$1]:?no such function started: $1}"
  case "$2" in
    app) echo "${p[0]}" ;; http) echo "${p[1]}" ;; grpc) echo "${p[2]}" ;;
    internal) echo "${p[3]}" ;; metrics) echo "${p[4]}" ;;
    *) stack_fail "stack_port: unknown port kind $2" ;;
  esac
}

# stack_url NAME: the function's base URL (its own port, as the ingress would reach it).
stack_url() { echo "http://127.0.0.1:$(stack_port "$1" app)"; }

stack_start_function() {
  local name="$1"
  stack_start_app "$name"
  stack_start_sidecar "$name"
}

# stack_start_app NAME: the function's app alone (its ports are chosen on first start).
stack_start_app() {
  local name="$1" extra=() log
  [[ -x "$STACK_BIN/${name%.*}" ]] || stack_fail "no binary $STACK_BIN/${name%.*}"
  if [[ -z "${STACK_PORTS[$name]:-}" ]]; then
    stack_free_ports 5
    STACK_PORTS[$name]="${STACK_FREE[*]}"
  fi
  log="$STACK_DIR/logs/$name.log"
  read -r -a extra <<<"${STACK_FUNCTION_ENV[${name%.*}]:-}"
  printf -- '--- start %s\n' "$(date -u +%FT%TZ)" >>"$log"
  env STACK_RUN_DIR="$STACK_DIR" \
    DATABASE_URL="$DATABASE_URL" JWT_SECRET="$STACK_JWT_SECRET" \
    APP_API_TOKEN="$STACK_APP_API_TOKEN" APP_HOST=127.0.0.1 \
    APP_PORT="$(stack_port "$name" app)" DAPR_HTTP_PORT="$(stack_port "$name" http)" \
    DAPR_GRPC_PORT="$(stack_port "$name" grpc)" \
    PUBSUB_TRANSPORT="${PUBSUB_TRANSPORT:-dapr}" PUBSUB_NAME=pubsub \
    SUBSCRIBE_TRANSPORT="${SUBSCRIBE_TRANSPORT:-dapr}" \
    KAFKA_BROKERS="${KAFKA_BROKERS:-}" \
    DATABASE_MAX_CONNECTIONS="${DATABASE_MAX_CONNECTIONS:-10}" \
    LOG_FORMAT=json LOG_LEVEL="${LOG_LEVEL:-info}" \
    ${STACK_COMMON_ENV[@]+"${STACK_COMMON_ENV[@]}"} ${extra[@]+"${extra[@]}"} \
    "$STACK_BIN/${name%.*}" >>"$log" 2>&1 &
  stack_record "app:$name" $!
  stack_wait_http "$(stack_url "$name")/healthz" 30 "${STACK_PID[app:$name]}" "$name"
}

stack_start_sidecar() {
  local name="$1" log args=()
  log="$STACK_DIR/logs/$name.daprd.log"
  args=(--app-id "${name%.*}" --app-port "$(stack_port "$name" app)"
    --app-channel-address 127.0.0.1
    --dapr-http-port "$(stack_port "$name" http)" --dapr-grpc-port "$(stack_port "$name" grpc)"
    --dapr-internal-grpc-port "$(stack_port "$name" internal)"
    --dapr-internal-grpc-listen-address 127.0.0.1 --dapr-listen-addresses 127.0.0.1
    --metrics-port "$(stack_port "$name" metrics)" --metrics-listen-address 127.0.0.1
    --resources-path "$STACK_DIR/resources" --log-level "${DAPR_LOG_LEVEL:-info}")
  if [[ -n "${STACK_SCHEDULER_ADDRESS:-}" ]]; then
    args+=(--scheduler-host-address "$STACK_SCHEDULER_ADDRESS")
  fi
  printf -- '--- start %s\n' "$(date -u +%FT%TZ)" >>"$log"
  STACK_RUN_DIR="$STACK_DIR" APP_API_TOKEN="$STACK_APP_API_TOKEN" \
    "$STACK_DAPR_BIN/daprd" "${args[@]}" >>"$log" 2>&1 &
  stack_record "daprd:$name" $!
  stack_wait_http "http://127.0.0.1:$(stack_port "$name" http)/v1.0/healthz" 60 \
    "${STACK_PID[daprd:$name]}" "daprd for $name"
}

# stack_kill KEY [SIGNAL]: signal one recorded process (default SIGKILL) and reap it.
stack_kill() {
  local key="$1" sig="${2:-KILL}" pid
  pid="${STACK_PID[$key]:-}"
  [[ -n "$pid" ]] || stack_fail "stack_kill: $key was not started"
  kill -"$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "STACK_PID[$key]"
}
stack_kill_app() { stack_kill "app:$1" "${2:-KILL}"; }
stack_kill_sidecar() { stack_kill "daprd:$1" "${2:-KILL}"; }

# stack_subscriptions NAME: the subscriptions daprd loaded for NAME, one per line:
# "pubsub topic route deadLetterTopic" (from the sidecar's metadata API).
stack_subscriptions() {
  curl -fsS --max-time 5 "http://127.0.0.1:$(stack_port "$1" http)/v1.0/metadata" |
    stack_py -c '
import json, sys
for s in json.load(sys.stdin).get("subscriptions") or []:
    rules = (s.get("rules") or [{}])
    routes = ",".join(r.get("path", "") for r in rules)
    print(s.get("pubsubname"), s.get("topic"), routes, s.get("deadLetterTopic", "-"))
'
}

# --- HTTP client -------------------------------------------------------------------------

# stack_http METHOD URL [BODY]: sets HTTP_STATUS and HTTP_BODY_FILE (the answer's body).
# Sends $TOKEN as the bearer token when set.
stack_http() {
  local method="$1" url="$2" body="${3:-}" args=()
  HTTP_BODY_FILE="${HTTP_BODY_FILE:-$STACK_DIR/http-body.json}"
  args=(-sS -o "$HTTP_BODY_FILE" -w '%{http_code}' --max-time 15 -X "$method")
  [[ -n "${TOKEN:-}" ]] && args+=(-H "Authorization: Bearer $TOKEN")
  [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  HTTP_STATUS="$(curl "${args[@]}" "$url" 2>>"$STACK_DIR/logs/curl.log")" || HTTP_STATUS=000
}

# stack_expect_http STATUS METHOD URL [BODY]: stack_http, failing unless the status matches.
stack_expect_http() {
  local want="$1"
  shift
  stack_http "$@"
  [[ "$HTTP_STATUS" == "$want" ]] ||
    stack_fail "$1 $2 answered $HTTP_STATUS, expected $want: $(head -c 500 "$HTTP_BODY_FILE" 2>/dev/null)"
}

# stack_json EXPR [FILE]: evaluate a Python expression over the JSON document `j`
# (default: the last HTTP answer) and print the result: JSON for lists and dicts, true/false
# for booleans, nothing for None. `ts(s)` turns an RFC 3339 time into epoch seconds.
stack_json() {
  stack_py - "$1" "${2:-$HTTP_BODY_FILE}" <<'PY'
import json, sys
from datetime import datetime
def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
with open(sys.argv[2]) as f:
    j = json.load(f)
v = eval(sys.argv[1], {"j": j, "ts": ts})
if isinstance(v, bool):
    print("true" if v else "false")
elif isinstance(v, (list, dict)):
    print(json.dumps(v))
elif v is not None:
    print(v)
PY
}

# stack_token USER: a 24 h JWT for USER, signed with this run's JWT_SECRET.
stack_token() {
  JWT_SECRET="$STACK_JWT_SECRET" LOG_LEVEL=warn "$STACK_BIN/todo-local" token "$1" 2>/dev/null ||
    stack_fail "todo-local token $1 failed"
}

# stack_wait_until TIMEOUT_S DESCRIPTION COMMAND...: run COMMAND every second until it
# succeeds; fail with DESCRIPTION when TIMEOUT_S pass first. COMMAND may set STACK_STATE to
# say what it saw last; the failure message includes it.
stack_wait_until() {
  local timeout="$1" what="$2" deadline
  shift 2
  deadline=$((SECONDS + timeout))
  STACK_STATE=""
  while :; do
    if "$@"; then return 0; fi
    ((SECONDS < deadline)) || break
    sleep 1
  done
  stack_fail "timed out after ${timeout}s waiting for: $what${STACK_STATE:+ (last seen: $STACK_STATE)}"
}
