"""redis-py against a kcache-node with two event loops: the blocking list and
sorted-set commands (wake-ups, FIFO order, timeouts, BLMOVE, several keys,
pipelines, CLIENT UNBLOCK, disconnects, WRONGTYPE) in RESP2 and RESP3, and the
same scenarios side by side with redis-server. Waits poll with deadlines."""
import socket
import threading
import time

import pytest
import redis

from conftest import Node, wait_until


@pytest.fixture
def mt_node():
    n = Node("--io-threads", "2")
    yield n
    n.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def proto(request):
    return request.param


def is_blocked(ctl, cid):
    return any(c["id"] == str(cid) and "b" in c["flags"] for c in ctl.client_list())


class Blocked:
    """Runs one blocking call on its own connection in a thread."""

    def __init__(self, port, ctl, method, *args, protocol=2):
        self.conn = redis.Redis(port=port, protocol=protocol, decode_responses=True)
        self.id = self.conn.client_id()
        self.result = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(method, args), daemon=True)
        self.thread.start()
        wait_until(lambda: is_blocked(ctl, self.id))

    def _run(self, method, args):
        try:
            self.result = getattr(self.conn, method)(*args)
        except redis.RedisError as e:
            self.error = e

    def join(self):
        self.thread.join(10)
        assert not self.thread.is_alive(), "the blocked call never returned"
        return as_list(self.result)


def as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else v


@pytest.mark.parametrize(
    "method,args,write,want",
    [
        ("blpop", (["q"], 0), ("rpush", "q", "a", "b"), ["q", "a"]),
        ("brpop", (["q"], 0), ("rpush", "q", "a", "b"), ["q", "b"]),
        ("blmove", ("q", "d", 0, "RIGHT", "LEFT"), ("rpush", "q", "a", "b"), "b"),
        ("brpoplpush", ("q", "d", 0), ("rpush", "q", "a", "b"), "b"),
        ("execute_command", ("BLMPOP", 0, 2, "x", "q", "LEFT"), ("rpush", "q", "a", "b"), ["q", ["a"]]),
        ("bzpopmin", (["z"], 0), ("zadd", "z", {"a": 1, "b": 2}), ["z", "a", 1.0]),
        ("bzpopmax", (["z"], 0), ("zadd", "z", {"a": 1, "b": 2}), ["z", "b", 2.0]),
    ],
)
def test_push_from_another_connection_wakes(mt_node, proto, method, args, write, want):
    ctl = mt_node.client(decode_responses=True)
    b = Blocked(mt_node.port, ctl, method, *args, protocol=proto)
    assert ctl.info("clients")["blocked_clients"] == 1
    getattr(ctl, write[0])(*write[1:])
    got = b.join()
    if method.startswith("bz"):
        got = [got[0], got[1], float(got[2])]
    assert as_list(got) == want
    wait_until(lambda: ctl.info("clients")["blocked_clients"] == 0)


def test_bzmpop_wakes(mt_node, proto):
    ctl = mt_node.client(decode_responses=True)
    b = Blocked(mt_node.port, ctl, "execute_command", "BZMPOP", 0, 1, "z", "MAX", "COUNT", 2, protocol=proto)
    ctl.zadd("z", {"a": 1, "b": 2, "c": 3})
    key, items = b.join()
    assert key == "z"
    assert [[m, float(s)] for m, s in items] == [["c", 3.0], ["b", 2.0]]
    assert ctl.zrange("z", 0, -1) == ["a"]


def test_fifo_among_three_clients(mt_node):
    ctl = mt_node.client(decode_responses=True)
    bs = [Blocked(mt_node.port, ctl, "blpop", ["q"], 0) for _ in range(3)]
    ctl.rpush("q", "1", "2", "3")
    assert [b.join() for b in bs] == [["q", "1"], ["q", "2"], ["q", "3"]]
    bs = [Blocked(mt_node.port, ctl, "bzpopmin", ["z"], 0) for _ in range(3)]
    for i in range(3):
        redis.Redis(port=mt_node.port).zadd("z", {f"m{i}": i})
    assert [b.join()[1] for b in bs] == ["m0", "m1", "m2"]


def test_timeouts_reply_null_after_the_timeout(mt_node, proto):
    c = mt_node.client(protocol=proto, decode_responses=True)
    for call in [
        lambda: c.blpop(["q"], 0.2),
        lambda: c.brpop(["q", "r"], 0.1),
        lambda: c.blmove("q", "d", 0.1),
        lambda: c.brpoplpush("q", "d", 0.1),
        lambda: c.bzpopmin(["z"], 0.1),
        lambda: c.bzpopmax(["z"], 0.1),
        lambda: c.execute_command("BLMPOP", 0.1, 1, "q", "LEFT"),
        lambda: c.execute_command("BZMPOP", 0.1, 1, "z", "MIN"),
    ]:
        t0 = time.monotonic()
        assert call() is None
        assert time.monotonic() - t0 >= 0.1
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        c.blpop(["q"], -1)
    with pytest.raises(redis.ResponseError, match="timeout is not a float or out of range"):
        c.execute_command("BLPOP", "q", "soon")


def test_blmove_is_one_step_and_chains(mt_node):
    ctl = mt_node.client(decode_responses=True)
    mover = Blocked(mt_node.port, ctl, "blmove", "a", "b", 0, "LEFT", "RIGHT")
    popper = Blocked(mt_node.port, ctl, "blpop", ["b"], 0)
    ctl.rpush("a", "1", "2")
    assert mover.join() == "1"
    assert popper.join() == ["b", "1"]
    assert ctl.lrange("a", 0, -1) == ["2"]
    assert ctl.exists("b") == 0


