#!/usr/bin/env bash
# Builds the image from the Dockerfile without a container engine and proves what it ships:
#
#   scripts/image-check.sh          # "image-check: N passed, M failed" last
#
# The build runs under buildah (daemonless; Debian's package, installed when missing), with
# chroot isolation and layer caching, on the unchanged Dockerfile: the web stage, cargo-chef's
# dependency layer, the workspace build, its shared-library check and the distroless runtime.
#
# This machine reaches Debian's, crates.io's and npm's registries but no image registry, so
# the Dockerfile's three base images are made here first, under the names it asks for, from
# what they are made of: `node:<v>-bookworm-slim` and `rust:<v>-slim-bookworm` are Debian
# bookworm (debootstrap, minbase) with the host's Node.js and Rust toolchain where the
# official images put theirs; `gcr.io/distroless/cc-debian12:nonroot` is, like distroless,
# Debian's libc6, libgcc-s1, libstdc++6, libssl3, ca-certificates, tzdata and netbase
# unpacked into an empty tree with the nonroot user (65532) and no shell or package
# manager. Where a registry is reachable, `docker buildx build .` uses the real ones. The
# certificate authorities this machine adds to Debian's (/usr/local/share/ca-certificates,
# e.g. a proxy's that re-signs the registries' TLS) go into the build bases, so that npm and
# cargo inside the build trust what the host trusts; never into the runtime image.
#
# Then, on the built image: its configuration (user 65532, the default command, no shell);
# one binary per function package; the web app and the OpenAPI document; and every binary
# started inside the image's own root filesystem as user 65532 on a throwaway PostgreSQL
# (`todo-local migrate` from the image first, as the chart's hook Job runs it), answering
# /readyz; then a task created through create-task and read back through get-task.
#
# Caches: buildah's storage (base images, layers, the cargo registry mount) under
# ${TODO_CACHE:-~/.cache/todo}/image-<buildah version>; a rerun after a source change
# rebuilds from the workspace layer on. Work files: target/image-check/.
#
# Environment: IMAGE_TAG (default localhost/todo-app:check), TODO_CACHE, IMAGE_CHECK_WORK,
# NODE_BIN (default: node on PATH), RUST_TOOLCHAIN_DIR (default: rustup's toolchain of
# RUST_VERSION below).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS_NAME=image-check
# shellcheck source-path=SCRIPTDIR source=lib/tools.sh
source "$ROOT/scripts/lib/tools.sh"

# The Dockerfile's base image arguments, read from it so that the two cannot disagree.
dockerfile_arg() { sed -n "s/^ARG $1=//p" Dockerfile | head -n1; }
RUST_VERSION="$(dockerfile_arg RUST_VERSION)"
NODE_VERSION="$(dockerfile_arg NODE_VERSION)"
RUNTIME_BASE="$(sed -n 's/^FROM \([^ ]*\) AS runtime$/\1/p' Dockerfile)"
if [ -z "$RUST_VERSION" ] || [ -z "$NODE_VERSION" ] || [ -z "$RUNTIME_BASE" ]; then
  tools_die "cannot read RUST_VERSION, NODE_VERSION and the runtime base from the Dockerfile"
fi
RUST_BASE="docker.io/library/rust:${RUST_VERSION}-slim-bookworm"
NODE_BASE="docker.io/library/node:${NODE_VERSION}-bookworm-slim"
IMAGE_TAG="${IMAGE_TAG:-localhost/todo-app:check}"
WORK="${IMAGE_CHECK_WORK:-$ROOT/target/image-check}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PASSED=0
FAILED=0
FAILURES=()
PIDS=()
CONTAINERS=()

