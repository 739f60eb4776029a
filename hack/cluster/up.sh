#!/usr/bin/env bash
# Starts the local single-node Kubernetes: a network namespace for the node,
# containerd, etcd, the control plane, kubelet, kube-proxy, then CoreDNS and
# the local-path provisioner as pods. Idempotent: a healthy cluster is left as
# it is; a partial one is torn down and started again.
#
# Images to import besides the cluster's own: KCACHE_IMAGES="a.tar b.tar"
# (OCI or docker archives, e.g. the output of `make images`).
set -Eeuo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "${CLUSTER_DIR}/pki.sh"
source "${CLUSTER_DIR}/config.sh"
source "${CLUSTER_DIR}/images.sh"

COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
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
  local missing=() c
  for c in containerd runc ctr iptables conntrack nsenter openssl setsid ip curl; do
    command -v "${c}" >/dev/null || missing+=("${c}")
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || missing+=("CNI plugins in /usr/lib/cni")
  ((${#missing[@]} == 0)) || die "missing: ${missing[*]} (apt-get install containerd runc containernetworking-plugins iptables conntrack busybox-static)"
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    [[ -x $(k8s_bin "${c}") ]] || die "$(k8s_bin "${c}") not built: run 'make cluster-build'"
  done
  for c in "$(etcd_bin)" "$(coredns_bin)" "$(lpp_bin)"; do
    [[ -x ${c} ]] || die "${c} not built: run 'make cluster-build'"
  done
  [[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpu ]] ||
    [[ -f /sys/fs/cgroup/cgroup.controllers ]] || die "no usable cgroup hierarchy under /sys/fs/cgroup"
}

healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do running "${c}" || return 1; done
  kubectl_admin get --raw /readyz >/dev/null 2>&1
}

# The node's network: a namespace joined to the host by one veth pair. The
# host routes only the pod and Service ranges into it; the namespace has no
# default route, so nothing started in it can reach any other address.
setup_network() {
  log "network: namespace ${NETNS}, node ${NODE_IP}, pods ${POD_CIDR}, services ${SERVICE_CIDR}"
  [[ -e /run/netns/${NETNS} ]] || ip netns add "${NETNS}"
  if ! ip link show "${NODE_IF}" >/dev/null 2>&1; then
    ip link add "${NODE_IF}" type veth peer name eth0 netns "${NETNS}"
  fi
  ip addr replace "${HOST_IP}/30" dev "${NODE_IF}"
  ip link set "${NODE_IF}" up
  in_node ip link set lo up
  in_node ip addr replace "${NODE_IP}/30" dev eth0
  in_node ip link set eth0 up
  # Service addresses need a route inside the node too, or connections made
  # there (the API server to a webhook's Service, say) fail before kube-proxy's
  # DNAT is consulted. The device is an empty bridge (this kernel has no
  # `dummy` driver): what is not DNATed finds no neighbour and is dropped.
  if ! in_node ip link show "${SVC_IF}" >/dev/null 2>&1; then in_node ip link add "${SVC_IF}" type bridge; fi
  in_node ip link set "${SVC_IF}" up
  in_node ip route replace "${SERVICE_CIDR}" dev "${SVC_IF}"
  ip route replace "${POD_CIDR}" via "${NODE_IP}" dev "${NODE_IF}"
  ip route replace "${SERVICE_CIDR}" via "${NODE_IP}" dev "${NODE_IF}"
  # Forwarding and bridge netfilter inside the node namespace only (both are
  # per-namespace): pod to Service traffic on one bridge needs the latter.
  in_node sysctl -qw net.ipv4.ip_forward=1
  in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1
  in_node sysctl -qw net.ipv4.conf.all.route_localnet=1
}

start_containerd() {
  write_containerd_config
  start containerd containerd --config "${STATE_DIR}/containerd/config.toml"
  wait_ready containerd 30 ctr -a "${CONTAINERD_SOCK}" version
}

# import_images [--extra-only]: the cluster's own archives and KCACHE_IMAGES.
import_images() {
  local archives=() a
  [[ ${1:-} == --extra-only ]] || archives=("${CLUSTER_IMAGE_ARCHIVES[@]}")
  # shellcheck disable=SC2206 # a list of paths, split on whitespace
  archives+=(${KCACHE_IMAGES:-})
  ((${#archives[@]})) || return 0
  log "importing ${#archives[@]} image archives into containerd"
  for a in "${archives[@]}"; do
    [[ -f ${a} ]] || die "image archive ${a} not found"
    ctr -a "${CONTAINERD_SOCK}" -n k8s.io images import --no-unpack=false "${a}" >/dev/null
    info "$(basename "${a}")"
  done
}

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
    --advertise-address "${NODE_IP}" --bind-address 0.0.0.0 --secure-port "${APISERVER_PORT}" \
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
  mkdir -p "${STATE_DIR}/local-path"
  save_host_sysctls
  start kubelet "$(k8s_bin kubelet)" --config "${STATE_DIR}/kubelet/config.yaml" \
    --kubeconfig "${STATE_DIR}/kubelet.kubeconfig" --root-dir "${STATE_DIR}/kubelet" \
    --hostname-override "${NODE_NAME}" --node-ip "${NODE_IP}" --v=1
  start kube-proxy "$(k8s_bin kube-proxy)" --config "${STATE_DIR}/kube-proxy/config.yaml" --v=1
  wait_ready kubelet 60 kubectl_admin get node "${NODE_NAME}"
  # As kind labels its single node (the kubelet may not set node-role labels).
  kubectl_admin label --overwrite node "${NODE_NAME}" node-role.kubernetes.io/control-plane= >/dev/null
  wait_for "node ${NODE_NAME} Ready" 120 \
    kubectl_admin wait --for=condition=Ready "node/${NODE_NAME}" --timeout=2s
}

# fill FILE: a manifest with its @NAME@ placeholders filled in.
fill() {
  sed -e "s|@CLUSTER_DOMAIN@|${CLUSTER_DOMAIN}|g" -e "s|@DNS_SERVICE_IP@|${DNS_SERVICE_IP}|g" \
    -e "s|@COREDNS_IMAGE@|${COREDNS_IMAGE}|g" -e "s|@LPP_IMAGE@|${LPP_IMAGE}|g" \
    -e "s|@BUSYBOX_IMAGE@|${BUSYBOX_IMAGE}|g" -e "s|@LOCAL_PATH_DIR@|${STATE_DIR}/local-path|g" \
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
  if healthy; then
    log "cluster already running"
    # A new build of the kcache images goes in without a restart; pods pick
    # it up when they are recreated.
    import_images --extra-only
  else
    if [[ -e /run/netns/${NETNS} ]] || ls "${RUN_DIR}"/*.pid >/dev/null 2>&1; then
      log "a partial cluster is present: tearing it down first"
      "${CLUSTER_DIR}/down.sh"
    fi
    build_all
    mkdir -p "${STATE_DIR}" "${LOG_DIR}" "${RUN_DIR}"
    rm -f "${LOG_DIR}"/*.log
    setup_network
    log "certificates and kubeconfigs in ${PKI_DIR}"
    pki_all
    log "starting the node runtime and control plane"
    start_containerd
    import_images
    start_etcd
    start_control_plane
    start_node
    start_addons
  fi
  log "cluster is up ($((SECONDS - START))s): node ${NODE_NAME}, API https://${NODE_IP}:${APISERVER_PORT}"
  kubectl_admin get nodes -o wide
  echo
  echo "admin kubeconfig: ${KUBECONFIG_ADMIN}"
  echo "  export KUBECONFIG=${KUBECONFIG_ADMIN}"
  echo "  kubectl=$(k8s_bin kubectl)"
}

# Sourcing the script (for debugging one step) defines the steps without running them.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
