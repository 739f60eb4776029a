#!/usr/bin/env python3
"""Side-by-side benchmark of kcache-node and redis-server (`make bench`).

Starts both servers with equivalent settings (no persistence, each on a free
port), runs redis-benchmark against each in turn (interleaved per test, so drift
on a shared machine hits both alike), and records throughput, latency
percentiles and the server's CPU time per request (from /proc/<pid>/stat).
The same node in cluster mode (one node serving every slot) runs beside
them, for the cost of cluster mode. Then loads keys into fresh instances
and reports memory per key, and per
element of hashes and sorted sets (bench/memory.py). Prints
Markdown tables and writes JSON (default bench/results/latest.json).

Standard library only. `--quick` is a smoke run of a few seconds.
"""

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TESTS = ("SET", "GET", "INCR", "MSET", "ZADD", "HSET", "LPUSH", "LPOP", "SADD", "ZRANGE")
# Tests redis-benchmark has no -t for: run as its custom-command mode on data
# that `prepare` loads first (the same on both servers).
CUSTOM = {"ZRANGE": ("ZRANGE", "bench:zset", "0", "9")}
ZRANGE_MEMBERS = 1000
VALUE_BYTES = 32
PIPELINES = (1, 16)
# Tests whose keys span hash slots (CROSSSLOT in cluster mode): not run
# against the cluster-mode node.
MULTI_SLOT = ("MSET",)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(*args):
    """Encodes one request as a RESP multibulk."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_reply(f):
    """Reads one RESP2 reply from a file-like socket reader (enough for INFO, PING)."""
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed")
    kind, body = line[:1], line[1:-2]
    if kind in (b"+", b":"):
        return body.decode()
    if kind == b"-":
        raise RuntimeError(body.decode(errors="replace"))
    if kind == b"$":
        n = int(body)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if kind == b"*":
        return [read_reply(f) for _ in range(int(body))]
    raise RuntimeError("unexpected reply %r" % line)


def command(port, *args, timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(resp(*args))
        return read_reply(s.makefile("rb"))


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (fields 14 and 15 of stat)."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def parse_csv(text):
    """redis-benchmark --csv output: {test: {rps, p50, p99}} (latencies in ms)."""
    rows = {}
    lines = [l for l in text.splitlines() if l.startswith('"')]
    if not lines:
        return rows
    header = [h.strip('"') for h in lines[0].split(",")]
    for line in lines[1:]:
        cols = dict(zip(header, [c.strip('"') for c in line.split(",")]))
        name = cols["test"].split(" ")[0]
        rows[name] = {
            "rps": float(cols["rps"]),
            "p50_ms": float(cols["p50_latency_ms"]),
            "p99_ms": float(cols["p99_latency_ms"]),
        }
    return rows


def parse_info(text, field):
    m = re.search(r"^%s:(\d+)" % re.escape(field), text, re.M)
    return int(m.group(1)) if m else None


class Server:
    """A server process on a free port, stopped on exit."""

    def __init__(self, name, argv, port, http_port=None):
        self.name, self.port, self.http_port = name, port, http_port
        self.dir = tempfile.mkdtemp(prefix="kcache-bench-")
        self.proc = subprocess.Popen(
            argv, cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "KCACHE_LOG": "warn"},
        )
        deadline = time.time() + 20
        while True:
            try:
                if command(self.port, "PING", timeout=1) == "PONG":
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("%s did not start: %s" % (name, " ".join(argv)))
            time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def used_memory(self):
        """(bytes, source): INFO memory's used_memory, or the node's /metrics
        gauge where INFO is missing."""
        try:
            v = parse_info(command(self.port, "INFO", "memory"), "used_memory")
            if v is not None:
                return v, "INFO used_memory"
        except (RuntimeError, OSError):
            pass
        if self.http_port:
            url = "http://127.0.0.1:%d/metrics" % self.http_port
            with urllib.request.urlopen(url, timeout=5) as r:
                m = re.search(rb"^kcache_memory_used_bytes\s+([0-9.e+]+)", r.read(), re.M)
                if m:
                    return int(float(m.group(1))), "/metrics kcache_memory_used_bytes"
        return None, None

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        subprocess.run(["rm", "-rf", self.dir], check=False)


def start_node(path, cluster=False):
    """kcache-node; `cluster`: in cluster mode, given a map in which it serves
    every slot (TOPOLOGY MAP), so the same requests run with routing on."""
    port, http = free_port(), free_port()
    argv = [path, "--port", str(port), "--http-port", str(http), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", "."]
    if cluster:
        argv += ["--cluster-enabled", "yes"]
    s = Server("kcache-cluster" if cluster else "kcache", argv, port, http)
    if cluster:
        node_id = command(port, "CLUSTER", "MYID")
        command(port, "TOPOLOGY", "MAP", 1, "NODE", node_id, "127.0.0.1", port, "-",
                "PRIMARY", "0-16383")
    return s


def start_redis(path):
    port = free_port()
    argv = [path, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no"]
    return Server("redis", argv, port)


def pipelined(port, requests):
    """Sends `requests` (RESP-encoded) on one connection and reads every reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(b"".join(requests))
        f = s.makefile("rb")
        for _ in requests:
            read_reply(f)


