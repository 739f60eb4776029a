#!/usr/bin/env bash
# Installs or upgrades the kcache-operator chart in the cluster KUBECONFIG names,
# with image overrides, and waits until the operator is available. Used by the
# e2e suite (once per run) and by `make demo`.
#
#   HELM, KUBECTL                   the tools (default: helm and kubectl on PATH)
#   RELEASE, RELEASE_NAMESPACE      default kcache in kcache-system
#   OPERATOR_IMAGE_REPOSITORY/TAG   default kcache-operator:dev
#   NODE_IMAGE_REPOSITORY/TAG       default kcache-node:dev
#   IMAGE_ID                        any string that changes when the images are
#                                   rebuilt under the same tag: it rolls the
#                                   operator's pods onto the new image
#   INSTALL_TIMEOUT                 default 300s
# Extra arguments go to helm (for example --set logLevel=debug).
set -euo pipefail
cd "$(dirname "$0")/../.."

HELM=${HELM:-helm}
KUBECTL=${KUBECTL:-kubectl}
RELEASE=${RELEASE:-kcache}
RELEASE_NAMESPACE=${RELEASE_NAMESPACE:-kcache-system}
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-300s}
CHART=charts/kcache-operator

# Helm installs a chart's crds/ on first install only and never upgrades them:
# applying them first lets a changed CRD reach a cluster that has an older one.
"$KUBECTL" apply --server-side --force-conflicts --field-manager kcache-install -f "$CHART/crds/"
# Polled rather than `kubectl wait`: that fails at once, instead of waiting,
# while a new CRD has no status.conditions yet (kubernetes/kubernetes#66439).
established() {
  [ "$("$KUBECTL" get crd cacheclusters.kcache.io \
    -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" = True ]
}
deadline=$((SECONDS + 60))
until established; do
  ((SECONDS < deadline)) || { echo "CRD cacheclusters.kcache.io not Established after 60s" >&2; exit 1; }
  sleep 1
done

args=(
  --namespace "$RELEASE_NAMESPACE" --create-namespace
  --wait --timeout "$INSTALL_TIMEOUT"
  --set "image.repository=${OPERATOR_IMAGE_REPOSITORY:-kcache-operator}"
  --set "image.tag=${OPERATOR_IMAGE_TAG:-dev}"
  --set "nodeImage.repository=${NODE_IMAGE_REPOSITORY:-kcache-node}"
  --set "nodeImage.tag=${NODE_IMAGE_TAG:-dev}"
)
if [ -n "${IMAGE_ID:-}" ]; then
  args+=(--set-string "podAnnotations.kcache\\.io/image-id=${IMAGE_ID}")
fi
"$HELM" upgrade --install "$RELEASE" "$CHART" "${args[@]}" "$@"
