#!/usr/bin/env bash
# The project's test command (the README's second line). Starts what the tests need,
# then runs every test in the workspace.
#
# - PostgreSQL: reuses $DATABASE_URL when set, else starts a throwaway cluster under
#   target/pg (scripts/pg.sh; installs Debian's postgresql package when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z ${DATABASE_URL:-} ]]; then
    eval "export $(scripts/pg.sh start)"
fi
export DATABASE_URL
echo "test: DATABASE_URL=${DATABASE_URL%%@*}@…" >&2

cargo test --workspace --locked "$@"
