"""redis-py against kcache-node: sorted set and geo commands in RESP2 and RESP3,
plus a seeded random run of the same commands side by side with redis-server."""
import random

import pytest
import redis


def pairs(v):
    """Member/score pairs as tuples (redis-py gives lists under RESP3)."""
    return [tuple(p) for p in v]


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def rr(node, request):
    c = node.client(decode_responses=True, protocol=request.param)
    yield c
    c.close()


def test_zadd_options_and_scores(rr):
    assert rr.zadd("z", {"a": 1, "b": 2, "c": 3}) == 3
    assert rr.zadd("z", {"a": 5}, nx=True) == 0
    assert rr.zscore("z", "a") == 1.0
    assert rr.zadd("z", {"a": 5, "d": 4}, xx=True, ch=True) == 1
    assert rr.zscore("z", "d") is None
    assert rr.zadd("z", {"a": 3}, gt=True, ch=True) == 0
    assert rr.zadd("z", {"a": 3}, lt=True, ch=True) == 1
    assert rr.zadd("z", {"a": 2.5}, incr=True) == 5.5
    assert rr.zadd("z", {"zz": 1}, xx=True, incr=True) is None
    assert rr.zincrby("z", -0.5, "a") == 5.0
    assert rr.zmscore("z", ["a", "nope", "b"]) == [5.0, None, 2.0]
    assert rr.zcard("z") == 3
    assert rr.zrank("z", "a") == 2 and rr.zrevrank("z", "a") == 0
    assert rr.zrank("z", "nope") is None
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        rr.execute_command("ZADD", "z", "x", "a")
    with pytest.raises(redis.ResponseError, match="resulting score is not a number"):
        rr.zadd("inf", {"a": float("inf")})
        rr.zincrby("inf", float("-inf"), "a")
    with pytest.raises(redis.ResponseError, match="XX and NX"):
        rr.execute_command("ZADD", "z", "NX", "XX", "1", "a")
    with pytest.raises(redis.ResponseError, match="GT, LT, and/or NX"):
        rr.execute_command("ZADD", "z", "GT", "LT", "1", "a")
    rr.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        rr.zadd("s", {"a": 1})


def test_ranges(rr):
    rr.zadd("z", {m: i for i, m in enumerate("abcdefgh")})
    assert rr.zrange("z", 0, 2) == ["a", "b", "c"]
    assert pairs(rr.zrange("z", -2, -1, withscores=True)) == [("g", 6.0), ("h", 7.0)]
    assert rr.zrange("z", 0, 1, desc=True) == ["h", "g"]
    assert rr.zrangebyscore("z", "(2", 4) == ["d", "e"]
    assert rr.zrevrangebyscore("z", "+inf", "-inf", start=1, num=2) == ["g", "f"]
    assert rr.zrange("z", "(1", "+inf", byscore=True, offset=1, num=2) == ["d", "e"]
    assert rr.zcount("z", "-inf", "(3") == 3
    with pytest.raises(redis.ResponseError, match="min or max is not a float"):
        rr.zrangebyscore("z", "x", 1)
    with pytest.raises(redis.ResponseError, match="LIMIT is only supported"):
        rr.execute_command("ZRANGE", "z", "0", "1", "LIMIT", "0", "1")
    rr.zadd("lex", {m: 0 for m in "abcdef"})
    assert rr.zrangebylex("lex", "[b", "(e") == ["b", "c", "d"]
    assert rr.zrevrangebylex("lex", "+", "-", start=0, num=2) == ["f", "e"]
    assert rr.zlexcount("lex", "-", "+") == 6
    with pytest.raises(redis.ResponseError, match="not valid string range item"):
        rr.zrangebylex("lex", "b", "c")
    assert rr.zrangestore("dst", "z", 1, 3) == 3
    assert rr.zrange("dst", 0, -1) == ["b", "c", "d"]
    assert rr.zremrangebyrank("z", 0, 1) == 2
    assert rr.zremrangebyscore("z", 6, "+inf") == 2
    assert rr.zremrangebylex("lex", "[a", "[c") == 3
    assert rr.zrange("z", 0, -1) == ["c", "d", "e", "f"]


def test_set_operations(rr):
    rr.zadd("a", {"x": 1, "y": 2})
    rr.zadd("b", {"y": 10, "z": 20})
    assert pairs(rr.zunion(["a", "b"], withscores=True)) == [("x", 1.0), ("y", 12.0), ("z", 20.0)]
    assert pairs(rr.zinter({"a": 2, "b": 1}, withscores=True)) == [("y", 14.0)]
    assert pairs(rr.zinter(["a", "b"], aggregate="MIN", withscores=True)) == [("y", 2.0)]
    assert rr.zdiff(["a", "b"]) == ["x"]
    assert rr.zintercard(2, ["a", "b"]) == 1
    assert rr.zunionstore("u", ["a", "b"], aggregate="MAX") == 3
    assert pairs(rr.zrange("u", 0, -1, withscores=True)) == [("x", 1.0), ("y", 10.0), ("z", 20.0)]
    assert rr.zinterstore("i", ["a", "nokey"]) == 0
    assert rr.exists("i") == 0
    assert rr.zdiffstore("d", ["b", "a"]) == 1
    with pytest.raises(redis.ResponseError, match="at least 1 input key"):
        rr.execute_command("ZUNION", "0", "a")
    with pytest.raises(redis.ResponseError, match="weight value is not a float"):
        rr.execute_command("ZUNION", "2", "a", "b", "WEIGHTS", "1", "x")


