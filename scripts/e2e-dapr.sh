#!/usr/bin/env bash
# End to end under the real thing: PostgreSQL, a single-node Kafka and every function with
# its own daprd sidecar (Dapr v1.16, built from the Go module proxy) loading the shipped
# components/ (pubsub.kafka, the reminder-cron binding, the declarative subscriptions).
# Requests go straight to each function's port, as the ingress routes them.
#
#   scripts/e2e-dapr.sh                      # every scenario
#   scripts/e2e-dapr.sh recurring            # a subset, in the order given
#   scripts/e2e-dapr.sh --list               # the scenarios
#
# Scenarios (one scenario_<name> function each; add one by writing the function and
# listing it in SCENARIOS):
#   recurring          create a weekly task over HTTP, complete it: its next occurrence
#                      appears (due + 7 days, recurrence_parent_id = the first task), the
#                      history (audit) shows task.created then task.completed, and the
#                      occurrence's event is in the completion's trace
#   direct             on-completed without its sidecar (SUBSCRIBE_TRANSPORT=kafka,
#                      PUBSUB_TRANSPORT=kafka): it lists no subscriptions on GET
#                      /dapr/subscribe, reads task-events itself in the consumer group its
#                      daprd used, and makes the next occurrence of a task completed through
#                      complete-task's daprd; audit (through its daprd) records the
#                      occurrence's event, which on-completed wrote to Kafka itself. Then it
#                      gets its sidecar back
#   recurring-restart  complete E2E_RESTART_TASKS (200) recurring tasks while on-completed is
#                      SIGKILLed and restarted mid-stream (once the app alone, once the app
#                      and its daprd): every completion gets exactly one next occurrence,
#                      the audit log gets every event once, the outbox drains
#   stream             two users hold SSE streams on realtime (its own consumer group):
#                      each sees its own task.created, task.updated, task.completed in
#                      order and nothing of the other's
#   reminders          a task due in 2 minutes with a 1-minute reminder: a local webhook
#                      receiver gets exactly one correctly signed reminder.due within 90 s of
#                      remind_at, fired by the real reminder-cron binding (reminder-jobs is
#                      not running yet), and the user's stream shows it
#   jobs               starts reminder-jobs (Dapr Jobs API on the scheduler): a reminder 30 s
#                      ahead fires at its time through job reminder-<task_id>, once
#   chat               starts mcp and chat: a chat message creates a weekly task through
#                      Dapr service invocation of mcp's tools; the conversation is kept in
#                      the state.postgresql state store (with the secret store); "done
#                      with ..." in the same conversation completes it, and on-completed
#                      creates the next occurrence
#   faults             a steady mixed load (scripts/lib/faults.py drive: weekly tasks created
#                      and completed, tasks created, renamed, read and listed, reminders
#                      falling due to a local webhook) runs for a few minutes while, in
#                      turn: PostgreSQL is stopped across a reminder-cron tick and started
#                      again on its port, the Kafka broker is stopped and started again,
#                      E2E_FAULTS_CONSUMER (audit) is SIGKILLed and then its daprd, and
#                      update-task is SIGTERMed while a request is inside it (held on a row
#                      lock): it must stop accepting, answer that request and exit 0.
#                      Afterwards (scripts/lib/faults.py check): every 2xx write is in the
#                      database as answered and no failed one is; the only errors were 503
#                      with Retry-After while the database was down, answered within
#                      E2E_FAULTS_FAIL_FAST s, and refused connections to update-task while
#                      it was stopped; every completion has exactly one next occurrence;
#                      every task-events event is audited once; every due reminder reached
#                      the webhook once, signed; the outbox drains. Prints the counts.
# Always checked: daprd loaded exactly one subscription per consumer (the declarative YAML
# and the app's GET /dapr/subscribe agree; the app's wins), and no event was dead-lettered.
#
# Needs only the toolchains (Rust, Go, Java + Maven, python3, curl); installs and caches
# PostgreSQL (Debian package), Kafka's jars and daprd through the project's scripts. The
# first run on a fresh machine builds daprd (about 10 minutes on 2 cores).
#
# Environment (see also scripts/lib/stack.sh: STACK_DIR, STACK_PROFILE, STACK_BUILD, ...):
#   E2E_RESTART_TASKS   tasks in recurring-restart (default 200)
#   E2E_RESTART_PACE    seconds between two completions there (default 0.1)
#   E2E_TIMEOUT         seconds to wait for an eventual outcome (default 180)
#   E2E_FAULTS_CONSUMER the consumer SIGKILLed in faults, app then daprd (default audit)
#   E2E_FAULTS_SETTLE   seconds of load before, between and after the faults (default 20)
#   E2E_FAULTS_DOWN     seconds PostgreSQL and Kafka each stay down (default 10)
#   E2E_FAULTS_FAIL_FAST  the most seconds a request may take to fail while the database
#                       is down (default 6: the pool's wait for a connection, and a margin)
# Logs: target/e2e/logs/ (printed, last lines, on failure). Exit status 0 only when every
# assertion of every scenario held.
set -euo pipefail

STACK_NAME=e2e
# shellcheck source-path=SCRIPTDIR source=lib/stack.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/stack.sh"

SCENARIOS=(recurring direct recurring-restart stream reminders jobs chat faults)
# Every function runs with its own sidecar, as in production. reminder-jobs starts in the
# jobs scenario, so that the reminders scenario proves the cron binding alone.
FUNCTIONS=(create-task list-tasks get-task update-task complete-task delete-task
  on-completed audit reminder-tick notify realtime)
