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
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${1:-} == --postgres ]]; then
    shift
    if [[ -z ${DATABASE_URL:-} ]]; then
        eval "export $(PG_DATABASE=todo_local scripts/pg.sh start)"
    fi
fi
# Webhook receivers on this machine are fine locally (production refuses private targets).
export WEBHOOK_ALLOWED_HOSTS=${WEBHOOK_ALLOWED_HOSTS:-127.0.0.1,localhost}
cargo build --release --locked -p todo-local
bin=${CARGO_TARGET_DIR:-target}/release/todo-local
echo "run: get a token with: $bin token <user_id>" >&2
exec "$bin" serve "$@"
