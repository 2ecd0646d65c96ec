#!/usr/bin/env bash
# Soak: todo-local (release) under 80% of its measured peak mixed load for SOAK_MINUTES
# (default 30), sampling every 10 s the request rate, p99, errors and the process's RSS.
# Fails when any request failed or the RSS kept growing after the warm-up.
#
#   scripts/bench/soak.sh                      # on the embedded SQLite
#   SOAK_MINUTES=1 scripts/bench/soak.sh       # .ci/run's short version
#   DATABASE_URL=postgres://... scripts/bench/soak.sh
#
# 1. Peak: PEAK_SECONDS (default 20) of scripts/bench/mixed.lua with no pause, after a
#    warm-up; its rate is the peak.
# 2. Soak: the same mix, each of CONNECTIONS connections pausing so that together they
#    send 80% of the peak, in 10 s wrk runs back to back (a p99 per sample).
# 3. Verdict: every response 2xx; and, in runs of 10 minutes or more, the RSS of the last
#    sixth of the run within RSS_SLACK_PERCENT of the RSS of the sixth after the warm-up
#    (the first sixth: a shorter run is all warm-up, its caches still filling). Each is the
#    median of its samples, since the allocator's transient peaks would decide a verdict on
#    single samples.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# shellcheck source-path=SCRIPTDIR source=lib.sh
source scripts/bench/lib.sh

SOAK_MINUTES=${SOAK_MINUTES:-30}
PEAK_SECONDS=${PEAK_SECONDS:-20}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
USERS=${USERS:-50}
# RSS growth past the warm-up that still counts as flat (allocator and cache settling).
RSS_SLACK_PERCENT=${RSS_SLACK_PERCENT:-10}

need wrk wrk
BIN=${TODO_LOCAL_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/todo-local}
if [[ -z ${TODO_LOCAL_BIN:-} ]]; then
    cargo build --release --locked -p todo-local >&2
fi

work=$(mktemp -d)
server=
cleanup() {
    local rc=$?
    [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export JWT_SECRET=soak-$RANDOM$RANDOM LOG_LEVEL=warn
DATABASE_URL=${DATABASE_URL:-sqlite://$work/soak.db} "$BIN" serve --port "$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 200); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.05
done
for i in $(seq "$USERS"); do
    echo "soak-user-$i $("$BIN" token "soak-user-$i")"
done >"$work/tokens.txt"
URL=http://127.0.0.1:$port
mixed() { # seconds, pause in ms
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1s" --latency -s scripts/bench/mixed.lua "$URL" \
        -- "$work/tokens.txt" "$2" | sed -n 's/^RESULT //p'
}
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }
# The RSS and where it is: the heap (anonymous) and mapped files (the binary, SQLite's
# shared memory), in MiB, and the process's thread count.
rss_parts() {
    awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } /^RssShmem:/ { s = $2 }
        /^Threads:/ { t = $2 }
        END { printf "%.1f %.1f %.1f %d\n", r / 1024, a / 1024, (f + s) / 1024, t }' "/proc/$server/status"
}

log "warm-up, then the peak (${PEAK_SECONDS}s, $CONNECTIONS connections, $USERS users)"
mixed 5 0 >/dev/null
peak=$(mixed "$PEAK_SECONDS" 0)
peak_rps=$(field rps "$peak")
[[ $(field non2xx "$peak") == 0 && $(field socket_errors "$peak") == 0 ]] ||
    { log "errors at the peak: $peak"; tail -n 20 "$work/server.log" >&2; exit 1; }
target=$(python3 -c "print(round($peak_rps * 0.8))")
# Each connection waits this long after each answer: CONNECTIONS / (pause + latency) = target.
pause=$(python3 -c "print(max(0, round($CONNECTIONS * 1000 / $target - $(field p50_ms "$peak"))))")
log "peak $peak_rps req/s (p99 $(field p99_ms "$peak") ms); soak at 80%: $target req/s (pause ${pause} ms)"

samples=$((SOAK_MINUTES * 6))
warmup_samples=$((samples / 6 > 1 ? samples / 6 : 1))
printf '%8s %9s %9s %8s %8s %8s %8s %8s\n' elapsed "req/s" "p99 ms" errors "RSS MiB" heap files threads >&2
errors=0
warm=() last=()
for i in $(seq "$samples"); do
    r=$(mixed 10 "$pause")
    e=$(($(field non2xx "$r") + $(field socket_errors "$r")))
    errors=$((errors + e))
    read -r rss heap files threads < <(rss_parts)
    ((i > warmup_samples && i <= 2 * warmup_samples)) && warm+=("$rss")
    ((i > samples - warmup_samples)) && last+=("$rss")
    printf '%7ss %9s %9s %8s %8s %8s %8s %8s\n' $((i * 10)) "$(field rps "$r")" "$(field p99_ms "$r")" "$e" "$rss" \
        "$heap" "$files" "$threads" >&2
done
median() { python3 -c 'import statistics, sys; print(round(statistics.median(map(float, sys.argv[1:])), 1))' "$@"; }
warm_rss=$(median "${warm[@]}")
end_rss=$(median "${last[@]}")
growth=$(python3 -c "print(round(($end_rss - $warm_rss) * 100 / $warm_rss, 1))")
echo "soak: ${SOAK_MINUTES} min at $target req/s (80% of the peak $peak_rps): $errors errors; RSS (median) ${warm_rss} MiB after warm-up, ${end_rss} MiB at the end (${growth}%)"
kill -0 "$server" || { log "todo-local died"; exit 1; }
[[ $errors == 0 ]] || { log "requests failed"; tail -n 20 "$work/server.log" >&2; exit 1; }
if ((SOAK_MINUTES >= 10)); then
    python3 -c "import sys; sys.exit(0 if $growth <= $RSS_SLACK_PERCENT else 1)" ||
        { log "RSS grew ${growth}% after the warm-up (more than ${RSS_SLACK_PERCENT}%)"; exit 1; }
fi
