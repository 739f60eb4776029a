"""redis-py against a kcache-node with two event loops: XREAD / XREADGROUP with
BLOCK woken by XADD from another connection (RESP2 and RESP3), the PEL a
served XREADGROUP leaves, NOACK, timeouts, the errors for a deleted stream or
a destroyed group, and the same scenarios side by side with redis-server.
Waits poll with deadlines."""
import time

import pytest
import redis

from conftest import Node
from test_blocking import Blocked, redis_server  # noqa: F401 (fixture)


@pytest.fixture
def mt_node():
    n = Node("--io-threads", "2")
    yield n
    n.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def proto(request):
    return request.param


def test_xread_dollar_woken_by_xadd(mt_node, proto):
    c = mt_node.client(protocol=proto, decode_responses=True)
    c.xadd("s", {"f": "old"}, id="1-1")
    b = Blocked(mt_node.port, c, "xread", {"s": "$"}, None, 0, protocol=proto)
    c.xadd("s", {"f": "new"}, id="2-0")
    got = b.join()
    want = {"s": [[("2-0", {"f": "new"})]]} if proto == 3 else [["s", [("2-0", {"f": "new"})]]]
    assert got == want


def test_xreadgroup_served_updates_pel_and_noack_does_not(mt_node, proto):
    c = mt_node.client(protocol=proto, decode_responses=True)
    c.xgroup_create("s", "g", id="$", mkstream=True)
    a = Blocked(mt_node.port, c, "xreadgroup", "g", "alice", {"s": ">"}, 1, 0, protocol=proto)
    p = c.pipeline(transaction=True)
    p.xadd("s", {"k": "1"}, id="1-0")
    p.xadd("s", {"k": "2"}, id="2-0")
    p.execute()
    got = a.join()
    entries = got["s"][0] if proto == 3 else got[0][1]
    assert [e[0] for e in entries] == ["1-0"]
    # 2-0 is left for the next reader, served at once.
    assert c.xreadgroup("g", "carol", {"s": ">"})
    pending = c.xpending("s", "g")
    assert (pending["pending"], pending["min"], pending["max"]) == (2, "1-0", "2-0")
    b = Blocked(mt_node.port, c, "xreadgroup", "g", "bob", {"s": ">"}, None, 0, True, protocol=proto)
    c.xadd("s", {"k": "3"}, id="3-0")
    got = b.join()
    entries = got["s"][0] if proto == 3 else got[0][1]
    assert [e[0] for e in entries] == ["3-0"]
    assert c.xpending("s", "g")["pending"] == 2
    assert c.xinfo_groups("s")[0]["last-delivered-id"] == "3-0"


def test_timeout_and_lost_group(mt_node):
    c = mt_node.client(decode_responses=True)
    c.xgroup_create("s", "g", id="$", mkstream=True)
    t0 = time.monotonic()
    assert c.xreadgroup("g", "c", {"s": ">"}, block=50) in (None, [])
    assert time.monotonic() - t0 >= 0.05
    b = Blocked(mt_node.port, c, "xreadgroup", "g", "c", {"s": ">"}, None, 0)
    assert c.xgroup_destroy("s", "g") == 1
    b.join()
    assert "NOGROUP the consumer group this client was blocked on no longer exists" in str(b.error)
    c.xgroup_create("s", "g", id="$")
    b = Blocked(mt_node.port, c, "xreadgroup", "g", "c", {"s": ">"}, None, 0)
    c.delete("s")
    b.join()
    assert "UNBLOCKED the stream key no longer exists" in str(b.error)


ROUNDS = [
    # (setup, blocking command, writes that end the wait)
    ([], ("XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "x", "s", "$", "$"),
     [("XADD", "s", "1-0", "a", "1")]),
    ([("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")],
     ("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">"),
     [("MULTI",), ("XADD", "s", "2-0", "b", "2"), ("XADD", "s", "3-0", "b", "3"), ("EXEC",)]),
    ([("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")],
     ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"), [("XGROUP", "DESTROY", "s", "g")]),
    ([("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")],
     ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"), [("SET", "s", "x")]),
]


def transcript(port, protocol):
    c = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    log = []
    for setup, block, writes in ROUNDS:
        c.flushall()
        for cmd in setup:
            c.execute_command(*cmd)
        b = Blocked(port, c, "execute_command", *block, protocol=protocol)
        p = c.pipeline(transaction=False)
        for w in writes:
            p.execute_command(*w)
        p.execute(raise_on_error=False)
        log.append((block, b.join(), str(b.error)))
        if c.type("s") == "stream" and c.xinfo_groups("s"):
            log.append(c.xpending("s", "g"))
    return log


def test_same_as_redis_server(mt_node, redis_server, proto):  # noqa: F811
    assert transcript(mt_node.port, proto) == transcript(redis_server, proto)
