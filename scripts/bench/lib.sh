# shellcheck shell=bash
# Shared by the benchmarks (api.sh, tick.sh); sourced, not run. The caller has set ROOT
# (the repository, also the working directory) and `set -euo pipefail`.
#
#   bench_pg_start    start the dedicated bench PostgreSQL (target/bench-pg, separate from
#                     the tests' cluster); exports DATABASE_URL and PGUSER/PGHOST/PGPORT/
#                     PGDATABASE; sets PGBIN; defines psql and sql
#   bench_pg_stop     stop it
#   bench_seed        seed 1,000,000 tasks (100,000 for `bench-user`) once: skipped when the
#                     data is there (run the app's migrations first)

BENCH=$ROOT/scripts/bench
OUT=$ROOT/target/bench
BENCH_PG_DIR=$ROOT/target/bench-pg
TOTAL_TASKS=1000000
HEAVY_TASKS=100000
CHUNK=100000
# Rows written by api.sh's create/pgbench runs carry this description (not seed data).
MARKER='created by scripts/bench'
mkdir -p "$OUT"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }

need() { # command, Debian package
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2 (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "$2" >&2
}

# Absolute PG_DIR: pg.sh writes it into unix_socket_directories.
bench_pg_start() {
    eval "export $(PG_DIR="$BENCH_PG_DIR" "$ROOT/scripts/pg.sh" start)"
    if [[ $DATABASE_URL =~ ^postgres://([^@]+)@([^:/]+):([0-9]+)/(.+)$ ]]; then
        export PGUSER=${BASH_REMATCH[1]} PGHOST=${BASH_REMATCH[2]} PGPORT=${BASH_REMATCH[3]} PGDATABASE=${BASH_REMATCH[4]}
    else
        log "cannot parse DATABASE_URL=$DATABASE_URL"; exit 1
    fi
    PGBIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
}

bench_pg_stop() {
    PG_DIR="$BENCH_PG_DIR" "$ROOT/scripts/pg.sh" stop
}

psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
sql() { psql -tA -c "$1"; }

# The value of key in a "key=value key=value" result line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# A summary's first two lines: its title, when, the machine, and PostgreSQL's settings.
bench_header() { # title
    echo "$1, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB,"
    echo "PostgreSQL $(sql 'show server_version'), shared_buffers=$(sql 'show shared_buffers'), synchronous_commit=$(sql 'show synchronous_commit'), fsync=$(sql 'show fsync');"
}

bench_seed() {
    local heavy total vocab tags seed_start t0 lo hi
    read -r heavy total < <(sql "select count(*) filter (where user_id = 'bench-user'), count(*) from tasks where description <> '$MARKER'" | tr '|' ' ')
    if (( total >= TOTAL_TASKS && heavy >= HEAVY_TASKS )); then
        log "already seeded: $total tasks ($heavy for bench-user)"
        return 0
    fi
    if (( total > 0 )); then
        log "partial seed ($total tasks): truncating"
        sql "truncate tasks, tags, task_tags"
    fi
    vocab=$(grep -v '^$' "$BENCH/vocab.txt" | paste -sd, -)
    tags=$(grep -v '^$' "$BENCH/tags.txt" | paste -sd, -)
    seed_start=$(date +%s)
    for (( lo = 1; lo <= TOTAL_TASKS; lo += CHUNK )); do
        hi=$(( lo + CHUNK - 1 ))
        t0=$(date +%s)
        psql -v lo="$lo" -v hi="$hi" -v vocab="$vocab" -v tags="$tags" -f "$BENCH/seed-tasks.sql"
        log "seeded tasks $lo..$hi in $(( $(date +%s) - t0 ))s (load $(load1))"
    done
    t0=$(date +%s)
    psql -f "$BENCH/seed-finish.sql"
    log "tags, task_tags, vacuum analyze in $(( $(date +%s) - t0 ))s; seed total $(( $(date +%s) - seed_start ))s"
}
