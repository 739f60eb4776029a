"""redis-py against kcache-node: keyspace commands and expiry, RESP2 and RESP3,
plus a side-by-side run of the same commands on redis-server."""
import datetime

import pytest
import redis

from conftest import wait_until


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def rr(node, request):
    c = node.client(protocol=request.param, decode_responses=True)
    yield c
    c.close()


def test_type_exists_touch_unlink(rr):
    rr.set("a", "1")
    rr.set("b", "2")
    assert rr.type("a") == "string"
    assert rr.type("missing") == "none"
    assert rr.exists("a", "b", "missing", "a") == 3
    assert rr.touch("a", "missing") == 1
    assert rr.unlink("a", "missing") == 1
    assert rr.delete("b", "b") == 1
    assert rr.exists("a", "b") == 0


def test_expire_family_and_options(rr):
    rr.set("k", "v")
    assert rr.ttl("k") == -1
    assert rr.pttl("k") == -1
    assert rr.expiretime("k") == -1
    assert rr.ttl("missing") == -2
    assert rr.expire("k", 100, xx=True) is False
    assert rr.expire("k", 100, gt=True) is False  # no TTL counts as infinite
    assert rr.expire("k", 100, lt=True) is True
    assert rr.ttl("k") == 100
    assert 99_000 < rr.pttl("k") <= 100_000
    assert rr.expire("k", 50, gt=True) is False
    assert rr.expire("k", 200, gt=True) is True
    assert rr.expire("k", 300, nx=True) is False
    assert rr.pexpire("k", 5000, xx=True) is True
    assert rr.ttl("k") == 5
    assert rr.persist("k") is True
    assert rr.persist("k") is False
    assert rr.ttl("k") == -1
    with pytest.raises(redis.ResponseError, match="NX and XX, GT or LT options at the same time are not compatible"):
        rr.execute_command("EXPIRE", "k", 10, "NX", "XX")
    with pytest.raises(redis.ResponseError, match="GT and LT options at the same time are not compatible"):
        rr.execute_command("EXPIRE", "k", 10, "GT", "LT")
    with pytest.raises(redis.ResponseError, match="Unsupported option foo"):
        rr.execute_command("EXPIRE", "k", 10, "foo")
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'expire' command"):
        rr.expire("k", 2**63 - 1)
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'pexpire' command"):
        rr.pexpire("k", 2**63 - 1)
    # A negative or past time deletes the key and still answers 1.
    assert rr.expire("k", -1) is True
    assert rr.exists("k") == 0
    assert rr.expire("missing", 10) is False


def test_expireat_and_expiretime(rr):
    rr.set("k", "v")
    when = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)
    assert rr.expireat("k", when) is True
    assert rr.expiretime("k") == 4102444800
    assert rr.pexpiretime("k") == 4102444800000
    assert rr.pexpireat("k", 4102444800123) is True
    assert rr.pexpiretime("k") == 4102444800123
    assert rr.expiretime("k") == 4102444800
    assert rr.pexpireat("k", 1) is True
    assert rr.get("k") is None


def test_rename_copy_move(rr):
    rr.set("src", "v", ex=1000)
    assert rr.rename("src", "dst") is True
    assert rr.ttl("dst") == 1000
    assert rr.get("dst") == "v"
    with pytest.raises(redis.ResponseError, match="no such key"):
        rr.rename("src", "x")
    rr.set("other", "o")
    assert rr.renamenx("dst", "other") is False
    assert rr.renamenx("dst", "fresh") is True
    assert rr.copy("fresh", "copied") is True
    assert rr.copy("fresh", "copied") is False
    assert rr.copy("other", "copied", replace=True) is True
    assert rr.get("copied") == "o"
    assert rr.copy("fresh", "fresh", destination_db=2) is True
    with pytest.raises(redis.ResponseError, match="source and destination objects are the same"):
        rr.copy("fresh", "fresh")
    assert rr.move("fresh", 2) is False  # already there
    assert rr.move("copied", 3) is True
    assert rr.exists("copied") == 0
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        rr.move("other", 99)
    with pytest.raises(redis.ResponseError, match="source and destination objects are the same"):
        rr.move("other", 0)


def test_swapdb_and_flush(node, rr):
    rr.set("in0", "x")
    other = node.client(db=1, decode_responses=True)
    other.set("in1", "y")
    assert rr.swapdb(0, 1) is True
    assert rr.get("in1") == "y"
    assert other.get("in0") == "x"
    with pytest.raises(redis.ResponseError, match="invalid first DB index"):
        rr.swapdb("x", 0)
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        rr.swapdb(0, 99)
    assert rr.flushdb(asynchronous=True) is True
    assert rr.dbsize() == 0
    assert other.dbsize() == 1
    assert rr.flushall() is True
    assert other.dbsize() == 0
    with pytest.raises(redis.ResponseError, match="syntax error"):
        rr.execute_command("FLUSHALL", "NOW")
    other.close()


