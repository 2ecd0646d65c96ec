#!/usr/bin/env bash
# Build the Dapr sidecar (daprd) and the Dapr scheduler (needed by the Jobs API) from the Go
# module proxy and cache them outside the repository, keyed by version:
#
#   ${TODO_CACHE:-$HOME/.cache/todo}/dapr-<version>/bin/{daprd,scheduler}
#
# Prints that bin directory as the last line on stdout (all logging goes to stderr), so:
#
#   PATH="$(scripts/install-daprd.sh):$PATH"
#
# A second run is instant. The first build takes ~10 minutes on 2 cores.
#
# Environment:
#   DAPR_VERSION     dapr release tag to build (default below). Every module both commands
#                    import must be on the module proxy: v1.16.0 is the newest 1.16 whose
#                    full dependency set is (v1.16.2 lacks components-contrib v1.16.3,
#                    v1.16.5 lacks go-etcd-cron v0.9.2 for the scheduler). A preflight
#                    checks this in seconds before the long build.
#   DAPR_BUILD_TAGS  component set compiled into daprd (default: stablecomponents, which has
#                    Kafka, PostgreSQL, Redis, in-memory, cron, local/k8s secrets, ...;
#                    "allcomponents" is the full upstream flavour)
#   TODO_CACHE       cache root (default: $HOME/.cache/todo)
#
# Why not `go install github.com/dapr/dapr/cmd/daprd@vX`: dapr's go.mod has replace
# directives, which `go install pkg@version` rejects. So we build from a throwaway wrapper
# module that requires dapr at the tag and copies dapr's replace directives.
set -euo pipefail

DAPR_VERSION="${DAPR_VERSION:-v1.16.0}"
DAPR_BUILD_TAGS="${DAPR_BUILD_TAGS:-stablecomponents}"
DAPR_MODULE=github.com/dapr/dapr

TOOLS_NAME=install-daprd
# shellcheck source-path=SCRIPTDIR source=lib/tools.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/tools.sh"

[[ "$DAPR_VERSION" == v* ]] || DAPR_VERSION="v$DAPR_VERSION"
dest="$TOOLS_CACHE/dapr-$DAPR_VERSION"
bindir="$dest/bin"
bins=(daprd scheduler)

have_all() {
  local b
  for b in "${bins[@]}"; do [[ -x "$bindir/$b" ]] || return 1; done
}

if have_all; then
  printf '%s\n' "$bindir"
  exit 0
fi

tools_require_go
tools_lock "$dest.lock"
if have_all; then # built by a concurrent run while we waited for the lock
  printf '%s\n' "$bindir"
  exit 0
fi

mkdir -p "$bindir"
work="$(mktemp -d "$dest/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

tools_log "building dapr $DAPR_VERSION (tags: $DAPR_BUILD_TAGS) into $bindir"
tools_wrapper_module "$work/src" "$DAPR_MODULE" "$DAPR_VERSION"
commit="$(tools_mod_field Hash)" # from the module's VCS origin, when the proxy reports it

# Same version stamping as dapr's Makefile, so `daprd --version` prints the release.
ldflags="-s -w"
ldflags+=" -X $DAPR_MODULE/pkg/buildinfo.version=${DAPR_VERSION#v}"
ldflags+=" -X $DAPR_MODULE/pkg/buildinfo.gitversion=$DAPR_VERSION"
ldflags+=" -X github.com/dapr/kit/logger.DaprVersion=${DAPR_VERSION#v}"
[[ -z "$commit" ]] || ldflags+=" -X $DAPR_MODULE/pkg/buildinfo.gitcommit=$commit"

# Preflight: resolve and download every package both commands need (seconds), so a module
# the proxy does not serve fails now rather than after a 10-minute daprd build.
pkgs=()
for b in "${bins[@]}"; do pkgs+=("$DAPR_MODULE/cmd/$b"); done
tools_log "resolving dependencies of ${pkgs[*]}"
if ! (cd "$work/src" && go list -deps -tags "$DAPR_BUILD_TAGS" "${pkgs[@]}" >/dev/null); then
  tools_die "cannot fetch every dependency of dapr $DAPR_VERSION from the module proxy ($(go env GOPROXY)); try another DAPR_VERSION"
fi

for b in "${bins[@]}"; do
  [[ -x "$bindir/$b" ]] && { tools_log "$b already built"; continue; }
  tools_log "go build $DAPR_MODULE/cmd/$b ..."
  start=$SECONDS
  (cd "$work/src" && go build -trimpath -tags "$DAPR_BUILD_TAGS" -ldflags "$ldflags" \
    -o "$work/$b" "$DAPR_MODULE/cmd/$b") || tools_die "building $b failed"
  mv -f "$work/$b" "$bindir/$b" # same filesystem: atomic rename
  tools_log "built $b in $((SECONDS - start))s"
done

have_all || tools_die "binaries missing from $bindir after the build"
tools_log "done: $("$bindir/daprd" --version 2>/dev/null || echo "daprd $DAPR_VERSION")"
printf '%s\n' "$bindir"
