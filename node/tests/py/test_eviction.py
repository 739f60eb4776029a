"""redis-py against kcache-node: maxmemory and every eviction policy.

Each test fills a node past a limit of a few tens of MB (the allocator counter is
exact only to 256 KiB per thread, so small limits would be imprecise) and checks
INFO and the surviving keys. Assertions are statistical with wide margins; none
depends on timing."""
import time

import pytest
import redis

from conftest import Node

MB = 1024 * 1024
LIMIT = 24 * MB
VALUE = "v" * 1000
OOM = "command not allowed when used memory > 'maxmemory'."


def start(policy, *extra):
    return Node("--io-threads", "2", "--maxmemory", str(LIMIT), "--maxmemory-policy", policy, *extra)


def fill(c, prefix, indexes, ttl=None):
    p = c.pipeline(transaction=False)
    for n, i in enumerate(indexes, 1):
        p.set(f"{prefix}:{i}", VALUE, ex=ttl(i) if ttl else None)
        if n % 500 == 0:
            p.execute()
    p.execute()


def surviving(c, prefix, indexes):
    p = c.pipeline(transaction=False)
    for i in indexes:
        p.exists(f"{prefix}:{i}")
    return sum(p.execute())


def near_limit(c):
    """used_memory within 10% above the limit (polling while the background
    finishes an eviction) and not far below it."""
    deadline = time.monotonic() + 20
    used = c.info("memory")["used_memory"]
    while used > LIMIT * 1.1 and time.monotonic() < deadline:
        time.sleep(0.02)
        used = c.info("memory")["used_memory"]
    assert LIMIT * 0.6 <= used <= LIMIT * 1.1, used
    return used


@pytest.fixture
def nodes():
    started = []
    yield lambda policy, *extra: started.append(start(policy, *extra)) or started[-1]
    for n in started:
        n.stop()


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_hold_memory_near_the_limit(nodes, policy):
    c = nodes(policy).client()
    fill(c, "k", range(60_000))
    near_limit(c)
    evicted = c.info("stats")["evicted_keys"]
    assert evicted > 20_000
    assert c.info("memory")["maxmemory_policy"] == policy
    assert c.dbsize() <= 60_000 - evicted + 1


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_never_evict_keys_without_ttl(nodes, policy):
    c = nodes(policy).client()
    fill(c, "p", range(8000))
    fill(c, "t", range(30_000), ttl=lambda i: 3600 + i)
    near_limit(c)
    assert c.info("stats")["evicted_keys"] > 5000
    assert surviving(c, "p", range(8000)) == 8000
    # Nothing evictable once the TTL keys are gone: writes are refused.
    i = 8000
    with pytest.raises(redis.exceptions.OutOfMemoryError) as e:
        while i < 100_000:
            c.set(f"p:{i}", VALUE)
            i += 1
    assert str(e.value) == OOM
    assert c.info("keyspace")["db0"]["expires"] == 0
    assert surviving(c, "p", range(i)) == i


def test_volatile_ttl_prefers_the_shortest_ttls(nodes):
    c = nodes("volatile-ttl").client()
    fill(c, "t", range(27_000), ttl=lambda i: (10_000, 1_000_000)[i % 2] + i % 100)
    near_limit(c)
    short = surviving(c, "t", range(0, 27_000, 2)) / 13_500
    long = surviving(c, "t", range(1, 27_000, 2)) / 13_500
    assert long >= 0.9 and short <= long - 0.3, (short, long)


def test_allkeys_lfu_keeps_keys_read_often(nodes):
    c = nodes("allkeys-lfu").client()
    fill(c, "k", range(16_000))
    hot = range(0, 16_000, 10)
    for _ in range(3):
        p = c.pipeline(transaction=False)
        for i in hot:
            p.get(f"k:{i}")
        p.execute()
    assert c.object("freq", "k:0") >= 6
    fill(c, "new", range(16_000))
    near_limit(c)
    hot_r = surviving(c, "k", hot) / len(hot)
    cold = [i for i in range(16_000) if i % 10]
    cold_r = surviving(c, "k", cold) / len(cold)
    assert hot_r >= 0.9 and cold_r <= hot_r - 0.2, (hot_r, cold_r)


def test_noeviction_refuses_writes_in_both_protocols(nodes):
    n = nodes("noeviction")
    c = n.client(decode_responses=True)
    c.set("keep", "1")
    c.rpush("list", "a", "b")
    stored = 0
    with pytest.raises(redis.exceptions.OutOfMemoryError) as e:
        while stored < 200_000:
            c.set(f"k:{stored}", VALUE)
            stored += 1
    assert str(e.value) == OOM
    assert stored > 10_000
    # Stay clearly over the limit whatever small frees happen below.
    c.config_set("maxmemory", str(LIMIT // 2))
    # Reads and memory-freeing writes go on; DENYOOM commands are refused.
    assert c.get("keep") == "1"
    assert c.lpop("list") == "a"
    assert c.expire("keep", 100) is True
    for refused in (lambda: c.incr("n"), lambda: c.hset("h", "f", "v"), lambda: c.append("keep", "x")):
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            refused()
    c3 = n.client(protocol=3, decode_responses=True)
    with pytest.raises(redis.exceptions.OutOfMemoryError) as e3:
        c3.set("x", "y")
    assert str(e3.value) == OOM
    assert c3.get("keep") == "1"
    assert c.delete(*[f"k:{i}" for i in range(stored)]) == stored
    assert c.set("x", "y") is True
    assert c.info("stats")["evicted_keys"] == 0
    assert c.info("errorstats")["errorstat_OOM"]["count"] == 5
    c3.close()


def test_lowering_maxmemory_evicts_on_the_next_write(node):
    c = node.client()
    c.config_set("maxmemory-policy", "allkeys-random")
    fill(c, "k", range(40_000))
    assert c.info("memory")["used_memory"] > 40 * MB
    assert c.config_set("maxmemory", str(LIMIT))
    c.set("trigger", "1")
    assert c.info("stats")["evicted_keys"] > 0
    near_limit(c)


def test_lazy_eviction_of_large_hashes(nodes):
    c = nodes("allkeys-lru", "--lazyfree-lazy-eviction", "yes").client()
    for h in range(400):
        c.hset(f"h{h}", mapping={f"field{f}": "x" * 60 for f in range(1000)})
    near_limit(c)
    assert c.info("stats")["evicted_keys"] > 20
    deadline = time.monotonic() + 20
    while c.info("memory")["lazyfree_pending_objects"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert c.info("memory")["lazyfreed_objects"] > 0


def test_object_freq_after_reads(nodes):
    c = nodes("allkeys-lfu", "--lfu-log-factor", "0").client()
    c.set("k", "v")
    assert c.object("freq", "k") == 5
    for _ in range(100):
        c.get("k")
    assert c.object("freq", "k") == 105
    c.config_set("maxmemory-policy", "volatile-lru")
    with pytest.raises(redis.exceptions.ResponseError, match="LFU maxmemory policy is not selected"):
        c.object("freq", "k")
    assert isinstance(c.object("idletime", "k"), int)
