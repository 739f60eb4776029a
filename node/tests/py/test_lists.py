"""redis-py against kcache-node: list commands, SORT and HyperLogLog in RESP2 and
RESP3, plus a side-by-side run of the same commands on redis-server (including
GET of HyperLogLog values, which must be byte-identical)."""

import pytest
import redis


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def rr(node, request):
    c = node.client(protocol=request.param, decode_responses=True)
    yield c
    c.close()


def test_push_pop_and_lengths(rr):
    assert rr.lpush("l", "b", "a") == 2
    assert rr.rpush("l", "c", "d") == 4
    assert rr.lpushx("nokey", "x") == 0
    assert rr.rpushx("l", "e") == 5
    assert rr.lrange("l", 0, -1) == ["a", "b", "c", "d", "e"]
    assert rr.llen("l") == 5 and rr.llen("nokey") == 0
    assert rr.lpop("l") == "a"
    assert rr.rpop("l") == "e"
    assert rr.lpop("l", 2) == ["b", "c"]
    assert rr.rpop("l", 0) == []
    assert rr.rpop("l", 5) == ["d"]
    assert rr.exists("l") == 0
    assert rr.lpop("l") is None
    assert rr.lpop("l", 3) is None
    with pytest.raises(redis.ResponseError, match="must be positive"):
        rr.lpop("l", -1)
    rr.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        rr.lpush("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        rr.llen("s")


def test_index_set_insert_range_trim(rr):
    rr.rpush("l", *"abcdef")
    assert rr.lindex("l", 0) == "a" and rr.lindex("l", -1) == "f"
    assert rr.lindex("l", 99) is None
    assert rr.lset("l", 1, "B")
    with pytest.raises(redis.ResponseError, match="index out of range"):
        rr.lset("l", 99, "x")
    with pytest.raises(redis.ResponseError, match="no such key"):
        rr.lset("nokey", 0, "x")
    assert rr.linsert("l", "BEFORE", "c", "c-") == 7
    assert rr.linsert("l", "AFTER", "c", "c+") == 8
    assert rr.linsert("l", "AFTER", "zz", "x") == -1
    assert rr.linsert("nokey", "AFTER", "a", "x") == 0
    assert rr.lrange("l", 0, -1) == ["a", "B", "c-", "c", "c+", "d", "e", "f"]
    assert rr.lrange("l", -100, 1) == ["a", "B"]
    assert rr.lrange("l", 5, 2) == []
    assert rr.ltrim("l", 1, -2)
    assert rr.lrange("l", 0, -1) == ["B", "c-", "c", "c+", "d", "e"]
    assert rr.ltrim("l", 10, 20)
    assert rr.exists("l") == 0


def test_lrem_and_lpos(rr):
    rr.rpush("l", "a", "b", "a", "c", "a", "b", "a")
    assert rr.lpos("l", "a") == 0
    assert rr.lpos("l", "a", rank=2) == 2
    assert rr.lpos("l", "a", rank=-1) == 6
    assert rr.lpos("l", "a", count=0) == [0, 2, 4, 6]
    assert rr.lpos("l", "a", count=2, rank=-1) == [6, 4]
    assert rr.lpos("l", "a", count=0, maxlen=3) == [0, 2]
    assert rr.lpos("l", "zz") is None
    assert rr.lpos("l", "zz", count=1) == []
    with pytest.raises(redis.ResponseError, match="RANK can't be zero"):
        rr.lpos("l", "a", rank=0)
    assert rr.lrem("l", 1, "a") == 1
    assert rr.lrem("l", -1, "a") == 1
    assert rr.lrange("l", 0, -1) == ["b", "a", "c", "a", "b"]
    assert rr.lrem("l", 0, "b") == 2
    assert rr.lrem("l", 0, "a") == 2
    assert rr.lrem("l", 0, "c") == 1
    assert rr.exists("l") == 0


def test_lmove_rpoplpush_lmpop(rr):
    rr.rpush("src", "1", "2", "3")
    assert rr.lmove("src", "dst", "LEFT", "RIGHT") == "1"
    assert rr.rpoplpush("src", "dst") == "3"
    assert rr.lrange("dst", 0, -1) == ["3", "1"]
    assert rr.lmove("nokey", "dst") is None
    rr.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        rr.lmove("src", "s")
    assert rr.lrange("src", 0, -1) == ["2"], "a WRONGTYPE destination pops nothing"
    with pytest.raises(redis.ResponseError, match="syntax error"):
        rr.execute_command("LMOVE", "src", "dst", "UP", "LEFT")
    assert rr.lmpop(2, "nokey", "dst", direction="RIGHT", count=5) == ["dst", ["1", "3"]]
    assert rr.lmpop(1, "dst", direction="LEFT") is None
    with pytest.raises(redis.ResponseError, match="numkeys should be greater than 0"):
        rr.execute_command("LMPOP", 0, "x", "LEFT")
    with pytest.raises(redis.ResponseError, match="count should be greater than 0"):
        rr.execute_command("LMPOP", 1, "x", "LEFT", "COUNT", 0)


def test_long_lists_split_and_keep_order(rr):
    rr.config_set("list-max-listpack-size", "4")
    items = [f"item-{i}" for i in range(1000)]
    for i in range(0, 1000, 100):
        rr.rpush("big", *items[i:i + 100])
    assert rr.object("encoding", "big") == "quicklist"
    assert rr.lrange("big", 0, -1) == items
    assert rr.lindex("big", 555) == "item-555"
    assert rr.lrange("big", -3, -1) == items[-3:]
    rr.linsert("big", "BEFORE", "item-500", "mid")
    assert rr.lpos("big", "mid") == 500
    assert rr.lrem("big", 0, "mid") == 1
    rr.ltrim("big", 100, 199)
    assert rr.lrange("big", 0, -1) == items[100:200]


def test_sort(rr):
    rr.rpush("n", "3", "1", "2", "10")
    assert rr.sort("n") == ["1", "2", "3", "10"]
    assert rr.sort("n", desc=True, start=1, num=2) == ["3", "2"]
    assert rr.sort("n", alpha=True) == ["1", "10", "2", "3"]
    assert rr.sort("n", by="nosort") == ["3", "1", "2", "10"]
    for k, w in {"1": "30", "2": "20", "3": "10", "10": "40"}.items():
        rr.set(f"w_{k}", w)
        rr.set(f"name_{k}", f"N{k}")
    assert rr.sort("n", by="w_*") == ["3", "2", "1", "10"]
    assert rr.sort("n", by="w_*", get=["#", "name_*"]) == ["3", "N3", "2", "N2", "1", "N1", "10", "N10"]
    assert rr.sort("n", by="w_*", get="missing_*") == [None] * 4
    assert rr.sort("n", store="out") == 4
    assert rr.lrange("out", 0, -1) == ["1", "2", "3", "10"]
    assert rr.sort_ro("n", alpha=True, desc=True) == ["3", "2", "10", "1"]
    rr.rpush("bad", "1", "x")
    with pytest.raises(redis.ResponseError, match="One or more scores can't be converted into double"):
        rr.sort("bad")
    assert rr.sort("nokey") == []


def test_hyperloglog(rr):
    assert rr.pfadd("h", "a", "b", "c") == 1
    assert rr.pfadd("h", "a") == 0
    assert rr.pfcount("h") == 3
    assert rr.pfadd("h2", *[f"e{i}" for i in range(1000)]) == 1
    assert abs(rr.pfcount("h2") - 1000) < 30
    assert rr.pfmerge("m", "h", "h2")
    assert abs(rr.pfcount("m") - 1003) < 30
    assert rr.pfcount("h", "h2") == rr.pfcount("m")
    rr.set("s", "not an hll")
    with pytest.raises(redis.ResponseError, match="not a valid HyperLogLog string value"):
        rr.pfadd("s", "x")
    rr.rpush("l", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE Operation against a key"):
        rr.pfcount("l")


# --- Side by side with redis-server -----------------------------------------

@pytest.fixture
def redis_server(redis_port):
    return redis_port


SIDE_BY_SIDE = [
    ("RPUSH", "l", "a", "b", "c", "b"), ("LPUSH", "l", "z"), ("LRANGE", "l", "0", "-1"),
    ("LPOS", "l", "b", "COUNT", "0"), ("LPOS", "l", "b", "RANK", "-1"), ("LPOS", "l", "q"),
    ("LINSERT", "l", "AFTER", "a", "a+"), ("LSET", "l", "-1", "END"), ("LREM", "l", "-1", "b"),
    ("LINDEX", "l", "2"), ("LTRIM", "l", "1", "-1"), ("LMOVE", "l", "l2", "RIGHT", "LEFT"),
    ("RPOPLPUSH", "l", "l2"), ("LMPOP", "2", "no", "l2", "LEFT", "COUNT", "5"), ("LPOP", "no", "2"),
    ("LPOP", "l", "0"), ("RPOP", "l", "9"), ("EXISTS", "l"), ("LPOP", "l"),
    ("LSET", "no", "0", "x"), ("LINSERT", "l", "UP", "a", "b"), ("LPOS", "l", "a", "RANK", "0"),
    ("RPUSH", "n", "5", "3", "9"), ("SORT", "n"), ("SORT", "n", "DESC", "LIMIT", "0", "2"),
    ("SORT", "n", "ALPHA", "STORE", "o"), ("LRANGE", "o", "0", "-1"), ("SORT_RO", "n", "STORE", "o"),
    ("PFADD", "h", "a", "b", "c"), ("GET", "h"), ("PFCOUNT", "h"), ("GET", "h"),
    ("PFADD", "h2", *[f"x{i}" for i in range(3000)]), ("PFCOUNT", "h2"), ("GET", "h2"),
    ("PFMERGE", "hm", "h", "h2"), ("GET", "hm"), ("PFCOUNT", "h", "h2"), ("PFDEBUG", "ENCODING", "h2"),
    ("SET", "s", "x"), ("PFADD", "s", "a"), ("PFCOUNT", "l", "s"),
]


def _outcome(client, cmd):
    try:
        return ("ok", client.execute_command(*cmd))
    except redis.ResponseError as e:
        return ("error", str(e))


@pytest.mark.parametrize("protocol", [2, 3])
def test_same_outcomes_as_redis_server(node, redis_server, protocol):
    ours = node.client(protocol=protocol)
    theirs = redis.Redis(port=redis_server, protocol=protocol)
    diffs = []
    for cmd in SIDE_BY_SIDE:
        got, want = _outcome(ours, cmd), _outcome(theirs, cmd)
        if got != want:
            diffs.append(f"{cmd[:6]}: node={got!r} redis={want!r}")
    assert not diffs, "\n".join(diffs)
