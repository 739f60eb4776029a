#!/usr/bin/env bash
# Creates the kind cluster of `make e2e` / `make demo` unless it exists, writes
# its kubeconfig to a file of its own (the user's ~/.kube/config is left alone)
# and loads the image archives into every node.
#
#   kind-up.sh NAME KUBECONFIG_OUT ARCHIVE...
#   KIND (default kind), KIND_NODE_IMAGE (a kindest/node image, default kind's own)
set -euo pipefail
cd "$(dirname "$0")/../.."

name=$1 kubeconfig=$2
shift 2
KIND=${KIND:-kind}

if ! "$KIND" get clusters 2>/dev/null | grep -qx "$name"; then
  image_args=()
  [ -n "${KIND_NODE_IMAGE:-}" ] && image_args=(--image "$KIND_NODE_IMAGE")
  "$KIND" create cluster --name "$name" --config hack/e2e/kind.yaml --wait 180s "${image_args[@]}"
fi
mkdir -p "$(dirname "$kubeconfig")"
"$KIND" get kubeconfig --name "$name" > "$kubeconfig"
for archive in "$@"; do
  "$KIND" load image-archive "$archive" --name "$name"
done
echo "kind cluster $name ready: export KUBECONFIG=$kubeconfig"
