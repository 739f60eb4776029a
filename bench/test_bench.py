"""Tests of bench.py: its parsers, and a `--quick` smoke run against a real
kcache-node and redis-server (`make bench-smoke`, part of `make test`)."""
import json
import os
import shutil
import subprocess

import pytest

import bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_BIN = os.environ.get("KCACHE_NODE_BIN", os.path.join(ROOT, "target", "release", "kcache-node"))

CSV = '''"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","357142.84","1.731","0.360","1.399","3.959","4.223","4.351"
"MSET (10 keys)","112994.35","6.464","0.656","5.839","11.271","11.719","12.231"
'''


def test_parse_csv_reads_rps_and_percentiles():
    rows = bench.parse_csv(CSV)
    assert rows["SET"] == {"rps": 357142.84, "p50_ms": 1.399, "p99_ms": 4.223}
    assert rows["MSET"]["p99_ms"] == 11.719
    assert bench.parse_csv("") == {}


def test_cpu_ticks_and_rss_of_this_process():
    before = bench.cpu_ticks(os.getpid())
    sum(i * i for i in range(2_000_000))
    assert bench.cpu_ticks(os.getpid()) > before
    assert bench.rss_bytes(os.getpid()) > 1 << 20


def test_resp_and_info_parsing():
    assert bench.resp("SET", "k", 5) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n5\r\n"
    info = "# Memory\r\nused_memory:123456\r\nused_memory_human:120K\r\n"
    assert bench.parse_info(info, "used_memory") == 123456
    assert bench.parse_info(info, "nope") is None


def test_collection_rows_are_in_the_default_set():
    for test in ("ZADD", "HSET", "LPUSH", "LPOP", "SADD", "ZRANGE"):
        assert test in bench.TESTS
    # redis-benchmark has no -t zrange: a custom command on a prepared key.
    assert bench.CUSTOM["ZRANGE"][0] == "ZRANGE"


def test_median_row():
    rows = [{"rps": 1.0, "p99_ms": 9.0}, {"rps": 3.0, "p99_ms": 1.0}, {"rps": 2.0, "p99_ms": 5.0}]
    assert bench.median_row(rows) == {"rps": 2.0, "p99_ms": 5.0}


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark not installed")
def test_quick_run_end_to_end(tmp_path):
    assert os.path.exists(NODE_BIN), "build kcache-node first (KCACHE_NODE_BIN)"
    out = tmp_path / "r.json"
    proc = subprocess.run(
        ["python3", os.path.join(ROOT, "bench", "bench.py"), "--quick", "--node", NODE_BIN,
         "--tests", "SET,GET,INCR,MSET,LPOP,ZRANGE", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| SET -P 1 |" in proc.stdout and "| GET -P 16 |" in proc.stdout
    assert "| LPOP -P 1 |" in proc.stdout and "| ZRANGE -P 16 |" in proc.stdout
    assert "Machine: " in proc.stdout
    result = json.loads(out.read_text())
    ran = {(r["test"], r["pipeline"]) for r in result["throughput"]}
    for test in ("SET", "GET", "INCR", "MSET", "LPOP", "ZRANGE"):
        assert {(test, 1), (test, 16)} <= ran or test in result["skipped"]
    for row in result["throughput"]:
        for side in ("kcache", "redis"):
            assert row[side]["rps"] > 0 and row[side]["p99_ms"] >= row[side]["p50_ms"]
    clustered = [r for r in result["throughput"] if "kcache_cluster" in r]
    assert {r["test"] for r in clustered} == {"SET", "GET", "INCR", "LPOP", "ZRANGE"}
    assert all(r["kcache_cluster"]["rps"] > 0 for r in clustered)
    assert "| cluster mode (one node, every slot) |" in proc.stdout
    for side in ("kcache", "kcache-cluster", "redis"):
        assert result["memory"][side]["keys"] == result["settings"]["memory_keys"]
        assert result["memory"][side]["rss_per_key"] > 0
    assert result["machine"]["nproc"] >= 1
    assert set(result["memory_collections"]) == {"hashes", "zsets", "bigzset"}
    assert "| 2000 sorted sets x 10 members |" in proc.stdout
