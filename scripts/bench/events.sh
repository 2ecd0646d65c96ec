#!/usr/bin/env bash
# Event throughput (issue 3): completions of recurring tasks, from the outbox through Kafka to
# on-completed, under real daprd, Kafka and PostgreSQL (the stack of scripts/e2e-dapr.sh:
# scripts/lib/stack.sh), once per publishing transport.
#
#   scripts/bench/events.sh
#   TRANSPORTS=dapr N=2000 scripts/bench/events.sh
#
# Runs complete-task, on-completed and audit, each with its own daprd (the shipped
# components/: on-completed and audit take bulk deliveries), release builds, LOG_LEVEL=warn.
# For each transport in TRANSPORTS (`dapr`: the functions publish through their sidecars and
# on-completed and audit receive through theirs; `kafka`: they publish straight to Kafka with
# rdkafka, PUBSUB_TRANSPORT=kafka, and still receive through their sidecars; `direct`: no
# sidecars at all, the functions also read Kafka themselves, SUBSCRIBE_TRANSPORT=kafka),
# the runs of RUNS in order, each
# on its own recurring tasks, seeded with SQL over USERS users (so over every partition):
#
#   warmup   a live run of WARMUP_N completions, reported but not a figure: a fresh broker's
#            JVM compiles its hot code during the first seconds of load, which costs as much
#            CPU as the broker's whole share of a warm run.
#   live     the consumers run while the N completions arrive (CONCURRENCY parallel PATCH
#            /complete, curl --parallel). Figures: completions/s at complete-task; end to end
#            = N / (first request sent .. last next occurrence committed and audited), in
#            completions/s and in task events/s (two per completion: the completion and the
#            occurrence's creation, both audited); the latency from a completion's commit to
#            its next occurrence's commit (p50/p99/max).
#   backlog  on-completed and audit (apps and sidecars) are down while the N completions
#            are published, then started: the drain = N / (consumers started .. last
#            occurrence committed and audited), in completions/s and task events/s, and
#            N / (first .. last occurrence committed) without the start-up.
#   outbox   the pipeline from the outbox on, as after a broker outage: complete-task runs
#            with PUBSUB_TRANSPORT=none while the N completions arrive, so their 2N rows
#            wait in the outbox; then reminder-tick (app and sidecar, publishing with the
#            transport) is started and its tick (POST /reminder-cron, as daprd's cron
#            binding sends it) sweeps them to Kafka while on-completed and audit consume.
#            Figures: the sweep in outbox rows/s; end to end = N / (first tick .. last
#            occurrence committed and audited), in completions/s and task events/s.
#
# Every run checks that each completion got exactly one next occurrence, that audit
# recorded every task event of the run exactly once (2 per completion), and that the outbox
# is empty. Measures and reports; asserts only correctness. Output: target/bench/events-*.txt.
#
# Knobs: N=10000, WARMUP_N=2000, CONCURRENCY=16, USERS=100, TRANSPORTS="dapr kafka direct",
# RUNS="warmup live backlog outbox" (any sequence of them), STACK_PROFILE=release (debug to
# measure a debug build), STACK_BUILD=0 (no cargo build), TIMEOUT=600 (seconds to wait for
# the occurrences of one run), CONSUMERS=1 (replicas of on-completed and audit, each with its
# own daprd, sharing their consumer group's partitions as scaled-out pods do).
set -euo pipefail

STACK_NAME=bench-events
STACK_DIR="${STACK_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/target/bench-events}"
STACK_PROFILE="${STACK_PROFILE:-release}"
export LOG_LEVEL="${LOG_LEVEL:-warn}" DAPR_LOG_LEVEL="${DAPR_LOG_LEVEL:-warn}"
# shellcheck source-path=SCRIPTDIR source=../lib/stack.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/stack.sh"

N="${N:-10000}"
CONCURRENCY="${CONCURRENCY:-16}"
USERS="${USERS:-100}"
TRANSPORTS="${TRANSPORTS:-dapr kafka direct}"
RUNS="${RUNS:-warmup live backlog outbox}"
CONSUMERS="${CONSUMERS:-1}"
WARMUP_N="${WARMUP_N:-2000}"
TIMEOUT="${TIMEOUT:-600}"
OUT_DIR="$STACK_ROOT/target/bench"
OUT="$OUT_DIR/events-$(date -u +%Y%m%dT%H%M%SZ).txt"
mkdir -p "$OUT_DIR"

log() { stack_log "$@"; }
report() { printf '%s\n' "$*" | tee -a "$OUT" >&2; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }

if [[ " $TRANSPORTS " =~ " "(kafka|direct)" " && -z "${STACK_CARGO_FEATURES:-}" ]]; then
  STACK_CARGO_FEATURES=todo-shared/kafka # a no-op: the function binaries turn it on