def test_several_keys_first_non_empty_wins(mt_node):
    c = mt_node.client(decode_responses=True)
    c.rpush("k3", "c")
    c.rpush("k2", "b")
    assert c.blpop(["k1", "k2", "k3"], 0) == ("k2", "b")
    assert c.brpop(["k1", "k2", "k3"], 0) == ("k3", "c")
    b = Blocked(mt_node.port, c, "brpop", ["k1", "k2", "k3"], 0)
    c.rpush("k1", "x")
    assert b.join() == ["k1", "x"]


def test_pipeline_behind_a_blocked_command(mt_node):
    ctl = mt_node.client(decode_responses=True)
    c = mt_node.client(decode_responses=True)
    cid = c.client_id()
    out = {}

    def run():
        p = c.pipeline(transaction=False)
        p.blpop(["q"], 0)
        p.set("after", "1")
        p.get("after")
        out["r"] = p.execute()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    wait_until(lambda: is_blocked(ctl, cid))
    assert ctl.exists("after") == 0
    ctl.lpush("q", "v")
    t.join(10)
    assert out["r"] == [("q", "v"), True, "1"]


def test_client_unblock_and_list_flag(mt_node, proto):
    ctl = mt_node.client(decode_responses=True)
    b = Blocked(mt_node.port, ctl, "blpop", ["q"], 0, protocol=proto)
    entry = [x for x in ctl.client_list() if x["id"] == str(b.id)][0]
    assert "b" in entry["flags"] and entry["cmd"] == "blpop"
    assert ctl.client_unblock(b.id) == 1
    assert b.join() is None
    assert ctl.client_unblock(b.id) == 0
    b = Blocked(mt_node.port, ctl, "bzpopmax", ["z"], 0, protocol=proto)
    assert ctl.client_unblock(b.id, error=True) == 1
    b.join()
    assert "UNBLOCKED client unblocked via CLIENT UNBLOCK" in str(b.error)
    wait_until(lambda: ctl.info("clients")["blocked_clients"] == 0)


def test_disconnect_while_blocked(mt_node):
    ctl = mt_node.client(decode_responses=True)
    s = socket.create_connection(("127.0.0.1", mt_node.port))
    s.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
    wait_until(lambda: ctl.info("clients")["blocked_clients"] == 1)
    s.close()
    wait_until(lambda: ctl.info("clients")["blocked_clients"] == 0)
    ctl.rpush("q", "kept")
    assert ctl.lrange("q", 0, -1) == ["kept"]


def test_wrongtype(mt_node, proto):
    c = mt_node.client(protocol=proto, decode_responses=True)
    c.set("s", "x")
    for call in [
        lambda: c.blpop(["s"], 0),
        lambda: c.brpop(["nokey", "s"], 0),
        lambda: c.blmove("s", "d", 0),
        lambda: c.bzpopmin(["s"], 0),
        lambda: c.execute_command("BLMPOP", 0, 1, "s", "LEFT"),
        lambda: c.execute_command("BZMPOP", 0, 1, "s", "MIN"),
    ]:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            call()


# --- Side by side with redis-server -----------------------------------------


@pytest.fixture
def redis_server(redis_port):
    return redis_port


IMMEDIATE = [
    ("RPUSH", "l", "a", "b", "c"), ("ZADD", "z", "1", "a", "2.5", "b"),
    ("BLPOP", "x", "l", "0"), ("BRPOP", "l", "0"), ("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "9"),
    ("RPUSH", "l", "a", "b"), ("BLMOVE", "l", "d", "LEFT", "RIGHT", "0"), ("BRPOPLPUSH", "l", "d", "0"),
    ("BZPOPMIN", "z", "0"), ("BZPOPMAX", "z", "0"), ("ZADD", "z", "1", "a", "2", "b"),
    ("BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"),
    ("BLPOP", "x", "0.01"), ("BLMOVE", "x", "d", "LEFT", "LEFT", "0.01"), ("BZMPOP", "0.01", "1", "x", "MIN"),
    ("BLPOP", "x", "-1"), ("BLPOP", "x", "nope"), ("BLMPOP", "0", "0", "x", "LEFT"),
    ("BZMPOP", "0", "1", "x", "MIN", "COUNT", "0"), ("CLIENT", "UNBLOCK", "424242"),
]


def transcript(port, protocol):
    c = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    c.flushall()
    log = []
    for cmd in IMMEDIATE:
        try:
            log.append((cmd, c.execute_command(*cmd)))
        except redis.ResponseError as e:
            log.append((cmd, "ERR: " + str(e)))
    # Woken replies.
    for block, write in [
        (("BLPOP", "q", "0"), ("RPUSH", "q", "1", "2")),
        (("BLMPOP", "0", "1", "q", "RIGHT", "COUNT", "5"), ("LPUSH", "q", "1", "2")),
        (("BZPOPMAX", "z2", "0"), ("ZADD", "z2", "1", "m", "7", "n")),
        (("BZMPOP", "0", "1", "z3", "MIN"), ("ZADD", "z3", "1", "m", "7", "n")),
        (("BLMOVE", "q3", "d3", "RIGHT", "RIGHT", "0"), ("RPUSH", "q3", "a", "b")),
    ]:
        b = Blocked(port, c, "execute_command", *block, protocol=protocol)
        c.execute_command(*write)
        log.append((block, b.join()))
        log.append((block, [c.type(k) for k in ("q", "z2", "z3", "q3", "d3")]))
        c.flushall()
    return log


def test_same_as_redis_server(mt_node, redis_server, proto):
    got = transcript(mt_node.port, proto)
    want = transcript(redis_server, proto)
    assert got == want
