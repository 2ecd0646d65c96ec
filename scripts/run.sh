#!/usr/bin/env bash
# Runs the whole system on this machine: a local PostgreSQL (scripts/pg.sh, data under
# target/pg) and `todo-local serve`, every function on one port (default 8080).
#
#   scripts/run.sh                 # http://localhost:8080
#   APP_PORT=9000 scripts/run.sh
#
# Set DATABASE_URL to use your own PostgreSQL instead.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z ${DATABASE_URL:-} ]]; then
    eval "export $(PG_DATABASE=todo_local scripts/pg.sh start)"
fi
export DATABASE_URL
# Webhook receivers on this machine are fine locally (production refuses private targets).
export WEBHOOK_ALLOWED_HOSTS=${WEBHOOK_ALLOWED_HOSTS:-127.0.0.1,localhost}
cargo build --release --locked -p todo-local
bin=${CARGO_TARGET_DIR:-target}/release/todo-local
echo "run: get a token with: $bin token <user_id>" >&2
exec "$bin" serve "$@"
