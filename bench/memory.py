#!/usr/bin/env python3
"""Memory of collections, kcache-node against redis-server in the same run.

The data-structures target: kcache must need no more memory than redis-server for
100k hashes of 10 fields, 100k sorted sets of 10 members (both in their compact
encodings) and one sorted set of 1M members (the large encoding). For each
workload a fresh server of each kind is started, its empty-server RSS and
used_memory taken as the baseline, the data loaded with `redis-cli --pipe`, and
the deltas reported per element (field or member).

`bench.py` calls [`run`] and [`report`]; this file also runs on its own:
`python3 bench/memory.py --node target/release/kcache-node [--quick]`.
Standard library only.
"""

import argparse
import json
import os
import sys
import tempfile

import bench

# (name, what an element is, keys, elements per key, elements per command)
WORKLOADS = (
    ("hashes", "hashes x %d fields", 100_000, 10, 10),
    ("zsets", "sorted sets x %d members", 100_000, 10, 10),
    ("bigzset", "sorted set x %d members", 1, 1_000_000, 1000),
)
# --quick: the same shapes, 50x smaller.
QUICK_DIVISOR = 50


def commands(name, keys, per_key, per_cmd):
    """Yields the RESP requests that build one workload."""
    for k in range(keys):
        for start in range(0, per_key, per_cmd):
            idx = range(start, min(start + per_cmd, per_key))
            if name == "hashes":
                args = ["HSET", "hash:%d" % k]
                for i in idx:
                    args += ["field:%d" % i, "value:%08d" % (k * per_key + i)]
            else:
                args = ["ZADD", "zset:%d" % k]
                for i in idx:
                    n = k * per_key + i
                    # Scores with a fraction so they are real doubles, members
                    # unique across the whole data set.
                    args += ["%d.%d" % (n % 100_000, n % 7), "member:%08d" % n]
            yield bench.resp(*args)


def write_pipe_file(name, keys, per_key, per_cmd):
    """Writes the workload to a temporary file; returns (path, replies expected)."""
    fd, path = tempfile.mkstemp(prefix="kcache-bench-%s-" % name)
    replies = 0
    with os.fdopen(fd, "wb") as f:
        chunk = []
        for req in commands(name, keys, per_key, per_cmd):
            chunk.append(req)
            replies += 1
            if len(chunk) == 10_000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))
    return path, replies


def measure(server, path, replies, elements, sample_key):
    """Loads the file into an empty server; returns its memory deltas and the
    encoding of `sample_key`."""
    base_rss, (base_used, source) = bench.rss_bytes(server.pid), server.used_memory()
    bench.load_keys(server, path, replies)
    rss, (used, _) = bench.rss_bytes(server.pid), server.used_memory()
    try:
        encoding = bench.command(server.port, "OBJECT", "ENCODING", sample_key)
    except RuntimeError as e:
        encoding = "error: %s" % e
    delta_used = used - base_used if used is not None and base_used is not None else None
    return {
        "keys": int(bench.command(server.port, "DBSIZE")),
        "encoding": encoding,
        "rss_delta": rss - base_rss,
        "rss_per_element": (rss - base_rss) / elements,
        "used_memory_delta": delta_used,
        "used_memory_per_element": delta_used / elements if delta_used is not None else None,
        "used_memory_source": source,
    }


def run(node, redis="redis-server", quick=False):
    """Every workload on fresh servers of both kinds: {workload: {...}}."""
    results = {}
    for name, desc, keys, per_key, per_cmd in WORKLOADS:
        if quick:
            if keys > 1:
                keys //= QUICK_DIVISOR
            else:
                per_key //= QUICK_DIVISOR
        elements = keys * per_key
        path, replies = write_pipe_file(name, keys, per_key, per_cmd)
        row = {"description": ("%d " + desc) % (keys, per_key), "keys": keys,
               "elements": elements}
        try:
            for kind, start in (("kcache", lambda: bench.start_node(node)),
                                ("redis", lambda: bench.start_redis(redis))):
                s = start()
                try:
                    row[kind] = measure(s, path, replies, elements,
                                        "hash:0" if name == "hashes" else "zset:0")
                finally:
                    s.stop()
        finally:
            os.unlink(path)
        results[name] = row
        print("memory %s: kcache %.1f B/element, redis %.1f B/element (used_memory)" % (
            name, row["kcache"]["used_memory_per_element"] or 0,
            row["redis"]["used_memory_per_element"] or 0), file=sys.stderr, flush=True)
    return results


def report(results):
    """A Markdown table of [`run`]'s results."""
    lines = [
        "| collections | encoding (kcache / redis) | kcache used B/elem | redis used B/elem"
        " | used ratio | kcache RSS B/elem | redis RSS B/elem | RSS ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results.values():
        k, r = row["kcache"], row["redis"]

        def ratio(a, b):
            return bench.fmt(a / b if a is not None and b else None, ".2f")

        lines.append("| %s | %s / %s | %s | %s | %s | %.1f | %.1f | %s |" % (
            row["description"], k["encoding"], r["encoding"],
            bench.fmt(k["used_memory_per_element"], ".1f"),
            bench.fmt(r["used_memory_per_element"], ".1f"),
            ratio(k["used_memory_per_element"], r["used_memory_per_element"]),
            k["rss_per_element"], r["rss_per_element"],
            ratio(k["rss_per_element"], r["rss_per_element"])))
    lines.append("\nDeltas over an empty server of the same kind, loaded with redis-cli --pipe;"
                 " elements are hash fields or sorted-set members.")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--node", required=True, help="path to the kcache-node binary")
    p.add_argument("--redis", default="redis-server", help="redis-server binary")
    p.add_argument("--quick", action="store_true", help="50x smaller data sets")
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args(argv)
    results = run(args.node, args.redis, args.quick)
    print(report(results))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    return results


if __name__ == "__main__":
    main()
