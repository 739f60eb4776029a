#!/usr/bin/env bash
# Builds every binary of the local cluster from its upstream Go module, one at a
# time and at low priority, into ${TOOLS_DIR}/<component>-<version>/bin.
# A binary already there is kept: only a version bump (or `--force`) rebuilds.
# Usage: build.sh [--force] [component...]   (default: all)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FORCE=0
if [[ ${1:-} == --force ]]; then FORCE=1; shift; fi
ALL=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns local-path-provisioner helm pause)
COMPONENTS=("$@")
((${#COMPONENTS[@]})) || COMPONENTS=("${ALL[@]}")

command -v go >/dev/null || die "go not found (expected /usr/local/go/bin/go)"

# versions.env is the one place versions are read from; the tools modules must
# agree with it, or a build would silently use another version.
check_pin() {
  local dir=$1 module=$2 version=$3
  grep -qE "^(require )?[[:space:]]*${module} ${version}( |$)" "${CLUSTER_DIR}/tools/${dir}/go.mod" ||
    die "tools/${dir}/go.mod does not require ${module} ${version} (versions.env); edit it and run go mod tidy there"
}
check_pin k8s k8s.io/kubernetes "${KUBERNETES_VERSION}"
check_pin k8s k8s.io/api "${KUBERNETES_STAGING_VERSION}"
check_pin etcd go.etcd.io/etcd/server/v3 "${ETCD_VERSION}"
check_pin coredns github.com/coredns/coredns "${COREDNS_VERSION}"
check_pin helm helm.sh/helm/v3 "${HELM_VERSION}"
check_pin local-path github.com/rancher/local-path-provisioner "${LOCAL_PATH_PROVISIONER_VERSION}"
TIMES_LOG="${TOOLS_DIR}/build-times.log"
# Progress: "[i/N] component", and how long each build took.
STEP=0
TOTAL=${#COMPONENTS[@]}
BUILT=0
step() { echo "[${STEP}/${TOTAL}]"; }
mkdir -p "${TOOLS_DIR}"

# The same -X stamps upstream's hack/lib/version.sh passes, so `kubectl version`
# and the API server's /version report the pinned release.
k8s_ldflags() {
  local v=${KUBERNETES_VERSION#v} major minor
  major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  local date flags="-s -w"
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    flags+=" -X '${pkg}.buildDate=${date}' -X '${pkg}.gitVersion=${KUBERNETES_VERSION}'"
    flags+=" -X '${pkg}.gitMajor=${major}' -X '${pkg}.gitMinor=${minor}'"
    flags+=" -X '${pkg}.gitTreeState=clean' -X '${pkg}.gitCommit=module-${KUBERNETES_VERSION}'"
  done
  echo "${flags}"
}

# go_build OUT MODULE_DIR PACKAGE CGO [extra go build args...]
# MODULE_DIR is a directory under tools/ or an absolute path.
go_build() {
  local out=$1 moddir=$2 pkg=$3 cgo=$4; shift 4
  local name start
  name=$(basename "${out}")
  if [[ -x ${out} && ${FORCE} -eq 0 ]]; then
    info "$(step) ${name}: cached (${out})"
    return 0
  fi
  log "$(step) building ${name} from ${pkg}"
  mkdir -p "$(dirname "${out}")"
  start=${SECONDS}
  [[ ${moddir} == /* ]] || moddir="${CLUSTER_DIR}/tools/${moddir}"
  (cd "${moddir}" &&
    GOTOOLCHAIN=local CGO_ENABLED=${cgo} GOFLAGS="-trimpath -buildvcs=false -mod=readonly" \
      nice -n 15 go build "$@" -o "${out}.tmp" "${pkg}")
  mv "${out}.tmp" "${out}"
  info "$(step) ${name}: built in $((SECONDS - start))s"
  BUILT=$((BUILT + 1))
  printf '%s %s %ss\n' "$(date -u +%FT%TZ)" "${name}" "$((SECONDS - start))" >>"${TIMES_LOG}"
}

k8s() {
  local name=$1
  # All static. Upstream links the kubelet with cgo, but it needs none of it
  # here, and a static kubelet reuses the build cache of the other components
  # (measured on two busy shared cores: 3 minutes instead of 7).
  go_build "$(k8s_bin "${name}")" k8s "k8s.io/kubernetes/cmd/${name}" 0 \
    -tags=selinux,notest,grpcnotrace -ldflags "$(k8s_ldflags)"
}

# CoreDNS with the plugins of COREDNS_PLUGINS only: a writable copy of the
# module (downloaded and checked against tools/coredns/go.sum), its plugin.cfg
# cut to that list, `go generate` (CoreDNS's generator writes the plugin
# imports and the directive order), then the usual build in that copy.
coredns() {
  local out src work
  out=$(coredns_bin)
  if [[ -x ${out} && ${FORCE} -eq 0 ]]; then info "$(step) coredns: cached (${out})"; return 0; fi
  log "$(step) coredns: a copy of github.com/coredns/coredns@${COREDNS_VERSION} with the plugins of COREDNS_PLUGINS"
  src=$(module_dir coredns "github.com/coredns/coredns@${COREDNS_VERSION}")
  work="${TOOLS_DIR}/coredns-${COREDNS_BUILD}/src"
  rm -rf "${work}"
  mkdir -p "$(dirname "${work}")"
  cp -r "${src}" "${work}"
  chmod -R u+w "${work}"
  local p
  for p in ${COREDNS_PLUGINS}; do
    grep -q "^${p}:" "${work}/plugin.cfg" || die "COREDNS_PLUGINS: no plugin ${p} in CoreDNS ${COREDNS_VERSION}'s plugin.cfg"
  done
  awk -v keep="${COREDNS_PLUGINS}" 'BEGIN { n = split(keep, k, " "); for (i = 1; i <= n; i++) want[k[i]] = 1 }
    /^#/ || /^$/ { print; next } { split($0, f, ":"); if (f[1] in want) print }' \
    "${src}/plugin.cfg" >"${work}/plugin.cfg"
  (cd "${work}" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly" go generate coredns.go)
  go_build "${out}" "${work}" . 0 -ldflags "-s -w"
  rm -rf "${work}"
}

# module_dir TOOLS_MODULE MODULE@VERSION: the module's directory in the module
# cache, downloaded through the tools module (so its go.sum verifies it).
module_dir() {
  (cd "${CLUSTER_DIR}/tools/$1" && go mod download -json "$2" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
}

# The sandbox ("pause") container's binary, compiled from the C source that
# ships in the k8s.io/kubernetes module, statically so it runs FROM scratch.
pause() {
  local out="${IMAGES_DIR}/bin/pause" src
  if [[ -x ${out} && ${FORCE} -eq 0 ]]; then info "$(step) pause: cached (${out})"; return 0; fi
  log "$(step) building pause from k8s.io/kubernetes@${KUBERNETES_VERSION}/build/pause"
  local start=${SECONDS}
  src=$(module_dir k8s "k8s.io/kubernetes@${KUBERNETES_VERSION}")
  mkdir -p "$(dirname "${out}")"
  nice -n 15 gcc -Os -Wall -Werror -static -DVERSION="${KUBERNETES_VERSION}-kcache" \
    -o "${out}" "${src}/build/pause/linux/pause.c"
  strip "${out}"
  info "$(step) pause: built in $((SECONDS - start))s"
  BUILT=$((BUILT + 1))
}

START=${SECONDS}
log "${TOTAL} components, built one at a time unless cached (all of them cold: about 8 minutes on two idle cores)"
for c in "${COMPONENTS[@]}"; do
  STEP=$((STEP + 1))
  case ${c} in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kube-proxy | kubectl) k8s "${c}" ;;
    etcd) go_build "$(etcd_bin)" etcd go.etcd.io/etcd/server/v3 0 -ldflags "-s -w" ;;
    coredns) coredns ;;
    helm) go_build "$(helm_bin)" helm helm.sh/helm/v3/cmd/helm 0 \
      -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" ;;
    local-path-provisioner) go_build "$(lpp_bin)" local-path github.com/rancher/local-path-provisioner 0 \
      -ldflags "-s -w -X main.VERSION=${LOCAL_PATH_PROVISIONER_VERSION}" ;;
    pause) pause ;;
    *) die "unknown component ${c} (known: ${ALL[*]})" ;;
  esac
done
log "built ${BUILT} of ${TOTAL} components in $((SECONDS - START))s, $((TOTAL - BUILT)) cached; binaries are under ${TOOLS_DIR}"
