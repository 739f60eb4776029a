"""redis-py against a kcache-node replica of a real redis-server primary:
the client library's own parsing of ROLE and INFO replication, pipelined and
transactional writes on the primary, READONLY as redis-py raises it, WAIT."""

import pytest
import redis

from conftest import Node, RedisServer, wait_until


@pytest.fixture
def primary():
    s = RedisServer("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
    c = s.client(decode_responses=True)
    yield c, s.port
    c.close()
    s.stop()


@pytest.fixture
def replica():
    n = Node()
    yield n
    n.stop()


def test_replica_follows_and_reports(primary, replica):
    p, pport = primary
    r = replica.client(decode_responses=True)
    assert r.role() == ["master", 0, []]
    assert r.replicaof("127.0.0.1", pport)
    wait_until(lambda: r.info("replication")["master_link_status"] == "up")

    pipe = p.pipeline(transaction=False)
    for i in range(200):
        pipe.set(f"k{i}", i)
        pipe.hset(f"h{i % 7}", f"f{i}", i)
    pipe.execute()
    with p.pipeline(transaction=True) as tx:
        tx.incr("counter")
        tx.lpush("list", "a", "b")
        tx.execute()
    assert p.wait(1, 5000) == 1

    def caught_up():
        return r.info("replication")["master_repl_offset"] == p.info("replication")["master_repl_offset"]

    wait_until(caught_up)
    assert r.get("k199") == "199"
    assert r.hgetall("h3") == p.hgetall("h3")
    assert r.lrange("list", 0, -1) == ["b", "a"]
    assert r.dbsize() == p.dbsize()

    role = r.role()
    assert role[:4] == ["slave", "127.0.0.1", pport, "connected"]
    assert role[4] == p.info("replication")["master_repl_offset"]
    info = r.info("replication")
    assert info["role"] == "slave"
    assert info["master_port"] == pport
    assert info["master_sync_in_progress"] == 0
    assert info["master_replid"] == p.info("replication")["master_replid"]
    # The primary's own view of us, through redis-py's INFO parser.
    slave0 = p.info("replication")["slave0"]
    assert slave0["port"] == replica.port and slave0["state"] == "online"

    with pytest.raises(redis.exceptions.ReadOnlyError):
        r.set("x", "1")

    assert r.replicaof("NO", "ONE")
    r.set("x", "1")
    assert r.info("replication")["master_replid2"] == p.info("replication")["master_replid"]