fi

# seed RUN: N weekly tasks due tomorrow 09:00 UTC for users RUN-u0..; writes "user id" lines
# to $STACK_DIR/RUN.tasks and "user token" lines to $STACK_DIR/RUN.tokens.
seed() {
  local run="$1" u
  stack_sql "insert into tasks (id, user_id, title, due_at, recurrence)
    select gen_random_uuid(), '$run-u' || (g % $USERS), 'bench $run ' || g,
      date_trunc('day', now()) + interval '1 day 9 hours', 'weekly'
    from generate_series(1, $N) g
    returning user_id, id" | tr '|' ' ' >"$STACK_DIR/$run.tasks"
  [[ "$(wc -l <"$STACK_DIR/$run.tasks")" == "$N" ]] || stack_fail "seeding $run failed"
  : >"$STACK_DIR/$run.tokens"
  for ((u = 0; u < USERS; u++)); do
    printf '%s %s\n' "$run-u$u" "$(stack_token "$run-u$u")" >>"$STACK_DIR/$run.tokens"
  done
}

# complete_all RUN: PATCH /complete every task of RUN, CONCURRENCY at a time; sets
# COMPLETE_T0 / COMPLETE_T1 (epoch seconds) and fails unless every answer was 200.
complete_all() {
  local run="$1" base cfg="$STACK_DIR/$1.curl" codes="$STACK_DIR/$1.codes" ok
  base="$(stack_url complete-task)"
  awk -v base="$base" '
    FNR == NR { token[$1] = $2; next }
    {
      if (started++) print "next"
      printf "url = \"%s/api/%s/tasks/%s/complete\"\n", base, $1, $2
      print "request = \"PATCH\""
      printf "header = \"Authorization: Bearer %s\"\n", token[$1]
      print "header = \"Content-Type: application/json\""
      print "data = \"{\\\"completed\\\":true}\""
      print "output = \"/dev/null\""
      print "write-out = \"%{http_code}\\n\""
    }' "$STACK_DIR/$run.tokens" "$STACK_DIR/$run.tasks" >"$cfg"
  COMPLETE_T0="$(now)"
  curl -sS --parallel --parallel-immediate --parallel-max "$CONCURRENCY" -K "$cfg" >"$codes" 2>>"$STACK_DIR/logs/curl.log" || true
  COMPLETE_T1="$(now)"
  ok="$(grep -c '^200$' "$codes" || true)"
  [[ "$ok" == "$N" ]] || stack_fail "$run: $ok of $N completions answered 200 ($(sort "$codes" | uniq -c | tr '\n' ' '))"
}

# cpu_snapshot FILE: CPU seconds used so far by each process of the stack (by its key:
# app:NAME, daprd:NAME) and by PostgreSQL and Kafka in all, one "label seconds" per line.
cpu_snapshot() {
  local key args=()
  for key in "${!STACK_PID[@]}"; do args+=("$key=${STACK_PID[$key]}"); done
  python3 - "$@" "${args[@]}" <<'PY'
import os, sys
out, known = sys.argv[1], dict(a.split("=", 1)[::-1] for a in sys.argv[2:])
hz, totals = os.sysconf("SC_CLK_TCK"), {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    label = known.get(pid) or {"postgres": "postgres", "java": "kafka"}.get(comm)
    if label:
        totals[label] = totals.get(label, 0) + (int(fields[11]) + int(fields[12])) / hz
with open(out, "w") as f:
    for label, seconds in sorted(totals.items()):
        f.write(f"{label} {seconds:.2f}\n")
PY
}

# cpu_report BEFORE AFTER: the CPU seconds each used between the two snapshots, largest first.
cpu_report() {
  report "  CPU seconds used (of $(nproc) CPUs): $(awk 'FNR == NR { a[$1] = $2; next }
    { d = $2 - a[$1]; if (d >= 0.05) printf "%s %.1f\n", $1, d }' "$1" "$2" | sort -k2 -rn | awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }')"
}

children() { stack_sql "select count(*) from tasks where user_id like '$1-u%' and recurrence_parent_id is not null"; }

audited() { stack_sql "select count(*) from audit_log where user_id like '$1-u%'"; }