log() { printf '[image-check %s] %s\n' "$(date +%T)" "$*" >&2; }
pass() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); printf '  FAIL  %s\n' "$1"; }
check() { local what="$1"; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

cleanup() {
  local pid ctr
  for pid in "${PIDS[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  [ "${#PIDS[@]}" -eq 0 ] || sleep 1
  for ctr in "${CONTAINERS[@]}"; do bh rm "$ctr" >/dev/null 2>&1 || true; done
  if [ -n "${PG_STARTED:-}" ]; then
    PG_DIR="$WORK/pg" scripts/pg.sh stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# --- tools ------------------------------------------------------------------------------
need_debian_packages() {
  local missing=()
  command -v buildah >/dev/null 2>&1 || missing+=(buildah)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]} from Debian"
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
    tools_die "apt-get install ${missing[*]} failed"
}
[ "$(id -u)" -eq 0 ] || tools_die "buildah with chroot isolation needs root here"
need_debian_packages
BUILDAH_VERSION="$(buildah --version | awk '{ print $3 }')"
STORE="$TOOLS_CACHE/image-$BUILDAH_VERSION"
mkdir -p "$STORE" "$WORK"
tools_lock "$STORE/.lock"
# overlay where the kernel allows it (fast, shares layers); vfs (full copies) otherwise.
STORAGE_DRIVER="${STORAGE_DRIVER:-}"
if [ -z "$STORAGE_DRIVER" ]; then
  if [ -f "$STORE/driver" ]; then
    STORAGE_DRIVER="$(cat "$STORE/driver")"
  else
    STORAGE_DRIVER=overlay
    probe="$(buildah --root "$STORE/storage" --runroot "$STORE/run" --storage-driver overlay \
      from scratch 2>/dev/null)" || STORAGE_DRIVER=vfs
    [ -z "${probe:-}" ] || buildah --root "$STORE/storage" --runroot "$STORE/run" \
      --storage-driver overlay rm "$probe" >/dev/null
    echo "$STORAGE_DRIVER" > "$STORE/driver"
  fi
fi
bh() { buildah --root "$STORE/storage" --runroot "$STORE/run" --storage-driver "$STORAGE_DRIVER" "$@"; }
have_image() { bh inspect --type image "$1" >/dev/null 2>&1; }

# --- base images ------------------------------------------------------------------------
debian_rootfs() {
  local dir="$STORE/bookworm-rootfs"
  if [ ! -f "$dir/.complete" ]; then
    log "debootstrap bookworm (minbase) into $dir"
    rm -rf "$dir"
    debootstrap --variant=minbase bookworm "$dir" "$DEBIAN_MIRROR" > "$WORK/debootstrap.log" 2>&1 ||
      tools_die "debootstrap failed; see $WORK/debootstrap.log"
    rm -rf "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"*
    touch "$dir/.complete"
  fi
  printf '%s\n' "$dir"
}

# commit_from_rootfs <name> <dir>: an image of one layer holding <dir>.
commit_from_rootfs() {
  local ctr
  ctr="$(bh from scratch)"
  bh copy "$ctr" "$2/" / >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  bh commit --quiet "$ctr" "$1" >/dev/null
  bh rm "$ctr" >/dev/null
}

# The host's own added CAs (none on most machines), as Debian's update-ca-certificates and
# Node.js (NODE_EXTRA_CA_CERTS) read them.
LOCAL_CAS=(/usr/local/share/ca-certificates/*.crt)
[ -e "${LOCAL_CAS[0]}" ] || LOCAL_CAS=()

make_debian_base() {
  have_image localhost/bookworm-minbase && return 0
  local rootfs ca
  rootfs="$(debian_rootfs)"
  mkdir -p "$rootfs/usr/local/share/ca-certificates"
  for ca in "${LOCAL_CAS[@]}"; do cp "$ca" "$rootfs/usr/local/share/ca-certificates/"; done
  if [ "${#LOCAL_CAS[@]}" -gt 0 ]; then
    cat "${LOCAL_CAS[@]}" > "$rootfs/usr/local/share/ca-certificates/local-cas.pem"
  fi
  commit_from_rootfs localhost/bookworm-minbase "$rootfs"
}

make_rust_base() {
  have_image "$RUST_BASE" && return 0
  local toolchain="${RUST_TOOLCHAIN_DIR:-}" ctr name
  if [ -z "$toolchain" ]; then
    toolchain="$(rustup toolchain list -v 2>/dev/null | awk -v v="$RUST_VERSION" \
      'index($1, v) == 1 { print $NF; exit }')"
  fi
  [ -x "${toolchain:-/nonexistent}/bin/cargo" ] ||
    tools_die "no Rust $RUST_VERSION toolchain (rustup toolchain install $RUST_VERSION, or set RUST_TOOLCHAIN_DIR)"
  log "base $RUST_BASE: bookworm + gcc, libc6-dev, ca-certificates + $("$toolchain/bin/rustc" --version)"
  make_debian_base
  ctr="$(bh from localhost/bookworm-minbase)"
  CONTAINERS+=("$ctr")
  bh run --isolation chroot "$ctr" -- sh -c 'apt-get update >/dev/null &&
    apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev >/dev/null &&
    rm -rf /var/lib/apt/lists/*' || tools_die "apt-get in the Rust base failed"
  # The toolchain without its documentation, where the official image keeps it.
  bh run --isolation chroot "$ctr" -- mkdir -p /usr/local/rustup/toolchain /usr/local/cargo/bin
  for part in bin lib libexec etc; do
    [ -d "$toolchain/$part" ] && bh copy "$ctr" "$toolchain/$part" "/usr/local/rustup/toolchain/$part" >/dev/null
  done
  for name in cargo rustc rustdoc; do
    bh run --isolation chroot "$ctr" -- ln -s "/usr/local/rustup/toolchain/bin/$name" "/usr/local/cargo/bin/$name"
  done
  bh config --env RUSTUP_HOME=/usr/local/rustup --env CARGO_HOME=/usr/local/cargo \
    --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env RUST_VERSION="$RUST_VERSION" "$ctr"
  bh commit --quiet "$ctr" "$RUST_BASE" >/dev/null
}

make_node_base() {
  have_image "$NODE_BASE" && return 0
  local node="${NODE_BIN:-$(command -v node || true)}" ctr npm_dir
  [ -n "$node" ] || tools_die "no node on PATH (set NODE_BIN)"
  "$node" --version | grep -q "^v$NODE_VERSION\." ||
    tools_die "node $("$node" --version) is not Node.js $NODE_VERSION (set NODE_BIN)"
  npm_dir="$(dirname "$(readlink -f "$(dirname "$node")/npm" 2>/dev/null || readlink -f "$(command -v npm)")")/.."
  npm_dir="$(cd "$npm_dir" && pwd)"
  [ -f "$npm_dir/bin/npm-cli.js" ] || tools_die "cannot find npm beside $node"
  log "base $NODE_BASE: bookworm + $("$node" --version) and npm $(npm --version)"
  make_debian_base
  ctr="$(bh from localhost/bookworm-minbase)"
  CONTAINERS+=("$ctr")
  bh copy "$ctr" "$node" /usr/local/bin/node >/dev/null
  bh copy "$ctr" "$npm_dir" /usr/local/lib/node_modules/npm >/dev/null
  bh run --isolation chroot "$ctr" -- sh -c 'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm &&
    ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version >/dev/null'
  bh config --env NODE_VERSION="$("$node" --version | tr -d v)" --cmd node "$ctr"
  [ "${#LOCAL_CAS[@]}" -eq 0 ] ||
    bh config --env NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/local-cas.pem "$ctr"
  bh commit --quiet "$ctr" "$NODE_BASE" >/dev/null
}

make_runtime_base() {
  have_image "$RUNTIME_BASE" && return 0
  local dir="$WORK/distroless" debs="$WORK/distroless-debs" deb ctr
  log "base $RUNTIME_BASE: Debian's libc6, libgcc-s1, libstdc++6, libssl3, ca-certificates, tzdata, netbase; user 65532"
  rm -rf "$dir" "$debs"
  mkdir -p "$dir" "$debs"
  chmod 0777 "$debs" # apt's download user (_apt) writes there
  # Downloaded in the bookworm tree so that the versions are bookworm's, whatever the host.
  bh_debian_download "$debs" libc6 libgcc-s1 libstdc++6 gcc-12-base libssl3 ca-certificates tzdata netbase
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$dir"; done
  # What distroless adds: the merged-/usr links, users, a CA bundle, a writable /tmp.
  for d in bin lib lib64 sbin; do
    if [ -d "$dir/$d" ] && [ ! -L "$dir/$d" ]; then
      mkdir -p "$dir/usr/$d" && cp -a "$dir/$d/." "$dir/usr/$d/" && rm -rf "${dir:?}/$d"
    fi
    ln -sfn "usr/$d" "$dir/$d"
  done
  rm -rf "${dir:?}/usr/share/doc" "${dir:?}/usr/share/man" "${dir:?}/usr/share/lintian" \
    "${dir:?}/usr/sbin" "${dir:?}/usr/bin"
  mkdir -p "$dir/etc/ssl/certs" "$dir/home/nonroot" "$dir/tmp" "$dir/root"
  chmod 1777 "$dir/tmp"
  chown 65532:65532 "$dir/home/nonroot"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > "$dir/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' > "$dir/etc/group"
  find "$dir/usr/share/ca-certificates" -name '*.crt' -exec cat {} + > "$dir/etc/ssl/certs/ca-certificates.crt"
  ctr="$(bh from scratch)"
  CONTAINERS+=("$ctr")
  bh copy "$ctr" "$dir/" / >/dev/null
  bh config --user 65532:65532 --workingdir /home/nonroot \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$ctr"
  bh commit --quiet "$ctr" "$RUNTIME_BASE" >/dev/null
}

# bh_debian_download <dir> <package>...: the .debs of bookworm, fetched by apt in the base.
bh_debian_download() {
  local dir="$1" ctr; shift
  make_debian_base
  ctr="$(bh from localhost/bookworm-minbase)"
  CONTAINERS+=("$ctr")
  bh run --isolation chroot --volume "$dir:/debs" "$ctr" -- sh -c \
    "apt-get update >/dev/null && cd /debs && apt-get download $* >/dev/null" ||
    tools_die "apt-get download $* failed"
}

T0=$SECONDS
log "storage: $STORE ($STORAGE_DRIVER)"
make_rust_base
make_node_base
make_runtime_base
log "bases ready in $((SECONDS - T0)) s"

# --- the build --------------------------------------------------------------------------
T1=$SECONDS
log "buildah bud -f Dockerfile -t $IMAGE_TAG (log: $WORK/build.log)"
if bh bud --isolation chroot --layers --format docker --pull=never -f Dockerfile \
     -t "$IMAGE_TAG" . > "$WORK/build.log" 2>&1; then
  pass "the Dockerfile builds ($((SECONDS - T1)) s)"
else
  tail -n 40 "$WORK/build.log" >&2
  fail "the Dockerfile builds"
  printf 'image-check: %d passed, %d failed\n' "$PASSED" "$FAILED"
  exit 1
fi

# --- what the image is ------------------------------------------------------------------
bh inspect --type image "$IMAGE_TAG" > "$WORK/inspect.json"
json_field() {
  python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["OCIv1"]["config"].get(sys.argv[2])))' \
    "$WORK/inspect.json" "$1"
}
check "runs as user 65532:65532" test "$(json_field User)" = '"65532:65532"'
check "default command is todo-local serve" test "$(json_field Cmd)" = '["/usr/local/bin/todo-local", "serve"]'
size="$(bh images --format '{{.Size}}' "$IMAGE_TAG" | head -n1)"
log "image size: $size"

ctr="$(bh from --pull=never "$IMAGE_TAG")"
CONTAINERS+=("$ctr")
MNT="$(bh mount "$ctr")"
check "no shell in the image" test ! -e "$MNT/bin/sh" -a ! -e "$MNT/bin/bash" -a ! -e "$MNT/usr/bin/dash"
check "no package manager in the image" test ! -e "$MNT/usr/bin/apt-get" -a ! -e "$MNT/usr/bin/dpkg"
expected="$(python3 - <<'PY'
import tomllib, pathlib
for m in sorted(pathlib.Path("functions").glob("*/Cargo.toml")):
    d = tomllib.loads(m.read_text())
    for b in d.get("bin") or [{"name": d["package"]["name"]}]:
        print(b["name"])
PY
)"
shipped="$(find "$MNT/usr/local/bin" -maxdepth 1 -type f -perm -u+x -printf '%f\n' | sort)"
check "one binary per function package ($(printf '%s\n' "$expected" | wc -l))" \
  test "$(printf '%s\n' "$expected" | sort)" = "$shipped"
check "the web app is in WEB_DIR" test -f "$MNT/usr/share/todo/web/index.html"
check "the OpenAPI document is beside it" python3 -c \
  'import json,sys; d=json.load(open(sys.argv[1])); assert d["openapi"].startswith("3.1") and d["paths"]' \
  "$MNT/usr/share/todo/web/docs/openapi.json"

# --- every binary starts in the image ---------------------------------------------------
log "a throwaway PostgreSQL for the binaries"
pg_out="$(PG_DIR="$WORK/pg" scripts/pg.sh start 2>&1)" || { printf '%s\n' "$pg_out" >&2; tools_die "scripts/pg.sh start failed"; }
PG_STARTED=1
DATABASE_URL="$(printf '%s\n' "$pg_out" | sed -n 's/.*DATABASE_URL=//p' | tail -n1)"
[ -n "$DATABASE_URL" ] || tools_die "scripts/pg.sh printed no DATABASE_URL"
JWT_SECRET="image-check-$RANDOM$RANDOM"
APP_API_TOKEN="image-check-$RANDOM$RANDOM"

# in_image_cmd <name> <args...>: IN_IMAGE_CMD becomes the command that runs a binary of the
# image in its root filesystem, as the image's own user, with the host's network (the
# database is on loopback) and only these variables (plus the image's and IN_IMAGE_ENV).
in_image_cmd() {
  local bin="$1"; shift
  IN_IMAGE_CMD=(buildah --root "$STORE/storage" --runroot "$STORE/run" --storage-driver "$STORAGE_DRIVER"
    run --isolation chroot --network host
    --env DATABASE_URL="$DATABASE_URL" --env JWT_SECRET="$JWT_SECRET"
    --env APP_API_TOKEN="$APP_API_TOKEN" --env LOG_LEVEL=warn "${IN_IMAGE_ENV[@]}"
    "$ctr" -- "/usr/local/bin/$bin" "$@")
}
in_image() { in_image_cmd "$@"; "${IN_IMAGE_CMD[@]}"; }
IN_IMAGE_ENV=()
bh umount "$ctr" >/dev/null
check "todo-local migrate (the hook Job's command) migrates the database" in_image todo-local migrate

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
  local port="$1" pid="$2"
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# The user id of the process listening on a loopback port.
listener_uid() {
  local pid
  pid="$(ss -Hltnp "sport = :$1" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1)"
  [ -n "$pid" ] && awk '/^Uid:/ { print $2 }' "/proc/$pid/status"
}
declare -A PORT_OF=()
for bin in $expected; do
  [ "$bin" = todo-local ] && continue
  port="$(free_port)"
  IN_IMAGE_ENV=(--env APP_PORT="$port" --env DAPR_HTTP_PORT="$(free_port)")
  in_image_cmd "$bin"
  # A session (and process group) of its own, so that cleanup ends buildah and the binary.
  setsid "${IN_IMAGE_CMD[@]}" > "$WORK/$bin.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if wait_ready "$port" "$pid"; then
    pass "$bin starts in the image and answers /readyz"
    PORT_OF[$bin]=$port
  else
    fail "$bin starts in the image and answers /readyz (log: $WORK/$bin.log)"
  fi
done
IN_IMAGE_ENV=()

if [ -n "${PORT_OF[create-task]:-}" ]; then
  check "the binaries run as the image's user, 65532" test "$(listener_uid "${PORT_OF[create-task]}")" = 65532
fi
if [ -n "${PORT_OF[web]:-}" ]; then
  check "web serves the app from the image's WEB_DIR" sh -c \
    "curl -fsS http://127.0.0.1:${PORT_OF[web]}/ | grep -qi '<!doctype html'"
fi

# A real request through two of them: create a task, read it back.
if [ -n "${PORT_OF[create-task]:-}" ] && [ -n "${PORT_OF[get-task]:-}" ]; then
  token="$(in_image todo-local token image-check 2>/dev/null | tail -n1)"
  created="$(curl -fsS -X POST "http://127.0.0.1:${PORT_OF[create-task]}/api/image-check/tasks" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"title":"built without a daemon","priority":"P2","tags":["image"]}' 2>&1)" || created=""
  id="$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null || true)"
  check "create-task in the image creates a task" test -n "$id"
  got="$(curl -fsS "http://127.0.0.1:${PORT_OF[get-task]}/api/image-check/tasks/$id" \
    -H "Authorization: Bearer $token" 2>/dev/null || true)"
  check "get-task in the image reads it back" python3 -c \
    'import json,sys; t=json.loads(sys.argv[1]); assert t["title"]=="built without a daemon" and t["tags"]==["image"]' "$got"
fi

log "done in $((SECONDS - T0)) s (image $IMAGE_TAG, $size)"
printf 'image-check: %d passed, %d failed\n' "$PASSED" "$FAILED"
for f in "${FAILURES[@]}"; do printf '  failed: %s\n' "$f"; done
[ "$FAILED" -eq 0 ]
