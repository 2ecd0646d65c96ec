#!/usr/bin/env bash
# Build a small Kubernetes control plane from the Go module proxy and cache it outside the
# repository, keyed by version, for scripts/k8s-check.sh:
#
#   ${TODO_CACHE:-$HOME/.cache/todo}/k8s-<version>/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}
#   ${TODO_CACHE:-$HOME/.cache/todo}/etcd-<version>/bin/etcd
#   ${TODO_CACHE:-$HOME/.cache/todo}/kwok-<version>/bin/kwok      (simulated nodes and pods)
#
# Prints those bin directories, joined by ':', as the last line on stdout (logging goes to
# stderr), so:
#
#   PATH="$(scripts/install-k8s.sh | tail -n1):$PATH"
#
# A second run is instant. The first takes ~15-20 minutes on 2 cores (kube-apiserver and
# friends share most of their packages and are built by one `go build`).
#
# How: k8s.io/kubernetes replaces every k8s.io/* staging module by ./staging/src/k8s.io/*,
# which neither `go install pkg@version` nor a plain requirement can follow. A throwaway
# wrapper module (scripts/lib/tools.sh) requires k8s.io/kubernetes at the tag and replaces
# each staging module by its published twin: k8s.io/api v0.34.12 for Kubernetes v1.34.12.
# etcd's server module has local-path replaces too; its wrapper simply requires the
# published go.etcd.io/etcd/* modules of the same release.
#
# Environment:
#   K8S_VERSION   Kubernetes release tag (default below)
#   ETCD_VERSION  etcd release tag (default below)
#   KWOK_VERSION  kwok release tag (default below)
#   TODO_CACHE    cache root (default: $HOME/.cache/todo)
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.12}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.5}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"

TOOLS_NAME=install-k8s
# shellcheck source-path=SCRIPTDIR source=lib/tools.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/tools.sh"

for v in K8S_VERSION ETCD_VERSION KWOK_VERSION; do
  [[ "${!v}" == v* ]] || printf -v "$v" 'v%s' "${!v}"
done
[[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] ||
  tools_die "K8S_VERSION must be a v1.X.Y release tag, got $K8S_VERSION"
k8s_minor="${BASH_REMATCH[1]}"
staging_version="v0.${K8S_VERSION#v1.}" # v1.34.12 -> v0.34.12

k8s_bin="$TOOLS_CACHE/k8s-$K8S_VERSION/bin"
etcd_bin="$TOOLS_CACHE/etcd-$ETCD_VERSION/bin"
kwok_bin="$TOOLS_CACHE/kwok-$KWOK_VERSION/bin"
k8s_cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

missing_k8s() {
  local c
  for c in "${k8s_cmds[@]}"; do [[ -x "$k8s_bin/$c" ]] || printf '%s\n' "$c"; done
}
have_all() {
  [[ -z "$(missing_k8s)" && -x "$etcd_bin/etcd" && -x "$kwok_bin/kwok" ]]
}
print_path() { printf '%s:%s:%s\n' "$k8s_bin" "$etcd_bin" "$kwok_bin"; }

if have_all; then
  print_path
  exit 0
fi

tools_require_go
tools_lock "$TOOLS_CACHE/k8s-$K8S_VERSION.lock"
if have_all; then # built by a concurrent run while we waited for the lock
  print_path
  exit 0
fi

work="$(mktemp -d "$TOOLS_CACHE/.k8s-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

build_kubernetes() {
  local -a want pkgs
  mapfile -t want < <(missing_k8s)
  ((${#want[@]})) || return 0
  tools_log "building ${want[*]} $K8S_VERSION into $k8s_bin"
  tools_wrapper_module "$work/k8s" k8s.io/kubernetes "$K8S_VERSION"
  local gomod line mod n=0
  gomod="$(tools_mod_field GoMod)"
  # The staging replaces (k8s.io/api => ./staging/src/k8s.io/api) that the helper skipped.
  while IFS= read -r line; do
    [[ "$line" =~ ^([^[:space:]]+)[[:space:]]*=\>[[:space:]]*\./staging/ ]] || continue
    mod="${BASH_REMATCH[1]}"
    (cd "$work/k8s" && go mod edit -replace="$mod=$mod@$staging_version") ||
      tools_die "could not replace $mod by $mod@$staging_version"
    n=$((n + 1))
  done < <(tools_replace_lines "$gomod")
  ((n > 0)) || tools_die "no ./staging replace directives in k8s.io/kubernetes@$K8S_VERSION's go.mod"
  tools_log "replaced $n staging module(s) by their $staging_version twins"
  # Upstream's godebug defaults (e.g. "godebug default=go1.24") apply to the binaries too.
  while IFS= read -r line; do
    (cd "$work/k8s" && go mod edit -godebug="$line") || tools_die "bad godebug line: $line"
  done < <(awk '$1 == "godebug" && $2 != "(" { print $2 }' "$gomod")

  # Same version stamping as Kubernetes' hack/lib/version.sh: kubectl version and the
  # API server's /version report the release (helm reads it for .Capabilities.KubeVersion).
  local ld="-s -w" p c
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${want[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  mkdir -p "$work/out" "$k8s_bin"
  local start=$SECONDS
  (cd "$work/k8s" && go build -trimpath -ldflags "$ld" -o "$work/out/" "${pkgs[@]}") ||
    tools_die "building ${want[*]} failed"
  for c in "${want[@]}"; do mv -f "$work/out/$c" "$k8s_bin/$c"; done
  tools_log "built ${want[*]} in $((SECONDS - start))s"
}

build_etcd() {
  [[ -x "$etcd_bin/etcd" ]] && return 0
  tools_log "building etcd $ETCD_VERSION into $etcd_bin"
  tools_wrapper_module "$work/etcd" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  local ld="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}" start=$SECONDS
  mkdir -p "$etcd_bin"
  (cd "$work/etcd" && go build -trimpath -ldflags "$ld" -o "$work/etcd/etcd" go.etcd.io/etcd/server/v3) ||
    tools_die "building etcd failed"
  mv -f "$work/etcd/etcd" "$etcd_bin/etcd"
  tools_log "built etcd in $((SECONDS - start))s"
}

build_kwok() {
  [[ -x "$kwok_bin/kwok" ]] && return 0
  tools_log "building kwok $KWOK_VERSION into $kwok_bin"
  local mod=sigs.k8s.io/kwok start=$SECONDS
  local ld="-s -w -X $mod/pkg/consts.Version=$KWOK_VERSION"
  mkdir -p "$kwok_bin"
  tools_wrapper_module "$work/kwok" "$mod" "$KWOK_VERSION"
  (cd "$work/kwok" && go build -trimpath -ldflags "$ld" -o "$work/kwok/kwok" "$mod/cmd/kwok") ||
    tools_die "building kwok failed"
  mv -f "$work/kwok/kwok" "$kwok_bin/kwok"
  tools_log "built kwok in $((SECONDS - start))s"
}

build_etcd
build_kwok
build_kubernetes

have_all || tools_die "binaries missing after the build"
tools_log "done: $("$k8s_bin/kube-apiserver" --version 2>/dev/null), etcd $ETCD_VERSION, kwok $KWOK_VERSION"
print_path
