"""redis-py against kcache-node: basic commands in RESP2 and RESP3."""
import redis


def test_ping_set_get(r):
    assert r.ping() is True
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.get("missing") is None


def test_resp3_hello(node):
    c = node.client(protocol=3, decode_responses=True)
    assert c.set("a", "1") is True
    assert c.get("a") == "1"
    c.close()


def test_pipeline(r):
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.set(f"k{i}", i)
    for i in range(100):
        p.get(f"k{i}")
    res = p.execute()
    assert res[100:] == [str(i) for i in range(100)]


def test_wrong_arity_is_an_error_and_keeps_the_connection(r):
    try:
        r.execute_command("GET")
        raise AssertionError("expected an error")
    except redis.ResponseError as e:
        assert "wrong number of arguments for 'get' command" in str(e)
    assert r.ping() is True
