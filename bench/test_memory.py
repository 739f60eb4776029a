"""Tests of memory.py: the requests it generates, and a --quick run of the
collection memory comparison against a real kcache-node and redis-server."""
import os
import shutil

import pytest

import memory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_BIN = os.environ.get("KCACHE_NODE_BIN", os.path.join(ROOT, "target", "release", "kcache-node"))


def test_commands_build_every_element_once():
    reqs = list(memory.commands("hashes", 3, 10, 10))
    assert len(reqs) == 3
    assert reqs[0].startswith(b"*22\r\n$4\r\nHSET\r\n$6\r\nhash:0\r\n$7\r\nfield:0\r\n")
    big = list(memory.commands("bigzset", 1, 2500, 1000))
    assert [r.split(b"\r\n")[0] for r in big] == [b"*2002", b"*2002", b"*1002"]
    members = [m for r in big for m in r.split(b"\r\n") if m.startswith(b"member:")]
    assert len(set(members)) == 2500


def test_write_pipe_file_counts_replies(tmp_path):
    path, replies = memory.write_pipe_file("zsets", 7, 10, 10)
    try:
        assert replies == 7
        with open(path, "rb") as f:
            assert f.read().count(b"ZADD") == 7
    finally:
        os.unlink(path)


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server not installed")
def test_quick_comparison_end_to_end():
    assert os.path.exists(NODE_BIN), "build kcache-node first (KCACHE_NODE_BIN)"
    results = memory.run(NODE_BIN, quick=True)
    assert set(results) == {"hashes", "zsets", "bigzset"}
    for name, row in results.items():
        for side in ("kcache", "redis"):
            keys = 1 if name == "bigzset" else row["keys"]
            assert row[side]["keys"] == keys
            assert row[side]["used_memory_per_element"] > 0
    assert results["hashes"]["kcache"]["encoding"] == "listpack"
    assert results["bigzset"]["redis"]["encoding"] == "skiplist"
    table = memory.report(results)
    assert "| 2000 hashes x 10 fields | listpack / listpack |" in table
