#!/usr/bin/env bash
# Reminder tick benchmark (issue 4): `POST /reminder-cron` over the 1,000,000 tasks api.sh
# seeds, idle and with 10,000 due reminders.
#
#   scripts/bench/tick.sh
#
# Steps: start the bench PostgreSQL (target/bench-pg, shared with api.sh), build
# `todo-local` and `reminder-tick` (release), migrate, seed once (scripts/bench/lib.sh, as
# api.sh), then run the standalone `reminder-tick` binary with PUBSUB_TRANSPORT=none: a
# tick claims, marks sent and writes the outbox; its inline publish fails at once (one
# warning per batch) and the rows wait for a sweep, so publishing is not measured. Each
# POST carries the app token (APP_API_TOKEN), as daprd's binding does. (`todo-local`
# serves no /reminder-cron to time: its tick runs in-process.) Then:
#   drain      one tick, so reminders of the seed that have come due since are claimed;
#              the outbox rows it wrote are deleted, then `vacuum analyze tasks, outbox`
#   idle       IDLE_TICKS sequential POSTs (after IDLE_WARMUP unrecorded ones) on one
#              keep-alive connection; curl's time_total per request, and the server's own
#              latency (tower_http, whole milliseconds); nothing due, no pending outbox rows
#   due        REPEATS times: arm DUE random open tasks that have no reminder (due_at and
#              reminder_minutes so that remind_at <= now(); originals saved in the table
#              bench_tick_armed), `checkpoint`, then ONE tick, timed with curl; verified in
#              SQL (tasks marked sent, reminder.due outbox rows, one per task); then
#              disarmed (originals restored) and its outbox rows deleted, `vacuum analyze`
# Finally `explain (analyze, buffers)` of the claim statement, idle and with DUE armed (in
# transactions rolled back).
#
# The data set is restored at the end (and at the start of the next run if one was cut
# short): armed tasks get their original columns back, tasks this run marked sent are
# unmarked (reminder_sent_at >= the run's start), outbox rows on `reminders` written since
# the start are deleted; the bookkeeping tables are dropped. api.sh's figures are unaffected.
# Not beside api.sh: both use the same cluster, and this restore would undo its ticks too.
# Measures and reports; never asserts. Raw output and summary: target/bench/tick-<time>.*
#
# Knobs (environment): IDLE_TICKS=500, IDLE_WARMUP=20, DUE=10000,
# REPEATS=3, SKIP_BUILD=1 (use the binaries already built), BIN_DIR=dir (take todo-local and
# reminder-tick from there; no build), KEEP_PG=1 (leave the bench PostgreSQL running),
# CARGO_TARGET_DIR (default ~/.cache/todo/cargo-target-<rustc version>), SERVER_PG_OPTIONS
# (PostgreSQL options for the server's connections, e.g. '-c log_min_duration_statement=0'
# to get each statement's duration in target/bench-pg/server.log).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# shellcheck source=scripts/bench/lib.sh
. "$ROOT/scripts/bench/lib.sh"
MODES=none
APP_API_TOKEN=bench-$(date +%s%N)
IDLE_TICKS=${IDLE_TICKS:-500}
IDLE_WARMUP=${IDLE_WARMUP:-20}
DUE=${DUE:-10000}
REPEATS=${REPEATS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/todo/cargo-target-$(rustc --version | cut -d' ' -f2)}

need curl curl

# --- PostgreSQL, build, migrate, seed ----------------------------------------------------
bench_pg_start
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -n ${BIN_DIR:-} ]]; then
    log "binaries from $BIN_DIR (no build)"
    CODE="binaries from $BIN_DIR"
else
    BIN_DIR=$CARGO_TARGET_DIR/release
    CODE="binaries in $BIN_DIR, not rebuilt"
    if [[ -z ${SKIP_BUILD:-} ]]; then
        CODE="code $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Cargo.lock shared functions migrations || echo ' with uncommitted changes')"
        log "cargo build --release -p todo-local -p reminder-tick (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
        cargo build --release --locked -p todo-local -p reminder-tick >&2
    fi
