#!/usr/bin/env bash
# Build helm v3 from the Go module proxy and cache it outside the repository, keyed by version:
#
#   ${TODO_CACHE:-$HOME/.cache/todo}/helm-<version>/bin/helm
#
# Prints that bin directory as the last line on stdout (all logging goes to stderr), so:
#
#   PATH="$(scripts/install-helm.sh):$PATH"
#
# A second run is instant. The first build takes a few minutes on 2 cores.
#
# Environment:
#   HELM_VERSION  helm v3 release tag (default below; must be on the module proxy)
#   TODO_CACHE    cache root (default: $HOME/.cache/todo)
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
HELM_MODULE=helm.sh/helm/v3

TOOLS_NAME=install-helm
# shellcheck source-path=SCRIPTDIR source=lib/tools.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/tools.sh"

[[ "$HELM_VERSION" == v* ]] || HELM_VERSION="v$HELM_VERSION"
[[ "$HELM_VERSION" == v3.* ]] || tools_die "HELM_VERSION must be a helm v3 tag, got $HELM_VERSION"
dest="$TOOLS_CACHE/helm-$HELM_VERSION"
bindir="$dest/bin"

if [[ -x "$bindir/helm" ]]; then
  printf '%s\n' "$bindir"
  exit 0
fi

tools_require_go
tools_lock "$dest.lock"
if [[ -x "$bindir/helm" ]]; then # built by a concurrent run while we waited for the lock
  printf '%s\n' "$bindir"
  exit 0
fi

mkdir -p "$bindir"
work="$(mktemp -d "$dest/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

tools_log "building helm $HELM_VERSION into $bindir"
tools_mod_download "$HELM_MODULE@$HELM_VERSION"
gomod="$(tools_mod_field GoMod)"
commit="$(tools_mod_field Hash)"

# Same stamping as helm's Makefile. The Kubernetes version matters: without it helm assumes
# v1.20 for .Capabilities.KubeVersion in `helm template` / `helm lint`. Helm derives it from
# the client-go it is built with: k8s.io/client-go v0.X.Y -> Kubernetes 1.X.
ldflags="-s -w -X $HELM_MODULE/internal/version.version=$HELM_VERSION"
ldflags+=" -X $HELM_MODULE/internal/version.metadata="
ldflags+=" -X $HELM_MODULE/internal/version.gitTreeState=clean"
[[ -z "$commit" ]] || ldflags+=" -X $HELM_MODULE/internal/version.gitCommit=$commit"
clientgo="$(tools_require_version "$gomod" k8s.io/client-go)"
if [[ "$clientgo" =~ ^v0\.([0-9]+)\. ]]; then
  k8s_minor="${BASH_REMATCH[1]}"
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X $HELM_MODULE/$pkg.k8sVersionMajor=1 -X $HELM_MODULE/$pkg.k8sVersionMinor=$k8s_minor"
  done
else
  tools_log "warning: no k8s.io/client-go v0.X requirement in helm's go.mod; default KubeVersion stays v1.20"
fi

start=$SECONDS
if [[ -n "$(tools_replace_lines "$gomod")" ]]; then
  # `go install pkg@version` rejects modules whose go.mod has replace directives.
  tools_wrapper_module "$work/src" "$HELM_MODULE" "$HELM_VERSION"
  (cd "$work/src" && go build -trimpath -ldflags "$ldflags" -o "$work/helm" "$HELM_MODULE/cmd/helm") ||
    tools_die "building helm failed"
else
  # go install pkg@version ignores the current directory's module; -mod must not be set.
  (cd "$work" && GOFLAGS="${GOFLAGS//-mod=mod/}" GOBIN="$work" \
    go install -trimpath -ldflags "$ldflags" "$HELM_MODULE/cmd/helm@$HELM_VERSION") ||
    tools_die "go install helm failed"
fi
mv -f "$work/helm" "$bindir/helm" # same filesystem: atomic rename
tools_log "built helm in $((SECONDS - start))s: $("$bindir/helm" version --short 2>/dev/null || true)"
printf '%s\n' "$bindir"
