#!/usr/bin/env bash
# Checks that the running local cluster does what kcache and its tests need:
# pods on the pod network reachable from the host, Services through
# kube-proxy, cluster DNS for Service and pod names, the API server at its
# Service address from a pod, a StatefulSet with a PersistentVolumeClaim from
# the default StorageClass, the eviction API refusing what a
# PodDisruptionBudget protects, Leases; and, once `make images` has produced
# it, a kcache-node pod answering PING.
#   KCACHE_NODE_IMAGE   (default kcache-node:dev; skipped when not imported)
#   KCACHE_NODE_ARGS    (default "--bind 0.0.0.0 --port 6379")
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "${CLUSTER_DIR}/images.sh"

NS=kcache-smoke
NODE_IMAGE=${KCACHE_NODE_IMAGE:-kcache-node:dev}
NODE_ARGS=${KCACHE_NODE_ARGS:---bind 0.0.0.0 --port 6379}
K=(kubectl_admin -n "${NS}")
passed=0 failed=0 skipped=0

# check WHAT COMMAND...: pass when COMMAND succeeds within 30 seconds (a new
# Service's rules or DNS records take a moment to appear).
check() {
  local what=$1; shift
  local deadline=$((SECONDS + 30))
  until "$@" 2>/dev/null || ((SECONDS >= deadline)); do sleep 1; done
  if "$@"; then printf '    \033[32mok\033[0m   %s\n' "${what}"; passed=$((passed + 1))
  else printf '    \033[31mFAIL\033[0m %s\n' "${what}"; failed=$((failed + 1)); fi
}
skip() { printf '    skip %s\n' "$1"; skipped=$((skipped + 1)); }

cleanup() {
  kubectl_admin delete namespace "${NS}" --ignore-not-found --timeout=120s >/dev/null 2>&1 ||
    warn "namespace ${NS} is still being deleted"
}

in_pod() { "${K[@]}" exec client -- "$@"; }
http_from_host() { curl -sf --max-time 5 "http://$1/" | grep -q "hello from web-0"; }
dns_service() { in_pod nslookup "web.${NS}.svc.${CLUSTER_DOMAIN}" | grep -q "$("${K[@]}" get svc web -o jsonpath='{.spec.clusterIP}')"; }
dns_pod() {
  local ip dashed; ip=$("${K[@]}" get pod web-0 -o jsonpath='{.status.podIP}'); dashed=${ip//./-}
  in_pod nslookup "${dashed}.${NS}.pod.${CLUSTER_DOMAIN}" | grep -q "${ip}"
}
# busybox's nc, not its wget: the static (glibc) busybox's wget crashes in an
# image without glibc's shared objects.
http_get_in_pod() { in_pod sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $1 $2"; }
service_from_pod() { http_get_in_pod web 80 | grep -q "hello from web-0"; }
apiserver_from_pod() { in_pod nc -w 5 kubernetes.default.svc 443 </dev/null; }
pvc_bound() { [[ $("${K[@]}" get pvc data-web-0 -o jsonpath='{.status.phase}') == Bound ]]; }
eviction_refused() {
  local out
  out=$(kubectl_admin create --raw "/api/v1/namespaces/${NS}/pods/web-0/eviction" -f - 2>&1 <<JSON || true
{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-0", "namespace": "${NS}"}}
JSON
)
  grep -q "disruption budget" <<<"${out}"
}
leases() { kubectl_admin -n kube-system get lease kube-controller-manager kube-scheduler >/dev/null && kubectl_admin -n kube-node-lease get lease "${NODE_NAME}" >/dev/null; }

node_ping() {
  local ip
  ip=$("${K[@]}" get pod kcache-node -o jsonpath='{.status.podIP}')
  [[ $(redis-cli -h "${ip}" -p 6379 PING) == PONG ]]
}

main() {
  kubectl_admin get --raw /readyz >/dev/null 2>&1 || die "the cluster is not running ('make cluster-up')"
  # A namespace left by an interrupted run must be gone before we start again.
  cleanup
  trap cleanup EXIT
  log "smoke test in namespace ${NS}"
  sed "s|@BUSYBOX_IMAGE@|${BUSYBOX_IMAGE}|g" "${CLUSTER_DIR}/manifests/smoke.yaml" | kubectl_admin apply -f - >/dev/null
  "${K[@]}" rollout status statefulset/web --timeout=120s >/dev/null
  "${K[@]}" wait --for=condition=Ready pod/client --timeout=60s >/dev/null
  local pod_ip svc_ip
  pod_ip=$("${K[@]}" get pod web-0 -o jsonpath='{.status.podIP}')
  svc_ip=$("${K[@]}" get svc web -o jsonpath='{.spec.clusterIP}')
  check "pod web-0 (${pod_ip}) answers HTTP from the host" http_from_host "${pod_ip}:8080"
  check "Service web (${svc_ip}) answers HTTP from the host" http_from_host "${svc_ip}:80"
  check "Service web answers HTTP from another pod by name" service_from_pod
  check "DNS resolves the Service name" dns_service
  check "DNS resolves the pod name" dns_pod
  check "a pod reaches the API server at kubernetes.default.svc:443" apiserver_from_pod
  check "PVC data-web-0 is Bound (default StorageClass)" pvc_bound
  check "eviction of web-0 is refused by its PodDisruptionBudget" eviction_refused
  check "Leases: controller-manager, scheduler, node heartbeat" leases

  local images
  images=$(ctr -a "${CONTAINERD_SOCK}" -n k8s.io images ls -q)
  if grep -qE "(^|/)${NODE_IMAGE}$" <<<"${images}"; then
    # shellcheck disable=SC2086 # NODE_ARGS is a list of words
    "${K[@]}" run kcache-node --image "${NODE_IMAGE}" --image-pull-policy Never --restart Never -- ${NODE_ARGS} >/dev/null
    if "${K[@]}" wait --for=condition=Ready pod/kcache-node --timeout=60s >/dev/null; then
      check "kcache-node pod ($("${K[@]}" get pod kcache-node -o jsonpath='{.status.podIP}')) answers PING with PONG" node_ping
    else
      check "kcache-node pod becomes Ready" false
      "${K[@]}" describe pod kcache-node | tail -20 >&2
    fi
  else
    skip "kcache-node PING: image ${NODE_IMAGE} is not imported (make images, then KCACHE_IMAGES=... make cluster-up)"
  fi
  echo "smoke: ${passed} passed, ${failed} failed, ${skipped} skipped"
  ((failed == 0))
}

main "$@"