fi
export JWT_SECRET=${JWT_SECRET:-bench-secret-$(date +%s%N)}
LOG_LEVEL=warn "$BIN_DIR/todo-local" migrate
bench_seed

# --- bookkeeping, restore -----------------------------------------------------------------
# bench_tick_state: the run's start (t0) and the last outbox id before it; bench_tick_armed:
# the original columns of the tasks armed now.
sql "create unlogged table if not exists bench_tick_state (k text primary key, v text not null)"
sql "create unlogged table if not exists bench_tick_armed (id uuid primary key, due_at timestamptz,
     reminder_minutes integer, remind_at timestamptz, reminder_sent_at timestamptz, updated_at timestamptz)"

# Armed tasks back to their original columns (remind_at, reminder_sent_at and updated_at
# exactly as they were) and out of the reminder queue, and the reminder outbox rows written
# since t0 deleted.
disarm() {
    psql -tA <<'SQL'
begin;
delete from reminder_queue where task_id in (select id from bench_tick_armed);
update tasks t set due_at = a.due_at, reminder_minutes = a.reminder_minutes, remind_at = a.remind_at,
                   reminder_sent_at = a.reminder_sent_at, updated_at = a.updated_at
from bench_tick_armed a where t.id = a.id;
truncate bench_tick_armed;
delete from outbox where topic = 'reminders'
    and id > (select v::bigint from bench_tick_state where k = 'outbox_id');
commit;
SQL
}

# The whole data set as it was at t0: also unmark the seed's reminders a tick claimed.
restore() {
    [[ -n $(sql "select 1 from bench_tick_state where k = 't0'") ]] || return 0
    disarm
    local n
    n=$(sql "with u as (update tasks set reminder_sent_at = null
                        where reminder_sent_at >= (select v::timestamptz from bench_tick_state where k = 't0')
                        returning 1) select count(*) from u")
    sql "delete from bench_tick_state" >/dev/null
    log "restored: armed tasks as they were, $n reminders of the seed unmarked, outbox rows deleted"
}

if [[ -n $(sql "select 1 from bench_tick_state where k = 't0'") ]]; then
    log "an earlier run was cut short: restoring its changes first"
    restore
    sql "truncate bench_tick_armed" >/dev/null
fi
sql "insert into bench_tick_state values ('t0', now()::text),
     ('outbox_id', (select coalesce(max(id), 0) from outbox)::text)" >/dev/null

SERVER_PID=
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        if kill "$SERVER_PID" 2>/dev/null; then wait "$SERVER_PID" 2>/dev/null || true; fi
        SERVER_PID=
    fi
}
cleanup() {
    local rc=$?
    stop_server
    restore || log "restore failed: run this script again to finish it"
    sql "drop table if exists bench_tick_armed, bench_tick_state" >/dev/null || true
    for t in tasks outbox; do sql "vacuum analyze $t" >/dev/null || true; done
    if [[ -z ${KEEP_PG:-} ]]; then bench_pg_stop; fi
    exit "$rc"
}
trap cleanup EXIT

sql "select 'data: ' || (select count(*) from tasks) || ' tasks, '
     || (select count(*) from tasks where remind_at is not null and reminder_sent_at is null and not completed) || ' armed reminders ('
     || (select count(*) from tasks where remind_at <= now() and reminder_sent_at is null and not completed) || ' due now), '
     || (select count(*) from outbox) || ' outbox rows (' || (select count(*) from outbox where published_at is null) || ' pending), '
     || (select count(*) from webhooks) || ' webhooks, db ' || pg_size_pretty(pg_database_size(current_database()))" >&2

