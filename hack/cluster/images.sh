#!/usr/bin/env bash
# Packs the cluster's own images as OCI archives (FROM scratch, one layer),
# from binaries built here: nothing is pulled. Writes ${IMAGES_DIR}/*.tar:
#   pause                  the pod sandbox, from k8s.io/kubernetes build/pause
#   busybox                Debian's busybox-static, for tests and the local-path helper pods
#   coredns                cluster DNS
#   local-path-provisioner the default StorageClass
# Usage: images.sh            (build every archive that is missing)
#        images.sh pack NAME:TAG ROOTFS_DIR OUT.tar [--cmd] [ENTRYPOINT...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PAUSE_IMAGE="registry.k8s.io/pause:3.10.1"
BUSYBOX_IMAGE="kcache.local/busybox:1.35"
COREDNS_IMAGE="kcache.local/coredns:${COREDNS_BUILD}"
LPP_IMAGE="kcache.local/local-path-provisioner:${LOCAL_PATH_PROVISIONER_VERSION}"
# Archive names carry the versions, so a version bump packs a new archive.
PAUSE_TAR="${IMAGES_DIR}/pause.tar"
BUSYBOX_TAR="${IMAGES_DIR}/busybox.tar"
COREDNS_TAR="${IMAGES_DIR}/coredns-${COREDNS_BUILD}.tar"
LPP_TAR="${IMAGES_DIR}/local-path-provisioner-${LOCAL_PATH_PROVISIONER_VERSION}.tar"
# shellcheck disable=SC2034 # read by up.sh, which sources this file
CLUSTER_IMAGE_ARCHIVES=("${PAUSE_TAR}" "${BUSYBOX_TAR}" "${COREDNS_TAR}" "${LPP_TAR}")

sha() { sha256sum "$1" | cut -d' ' -f1; }

# pack NAME:TAG ROOTFS OUT [--cmd] [ENTRYPOINT...]: a reproducible single-layer OCI
# archive whose index names the image, as `ctr images import` expects.
pack() {
  local ref=$1 rootfs=$2 out=$3; shift 3
  local work entry="" layer config manifest diffid
  work=$(mktemp -d)
  mkdir -p "${work}/blobs/sha256"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "${rootfs}" -cf "${work}/layer.tar" .
  diffid=$(sha "${work}/layer.tar")
  gzip -n -9 "${work}/layer.tar"
  layer=$(sha "${work}/layer.tar.gz")
  mv "${work}/layer.tar.gz" "${work}/blobs/sha256/${layer}"
  local key=Entrypoint
  if [[ ${1:-} == --cmd ]]; then key=Cmd; shift; fi
  if (($#)); then entry=$(printf '"%s",' "$@"); entry="\"${key}\":[${entry%,}],"; fi
  printf '{"architecture":"amd64","os":"linux","config":{%s"Env":["PATH=/bin:/usr/bin:/sbin:/usr/sbin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "${entry}" "${diffid}" >"${work}/config.json"
  config=$(sha "${work}/config.json")
  mv "${work}/config.json" "${work}/blobs/sha256/${config}"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
    "${config}" "$(stat -c %s "${work}/blobs/sha256/${config}")" "${layer}" "$(stat -c %s "${work}/blobs/sha256/${layer}")" >"${work}/manifest.json"
  manifest=$(sha "${work}/manifest.json")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"},"platform":{"architecture":"amd64","os":"linux"}}]}' \
    "${manifest}" "$(stat -c %s "${work}/manifest.json")" "${ref}" "${ref##*:}" >"${work}/index.json"
  mv "${work}/manifest.json" "${work}/blobs/sha256/${manifest}"
  echo '{"imageLayoutVersion":"1.0.0"}' >"${work}/oci-layout"
  mkdir -p "$(dirname "${out}")"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "${work}" -cf "${out}.tmp" oci-layout index.json blobs
  mv "${out}.tmp" "${out}"
  rm -rf "${work}"
  info "$(basename "${out}"): ${ref}"
}

# rootfs_with DIR FILE...: a scratch rootfs with the given static binaries in /bin.
rootfs_with() {
  local dir=$1; shift
  rm -rf "${dir}"; mkdir -p "${dir}/bin" "${dir}/etc" "${dir}/tmp"
  chmod 1777 "${dir}/tmp"
  echo 'root:x:0:0:root:/:/bin/sh' >"${dir}/etc/passwd"
  echo 'root:x:0:' >"${dir}/etc/group"
  cp "$@" "${dir}/bin/"
}

build_all() {
  local work
  work=$(mktemp -d)
  mkdir -p "${IMAGES_DIR}"
  log "packing cluster images into ${IMAGES_DIR}"
  if [[ ! -f ${PAUSE_TAR} ]]; then
    [[ -x ${IMAGES_DIR}/bin/pause ]] || "${CLUSTER_DIR}/build.sh" pause
    rootfs_with "${work}/pause" "${IMAGES_DIR}/bin/pause"
    pack "${PAUSE_IMAGE}" "${work}/pause" "${PAUSE_TAR}" /bin/pause
  fi
  if [[ ! -f ${BUSYBOX_TAR} ]]; then
    # The image has no libc: only the static build runs in it.
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
      die "busybox-static is not installed: hack/setup.sh cluster (or apt-get install busybox-static)"
    rootfs_with "${work}/busybox" /bin/busybox
    local applet
    for applet in $(/bin/busybox --list); do
      [[ ${applet} == busybox ]] || ln -sf busybox "${work}/busybox/bin/${applet}"
    done
    pack "${BUSYBOX_IMAGE}" "${work}/busybox" "${BUSYBOX_TAR}" --cmd sh
  fi
  if [[ ! -f ${COREDNS_TAR} ]]; then
    rootfs_with "${work}/coredns" "$(coredns_bin)"
    pack "${COREDNS_IMAGE}" "${work}/coredns" "${COREDNS_TAR}" /bin/coredns
  fi
  if [[ ! -f ${LPP_TAR} ]]; then
    rootfs_with "${work}/lpp" "$(lpp_bin)"
    pack "${LPP_IMAGE}" "${work}/lpp" "${LPP_TAR}" /bin/local-path-provisioner
  fi
  rm -rf "${work}"
}

# When sourced (by up.sh) only the names and functions are wanted.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  case ${1:-} in
    pack) shift; pack "$@" ;;
    "") build_all ;;
    *) die "usage: images.sh [pack NAME:TAG ROOTFS OUT [--cmd] [ENTRYPOINT...]]" ;;
  esac
fi
