#!/usr/bin/env bash
# The rest of `make demo`, once the cluster is up and the images are loaded:
# installs the operator, applies examples/cachecluster.yaml, waits for Ready and
# prints how to connect.
#
#   KUBECONFIG, KUBECTL, HELM as for install-operator.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${KUBECONFIG:?}"
KUBECTL=${KUBECTL:-kubectl}
cluster=cache

hack/e2e/install-operator.sh
"$KUBECTL" apply --server-side -f examples/cachecluster.yaml
echo "waiting for CacheCluster $cluster to be Ready..."
if ! "$KUBECTL" wait --for=condition=Ready "cachecluster/$cluster" --timeout=300s; then
  "$KUBECTL" get cachecluster "$cluster" -o yaml
  "$KUBECTL" get pods,events
  exit 1
fi
"$KUBECTL" get cachecluster "$cluster"

"$KUBECTL" get pods -l "kcache.io/cluster=$cluster" -L kcache.io/role
target=svc/$cluster-primary

cat <<MSG

kcache is running. To connect:

  export KUBECONFIG=$KUBECONFIG
  kubectl port-forward $target 6379:6379 &
  export REDISCLI_AUTH=\$(kubectl get secret $cluster-auth -o jsonpath='{.data.password}' | base64 -d)
  redis-cli -p 6379 PING
  redis-cli -p 6379 SET greeting hello
  redis-cli -p 6379 GET greeting

From a pod in the cluster: redis-cli -h $cluster-primary.default.svc -a <password>
MSG
if [ "$KUBECTL" != kubectl ]; then
  echo "(kubectl here is $KUBECTL)"
fi
