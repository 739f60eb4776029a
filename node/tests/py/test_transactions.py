"""Transactions through redis-py: pipelines with transaction=True, WATCH retry
loops, queueing and runtime errors, and WATCH invalidation by other clients,
expiry, FLUSHALL and SWAPDB."""
import threading
import time

import pytest
import redis


def raw(node, **kw):
    """A single connection without redis-py's reply callbacks."""
    c = redis.Connection(host="127.0.0.1", port=node.port, decode_responses=True, **kw)
    c.connect()
    return c


def call(c, *args):
    c.send_command(*args)
    return c.read_response()


def test_pipeline_transaction_returns_every_reply(r):
    p = r.pipeline(transaction=True)
    p.set("a", 1).incr("a").get("a").lpush("l", "x", "y").lrange("l", 0, -1)
    assert p.execute() == [True, 2, "2", 2, ["y", "x"]]


def test_empty_transaction(r):
    assert r.pipeline(transaction=True).execute() == []
    r.execute_command("MULTI")
    assert r.execute_command("EXEC") == []


def test_runtime_errors_do_not_abort(r):
    r.set("s", "str")
    p = r.pipeline(transaction=True)
    p.incr("s").set("t", 1).lpush("s", "x").get("t")
    res = p.execute(raise_on_error=False)
    assert isinstance(res[0], redis.ResponseError)
    assert "not an integer" in str(res[0])
    assert res[1] is True
    assert isinstance(res[2], redis.ResponseError) and "WRONGTYPE" in str(res[2])
    assert res[3] == "1"
    with pytest.raises(redis.ResponseError):
        r.pipeline(transaction=True).incr("s").execute()


def test_queue_time_errors_abort(node, r):
    p = r.pipeline(transaction=True)
    p.set("q", 1).execute_command("NOSUCHCOMMAND", "x")
    with pytest.raises(redis.ResponseError) as e:
        p.execute()
    assert "EXECABORT" in str(e.value) or "unknown command" in str(e.value)
    assert r.get("q") is None
    c = raw(node)
    assert call(c, "MULTI") == "OK"
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get'"):
        call(c, "GET")
    assert call(c, "SET", "q", 1) == "QUEUED"
    with pytest.raises(redis.ResponseError, match="Transaction discarded because of previous errors"):
        call(c, "EXEC")
    assert r.get("q") is None


def test_command_errors_outside_and_inside(r):
    with pytest.raises(redis.ResponseError, match="EXEC without MULTI"):
        r.execute_command("EXEC")
    with pytest.raises(redis.ResponseError, match="DISCARD without MULTI"):
        r.execute_command("DISCARD")
    r.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="MULTI calls can not be nested"):
        r.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="WATCH inside MULTI is not allowed"):
        r.execute_command("WATCH", "k")
    with pytest.raises(redis.ResponseError, match="Command not allowed inside a transaction"):
        r.execute_command("SHUTDOWN")
    assert r.execute_command("DISCARD") == "OK"


def test_discard(r):
    r.execute_command("MULTI")
    r.execute_command("SET", "d", 1)
    assert r.execute_command("DISCARD") == "OK"
    assert r.get("d") is None


def test_watch_retry_loop_succeeds_untouched(r):
    r.set("bal", 10)
    with r.pipeline() as p:
        p.watch("bal")
        cur = int(p.get("bal"))
        p.multi()
        p.set("bal", cur - 3)
        assert p.execute() == [True]
    assert r.get("bal") == "7"


def test_watch_touched_by_another_client(node, r):
    other = node.client(decode_responses=True)
    r.set("w", 1)
    with r.pipeline() as p:
        p.watch("w")
        other.incr("w")
        p.multi()
        p.set("w", 100)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("w") == "2"
    # transaction() retries until the watch holds.
    calls = []

    def bump(pipe):
        v = int(pipe.get("w"))
        if not calls:
            other.incr("w")  # invalidate the first attempt only
        calls.append(v)
        pipe.multi()
        pipe.set("w", v * 10)

    r.transaction(bump, "w")
    assert calls == [2, 3]
    assert r.get("w") == "30"


def test_watch_key_expired(node, r):
    r.set("e", 1, px=30)
    with r.pipeline() as p:
        p.watch("e")
        deadline = time.time() + 10
        while node.client().exists("e"):
            assert time.time() < deadline
            time.sleep(0.005)
        p.multi()
        p.ping()
        with pytest.raises(redis.WatchError):
            p.execute()


@pytest.mark.parametrize("flush", ["flushall", "flushdb", "swapdb"])
def test_watch_touched_by_whole_db_commands(node, r, flush):
    other = node.client(decode_responses=True)
    r.set("f", 1)
    with r.pipeline() as p:
        p.watch("f")
        if flush == "swapdb":
            other.swapdb(0, 1)
        else:
            getattr(other, flush)()
        p.multi()
        p.ping()
        with pytest.raises(redis.WatchError):
            p.execute()
    # A watched key missing from both databases is not touched.
    r.flushall()
    with r.pipeline() as p:
        p.watch("missing")
        if flush == "swapdb":
            other.swapdb(0, 1)
        else:
            getattr(other, flush)()
        p.multi()
        p.ping()
        assert p.execute() == [True]


@pytest.mark.parametrize("proto", [2, 3])
def test_unwatch_and_null_reply(node, proto):
    c = raw(node, protocol=proto)
    call(c, "SET", "u", 1)
    assert call(c, "WATCH", "u") == "OK"
    call(c, "SET", "u", 2)
    assert call(c, "MULTI") == "OK"
    assert call(c, "PING") == "QUEUED"
    assert call(c, "EXEC") is None  # RESP2 *-1, RESP3 _
    call(c, "WATCH", "u")
    call(c, "SET", "u", 3)
    assert call(c, "UNWATCH") == "OK"
    call(c, "MULTI")
    call(c, "HGETALL", "nohash")
    call(c, "GET", "u")
    assert call(c, "EXEC") == [{} if proto == 3 else [], "3"]


def test_concurrent_watch_increments_lose_nothing(node):
    n_threads, each = 4, 60

    def inc(p):
        v = int(p.get("n") or 0)
        p.multi()
        p.set("n", v + 1)

    def work():
        c = node.client()
        for _ in range(each):
            c.transaction(inc, "n")

    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert int(node.client().get("n")) == n_threads * each


def test_transfers_are_atomic_for_observers(node):
    accounts = [f"acct:{i}" for i in range(12)]
    c = node.client()
    c.mset({a: 100 for a in accounts})
    stop = threading.Event()
    errors = []

    def mover(seed):
        m = node.client()
        x = seed
        while not stop.is_set():
            p = m.pipeline(transaction=True)
            for _ in range(4):
                x = (x * 1103515245 + 12345) % (1 << 31)
                src, dst = accounts[x % 12], accounts[(x >> 8) % 12]
                p.decrby(src, x % 7).incrby(dst, x % 7)
            p.execute()

    ts = [threading.Thread(target=mover, args=(s,)) for s in (1, 2, 3)]
    for t in ts:
        t.start()
    try:
        o = node.client()
        for _ in range(200):
            p = o.pipeline(transaction=True)
            for a in reversed(accounts):
                p.get(a)
            total = sum(int(v) for v in p.execute())
            if total != 1200:
                errors.append(total)
    finally:
        stop.set()
        for t in ts:
            t.join()
    assert errors == []
