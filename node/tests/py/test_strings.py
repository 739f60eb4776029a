"""redis-py against kcache-node: string and bit commands in RESP2 and RESP3."""
import pytest
import redis


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def rp(node, request):
    c = node.client(protocol=request.param, decode_responses=True)
    yield c
    c.close()


def test_set_family(rp):
    assert rp.set("a", "1") is True
    assert rp.set("a", "2", nx=True) is None
    assert rp.set("a", "3", xx=True, get=True) == "1"
    assert rp.setnx("b", "x") is True
    assert rp.setnx("b", "y") is False
    assert rp.execute_command("SETEX", "c", 100, "v") in (True, "OK")
    assert rp.psetex("d", 100000, "v") is True
    assert rp.getset("a", "4") == "3"
    assert rp.getdel("a") == "4"
    assert rp.getdel("a") is None
    assert rp.getex("c", ex=50) == "v"
    assert rp.getex("c", persist=True) == "v"
    assert rp.getex("missing", px=10) is None
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'setex' command"):
        rp.execute_command("SETEX", "c", 0, "v")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        rp.execute_command("GETEX", "c", "EX", "1", "PX", "1")


def test_multi_key(rp):
    assert rp.mset({"m1": "a", "m2": "b"}) is True
    assert rp.mget("m1", "m2", "m3") == ["a", "b", None]
    assert rp.msetnx({"m3": "c", "m1": "z"}) is False
    assert rp.get("m3") is None
    assert rp.msetnx({"m3": "c", "m4": "d"}) is True
    assert rp.mget(["m3", "m4"]) == ["c", "d"]
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'mset' command"):
        rp.execute_command("MSET", "x")


def test_editing(rp):
    assert rp.append("s", "Hello") == 5
    assert rp.append("s", " World") == 11
    assert rp.strlen("s") == 11
    assert rp.strlen("nothing") == 0
    assert rp.getrange("s", 0, 4) == "Hello"
    assert rp.getrange("s", -5, -1) == "World"
    assert rp.getrange("nothing", 0, -1) == ""
    assert rp.substr("s", 6, 7) == "Wo"
    assert rp.setrange("s", 6, "Redis") == 11
    assert rp.get("s") == "Hello Redis"
    assert rp.setrange("pad", 3, "x") == 4
    assert rp.get("pad") == "\x00\x00\x00x"
    with pytest.raises(redis.ResponseError, match="offset is out of range"):
        rp.setrange("s", -1, "x")


def test_counters(rp):
    assert rp.incr("n") == 1
    assert rp.incrby("n", 10) == 11
    assert rp.decr("n") == 10
    assert rp.decrby("n", 20) == -10
    rp.set("n", "9223372036854775807")
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        rp.incr("n")
    rp.set("n", "abc")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        rp.incr("n")
    rp.set("f", "10.50")
    assert rp.incrbyfloat("f", 0.1) == 10.6
    assert rp.get("f") == "10.6"
    assert rp.incrbyfloat("g", "0.1") == 0.1
    rp.incrbyfloat("g", "0.2")
    assert rp.get("g") == "0.3"
    rp.set("h", "5.0e3")
    rp.incrbyfloat("h", "2.0e2")
    assert rp.get("h") == "5200"
    with pytest.raises(redis.ResponseError, match="increment would produce NaN or Infinity"):
        rp.incrbyfloat("h", "inf")
    with pytest.raises(redis.ResponseError, match="value is not a valid float"):
        rp.incrbyfloat("h", "x")


def test_lcs(rp):
    rp.mset({"l1": "ohmytext", "l2": "mynewtext"})
    assert rp.lcs("l1", "l2") == "mytext"
    assert rp.lcs("l1", "l2", len=True) == 6
    res = rp.lcs("l1", "l2", idx=True, minmatchlen=4, withmatchlen=True)
    matches = res["matches"] if isinstance(res, dict) else res[1]
    length = res["len"] if isinstance(res, dict) else res[3]
    assert matches == [[[4, 7], [5, 8], 4]]
    assert length == 6


def test_bits(rp):
    assert rp.setbit("b", 7, 1) == 0
    assert rp.setbit("b", 7, 1) == 1
    assert rp.getbit("b", 7) == 1
    assert rp.getbit("b", 1000) == 0
    rp.set("fb", "foobar")
    assert rp.bitcount("fb") == 26
    assert rp.bitcount("fb", 1, 1) == 6
    assert rp.bitcount("fb", 5, 30, "BIT") == 17
    rp.set("bp", b"\xff\xf0\x00")
    assert rp.bitpos("bp", 0) == 12
    assert rp.bitpos("bp", 1, 2, -1) == -1
    assert rp.bitpos("bp", 1, 7, 15, "BIT") == 7
    rp.set("x1", "abc")
    rp.set("x2", "ABC")
    assert rp.bitop("XOR", "x3", "x1", "x2") == 3
    assert rp.get("x3") == "   "
    with pytest.raises(redis.ResponseError, match="BITOP NOT must be called with a single source key"):
        rp.bitop("NOT", "x3", "x1", "x2")
    with pytest.raises(redis.ResponseError, match="bit offset is not an integer or out of range"):
        rp.setbit("b", -1, 1)


def test_bitfield(rp):
    bf = rp.bitfield("bf")
    assert bf.set("i8", 0, 100).get("i8", 0).execute() == [0, 100]
    res = rp.bitfield("bf", default_overflow="FAIL").incrby("i8", 0, 100).execute()
    assert res == [None]
    res = rp.bitfield("bf").overflow("SAT").incrby("i8", 0, 100).incrby("u4", "#3", 20).execute()
    assert res == [127, 15]
    assert rp.bitfield_ro("bf", "u8", 0, items=[("i8", 0)]) == [127, 127]
    with pytest.raises(redis.ResponseError, match="Invalid bitfield type"):
        rp.bitfield("bf").get("u64", 0).execute()

