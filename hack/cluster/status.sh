#!/usr/bin/env bash
# Shows whether each component of the local cluster runs, its memory, the
# nodes and the pods. Exit status 0 only when the cluster is healthy.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

mapfile -t NODE_NAMES < <(present_nodes)
((${#NODE_NAMES[@]})) || { log "no cluster here ('make cluster-up' starts one)"; exit 1; }

ok=0 total=0
log "components of $(nodes_word "${#NODE_NAMES[@]}") (logs in ${LOG_DIR})"
# shellcheck disable=SC2046 # one name per word
for c in $(components "${NODE_NAMES[@]}"); do
  pid=$(pid_of "${c}" 2>/dev/null || true)
  if alive "${pid}"; then
    kib=$(rss_kib "${pid}"); total=$((total + kib))
    printf '    %-28s running  pid %-7s rss %4d MiB\n' "${c}" "${pid}" $((kib / 1024))
  else
    printf '    %-28s \033[31mstopped\033[0m\n' "${c}"; ok=1
  fi
done
# Every node's containerd shims, by the socket on their command line.
shims=0
socks=$(for n in "${NODE_NAMES[@]}"; do node_vars "${n#kcache-node-}"; echo "-address ${CONTAINERD_SOCK} "; done)
for p in /proc/[0-9]*; do
  if { tr '\0' ' ' <"${p}/cmdline"; } 2>/dev/null | grep -qF -- "${socks}"; then
    shims=$((shims + $(rss_kib "${p#/proc/}")))
  fi
done
# Resident memory of every pod container, from each kubelet's cgroup (v1).
pods=0
for n in "${NODE_NAMES[@]}"; do
  f="/sys/fs/cgroup/memory/${n}/kubepods/memory.stat"
  [[ -f ${f} ]] && pods=$((pods + $(awk '$1 == "total_rss" {print int($2 / 1024)}' "${f}")))
done
printf '    memory (RSS): components %d MiB, containerd shims %d MiB, pods %d MiB, total %d MiB\n' \
  $((total / 1024)) $((shims / 1024)) $((pods / 1024)) $(((total + shims + pods) / 1024))

if ((ok == 0)) && kubectl_admin get --raw /readyz >/dev/null 2>&1; then
  log "nodes"
  kubectl_admin get nodes -L topology.kubernetes.io/zone -o wide
  log "pods"
  kubectl_admin get pods -A -o wide
  echo
  echo "admin kubeconfig: ${KUBECONFIG_ADMIN}"
else
  log "cluster is not healthy ('make cluster-up' starts it)"
  exit 1
fi
