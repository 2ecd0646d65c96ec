#!/usr/bin/env bash
# Contract test: a running todo-local against its own OpenAPI document.
#
#   scripts/contract-test.sh              # about a minute once built; a summary last
#   scripts/contract-test.sh --postgres   # the same on PostgreSQL (scripts/pg.sh), not SQLite
#   CONTRACT_EXAMPLES=300 scripts/contract-test.sh   # dig deeper (the default is 40)
#
#  1. builds todo-local (release) and checks its document (`todo-local openapi`) against the
#     OpenAPI 3.1 schema (openapi-spec-validator), and the web app's generated API types
#     against the document (scripts/api-types.sh --check: fails when they are stale);
#  2. starts todo-local on a free loopback port with a fresh SQLite database (or the
#     throwaway PostgreSQL's todo_contract database) and signs a token (`todo-local token`)
#     for a new user, whom every path's {user_id} names;
#  3. runs schemathesis on every operation the server documents (its /openapi.json): the
#     documented examples, boundary and type-violating values (coverage), random ones
#     (fuzzing), and chains along the document's links and the ones schemathesis infers
#     (create -> get/update/complete/history/delete; webhook -> deliveries/delete). Checks:
#     no 5xx, every status documented, every answer (errors and stream events too) valid
#     against its schema.
#
# schemathesis and openapi-spec-validator come from PyPI into a venv cached under
# ~/.cache/todo, keyed by their versions and Python's (python3.13 or .12 when on PATH, else
# python3; scripts/lib/schemathesis_hooks.py works around a parser bug of 3.11). Logs, a
# JUnit report and Hypothesis' database of failing inputs: target/contract-test/
# (CONTRACT_WORK). A failure prints a curl command that reproduces it, and the run's seed.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
SPEC_VALIDATOR_VERSION=0.9.0
CACHE=${TODO_CACHE:-$HOME/.cache/todo}
WORK=$(realpath -m "${CONTRACT_WORK:-target/contract-test}")
EXAMPLES=${CONTRACT_EXAMPLES:-40}
# A new user each run: a database that outlives the run (PostgreSQL's) starts empty for it.
USER_ID=contract-$(date +%s)-$RANDOM
postgres=false
case ${1:-} in
    --postgres) postgres=true ;;
    "") ;;
    *) echo "usage: $0 [--postgres]" >&2; exit 2 ;;
esac
START=$SECONDS

log() { echo "contract-test: $*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$WORK"
rm -rf "$WORK/report" "$WORK/data"
mkdir -p "$WORK/data"

# -- 1. the build, the document, the web app's types -------------------------------------
log "building todo-local (release)"
cargo build --release --locked -p todo-local
BIN=${CARGO_TARGET_DIR:-target}/release/todo-local

python=
for candidate in python3.13 python3.12 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import venv' 2>/dev/null; then
        python=$candidate
        break
    fi
done
[[ -n $python ]] || die "Python 3 with venv is needed (Debian: apt-get install python3-venv)"
py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV=$CACHE/schemathesis-$SCHEMATHESIS_VERSION-osv-$SPEC_VALIDATOR_VERSION-py$py_version
if [[ ! -x $VENV/bin/st ]]; then
    mkdir -p "$CACHE"
    exec 9>"$VENV.lock"
    flock 9
    if [[ ! -x $VENV/bin/st ]]; then
        log "installing schemathesis $SCHEMATHESIS_VERSION and openapi-spec-validator $SPEC_VALIDATOR_VERSION (PyPI) into $VENV"
        rm -rf "$VENV"
        { "$python" -m venv "$VENV" &&
            "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" \
                "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"; } >"$WORK/install.log" 2>&1 ||
            { rm -rf "$VENV"; die "installing from PyPI failed (see $WORK/install.log)"; }
    fi
    exec 9>&-
fi

"$BIN" openapi >"$WORK/openapi.json"
"$VENV/bin/openapi-spec-validator" "$WORK/openapi.json" >"$WORK/spec-validator.log" 2>&1 ||
    { cat "$WORK/spec-validator.log" >&2; die "the document is not valid OpenAPI 3.1"; }
log "the document is valid OpenAPI 3.1"
TODO_LOCAL=$BIN scripts/api-types.sh --check

# -- 2. the server --------------------------------------------------------------------
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$port
export JWT_SECRET=contract-test-$RANDOM$RANDOM-secret-of-enough-bytes
if $postgres; then
    eval "export $(PG_DATABASE=todo_contract scripts/pg.sh start)"
else
    export DATABASE_URL=sqlite://$WORK/data/todo.db
fi
# The webhooks it registers point at this machine's discard port: allowed here, refused in
# production (private address).
export WEBHOOK_ALLOWED_HOSTS=127.0.0.1
export LOG_FORMAT=json
"$BIN" serve --port "$port" >"$WORK/server.log" 2>&1 &
server=$!
stop_server() {
    local rc=$?
    kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    exit "$rc"
}
trap stop_server EXIT
for _ in $(seq 100); do
    curl -sf "$BASE/healthz" >/dev/null && break
    kill -0 "$server" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; die "todo-local did not start"; }
    sleep 0.1
