#!/usr/bin/env bash
# Task API benchmark (issue 2): list and create under concurrent load on 1,000,000 tasks,
# with pgbench running the create path's SQL on the same database as the ceiling.
#
#   scripts/bench/api.sh
#
# Steps: start a dedicated PostgreSQL (target/bench-pg, separate from the tests' cluster),
# build todo-local (release), migrate, seed 1,000,000 tasks once (100,000 for `bench-user`),
# serve, then run (each DURATION seconds, after a short warm-up):
#   list-search   wrk, search term + filters + sorts, rotating over every vocabulary word
#   list-filter   wrk, the same filters and sorts without search
#   list-plain    wrk, search term only (default sort)
#   shapes-search, shapes-filter, shapes-plain
#                 list-shapes.py: the same rotations one request at a time, timed per
#                 shape (not in the default RUNS; its table is in the raw output)
#   create        wrk, POST /api/user-NNNNN/tasks over CREATE_USERS users
#   pgbench       the create transaction's statements (create.pgbench.sql), same number of
#                 clients, same database: the ceiling (the server is stopped first)
#   pgbench-full  the transaction plus the two statements a create runs after its commit
#                 (audit insert, outbox mark-published): create-full.pgbench.sql
# Rows written by create/pgbench (tasks, task_tags, outbox, audit_log; marked by their
# description) are deleted before and after, so the data set stays fixed.
# Measures and reports; never asserts. Raw output and summary: target/bench/.
#
# Knobs (environment): DURATION=30 (seconds per run), WARMUP=5, THREADS=2, CONNECTIONS=8,
# CREATE_USERS=100, SHAPE_REQUESTS=2000 (per shapes-* run), SKIP_BUILD=1 (use the existing $CARGO_TARGET_DIR/release/todo-local),
# TODO_LOCAL_BIN=path (benchmark that binary instead, e.g. a patched build; no build),
# KEEP_PG=1 (leave the bench PostgreSQL running), RUNS="list-search list-filter list-plain
# create pgbench pgbench-full" (a subset, in this order; RUNS=none only starts, seeds, stops).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# shellcheck source=scripts/bench/lib.sh
. "$ROOT/scripts/bench/lib.sh"
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-8}
CREATE_USERS=${CREATE_USERS:-100}
SHAPE_REQUESTS=${SHAPE_REQUESTS:-2000}
RUNS=${RUNS:-list-search list-filter list-plain create pgbench pgbench-full}

need wrk wrk
need curl curl

# --- PostgreSQL --------------------------------------------------------------------------
bench_pg_start
if [[ ! -x $PGBIN/pgbench ]]; then need pgbench postgresql-contrib; fi

# --- build, migrate ------------------------------------------------------------------
BIN=${TODO_LOCAL_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/todo-local}
if [[ -z ${SKIP_BUILD:-} && -z ${TODO_LOCAL_BIN:-} ]]; then
    log "cargo build --release -p todo-local"
    cargo build --release --locked -p todo-local >&2
fi
export JWT_SECRET=${JWT_SECRET:-bench-secret-$(date +%s%N)}
export LOG_LEVEL=${LOG_LEVEL:-warn}
"$BIN" migrate

# --- seed (once) -----------------------------------------------------------------------
bench_seed
# Rows a create or pgbench run wrote (tasks cascade to task_tags; their events too).
delete_written_rows() {
    sql "with t as (delete from tasks where description = '$MARKER' returning 1),
              o as (delete from outbox where payload->'task'->>'description' = '$MARKER' returning 1),
              a as (delete from audit_log where payload->>'description' = '$MARKER' returning 1)
         select (select count(*) from t) || ' tasks, ' || (select count(*) from o) || ' outbox rows, '
             || (select count(*) from a) || ' audit rows'"
}
delete_written_rows >/dev/null
sql "select 'data: ' || (select count(*) from tasks) || ' tasks, ' || (select count(*) from tasks where user_id = 'bench-user') || ' for bench-user, ' || (select count(distinct user_id) from tasks) || ' users, ' || (select count(*) from tags) || ' tags, ' || (select count(*) from task_tags) || ' task_tags, db ' || pg_size_pretty(pg_database_size(current_database()))" >&2

# --- server ----------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --port "$PORT" >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
stop_server() {
    if [[ -n ${SERVER_PID:-} ]]; then
        if kill "$SERVER_PID" 2>/dev/null; then wait "$SERVER_PID" 2>/dev/null || true; fi
        SERVER_PID=
    fi
}
cleanup() {
    stop_server
    if [[ -z ${KEEP_PG:-} ]]; then bench_pg_stop; fi
}
trap cleanup EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do
    curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "$URL/healthz" >/dev/null || { log "server did not come up"; tail -20 "$OUT/server.log" >&2; exit 1; }

TOKEN=$("$BIN" token bench-user)
: >"$OUT/create-tokens.txt"
for i in $(seq 1 "$CREATE_USERS"); do
    u=$(printf 'user-%05d' "$i")
    echo "$u $("$BIN" token "$u")" >>"$OUT/create-tokens.txt"
done

# One request each way, so a broken set-up fails loudly instead of measuring error pages.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/bench-user/tasks?search=call&status=pending&sort_by=due_at")
[[ $code == 200 ]] || { log "list answered $code"; exit 1; }

# --- runs ------------------------------------------------------------------------------
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RAW=$OUT/api-$STAMP.txt
SUMMARY=$OUT/api-$STAMP.md
declare -A RESULT LOAD_BEFORE LOAD_AFTER

