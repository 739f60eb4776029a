#!/usr/bin/env bash
# Stops the local cluster and removes everything it made: processes,
# containers, mounts, network namespaces, interfaces, routes, cgroups, state.
# Component logs are kept in ${LOG_DIR} for a post-mortem. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

CTR=(ctr -a "${CONTAINERD_SOCK}" -n k8s.io)

# Pod processes die with their shims; the shims are the ones we started
# through our containerd socket (their command line names it), so only those.
our_shims() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"${p}/cmdline"; } 2>/dev/null | grep -qF -- "-address ${CONTAINERD_SOCK} " && echo "${p#/proc/}"
  done
  return 0
}

stop_containers() {
  if running containerd; then
    log "stopping pod containers"
    local id
    for id in $("${CTR[@]}" tasks ls -q 2>/dev/null); do
      "${CTR[@]}" tasks kill -a -s SIGKILL "${id}" >/dev/null 2>&1 || true
    done
    local deadline=$((SECONDS + 20))
    while "${CTR[@]}" tasks ls 2>/dev/null | grep -q RUNNING && ((SECONDS < deadline)); do sleep 0.5; done
    for id in $("${CTR[@]}" tasks ls -q 2>/dev/null); do
      "${CTR[@]}" tasks delete -f "${id}" >/dev/null 2>&1 || true
    done
    for id in $("${CTR[@]}" containers ls -q 2>/dev/null); do
      "${CTR[@]}" containers delete "${id}" >/dev/null 2>&1 || true
    done
  fi
  stop containerd 15
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

# Pod cgroups the kubelet made (cgroupfs driver, v1): remove bottom-up.
remove_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [[ -d ${d} ]] || continue
    find "${d}" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  return 0
}

main() {
  log "stopping the local cluster"
  local c
  for c in kube-proxy kubelet kube-scheduler kube-controller-manager; do
    stop "${c}" 15
  done
  # The API server drains open watches for up to a minute on SIGTERM; its
  # state is about to be deleted, so a short grace is enough.
  stop kube-apiserver 3
  stop etcd 10
  stop_containers
  restore_host_sysctls
  unmount_state
  remove_cgroups
  if ip link show "${NODE_IF}" >/dev/null 2>&1; then ip link del "${NODE_IF}"; fi
  if [[ -e /run/netns/${NETNS} ]]; then
    ip netns del "${NETNS}"
    info "removed network namespace ${NETNS} (its bridge, veths and rules with it)"
  fi
  ip route del "${POD_CIDR}" 2>/dev/null || true
  ip route del "${SERVICE_CIDR}" 2>/dev/null || true
  if [[ -d ${STATE_DIR} ]]; then
    find "${STATE_DIR}" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
    info "removed state in ${STATE_DIR} (kept ${LOG_DIR})"
  fi
  log "cluster is down"
}

main "$@"
