#!/usr/bin/env bash
# Checks what the make targets need, in seconds and before any long build, and
# on Debian/Ubuntu as root installs what is missing (apt-get, pip), saying what
# and why. Elsewhere, or as another user, it stops with the command to run.
# Idempotent: with everything present it only checks (well under a second).
#
# Usage: hack/setup.sh [GROUP...]   (default: all)
#   test     `make test`: Rust (fmt, clippy), a C linker, redis-server and its
#            tools, Python with node/tests/py/requirements.txt, Go (helm)
#   build    what `make demo`, `make images` and `make helm` build with: Rust,
#            a C linker and static libc, Python, Go
#   cluster  the local Kubernetes (hack/cluster/): root, Go, containerd, runc,
#            the CNI plugins, iptables, conntrack, busybox-static, ...
#   all      all of the above (`make setup`)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# iptables, conntrack and sysctl live in sbin, which a user's PATH may lack;
# Go and rustup's tools where their installers put them.
export PATH="${PATH}:/usr/sbin:/sbin:/usr/local/go/bin:${CARGO_HOME:-${HOME}/.cargo}/bin"
T0=$(date +%s%N)

log() { printf '\033[1;34msetup:\033[0m %s\n' "$*"; }
die() { printf '\033[1;31msetup: error:\033[0m %s\n' "$*" >&2; exit 1; }
# elapsed [START]: seconds since START (date +%s%N), default the script's start.
elapsed() { local ms=$((($(date +%s%N) - ${1:-${T0}}) / 1000000)); printf '%d.%02ds' $((ms / 1000)) $((ms % 1000 / 10)); }

# ver_ge A B: version A >= version B (dotted numbers).
ver_ge() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]; }