# wait_children RUN: until every task of RUN has its next occurrence (exactly one each)
# and audit has recorded the 2N events; sets FINISHED_T (epoch seconds): when the last
# occurrence was committed or the last event audited, whichever came later.
wait_children() {
  local run="$1" deadline=$((SECONDS + TIMEOUT)) c a
  while :; do
    c="$(children "$run")"
    a="$(audited "$run")"
    ((c >= N && a >= 2 * N)) && break
    ((SECONDS < deadline)) ||
      stack_fail "$run: only $c of $N next occurrences, $a of $((2 * N)) audit entries after ${TIMEOUT}s"
    sleep 0.5 # FINISHED_T comes from the rows' own timestamps, not from this poll
  done
  FINISHED_T="$(stack_sql "select extract(epoch from greatest(
      (select max(created_at) from tasks where user_id like '$run-u%' and recurrence_parent_id is not null),
      (select max(recorded_at) from audit_log where user_id like '$run-u%')))")"
  a="$(stack_sql "select count(*), count(distinct event_id), count(*) filter (where event_type = 'task.completed')
    from audit_log where user_id like '$run-u%'")"
  [[ "$a" == "$((2 * N))|$((2 * N))|$N" ]] ||
    stack_fail "$run: audit entries (total|distinct|completions) = $a, expected $((2 * N))|$((2 * N))|$N"
  local row
  row="$(stack_sql "select count(*), count(distinct recurrence_parent_id) from tasks
    where user_id like '$run-u%' and recurrence_parent_id is not null")"
  [[ "$row" == "$N|$N" ]] || stack_fail "$run: next occurrences (total|distinct parents) = $row, expected $N|$N"
  local pending
  pending="$(stack_sql "select count(*) from outbox where published_at is null")"
  ((pending == 0)) || report "  warning: $pending outbox row(s) still pending (only the outbox runs sweep)"
}

# occurrence_stats RUN: "first last p50 p99 max" — epoch of the first and last occurrence
# commit, and the completion-commit-to-occurrence-commit latency (ms).
occurrence_stats() {
  stack_sql "select extract(epoch from min(c.created_at)), extract(epoch from max(c.created_at)),
      round(percentile_cont(0.5) within group (order by extract(epoch from c.created_at - p.completed_at)) * 1000),
      round(percentile_cont(0.99) within group (order by extract(epoch from c.created_at - p.completed_at)) * 1000),
      round(max(extract(epoch from c.created_at - p.completed_at)) * 1000)
    from tasks c join tasks p on p.id = c.recurrence_parent_id
    where c.user_id like '$1-u%'" | tr '|' ' '
}

# The consumers: on-completed and audit, CONSUMERS replicas of each (on-completed,
# on-completed.2, ...; stack.sh), each with its own daprd, one consumer group per function.
consumers() {
  local f r
  for f in on-completed audit; do
    for ((r = 1; r <= CONSUMERS; r++)); do
      if ((r == 1)); then echo "$f"; else echo "$f.$r"; fi
    done
  done
}

# start NAME: the function's app, and its sidecar unless the transport is direct.
start() {
  if [[ $SUBSCRIBE_TRANSPORT == kafka ]]; then
    stack_start_app "$1"
  else
    stack_start_function "$1"
  fi
}

start_functions() { # TRANSPORT
  local c
  case "$1" in
    direct) PUBSUB_TRANSPORT=kafka SUBSCRIBE_TRANSPORT=kafka ;;
    *) PUBSUB_TRANSPORT="$1" SUBSCRIBE_TRANSPORT=dapr ;;
  esac
  export PUBSUB_TRANSPORT SUBSCRIBE_TRANSPORT
  start complete-task
  for c in $(consumers); do start "$c"; done
}

stop_function() { # NAME: graceful stop of the app and its sidecar, if it has one
  stack_kill_app "$1" TERM
  if [[ -n ${STACK_PID[daprd:$1]:-} ]]; then stack_kill_sidecar "$1" TERM; fi
}

run_live() { # TRANSPORT RUN
  local run="$2" first last p50 p99 max
  seed "$run"
  log "$run: $N completions, on-completed running"
  cpu_snapshot "$STACK_DIR/cpu.before"
  complete_all "$run"
  wait_children "$run"
  cpu_snapshot "$STACK_DIR/cpu.after"
  read -r first last p50 p99 max < <(occurrence_stats "$run")
  report "$2: $N completions in $(calc "$COMPLETE_T1 - $COMPLETE_T0") s = $(calc "$N / ($COMPLETE_T1 - $COMPLETE_T0)" 0) completions/s;" \
    "end to end $(calc "$N / ($FINISHED_T - $COMPLETE_T0)" 0) completions/s = $(calc "2 * $N / ($FINISHED_T - $COMPLETE_T0)" 0) task events/s (first request .. last occurrence and audit entry $(calc "$FINISHED_T - $COMPLETE_T0") s);" \
    "completion -> next occurrence p50 $p50 ms, p99 $p99 ms, max $max ms"
  cpu_report "$STACK_DIR/cpu.before" "$STACK_DIR/cpu.after"
}

