#!/usr/bin/env bash
# Brings the whole system up on Minikube, as in production, in one command:
#
#   scripts/deploy-local.sh            # then: scripts/teardown-local.sh [--delete-cluster]
#
# Stages (each announced; re-running is safe and quick: every step is an upgrade or apply):
#   1. preflight: minikube, kubectl, helm (built by scripts/install-helm.sh when missing and
#      Go is there), python3, curl, git, enough free memory
#   2. the Minikube cluster (profile $MINIKUBE_PROFILE): started, or reused when running
#   3. Dapr (its Helm chart, pinned), KEDA, Strimzi with a single-node KRaft Kafka and the
#      topics of deploy/local/kafka.yaml, Envoy Gateway (Gateway API) with the GatewayClass
#      of deploy/local/gateway-class.yaml — versions in scripts/lib/k8s-versions.sh
#   4. namespace $NAMESPACE: PostgreSQL (deploy/local/postgres.yaml) and the Secrets the
#      chart reads (random passwords and JWT secret, generated once and kept)
#   5. the image, built inside Minikube from the Dockerfile (tag: the commit)
#   6. helm upgrade --install --atomic --wait with charts/todo-app/values-local.yaml
#   7. a smoke test through the gateway: create a weekly task, complete it, see the next
#      occurrence (due 7 days later) appear
#
# Environment: MINIKUBE_PROFILE (todo), MINIKUBE_CPUS (4), MINIKUBE_MEMORY (MiB, 8192),
# MINIKUBE_DRIVER and MINIKUBE_KUBERNETES_VERSION (minikube's defaults; the chart needs
# Kubernetes >= 1.28), NAMESPACE (todo), RELEASE (todo-app),
# SKIP_SMOKE=1, and the versions of scripts/lib/k8s-versions.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source-path=SCRIPTDIR source=lib/k8s-versions.sh
source "$ROOT/scripts/lib/k8s-versions.sh"

PROFILE="${MINIKUBE_PROFILE:-todo}"
CPUS="${MINIKUBE_CPUS:-4}"
MEMORY="${MINIKUBE_MEMORY:-8192}"
NAMESPACE="${NAMESPACE:-todo}"
RELEASE="${RELEASE:-todo-app}"
CHART="$ROOT/charts/todo-app"
WAIT="${WAIT_TIMEOUT:-15m}"

STAGE="start"
say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() {
  printf '\ndeploy-local: error during "%s": %s\n' "$STAGE" "$*" >&2
  exit 1
}
stage() {
  STAGE="$1"
  say "$1"
}
PF_PID=""
on_exit() {
  local rc=$?
  [[ -z "$PF_PID" ]] || kill "$PF_PID" 2>/dev/null || true
  if [[ $rc != 0 ]]; then
    printf '\ndeploy-local: failed during "%s" (exit %s); re-run when fixed: finished stages are kept.\n' \
      "$STAGE" "$rc" >&2
  fi
}
trap on_exit EXIT

k() { kubectl --context "$PROFILE" "$@"; }
h() { helm --kube-context "$PROFILE" "$@"; }

# --- 1. preflight --------------------------------------------------------------------------
stage "1/7 preflight"
for cmd in minikube kubectl python3 curl git; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd is not installed"
done
if ! command -v helm >/dev/null 2>&1; then
  command -v go >/dev/null 2>&1 || die "helm is not installed (nor Go to build it with scripts/install-helm.sh)"
  info "helm not found: building it (scripts/install-helm.sh)"
  PATH="$("$ROOT/scripts/install-helm.sh" | tail -n1):$PATH"
fi
info "$(minikube version --short 2>/dev/null || minikube version | head -n1), helm $(helm version --short)"
running=false
if minikube status -p "$PROFILE" --format '{{.APIServer}}' 2>/dev/null | grep -q Running; then
  running=true
else
  avail_mib=$(($(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo 2>/dev/null || echo 0) / 1024))
  if ((avail_mib > 0 && avail_mib < MEMORY + 1024)); then
    die "Minikube needs ${MEMORY} MiB plus ~1 GiB for the host, only ${avail_mib} MiB is available (lower MINIKUBE_MEMORY, at least 6144)"
  fi
fi

# --- 2. cluster ----------------------------------------------------------------------------
stage "2/7 Minikube cluster '$PROFILE'"
if $running; then
  info "reusing the running cluster"
else
  args=(start -p "$PROFILE" --cpus "$CPUS" --memory "$MEMORY" --addons metrics-server --wait all)
  [[ -z "${MINIKUBE_KUBERNETES_VERSION:-}" ]] || args+=(--kubernetes-version "$MINIKUBE_KUBERNETES_VERSION")
  [[ -z "${MINIKUBE_DRIVER:-}" ]] || args+=(--driver "$MINIKUBE_DRIVER")
  minikube "${args[@]}" || die "minikube start failed"
fi
k get --raw /readyz >/dev/null || die "the cluster's API server is not ready"
minikube -p "$PROFILE" addons enable metrics-server >/dev/null 2>&1 ||
  info "metrics-server could not be enabled: HPAs will not scale"

