"""redis-py's PubSub against kcache-node, in RESP2 and RESP3."""
import socket
import time

import pytest

PROTOCOLS = [2, 3]


def next_message(p, timeout=10.0):
    """The next non-None message, polling with a deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.5)
        if m is not None:
            return m
    raise AssertionError("no message before the deadline")


def wait_until(what, f, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if f():
            return
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_subscribe_publish_unsubscribe(node, proto):
    c = node.client(protocol=proto, decode_responses=True)
    p = c.pubsub()
    p.subscribe("news", "sport")
    assert next_message(p) == {"type": "subscribe", "pattern": None, "channel": "news", "data": 1}
    assert next_message(p) == {"type": "subscribe", "pattern": None, "channel": "sport", "data": 2}
    pub = node.client(decode_responses=True)
    assert pub.publish("news", "hello") == 1
    assert pub.publish("nobody", "x") == 0
    assert next_message(p) == {"type": "message", "pattern": None, "channel": "news", "data": "hello"}
    assert pub.pubsub_numsub("news", "sport", "none") == [("news", 1), ("sport", 1), ("none", 0)]
    assert sorted(pub.pubsub_channels()) == ["news", "sport"]
    assert pub.pubsub_channels("n*") == ["news"]
    p.unsubscribe("news")
    assert next_message(p)["type"] == "unsubscribe"
    p.unsubscribe()
    m = next_message(p)
    assert (m["type"], m["channel"], m["data"]) == ("unsubscribe", "sport", 0)
    wait_until("no channels", lambda: pub.pubsub_channels() == [])
    p.close()
    c.close()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_pattern_subscriptions(node, proto):
    c = node.client(protocol=proto, decode_responses=True)
    p = c.pubsub()
    p.psubscribe("user:*", "h?llo")
    next_message(p)
    next_message(p)
    pub = node.client(decode_responses=True)
    assert pub.pubsub_numpat() == 2
    assert pub.publish("user:42", "a") == 1
    assert pub.publish("hello", "b") == 1
    assert pub.publish("other", "c") == 0
    m1 = next_message(p)
    m2 = next_message(p)
    assert (m1["type"], m1["pattern"], m1["channel"], m1["data"]) == ("pmessage", "user:*", "user:42", "a")
    assert (m2["pattern"], m2["channel"]) == ("h?llo", "hello")
    p.punsubscribe()
    next_message(p)
    next_message(p)
    wait_until("no patterns", lambda: pub.pubsub_numpat() == 0)
    p.close()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_handlers_in_a_thread(node, proto):
    c = node.client(protocol=proto, decode_responses=True)
    got = []
    p = c.pubsub()
    p.subscribe(**{"jobs": lambda m: got.append(m["data"])})
    t = p.run_in_thread(sleep_time=0.01)
    pub = node.client(decode_responses=True)
    wait_until("subscription", lambda: pub.pubsub_numsub("jobs") == [("jobs", 1)])
    for i in range(100):
        assert pub.publish("jobs", str(i)) == 1
    wait_until("all messages", lambda: len(got) == 100)
    assert got == [str(i) for i in range(100)]
    t.stop()
    t.join(timeout=10)
    p.close()


def test_ping_while_subscribed(node):
    # RESP2 only: redis-py cannot parse a RESP3 PING reply inside PubSub, on
    # redis-server either (tests/pubsub.rs covers RESP3 byte for byte).
    c = node.client(protocol=2, decode_responses=True)
    p = c.pubsub()
    p.subscribe("x")
    next_message(p)
    p.ping("hi")
    m = next_message(p)
    assert m["type"] == "pong" and m["data"] == "hi"
    p.close()


def test_resp2_subscriber_is_restricted(node):
    # redis-py's PubSub drops error replies, so this talks RESP on a socket.
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as s:
        f = s.makefile("rb")
        s.sendall(b"SUBSCRIBE x\r\n")
        assert [f.readline() for _ in range(6)][-1] == b":1\r\n"
        s.sendall(b"GET k\r\n")
        assert f.readline() == (
            b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
            b"PING / QUIT / RESET are allowed in this context\r\n"
        )
        s.sendall(b"PING\r\n")
        assert [f.readline() for _ in range(5)] == [b"*2\r\n", b"$4\r\n", b"pong\r\n", b"$0\r\n", b"\r\n"]


def test_shard_channels(node):
    c = node.client(decode_responses=True)
    p = c.pubsub()
    p.ssubscribe("orders")
    assert next_message(p)["type"] == "ssubscribe"
    pub = node.client(decode_responses=True)
    assert pub.spublish("orders", "o1") == 1
    assert pub.publish("orders", "plain") == 0
    m = next_message(p)
    assert (m["type"], m["channel"], m["data"]) == ("smessage", "orders", "o1")
    assert pub.pubsub_shardchannels() == ["orders"]
    assert pub.pubsub_shardnumsub("orders") == [("orders", 1)]
    p.close()
    wait_until("cleanup", lambda: pub.pubsub_shardnumsub("orders") == [("orders", 0)])


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_keyspace_notifications(node, proto):
    admin = node.client(decode_responses=True)
    admin.config_set("notify-keyspace-events", "KEA")
    c = node.client(protocol=proto, decode_responses=True)
    p = c.pubsub()
    p.psubscribe("__keyevent@0__:*")
    next_message(p)
    admin.set("k", "v", ex=100)
    admin.lpush("l", "a")
    admin.delete("k")
    events = [(m["channel"], m["data"]) for m in (next_message(p) for _ in range(4))]
    assert events == [
        ("__keyevent@0__:set", "k"),
        ("__keyevent@0__:expire", "k"),
        ("__keyevent@0__:lpush", "l"),
        ("__keyevent@0__:del", "k"),
    ]
    admin.config_set("notify-keyspace-events", "")
    p.close()


def test_disconnect_drops_subscriptions(node):
    pub = node.client(decode_responses=True)
    subs = []
    for _ in range(20):
        c = node.client(decode_responses=True)
        p = c.pubsub()
        p.subscribe("room")
        next_message(p)
        subs.append((c, p))
    assert pub.pubsub_numsub("room") == [("room", 20)]
    assert pub.publish("room", "hi") == 20
    for c, p in subs:
        p.close()
        c.close()
    wait_until("all subscribers gone", lambda: pub.pubsub_numsub("room") == [("room", 0)])