def prepare(server, test, n):
    """Loads what a test reads, outside its measured time: the sorted set
    ZRANGE reads, and for LPOP at least `n` elements in redis-benchmark's
    `mylist` (LPOP on an empty list would measure a miss)."""
    if test == "ZRANGE":
        if command(server.port, "ZCARD", CUSTOM["ZRANGE"][1]) != str(ZRANGE_MEMBERS):
            args = [x for i in range(ZRANGE_MEMBERS) for x in (i, "member:%d" % i)]
            command(server.port, "ZADD", CUSTOM["ZRANGE"][1], *args)
    elif test == "LPOP":
        missing = n - int(command(server.port, "LLEN", "mylist"))
        value = b"x" * VALUE_BYTES
        reqs = []
        while missing > 0:
            k = min(missing, 1000)
            reqs.append(resp("RPUSH", "mylist", *([value] * k)))
            missing -= k
        for i in range(0, len(reqs), 100):
            pipelined(server.port, reqs[i:i + 100])


def run_benchmark(bench, server, test, pipeline, n, clients):
    """One redis-benchmark run; returns its numbers plus CPU µs per request."""
    argv = [bench, "-h", "127.0.0.1", "-p", str(server.port), "-c", str(clients),
            "-n", str(n), "-r", "100000", "-d", str(VALUE_BYTES), "-P", str(pipeline), "--csv"]
    argv += list(CUSTOM[test]) if test in CUSTOM else ["-t", test.lower()]
    prepare(server, test, n)
    before = cpu_ticks(server.pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    after = cpu_ticks(server.pid)
    if out.returncode != 0:
        raise RuntimeError("%s failed: %s %s" % (" ".join(argv), out.stdout, out.stderr))
    row = parse_csv(out.stdout).get(test)
    if row is None:
        raise RuntimeError("no %s row in redis-benchmark output:\n%s" % (test, out.stdout))
    row["cpu_us_per_req"] = (after - before) / CLK_TCK * 1e6 / n
    return row


def supports(server, test):
    """False when the server answers `ERR unknown command` (a branch without it)."""
    try:
        command(server.port, test)
    except RuntimeError as e:
        return not str(e).startswith("ERR unknown command")
    return True


def calibrate(bench, server, test, pipeline, clients, seconds, quick):
    """Requests that make one run last about `seconds` on this server."""
    if quick:
        return 2000
    probe = 20000 if pipeline == 1 else 100000
    rps = run_benchmark(bench, server, test, pipeline, probe, clients)["rps"]
    return int(min(max(rps * seconds, probe), 20_000_000))


def median_row(rows):
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def load_keys(server, pipe_file, n):
    out = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--pipe"],
        stdin=open(pipe_file, "rb"), capture_output=True, text=True, timeout=600,
    )
    if "errors: 0, replies: %d" % n not in out.stdout:
        raise RuntimeError("redis-cli --pipe into %s: %s %s" % (server.name, out.stdout, out.stderr))


