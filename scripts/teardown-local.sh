#!/usr/bin/env bash
# Removes what scripts/deploy-local.sh created on Minikube:
#
#   scripts/teardown-local.sh                   # the release, its namespace (PostgreSQL and
#                                               # its data, the Secrets), Kafka and its topics,
#                                               # Strimzi, Envoy Gateway, KEDA and Dapr
#   scripts/teardown-local.sh --keep-platform   # only the release and its namespace
#   scripts/teardown-local.sh --delete-cluster  # the whole Minikube profile
#
# Safe to re-run: what is already gone is skipped. Environment as deploy-local.sh:
# MINIKUBE_PROFILE (todo), NAMESPACE (todo), RELEASE (todo-app).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE="${MINIKUBE_PROFILE:-todo}"
NAMESPACE="${NAMESPACE:-todo}"
RELEASE="${RELEASE:-todo-app}"
keep_platform=false
delete_cluster=false
for arg in "$@"; do
  case "$arg" in
    --keep-platform) keep_platform=true ;;
    --delete-cluster) delete_cluster=true ;;
    -h | --help)
      sed -n '2,12p' "$0"
      exit 0
      ;;
    *)
      printf 'teardown-local: unknown argument %s (see --help)\n' "$arg" >&2
      exit 2
      ;;
  esac
done

say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
die() {
  printf 'teardown-local: error: %s\n' "$*" >&2
  exit 1
}
for cmd in minikube kubectl helm; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd is not installed"
done

if $delete_cluster; then
  say "deleting the Minikube profile $PROFILE (every object and image in it)"
  minikube delete -p "$PROFILE"
  exit 0
fi

minikube status -p "$PROFILE" --format '{{.APIServer}}' 2>/dev/null | grep -q Running ||
  die "Minikube profile $PROFILE is not running (nothing to remove; --delete-cluster deletes it)"
k() { kubectl --context "$PROFILE" "$@"; }
h() { helm --kube-context "$PROFILE" "$@"; }
uninstall() { # uninstall RELEASE NAMESPACE
  if h status "$1" --namespace "$2" >/dev/null 2>&1; then
    h uninstall "$1" --namespace "$2" --wait --timeout 5m
  else
    printf '    %s: not installed\n' "$1" >&2
  fi
}
delete_namespace() {
  k delete namespace "$1" --ignore-not-found --wait=true --timeout=5m >/dev/null ||
    die "namespace $1 is not going away (kubectl get all -n $1)"
}

say "release $RELEASE and namespace $NAMESPACE (PostgreSQL, its volume, the Secrets)"
uninstall "$RELEASE" "$NAMESPACE"
delete_namespace "$NAMESPACE"

if $keep_platform; then
  say "keeping Dapr, KEDA, Strimzi/Kafka and Envoy Gateway (--keep-platform)"
  exit 0
fi

say "Kafka cluster and topics, then the Strimzi operator"
# The operator must still run to let go of its resources' finalizers.
k -n kafka delete -f deploy/local/kafka.yaml --ignore-not-found --wait=true --timeout=5m >/dev/null || true
uninstall strimzi kafka
delete_namespace kafka
say "Envoy Gateway and GatewayClass eg"
k delete -f deploy/local/gateway-class.yaml --ignore-not-found --timeout=2m >/dev/null || true
uninstall eg envoy-gateway-system
delete_namespace envoy-gateway-system
say "KEDA"
uninstall keda keda
delete_namespace keda
say "Dapr"
uninstall dapr dapr-system
delete_namespace dapr-system
say "done (CRDs the charts installed are left in place; --delete-cluster removes everything)"