def test_pops_random_and_scan(rr):
    rr.zadd("p", {"a": 1, "b": 2, "c": 3, "d": 4})
    # Without a count the RESP3 reply is one flat pair, with one nested pairs.
    popped = rr.zpopmin("p")
    assert popped == ([("a", 1.0)] if rr.get_connection_kwargs().get("protocol") != 3 else ["a", 1.0])
    assert pairs(rr.zpopmax("p", 2)) == [("d", 4.0), ("c", 3.0)]
    key, items = rr.zmpop(2, ["nokey", "p"], min=True)
    assert key == "p" and [(m, float(sc)) for m, sc in items] == [("b", 2.0)]
    assert rr.exists("p") == 0
    assert rr.zmpop(1, ["p"], max=True) is None
    rr.zadd("r", {"a": 1, "b": 2, "c": 3})
    assert rr.zrandmember("r") in ("a", "b", "c")
    picks = rr.zrandmember("r", 2)
    assert len(picks) == 2 and len(set(picks)) == 2
    assert len(rr.zrandmember("r", -7)) == 7
    cursor, items = rr.zscan("r", 0)
    assert cursor == 0 and sorted(items) == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    big = {f"m{i}": i // 3 for i in range(1000)}
    rr.zadd("big", big)
    assert rr.object("encoding", "big") == "skiplist"
    seen = dict(rr.zscan_iter("big", count=40))
    assert seen == {k: float(v) for k, v in big.items()}
    assert [m for m, _ in rr.zscan_iter("big", match="m99*")] != []


def test_geo(rr):
    assert rr.geoadd("Sicily", [13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"]) == 2
    (lon, lat), missing = rr.geopos("Sicily", "Palermo", "nope")
    assert missing is None
    assert abs(lon - 13.36138933897018433) < 1e-12 and abs(lat - 38.11555639549629859) < 1e-12
    assert rr.geohash("Sicily", "Palermo", "Catania") == ["sqc8b49rny0", "sqdtr74hyu0"]
    assert rr.geodist("Sicily", "Palermo", "Catania", unit="km") == 166.2742
    assert rr.geosearch("Sicily", longitude=15, latitude=37, radius=200, unit="km", sort="ASC") == [
        "Catania",
        "Palermo",
    ]
    hits = rr.geosearch("Sicily", member="Palermo", width=400, height=400, unit="km", withdist=True)
    assert sorted(pairs(hits)) == [("Catania", 166.2742), ("Palermo", 0.0)]
    assert rr.geosearchstore("dst", "Sicily", longitude=15, latitude=37, radius=100, unit="km") == 1
    assert rr.zrange("dst", 0, -1) == ["Catania"]
    with pytest.raises(redis.ResponseError, match="invalid longitude,latitude pair"):
        rr.geoadd("Sicily", [200, 100, "x"])
    with pytest.raises(redis.ResponseError, match="unsupported unit"):
        rr.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "furlong")


# --- Side by side with redis-server -----------------------------------------

@pytest.fixture
def redis_server(redis_port):
    return redis_port


def _outcome(client, cmd):
    try:
        return ("ok", client.execute_command(*cmd))
    except redis.ResponseError as e:
        return ("error", str(e))


def _random_commands(seed, n):
    rnd = random.Random(seed)
    mem = lambda: f"m{rnd.randrange(200)}"
    score = lambda: rnd.choice([str(rnd.randrange(-20, 20)), str(rnd.randrange(40) / 4), "inf", "-inf"])
    bound = lambda: rnd.choice(["-inf", "+inf", "(" + score(), score()])
    keys = ["k1", "k2"]
    for _ in range(n):
        k = rnd.choice(keys)
        op = rnd.randrange(12)
        if op < 4:
            cmd = ["ZADD", k] + rnd.sample(["NX", "XX", "GT", "CH"], rnd.randrange(2))
            for _ in range(rnd.randrange(1, 5)):
                cmd += [score(), mem()]
        elif op == 4:
            cmd = ["ZINCRBY", k, score(), mem()]
        elif op == 5:
            cmd = ["ZREM", k, mem()]
        elif op == 6:
            cmd = ["ZRANGE", k, str(rnd.randrange(-50, 50)), str(rnd.randrange(-50, 50)), "WITHSCORES"]
        elif op == 7:
            cmd = ["ZRANGEBYSCORE", k, bound(), bound(), "WITHSCORES", "LIMIT", "0", str(rnd.randrange(1, 9))]
        elif op == 8:
            cmd = [rnd.choice(["ZRANK", "ZREVRANK", "ZSCORE"]), k, mem()]
        elif op == 9:
            cmd = [rnd.choice(["ZPOPMIN", "ZPOPMAX"]), k, str(rnd.randrange(3))]
        elif op == 10:
            cmd = [rnd.choice(["ZUNIONSTORE", "ZINTERSTORE"]), rnd.choice(keys), "2", "k1", "k2", "WEIGHTS", "1", "3"]
        else:
            cmd = ["ZREMRANGEBYSCORE", k, bound(), bound()]
        yield cmd


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("threshold", ["4", "128"])
def test_same_outcomes_as_redis_server(node, redis_server, protocol, threshold):
    ours = node.client(decode_responses=True, protocol=protocol)
    theirs = redis.Redis(port=redis_server, decode_responses=True, protocol=protocol)
    for c in (ours, theirs):
        c.flushall()
        c.config_set("zset-max-listpack-entries", threshold)
    diffs = []
    for cmd in _random_commands(int(threshold) * 10 + protocol, 1500):
        got, want = _outcome(ours, cmd), _outcome(theirs, cmd)
        if got != want:
            diffs.append(f"{cmd}: node={got!r} redis={want!r}")
    for k in ("k1", "k2"):
        assert ours.object("encoding", k) == theirs.object("encoding", k)
        assert ours.zrange(k, 0, -1, withscores=True) == theirs.zrange(k, 0, -1, withscores=True)
    ours.close()
    theirs.close()
    assert not diffs, "\n".join(diffs[:20])
