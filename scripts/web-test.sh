#!/usr/bin/env bash
# The web app's browser tests: Debian's Chromium, driven by playwright-core, against a real
# todo-local on a real database: the embedded SQLite, then PostgreSQL (scripts/pg.sh).
#
#   scripts/web-test.sh                  # both backends
#   WEB_TEST_DB=sqlite scripts/web-test.sh
#   scripts/web-test.sh --screenshots    # also refresh docs/screenshots/ (the README's)
#
# Installs what is missing: Debian's chromium package (apt-get; a browser is never
# downloaded any other way), the web app's npm packages (cached under ~/.cache/todo/npm).
# Builds the web app (scripts/lib/web.sh) and todo-local in release mode (in
# CARGO_TARGET_DIR, as .ci/run sets it, so the build the other checks made is reused).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/web.sh
source scripts/lib/web.sh

screenshots=
[[ ${1:-} == --screenshots ]] && screenshots=$PWD/docs/screenshots

log() { echo "web-test: $*" >&2; }

web_node_ok || { log "install Node.js 20.19+ to run the browser tests"; exit 1; }
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $CHROMIUM ]]; then
    log "installing Debian's chromium"
    sudo=
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
export CHROMIUM

web_build
cargo build --release --locked -p todo-local
bin=${CARGO_TARGET_DIR:-target}/release/todo-local

work=$(mktemp -d)
server=
stop() {
    local rc=$?
    [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
    exit "$rc"
}
trap stop EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One run of the tests against a todo-local on the database at $2.
run_on() {
    local name=$1 url=$2 port
    port=$(free_port)
    # The tick every second, so that a reminder arrives while the test waits for it; webhooks
    # to this machine are allowed, as scripts/run.sh allows them.
    DATABASE_URL=$url WEB_DIR=$PWD/web/dist WEBHOOK_ALLOWED_HOSTS=127.0.0.1 LOG_FORMAT=json LOG_LEVEL=warn \
        "$bin" serve --port "$port" --tick-interval 1 >"$work/todo-local-$name.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        kill -0 "$server" 2>/dev/null || { cat "$work/todo-local-$name.log" >&2; return 1; }
        sleep 0.1
    done
    log "the browser tests on $name (todo-local on :$port)"
    local rc=0
    (cd web && TODO_URL=http://127.0.0.1:$port SCREENSHOTS=$screenshots \
        node --test --test-concurrency=1 tests/) || rc=$?
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
    if [[ $rc -ne 0 ]]; then
        log "todo-local's log ($name):"
        tail -n 40 "$work/todo-local-$name.log" >&2
    fi
    return "$rc"
}

[[ -n $screenshots ]] && mkdir -p "$screenshots"
backends=${WEB_TEST_DB:-sqlite postgres}
for backend in $backends; do
    case $backend in
        sqlite) run_on sqlite "sqlite://$work/todo.db" ;;
        postgres)
            url=$(PG_DATABASE=todo_web scripts/pg.sh start)
            run_on postgres "${url#DATABASE_URL=}"
            ;;
        *) log "unknown backend $backend (sqlite, postgres)"; exit 1 ;;
    esac
    screenshots= # taken once
done