# --- 3. platform ---------------------------------------------------------------------------
stage "3/7 Dapr ${DAPR_VERSION}, KEDA ${KEDA_VERSION}, Strimzi ${STRIMZI_VERSION}, Envoy Gateway ${ENVOY_GATEWAY_VERSION}"
info "Dapr (control plane in dapr-system)"
h upgrade --install dapr dapr --repo https://dapr.github.io/helm-charts --version "${DAPR_VERSION#v}" \
  --namespace dapr-system --create-namespace --wait --timeout "$WAIT" >/dev/null ||
  die "installing Dapr failed (kubectl -n dapr-system get pods)"
info "KEDA (namespace keda)"
h upgrade --install keda keda --repo https://kedacore.github.io/charts --version "${KEDA_VERSION#v}" \
  --namespace keda --create-namespace --wait --timeout "$WAIT" >/dev/null ||
  die "installing KEDA failed (kubectl -n keda get pods)"
info "Strimzi operator (namespace kafka)"
h upgrade --install strimzi oci://quay.io/strimzi-helm/strimzi-kafka-operator --version "$STRIMZI_VERSION" \
  --namespace kafka --create-namespace --wait --timeout "$WAIT" >/dev/null ||
  die "installing the Strimzi operator failed (kubectl -n kafka get pods)"
info "Kafka cluster todo-kafka and its topics (deploy/local/kafka.yaml)"
k -n kafka apply --server-side -f deploy/local/kafka.yaml >/dev/null || die "applying deploy/local/kafka.yaml failed"
k -n kafka wait kafka/todo-kafka --for=condition=Ready --timeout="$WAIT" >/dev/null ||
  die "Kafka did not become Ready (kubectl -n kafka get kafka,pods; kubectl -n kafka describe kafka todo-kafka)"
k -n kafka wait kafkatopic --all --for=condition=Ready --timeout=5m >/dev/null ||
  die "the KafkaTopics did not become Ready (kubectl -n kafka get kafkatopics)"
info "Envoy Gateway (namespace envoy-gateway-system) and GatewayClass eg"
h upgrade --install eg oci://docker.io/envoyproxy/gateway-helm --version "$ENVOY_GATEWAY_VERSION" \
  --namespace envoy-gateway-system --create-namespace --wait --timeout "$WAIT" >/dev/null ||
  die "installing Envoy Gateway failed (kubectl -n envoy-gateway-system get pods)"
k apply --server-side -f deploy/local/gateway-class.yaml >/dev/null || die "applying the GatewayClass failed"
k wait gatewayclass/eg --for=condition=Accepted --timeout=5m >/dev/null ||
  die "GatewayClass eg was not accepted by Envoy Gateway"

# --- 4. database and secrets ---------------------------------------------------------------
stage "4/7 namespace $NAMESPACE: PostgreSQL and Secrets"
k create namespace "$NAMESPACE" --dry-run=client -o yaml | k apply -f - >/dev/null
# The functions meet the restricted Pod Security Standard; warn about anything that does not.
k label namespace "$NAMESPACE" --overwrite pod-security.kubernetes.io/enforce=baseline \
  pod-security.kubernetes.io/warn=restricted pod-security.kubernetes.io/audit=restricted >/dev/null
random() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
secret_value() { # secret_value NAME KEY: a Secret's value, empty when absent
  k -n "$NAMESPACE" get secret "$1" -o "jsonpath={.data.$2}" 2>/dev/null | base64 -d 2>/dev/null || true
}
pg_password="$(secret_value todo-postgres password)"
if [[ -z "$pg_password" ]]; then
  pg_password="$(random)"
  k -n "$NAMESPACE" create secret generic todo-postgres --from-literal=password="$pg_password" >/dev/null
fi
k -n "$NAMESPACE" apply --server-side -f deploy/local/postgres.yaml >/dev/null || die "applying deploy/local/postgres.yaml failed"
k -n "$NAMESPACE" rollout status statefulset/todo-postgres --timeout=5m >/dev/null ||
  die "PostgreSQL did not start (kubectl -n $NAMESPACE logs statefulset/todo-postgres)"
jwt_secret="$(secret_value todo-app-credentials jwt-secret)"
[[ -n "$jwt_secret" ]] || jwt_secret="$(random)"
k -n "$NAMESPACE" create secret generic todo-app-credentials \
  --from-literal=database-url="postgres://todo:${pg_password}@todo-postgres.${NAMESPACE}.svc:5432/todo?sslmode=disable" \
  --from-literal=jwt-secret="$jwt_secret" --dry-run=client -o yaml | k apply -f - >/dev/null
info "Secrets todo-postgres and todo-app-credentials are in place (values never printed)"

