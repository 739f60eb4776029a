# Shared by the hack/cluster scripts: pinned versions, paths, logging.
# shellcheck disable=SC2034 # the names defined here are used by the scripts that source this file
# Sourced, never run. Every path can be moved with an environment variable.

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${CLUSTER_DIR}/versions.env"

export PATH="/usr/local/go/bin:/usr/sbin:/sbin:${PATH}"

# Built binaries and images: outside git, one directory per component and
# version, so a version bump rebuilds only what changed.
TOOLS_DIR="${TOOLS_DIR:-${HOME}/.cache/kcache/tools}"
# Everything the running cluster owns: certificates, kubeconfigs, etcd data,
# containerd and kubelet state, logs, pids. `cluster-down` removes it.
STATE_DIR="${KCACHE_CLUSTER_DIR:-/var/lib/kcache-cluster}"
LOG_DIR="${STATE_DIR}/logs"
RUN_DIR="${STATE_DIR}/run"
PKI_DIR="${STATE_DIR}/pki"
KUBECONFIG_ADMIN="${STATE_DIR}/admin.kubeconfig"

# Networks, all private to this machine. Each node is a network namespace
# (NETNS, named as the node) whose eth0 is a port of one bridge, the node LAN,
# in a namespace of its own (LAN_NS) that acts as the switch between the nodes
# and the host. Pods sit on a bridge inside their node's namespace, one /24 of
# CLUSTER_CIDR per node, and Service addresses exist only as each node's
# kube-proxy DNAT rules. No namespace has a default route, so nothing in the
# cluster can reach an address outside these ranges.
LAN_NS="kcache-net"
LAN_BRIDGE="kcache-lan"   # the switch, in LAN_NS
LAN_PREFIX="10.213.0"     # nodes are .1, .2, ...; the host is .254
HOST_IF="kcache0"         # the host's port on the node LAN
HOST_IP="${LAN_PREFIX}.254"
NODE_IF="eth0"            # each node's port on the node LAN, inside its namespace
POD_BRIDGE="kcache-br0"
SVC_IF="kcache-svc"   # empty bridge in each node namespace that Service addresses route to
CLUSTER_CIDR="10.214.0.0/16"   # node i's pods are 10.214.i.0/24
SERVICE_CIDR="10.215.0.0/24"
APISERVER_SERVICE_IP="10.215.0.1"
DNS_SERVICE_IP="10.215.0.10"
CLUSTER_DOMAIN="cluster.local"
# The API server runs in node 0's namespace and listens on that node's
# address, so the `kubernetes` Service (whose endpoint may not be a loopback
# address) points at a node, as on kind.
APISERVER_IP="${LAN_PREFIX}.1"
APISERVER_PORT=6443
MAX_NODES=9

node_ip() { echo "${LAN_PREFIX}.$(($1 + 1))"; }
node_pod_cidr() { echo "10.214.$1.0/24"; }

# node_vars I: the names and addresses of node I (0-based), as globals that
# the config writers and `start` use. Node 0 also hosts the control plane.
node_vars() {
  local i=$1
  NODE_INDEX=${i}
  NODE_NAME="kcache-node-${i}"
  NETNS=${NODE_NAME}
  NODE_IP=$(node_ip "${i}")
  local letters=abcdefghi
  NODE_ZONE="zone-${letters:i:1}"   # zone-a, zone-b, ... as in hack/e2e/kind.yaml
  NODE_LEG="kcache-n${i}"   # the node's port on the switch, in LAN_NS
  POD_CIDR=$(node_pod_cidr "${i}")
  POD_GATEWAY="10.214.${i}.1"
  NODE_DIR="${STATE_DIR}/nodes/${NODE_NAME}"   # containerd root, kubelet root, volumes
  NODE_RUN="${RUN_DIR}/${NODE_NAME}"
  # Every kubelet removes pod cgroups it does not know under its cgroup root,
  # so each node has its own: /kcache-node-I in every hierarchy.
  CGROUP_ROOT="/${NODE_NAME}"
  CONTAINERD_SOCK="${NODE_RUN}/containerd/containerd.sock"
}

# The nodes of the cluster that runs (or ran) here, by the state it left: a
# node directory or a namespace. Used by down.sh and status.sh, which must find
# every node whatever NODES says now.
present_nodes() {
  {
    find "${STATE_DIR}/nodes" -mindepth 1 -maxdepth 1 -type d -name 'kcache-node-*' -printf '%f\n' 2>/dev/null
    ip netns list 2>/dev/null | awk '$1 ~ /^kcache-node-[0-9]+$/ {print $1}'
  } | sort -u -t- -k3,3n
}

# components NODE...: every daemon's name, the control plane's and each node's.
components() {
  local n
  echo etcd kube-apiserver kube-controller-manager kube-scheduler
  for n in "$@"; do echo "${n}/containerd" "${n}/kubelet" "${n}/kube-proxy"; done
}

# nodes_word N: "1 node", "3 nodes".
nodes_word() { if (($1 == 1)); then echo "1 node"; else echo "$1 nodes"; fi; }

# ctr_node [ARGS...]: ctr against the current node's containerd, k8s.io namespace.
ctr_node() { ctr -a "${CONTAINERD_SOCK}" -n k8s.io "$@"; }

