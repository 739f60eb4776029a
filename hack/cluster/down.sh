#!/usr/bin/env bash
# Stops the local cluster and removes everything it made: processes,
# containers, mounts, network namespaces, interfaces, routes, cgroups, state,
# for every node it finds (whatever NODES says now). Component logs are kept
# in ${LOG_DIR} for a post-mortem. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

mapfile -t NODE_NAMES < <(present_nodes)

# node_by_name NAME: node_vars for a node found by name.
node_by_name() { node_vars "${1#kcache-node-}"; }

# Pod processes die with their shims; the shims are the ones we started
# through this node's containerd socket (their command line names it), so only those.
our_shims() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"${p}/cmdline"; } 2>/dev/null | grep -qF -- "-address ${CONTAINERD_SOCK} " && echo "${p#/proc/}"
  done
  return 0
}

# stop_containers: the current node's containers, its containerd, its shims.
stop_containers() {
  if running "${NODE_NAME}/containerd"; then
    info "${NODE_NAME}: stopping pod containers"
    local id
    for id in $(ctr_node tasks ls -q 2>/dev/null); do
      ctr_node tasks kill -a -s SIGKILL "${id}" >/dev/null 2>&1 || true
    done
    local deadline=$((SECONDS + 20))
    while ctr_node tasks ls 2>/dev/null | grep -q RUNNING && ((SECONDS < deadline)); do sleep 0.5; done
    for id in $(ctr_node tasks ls -q 2>/dev/null); do
      ctr_node tasks delete -f "${id}" >/dev/null 2>&1 || true
    done
    for id in $(ctr_node containers ls -q 2>/dev/null); do
      ctr_node containers delete "${id}" >/dev/null 2>&1 || true
    done
  fi
  stop "${NODE_NAME}/containerd" 15
  local pid
  for pid in $(our_shims); do kill -KILL "${pid}" 2>/dev/null || true; done
}

unmount_state() {
  local m n=0
  # Deepest first; netns bind mounts, overlay rootfs, kubelet volumes.
  while read -r m; do
    if umount -l "${m}" 2>/dev/null; then n=$((n + 1)); fi
  done < <(awk -v d="${STATE_DIR}/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r)
  ((n == 0)) || info "unmounted ${n} mounts under ${STATE_DIR}"
}

# The node's cgroup root (cgroupfs driver, v1) and the pod cgroups its kubelet
# made under it: removed bottom-up.
remove_cgroups() {
  local d
  for d in /sys/fs/cgroup/*"${CGROUP_ROOT}"; do
    [[ -d ${d} ]] || continue
    find "${d}" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  return 0
}

remove_network() {
  if [[ -e /run/netns/${NETNS} ]]; then
    ip netns del "${NETNS}"
    info "removed network namespace ${NETNS} (its bridges, veths and rules with it)"
  fi
}

main() {
  log "stopping the local cluster ($(nodes_word "${#NODE_NAMES[@]}"))"
  local n
  for n in "${NODE_NAMES[@]}"; do
    stop "${n}/kube-proxy" 15
    stop "${n}/kubelet" 15
  done
  stop kube-scheduler 15
  stop kube-controller-manager 15
  # The API server drains open watches for up to a minute on SIGTERM; its
  # state is about to be deleted, so a short grace is enough.
  stop kube-apiserver 3
  stop etcd 10
  for n in "${NODE_NAMES[@]}"; do node_by_name "${n}"; stop_containers; done
  restore_host_sysctls
  unmount_state
  for n in "${NODE_NAMES[@]}"; do node_by_name "${n}"; remove_cgroups; remove_network; done
  # The host's port on the node LAN; its routes go with it.
  if ip link show "${HOST_IF}" >/dev/null 2>&1; then ip link del "${HOST_IF}"; fi
  if [[ -e /run/netns/${LAN_NS} ]]; then
    ip netns del "${LAN_NS}"
    info "removed network namespace ${LAN_NS} (the node LAN)"
  fi
  if [[ -d ${STATE_DIR} ]]; then
    find "${STATE_DIR}" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
    info "removed state in ${STATE_DIR} (kept ${LOG_DIR})"
  fi
  log "cluster is down"
}

main "$@"