def memory_test(args, n):
    """Loads n keys `key:N` with 32-byte values into fresh servers."""
    fd, pipe_file = tempfile.mkstemp(prefix="kcache-bench-keys-")
    with os.fdopen(fd, "wb") as f:
        chunk = []
        for i in range(n):
            chunk.append(resp("SET", "key:%d" % i, "v%031d" % i))
            if len(chunk) == 10000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))
    results = {}
    try:
        for name, start in (("kcache", lambda: start_node(args.node)),
                            ("kcache-cluster", lambda: start_node(args.node, cluster=True)),
                            ("redis", lambda: start_redis(args.redis))):
            s = start()
            try:
                base_rss, (base_used, _) = rss_bytes(s.pid), s.used_memory()
                load_keys(s, pipe_file, n)
                dbsize = int(command(s.port, "DBSIZE"))
                rss, (used, source) = rss_bytes(s.pid), s.used_memory()
                results[name] = {
                    "keys": dbsize,
                    "used_memory_source": source,
                    "rss_bytes": rss,
                    "rss_per_key": (rss - base_rss) / n,
                    "used_memory": used,
                    "used_memory_per_key": (used - base_used) / n if used is not None
                    and base_used is not None else None,
                }
            finally:
                s.stop()
    finally:
        os.unlink(pipe_file)
    return results


def version(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError as e:
        return "unavailable (%s)" % e


def machine(args):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            model = m.group(1).strip() if m else model
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "kcache_node": version([args.node, "--version"]),
        "redis_server": version([args.redis, "--version"]),
        "redis_benchmark": version([args.benchmark, "--version"]),
    }