done
curl -sf "$BASE/healthz" >/dev/null || die "todo-local did not answer on $BASE"
TOKEN=$("$BIN" token "$USER_ID" 2>/dev/null)
# What the server serves is what is tested: the same document `todo-local openapi` prints.
curl -sf "$BASE/openapi.json" >"$WORK/served-openapi.json"
"$python" - "$WORK/openapi.json" "$WORK/served-openapi.json" <<'EOF' || die "the served document differs from todo-local openapi"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(a != b)
EOF

# -- 3. schemathesis --------------------------------------------------------------------
cat >"$WORK/schemathesis.toml" <<EOF
hooks = "$PWD/scripts/lib/schemathesis_hooks.py"

[cache]
directory = "$WORK/cache"

[parameters]
# Every {user_id} is the token's user (another one is a 403, which the Rust tests cover).
"path.user_id" = "$USER_ID"
# Half the webhooks registered point where this server may deliver (see above), so the
# webhook's operations (list, deliveries, delete) get one to work on.
"body.url" = { dictionary = "webhook-urls", probability = 0.5 }

[dictionaries]
webhook-urls = { values = ["http://127.0.0.1:9/hook", "http://127.0.0.1:9/other"] }

# The event stream stays open by design: read what arrives within a second.
[[operations]]
include-operation-id = "stream"
request-timeout = 1
EOF
log "schemathesis $SCHEMATHESIS_VERSION on $BASE: every operation, $EXAMPLES examples each"
set +e
HYPOTHESIS_STORAGE_DIRECTORY=$WORK/hypothesis-storage "$VENV/bin/st" --config-file "$WORK/schemathesis.toml" --no-color run "$WORK/served-openapi.json" \
    --url "$BASE" \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$EXAMPLES" \
    --workers 2 \
    --request-timeout 10 \
    --generation-database "$WORK/hypothesis" \
    --report junit --report-dir "$WORK/report" \
    >"$WORK/schemathesis.log" 2>&1
status=$?
set -e

# The server must not have panicked even where it answered.
if grep -q '"panicked\|handler panicked' "$WORK/server.log"; then
    grep 'panicked' "$WORK/server.log" | head -5 >&2
    status=1
fi
if [[ $status -ne 0 ]]; then
    sed -n '/^=* *\(FAILURES\|ERRORS\) *=*$/,$p' "$WORK/schemathesis.log" >&2
    log "FAILED after $((SECONDS - START)) s (full log: $WORK/schemathesis.log; server: $WORK/server.log)"
    exit 1
fi
operations=$(sed -n 's/^ *Tested: *\([0-9]*\).*/\1/p' "$WORK/schemathesis.log" | tail -1)
cases=$(sed -n 's/^ *\([0-9]*\) generated.*/\1/p' "$WORK/schemathesis.log" | tail -1)
links=$(sed -n 's/^ *API Links: *\(.*\)/\1/p' "$WORK/schemathesis.log" | tail -1)
warnings=$(sed -n '/^Warnings:/,/^$/p' "$WORK/schemathesis.log" | sed '1d;/^$/d')
log "passed: ${operations:-?} operations, ${cases:-?} test cases, links ${links:-?}; no 5xx, every status and answer as documented ($((SECONDS - START)) s)"
[[ -z $warnings ]] || log "schemathesis warnings (not failures):
$warnings"
