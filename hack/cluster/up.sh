#!/usr/bin/env bash
# Starts the local Kubernetes: NODES nodes (default 3), each a network
# namespace with its own containerd, kubelet and kube-proxy, in zones zone-a,
# zone-b, ...; etcd and the control plane in node 0's namespace; then CoreDNS
# and the local-path provisioner as pods. Idempotent: a healthy cluster of
# NODES nodes is left as it is; a partial one, or one of another size, is torn
# down and started again.
#
# Images to import besides the cluster's own: KCACHE_IMAGES="a.tar b.tar"
# (OCI or docker archives, e.g. the output of `make images`), into every node.
set -Eeuo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "${CLUSTER_DIR}/pki.sh"
source "${CLUSTER_DIR}/config.sh"
source "${CLUSTER_DIR}/images.sh"

NODES=${NODES:-3}
START=${SECONDS}

on_error() {
  warn "cluster-up failed; component logs follow (all under ${LOG_DIR})"
  # shellcheck disable=SC2119 # no names: every component's log
  print_logs
  warn "cluster-up failed; logs are under ${LOG_DIR}; 'make cluster-down' cleans up"
}
trap on_error ERR

preflight() {
  need_root
  [[ ${NODES} =~ ^[1-9]$ && ${NODES} -le ${MAX_NODES} ]] || die "NODES=${NODES}: from 1 to ${MAX_NODES} nodes"
  local missing=() c
  for c in containerd runc ctr iptables conntrack nsenter openssl setsid ip curl; do
    command -v "${c}" >/dev/null || missing+=("${c}")
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || missing+=("CNI plugins in /usr/lib/cni")
  ((${#missing[@]} == 0)) || die "missing: ${missing[*]} (hack/setup.sh cluster installs them on Debian/Ubuntu)"
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    [[ -x $(k8s_bin "${c}") ]] || die "$(k8s_bin "${c}") not built: run 'make cluster-build'"
  done
  for c in "$(etcd_bin)" "$(coredns_bin)" "$(lpp_bin)"; do
    [[ -x ${c} ]] || die "${c} not built: run 'make cluster-build'"
  done
  [[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpu ]] ||
    [[ -f /sys/fs/cgroup/cgroup.controllers ]] || die "no usable cgroup hierarchy under /sys/fs/cgroup"
}

wanted_nodes() { local i; for ((i = 0; i < NODES; i++)); do echo "kcache-node-${i}"; done; }

# Healthy: every daemon of exactly NODES nodes runs and the API server is ready.
healthy() {
  local c nodes
  [[ $(present_nodes) == "$(wanted_nodes)" ]] || return 1
  mapfile -t nodes < <(wanted_nodes)
  for c in $(components "${nodes[@]}"); do running "${c}" || return 1; done
  kubectl_admin get --raw /readyz >/dev/null 2>&1
}

# for_each_node FUNCTION: FUNCTION once per node, with node_vars set.
for_each_node() {
  local i
  for ((i = 0; i < NODES; i++)); do node_vars "${i}"; "$1"; done
  node_vars 0
}

# The node LAN: a bridge in a namespace of its own, the switch every node and
# the host have one port on (a veth pair each). The host is on it too, so
# that it reaches the API server, the pods and the Services.
setup_lan() {
  log "network: node LAN ${LAN_PREFIX}.0/24 (host ${HOST_IP}), pods ${CLUSTER_CIDR}, services ${SERVICE_CIDR}"
  [[ -e /run/netns/${LAN_NS} ]] || ip netns add "${LAN_NS}"
  in_lan ip link set lo up
  if ! in_lan ip link show "${LAN_BRIDGE}" >/dev/null 2>&1; then in_lan ip link add "${LAN_BRIDGE}" type bridge; fi
  in_lan ip link set "${LAN_BRIDGE}" up
  if ! ip link show "${HOST_IF}" >/dev/null 2>&1; then
    ip link add "${HOST_IF}" type veth peer name host netns "${LAN_NS}"
  fi
  in_lan ip link set host master "${LAN_BRIDGE}" up
  ip addr replace "${HOST_IP}/24" dev "${HOST_IF}"
  ip link set "${HOST_IF}" up
  # Any node's kube-proxy serves every Service; node 0's is the host's.
  ip route replace "${SERVICE_CIDR}" via "${APISERVER_IP}" dev "${HOST_IF}"
}

# A node's network: a namespace whose eth0 is a port of the node LAN. The
# host and the other nodes route the node's pod range to it, it routes theirs
# to them; no namespace has a default route, so nothing started in it can
# reach any other address.
setup_node_network() {
  info "${NODE_NAME}: namespace ${NETNS}, address ${NODE_IP}, pods ${POD_CIDR}, ${NODE_ZONE}"
  [[ -e /run/netns/${NETNS} ]] || ip netns add "${NETNS}"
  if ! in_lan ip link show "${NODE_LEG}" >/dev/null 2>&1; then
    in_lan ip link add "${NODE_LEG}" type veth peer name "${NODE_IF}" netns "${NETNS}"
  fi
  in_lan ip link set "${NODE_LEG}" master "${LAN_BRIDGE}" up
  in_node ip link set lo up
  in_node ip addr replace "${NODE_IP}/24" dev "${NODE_IF}"
  in_node ip link set "${NODE_IF}" up
  # Service addresses need a route inside the node too, or connections made
  # there (the API server to a webhook's Service, say) fail before kube-proxy's
  # DNAT is consulted. The device is an empty bridge (this kernel has no
  # `dummy` driver): what is not DNATed finds no neighbour and is dropped.
  if ! in_node ip link show "${SVC_IF}" >/dev/null 2>&1; then in_node ip link add "${SVC_IF}" type bridge; fi
  in_node ip link set "${SVC_IF}" up
  in_node ip route replace "${SERVICE_CIDR}" dev "${SVC_IF}"
  local j
  for ((j = 0; j < NODES; j++)); do
    ((j == NODE_INDEX)) || in_node ip route replace "$(node_pod_cidr "${j}")" via "$(node_ip "${j}")" dev "${NODE_IF}"
  done
  ip route replace "${POD_CIDR}" via "${NODE_IP}" dev "${HOST_IF}"
  # Forwarding and bridge netfilter inside the node namespace only (both are
  # per-namespace): pod to Service traffic on one bridge needs the latter.
  in_node sysctl -qw net.ipv4.ip_forward=1
  in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1
  in_node sysctl -qw net.ipv4.conf.all.route_localnet=1
}

# The node's cgroup root, /NODE_NAME in every hierarchy (the kubelet checks
# that it exists). A new cpuset cgroup starts with no CPUs and no memory
# nodes: it gets its parent's.
make_cgroup_root() {
  local h d
  for h in /sys/fs/cgroup/*/; do
    [[ -f ${h}cgroup.procs ]] || continue
    d="${h%/}${CGROUP_ROOT}"
    mkdir -p "${d}"
    if [[ -f ${d}/cpuset.cpus && -z $(<"${d}/cpuset.cpus") ]]; then
      cat "${h}cpuset.cpus" >"${d}/cpuset.cpus"
      cat "${h}cpuset.mems" >"${d}/cpuset.mems"
    fi
  done
}

start_containerd() {
  write_containerd_config
  start "${NODE_NAME}/containerd" containerd --config "${NODE_DIR}/containerd/config.toml"
  wait_ready "${NODE_NAME}/containerd" 30 ctr -a "${CONTAINERD_SOCK}" version
  import_images
}

# import_images [--extra-only]: the cluster's own archives and KCACHE_IMAGES,
# into the current node's containerd.
import_images() {
  local archives=() a
  [[ ${1:-} == --extra-only ]] || archives=("${CLUSTER_IMAGE_ARCHIVES[@]}")
  # shellcheck disable=SC2206 # a list of paths, split on whitespace
  archives+=(${KCACHE_IMAGES:-})
  ((${#archives[@]})) || return 0
  for a in "${archives[@]}"; do
    [[ -f ${a} ]] || die "image archive ${a} not found"
    ctr_node images import --no-unpack=false "${a}" >/dev/null
  done
  info "${NODE_NAME}: imported ${#archives[@]} image archives ($(for a in "${archives[@]}"; do basename "${a}"; done | tr '\n' ' '))"
}
import_extra_images() { import_images --extra-only; }

start_etcd() {
  start etcd "$(etcd_bin)" --name kcache --data-dir "${STATE_DIR}/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster kcache=http://127.0.0.1:2380 --listen-metrics-urls "" \
    --unsafe-no-fsync --snapshot-count 10000 --quota-backend-bytes 2147483648
  wait_ready etcd 30 in_node curl -sf http://127.0.0.1:2379/health
}

start_control_plane() {
  start kube-apiserver "$(k8s_bin kube-apiserver)" \
    --advertise-address "${APISERVER_IP}" --bind-address 0.0.0.0 --secure-port "${APISERVER_PORT}" \
    --etcd-servers http://127.0.0.1:2379 \
    --service-cluster-ip-range "${SERVICE_CIDR}" --service-node-port-range 30000-32767 \
    --client-ca-file "${PKI_DIR}/ca.crt" \
    --tls-cert-file "${PKI_DIR}/apiserver.crt" --tls-private-key-file "${PKI_DIR}/apiserver.key" \
    --kubelet-client-certificate "${PKI_DIR}/apiserver-kubelet-client.crt" \
    --kubelet-client-key "${PKI_DIR}/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer "https://kubernetes.default.svc.${CLUSTER_DOMAIN}" \
    --service-account-key-file "${PKI_DIR}/sa.pub" --service-account-signing-key-file "${PKI_DIR}/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --profiling=false --v=1
  wait_ready kube-apiserver 90 kubectl_admin get --raw /readyz
  start kube-controller-manager "$(k8s_bin kube-controller-manager)" \
    --kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" \
    --authentication-kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" \
    --authorization-kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --client-ca-file "${PKI_DIR}/ca.crt" \
    --cluster-signing-cert-file "${PKI_DIR}/ca.crt" --cluster-signing-key-file "${PKI_DIR}/ca.key" \
    --root-ca-file "${PKI_DIR}/ca.crt" --service-account-private-key-file "${PKI_DIR}/sa.key" \
    --use-service-account-credentials=true --controllers '*,bootstrapsigner,tokencleaner' \
    --service-cluster-ip-range "${SERVICE_CIDR}" --cluster-name kcache-local --profiling=false --v=1
  start kube-scheduler "$(k8s_bin kube-scheduler)" \
    --kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
    --authentication-kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
    --authorization-kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --profiling=false --v=1
}

start_node() {
  write_kubelet_config
  write_kube_proxy_config
  mkdir -p "${NODE_DIR}/local-path"
  # The zone label is one the kubelet may set on its own Node (NodeRestriction).
  start "${NODE_NAME}/kubelet" "$(k8s_bin kubelet)" --config "${NODE_DIR}/kubelet/config.yaml" \
    --kubeconfig "${NODE_DIR}/kubelet.kubeconfig" --root-dir "${NODE_DIR}/kubelet" \
    --hostname-override "${NODE_NAME}" --node-ip "${NODE_IP}" \
    --node-labels "topology.kubernetes.io/zone=${NODE_ZONE}" --v=1
  start "${NODE_NAME}/kube-proxy" "$(k8s_bin kube-proxy)" --config "${NODE_DIR}/kube-proxy/config.yaml" --v=1
}

# wait_nodes: every node registered, then Ready; ends with node 0's variables.
node_registered() { wait_ready "${NODE_NAME}/kubelet" 60 kubectl_admin get node "${NODE_NAME}"; }

wait_nodes() {
  for_each_node node_registered
  # As kind labels its control-plane node (the kubelet may not set node-role
  # labels). Unlike kind's, it is not tainted: every node takes pods.
  kubectl_admin label --overwrite node "${NODE_NAME}" node-role.kubernetes.io/control-plane= >/dev/null
  wait_for "$(nodes_word "${NODES}") Ready" 120 kubectl_admin wait --for=condition=Ready nodes --all --timeout=2s
}

# local-path's nodePathMap: each node's volumes in its own directory.
node_path_map() {
  local i
  printf '{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["%s"]}' "${STATE_DIR}/local-path"
  for ((i = 0; i < NODES; i++)); do
    printf ', {"node": "kcache-node-%d", "paths": ["%s"]}' "${i}" "${STATE_DIR}/nodes/kcache-node-${i}/local-path"
  done
}

# fill FILE: a manifest with its @NAME@ placeholders filled in.
fill() {
  sed -e "s|@CLUSTER_DOMAIN@|${CLUSTER_DOMAIN}|g" -e "s|@DNS_SERVICE_IP@|${DNS_SERVICE_IP}|g" \
    -e "s|@COREDNS_IMAGE@|${COREDNS_IMAGE}|g" -e "s|@LPP_IMAGE@|${LPP_IMAGE}|g" \
    -e "s|@BUSYBOX_IMAGE@|${BUSYBOX_IMAGE}|g" -e "s|@NODE_PATH_MAP@|$(node_path_map)|g" \
    "${CLUSTER_DIR}/manifests/$1"
}

start_addons() {
  log "addons: CoreDNS, local-path provisioner (default StorageClass \"standard\")"
  fill coredns.yaml | kubectl_admin apply -f - >/dev/null
  fill local-path.yaml | kubectl_admin apply -f - >/dev/null
  kubectl_admin -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null
  kubectl_admin -n local-path-storage rollout status deployment/local-path-provisioner --timeout=120s >/dev/null
  info "CoreDNS and local-path provisioner are available"
}

main() {
  preflight
  node_vars 0
  if healthy; then
    log "cluster already running"
    # A new build of the kcache images goes in without a restart; pods pick
    # it up when they are recreated.
    for_each_node import_extra_images
  else
    if [[ -e /run/netns/${LAN_NS} || -n $(present_nodes) ]] || find "${RUN_DIR}" -name '*.pid' 2>/dev/null | grep -q .; then
      log "a partial cluster, or one of another size, is present: tearing it down first"
      "${CLUSTER_DIR}/down.sh"
    fi
    build_all
    mkdir -p "${STATE_DIR}" "${LOG_DIR}" "${RUN_DIR}"
    find "${LOG_DIR}" -name '*.log' -delete
    setup_lan
    for_each_node setup_node_network
    # Frames between the nodes are switched, not filtered.
    in_lan sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
    for_each_node make_cgroup_root
    log "certificates and kubeconfigs in ${PKI_DIR}"
    pki_all
    for_each_node pki_node
    log "starting each node's containerd, importing images"
    for_each_node start_containerd
    log "starting the control plane in ${NETNS}"
    start_etcd
    start_control_plane
    log "starting each node's kubelet and kube-proxy"
    save_host_sysctls
    for_each_node start_node
    wait_nodes
    start_addons
  fi
  log "cluster is up ($((SECONDS - START))s): $(nodes_word "${NODES}"), API https://${APISERVER_IP}:${APISERVER_PORT}"
  kubectl_admin get nodes -o wide
  echo
  echo "admin kubeconfig: ${KUBECONFIG_ADMIN}"
  echo "  export KUBECONFIG=${KUBECONFIG_ADMIN}"
  echo "  kubectl=$(k8s_bin kubectl)"
}

# Sourcing the script (for debugging one step) defines the steps without running them.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