run_backlog() { # TRANSPORT RUN
  local run="$2" first last p50 p99 max ready c
  for c in $(consumers); do stop_function "$c"; done
  seed "$run"
  log "$run: $N completions while on-completed and audit are down"
  complete_all "$run"
  for c in $(consumers); do stack_start_app "$c"; done
  if [[ $SUBSCRIBE_TRANSPORT != kafka ]]; then
    for c in $(consumers); do stack_start_sidecar "$c"; done
  fi
  ready="$(now)"
  cpu_snapshot "$STACK_DIR/cpu.before"
  wait_children "$run"
  cpu_snapshot "$STACK_DIR/cpu.after"
  read -r first last p50 p99 max < <(occurrence_stats "$run")
  report "$2: published $N completions in $(calc "$COMPLETE_T1 - $COMPLETE_T0") s = $(calc "$N / ($COMPLETE_T1 - $COMPLETE_T0)" 0) completions/s;" \
    "drained by on-completed and audit in $(calc "$FINISHED_T - $ready") s from the consumers' start = $(calc "$N / ($FINISHED_T - $ready)" 0) completions/s = $(calc "2 * $N / ($FINISHED_T - $ready)" 0) task events/s" \
    "($(calc "$N / ($last - $first)" 0) completions/s first..last occurrence)"
  cpu_report "$STACK_DIR/cpu.before" "$STACK_DIR/cpu.after"
}

# pending RUN: the run's completion rows not yet published (on-completed's own rows are
# published by it, not by the sweep).
pending() {
  stack_sql "select count(*) from outbox where published_at is null
    and payload->>'event_type' = 'task.completed' and payload->>'user_id' like '$1-u%'"
}

run_outbox() { # TRANSPORT RUN
  local run="$2" first last p50 p99 max ticked swept ticks=0
  stack_kill_app complete-task TERM
  PUBSUB_TRANSPORT=none stack_start_app complete-task
  seed "$run"
  log "$run: $N completions into the outbox (complete-task with PUBSUB_TRANSPORT=none)"
  complete_all "$run"
  stack_kill_app complete-task TERM
  stack_start_app complete-task
  start reminder-tick
  # The sweep leaves rows to the inline relay for 10 s after their commit.
  sleep "$(calc "$COMPLETE_T1 + 11 - $(now)" 1 | sed 's/^-.*/0/')"
  cpu_snapshot "$STACK_DIR/cpu.before"
  ticked="$(now)"
  while (($(pending "$run") > 0)); do
    ((ticks++ < 20)) || stack_fail "$run: the outbox is not drained after 20 ticks"
    curl -fsS -X POST -H "dapr-api-token: $STACK_APP_API_TOKEN" \
      "$(stack_url reminder-tick)/reminder-cron" >>"$STACK_DIR/logs/ticks.log" ||
      stack_fail "$run: the tick failed"
    echo >>"$STACK_DIR/logs/ticks.log"
  done
  swept="$(now)"
  wait_children "$run"
  cpu_snapshot "$STACK_DIR/cpu.after"
  stop_function reminder-tick
  read -r first last p50 p99 max < <(occurrence_stats "$run")
  report "$2: $N completions in $(calc "$COMPLETE_T1 - $COMPLETE_T0") s, their $((2 * N)) outbox rows swept in $ticks tick(s), $(calc "$swept - $ticked") s = $(calc "2 * $N / ($swept - $ticked)" 0) rows/s;" \
    "end to end from the first tick $(calc "$FINISHED_T - $ticked") s = $(calc "$N / ($FINISHED_T - $ticked)" 0) completions/s = $(calc "2 * $N / ($FINISHED_T - $ticked)" 0) task events/s" \
    "($(calc "$N / ($last - $first)" 0) completions/s first..last occurrence)"
  cpu_report "$STACK_DIR/cpu.before" "$STACK_DIR/cpu.after"
}

stack_init
stack_start_pg
stack_start_kafka
report "# scripts/bench/events.sh $(date -u +%FT%TZ): N=$N CONCURRENCY=$CONCURRENCY USERS=$USERS CONSUMERS=$CONSUMERS profile=$STACK_PROFILE"
report "# $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for transport in $TRANSPORTS; do
  start_functions "$transport"
  i=0
  for r in $RUNS; do
    i=$((i + 1))
    case "$r" in
      warmup) N="$WARMUP_N" run_live "$transport" "$transport-$i-warmup" ;;
      live) run_live "$transport" "$transport-$i-live" ;;
      backlog) run_backlog "$transport" "$transport-$i-backlog" ;;
      outbox) run_outbox "$transport" "$transport-$i-outbox" ;;
      *) stack_fail "unknown run $r (warmup, live, backlog, outbox)" ;;
    esac
    report "  (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
  done
  stop_function complete-task
  for c in $(consumers); do stop_function "$c"; done
done
log "figures in ${OUT#"$STACK_ROOT"/}"
