"""A --quick run of snapshot.py against a real kcache-node (and redis-server):
the BGSAVE completes under the write load and every figure is reported."""
import os
import shutil

import pytest

import snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_BIN = os.environ.get("KCACHE_NODE_BIN", os.path.join(ROOT, "target", "release", "kcache-node"))


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark not installed")
def test_quick_snapshot_measurement():
    assert os.path.exists(NODE_BIN), "build kcache-node first (KCACHE_NODE_BIN)"
    res = snapshot.run(NODE_BIN, 20_000, settle=0.3, with_redis=False)
    k = res["kcache"]
    assert k["keys"] == 20_000
    assert k["rss_peak_during_bgsave"] > 0 and k["rss_baseline"] > 0
    assert k["rdb_last_cow_size"] > 0
    assert "kcache peak over baseline" in snapshot.report(res)


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark not installed")
def test_quick_rewrite_measurement():
    assert os.path.exists(NODE_BIN), "build kcache-node first (KCACHE_NODE_BIN)"
    res = snapshot.run(NODE_BIN, 20_000, settle=0.3, with_redis=False, aof=True)
    k = res["kcache"]
    assert k["keys"] == 20_000
    assert k["rss_peak_during_bgsave"] > 0
    assert k["rdb_last_cow_size"] > 0
