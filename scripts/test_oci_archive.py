"""Checks the archives of oci_archive.py: digests, references and contents agree."""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

sys.path.insert(0, os.path.dirname(__file__))
import oci_archive  # noqa: E402


def _archive(tmp_path):
    binary = tmp_path / "bin"
    binary.write_bytes(b"\x7fELF fake binary")
    out = tmp_path / "img.tar"
    oci_archive.main(["--name", "kcache-node:dev", "--file", f"{binary}:/kcache-node",
                      "--entrypoint", "/kcache-node", "--port", "6379", "--out", str(out)])
    with tarfile.open(out) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_oci_layout_is_consistent(tmp_path):
    files = _archive(tmp_path)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    desc = index["manifests"][0]
    assert desc["annotations"]["io.containerd.image.name"] == "docker.io/library/kcache-node:dev"
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    manifest = json.loads(files["blobs/sha256/" + desc["digest"].split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["Entrypoint"] == ["/kcache-node"]
    assert "6379/tcp" in config["config"]["ExposedPorts"]
    layer = files["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    diff = gzip.decompress(layer)
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(diff).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(diff)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["kcache-node"].mode == 0o755
    assert members["tmp"].uid == 65532
    assert b"nonroot:x:65532" in tar_file(diff, "etc/passwd")


def tar_file(diff, name):
    with tarfile.open(fileobj=io.BytesIO(diff)) as tar:
        return tar.extractfile(name).read()


def test_docker_manifest_points_at_the_same_blobs(tmp_path):
    files = _archive(tmp_path)
    docker = json.loads(files["manifest.json"])[0]
    assert docker["RepoTags"] == ["kcache-node:dev"]
    assert docker["Config"] in files
    assert all(layer in files for layer in docker["Layers"])


def test_archives_are_reproducible(tmp_path):
    a = _archive(tmp_path)
    b = _archive(tmp_path)
    assert a == b
