"""Cluster mode with real cluster clients: three shards of a primary and a
replica (local kcache-node processes) set up with TOPOLOGY MAP, driven by
redis-py's RedisCluster and `redis-cli -c`, checked by `redis-cli --cluster
check`; and side by side with `redis-server --cluster-enabled yes` for the
reply shapes and error strings."""

import subprocess

import pytest
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from conftest import Node, RedisServer, free_port, wait_until

RANGES = [(0, 5460), (5461, 10922), (10923, 16383)]


def shard_of(slot):
    return next(i for i, (a, b) in enumerate(RANGES) if a <= slot <= b)


def map_command(epoch, ids, nodes):
    """TOPOLOGY MAP for shard i = primary nodes[i], replica nodes[i + 3]."""
    args = ["TOPOLOGY", "MAP", epoch]
    for i, (a, b) in enumerate(RANGES):
        args += ["NODE", ids[i], "127.0.0.1", nodes[i].port, f"shard{i}-a", "PRIMARY", f"{a}-{b}"]
        args += ["NODE", ids[i + 3], "127.0.0.1", nodes[i + 3].port, f"shard{i}-b", "REPLICA", ids[i]]
    return args


@pytest.fixture(scope="module")
def cluster():
    nodes = [Node("--cluster-enabled", "yes") for _ in range(6)]
    ids = [n.client(decode_responses=True).execute_command("CLUSTER", "MYID") for n in nodes]
    cmd = map_command(1, ids, nodes)
    for n in nodes:
        assert n.client().execute_command(*cmd) in (b"OK", True)
    for n in nodes[3:]:
        c = n.client(decode_responses=True)
        wait_until(lambda: c.info("replication")["master_link_status"] == "up")
    yield nodes, ids
    for n in nodes:
        n.stop()


def tags_for_every_slot():
    """A hash tag per slot: keys `{tag}...` cover all 16384 slots."""
    tags = {}
    i = 0
    while len(tags) < 16384:
        t = str(i)
        tags.setdefault(key_slot(t.encode()), t)
        i += 1
    return [tags[s] for s in range(16384)]


def test_redis_py_cluster_client_writes_and_reads_every_slot(cluster):
    nodes, ids = cluster
    rc = RedisCluster(host="127.0.0.1", port=nodes[4].port, decode_responses=True)
    # The client learnt the topology from CLUSTER SLOTS: three primaries.
    primaries = sorted(n.port for n in rc.get_primaries())
    assert primaries == sorted(n.port for n in nodes[:3])
    tags = tags_for_every_slot()
    # Six keys in every slot (98,304), then 2,000 two-key MSETs: 102,304 keys.
    per_slot = 6
    pipe = rc.pipeline()
    for s, t in enumerate(tags):
        for j in range(per_slot):
            pipe.set(f"{{{t}}}:{j}", f"{s}:{j}")
    assert all(pipe.execute())
    for t in tags[:2000]:
        assert rc.mset({f"{{{t}}}:a": t, f"{{{t}}}:b": t + "b"})
    pipe = rc.pipeline()
    for t in tags:
        for j in range(per_slot):
            pipe.get(f"{{{t}}}:{j}")
    got = pipe.execute()
    want = [f"{s}:{j}" for s in range(16384) for j in range(per_slot)]
    assert got == want
    for t in tags[:2000:50]:
        assert rc.mget(f"{{{t}}}:a", f"{{{t}}}:b") == [t, t + "b"]
    # Each primary holds exactly its slots' keys, and its replica follows.
    want = [0, 0, 0]
    for s in range(16384):
        want[shard_of(s)] += per_slot
    for t in tags[:2000]:
        want[shard_of(key_slot(t.encode()))] += 2
    assert sum(want) == 102304
    for i in range(3):
        assert nodes[i].client().dbsize() == want[i]
        r = nodes[i + 3].client()
        wait_until(lambda: r.dbsize() == want[i])
    # The per-slot counts add up to the same.
    p0 = nodes[0].client()
    counted = sum(p0.execute_command("CLUSTER", "COUNTKEYSINSLOT", s) for s in range(*RANGES[0]))
    counted += p0.execute_command("CLUSTER", "COUNTKEYSINSLOT", RANGES[0][1])
    assert counted == want[0]
    # MOVED and CROSSSLOT as a plain client sees them.
    plain = nodes[0].client(decode_responses=True)
    far = f"{{{tags[16000]}}}:k"
    with pytest.raises(redis.exceptions.ResponseError) as e:
        plain.get(far)
    assert str(e.value) == f"16000 127.0.0.1:{nodes[2].port}"
    assert type(e.value).__name__ == "MovedError"
    with pytest.raises(redis.exceptions.ResponseError) as e:
        plain.execute_command("MSET", f"{{{tags[0]}}}", 1, f"{{{tags[1]}}}", 2)
    assert str(e.value) == "Keys in request don't hash to the same slot"
    rc.close()


