#!/usr/bin/env bash
# Shows whether each component of the local cluster runs, its memory, the
# node and the pods. Exit status 0 only when the cluster is healthy.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

ok=0 total=0
log "components (logs in ${LOG_DIR})"
for c in "${COMPONENTS[@]}"; do
  pid=$(pid_of "${c}" 2>/dev/null || true)
  if alive "${pid}"; then
    kib=$(rss_kib "${pid}"); total=$((total + kib))
    printf '    %-24s running  pid %-7s rss %4d MiB\n' "${c}" "${pid}" $((kib / 1024))
  else
    printf '    %-24s \033[31mstopped\033[0m\n' "${c}"; ok=1
  fi
done
shims=0
for p in /proc/[0-9]*; do
  if { tr '\0' ' ' <"${p}/cmdline"; } 2>/dev/null | grep -qF -- "-address ${CONTAINERD_SOCK} "; then
    shims=$((shims + $(rss_kib "${p#/proc/}")))
  fi
done
# Resident memory of every pod container, from the kubelet's cgroup (v1).
pods=0
if [[ -f /sys/fs/cgroup/memory/kubepods/memory.stat ]]; then
  pods=$(awk '$1 == "total_rss" {print int($2 / 1024)}' /sys/fs/cgroup/memory/kubepods/memory.stat)
fi
printf '    memory (RSS): components %d MiB, containerd shims %d MiB, pods %d MiB, total %d MiB\n' \
  $((total / 1024)) $((shims / 1024)) $((pods / 1024)) $(((total + shims + pods) / 1024))

if ((ok == 0)) && kubectl_admin get --raw /readyz >/dev/null 2>&1; then
  log "nodes"
  kubectl_admin get nodes -o wide
  log "pods"
  kubectl_admin get pods -A -o wide
  echo
  echo "admin kubeconfig: ${KUBECONFIG_ADMIN}"
else
  log "cluster is not healthy ('make cluster-up' starts it)"
  exit 1
fi