# --- helpers ----------------------------------------------------------------------------
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RAW=$OUT/tick-$STAMP.txt
SUMMARY=$OUT/tick-$STAMP.md
: >"$RAW"
raw() { printf '%s\n' "$*" >>"$RAW"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() { # mode
    local port
    port=$(free_port)
    SERVER_LOG=$OUT/tick-$STAMP-$1.log
    local db=$DATABASE_URL
    if [[ -n ${SERVER_PG_OPTIONS:-} ]]; then
        db="$DATABASE_URL?options=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$SERVER_PG_OPTIONS")"
    fi
    # tower_http=debug: the server's own latency per request (whole milliseconds).
    case $1 in
        none)
            DATABASE_URL=$db APP_PORT=$port PUBSUB_TRANSPORT=none APP_API_TOKEN=$APP_API_TOKEN \
                LOG_FORMAT=json LOG_LEVEL=warn,tower_http=debug "$BIN_DIR/reminder-tick" >"$SERVER_LOG" 2>&1 &
            ;;
        *) log "unknown mode $1"; exit 2 ;;
    esac
    SERVER_PID=$!
    URL=http://127.0.0.1:$port
    for _ in $(seq 1 100); do
        curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    curl -fsS "$URL/healthz" >/dev/null || { log "server did not come up"; tail -20 "$SERVER_LOG" >&2; exit 1; }
}

tick() { # one POST /reminder-cron: prints "<http code> <seconds> <body>"
    curl -s -X POST -H "dapr-api-token: $APP_API_TOKEN" -w ' %{http_code} %{time_total}' "$URL/reminder-cron" |
        sed -E 's/^(.*) ([0-9]{3}) ([0-9.]+)$/\2 \3 \1/'
}

percentiles() { # values (one a line, ms) on stdin: "n= p50= p95= p99= max= mean="
    sort -g | awk '{ v[NR] = $1; s += $1 }
        function p(q) { i = int(NR * q + 0.999999); if (i < 1) i = 1; return v[i] }
        END { if (NR == 0) { print "n=0"; exit }
              printf "n=%d p50=%.3f p95=%.3f p99=%.3f max=%.3f mean=%.3f\n", NR, p(0.50), p(0.95), p(0.99), v[NR], s / NR }'
}

# Server-side latencies logged by tower_http after line $1 of the log, as a histogram.
server_latencies() { # from-line
    tail -n +"$1" "$SERVER_LOG" | grep -o '"latency":"[0-9]* ms"' | grep -o '[0-9]*' |
        sort -n | uniq -c | awk '{ printf "%s%s ms: %d", sep, $2, $1; sep = ", " } END { print "" }'
}

# --- runs ---------------------------------------------------------------------------------
declare -A IDLE DUE_RESULTS DRAINED

idle_run() { # mode
    local mode=$1 cfg out line0 lb la busy
    cfg=$OUT/tick-$STAMP-curl.cfg
    : >"$cfg"
    for _ in $(seq 1 "$IDLE_WARMUP"); do echo "url = \"$URL/reminder-cron\"" >>"$cfg"; done
    curl -s -X POST -H "dapr-api-token: $APP_API_TOKEN" -K "$cfg" -w "" >/dev/null
    : >"$cfg"
    for _ in $(seq 1 "$IDLE_TICKS"); do echo "url = \"$URL/reminder-cron\"" >>"$cfg"; done
    line0=$(( $(wc -l <"$SERVER_LOG") + 1 ))
    lb=$(load1)
    log "$mode idle: $IDLE_TICKS ticks on one connection (load $lb)"
    # Bodies and curl's figures on one line each: {...}\t<code>\t<seconds>
    out=$(curl -s -X POST -H "dapr-api-token: $APP_API_TOKEN" -K "$cfg" -w '\t%{http_code}\t%{time_total}\n')
    la=$(load1)
    rm -f "$cfg"
    busy=$(awk -F'\t' '$1 !~ /"reminders":0,"published":0,"failed":0/' <<<"$out" | wc -l)
    local non200 pct server
    non200=$(awk -F'\t' '$2 != 200' <<<"$out" | wc -l)
    pct=$(awk -F'\t' '{ print $3 * 1000 }' <<<"$out" | percentiles)
    server=$(server_latencies "$line0")
    IDLE[$mode]="$pct non200=$non200 busy=$busy load=$lb/$la"
    IDLE[$mode-server]=$server
    raw "== $mode idle: $IDLE_TICKS sequential POST /reminder-cron, one connection (load before $lb, after $la)"
    raw "curl time_total, ms: $pct; non-200: $non200; ticks that did work: $busy"
    raw "server-side latency (tower_http, whole ms): $server"
    awk -F'\t' '$1 !~ /"reminders":0,"published":0,"failed":0/' <<<"$out" | head -5 >>"$RAW"
    raw ""
    log "$mode idle: $pct non200=$non200 busy=$busy; server: $server"
}

