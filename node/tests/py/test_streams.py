"""redis-py against kcache-node: stream commands in RESP2 and RESP3, and
consumer-group flows side by side with redis-server, with the clock-dependent
fields (idle times, delivery and seen times) masked."""
import time

import pytest
import redis

from conftest import RedisServer


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def rr(node, request):
    c = node.client(decode_responses=True, protocol=request.param)
    yield c
    c.close()


@pytest.fixture(scope="module")
def redis_port():
    s = RedisServer()
    yield s.port
    s.stop()


# --- Single server, both protocols --------------------------------------------

def test_xadd_ids_and_errors(rr):
    assert rr.xadd("s", {"a": 1, "b": 2}, id="1-1") == "1-1"
    assert rr.xadd("s", {"a": 3}, id="1-*") == "1-2"
    assert rr.xadd("s", {"a": 4}, id="5") == "5-0"
    auto = rr.xadd("s", {"a": 5})
    ms, seq = map(int, auto.split("-"))
    assert ms >= 5 and seq >= 0
    with pytest.raises(redis.ResponseError, match="equal or smaller than the target stream top item"):
        rr.xadd("s", {"a": 1}, id="1-1")
    with pytest.raises(redis.ResponseError, match="must be greater than 0-0"):
        rr.xadd("s", {"a": 1}, id="0-0")
    with pytest.raises(redis.ResponseError, match="Invalid stream ID specified as stream command argument"):
        rr.xadd("s", {"a": 1}, id="1-x")
    assert rr.xadd("nokey", {"a": 1}, nomkstream=True) is None
    assert rr.exists("nokey") == 0
    assert rr.xlen("s") == 4
    assert rr.type("s") == "stream"
    assert rr.object("encoding", "s") == "stream"


def test_xrange_xrevrange_and_exclusive_bounds(rr):
    for i in range(1, 6):
        rr.xadd("s", {"i": i}, id=f"{i}-0")
    assert [e[0] for e in rr.xrange("s")] == ["1-0", "2-0", "3-0", "4-0", "5-0"]
    assert rr.xrange("s", "(1-0", "(4-0") == [("2-0", {"i": "2"}), ("3-0", {"i": "3"})] or \
        rr.xrange("s", "(1-0", "(4-0") == [["2-0", {"i": "2"}], ["3-0", {"i": "3"}]]
    assert [e[0] for e in rr.xrevrange("s", "+", "-", count=2)] == ["5-0", "4-0"]
    assert rr.xrange("nokey") == []
    assert rr.xdel("s", "2-0", "2-0", "9-0") == 1
    assert [e[0] for e in rr.xrange("s", "-", "+")] == ["1-0", "3-0", "4-0", "5-0"]


def test_maxlen_exact_and_approximate(rr):
    rr.config_set("stream-node-max-entries", "10")
    try:
        for i in range(1, 26):
            rr.xadd("t", {"f": "v"}, id=f"{i}-0")
        # Approximate trimming only drops whole nodes of 10.
        assert rr.xtrim("t", maxlen=12, approximate=True) == 10
        assert rr.xlen("t") == 15
        assert rr.xtrim("t", maxlen=12, approximate=False) == 3
        assert rr.xrange("t", count=1)[0][0] == "14-0"
        rr.xadd("t", {"f": "v"}, id="26-0", maxlen=2, approximate=False)
        assert [e[0] for e in rr.xrange("t")] == ["25-0", "26-0"]
        assert rr.xtrim("t", minid="26", approximate=False) == 1
        info = rr.xinfo_stream("t")
        assert info["length"] == 1 and info["entries-added"] == 26
    finally:
        rr.config_set("stream-node-max-entries", "100")


def test_empty_stream_is_kept(rr):
    rr.xadd("s", {"a": 1}, id="1-1")
    assert rr.xdel("s", "1-1") == 1
    assert rr.exists("s") == 1 and rr.xlen("s") == 0
    info = rr.xinfo_stream("s")
    assert info["length"] == 0 and info["first-entry"] is None and info["last-generated-id"] == "1-1"
    rr.xgroup_create("e", "g", id="$", mkstream=True)
    assert rr.exists("e") == 1 and rr.xlen("e") == 0


def test_consumer_group_flow(rr):
    for i in range(1, 5):
        rr.xadd("s", {"n": i}, id=f"{i}-0")
    rr.xgroup_create("s", "g", id="0")
    got = rr.xreadgroup("g", "alice", {"s": ">"}, count=2)
    if isinstance(got, dict):  # RESP3: a map keyed by stream
        entries = got["s"][0]
    else:
        entries = got[0][1]
    assert [e[0] for e in entries] == ["1-0", "2-0"]
    pending = rr.xpending("s", "g")
    assert pending["pending"] == 2 and pending["min"] == "1-0" and pending["max"] == "2-0"
    assert rr.xack("s", "g", "1-0", "9-9") == 1
    claimed = rr.xclaim("s", "g", "bob", 0, ["2-0"], justid=True)
    assert claimed == ["2-0"]
    ext = rr.xpending_range("s", "g", "-", "+", 10)
    assert [(p["message_id"], p["consumer"], p["times_delivered"]) for p in ext] == [("2-0", "bob", 1)]
    rr.xclaim("s", "g", "bob", 0, ["2-0"], idle=60_000)
    ext = rr.xpending_range("s", "g", "-", "+", 10, idle=50_000)
    assert len(ext) == 1 and ext[0]["time_since_delivered"] >= 60_000
    assert ext[0]["times_delivered"] == 2
    cursor, claimed, deleted = rr.xautoclaim("s", "g", "carol", 50_000, "0-0")
    assert cursor == "0-0" and [e[0] for e in claimed] == ["2-0"] and deleted == []
    groups = rr.xinfo_groups("s")
    assert groups[0]["name"] == "g" and groups[0]["pending"] == 1
    assert groups[0]["entries-read"] == 2 and groups[0]["lag"] == 2
    consumers = {c["name"]: c["pending"] for c in rr.xinfo_consumers("s", "g")}
    assert consumers == {"alice": 0, "bob": 0, "carol": 1}
    assert rr.xgroup_delconsumer("s", "g", "carol") == 1
    assert rr.xpending("s", "g")["pending"] == 0
    assert rr.xgroup_destroy("s", "g") == 1
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        rr.xreadgroup("g", "alice", {"s": ">"})