wrk_run() { # name, wrk args...
    local name=$1; shift
    log "$name: warm-up ${WARMUP}s"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$@" >/dev/null
    LOAD_BEFORE[$name]=$(load1)
    log "$name: ${DURATION}s, $THREADS threads, $CONNECTIONS connections (load ${LOAD_BEFORE[$name]})"
    local out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@")
    LOAD_AFTER[$name]=$(load1)
    { echo "== $name (load before ${LOAD_BEFORE[$name]}, after ${LOAD_AFTER[$name]})"; echo "\$ wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency $*"; echo "$out"; echo; } >>"$RAW"
    RESULT[$name]=$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')
    log "$name: ${RESULT[$name]}"
}

for run in $RUNS; do
    case $run in
        list-search|list-filter|list-plain)
            wrk_run "$run" -s "$BENCH/list.lua" -H "Authorization: Bearer $TOKEN" "$URL" \
                -- "${run#list-}" "$BENCH/vocab.txt" "$BENCH/tags.txt" "$BENCH/shapes.txt" bench-user
            ;;
        shapes-search|shapes-filter|shapes-plain)
            LOAD_BEFORE[$run]=$(load1)
            log "$run: $SHAPE_REQUESTS requests one at a time (load ${LOAD_BEFORE[$run]})"
            out=$(python3 "$BENCH/list-shapes.py" "$URL" "$TOKEN" "${run#shapes-}" "$SHAPE_REQUESTS" bench-user)
            LOAD_AFTER[$run]=$(load1)
            { echo "== $run (load before ${LOAD_BEFORE[$run]}, after ${LOAD_AFTER[$run]})"; echo "$out"; echo; } >>"$RAW"
            RESULT[$run]=$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')
            log "$run: ${RESULT[$run]}"
            ;;
        create)
            wrk_run create -s "$BENCH/create.lua" "$URL" -- "$OUT/create-tokens.txt"
            ;;
        pgbench|pgbench-full)
            # The server's outbox sweep would publish pgbench's event rows: stop it first.
            stop_server
            rm -f "$OUT"/pgbench_log.*
            script=$BENCH/create.pgbench.sql
            [[ $run == pgbench-full ]] && script=$BENCH/create-full.pgbench.sql
            pgb=("$PGBIN/pgbench" -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -f "$script")
            log "$run: warm-up ${WARMUP}s"
            "${pgb[@]}" -T "$WARMUP" >/dev/null 2>&1
            LOAD_BEFORE[$run]=$(load1)
            log "$run: ${DURATION}s, $CONNECTIONS clients, $THREADS threads (load ${LOAD_BEFORE[$run]})"
            out=$(cd "$OUT" && "${pgb[@]}" -T "$DURATION" -l --log-prefix=pgbench_log 2>&1)
            LOAD_AFTER[$run]=$(load1)
            tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
            pct=$(cat "$OUT"/pgbench_log.* | awk '{print $3}' | sort -n | awk '
                { v[NR] = $1 }
                END { printf "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f",
                      v[int(NR*0.50)]/1000, v[int(NR*0.90)]/1000, v[int(NR*0.99)]/1000, v[NR]/1000 }')
            failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
            RESULT[$run]="requests=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out") rps=$tps $pct non2xx=${failed:-0} socket_errors=0"
            { echo "== $run (load before ${LOAD_BEFORE[$run]}, after ${LOAD_AFTER[$run]})"; echo "\$ ${pgb[*]} -T $DURATION"; echo "$out"; echo "latency from the per-transaction log: $pct"; echo; } >>"$RAW"
            rm -f "$OUT"/pgbench_log.*
            log "$run: ${RESULT[$run]}"
            ;;
        none) ;;
        *) log "unknown run $run"; exit 2 ;;
    esac
done

# --- clean up the rows the runs wrote ---------------------------------------------------
stop_server
n=$(delete_written_rows)
for t in tasks task_tags tags outbox audit_log; do sql "vacuum analyze $t" >/dev/null; done
log "deleted what create/pgbench wrote: $n"

# --- summary ---------------------------------------------------------------------------
{
    bench_header "Task API benchmark"
    echo "wrk/pgbench: ${DURATION}s per run, $THREADS threads, $CONNECTIONS connections; server pool 10 connections."
    if [[ " $RUNS " == *" shapes-"* ]]; then
        echo "shapes-*: $SHAPE_REQUESTS requests one at a time (req/s = 1 / mean latency); per-shape tables in the raw output."
    fi
    echo
    echo "| run | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | load 1m before/after |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    for run in $RUNS; do
        r=${RESULT[$run]:-}
        [[ -n $r ]] || continue
        printf '| %s | %.1f | %s | %s | %s | %s | %s | %s / %s |\n' "$run" "$(field "$r" rps)" \
            "$(field "$r" p50_ms)" "$(field "$r" p90_ms)" "$(field "$r" p99_ms)" "$(field "$r" max_ms)" \
            "$(( $(field "$r" non2xx) + $(field "$r" socket_errors) ))" "${LOAD_BEFORE[$run]}" "${LOAD_AFTER[$run]}"
    done
    for ceiling in pgbench pgbench-full; do
        if [[ -n ${RESULT[create]:-} && -n ${RESULT[$ceiling]:-} ]]; then
            awk -v c="$(field "${RESULT[create]}" rps)" -v p="$(field "${RESULT[$ceiling]}" rps)" -v n="$ceiling" \
                'BEGIN { printf "\ncreate / %s = %.1f / %.1f = %.2f\n", n, c, p, c / p }'
        fi
    done
} | tee "$SUMMARY"
log "raw output: $RAW; summary: $SUMMARY"
