"""CLIENT TRACKING through redis-py's RESP3 connection, against the node and,
side by side, redis-server."""
import redis

from conftest import wait_until


def invalidations(port):
    """Tracks a key through one RESP3 connection of redis-py with its
    invalidation push handler (what its client-side cache is built on; the
    cache itself refuses servers that report a version before 7.4, as both
    redis-server 7.0.15 and the node do), while another client writes.
    Returns the invalidated keys in order."""
    got = []
    pool = redis.ConnectionPool(host="127.0.0.1", port=port, protocol=3)
    conn = pool.get_connection()
    conn._parser.set_invalidation_push_handler(lambda msg: got.append(msg[1]))
    writer = redis.Redis(host="127.0.0.1", port=port)

    def call(*args):
        conn.send_command(*args)
        return conn.read_response()

    assert call("CLIENT", "TRACKING", "ON") in (b"OK", "OK")
    writer.set("foo", "bar")
    assert call("GET", "foo") == b"bar"
    assert call("GET", "other") is None
    writer.set("other", "1")
    writer.set("foo", "baz")
    writer.set("foo", "again")  # not read since: no second invalidation

    def arrived():
        while conn.can_read(timeout=0):
            conn.read_response(push_request=True)
        return len(got) >= 2

    wait_until(arrived)
    assert call("GET", "foo") == b"again"
    writer.flushall()
    wait_until(lambda: arrived() and len(got) >= 3)
    pool.disconnect()
    writer.close()
    return got


def test_redis_py_receives_invalidations(node, redis_port):
    ours = invalidations(node.port)
    assert ours == invalidations(redis_port)
    assert ours == [[b"other"], [b"foo"], None]


def test_tracking_info_through_redis_py(node):
    c = node.client(protocol=3)
    assert c.execute_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a:") in (b"OK", "OK", True)
    info = c.execute_command("CLIENT", "TRACKINGINFO")
    flags = info[b"flags"] if b"flags" in info else info["flags"]
    assert {f if isinstance(f, bytes) else f.encode() for f in flags} == {b"on", b"bcast"}
    assert c.execute_command("CLIENT", "GETREDIR") == 0
    c.close()