def run_cli(*args):
    out = subprocess.run(["redis-cli", *map(str, args)], capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout


def test_redis_cli_follows_redirects_and_checks_the_cluster(cluster):
    nodes, ids = cluster
    key = "{" + str(next(i for i in range(10**6) if shard_of(key_slot(str(i).encode())) == 2)) + "}:cli"
    assert run_cli("-c", "-p", nodes[0].port, "SET", key, "hello") == (0, "OK\n")
    assert run_cli("-c", "-p", nodes[1].port, "GET", key) == (0, "hello\n")
    assert run_cli("-p", nodes[1].port, "GET", key)[1].startswith("MOVED")
    code, out = run_cli("--cluster", "check", f"127.0.0.1:{nodes[0].port}")
    assert code == 0, out
    assert "[OK] All nodes agree about slots configuration." in out
    assert "[OK] All 16384 slots covered." in out
    assert out.count("M: ") == 3 and out.count("S: ") == 3, out


def test_replies_side_by_side_with_redis_server():
    """One node serving every slot on both sides: the same replies, ids,
    ports and epochs aside."""
    theirs = RedisServer("--cluster-enabled", "yes", "--cluster-announce-hostname", "h",
                         "--cluster-announce-ip", "127.0.0.1", "--cluster-port", str(free_port()))
    ours = Node("--cluster-enabled", "yes")
    try:
        t = theirs.client()
        o = ours.client()
        assert t.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        oid = o.execute_command("CLUSTER", "MYID").decode()
        assert o.execute_command(
            "TOPOLOGY", "MAP", 1, "NODE", oid, "127.0.0.1", ours.port, "h", "PRIMARY", "0-16383"
        )
        wait_until(lambda: b"cluster_state:ok" in t.execute_command("CLUSTER", "INFO"))
        tid = t.execute_command("CLUSTER", "MYID").decode()

        def norm(v, mine):
            if isinstance(v, bytes):
                v = v.replace((tid if not mine else oid).encode(), b"<id>")
                return v.replace(str(ours.port if mine else theirs.port).encode(), b"<port>")
            if isinstance(v, list):
                return [norm(x, mine) for x in v]
            if isinstance(v, dict):
                return {k: norm(x, mine) for k, x in v.items()}
            if isinstance(v, int) and v == (ours.port if mine else theirs.port):
                return "<port>"
            return v

        def both(*cmd):
            out = []
            for c, mine in ((t, False), (o, True)):
                try:
                    out.append(norm(c.execute_command(*cmd), mine))
                except redis.exceptions.ResponseError as e:
                    out.append(("error", str(e)))
            return out

        for cmd in [
            ("CLUSTER", "KEYSLOT", "{user1000}.following"),
            ("CLUSTER", "COUNTKEYSINSLOT", "x"),
            ("CLUSTER", "COUNTKEYSINSLOT", 16384),
            ("CLUSTER", "GETKEYSINSLOT", 1, -1),
            ("CLUSTER", "GETKEYSINSLOT", "x", 1),
            ("CLUSTER", "REPLICAS", "nosuchnode"),
            ("CLUSTER", "SLOTS"),
            ("CLUSTER", "SHARDS"),
            ("SELECT", 1),
            ("SELECT", 0),
            ("MSET", "a", 1, "b", 2),
            ("MSET", "{a}1", 1, "{a}2", 2),
            ("CLUSTER", "COUNTKEYSINSLOT", key_slot(b"a")),
            ("CLUSTER", "GETKEYSINSLOT", key_slot(b"a"), 10),
            ("READONLY",),
            ("READWRITE",),
        ]:
            a, b = both(*cmd)
            if cmd[1:2] == ("GETKEYSINSLOT",) and isinstance(a, list):
                a, b = sorted(a), sorted(b)
            assert a == b, cmd
        tn = t.execute_command("CLUSTER", "NODES").decode().replace(tid, "<id>")
        on = o.execute_command("CLUSTER", "NODES").decode().replace(oid, "<id>")
        # Ports, the bus port and the config epoch differ by construction.
        tf, of = tn.split(" "), on.split(" ")
        assert [tf[i] for i in (2, 3, 4, 5, 7, 8)] == [of[i] for i in (2, 3, 4, 5, 7, 8)]
        ti = dict(l.split(":") for l in t.execute_command("CLUSTER", "INFO").decode().split("\r\n") if l)
        oi = dict(l.split(":") for l in o.execute_command("CLUSTER", "INFO").decode().split("\r\n") if l)
        assert set(oi) <= set(ti)
        for k in ("cluster_state", "cluster_slots_assigned", "cluster_known_nodes", "cluster_size"):
            assert oi[k] == ti[k], k
    finally:
        theirs.stop()
        ours.stop()
