#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and local runs.
#
#   scripts/pg.sh start   # prints DATABASE_URL=... on stdout; idempotent; a start after a
#                         # stop keeps the port (and so the URL) when it is still free
#   scripts/pg.sh stop
#   scripts/pg.sh url     # prints the URL of the running cluster
#
# The cluster lives under $PG_DIR (default: target/pg in the repository), owned by the
# `postgres` OS user (initdb and pg_ctl refuse to run as root), on a free loopback port.
# Installs Debian's postgresql package when no server binaries are found.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG_DIR=$(realpath -m "${PG_DIR:-$ROOT/target/pg}")
DATA=$PG_DIR/data
DB=${PG_DATABASE:-todo}

log() { echo "pg: $*" >&2; }

pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x $dir/pg_ctl ]] && { echo "$dir"; return 0; }
    done
    return 1
}

ensure_installed() {
    if ! pg_bin >/dev/null; then
        log "installing PostgreSQL (Debian package)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql postgresql-contrib >&2
    fi
}

as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The port of the last start when it is still free, so that a cluster stopped and started
# again keeps its URL (clients reconnect to the same address); else a new free one.
port_for_start() {
    local port
    port=$(cat "$PG_DIR/port" 2>/dev/null || true)
    if [[ $port =~ ^[0-9]+$ ]] &&
        python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
        echo "$port"
    else
        free_port
    fi
}

url() {
    local port
    port=$(cat "$PG_DIR/port")
    echo "postgres://postgres@127.0.0.1:$port/$DB"
}

start() {
    ensure_installed
    local bin
    bin=$(pg_bin)
    mkdir -p "$PG_DIR"
    if [[ $(id -u) -eq 0 ]]; then chown postgres "$PG_DIR"; fi
    if [[ ! -f $DATA/PG_VERSION ]]; then
        log "initdb in $DATA"
        as_pg "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR'
max_connections = 300
shared_buffers = 512MB
work_mem = 16MB
maintenance_work_mem = 256MB
synchronous_commit = ${PG_SYNCHRONOUS_COMMIT:-on}
fsync = ${PG_FSYNC:-on}
log_min_messages = warning
CONF
    fi
    if as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        log "already running"
    else
        port_for_start >"$PG_DIR/port.new"
        mv "$PG_DIR/port.new" "$PG_DIR/port"
        as_pg "$bin/pg_ctl" -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 \
            -o "-p $(cat "$PG_DIR/port")" start >/dev/null || { tail -20 "$PG_DIR/server.log" >&2; exit 1; }
    fi
    local port
    port=$(cat "$PG_DIR/port")
    if ! as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "select 1 from pg_database where datname = '$DB'" | grep -q 1; then
        as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$DB"
    fi
    echo "DATABASE_URL=$(url)"
}

stop() {
    local bin
    bin=$(pg_bin) || exit 0
    [[ -f $DATA/PG_VERSION ]] || exit 0
    as_pg "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