def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def report(result):
    m = result["machine"]
    lines = [
        "Machine: %d CPUs, %s, Linux %s" % (m["nproc"], m["cpu"], m["kernel"]),
        "Versions: %s | %s | %s" % (m["kcache_node"], m["redis_server"], m["redis_benchmark"]),
        "Settings: %s" % result["settings"],
        "",
        "| test | kcache req/s | redis req/s | ratio | kcache p50/p99 ms | redis p50/p99 ms"
        " | kcache CPU µs/req | redis CPU µs/req | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["throughput"]:
        k, rd = r["kcache"], r["redis"]
        lines.append("| %s -P %d | %s | %s | %.2f | %.3f / %.3f | %.3f / %.3f | %.2f | %.2f | %s |" % (
            r["test"], r["pipeline"], fmt(k["rps"], ",.0f"), fmt(rd["rps"], ",.0f"),
            k["rps"] / rd["rps"], k["p50_ms"], k["p99_ms"], rd["p50_ms"], rd["p99_ms"],
            k["cpu_us_per_req"], rd["cpu_us_per_req"],
            fmt(k["cpu_us_per_req"] / rd["cpu_us_per_req"] if rd["cpu_us_per_req"] else None,
                ".2f")))
    clustered = [r for r in result["throughput"] if "kcache_cluster" in r]
    if clustered:
        lines += [
            "",
            "| cluster mode (one node, every slot) | off req/s | on req/s | ratio"
            " | off CPU µs/req | on CPU µs/req | CPU ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in clustered:
            k, c = r["kcache"], r["kcache_cluster"]
            lines.append("| %s -P %d | %s | %s | %.2f | %.2f | %.2f | %s |" % (
                r["test"], r["pipeline"], fmt(k["rps"], ",.0f"), fmt(c["rps"], ",.0f"),
                c["rps"] / k["rps"], k["cpu_us_per_req"], c["cpu_us_per_req"],
                fmt(c["cpu_us_per_req"] / k["cpu_us_per_req"] if k["cpu_us_per_req"] else None,
                    ".2f")))
    if result["skipped"]:
        lines.append("\nNot run (unknown to this kcache-node): %s" % " ".join(result["skipped"]))
    mem = result["memory"]
    lines += [
        "",
        "| memory (%d keys, 32-byte values) | keys | RSS MB | RSS B/key | used_memory MB"
        " | used_memory B/key |" % result["settings"]["memory_keys"],
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("kcache", "kcache-cluster", "redis"):
        v = mem[name]
        used = v["used_memory"]
        lines.append("| %s | %d | %.1f | %.1f | %s | %s |" % (
            name, v["keys"], v["rss_bytes"] / 2**20, v["rss_per_key"],
            fmt(used / 2**20 if used is not None else None, ".1f"),
            fmt(v["used_memory_per_key"], ".1f")))
    lines.append("\nused_memory from: " + "; ".join(
        "%s %s" % (name, mem[name]["used_memory_source"])
        for name in ("kcache", "kcache-cluster", "redis")))
    if "memory_collections" in result:
        import memory
        lines += ["", memory.report(result["memory_collections"])]
    return "\n".join(lines)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--node", required=True, help="path to the kcache-node binary")
    p.add_argument("--redis", default="redis-server", help="redis-server binary")
    p.add_argument("--benchmark", default="redis-benchmark", help="redis-benchmark binary")
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    p.add_argument("--seconds", type=float, default=3.0, help="target length of one run")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--keys", type=int, default=1_000_000, help="keys for the memory test")
    p.add_argument("--tests", default=",".join(TESTS))
    p.add_argument("--quick", action="store_true", help="smoke run: tiny runs, one repeat")
    p.add_argument("--out", default=os.path.join(here, "results", "latest.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.repeat, args.clients, args.keys = 1, 10, 20000
    tests = [t.strip().upper() for t in args.tests.split(",") if t.strip()]

    result = {
        "machine": machine(args),
        "settings": {"clients": args.clients, "random_keys": 100000, "value_bytes": VALUE_BYTES,
                     "repeat": args.repeat, "quick": args.quick, "memory_keys": args.keys,
                     "persistence": "off (--save '' --appendonly no)"},
        "throughput": [],
        "skipped": [],
    }
    servers = {"kcache": start_node(args.node), "redis": start_redis(args.redis),
               "kcache-cluster": start_node(args.node, cluster=True)}
    try:
        for test in tests:
            if not supports(servers["kcache"], test):
                result["skipped"].append(test)
                continue
            for pipeline in PIPELINES:
                n = calibrate(args.benchmark, servers["redis"], test, pipeline, args.clients,
                              args.seconds, args.quick)
                names = ["kcache", "redis"]
                if test not in MULTI_SLOT:
                    names.append("kcache-cluster")
                runs = {name: [] for name in names}
                for rep in range(args.repeat):
                    # Rotate who goes first, so none always runs on a warmer machine.
                    order = names[rep % len(names):] + names[:rep % len(names)]
                    for name in order:
                        runs[name].append(run_benchmark(args.benchmark, servers[name], test,
                                                        pipeline, n, args.clients))
                row = {"test": test, "pipeline": pipeline, "requests": n,
                       "kcache": median_row(runs["kcache"]), "redis": median_row(runs["redis"])}
                if "kcache-cluster" in runs:
                    row["kcache_cluster"] = median_row(runs["kcache-cluster"])
                result["throughput"].append(row)
                print("%s -P %d: kcache %.0f req/s, redis %.0f req/s" % (
                    test, pipeline, row["kcache"]["rps"], row["redis"]["rps"]),
                    file=sys.stderr, flush=True)
    finally:
        for s in servers.values():
            s.stop()
    result["memory"] = memory_test(args, args.keys)
    # Collections (hashes, sorted sets) per element: bench/memory.py.
    import memory
    result["memory_collections"] = memory.run(args.node, args.redis, args.quick)

    print(report(result))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print("\nwrote %s" % args.out)
    return result


if __name__ == "__main__":
    main()
