"""redis-py against kcache-node: hash and set commands in RESP2 and RESP3,
encodings and their transitions, plus a side-by-side run of one script on
redis-server with unordered replies sorted."""

import pytest
import redis


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def rr(node, request):
    c = node.client(protocol=request.param, decode_responses=True)
    yield c
    c.close()


def test_hash_basics(rr):
    assert rr.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert rr.hset("h", "a", "3") == 0
    assert rr.hget("h", "a") == "3"
    assert rr.hget("h", "zz") is None
    assert rr.hmget("h", ["a", "zz", "b"]) == ["3", None, "2"]
    assert rr.hsetnx("h", "a", "x") == 0
    assert rr.hsetnx("h", "c", "x") == 1
    assert rr.hlen("h") == 3
    assert rr.hstrlen("h", "c") == 1
    assert rr.hexists("h", "c") is True
    assert rr.hkeys("h") == ["a", "b", "c"]
    assert rr.hvals("h") == ["3", "2", "x"]
    assert rr.hgetall("h") == {"a": "3", "b": "2", "c": "x"}
    assert rr.hgetall("missing") == {}
    assert rr.hdel("h", "a", "zz") == 1
    assert rr.hincrby("h", "n", 5) == 5
    assert rr.hincrbyfloat("h", "f", 1.5) == 1.5
    assert rr.hincrbyfloat("h", "f", "0.25") == 1.75
    with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
        rr.hincrby("h", "c", 1)
    with pytest.raises(redis.ResponseError, match="hash value is not a float"):
        rr.hincrbyfloat("h", "c", 1)
    assert rr.hdel("h", "b", "c", "n", "f") == 4
    assert rr.exists("h") == 0
    rr.set("s", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        rr.hget("s", "a")


def test_hrandfield_and_hscan(rr):
    rr.hset("h", mapping={f"f{i}": str(i) for i in range(20)})
    assert rr.hrandfield("missing") is None
    assert rr.hrandfield("h") in {f"f{i}" for i in range(20)}
    picked = rr.hrandfield("h", 5)
    assert len(set(picked)) == 5
    rep = rr.hrandfield("h", -30, withvalues=True)
    # RESP2 sends a flat list, RESP3 a list of [field, value] pairs.
    if rep and isinstance(rep[0], list):
        assert all(len(p) == 2 for p in rep)
        rep = [x for p in rep for x in p]
    assert len(rep) == 60
    for f, v in zip(rep[::2], rep[1::2]):
        assert f == f"f{v}"
    assert rr.hrandfield("h", 0) == []
    cursor, items = rr.hscan("h", 0, match="f1*")
    assert cursor == 0
    assert items == {f"f{i}": str(i) for i in [1] + list(range(10, 20))}
    assert dict(rr.hscan_iter("h")) == {f"f{i}": str(i) for i in range(20)}


def test_hash_encodings(r):
    r.hset("small", "f", "v")
    assert r.object("encoding", "small") == "listpack"
    r.hset("long", "f", "x" * 65)
    assert r.object("encoding", "long") == "hashtable"
    r.config_set("hash-max-listpack-entries", 3)
    r.hset("grow", mapping={"a": 1, "b": 2, "c": 3})
    assert r.object("encoding", "grow") == "listpack"
    r.hset("grow", "d", 4)
    assert r.object("encoding", "grow") == "hashtable"
    r.hdel("grow", "a", "b", "c")
    assert r.object("encoding", "grow") == "hashtable"
    assert r.hgetall("grow") == {"d": "4"}


def test_set_basics(rr):
    assert rr.sadd("s", 1, 2, 3) == 3
    assert rr.sadd("s", 3, "x") == 1
    assert rr.scard("s") == 4
    assert rr.sismember("s", "x") in (True, 1)
    assert rr.smismember("s", [1, "nope"]) in ([1, 0], [True, False])
    assert rr.smembers("s") == {"1", "2", "3", "x"}
    assert rr.srem("s", "x", "nope") == 1
    rr.sadd("t", 2, 3, 4)
    assert rr.sinter("s", "t") == {"2", "3"}
    assert rr.sunion("s", "t") == {"1", "2", "3", "4"}
    assert rr.sdiff("s", "t") == {"1"}
    assert rr.sintercard(2, ["s", "t"]) == 2
    assert rr.sintercard(2, ["s", "t"], limit=1) == 1
    assert rr.sinterstore("d", ["s", "t"]) == 2
    assert rr.sunionstore("d", ["s", "t"]) == 4
    assert rr.sdiffstore("d", ["s", "t"]) == 1
    assert rr.sdiffstore("d", ["s", "s"]) == 0
    assert rr.exists("d") == 0
    assert rr.smove("s", "t", 1) is True
    assert rr.smove("s", "t", 1) is False
    assert rr.srandmember("missing") is None
    assert set(rr.srandmember("t", 10)) == {"1", "2", "3", "4"}
    assert len(rr.srandmember("t", -10)) == 10
    popped = rr.spop("t", 2)
    assert len(popped) == 2
    assert rr.scard("t") == 2
    assert set(rr.sscan_iter("t")) | set(popped) == {"1", "2", "3", "4"}
    with pytest.raises(redis.ResponseError, match="must be positive"):
        rr.spop("t", -1)
    rr.set("str", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        rr.sinter("t", "str")


def test_set_encodings(r):
    r.sadd("i", *range(512))
    assert r.object("encoding", "i") == "intset"
    r.sadd("i", 512)
    assert r.object("encoding", "i") == "hashtable"
    r.sadd("j", 1, 2)
    assert r.object("encoding", "j") == "intset"
    r.sadd("j", "a")
    assert r.object("encoding", "j") == "hashtable"
    r.srem("j", "a")
    assert r.object("encoding", "j") == "hashtable"
    r.sunionstore("k", "j")
    assert r.object("encoding", "k") == "intset"


# --- Side by side with redis-server -----------------------------------------

@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(node, redis_port, request):
    theirs = redis.Redis(port=redis_port, protocol=request.param, decode_responses=True)
    ours = node.client(protocol=request.param, decode_responses=True)
    yield ours, theirs
    ours.close()
    theirs.close()


BIG_HASH = ("HSET", "bh") + tuple(x for i in range(513) for x in (f"f{i}", str(i)))
BIG_SET = ("SADD", "bs") + tuple(str(i) for i in range(513))

SIDE_BY_SIDE = [
    ("HSET", "h", "a", "1", "b", "2"), ("HSET", "h", "a"), ("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h"),
    ("HMGET", "h", "a", "x"), ("HSETNX", "h", "a", "9"), ("HINCRBY", "h", "a", "x"), ("HINCRBY", "h", "a", "41"),
    ("HINCRBYFLOAT", "h", "c", "2.5e1"), ("HINCRBYFLOAT", "h", "c", "nan"), ("HSTRLEN", "h", "c"),
    ("HRANDFIELD", "h", "10", "WITHVALUES"), ("HRANDFIELD", "h", "-1", "WITHVALUES", "x"),
    ("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"), ("HSCAN", "h", "0"), ("HSCAN", "h", "0", "COUNT", "0"),
    ("OBJECT", "ENCODING", "h"), BIG_HASH, ("OBJECT", "ENCODING", "bh"), ("HLEN", "bh"), ("HGETALL", "bh"),
    ("HSET", "hv", "f", "x" * 65), ("OBJECT", "ENCODING", "hv"), ("HDEL", "h", "a", "b", "c"), ("EXISTS", "h"),
    ("SADD", "s", "3", "1", "2"), ("SMEMBERS", "s"), ("OBJECT", "ENCODING", "s"), ("SADD", "s", "x"),
    ("OBJECT", "ENCODING", "s"), ("SMEMBERS", "s"), ("SMISMEMBER", "s", "1", "q"), ("SADD", "t", "2", "5"),
    ("SINTER", "s", "t"), ("SUNION", "s", "t"), ("SDIFF", "s", "t"), ("SINTERCARD", "2", "s", "t", "LIMIT", "-1"),
    ("SINTERSTORE", "d", "s", "t"), ("OBJECT", "ENCODING", "d"), ("SUNIONSTORE", "d", "s", "t"),
    ("SDIFFSTORE", "d", "t", "t"), ("EXISTS", "d"), ("SMOVE", "s", "t", "x"), ("SMOVE", "s", "t", "x"),
    ("SPOP", "missing", "2"), ("SPOP", "s", "-2"), ("SRANDMEMBER", "t", "10"), ("SRANDMEMBER", "t", "0"),
    ("SSCAN", "t", "0"), ("SSCAN", "missing", "0", "COUNT", "0"), BIG_SET, ("OBJECT", "ENCODING", "bs"),
    ("SCARD", "bs"), ("SMEMBERS", "bs"), ("SET", "str", "v"), ("SADD", "str", "1"), ("HSET", "str", "a", "1"),
    ("SUNION", "missing", "str"), ("SMOVE", "t", "str", "2"),
]

UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "SRANDMEMBER", "HGETALL", "HKEYS", "HVALS", "HSCAN", "SSCAN", "HRANDFIELD"}


def _norm(value):
    if isinstance(value, dict):
        return sorted(value.items())
    if isinstance(value, (list, set, tuple)):
        return sorted((_norm(v) if isinstance(v, (list, set, dict, tuple)) else v for v in value), key=repr)
    return value


def _outcome(client, cmd):
    try:
        reply = client.execute_command(*cmd)
    except redis.ResponseError as e:
        return ("error", str(e))
    if cmd[0] in UNORDERED:
        reply = _norm(reply)
    return ("ok", reply)


def test_same_outcomes_as_redis_server(pair):
    ours, theirs = pair
    diffs = []
    for cmd in SIDE_BY_SIDE:
        got, want = _outcome(ours, cmd), _outcome(theirs, cmd)
        if got != want:
            diffs.append(f"{cmd[:6]}: node={str(got)[:300]} redis={str(want)[:300]}")
    assert not diffs, "\n".join(diffs)