def test_keys_scan_randomkey(rr):
    assert rr.randomkey() is None
    for i in range(100):
        rr.set(f"user:{i}", i)
    rr.set("config", "c")
    assert sorted(rr.keys("user:1?")) == sorted(f"user:{i}" for i in range(10, 20))
    assert rr.keys("nomatch*") == []
    seen = list(rr.scan_iter(match="user:*", count=7))
    assert sorted(seen) == sorted(f"user:{i}" for i in range(100))
    assert len(list(rr.scan_iter(_type="string"))) == 101
    assert list(rr.scan_iter(_type="zset")) == []
    cursor, batch = rr.scan(0, count=1000)
    assert cursor == 0 and len(batch) == 101
    with pytest.raises(redis.ResponseError, match="invalid cursor"):
        rr.execute_command("SCAN", "abc")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        rr.scan(0, count=0)
    assert rr.randomkey() in {f"user:{i}" for i in range(100)} | {"config"}


def test_object(rr):
    rr.set("int", "12345")
    rr.set("short", "hello")
    rr.set("long", "x" * 100)
    assert rr.object("encoding", "int") == "int"
    assert rr.object("encoding", "short") == "embstr"
    assert rr.object("encoding", "long") == "raw"
    assert rr.object("encoding", "missing") is None
    assert rr.object("refcount", "short") == 1
    assert rr.object("idletime", "short") == 0
    with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is not selected"):
        rr.object("freq", "short")
    with pytest.raises(redis.ResponseError, match="unknown subcommand 'NOPE'. Try OBJECT HELP."):
        rr.execute_command("OBJECT", "NOPE", "short")
    help_lines = rr.execute_command("OBJECT", "HELP")
    assert help_lines[0].startswith("OBJECT <subcommand>")


def test_expired_keys_vanish_from_every_reply(rr):
    rr.set("keep", "k")
    rr.set("gone", "v", px=30)
    assert rr.exists("gone") == 1
    wait_until(lambda: rr.pttl("gone") == -2)
    assert rr.get("gone") is None
    assert rr.type("gone") == "none"
    assert rr.keys("*") == ["keep"]
    assert list(rr.scan_iter()) == ["keep"]
    assert rr.randomkey() == "keep"


# --- Side by side with redis-server -----------------------------------------

@pytest.fixture
def redis_server(redis_port):
    c = redis.Redis(port=redis_port, decode_responses=True)
    yield c
    c.close()


SIDE_BY_SIDE = [
    ("SET", "a", "1"), ("SET", "b", "hello"), ("SET", "t", "v", "EX", "500"),
    ("TYPE", "a"), ("TYPE", "zz"), ("EXISTS", "a", "zz", "a"), ("TOUCH", "a", "zz"),
    ("EXPIRE", "a", "100", "NX"), ("EXPIRE", "a", "100", "NX"), ("TTL", "a"),
    ("EXPIRE", "a", "10", "XX", "LT"), ("TTL", "a"), ("EXPIRE", "a", "x"), ("EXPIRE", "a", "1", "bad"),
    ("EXPIREAT", "b", "4102444800"), ("EXPIRETIME", "b"), ("PEXPIRETIME", "b"), ("PERSIST", "b"),
    ("PEXPIRE", "b", "-5"), ("EXISTS", "b"),
    ("RENAME", "t", "t2"), ("TTL", "t2"), ("RENAME", "zz", "y"), ("RENAMENX", "t2", "a"),
    ("COPY", "t2", "c"), ("COPY", "t2", "c"), ("COPY", "t2", "c", "REPLACE"), ("COPY", "t2", "c", "DB", "x"),
    ("MOVE", "c", "1"), ("MOVE", "c", "1"), ("MOVE", "a", "0"), ("MOVE", "a", "16"),
    ("SWAPDB", "0", "1"), ("KEYS", "*"), ("SWAPDB", "0", "1"), ("KEYS", "*"), ("KEYS", "t?"),
    ("SCAN", "0", "COUNT", "100"), ("SCAN", "0", "COUNT", "100", "MATCH", "a*"), ("SCAN", "x"),
    ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "TYPE", "string", "COUNT", "100"),
    ("OBJECT", "ENCODING", "a"), ("OBJECT", "ENCODING", "zz"), ("OBJECT", "FREQ", "a"), ("OBJECT", "X"),
    ("UNLINK", "a", "zz"), ("FLUSHDB", "SYNC"), ("RANDOMKEY",), ("FLUSHALL", "ASYNC"), ("FLUSHALL", "X"),
    ("DBSIZE",),
]


def _outcome(client, cmd):
    try:
        reply = client.execute_command(*cmd)
    except redis.ResponseError as e:
        return ("error", str(e))
    name = cmd[0].upper()
    if name == "KEYS":
        reply = sorted(reply)
    if name == "SCAN":
        reply = [reply[0], sorted(reply[1])]
    return ("ok", reply)


def test_same_outcomes_as_redis_server(node, redis_server):
    ours = node.client(decode_responses=True)
    diffs = []
    for cmd in SIDE_BY_SIDE:
        got, want = _outcome(ours, cmd), _outcome(redis_server, cmd)
        if got != want:
            diffs.append(f"{cmd}: node={got!r} redis={want!r}")
    ours.close()
    assert not diffs, "\n".join(diffs)
