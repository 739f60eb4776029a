#!/usr/bin/env python3
"""Memory overhead of a snapshot under a write load: kcache-node's BGSAVE
(copy-on-first-lock, `node/src/persist/snapshot.rs`) against redis-server's
fork.

For each server: load KEYS string keys of 100 bytes (`key:%012d`, the names
redis-benchmark's `-r` uses), start `redis-benchmark -t set -r KEYS` so writes
keep overwriting those keys, take the RSS under that load as the baseline,
reset the process's peak RSS (`/proc/<pid>/clear_refs` 5), BGSAVE, and read
the peak (`VmHWM`) once it finishes. kcache's overhead is its own peak over
the baseline (the target is <= 1.1x); redis-server's is the copy-on-write
its child reports (`rdb_last_cow_size`), since the copies live in the child.

With `--aof` the snapshot measured is BGREWRITEAOF instead (the AOF turned
on first with CONFIG SET appendonly yes, default RDB-preamble base): kcache's
rewrite runs on the same engine; redis-server's copy-on-write is its child's
`aof_last_cow_size`.

`python3 bench/snapshot.py --node target/release/kcache-node [--keys N] [--quick] [--aof]`
(`make bench-snapshot`). Standard library only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import bench

VALUE = b"v" * 100


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no %s for pid %d" % (field, pid))


def pipe_file(keys):
    fd, path = tempfile.mkstemp(prefix="kcache-snapshot-")
    with os.fdopen(fd, "wb") as f:
        chunk = []
        for i in range(keys):
            chunk.append(bench.resp("SET", "key:%012d" % i, VALUE))
            if len(chunk) == 10_000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))
    return path


def info(server, field):
    return bench.parse_info(bench.command(server.port, "INFO", "persistence"), field)


# What is measured: (command, INFO field while running, copy-on-write field).
BGSAVE = ("BGSAVE", "rdb_bgsave_in_progress", "rdb_last_cow_size")
REWRITE = ("BGREWRITEAOF", "aof_rewrite_in_progress", "aof_last_cow_size")


def wait_idle(server, field, deadline):
    while info(server, field) == 1:
        if time.time() > deadline:
            raise RuntimeError("%s never reached 0" % field)
        time.sleep(0.01)


def measure(server, path, keys, settle, what=BGSAVE):
    cmd, running, cow = what
    bench.load_keys(server, path, keys)
    if what is REWRITE:
        bench.command(server.port, "CONFIG", "SET", "appendonly", "yes")
        wait_idle(server, running, time.time() + 600)
    used, _ = server.used_memory()
    load = subprocess.Popen(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-t", "set",
         "-r", str(keys), "-d", "100", "-n", "100000000", "-c", "4", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Baseline: the highest RSS seen under the write load before the save.
        baseline = 0
        end = time.time() + settle
        while time.time() < end:
            baseline = max(baseline, status_kb(server.pid, "VmRSS"))
            time.sleep(0.05)
        with open("/proc/%d/clear_refs" % server.pid, "w") as f:
            f.write("5")
        started = time.time()
        bench.command(server.port, cmd)
        wait_idle(server, running, started + 600)
        seconds = time.time() - started
        peak = status_kb(server.pid, "VmHWM")
    finally:
        load.kill()
        load.wait()
    return {
        "keys": keys,
        "used_memory": used,
        "rss_baseline": baseline,
        "rss_peak_during_bgsave": peak,
        "peak_over_baseline": peak / baseline,
        "overhead_over_data": (peak - baseline) / used if used else None,
        "rdb_last_cow_size": info(server, cow),
        "bgsave_seconds": round(seconds, 2),
    }


def run(node, keys, settle=2.0, with_redis=True, aof=False):
    what = REWRITE if aof else BGSAVE
    path = pipe_file(keys)
    out = {}
    try:
        s = bench.start_node(node)
        try:
            out["kcache"] = measure(s, path, keys, settle, what)
        finally:
            s.stop()
        if with_redis and shutil.which("redis-server"):
            s = bench.start_redis(shutil.which("redis-server"))
            try:
                out["redis"] = measure(s, path, keys, settle, what)
            finally:
                s.stop()
    finally:
        os.unlink(path)
    return out


def report(res):
    k = res["kcache"]
    lines = [
        "| server | keys | used_memory | RSS under load | peak RSS in BGSAVE | peak/baseline | COW (queued) bytes | BGSAVE s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res.items():
        lines.append("| %s | %d | %.1f MB | %.1f MB | %.1f MB | %.3fx | %.1f MB | %.2f |" % (
            name, r["keys"], r["used_memory"] / 1e6, r["rss_baseline"] / 1e6,
            r["rss_peak_during_bgsave"] / 1e6, r["peak_over_baseline"],
            (r["rdb_last_cow_size"] or 0) / 1e6, r["bgsave_seconds"]))
    lines.append("")
    lines.append("kcache peak over baseline: %.3fx (target <= 1.1x)" % k["peak_over_baseline"])
    if "redis" in res:
        r = res["redis"]
        lines.append("redis-server child copy-on-write: %.1f MB (%.0f%% of used_memory); "
                     "its parent's RSS is not where the copies go" % (
                         (r["rdb_last_cow_size"] or 0) / 1e6,
                         100.0 * (r["rdb_last_cow_size"] or 0) / r["used_memory"]))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--node", required=True)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="50k keys, short settle")
    ap.add_argument("--no-redis", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--aof", action="store_true", help="measure BGREWRITEAOF instead of BGSAVE")
    a = ap.parse_args(argv)
    keys = 50_000 if a.quick else a.keys
    res = run(a.node, keys, settle=0.5 if a.quick else 2.0, with_redis=not a.no_redis,
              aof=a.aof)
    print(json.dumps(res, indent=2) if a.json else report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