k8s_bin()   { echo "${TOOLS_DIR}/kubernetes-${KUBERNETES_VERSION}/bin/$1"; }
etcd_bin()  { echo "${TOOLS_DIR}/etcd-${ETCD_VERSION}/bin/etcd"; }
# The CoreDNS build is named by its version and its plugin list, so changing
# either rebuilds it (and its image).
COREDNS_BUILD="${COREDNS_VERSION}-$(printf '%s' "${COREDNS_PLUGINS}" | sha256sum | cut -c1-8)"
coredns_bin() { echo "${TOOLS_DIR}/coredns-${COREDNS_BUILD}/bin/coredns"; }
helm_bin()  { echo "${TOOLS_DIR}/helm-${HELM_VERSION}"; }
lpp_bin()   { echo "${TOOLS_DIR}/local-path-provisioner-${LOCAL_PATH_PROVISIONER_VERSION}/bin/local-path-provisioner"; }
IMAGES_DIR="${TOOLS_DIR}/cluster-images-${KUBERNETES_VERSION}"

log()  { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die()  { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

need_root() { [[ $(id -u) -eq 0 ]] || die "run as root: the cluster needs mounts, cgroups and network namespaces"; }

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      warn "timed out after ${secs}s waiting for ${what}"
      return 1
    fi
    sleep 1
  done
}

# --- processes ------------------------------------------------------------
# Every daemon runs in the node's network namespace with a pid file in RUN_DIR
# and a log in LOG_DIR. PID 1 here may not reap orphans, so a zombie counts as
# stopped.
# The control plane's processes are named by component (etcd, kube-apiserver);
# a node's by node and component (kcache-node-1/kubelet), so their pid files
# and logs are in RUN_DIR/<node>/ and LOG_DIR/<node>/.
in_node() { nsenter --net="/run/netns/${NETNS}" -- "$@"; }
in_lan() { nsenter --net="/run/netns/${LAN_NS}" -- "$@"; }

pid_of() { [[ -f ${RUN_DIR}/$1.pid ]] && cat "${RUN_DIR}/$1.pid"; }

alive() {
  local pid=$1 state
  [[ -n ${pid} && -r /proc/${pid}/stat ]] || return 1
  state=$(sed 's/.*) //' "/proc/${pid}/stat" | cut -d' ' -f1)
  [[ ${state} != Z && ${state} != X ]]
}

running() { alive "$(pid_of "$1" 2>/dev/null || true)"; }

# wait_ready NAME SECONDS COMMAND...: like wait_for, but gives up at once
# when the daemon NAME has exited.
wait_ready() {
  local name=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! running "${name}"; then warn "${name} exited (log: ${LOG_DIR}/${name}.log)"; return 1; fi
    if ((SECONDS >= deadline)); then warn "timed out after ${secs}s waiting for ${name}"; return 1; fi
    sleep 1
  done
}

# start NAME COMMAND...: start a daemon in the current node's namespace
# (NETNS), detached.
start() {
  local name=$1; shift
  if running "${name}"; then info "${name}: already running (pid $(pid_of "${name}"))"; return 0; fi
  mkdir -p "$(dirname "${LOG_DIR}/${name}")" "$(dirname "${RUN_DIR}/${name}")"
  printf '\n--- %s start: %s\n' "$(date -u +%FT%TZ)" "$*" >>"${LOG_DIR}/${name}.log"
  nsenter --net="/run/netns/${NETNS}" -- setsid "$@" >>"${LOG_DIR}/${name}.log" 2>&1 </dev/null &
  echo $! >"${RUN_DIR}/${name}.pid"
  info "${name}: started (pid $!, log ${LOG_DIR}/${name}.log)"
}

# stop NAME [SECONDS]: SIGTERM, then SIGKILL after the grace period.
stop() {
  local name=$1 grace=${2:-10} pid t0=${SECONDS}
  pid=$(pid_of "${name}" 2>/dev/null || true)
  if alive "${pid}"; then
    kill -TERM "${pid}" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while alive "${pid}" && ((SECONDS < deadline)); do sleep 0.2; done
    if alive "${pid}"; then kill -KILL "${pid}" 2>/dev/null || true; sleep 0.2; fi
    info "${name}: stopped ($((SECONDS - t0))s)"
  fi
  rm -f "${RUN_DIR}/${name}.pid"
}

# print_logs [NAME...]: the tail of each component's log, for failures.
print_logs() {
  local f names=("$@")
  ((${#names[@]})) || mapfile -t names < <(find "${LOG_DIR}" -maxdepth 2 -name '*.log' -printf '%P\n' 2>/dev/null | sed 's/\.log$//' | sort)
  for n in "${names[@]}"; do
    f="${LOG_DIR}/${n}.log"
    [[ -f ${f} ]] || continue
    printf '\n\033[1m----- %s (last 40 lines of %s)\033[0m\n' "${n}" "${f}" >&2
    tail -n 40 "${f}" >&2
  done
}

kubectl_admin() { "$(k8s_bin kubectl)" --kubeconfig "${KUBECONFIG_ADMIN}" "$@"; }

# --- host kernel settings ---------------------------------------------------
# The kubelet sets these host-wide sysctls, as on any node (they are not per
# network namespace). up.sh saves their values before the kubelet first runs
# and down.sh puts them back, so a stopped cluster leaves the kernel as it was.
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
SYSCTLS_SAVED="${STATE_DIR}/host-sysctls.orig"

save_host_sysctls() {
  [[ -f ${SYSCTLS_SAVED} ]] && return 0
  sysctl -e "${KUBELET_SYSCTLS[@]}" | sed 's/ = /=/' >"${SYSCTLS_SAVED}.tmp"
  mv "${SYSCTLS_SAVED}.tmp" "${SYSCTLS_SAVED}"
}

restore_host_sysctls() {
  [[ -f ${SYSCTLS_SAVED} ]] || return 0
  local kv
  while read -r kv; do sysctl -qw "${kv}" || warn "could not restore ${kv}"; done <"${SYSCTLS_SAVED}"
  info "restored host sysctls: $(tr '\n' ' ' <"${SYSCTLS_SAVED}")"
}
