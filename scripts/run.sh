#!/usr/bin/env bash
# Runs the whole system on this machine with nothing but Rust: `todo-local serve`, every
# function on one port (default 8080), on an embedded SQLite database in your data
# directory (its path is printed at start). No root, no services, on Linux and macOS.
#
#   scripts/run.sh                 # http://localhost:8080
#   APP_PORT=9000 scripts/run.sh
#   scripts/run.sh --postgres      # the same on a throwaway local PostgreSQL (scripts/pg.sh:
#                                  # Debian's postgresql package, data under target/pg)
#
# Set DATABASE_URL (sqlite://... or postgres://...) to use your own database instead.
#
# With Node.js 20.19+ it also builds the web app (scripts/lib/web.sh) that todo-local serves
# at `/`; without Node the API runs alone and `/` says how to build the app.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/web.sh
source scripts/lib/web.sh

if [[ ${1:-} == --postgres ]]; then
    shift
    if [[ -z ${DATABASE_URL:-} ]]; then
        eval "export $(PG_DATABASE=todo_local scripts/pg.sh start)"
    fi
fi
# Webhook receivers on this machine are fine locally (production refuses private targets).
export WEBHOOK_ALLOWED_HOSTS=${WEBHOOK_ALLOWED_HOSTS:-127.0.0.1,localhost}
if web_node_ok; then
    web_build
else
    web_log "the API runs without the web app"
fi
cargo build --release --locked -p todo-local
bin=${CARGO_TARGET_DIR:-target}/release/todo-local
echo "run: get a token with: $bin token <user_id>" >&2
exec "$bin" serve "$@"
