"""redis-py against kcache-node: server commands (INFO, CONFIG, COMMAND, SLOWLOG,
MEMORY, MONITOR, TIME, CLIENT SETINFO) as a real client library parses them."""
import time

import pytest
import redis

from conftest import Node


def test_info_parses_like_redis(r):
    r.set("a", 1)
    r.set("b", 2, ex=100)
    info = r.info()
    assert info["redis_version"] == "7.0.15"
    assert info["role"] == "master"
    assert info["connected_slaves"] == 0
    assert info["used_memory"] > 0
    assert isinstance(info["used_cpu_sys"], float)
    assert info["db0"] == {"keys": 2, "expires": 1, "avg_ttl": 0}
    assert info["maxmemory_policy"] == "noeviction"
    assert len(info["master_replid"]) == 40
    assert r.info("keyspace") == {"db0": {"keys": 2, "expires": 1, "avg_ttl": 0}}
    stats = r.info("commandstats")
    assert stats["cmdstat_set"]["calls"] == 2
    server = r.info("server", "clients")
    assert "tcp_port" in server and "connected_clients" in server
    assert "used_memory" not in server


def test_info_resp3(node):
    c = node.client(protocol=3, decode_responses=True)
    assert c.info("server")["redis_version"] == "7.0.15"
    c.close()


def test_config_get_set_resetstat(r):
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    got = r.config_get("maxmemory*")
    assert set(got) == {"maxmemory", "maxmemory-clients", "maxmemory-policy", "maxmemory-samples", "maxmemory-eviction-tenacity"}
    assert r.config_set("maxmemory", "10mb") is True
    assert r.config_get("maxmemory") == {"maxmemory": str(10 * 1024 * 1024)}
    with pytest.raises(redis.ResponseError, match="Unknown option or number of arguments for CONFIG SET - 'nosuch'"):
        r.config_set("nosuch", "1")
    with pytest.raises(redis.ResponseError, match="argument must be a memory value"):
        r.config_set("maxmemory", "lots")
    r.get("missing")
    assert r.info("stats")["keyspace_misses"] == 1
    assert r.config_resetstat() is True
    assert r.info("stats")["keyspace_misses"] == 0
    with pytest.raises(redis.ResponseError, match="running without a config file"):
        r.config_rewrite()


def test_command_count_and_info(r):
    n = r.command_count()
    assert n > 10
    assert len(r.command_list()) > n  # subcommands are listed too
    cmds = r.command()
    assert cmds["get"]["arity"] == 2
    assert cmds["get"]["first_key_pos"] == 1
    assert "readonly" in cmds["get"]["flags"]
    assert r.command_getkeys("SET", "k", "v") == ["k"]
    assert set(r.command_list(category="admin")) >= {"config|set", "shutdown"}


def test_time(r):
    secs, usecs = r.time()
    assert abs(secs - time.time()) < 5
    assert 0 <= usecs < 1_000_000


def test_slowlog(r):
    r.slowlog_reset()
    r.config_set("slowlog-log-slower-than", 0)
    r.client_setname("pyclient")
    r.set("slow", "x")
    entries = r.slowlog_get(2)
    assert len(entries) == 2
    text = lambda v: v.decode() if isinstance(v, bytes) else v
    newest = entries[0]
    assert text(newest["command"]) == "SET slow x"
    assert text(newest["client_name"]) == "pyclient"
    assert {"id", "start_time", "duration", "client_address"} <= set(newest)
    assert text(entries[1]["command"]) == "CLIENT SETNAME pyclient"
    assert r.slowlog_len() >= 3


def test_memory(r):
    r.set("m", "x" * 1000)
    assert r.memory_usage("m") > 1000
    assert r.memory_usage("nosuch") is None
    stats = r.memory_stats()
    assert stats["keys.count"] == 1
    assert "peak.allocated" in stats


def test_monitor(node):
    r = node.client(decode_responses=True)
    with r.monitor() as m:
        other = node.client(decode_responses=True)
        other.set("watched", "1")
        deadline = time.time() + 10
        seen = []
        while time.time() < deadline:
            cmd = m.next_command()
            seen.append(cmd["command"])
            if cmd["command"] == "SET watched 1":
                break
        assert "SET watched 1" in seen
        other.close()


def test_client_setinfo_and_list(node):
    c = node.client(decode_responses=True)
    assert c.client_setinfo("LIB-NAME", "kctest") is True
    assert c.client_setinfo("LIB-VER", "9.9") is True
    me = [x for x in c.client_list() if x["id"] == str(c.client_id())][0]
    assert me["lib-name"] == "kctest"
    assert me["lib-ver"] == "9.9"
    c.close()
    # redis-py announces itself on connect with CLIENT SETINFO.
    d = node.client(decode_responses=True)
    assert d.client_info()["lib-name"] == "redis-py"
    d.close()


def test_dbsize_and_shutdown_abort(r):
    r.set("x", 1)
    assert r.dbsize() == 1
    with pytest.raises(redis.ResponseError, match="No shutdown in progress."):
        r.shutdown(abort=True)


def test_auth_with_requirepass():
    n = Node("--requirepass", "pw")
    try:
        anon = n.client()
        with pytest.raises(redis.AuthenticationError):
            anon.get("k")
        ok = n.client(password="pw", decode_responses=True)
        assert ok.ping() is True
        with pytest.raises(redis.AuthenticationError):
            n.client(password="wrong").ping()
        ok3 = n.client(password="pw", protocol=3)
        assert ok3.ping() is True
    finally:
        n.stop()
