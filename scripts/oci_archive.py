#!/usr/bin/env python3
"""Writes a container image archive from static binaries, without a registry or a daemon.

The archive is both an OCI image layout (oci-layout, index.json, blobs/) and a
docker-archive (manifest.json), as `docker save` writes since Docker 25, so that
`ctr images import`, `kind load image-archive`, `docker load` and
`podman load` all accept it. The image is FROM scratch: the binaries, an
/etc/passwd and /etc/group naming the non-root user, and empty /tmp and /data
directories owned by it. Timestamps are fixed, so the same binaries give the
same digests.

    oci_archive.py --name kcache-node:dev --file target/.../kcache-node:/kcache-node \
        --entrypoint /kcache-node --port 6379 --port 9121 --out target/images/kcache-node.tar
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

UID = 65532
EPOCH = 0  # 1970-01-01: reproducible layers
CREATED = "1970-01-01T00:00:00Z"


def _info(name, mode, kind=tarfile.REGTYPE, size=0, uid=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = EPOCH
    info.uid = info.gid = uid
    info.uname = info.gname = ""
    return info


def layer_tar(files):
    """An uncompressed layer tar: `files` maps image paths to host paths."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d, uid, mode in (("etc", 0, 0o755), ("tmp", UID, 0o1777), ("data", UID, 0o750)):
            tar.addfile(_info(d, mode, tarfile.DIRTYPE, uid=uid))
        text = {
            "etc/passwd": f"root:x:0:0:root:/:/sbin/nologin\nnonroot:x:{UID}:{UID}:nonroot:/:/sbin/nologin\n",
            "etc/group": f"root:x:0:\nnonroot:x:{UID}:\n",
        }
        for name, content in text.items():
            data = content.encode()
            tar.addfile(_info(name, 0o644, size=len(data)), io.BytesIO(data))
        for image_path, host_path in sorted(files.items()):
            with open(host_path, "rb") as f:
                data = f.read()
            tar.addfile(_info(image_path.lstrip("/"), 0o755, size=len(data)), io.BytesIO(data))
    return buf.getvalue()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def build(name, files, entrypoint, ports, labels):
    """Returns {path in archive: bytes} of the whole archive."""
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    diff = layer_tar(files)
    # mtime=0 in the gzip header keeps the compressed digest reproducible.
    layer = gzip.compress(diff, compresslevel=6, mtime=0)
    config = {
        "created": CREATED,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": f"{UID}:{UID}",
            "Entrypoint": entrypoint,
            "Env": ["PATH=/"],
            "WorkingDir": "/",
            "ExposedPorts": {f"{p}/tcp": {} for p in ports},
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha256(diff)]},
        "history": [{"created": CREATED, "created_by": "scripts/oci_archive.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + sha256(config_bytes),
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + sha256(layer),
                "size": len(layer),
            }
        ],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    repo, tag = name.rsplit(":", 1)
    full = repo if "/" in repo else "docker.io/library/" + repo
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + sha256(manifest_bytes),
                "size": len(manifest_bytes),
                "annotations": {
                    "io.containerd.image.name": f"{full}:{tag}",
                    "org.opencontainers.image.ref.name": tag,
                },
            }
        ],
    }
    blobs = {f"blobs/sha256/{sha256(b)}": b for b in (layer, config_bytes, manifest_bytes)}
    docker_manifest = [
        {
            "Config": f"blobs/sha256/{sha256(config_bytes)}",
            "RepoTags": [name],
            "Layers": [f"blobs/sha256/{sha256(layer)}"],
        }
    ]
    out = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
        "manifest.json": json.dumps(docker_manifest, sort_keys=True).encode(),
    }
    out.update(blobs)
    return out


def write_archive(path, entries):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("blobs", "blobs/sha256"):
            tar.addfile(_info(d, 0o755, tarfile.DIRTYPE))
        for name in sorted(entries):
            data = entries[name]
            tar.addfile(_info(name, 0o644, size=len(data)), io.BytesIO(data))
    os.replace(tmp, path)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="image name, like kcache-node:dev")
    p.add_argument("--file", action="append", required=True,
                   help="HOST_PATH:IMAGE_PATH of a binary to put in the image")
    p.add_argument("--entrypoint", required=True, help="entrypoint path in the image")
    p.add_argument("--port", action="append", type=int, default=[], help="exposed TCP port")
    p.add_argument("--label", action="append", default=[], help="KEY=VALUE image label")
    p.add_argument("--out", required=True, help="archive to write")
    args = p.parse_args(argv)
    files = {}
    for spec in args.file:
        host, sep, image = spec.rpartition(":")
        if not sep or not host or not image.startswith("/"):
            p.error(f"--file {spec!r}: expected HOST_PATH:/IMAGE_PATH")
        files[image] = host
    labels = dict(label.split("=", 1) for label in args.label)
    write_archive(args.out, build(args.name, files, [args.entrypoint], args.port, labels))
    print(f"wrote {args.out} ({args.name})")


if __name__ == "__main__":
    main(sys.argv[1:])