GROUPS_WANTED=("$@")
((${#GROUPS_WANTED[@]})) || GROUPS_WANTED=(all)
for g in "${GROUPS_WANTED[@]}"; do
  [[ ${g} =~ ^(test|build|cluster|all)$ ]] || die "unknown group ${g} (test, build, cluster, all)"
done
want() {
  local g
  for g in "${GROUPS_WANTED[@]}"; do [[ ${g} == "$1" || ${g} == all ]] && return 0; done
  return 1
}

# --- Rust: cargo, rustc >= the workspace's rust-version, rustfmt, clippy ---
if want test || want build; then
  type -P cargo >/dev/null || die "cargo not found. Install Rust with rustup (https://rustup.rs), then: . \"\$HOME/.cargo/env\""
  msrv=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "${ROOT}/Cargo.toml")
  have=$(rustc --version | cut -d' ' -f2)
  ver_ge "${have%%-*}" "${msrv}" || die "rustc ${have} is older than the workspace's rust-version ${msrv}: rustup update stable"
fi

# --- Go: helm (make test's chart checks, make demo) and the local cluster ---
if want test || want build || want cluster; then
  go=$(type -P go || true)
  [[ -n ${go} ]] || die "Go not found (on PATH or /usr/local/go/bin/go): install it from https://go.dev/dl into /usr/local/go"
  # The newest `go` line of the modules built with it; builds use GOTOOLCHAIN=local.
  need_go=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "${ROOT}"/hack/cluster/tools/*/go.mod | sort -V | tail -n1)
  have_go=$(${go} env GOVERSION)
  have_go=${have_go#go}
  ver_ge "${have_go}" "${need_go}" || die "Go ${have_go} at ${go} is older than ${need_go}, which hack/cluster/tools/*/go.mod need: install a newer Go from https://go.dev/dl"
fi

IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1
if want cluster && ((!IS_ROOT)); then
  die "the local cluster needs root (mounts, cgroups, network namespaces): run as root, or install kind and Docker for make demo"
fi
if want cluster; then
  [[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpu ]] || [[ -f /sys/fs/cgroup/cgroup.controllers ]] ||
    die "no usable cgroup hierarchy under /sys/fs/cgroup (the kubelet needs one)"
fi

# --- Debian packages: PACKAGE PROBE WHY ---
# PROBE is a command (looked up on PATH) or an absolute path.
PKGS=()
need() { PKGS+=("$1|$2|$3"); }
if want test || want build || want cluster; then
  need gcc cc "the linker of every Rust build, and the C compiler of ring"
  need libc6-dev /usr/include/stdio.h "static glibc: the images' binaries and the pause image are static"
  need make make "the README's commands"
  need ca-certificates /etc/ssl/certs/ca-certificates.crt "HTTPS to crates.io and the Go module proxy"
fi
if want test; then
  need redis-server redis-server "the side-by-side and differential tests run redis-server as the reference"
  need redis-tools redis-cli "redis-cli and redis-benchmark, used by the tests and make bench"
  need procps kill "the tests signal nodes with kill"
fi
if want test || want build; then
  need python3 python3 "the client tests (pytest) and the image archive script"
fi
if want cluster; then
  need containerd containerd "each local cluster node's container runtime"
  need runc runc "the OCI runtime containerd starts containers with"
  need containernetworking-plugins /usr/lib/cni/bridge "the pods' network (bridge, host-local, portmap, loopback)"
  need iptables iptables "kube-proxy's Service rules"
  need conntrack conntrack "kube-proxy clears stale connections with it"
  need busybox-static busybox-static "the busybox image (tests, local-path helper pods) needs a static busybox"
  need iproute2 ip "network namespaces, the node LAN and the routes between nodes"
  need openssl openssl "the cluster's certificates (hack/cluster/pki.sh)"
  need curl curl "health checks of etcd and the API server"
  need procps sysctl "the node namespaces' and the kubelet's sysctls"
  need util-linux nsenter "running each node's daemons in its network namespace"
  need binutils strip "stripping the pause binary"
  need redis-tools redis-cli "make cluster-smoke pings a kcache-node pod with redis-cli"
fi

HAVE_DPKG=0
command -v dpkg-query >/dev/null && HAVE_DPKG=1
present() {
  local pkg=$1 probe=$2
  # A busybox that is not the static build is no use in a FROM-scratch image.
  if [[ ${pkg} == busybox-static ]]; then
    if ((HAVE_DPKG)); then dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; return; fi
    probe=/bin/busybox
  fi
  if [[ ${probe} == /* ]]; then [[ -e ${probe} ]]; else type -P "${probe}" >/dev/null; fi
}

missing=() why=()
for entry in "${PKGS[@]}"; do
  IFS='|' read -r pkg probe reason <<<"${entry}"
  present "${pkg}" "${probe}" && continue
  [[ " ${missing[*]} " == *" ${pkg} "* ]] && continue
  missing+=("${pkg}")
  why+=("${pkg}: ${reason}")
done

# --- Python packages (node/tests/py/requirements.txt) ---
REQS="${ROOT}/node/tests/py/requirements.txt"
# pip_missing: the requirements (name==version or name) absent or at another version.
pip_missing() {
  python3 - "${REQS}" <<'PY'
import sys
from importlib import metadata
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, _, ver = line.partition("==")
    try:
        have = metadata.version(name.strip())
    except metadata.PackageNotFoundError:
        have = None
    if have is None or (ver and have != ver.strip()):
        print(line)
PY
}
PIP_MISSING=""
if want test; then
  if type -P python3 >/dev/null; then PIP_MISSING=$(pip_missing); else PIP_MISSING=$(grep -v '^#' "${REQS}"); fi
  # pip itself, when the interpreter has none (Debian's python3 has not).
  if [[ -n ${PIP_MISSING} ]] && ! { type -P python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; }; then
    missing+=(python3-pip)
    why+=("python3-pip: pip, to install ${REQS#"${ROOT}"/}")
  fi
fi

# --- install, or say what to run ---
if ((${#missing[@]})); then
  if ((HAVE_DPKG)) && command -v apt-get >/dev/null && ((IS_ROOT)); then
    log "installing with apt-get: ${missing[*]}"
    printf '         %s\n' "${why[@]}"
    export DEBIAN_FRONTEND=noninteractive
    t=$(date +%s%N)
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    log "apt-get: installed ${#missing[@]} packages in $(elapsed "${t}")"
    # Debian starts these services at install; nothing here uses them (the
    # tests start redis-server on ports of their own and every cluster node runs
    # its own containerd), and a redis-server on 6379 would take `make run`'s port.
    for svc in redis-server containerd; do
      [[ " ${missing[*]} " == *" ${svc} "* ]] || continue
      if [[ -d /run/systemd/system ]]; then
        systemctl disable --now "${svc}" >/dev/null 2>&1 || true
      elif [[ -x /etc/init.d/${svc} ]]; then
        invoke-rc.d "${svc}" stop >/dev/null 2>&1 || true
        update-rc.d "${svc}" disable >/dev/null 2>&1 || true
      fi
      log "stopped and disabled the ${svc} service the package starts (not used here)"
    done
  else
    printf '%s\n' "${why[@]}" >&2
    if ((HAVE_DPKG)); then
      die "missing: ${missing[*]}. Run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    fi
    die "missing: ${missing[*]} (Debian package names). Install them with your system's package manager, then run this again."
  fi
fi
if [[ -n ${PIP_MISSING} ]]; then
  PIP_MISSING=$(pip_missing)
  pip_cmd=(env PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q -r "${REQS}")
  # Debian marks its Python as externally managed (PEP 668); pip then installs
  # into /usr/local/lib/python3*/dist-packages, beside Debian's packages, not over them.
  if python3 -c 'import sys, sysconfig, os; sys.exit(not (sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))))'; then
    pip_cmd+=(--break-system-packages)
  fi
fi
if [[ -n ${PIP_MISSING} ]]; then
  log "installing Python packages for the client tests: $(echo "${PIP_MISSING}" | tr '\n' ' ')(${pip_cmd[*]})"
  t=$(date +%s%N)
  "${pip_cmd[@]}" || die "pip failed; run: ${pip_cmd[*]}"
  log "pip: done in $(elapsed "${t}")"
fi

# --- Rust components for make lint, once the linker is there ---
if want test; then
  comps=()
  cargo fmt --version >/dev/null 2>&1 || comps+=(rustfmt)
  cargo clippy --version >/dev/null 2>&1 || comps+=(clippy)
  if ((${#comps[@]})); then
    type -P rustup >/dev/null || die "missing Rust components ${comps[*]}, and no rustup to add them with"
    log "adding Rust components for make lint: ${comps[*]} (rustup component add)"
    rustup component add "${comps[@]}"
  fi
fi

if ((${#missing[@]})) || [[ -n ${PIP_MISSING} ]]; then
  log "set-up done ($(elapsed)): ${GROUPS_WANTED[*]}"
else
  log "every prerequisite present ($(elapsed)): ${GROUPS_WANTED[*]}"
fi
