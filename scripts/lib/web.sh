# shellcheck shell=bash
# The web app's build, shared by scripts/run.sh and scripts/web-test.sh (source it from the
# repository's root). Needs Node.js >= 20.19 and npm (Vite 7's floor).
#
#   web_node_ok   true when a usable Node.js is on PATH; else says why on stderr
#   web_build     installs web/node_modules when web/package-lock.json changed (npm ci,
#                 its downloads cached under ~/.cache/todo/npm), then builds web/dist
#                 unless the sources are unchanged since the last build

WEB_NPM_CACHE=${WEB_NPM_CACHE:-$HOME/.cache/todo/npm}

web_log() { echo "web: $*" >&2; }

web_node_ok() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        web_log "Node.js and npm are not installed (the web app needs Node.js 20.19 or newer)"
        return 1
    fi
    local version
    version=$(node -p 'process.versions.node')
    if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
        web_log "Node.js $version is too old (the web app needs 20.19 or newer)"
        return 1
    fi
}

# A hash of the given files' paths and contents.
web_hash() {
    find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

web_build() {
    local lock_hash source_hash
    lock_hash=$(web_hash web/package-lock.json)
    if [[ ! -f web/node_modules/.todo-lock-hash || $(cat web/node_modules/.todo-lock-hash) != "$lock_hash" ]]; then
        web_log "installing the web app's packages (npm ci)"
        (cd web && npm ci --no-audit --no-fund --prefer-offline --cache "$WEB_NPM_CACHE" >&2)
        echo "$lock_hash" >web/node_modules/.todo-lock-hash
    fi
    source_hash=$(web_hash web/src web/public web/index.html web/package.json web/package-lock.json \
        web/tsconfig.json web/vite.config.ts)
    if [[ -f web/dist/index.html && -f web/dist/.todo-source-hash \
        && $(cat web/dist/.todo-source-hash) == "$source_hash" ]]; then
        web_log "web/dist is up to date"
        return 0
    fi
    web_log "building the web app (web/dist)"
    (cd web && npm run --silent build >&2)
    echo "$source_hash" >web/dist/.todo-source-hash
}
