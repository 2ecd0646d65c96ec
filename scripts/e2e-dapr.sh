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
#                      appears (due + 7 days, recurrence_parent_id = the first task) and the
#                      history (audit) shows task.created then task.completed
#   recurring-restart  complete E2E_RESTART_TASKS (200) recurring tasks while on-completed is
#                      SIGKILLed and restarted mid-stream (once the app alone, once the app
#                      and its daprd): every completion gets exactly one next occurrence,
#                      the audit log gets every event once, the outbox drains
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
# Logs: target/e2e/logs/ (printed, last lines, on failure). Exit status 0 only when every
# assertion of every scenario held.
set -euo pipefail

STACK_NAME=e2e
# shellcheck source-path=SCRIPTDIR source=lib/stack.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/stack.sh"

SCENARIOS=(recurring recurring-restart)
# Every function runs with its own sidecar, as in production.
FUNCTIONS=(create-task list-tasks get-task update-task complete-task delete-task
  on-completed audit reminder-tick)
# Consumers and the one subscription daprd must load for each: "topic route dead-letter".
declare -A CONSUMERS=(
  [on-completed]="task-events /events/on-completed task-events-dlq"
  [audit]="task-events /events/audit task-events-dlq"
)
E2E_RESTART_TASKS="${E2E_RESTART_TASKS:-200}"
E2E_RESTART_PACE="${E2E_RESTART_PACE:-0.1}"
E2E_TIMEOUT="${E2E_TIMEOUT:-180}"

log() { stack_log "$@"; }
fail() { stack_fail "$@"; }

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

# --- shared checks -----------------------------------------------------------------------

check_subscriptions() {
  local name want got
  for name in "${!CONSUMERS[@]}"; do
    want="pubsub ${CONSUMERS[$name]}"
    got="$(stack_subscriptions "$name")" || fail "cannot read daprd's metadata for $name"
    [[ "$got" == "$want" ]] ||
      fail "daprd for $name loaded subscriptions [$got], expected exactly [$want]"
  done
  log "subscriptions: one per consumer, as declared (${!CONSUMERS[*]})"
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
  got="$(stack_json '" ".join(e["event_type"] for e in j)')"
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
stack_start_pg
stack_start_kafka
t0=$SECONDS
for f in "${FUNCTIONS[@]}"; do stack_start_function "$f"; done
log "${#FUNCTIONS[@]} functions and their sidecars ready ($((SECONDS - t0))s)"
check_subscriptions

for s in "${selected[@]}"; do
  log "=== scenario $s"
  t0=$SECONDS
  "scenario_${s//-/_}"
  log "=== scenario $s passed ($((SECONDS - t0))s)"
done
check_no_dead_letters
log "PASSED: ${selected[*]}"
