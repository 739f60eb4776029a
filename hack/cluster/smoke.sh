#!/usr/bin/env bash
# Checks that the running local cluster does what kcache and its tests need:
# every node Ready in its zone; a web pod on each node, reachable from the
# host and from the pods of every other node, by address and through its
# Service by name; Services through kube-proxy, cluster DNS for Service and
# pod names, the API server at its Service address from every node's pods; a
# StatefulSet whose PersistentVolumeClaims bind on the node of their pod; the
# eviction API refusing what a PodDisruptionBudget protects, Leases; and, once
# `make images` has produced it, a kcache-node pod answering PING.
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
# http_from_host ADDR [POD]: ADDR answers with POD's page (default web-0).
http_from_host() { curl -sf --max-time 5 "http://$1/" | grep -q "hello from ${2:-web-0}"; }
pod_field() { "${K[@]}" get pod "$1" -o jsonpath="{$2}"; }
dns_service() { in_pod nslookup "web.${NS}.svc.${CLUSTER_DOMAIN}" | grep -q "$("${K[@]}" get svc web -o jsonpath='{.spec.clusterIP}')"; }
dns_pod() {
  local ip dashed; ip=$("${K[@]}" get pod web-0 -o jsonpath='{.status.podIP}'); dashed=${ip//./-}
  in_pod nslookup "${dashed}.${NS}.pod.${CLUSTER_DOMAIN}" | grep -q "${ip}"
}
# busybox's nc, not its wget: the static (glibc) busybox's wget crashes in an
# image without glibc's shared objects.
http_get_in_pod() { in_pod sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $1 $2"; }
# http_from WEB_POD HOST PORT: an HTTP GET from one of the web pods.
http_from() { "${K[@]}" exec "$1" -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $2 $3"; }
service_from_pod() { http_get_in_pod web 80 | grep -q "hello from web-"; }
apiserver_from_pod() { in_pod nc -w 5 kubernetes.default.svc 443 </dev/null; }
# The nodes, Ready, each with its own zone label: zone-a, zone-b, ...
nodes_in_zones() {
  local want="" got i
  for ((i = 0; i < NODE_COUNT; i++)); do node_vars "${i}"; want+="${NODE_NAME}=${NODE_ZONE}=True "; done
  got=$(kubectl_admin get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.labels.topology\.kubernetes\.io/zone}={.status.conditions[?(@.type=="Ready")].status} {end}')
  [[ ${got} == "${want}" ]]
}
# One web pod on each node.
web_on_every_node() {
  local nodes
  nodes=$(for w in "${WEB[@]}"; do pod_field "${w}" .spec.nodeName; echo; done | sort -u | grep -c .)
  ((nodes == NODE_COUNT))
}
# web_reaches_others POD: POD reaches every other web pod at its address.
web_reaches_others() {
  local from=$1 w
  for w in "${WEB[@]}"; do
    [[ ${w} == "${from}" ]] || http_from "${from}" "$(pod_field "${w}" .status.podIP)" 8080 | grep -q "hello from ${w}" || return 1
  done
}
# web_reaches_services POD: POD reaches every other web pod through that
# pod's own Service, by name (DNS, then kube-proxy on POD's node).
web_reaches_services() {
  local from=$1 w
  for w in "${WEB[@]}"; do
    [[ ${w} == "${from}" ]] || http_from "${from}" "${w}" 80 | grep -q "hello from ${w}" || return 1
  done
}
web_reaches_apiserver() { "${K[@]}" exec "$1" -- nc -w 5 kubernetes.default.svc 443 </dev/null; }
# pvc_on_pod_node POD: POD's claim is Bound to a volume that may only be used
# on POD's node, in that node's own directory.
pvc_on_pod_node() {
  local pod=$1 node pv affinity path
  [[ $("${K[@]}" get pvc "data-${pod}" -o jsonpath='{.status.phase}') == Bound ]] || return 1
  node=$(pod_field "${pod}" .spec.nodeName)
  pv=$("${K[@]}" get pvc "data-${pod}" -o jsonpath='{.spec.volumeName}')
  affinity=$(kubectl_admin get pv "${pv}" -o jsonpath='{.spec.nodeAffinity.required.nodeSelectorTerms[*].matchExpressions[*].values[*]}')
  path=$(kubectl_admin get pv "${pv}" -o jsonpath='{.spec.hostPath.path}{.spec.local.path}')
  [[ ${affinity} == "${node}" && ${path} == "${STATE_DIR}/nodes/${node}/local-path/"* && -d ${path} ]]
}
eviction_refused() {
  local out
  out=$(kubectl_admin create --raw "/api/v1/namespaces/${NS}/pods/web-0/eviction" -f - 2>&1 <<JSON || true
{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-0", "namespace": "${NS}"}}
JSON
)
  grep -q "disruption budget" <<<"${out}"
}
leases() {
  local nodes
  mapfile -t nodes < <(kubectl_admin get nodes -o name | sed 's|^node/||')
  kubectl_admin -n kube-system get lease kube-controller-manager kube-scheduler >/dev/null &&
    kubectl_admin -n kube-node-lease get lease "${nodes[@]}" >/dev/null
}

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
  NODE_COUNT=$(kubectl_admin get nodes -o name | grep -c .)
  WEB=()
  local i w
  for ((i = 0; i < NODE_COUNT; i++)); do WEB+=("web-${i}"); done
  log "smoke test in namespace ${NS}, $(nodes_word "${NODE_COUNT}")"
  sed -e "s|@BUSYBOX_IMAGE@|${BUSYBOX_IMAGE}|g" -e "s|@REPLICAS@|${NODE_COUNT}|g" \
    "${CLUSTER_DIR}/manifests/smoke.yaml" | kubectl_admin apply -f - >/dev/null
  # A Service per web pod, named as the pod.
  for w in "${WEB[@]}"; do
    "${K[@]}" apply -f - >/dev/null <<SVC
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "${w}"},
 "spec": {"selector": {"statefulset.kubernetes.io/pod-name": "${w}"}, "ports": [{"port": 80, "targetPort": 8080}]}}
SVC
  done
  "${K[@]}" rollout status statefulset/web --timeout=120s >/dev/null
  "${K[@]}" wait --for=condition=Ready pod/client --timeout=60s >/dev/null
  local svc_ip
  svc_ip=$("${K[@]}" get svc web -o jsonpath='{.spec.clusterIP}')
  local zones
  zones=$(kubectl_admin get nodes -o jsonpath='{range .items[*]}{.metadata.name} in {.metadata.labels.topology\.kubernetes\.io/zone}, {end}')
  check "$(nodes_word "${NODE_COUNT}") Ready, each in its zone (${zones%, })" nodes_in_zones
  check "one web pod on each node" web_on_every_node
  for w in "${WEB[@]}"; do
    check "pod ${w} ($(pod_field "${w}" .status.podIP) on $(pod_field "${w}" .spec.nodeName)) answers HTTP from the host" \
      http_from_host "$(pod_field "${w}" .status.podIP):8080" "${w}"
  done
  if ((NODE_COUNT > 1)); then
    for w in "${WEB[@]}"; do
      check "${w} reaches the web pods of the other nodes by pod address" web_reaches_others "${w}"
      check "${w} reaches the web pods of the other nodes through their Services, by name" web_reaches_services "${w}"
      check "${w} reaches the API server at kubernetes.default.svc:443" web_reaches_apiserver "${w}"
    done
  else
    skip "pod to pod and Services across nodes: one node"
  fi
  check "Service web (${svc_ip}) answers HTTP from the host" http_from_host "${svc_ip}:80" web-
  check "Service web answers HTTP from another pod by name" service_from_pod
  check "DNS resolves the Service name" dns_service
  check "DNS resolves the pod name" dns_pod
  check "a pod reaches the API server at kubernetes.default.svc:443" apiserver_from_pod
  for w in "${WEB[@]}"; do
    check "PVC data-${w} is Bound (default StorageClass) to a volume of ${w}'s node, $(pod_field "${w}" .spec.nodeName)" pvc_on_pod_node "${w}"
  done
  check "eviction of web-0 is refused by its PodDisruptionBudget" eviction_refused
  check "Leases: controller-manager, scheduler, every node's heartbeat" leases

  local images
  node_vars 0
  images=$(ctr_node images ls -q)
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
