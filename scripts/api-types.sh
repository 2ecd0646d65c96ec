#!/usr/bin/env bash
# The web app's API types, generated from the API's OpenAPI document: web/src/api.gen.ts,
# written by openapi-typescript (web's devDependency) from what `todo-local openapi` prints.
# web/src/types.ts names the types the app uses from it.
#
#   scripts/api-types.sh           # regenerate web/src/api.gen.ts (commit it)
#   scripts/api-types.sh --check   # fail when it is stale (scripts/contract-test.sh runs this)
#
# TODO_LOCAL names the todo-local binary to ask (default: `cargo run -p todo-local`). Needs
# Node.js 20.19+; installs web/node_modules (npm ci) when missing or out of date, as
# scripts/run.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/web.sh
source scripts/lib/web.sh

TARGET=web/src/api.gen.ts
check=false
case ${1:-} in
    --check) check=true ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

web_node_ok || { echo "api-types: Node.js is needed to generate the web app's API types" >&2; exit 1; }
lock_hash=$(web_hash web/package-lock.json)
if [[ ! -x web/node_modules/.bin/openapi-typescript || ! -f web/node_modules/.todo-lock-hash ||
    $(cat web/node_modules/.todo-lock-hash) != "$lock_hash" ]]; then
    echo "api-types: installing the web app's packages (npm ci)" >&2
    (cd web && npm ci --no-audit --no-fund --prefer-offline --cache "$WEB_NPM_CACHE" >&2)
    echo "$lock_hash" >web/node_modules/.todo-lock-hash
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -n ${TODO_LOCAL:-} ]]; then
    "$TODO_LOCAL" openapi >"$work/openapi.json"
else
    cargo run --quiet --locked -p todo-local -- openapi >"$work/openapi.json"
fi
web/node_modules/.bin/openapi-typescript "$work/openapi.json" --output "$work/api.gen.ts" >/dev/null 2>"$work/generate.log" ||
    { cat "$work/generate.log" >&2; exit 1; }

if ! $check; then
    cp "$work/api.gen.ts" "$TARGET"
    echo "api-types: wrote $TARGET" >&2
elif cmp -s "$work/api.gen.ts" "$TARGET"; then
    echo "api-types: $TARGET matches the API's document" >&2
else
    diff -u "$TARGET" "$work/api.gen.ts" | head -40 >&2 || true
    echo "api-types: $TARGET is stale: the API's document changed; run scripts/api-types.sh and commit it" >&2
    exit 1
fi