# --- 5. image ------------------------------------------------------------------------------
stage "5/7 image, built inside Minikube"
tag="local-$(git rev-parse --short=12 HEAD 2>/dev/null || echo dev)"
[[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] || tag+="-dirty-$(date +%s)"
if minikube -p "$PROFILE" image ls 2>/dev/null | grep -q "todo-app:$tag\$"; then
  info "todo-app:$tag is already built"
else
  info "minikube image build -t todo-app:$tag . (the first build compiles every function: ~10-20 min)"
  minikube -p "$PROFILE" image build -t "todo-app:$tag" . || die "building the image failed"
fi

# --- 6. release ----------------------------------------------------------------------------
stage "6/7 helm upgrade --install $RELEASE (values-local.yaml)"
h upgrade --install "$RELEASE" "$CHART" --namespace "$NAMESPACE" -f "$CHART/values-local.yaml" \
  --set image.tag="$tag" --atomic --wait --timeout "$WAIT" ||
  die "the release did not become ready and was rolled back (kubectl -n $NAMESPACE get pods; kubectl -n $NAMESPACE get events)"
h status "$RELEASE" --namespace "$NAMESPACE" | sed -n '1,8p' >&2

# --- 7. smoke test -------------------------------------------------------------------------
stage "7/7 smoke test through the gateway"
if [[ -n "${SKIP_SMOKE:-}" ]]; then
  info "skipped (SKIP_SMOKE)"
  exit 0
fi
gateway="$RELEASE"
[[ "$RELEASE" == *todo-app* ]] || gateway="$RELEASE-todo-app"
k -n "$NAMESPACE" wait gateway/"$gateway" --for=condition=Accepted --timeout=5m >/dev/null ||
  die "Gateway $gateway was not accepted (kubectl -n $NAMESPACE describe gateway $gateway)"
# Envoy Gateway runs one Envoy Deployment and Service per Gateway. Its Service is a
# LoadBalancer without an address on Minikube (unless `minikube tunnel` runs), so the smoke
# test goes through a port-forward to it instead of waiting for Programmed.
selector="gateway.envoyproxy.io/owning-gateway-name=$gateway,gateway.envoyproxy.io/owning-gateway-namespace=$NAMESPACE"
svc=""
for _ in $(seq 1 150); do
  svc="$(k -n envoy-gateway-system get service -l "$selector" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)"
  [[ -z "$svc" ]] || break
  sleep 2
done
[[ -n "$svc" ]] || die "Envoy Gateway created no Service for Gateway $gateway (kubectl -n envoy-gateway-system get all)"
k -n envoy-gateway-system wait deployment -l "$selector" --for=condition=Available --timeout=5m >/dev/null ||
  die "the Envoy proxy of Gateway $gateway is not available (kubectl -n envoy-gateway-system get pods)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
k -n envoy-gateway-system port-forward "service/$svc" "$port:80" >/dev/null 2>&1 &
PF_PID=$!
api="http://127.0.0.1:$port/api/smoke-user"
for _ in $(seq 1 60); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then break; fi
  sleep 1
done
# A token for smoke-user, signed with the deployed JWT secret by the image's own todo-local.
token="$(k -n "$NAMESPACE" exec "deploy/$gateway-list-tasks" -c list-tasks -- /usr/local/bin/todo-local token smoke-user | tail -n1)"
[[ "$token" == *.*.* ]] || die "could not mint a token with todo-local in the list-tasks pod"
auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
due="$(date -u -d '+1 day' +%Y-%m-%dT09:00:00Z 2>/dev/null || date -u -v+1d +%Y-%m-%dT09:00:00Z)"
created="$(curl -sS --fail-with-body --max-time 60 -X POST "$api/tasks" "${auth[@]}" \
  -d "{\"title\":\"smoke test $(date +%s)\",\"recurrence\":\"weekly\",\"due_at\":\"$due\"}")" ||
  die "creating a task through the gateway failed: $created"
id="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$created")"
info "created weekly task $id due $due"
curl -sS --fail-with-body --max-time 60 -X PATCH "$api/tasks/$id/complete" "${auth[@]}" >/dev/null ||
  die "completing task $id failed"
info "completed it; waiting for on-completed (woken by KEDA from zero if idle) to create the next one"
next=""
for _ in $(seq 1 90); do
  page="$(curl -sS --max-time 20 "$api/tasks?status=pending&page_size=100" "${auth[@]}" || true)"
  next="$(python3 -c '
import json, sys
try:
    items = json.loads(sys.argv[1]).get("items", [])
except ValueError:
    items = []
print(next((t["id"] + " due " + str(t.get("due_at")) for t in items
            if t.get("recurrence_parent_id") == sys.argv[2]), ""))' "$page" "$id")"
  [[ -z "$next" ]] || break
  sleep 2
done
[[ -n "$next" ]] || die "no next occurrence of $id within 180 s (kubectl -n $NAMESPACE logs deploy/$gateway-on-completed -c on-completed)"
info "next occurrence: $next"
say "todo-app is up. Reach the API with:"
info "kubectl --context $PROFILE -n envoy-gateway-system port-forward service/$svc 8080:80"
info "TOKEN=\$(kubectl --context $PROFILE -n $NAMESPACE exec deploy/$gateway-list-tasks -c list-tasks -- /usr/local/bin/todo-local token alice)"
info "curl -H \"Authorization: Bearer \$TOKEN\" http://localhost:8080/api/alice/tasks"