# The subscriptions daprd must load for each consumer ("pubsub topic route dead-letter",
# several separated by ';'), as the functions declare them (`todo-local subscriptions
# --table`, read after the build): DECLARED for every function, CONSUMERS for those running.
declare -A DECLARED=() CONSUMERS=()
load_subscriptions() {
  local app pubsub topic route dlq f
  while read -r app pubsub topic route dlq; do
    DECLARED[$app]="${DECLARED[$app]:+${DECLARED[$app]};}$pubsub $topic $route $dlq"
  done < <(JWT_SECRET="$STACK_JWT_SECRET" LOG_LEVEL=warn "$STACK_BIN/todo-local" subscriptions --table)
  for f in "${FUNCTIONS[@]}"; do
    if [[ -n "${DECLARED[$f]:-}" ]]; then CONSUMERS[$f]="${DECLARED[$f]}"; fi
  done
  ((${#CONSUMERS[@]})) || fail "todo-local subscriptions --table declared no consumer"
}
# The Jobs API needs the scheduler; every daprd is pointed at it.
STACK_SCHEDULER=1
STACK_FUNCTION_ENV[notify]="WEBHOOK_ALLOWED_HOSTS=127.0.0.1"
STACK_FUNCTION_ENV[chat]="STATE_STORE=statestore"
E2E_RESTART_TASKS="${E2E_RESTART_TASKS:-200}"
E2E_RESTART_PACE="${E2E_RESTART_PACE:-0.1}"
E2E_TIMEOUT="${E2E_TIMEOUT:-180}"
E2E_FAULTS_CONSUMER="${E2E_FAULTS_CONSUMER:-audit}"
E2E_FAULTS_SETTLE="${E2E_FAULTS_SETTLE:-20}"
E2E_FAULTS_DOWN="${E2E_FAULTS_DOWN:-10}"
E2E_FAULTS_FAIL_FAST="${E2E_FAULTS_FAIL_FAST:-6}"

log() { stack_log "$@"; }
fail() { stack_fail "$@"; }

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

# --- shared checks -----------------------------------------------------------------------

check_subscription() { # NAME
  local name="$1" want got
  want="$(tr ';' '\n' <<<"${CONSUMERS[$name]}" | sort)"
  got="$(stack_subscriptions "$name" | sort)" || fail "cannot read daprd's metadata for $name"
  [[ "$got" == "$want" ]] ||
    fail "daprd for $name loaded subscriptions [$got], expected exactly [$want]"
}

check_subscriptions() {
  local name
  for name in "${!CONSUMERS[@]}"; do check_subscription "$name"; done
  log "subscriptions: as declared, once each (${!CONSUMERS[*]})"
}

# Only the sidecar reaches a function's event routes: a call without the app API token is
# refused (the scenarios prove that daprd's calls, which carry it, get through).
check_sidecar_routes_closed() {
  local name route code
  for name in "${!CONSUMERS[@]}"; do
    route="$(awk '{ print $3 }' <<<"${CONSUMERS[$name]%%;*}")"
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
      -H 'content-type: application/cloudevents+json' -d '{}' "$(stack_url "$name")$route")"
    [[ "$code" == 401 ]] || fail "$name answered $code to an unauthenticated POST $route (want 401)"
  done
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
    "$(stack_url reminder-tick)/reminder-cron")"
  [[ "$code" == 401 ]] || fail "reminder-tick answered $code to an unauthenticated POST /reminder-cron"
  log "sidecar routes: refused without the app API token (${!CONSUMERS[*]}, reminder-tick)"
}

check_no_dead_letters() {
  local out total
  out="$(stack_kafka tool org.apache.kafka.tools.GetOffsetShell \
    --bootstrap-server "$KAFKA_BROKERS" --topic '.*-dlq' 2>>"$STACK_DIR/logs/kafka-tools.log")" ||
    fail "could not read the offsets of the dead-letter topics"
  [[ -n "$out" ]] || fail "no dead-letter topic found (expected task-events-dlq)"
  total="$(awk -F: '{ n += $NF } END { print n + 0 }' <<<"$out")"
  ((total == 0)) || fail "events were dead-lettered (topic:partition:count): $(tr '\n' ' ' <<<"$out")"
  log "dead-letter topics are empty ($(cut -d: -f1 <<<"$out" | sort -u | paste -sd' '))"
}

# The date part of a day relative to today (UTC), e.g. day_utc "tomorrow", day_utc "+8 days".
day_utc() { date -u -d "$1" +%F; }

# --- scenario: recurring -------------------------------------------------------------------

# Sets CHILD_FILE to the pending task whose recurrence_parent_id is $2 (user $1), if listed.
next_occurrence_listed() {
  stack_http GET "$(stack_url list-tasks)/api/$1/tasks?status=pending&page_size=100"
  [[ "$HTTP_STATUS" == 200 ]] || { STACK_STATE="list answered $HTTP_STATUS"; return 1; }
  local found
  found="$(stack_json "[t for t in j['items'] if t.get('recurrence_parent_id') == '$2']")"
  STACK_STATE="$(stack_json 'j["total_count"]') pending task(s), none with parent $2"
  [[ "$found" != "[]" ]] || return 1
  printf '%s\n' "$found" >"$CHILD_FILE"
}

# history_is USER ID TYPE...: the task's history (audit) lists exactly these event types.
history_is() {
  local user="$1" id="$2" want got
  shift 2
  want="$*"
  stack_http GET "$(stack_url audit)/api/$user/tasks/$id/history"
  if [[ "$HTTP_STATUS" != 200 ]]; then
    STACK_STATE="history answered $HTTP_STATUS"
    return 1
  fi
  got="$(stack_json '" ".join(e["event_type"] for e in j["items"])')"
  STACK_STATE="history [$got]"
  [[ "$got" == "$want" ]]
}

scenario_recurring() {
  local user=e2e-weekly due next id child
  TOKEN="$(stack_token "$user")"
  due="$(day_utc tomorrow)T09:00:00Z"
  next="$(day_utc "$(day_utc tomorrow) + 7 days")T09:00:00Z"

  stack_expect_http 201 POST "$(stack_url create-task)/api/$user/tasks" \
    "{\"title\":\"Water the plants\",\"description\":\"e2e\",\"priority\":\"high\",\"tags\":[\"home\"],\"due_at\":\"$due\",\"recurrence\":\"weekly\"}"
  id="$(stack_json 'j["id"]')"
  log "created weekly task $id due $due (create-task)"

  stack_expect_http 200 PATCH "$(stack_url complete-task)/api/$user/tasks/$id/complete" '{"completed":true}'
  [[ "$(stack_json 'j["completed"]')" == true ]] || fail "complete-task answered a task that is not completed"
  log "completed it (complete-task); waiting for on-completed through Kafka"

  CHILD_FILE="$STACK_DIR/child.json"
  stack_wait_until 60 "the next occurrence of $id in list-tasks" next_occurrence_listed "$user" "$id"
  [[ "$(stack_json 'len(j)' "$CHILD_FILE")" == 1 ]] || fail "more than one next occurrence of $id: $(cat "$CHILD_FILE")"
  child="$(stack_json 'j[0]["id"]' "$CHILD_FILE")"
  local check
  for check in \
    "ts(j[0]['due_at']) == ts('$next')" \
    "j[0]['recurrence_parent_id'] == '$id'" \
    "j[0]['title'] == 'Water the plants' and j[0]['description'] == 'e2e'" \
    "j[0]['priority'] == 'P2' and j[0]['tags'] == ['home']" \
    "j[0]['recurrence'] == 'weekly' and not j[0]['completed']" \
    "j[0].get('recurrence_depth', 1) == 1"; do
    [[ "$(stack_json "$check" "$CHILD_FILE")" == true ]] ||
      fail "next occurrence: expected $check, got $(cat "$CHILD_FILE")"
  done
  log "next occurrence $child: due $next (+7 days), parent $id"

  stack_expect_http 200 GET "$(stack_url get-task)/api/$user/tasks/$child"

  stack_wait_until 60 "the history of $id to be [task.created task.completed]" \
    history_is "$user" "$id" task.created task.completed
  stack_wait_until 60 "the history of the next occurrence $child to be [task.created]" \
    history_is "$user" "$child" task.created
  log "history (audit): $id task.created, task.completed; $child task.created"

  # One trace: the completion's event went through daprd's bulk publish
  # (cloudevent.traceparent) and bulk delivery to on-completed, whose span wrote the next
  # occurrence's event in the same trace.
  local completed_trace child_trace
  completed_trace="$(stack_sql "select split_part(traceparent, '-', 2) from outbox
    where payload->>'task_id' = '$id' and payload->>'event_type' = 'task.completed' limit 1")"
  child_trace="$(stack_sql "select split_part(traceparent, '-', 2) from outbox
    where payload->>'task_id' = '$child' and payload->>'event_type' = 'task.created' limit 1")"
  [[ -n "$completed_trace" && "$child_trace" == "$completed_trace" ]] ||
    fail "the next occurrence's event is not in the completion's trace ('$child_trace' vs '$completed_trace')"
  log "trace: the completion and the next occurrence's event share trace $completed_trace"
}

# --- scenario: direct ----------------------------------------------------------------------

scenario_direct() {
  local user=e2e-direct due id child subs
  TOKEN="$(stack_token "$user")"
  due="$(day_utc tomorrow)T09:00:00Z"
  stack_kill_app on-completed TERM
  stack_kill_sidecar on-completed TERM
  SUBSCRIBE_TRANSPORT=kafka PUBSUB_TRANSPORT=kafka stack_start_app on-completed
  subs="$(curl -fsS --max-time 5 -H "dapr-api-token: $STACK_APP_API_TOKEN" \
    "$(stack_url on-completed)/dapr/subscribe")" || fail "GET /dapr/subscribe on on-completed failed"
  [[ "$subs" == "[]" ]] || fail "on-completed reads Kafka itself yet lists subscriptions for a sidecar: $subs"
  log "on-completed runs without its sidecar, reading task-events itself; it lists no subscriptions"

  stack_expect_http 201 POST "$(stack_url create-task)/api/$user/tasks" \
    "{\"title\":\"Feed the cat\",\"due_at\":\"$due\",\"recurrence\":\"daily\"}"
  id="$(stack_json 'j["id"]')"
  stack_expect_http 200 PATCH "$(stack_url complete-task)/api/$user/tasks/$id/complete" '{"completed":true}'
  CHILD_FILE="$STACK_DIR/direct-child.json"
  stack_wait_until 60 "the next occurrence of $id from on-completed reading Kafka itself" \
    next_occurrence_listed "$user" "$id"
  [[ "$(stack_json 'len(j)' "$CHILD_FILE")" == 1 ]] || fail "more than one next occurrence of $id: $(cat "$CHILD_FILE")"
  child="$(stack_json 'j[0]["id"]' "$CHILD_FILE")"
  stack_wait_until 60 "the history of the next occurrence $child (its event written by on-completed to Kafka)" \
    history_is "$user" "$child" task.created
  log "next occurrence $child made by on-completed from Kafka; its event, published straight to Kafka, audited"

  stack_kill_app on-completed TERM
  stack_start_function on-completed
  check_subscription on-completed
  log "on-completed has its sidecar again"
}

# --- scenario: recurring-restart -------------------------------------------------------------

# Sets STACK_STATE; succeeds when every one of N parents of USER has its one occurrence.
occurrences_complete() { # USER N
  local row
  row="$(stack_sql "select count(*) filter (where recurrence_parent_id is null),
      count(*) filter (where recurrence_parent_id is not null),
      count(distinct recurrence_parent_id)
    from tasks where user_id = '$1'")"
  STACK_STATE="parents|children|distinct parents of children = $row"
  [[ "$row" == "$2|$2|$2" ]]
}

audit_complete() { # USER N: 3 events per series (created, completed, the occurrence's created)
  local n
  n="$(stack_sql "select count(*) from audit_log where user_id = '$1'")"
  STACK_STATE="$n audit entries"
  ((n == 3 * $2))
}

outbox_drained() {
  local n
  n="$(stack_sql "select count(*) from outbox where published_at is null")"
  STACK_STATE="$n outbox row(s) pending"
  ((n == 0))
}

children_count() {
  stack_sql "select count(*) from tasks where user_id = '$1' and recurrence_parent_id is not null"
}

scenario_recurring_restart() {
  local user=e2e-restart n="$E2E_RESTART_TASKS" due i t0 ids=()
  ((n >= 6)) || fail "E2E_RESTART_TASKS must be at least 6"
  TOKEN="$(stack_token "$user")"
  due="$(day_utc tomorrow)T09:00:00Z"

  t0=$SECONDS
  for ((i = 1; i <= n; i++)); do
    stack_expect_http 201 POST "$(stack_url create-task)/api/$user/tasks" \
      "{\"title\":\"Restart $i\",\"due_at\":\"$due\",\"recurrence\":\"weekly\",\"tags\":[\"e2e\"]}"
    ids+=("$(stack_json 'j["id"]')")
  done
  log "created $n weekly tasks in $((SECONDS - t0))s"

  # Completions are paced (E2E_RESTART_PACE s apart) so on-completed is busy when it is
  # killed and each outage spans a fifth of the stream.
  local kill_app=$((n / 5)) start_app=$((2 * n / 5)) kill_both=$((3 * n / 5)) start_both=$((4 * n / 5))
  t0=$SECONDS
  for ((i = 1; i <= n; i++)); do
    if ((i == kill_app)); then
      log "SIGKILL on-completed (app) after $((i - 1)) completions; $(children_count "$user") occurrence(s) so far"
      stack_kill_app on-completed KILL
    elif ((i == start_app)); then
      log "restarting on-completed (app) after $((i - 1)) completions; $(children_count "$user") occurrence(s) so far"
      stack_start_app on-completed
    elif ((i == kill_both)); then
      log "SIGKILL on-completed and its daprd after $((i - 1)) completions; $(children_count "$user") occurrence(s) so far"
      stack_kill_app on-completed KILL
      stack_kill_sidecar on-completed KILL
    elif ((i == start_both)); then
      log "restarting on-completed and its daprd after $((i - 1)) completions; $(children_count "$user") occurrence(s) so far"
      stack_start_app on-completed
      stack_start_sidecar on-completed
    fi
    stack_expect_http 200 PATCH "$(stack_url complete-task)/api/$user/tasks/${ids[i - 1]}/complete" '{"completed":true}'
    sleep "$E2E_RESTART_PACE"
  done
  log "completed $n tasks in $((SECONDS - t0))s; $(children_count "$user") occurrence(s) so far"

  t0=$SECONDS
  stack_wait_until "$E2E_TIMEOUT" "every one of the $n completed tasks to have exactly one next occurrence" \
    occurrences_complete "$user" "$n"
  log "all $n next occurrences exist $((SECONDS - t0))s after the last completion"

  local wrong
  wrong="$(stack_sql "select count(*) from tasks c join tasks p on p.id = c.recurrence_parent_id
    where c.user_id = '$user' and (c.due_at <> p.due_at + interval '7 days' or c.completed
      or c.recurrence_depth <> 1 or p.user_id <> c.user_id or c.title <> p.title)")"
  ((wrong == 0)) || fail "$wrong next occurrence(s) do not match their parent (due + 7 days, depth 1, title)"
  local orphans
  orphans="$(stack_sql "select count(*) from tasks where user_id = '$user' and recurrence_parent_id is null
    and not exists (select 1 from tasks c where c.recurrence_parent_id = tasks.id)")"
  ((orphans == 0)) || fail "$orphans completed task(s) have no next occurrence"

  stack_wait_until "$E2E_TIMEOUT" "the audit log to hold all $((3 * n)) events of $user once" \
    audit_complete "$user" "$n"
  stack_wait_until "$E2E_TIMEOUT" "the outbox to drain (inline relay, then the reminder-cron sweep)" \
    outbox_drained
  # Settle: a late redelivery must not add anything.
  sleep 5
  occurrences_complete "$user" "$n" || fail "after settling: $STACK_STATE"
  audit_complete "$user" "$n" || fail "after settling: $STACK_STATE"
  log "exactly one next occurrence per completion ($n), $((3 * n)) audit entries, outbox drained"
}

# --- webhook receiver and SSE clients (issue 4) ---------------------------------------------

# start_receiver NAME: a webhook endpoint on a free loopback port that answers 204 and
# appends one JSON line per request to $STACK_DIR/NAME.jsonl (time, signature, event id,
# body). Sets RECEIVER_URL.
start_receiver() {
  local name="$1" port
  stack_free_ports 1
  port="${STACK_FREE[0]}"
  : >"$STACK_DIR/$name.jsonl"
  # The interpreter itself in the background (not the stack_py function, which would run in
  # a subshell whose pid is what $! and the cleanup would see, orphaning the server).
  STACK_RUN_DIR="$STACK_DIR" "$STACK_PYTHON" -S - "$port" "$STACK_DIR/$name.jsonl" <<'PY' >>"$STACK_DIR/logs/$name.log" 2>&1 &
import json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
port, out = int(sys.argv[1]), sys.argv[2]
class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with open(out, "a") as f:
            f.write(json.dumps({"t": time.time(), "signature": self.headers.get("x-todo-signature"),
                                "event_id": self.headers.get("x-todo-event-id"),
                                "body": body.decode()}) + "\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
  stack_record "receiver:$name" $!
  RECEIVER_URL="http://127.0.0.1:$port/hook"
}

# open_stream NAME USER: curl holding USER's SSE stream on realtime (token in the query, as
# a browser's EventSource sends it), written to $STACK_DIR/NAME.sse.
open_stream() {
  local name="$1" user="$2" token
  token="$(stack_token "$user")"
  : >"$STACK_DIR/$name.sse"
  STACK_RUN_DIR="$STACK_DIR" curl -sN --max-time 600 \
    "$(stack_url realtime)/api/$user/stream?access_token=$token" >"$STACK_DIR/$name.sse" \
    2>>"$STACK_DIR/logs/curl.log" &
  stack_record "stream:$name" $!
}

# stream_events NAME: the "event_type task-title-or-id user" lines of the stream so far.
stream_events() {
  stack_py - "$STACK_DIR/$1.sse" <<'PY'
import json, sys
for frame in open(sys.argv[1]).read().split("\n\n"):
    data = "".join(l[5:].strip() for l in frame.splitlines() if l.startswith("data:"))
    if not data:
        continue
    try:
        e = json.loads(data)
    except ValueError:
        continue  # the frame is still arriving

    label = e["task"]["title"] if "task" in e else e.get("title")
    print(e["event_type"], label.replace(" ", "_"), e["user_id"])
PY
}

stream_has() { # NAME EXPECTED-LINES: the stream's events are exactly these lines
  local got
  got="$(stream_events "$1")"
  STACK_STATE="stream $1: [$(paste -sd';' <<<"$got")]"
  [[ "$got" == "$2" ]]
}

# --- scenario: stream ------------------------------------------------------------------------

# Waits until USER's stream (NAME) is live: realtime's fresh consumer group reads from the
# newest offset, so a probe task is created until its task.created arrives.
stream_live() { # NAME USER
  local i
  for ((i = 1; i <= 12; i++)); do
    stack_expect_http 201 POST "$(stack_url create-task)/api/$2/tasks" "{\"title\":\"probe $i\"}"
    local deadline=$((SECONDS + 5))
    while ((SECONDS < deadline)); do
      grep -q "probe" "$STACK_DIR/$1.sse" && return 0
      sleep 0.5
    done
  done
  fail "the stream of $2 showed nothing within a minute"
}

scenario_stream() {
  local alice=e2e-stream-alice bob=e2e-stream-bob id
  open_stream alice "$alice"
  open_stream bob "$bob"
  TOKEN="$(stack_token "$alice")" stream_live alice "$alice"
  TOKEN="$(stack_token "$bob")" stream_live bob "$bob"
  local alice_before bob_before
  alice_before="$(stream_events alice)"
  bob_before="$(stream_events bob)"

  TOKEN="$(stack_token "$alice")"
  stack_expect_http 201 POST "$(stack_url create-task)/api/$alice/tasks" '{"title":"Buy milk"}'
  id="$(stack_json 'j["id"]')"
  TOKEN="$(stack_token "$bob")"
  stack_expect_http 201 POST "$(stack_url create-task)/api/$bob/tasks" '{"title":"Bob private"}'
  TOKEN="$(stack_token "$alice")"
  stack_expect_http 200 PATCH "$(stack_url update-task)/api/$alice/tasks/$id" '{"title":"Buy oat milk"}'
  stack_expect_http 200 PATCH "$(stack_url complete-task)/api/$alice/tasks/$id/complete" '{"completed":true}'

  stack_wait_until 60 "alice's stream to show her created, updated, completed in order" \
    stream_has alice "$alice_before
task.created Buy_milk $alice
task.updated Buy_oat_milk $alice
task.completed Buy_oat_milk $alice"
  stack_wait_until 60 "bob's stream to show his task only" \
    stream_has bob "$bob_before
task.created Bob_private $bob"
  sleep 3 # nothing else may arrive
  stream_has alice "$alice_before
task.created Buy_milk $alice
task.updated Buy_oat_milk $alice
task.completed Buy_oat_milk $alice" || fail "after settling: $STACK_STATE"
  stream_has bob "$bob_before
task.created Bob_private $bob" || fail "after settling: $STACK_STATE"
  log "each stream showed its own user's events, in order, and nothing of the other's"
}

# --- scenarios: reminders (cron binding) and jobs (Jobs API) ----------------------------------

# deliveries NAME: how many requests the receiver got.
deliveries() { wc -l <"$STACK_DIR/$1.jsonl" | tr -d ' '; }

# check_delivery NAME TASK_ID SECRET REMIND_AT MAX_LATE: exactly one request, signed with
# SECRET over the exact body, carrying the task's reminder.due, at most MAX_LATE seconds
# after remind_at. Prints the lateness in seconds.
check_delivery() {
  stack_py - "$STACK_DIR/$1.jsonl" "$2" "$3" "$4" "$5" <<'PY'
import hashlib, hmac, json, sys
from datetime import datetime
path, task_id, secret, remind_at, max_late = sys.argv[1:]
lines = [json.loads(l) for l in open(path) if l.strip()]
if len(lines) != 1:
    sys.exit(f"expected exactly one delivery, got {len(lines)}")
d = lines[0]
want = "sha256=" + hmac.new(secret.encode(), d["body"].encode(), hashlib.sha256).hexdigest()
if not hmac.compare_digest(want, d["signature"] or ""):
    sys.exit(f"bad signature {d['signature']!r}")
e = json.loads(d["body"])
if e["event_type"] != "reminder.due" or e["task_id"] != task_id or e["event_id"] != d["event_id"]:
    sys.exit(f"unexpected body {d['body']}")
late = d["t"] - datetime.fromisoformat(remind_at.replace("Z", "+00:00")).timestamp()
if late > float(max_late):
    sys.exit(f"delivered {late:.0f}s after remind_at (more than {max_late}s)")
print(f"{late:.1f}")
PY
}

# remind_task USER TITLE DUE_IN_S REMINDER_MIN: creates the task; sets TASK_ID, REMIND_AT.
remind_task() {
  local due
  due="$(date -u -d "+$3 seconds" +%FT%TZ)"
  stack_expect_http 201 POST "$(stack_url create-task)/api/$1/tasks" \
    "{\"title\":\"$2\",\"due_at\":\"$due\",\"reminder_minutes\":$4}"
  TASK_ID="$(stack_json 'j["id"]')"
  REMIND_AT="$(stack_json 'j["remind_at"]')"
}

register_webhook() { # USER URL SECRET
  stack_expect_http 201 POST "$(stack_url notify)/api/$1/webhooks" "{\"url\":\"$2\",\"secret\":\"$3\"}"
}

scenario_reminders() {
  [[ -z "${STACK_PID[app:reminder-jobs]:-}" ]] ||
    fail "reminders must run before jobs: with reminder-jobs up, a job could fire the reminder"
  local user=e2e-remind secret="e2e-reminder-secret-$RANDOM$RANDOM" late
  TOKEN="$(stack_token "$user")"
  start_receiver remind
  register_webhook "$user" "$RECEIVER_URL" "$secret"
  open_stream remind "$user"
  stream_live remind "$user"

  remind_task "$user" "Leave for the train" 120 1
  log "task $TASK_ID due in 2 minutes, reminder at $REMIND_AT; waiting for the cron binding"
  local wait_s=$(( $(date -d "$REMIND_AT" +%s) - $(date +%s) + 90 ))
  stack_wait_until "$wait_s" "the webhook to receive the reminder (within 90 s of remind_at)" \
    eval '(( $(deliveries remind) >= 1 ))'
  sleep 5 # a second delivery would show by now
  late="$(check_delivery remind "$TASK_ID" "$secret" "$REMIND_AT" 90)" || fail "webhook delivery: see above"
  grep -q '"reminders":[1-9]' "$STACK_DIR/logs/reminder-tick.log" ||
    fail "reminder-tick (the cron binding) did not log claiming the reminder"
  stack_wait_until 30 "the user's stream to show the reminder" \
    eval 'stream_events remind | grep -q "^reminder.due Leave_for_the_train $user\$"'
  local sent
  sent="$(stack_sql "select reminder_sent_at is not null from tasks where id = '$TASK_ID'")"
  [[ "$sent" == t ]] || fail "the task's reminder is not marked sent"
  log "one signed reminder, ${late}s after remind_at, fired by the cron binding; also on the stream"
}

scenario_jobs() {
  local user=e2e-jobs secret="e2e-jobs-secret-$RANDOM$RANDOM" late
  [[ -n "${STACK_PID[app:reminder-jobs]:-}" ]] || stack_start_function reminder-jobs
  CONSUMERS[reminder-jobs]="${DECLARED[reminder-jobs]}"
  check_subscription reminder-jobs
  TOKEN="$(stack_token "$user")"
  start_receiver jobs
  register_webhook "$user" "$RECEIVER_URL" "$secret"

  # Due in 90 s, reminded 1 minute before: remind_at 30 s from now.
  remind_task "$user" "Join the stand-up" 90 1
  log "task $TASK_ID: reminder at $REMIND_AT; waiting for job reminder-$TASK_ID"
  stack_wait_until 90 "the webhook to receive the reminder" eval '(( $(deliveries jobs) >= 1 ))'
  late="$(check_delivery jobs "$TASK_ID" "$secret" "$REMIND_AT" 15)" ||
    fail "webhook delivery: see above"
  grep -q "reminder job fired.*$TASK_ID\|$TASK_ID.*reminder job fired" "$STACK_DIR/logs/reminder-jobs.log" ||
    fail "reminder-jobs did not log firing job reminder-$TASK_ID"
  # The cron tick comes by within a minute: it must find nothing left to send.
  sleep 65
  check_delivery jobs "$TASK_ID" "$secret" "$REMIND_AT" 15 >/dev/null ||
    fail "after the next cron tick: see above"
  log "one signed reminder ${late}s after remind_at, fired by the job; the tick sent nothing more"
}



scenario_chat() {
  local user=e2e-chat conversation id check
  TOKEN="$(stack_token "$user")"
  [[ -n "${STACK_PID[app:mcp]:-}" ]] || stack_start_function mcp
  [[ -n "${STACK_PID[app:chat]:-}" ]] || stack_start_function chat

  stack_expect_http 200 POST "$(stack_url chat)/api/$user/chat" \
    '{"message":"add water the ferns every week on monday at 9am #home p2","timezone":"Europe/Berlin"}'
  conversation="$(stack_json 'j["conversation_id"]')"
  for check in \
    "[c['tool'] for c in j['tool_calls']] == ['add_task']" \
    "j['tool_calls'][0]['result']['title'] == 'water the ferns'" \
    "j['tool_calls'][0]['result']['recurrence'] is not None" \
    "j['tool_calls'][0]['result']['tags'] == ['home'] and j['tool_calls'][0]['result']['priority'] == 'P2'" \
    "j['response'].startswith('Added')"; do
    [[ "$(stack_json "$check")" == true ]] || fail "chat add: expected $check, got $(cat "$HTTP_BODY_FILE")"
  done
  id="$(stack_json 'j["tool_calls"][0]["result"]["id"]')"
  log "chat created weekly task $id through mcp (Dapr service invocation): $(stack_json 'j["response"]')"

  # The conversation is in the Dapr state store (state.postgresql, its own table).
  stack_expect_http 200 GET "$(stack_url chat)/api/$user/conversations/$conversation"
  [[ "$(stack_json 'len(j["messages"])')" == 2 ]] || fail "the conversation has $(stack_json 'len(j["messages"])') messages, expected 2"
  [[ "$(stack_sql "select count(*) from dapr_state where key like '%$conversation%'")" -ge 1 ]] ||
    fail "no key of conversation $conversation in the state store's table"
  log "conversation $conversation kept through the state.postgresql component"

  stack_expect_http 200 POST "$(stack_url chat)/api/$user/chat" \
    "{\"message\":\"done with water the ferns\",\"conversation_id\":\"$conversation\"}"
  [[ "$(stack_json "[c['tool'] for c in j['tool_calls']][-1] == 'complete_task' and j['tool_calls'][-1]['result']['status'] == 'completed'")" == true ]] ||
    fail "chat complete: $(cat "$HTTP_BODY_FILE")"
  # mcp publishes its changes right after the commit, through its own sidecar.
  if grep -q "publish failed" "$STACK_DIR/logs/mcp.log"; then
    fail "mcp could not publish through its sidecar: $(grep -m1 "publish failed" "$STACK_DIR/logs/mcp.log")"
  fi
  log "completed it through chat; waiting for on-completed"
  CHILD_FILE="$STACK_DIR/chat-child.json"
  stack_wait_until 60 "the next occurrence of $id" next_occurrence_listed "$user" "$id"
  log "next occurrence $(stack_json 'j[0]["id"]' "$CHILD_FILE") due $(stack_json 'j[0]["due_at"]' "$CHILD_FILE")"
  stack_expect_http 200 GET "$(stack_url chat)/api/$user/conversations"
  [[ "$(stack_json 'j["total_count"] == 1 and j["items"][0]["messages"] == 4')" == true ]] ||
    fail "conversations: $(cat "$HTTP_BODY_FILE")"
  # Deleted: its key leaves the state store, the user's index with it.
  stack_expect_http 204 DELETE "$(stack_url chat)/api/$user/conversations/$conversation"
  stack_expect_http 404 GET "$(stack_url chat)/api/$user/conversations/$conversation"
  stack_expect_http 200 GET "$(stack_url chat)/api/$user/conversations"
  [[ "$(stack_json 'j["total_count"]')" == 0 ]] || fail "after the delete: $(cat "$HTTP_BODY_FILE")"
  [[ "$(stack_sql "select count(*) from dapr_state where key like '%$conversation%'")" == 0 ]] ||
    fail "conversation $conversation is still in the state store's table"
  log "deleted conversation $conversation through the state store's transaction"
}
# --- scenario: faults ------------------------------------------------------------------------

FAULTS_SERIES=e2e-faults-series FAULTS_REMIND=e2e-faults-remind
FAULTS_EDIT=(e2e-faults-edit-1 e2e-faults-edit-2)

now() { date +%s.%N; }

# fault_window KIND START END [FUNCTION]: when the load may see errors, for the checks
# (db: a 503 with Retry-After from any function; down: a refused connection to FUNCTION;
# kafka: none, its requests' latency is reported).
fault_window() {
  printf '{"kind": "%s", "start": %s, "end": %s, "function": "%s"}\n' "$1" "$2" "$3" "${4:-}" \
    >>"$STACK_DIR/faults-windows.jsonl"
}

load_summary() { # "N requests, M not 2xx" so far
  local all bad
  all="$(wc -l <"$STACK_DIR/faults-requests.jsonl" | tr -d ' ')"
  bad="$(grep -vc '"status": 2[0-9][0-9]' "$STACK_DIR/faults-requests.jsonl" || true)"
  printf '%s requests, %s not 2xx' "$all" "$bad"
}

# load_for S: the load runs on for S seconds (failing if the driver died).
load_for() {
  local until=$((SECONDS + $1))
  while ((SECONDS < until)); do
    kill -0 "$LOAD_PID" 2>/dev/null || fail "the load driver exited early (logs/faults-load.log)"
    sleep 1
  done
}

# next_tick_after S: when the first reminder-cron tick at least S seconds from now comes
# (epoch seconds): daprd's "@every 1m" counts from the binding's init, which its log
# gives. Prints nothing when the log does not say.
next_tick_after() {
  local init t now
  init="$(grep 'successful init for input binding (reminder-cron' "$STACK_DIR/logs/reminder-tick.daprd.log" |
    tail -n1 | sed -n 's/^time="\([^"]*\)".*/\1/p')"
  [[ -n "$init" ]] || return 0
  t="$(date -d "$init" +%s)" || return 0
  now="$(date +%s)"
  while ((t < now + $1)); do t=$((t + 60)); done
  printf '%s\n' "$t"
}

# PostgreSQL goes down a few seconds before a reminder-cron tick, so that the tick fails
# too and the next one has to make up for it.
fault_postgres() {
  local t0 t1 tick unavailable
  tick="$(next_tick_after 14)"
  if [[ -n "$tick" ]]; then
    load_for $((tick - 4 - $(date +%s)))
    log "fault 1/5: stopping PostgreSQL, 4s before the reminder-cron tick of $(date -d "@$tick" +%T) ($(load_summary) so far)"
  else
    log "fault 1/5: stopping PostgreSQL (the reminder-cron schedule is not in its daprd's log) ($(load_summary) so far)"
  fi
  unavailable="$(grep -c 'dependency unavailable' "$STACK_DIR/logs/reminder-tick.log" || true)"
  t0="$(now)"
  stack_stop_pg
  log "PostgreSQL is down; it stays down ${E2E_FAULTS_DOWN}s"
  load_for "$E2E_FAULTS_DOWN"
  stack_restart_pg
  t1="$(now)"
  fault_window db "$t0" "$t1"
  log "PostgreSQL is back on the same port after $(stack_py -c "print(f'{$t1 - $t0:.0f}')")s down ($(load_summary) so far)"
  unavailable=$(($(grep -c 'dependency unavailable' "$STACK_DIR/logs/reminder-tick.log" || true) - unavailable))
  log "reminder-tick found the database unavailable $unavailable time(s) meanwhile"
}

fault_kafka() {
  local t0=$SECONDS start
  log "fault 2/5: stopping the Kafka broker ($(load_summary) so far)"
  start="$(now)"
  stack_stop_kafka 2>>"$STACK_DIR/logs/kafka-tools.log"
  log "Kafka is down (stopping took $((SECONDS - t0))s); it stays down ${E2E_FAULTS_DOWN}s"
  load_for "$E2E_FAULTS_DOWN"
  stack_restart_kafka 2>>"$STACK_DIR/logs/kafka-tools.log"
  fault_window kafka "$start" "$(now)"
  log "Kafka is back after $((SECONDS - t0))s ($(load_summary) so far)"
}

fault_consumer() {
  local name="$E2E_FAULTS_CONSUMER"
  [[ -n "${STACK_PID[app:$name]:-}" ]] || fail "E2E_FAULTS_CONSUMER=$name is not running"
  log "fault 3/5: SIGKILL $name (the app; its daprd stays)"
  stack_kill_app "$name" KILL
  load_for 5
  stack_start_app "$name"
  log "$name restarted ($(load_summary) so far)"
  load_for "$E2E_FAULTS_SETTLE"
  log "fault 4/5: SIGKILL $name's daprd"
  stack_kill_sidecar "$name" KILL
  load_for 5
  stack_start_sidecar "$name"
  check_subscription "$name"
  log "$name's daprd restarted, its subscriptions as declared ($(load_summary) so far)"
}

# SIGTERM update-task while a request is inside it: the request holds on the task's row
# lock (taken by a psql session for HOLD seconds), so it is certainly in flight. The
# function must stop accepting at once, answer that request, then exit 0.
sleeping_sessions() {
  stack_sql "select count(*) from pg_stat_activity
    where state = 'active' and query like 'select pg_sleep(%' and pid <> pg_backend_pid()"
}
lock_waiters() {
  stack_sql "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and pid <> pg_backend_pid()"
}
accepts_connections() { curl -s -o /dev/null --max-time 1 "$(stack_url "$1")/healthz"; }

fault_sigterm() {
  local name=update-task user=e2e-faults-drain hold=8 id pid lock_pid curl_pid t0 t1 t2 rc=0 answer
  TOKEN="$(stack_token "$user")"
  stack_expect_http 201 POST "$(stack_url create-task)/api/$user/tasks" '{"title":"Drain me"}'
  id="$(stack_json 'j["id"]')"
  log "fault 5/5: SIGTERM $name while its request to rename task $id waits on that task's row lock"
  "$PSQL" "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -c 'begin' \
    -c "select 1 from tasks where id = '$id' for update" -c "select pg_sleep($hold)" -c 'commit' \
    >/dev/null 2>>"$STACK_DIR/logs/faults-lock.log" &
  lock_pid=$!
  stack_wait_until 10 "the psql session to hold the row lock" eval '(( $(sleeping_sessions) >= 1 ))'
  STACK_RUN_DIR="$STACK_DIR" curl -sS -o "$STACK_DIR/drain-body.json" -w '%{http_code}' --max-time 30 \
    -X PATCH -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data-binary '{"title":"Drained"}' "$(stack_url "$name")/api/$user/tasks/$id" \
    >"$STACK_DIR/drain-status" 2>>"$STACK_DIR/logs/curl.log" &
  curl_pid=$!
  stack_wait_until 10 "the rename to wait on the row lock inside $name" eval '(( $(lock_waiters) >= 1 ))'

  pid="${STACK_PID[app:$name]}"
  t0="$(now)"
  kill -TERM "$pid"
  stack_wait_until 5 "$name to stop accepting connections after SIGTERM" eval "! accepts_connections $name"
  kill -0 "$pid" 2>/dev/null || fail "$name exited with a request in flight (it must drain)"
  log "$name refuses new connections and is still running (draining)"
  wait "$curl_pid" || fail "the in-flight rename got no answer from $name: $(tail -n1 "$STACK_DIR/logs/curl.log")"
  t1="$(now)"
  answer="$(cat "$STACK_DIR/drain-status")"
  [[ "$answer" == 200 && "$(stack_json 'j["title"]' "$STACK_DIR/drain-body.json")" == Drained ]] ||
    fail "the in-flight rename answered $answer: $(head -c 300 "$STACK_DIR/drain-body.json")"
  stack_wait_until 25 "$name to exit once drained" eval "! kill -0 $pid 2>/dev/null"
  wait "$pid" || rc=$?
  ((rc == 0)) || fail "$name exited with status $rc after SIGTERM"
  wait "$lock_pid" || fail "the psql session holding the row lock failed (logs/faults-lock.log)"
  [[ "$(stack_sql "select title from tasks where id = '$id'")" == Drained ]] ||
    fail "the rename answered 200 during the drain is not in the database"
  log "the in-flight rename answered 200 $(stack_py -c "print(f'{$t1 - $t0:.1f}')")s after SIGTERM; $name then exited 0"
  stack_start_app "$name"
  t2="$(now)"
  fault_window down "$t0" "$t2" "$name"
  log "$name restarted ($(load_summary) so far)"
}

events_audited() { # USER...: every task-events event of these users is in the audit log
  local users n
  users="$(printf "'%s'," "$@")"
  n="$(stack_sql "select count(*) from outbox o where o.topic = 'task-events'
    and o.partition_key in (${users%,}) and not exists (select 1 from audit_log a where a.event_id = o.event_id)")"
  STACK_STATE="$n event(s) not audited yet"
  ((n == 0))
}

reminders_delivered() { # USER: every reminder of USER has reached the faults receiver
  local n
  n="$(stack_sql "select count(*) from tasks where user_id = '$1' and remind_at is not null")"
  STACK_STATE="$(deliveries faults) of $n reminder(s) delivered"
  (($(deliveries faults) >= n))
}

scenario_faults() {
  local secret="e2e-faults-secret-$RANDOM$RANDOM" users=() u series_n config t0
  users=("$FAULTS_SERIES" "${FAULTS_EDIT[@]}" "$FAULTS_REMIND")
  : >"$STACK_DIR/faults-requests.jsonl"
  : >"$STACK_DIR/faults-windows.jsonl"
  rm -f "$STACK_DIR/faults-stop"
  start_receiver faults
  TOKEN="$(stack_token "$FAULTS_REMIND")"
  register_webhook "$FAULTS_REMIND" "$RECEIVER_URL" "$secret"

  config="$STACK_DIR/faults-config.json"
  {
    printf '{"urls": {'
    local f sep=""
    for f in create-task update-task complete-task get-task list-tasks; do
      printf '%s"%s": "%s"' "$sep" "$f" "$(stack_url "$f")"
      sep=", "
    done
    printf '}, "users": ['
    printf '["series", "%s", "%s", 0.25], ' "$FAULTS_SERIES" "$(stack_token "$FAULTS_SERIES")"
    for u in "${FAULTS_EDIT[@]}"; do printf '["edit", "%s", "%s", 0.25], ' "$u" "$(stack_token "$u")"; done
    printf '["remind", "%s", "%s", 4]], ' "$FAULTS_REMIND" "$(stack_token "$FAULTS_REMIND")"
    printf '"remind_in_s": [5, 30], "remind_user": "%s", "webhook_secret": "%s", ' "$FAULTS_REMIND" "$secret"
    printf '"db_grace_s": 5, "fail_fast_s": %s}\n' "$E2E_FAULTS_FAIL_FAST"
  } >"$config"

  STACK_RUN_DIR="$STACK_DIR" "$STACK_PYTHON" -S "$STACK_ROOT/scripts/lib/faults.py" drive "$config" \
    "$STACK_DIR/faults-requests.jsonl" "$STACK_DIR/faults-stop" >>"$STACK_DIR/logs/faults-load.log" 2>&1 &
  LOAD_PID=$!
  stack_record load:faults "$LOAD_PID"
  log "load: weekly tasks created and completed ($FAULTS_SERIES), tasks created, renamed and read (${FAULTS_EDIT[*]}), reminders falling due ($FAULTS_REMIND)"
  fault_postgres
  load_for "$E2E_FAULTS_SETTLE"
  fault_kafka
  load_for "$E2E_FAULTS_SETTLE"
  fault_consumer
  load_for "$E2E_FAULTS_SETTLE"
  fault_sigterm
  load_for "$E2E_FAULTS_SETTLE"

  touch "$STACK_DIR/faults-stop"
  t0=$SECONDS
  stack_wait_until 120 "the load driver to finish (it completes its open weekly tasks)" \
    eval "! kill -0 $LOAD_PID 2>/dev/null"
  wait "$LOAD_PID" || fail "the load driver failed (logs/faults-load.log)"
  unset "STACK_PID[load:faults]"
  log "load stopped: $(load_summary)"

  series_n="$(grep '"user": "'"$FAULTS_SERIES"'"' "$STACK_DIR/faults-requests.jsonl" |
    grep '"kind": "create"' | grep -c '"status": 201' || true)"
  stack_wait_until "$E2E_TIMEOUT" "every one of the $series_n completed weekly tasks to have exactly one next occurrence" \
    occurrences_complete "$FAULTS_SERIES" "$series_n"
  stack_wait_until "$E2E_TIMEOUT" "the audit log to hold all $((3 * series_n)) events of $FAULTS_SERIES once" \
    audit_complete "$FAULTS_SERIES" "$series_n"
  stack_wait_until "$E2E_TIMEOUT" "every task-events event of the load to be audited" events_audited "${users[@]}"
  stack_wait_until "$E2E_TIMEOUT" "the outbox to drain (inline relay, then the reminder-cron sweep)" outbox_drained
  stack_wait_until "$E2E_TIMEOUT" "every reminder of $FAULTS_REMIND to reach the webhook" \
    reminders_delivered "$FAULTS_REMIND"
  log "everything arrived $((SECONDS - t0))s after the load stopped; settling"
  sleep 5 # a late redelivery would show by now

  local list
  list="$(printf "'%s'," "${users[@]}")"
  list="${list%,}"
  stack_sql "select coalesce(json_agg(json_build_object('id', id, 'user_id', user_id, 'title', title,
      'description', description, 'completed', completed, 'recurrence_parent_id', recurrence_parent_id,
      'remind_at', remind_at, 'reminder_sent_at', reminder_sent_at)), '[]')
    from tasks where user_id in ($list)" >"$STACK_DIR/faults-tasks.json"
  stack_sql "select coalesce(json_agg(json_build_object('event_id', o.event_id,
      'type', o.payload->>'event_type', 'task', o.payload->>'task_id',
      'user', o.payload->>'user_id', 'title', o.payload->'task'->>'title',
      'published', o.published_at is not null,
      'audited', (select count(*) from audit_log a where a.event_id = o.event_id))), '[]')
    from outbox o where o.topic = 'task-events' and o.partition_key in ($list)" >"$STACK_DIR/faults-events.json"
  stack_py "$STACK_ROOT/scripts/lib/faults.py" check "$config" "$STACK_DIR/faults-requests.jsonl" \
    "$STACK_DIR/faults-windows.jsonl" "$STACK_DIR/faults-tasks.json" "$STACK_DIR/faults-events.json" \
    "$STACK_DIR/faults.jsonl" >"$STACK_DIR/faults-report.txt" ||
    { cat "$STACK_DIR/faults-report.txt" >&2; fail "the fault checks failed (see above)"; }
  while IFS= read -r line; do log "$line"; done <"$STACK_DIR/faults-report.txt"
  outbox_drained || fail "$STACK_STATE"
  log "outbox drained"
  check_no_dead_letters
}

# --- main ------------------------------------------------------------------------------------

selected=()
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage 0 ;;
    --list) printf '%s\n' "${SCENARIOS[@]}"; exit 0 ;;
    -*) log "unknown option $arg"; usage ;;
    *)
      known=""
      for s in "${SCENARIOS[@]}"; do [[ "$s" == "$arg" ]] && known=1; done
      [[ -n "$known" ]] || { log "unknown scenario '$arg' (scenarios: ${SCENARIOS[*]})"; exit 2; }
      selected+=("$arg")
      ;;
  esac
done
((${#selected[@]})) || selected=("${SCENARIOS[@]}")

stack_init
load_subscriptions
stack_start_pg
stack_start_kafka
t0=$SECONDS
for f in "${FUNCTIONS[@]}"; do stack_start_function "$f"; done
log "${#FUNCTIONS[@]} functions and their sidecars ready ($((SECONDS - t0))s)"
check_subscriptions
check_sidecar_routes_closed

for s in "${selected[@]}"; do
  log "=== scenario $s"
  t0=$SECONDS
  "scenario_${s//-/_}"
  log "=== scenario $s passed ($((SECONDS - t0))s)"
done
check_no_dead_letters
log "PASSED: ${selected[*]}"
