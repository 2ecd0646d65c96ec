# shellcheck shell=bash
# The versions of the Kubernetes add-ons the chart is deployed with (scripts/deploy-local.sh)
# and checked against (scripts/k8s-check.sh: their CRDs), in one place so the two agree.
# Source it; it only sets variables, each overridable from the environment.

# shellcheck disable=SC2034 # used by the scripts that source this file
{
  # Dapr: the Helm chart (deploy) and github.com/dapr/dapr's charts/dapr/crds (check), the
  # same release scripts/install-daprd.sh builds for the end-to-end test.
  DAPR_VERSION="${DAPR_VERSION:-v1.16.0}"
  # KEDA: the Helm chart kedacore/keda and github.com/kedacore/keda/v2's config/crd/bases.
  KEDA_VERSION="${KEDA_VERSION:-v2.21.0}"
  # Strimzi: the operator's Helm chart and the CRDs generated from io.strimzi:api (Maven).
  # Strimzi >= 1.0 serves kafka.strimzi.io/v1 only (deploy/local/kafka.yaml).
  STRIMZI_VERSION="${STRIMZI_VERSION:-1.2.0}"
  # Gateway API CRDs (standard channel) from sigs.k8s.io/gateway-api, and Envoy Gateway,
  # whose release bundles that Gateway API version.
  GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.4.1}"
  ENVOY_GATEWAY_VERSION="${ENVOY_GATEWAY_VERSION:-v1.6.0}"
  # The control plane of the check (scripts/install-k8s.sh builds them).
  K8S_VERSION="${K8S_VERSION:-v1.34.12}"
  ETCD_VERSION="${ETCD_VERSION:-v3.6.5}"
  KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
}