arm() { # count: arm that many random open tasks without a reminder
    psql -tA -v n="$1" <<'SQL' >/dev/null
insert into bench_tick_armed
select id, due_at, reminder_minutes, remind_at, reminder_sent_at, updated_at
from tasks where not completed and reminder_minutes is null
order by random() limit :n;
update tasks t
set due_at = date_trunc('minute', now()) - random() * interval '2 hours',
    reminder_minutes = (array[0, 10, 30, 60])[1 + floor(random() * 4)::int],
    reminder_sent_at = null
from bench_tick_armed a where t.id = a.id;
-- As the store writes an armed reminder (domain rule: remind_at = due_at - reminder_minutes).
update tasks t set remind_at = t.due_at - make_interval(mins => t.reminder_minutes)
from bench_tick_armed a where t.id = a.id;
insert into reminder_queue (task_id, remind_at)
select t.id, t.remind_at from tasks t join bench_tick_armed a using (id)
on conflict (task_id) do update set remind_at = excluded.remind_at;
SQL
}

due_run() { # mode repeat
    local mode=$1 r=$2 armed lb la result code secs body check line0
    arm "$DUE"
    armed=$(sql "select count(*) from tasks t join bench_tick_armed a using (id)
                 where t.remind_at <= now() and t.reminder_sent_at is null and not t.completed")
    local other
    other=$(sql "select count(*) from tasks where remind_at <= now() and reminder_sent_at is null and not completed
                 and id not in (select id from bench_tick_armed)")
    sql "checkpoint" >/dev/null
    line0=$(( $(wc -l <"$SERVER_LOG") + 1 ))
    lb=$(load1)
    log "$mode due #$r: $armed armed (+$other other due), one tick (load $lb)"
    result=$(tick)
    la=$(load1)
    read -r code secs body <<<"$result"
    # Claimed and written: the armed tasks now marked sent, their reminder.due rows (one per
    # task, with the task's user, title and times), and the tick's other outbox rows.
    check=$(sql "select 'marked=' || (select count(*) from tasks t join bench_tick_armed a using (id) where t.reminder_sent_at is not null)
        || ' rows=' || count(*) filter (where o.payload->>'task_id' in (select id::text from bench_tick_armed))
        || ' distinct_tasks=' || count(distinct o.payload->>'task_id') filter (where o.payload->>'task_id' in (select id::text from bench_tick_armed))
        || ' matching=' || count(*) filter (where o.payload->>'event_type' = 'reminder.due' and o.partition_key = t.user_id
                 and o.payload->>'user_id' = t.user_id and o.payload->>'title' = t.title
                 and (o.payload->>'remind_at')::timestamptz = t.remind_at and (o.payload->>'due_at')::timestamptz = t.due_at)
        || ' other_rows=' || count(*) filter (where t.id is null or t.id not in (select id from bench_tick_armed))
        || ' published=' || count(*) filter (where o.published_at is not null)
        from outbox o left join tasks t on t.id = (o.payload->>'task_id')::uuid
        where o.topic = 'reminders' and o.id > (select v::bigint from bench_tick_state where k = 'outbox_id')")
    local ms server
    ms=$(awk -v s="$secs" 'BEGIN { printf "%.1f", s * 1000 }')
    server=$(server_latencies "$line0")
    DUE_RESULTS[$mode-$r]="wall_ms=$ms code=$code armed=$armed other_due=$other $check load=$lb/$la body=$body"
    raw "== $mode due #$r: $armed armed + $other other due reminders; one POST /reminder-cron (load before $lb, after $la)"
    raw "HTTP $code in $ms ms (curl time_total); server-side: $server; answer: $body"
    raw "verified in SQL: $check"
    raw ""
    log "$mode due #$r: $ms ms, HTTP $code, $body; $check"
    disarm >/dev/null
    sql "vacuum analyze tasks" >/dev/null
    sql "vacuum analyze outbox" >/dev/null
}

for mode in $MODES; do
    start_server "$mode"
    # The seed's reminders that have come due since (the same tick any server runs first).
    result=$(tick)
    read -r code secs body <<<"$result"
    DRAINED[$mode]="$code $body"
    log "$mode drain tick: HTTP $code $body"
    raw "== $mode drain tick: HTTP $code in $(awk -v s="$secs" 'BEGIN { printf "%.1f", s * 1000 }') ms: $body"
    disarm >/dev/null
    sql "vacuum analyze tasks" >/dev/null
    sql "vacuum analyze outbox" >/dev/null
    raw "before idle: $(sql "select (select count(*) from tasks where remind_at <= now() + interval '5 minutes' and reminder_sent_at is null and not completed) || ' reminders due within 5 minutes, '
        || (select count(*) from outbox where published_at is null) || ' pending outbox rows'")"
    idle_run "$mode"
    for r in $(seq 1 "$REPEATS"); do due_run "$mode" "$r"; done
    stop_server
done

# --- the claim statement's plan, idle and with DUE armed (rolled back) ---------------------
# The statement of PgStore::claim_due_reminders (shared/src/store/postgres/reminders.rs,
# with now() for its bound claim time); keep in step.
CLAIM="with due as (delete from reminder_queue where task_id in (
                        select task_id from reminder_queue where remind_at <= now()
                        order by remind_at limit 1000 for update skip locked)
                    returning task_id)
       update tasks t set reminder_sent_at = now() from due
       where t.id = due.task_id and t.reminder_sent_at is null and not t.completed
       returning t.*"
explain() { # title
    raw "== explain (analyze, buffers), $1"
    psql -c "begin" -c "explain (analyze, buffers) $CLAIM" -c "rollback" >>"$RAW" 2>&1
}
explain "idle (nothing due), batch of 1000"
arm "$DUE"
sql "checkpoint" >/dev/null
explain "$DUE due, first batch of 1000"
CLAIM=${CLAIM/limit 1000/limit $DUE}
explain "$DUE due, all in one statement (limit $DUE)"
disarm >/dev/null

# --- summary ------------------------------------------------------------------------------
{
    bench_header "Reminder tick benchmark"
    echo "$CODE (reminder-tick built $(date -u -r "$BIN_DIR/reminder-tick" '+%Y-%m-%d %H:%M UTC')); $(sql "select count(*) from tasks") tasks;"
    echo "load average at the start: $LOAD_START (1/5/15 min)."
    echo
    echo "Idle tick ($IDLE_TICKS sequential requests, one connection; curl time_total):"
    echo
    echo "| mode | p50 ms | p95 ms | p99 ms | max ms | mean ms | ticks that did work | load 1 m before/after | server-side (whole ms) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
    for mode in $MODES; do
        r=${IDLE[$mode]:-}
        [[ -n $r ]] || continue
        echo "| $mode | $(field "$r" p50) | $(field "$r" p95) | $(field "$r" p99) | $(field "$r" max) | $(field "$r" mean) | $(field "$r" busy) | $(field "$r" load) | ${IDLE[$mode-server]} |"
    done
    echo
    echo "One tick with $DUE due reminders:"
    echo
    echo "| mode | # | wall ms | HTTP | armed | marked sent | reminder.due rows | distinct tasks | matching task | other rows | published | load 1 m before/after |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for mode in $MODES; do
        for r in $(seq 1 "$REPEATS"); do
            x=${DUE_RESULTS[$mode-$r]:-}
            [[ -n $x ]] || continue
            echo "| $mode | $r | $(field "$x" wall_ms) | $(field "$x" code) | $(field "$x" armed) | $(field "$x" marked) | $(field "$x" rows) | $(field "$x" distinct_tasks) | $(field "$x" matching) | $(field "$x" other_rows) | $(field "$x" published) | $(field "$x" load) |"
        done
    done
    echo
    for mode in $MODES; do echo "drain tick ($mode): HTTP ${DRAINED[$mode]:-}"; done
} | tee "$SUMMARY"
log "raw output (with plans): $RAW; summary: $SUMMARY; server logs: $OUT/tick-$STAMP-*.log"