def test_xclaim_time_and_idle_set_the_delivery_time(rr):
    rr.xadd("s", {"a": 1}, id="1-1")
    rr.xadd("s", {"a": 2}, id="2-1")
    rr.xgroup_create("s", "g", id="0")
    rr.xreadgroup("g", "c", {"s": ">"})
    rr.xclaim("s", "g", "d", 0, ["1-1"], time=1000, justid=True)
    rr.xclaim("s", "g", "d", 0, ["2-1"], idle=0, justid=True)
    idle = {p["message_id"]: p["time_since_delivered"] for p in rr.xpending_range("s", "g", "-", "+", 10)}
    now_ms = int(time.time() * 1000)
    assert idle["1-1"] >= now_ms - 1000 - 60_000
    assert idle["2-1"] < 60_000
    # min-idle-time filters: only the old delivery is claimable.
    assert rr.xclaim("s", "g", "e", 3_600_000, ["1-1", "2-1"], justid=True) == ["1-1"]
    # (redis-py returns only the claimed IDs for JUSTID)
    assert rr.xautoclaim("s", "g", "e", 3_600_000, "0", justid=True) == []


def test_xread_block_without_data_returns_null(rr):
    rr.xadd("s", {"a": 1}, id="1-1")
    started = time.monotonic()
    assert not rr.xread({"s": "$"}, block=100)
    assert time.monotonic() - started < 5
    assert rr.xread({"s": "0"}, block=100)


# --- Side by side with redis-server, clock fields masked -----------------------

TIME_KEYS = {"idle", "seen-time"}


def _mask(cmd, reply):
    """Replaces the clock-dependent parts of a reply by '<t>'."""
    name = " ".join(str(a) for a in cmd[:2]).upper()

    def walk(v, parent_key=None):
        if isinstance(v, dict):
            return {k: ("<t>" if k in TIME_KEYS else walk(x, k)) for k, x in v.items()}
        if isinstance(v, list):
            # Flat RESP2 maps: mask the value after a time key.
            out = []
            for i, x in enumerate(v):
                if i > 0 and isinstance(v[i - 1], str) and v[i - 1] in TIME_KEYS:
                    out.append("<t>")
                else:
                    # In a flat RESP2 map, the string before a value is its key.
                    key = v[i - 1] if i > 0 and isinstance(v[i - 1], str) else parent_key
                    out.append(walk(x, key))
            if parent_key == "pending" and out and all(isinstance(p, list) for p in out):
                # XINFO STREAM FULL: [id, consumer, time, count] / [id, time, count]
                out = [p[:-2] + ["<t>", p[-1]] if len(p) in (3, 4) else p for p in out]
            return out
        return v

    if name.startswith("XPENDING") and len(cmd) > 3 and isinstance(reply, list):
        return [[p[0], p[1], "<t>", p[3]] for p in reply]
    return walk(reply)


def _outcome(client, cmd):
    try:
        return ("ok", _mask(cmd, client.execute_command(*cmd)))
    except redis.ResponseError as e:
        return ("error", str(e))


FLOW = """
xadd s 1-1 a 1 b 2
xadd s 2-1 a 3 b 4
xadd s 3-1 c 5
xadd s 4-1 a 6 b 7
xgroup create s g 0
xgroup create s h $
xreadgroup group g alice count 2 streams s >
xreadgroup group g bob streams s >
xpending s g
xpending s g - + 10
xpending s g - + 10 alice
xpending s g idle 0 - + 1
xinfo consumers s g
xinfo stream s full
xinfo stream s full count 1
xinfo stream s full count 0
xclaim s g bob 0 1-1 time 1000
xclaim s g carol 0 2-1 idle 5000 retrycount 9
xclaim s g carol 0 9-9 force
xclaim s g carol 0 3-1 force
xpending s g - + 10
xinfo stream s full
xautoclaim s g dave 0 0 count 2
xautoclaim s g dave 0 0 count 10
xdel s 4-1
xautoclaim s g dave 0 0
xreadgroup group g dave streams s 0
xinfo groups s
xinfo consumers s g
xgroup delconsumer s g dave
xinfo stream s full
xreadgroup group h eve noack streams s >
xinfo stream s full
xinfo consumers s h
"""


@pytest.mark.parametrize("protocol", [2, 3])
def test_group_flow_same_as_redis_server(node, redis_port, protocol):
    ours = node.client(decode_responses=True, protocol=protocol)
    theirs = redis.Redis(port=redis_port, decode_responses=True, protocol=protocol)
    for c in (ours, theirs):
        c.flushall()
        # Compare the replies as sent, not as redis-py would reshape them.
        c.response_callbacks.clear()
    diffs = []
    for line in FLOW.strip().splitlines():
        cmd = line.split()
        a, b = _outcome(ours, cmd), _outcome(theirs, cmd)
        if a != b:
            diffs.append(f"{line}\n  node:  {a}\n  redis: {b}")
    assert not diffs, "\n".join(diffs)
