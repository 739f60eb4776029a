"""RDB persistence against redis-server 7.0: files written by one load into the
other with identical contents (every type in every encoding, TTLs, streams with
groups, PELs and consumers, several databases), SAVE/BGSAVE/SHUTDOWN restart
round trips, and DUMP/RESTORE both ways."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import Node, RedisServer



def populate(c):
    """Every type in every encoding redis-server 7.0 uses, in three databases."""
    c.flushall()
    p = c.pipeline(transaction=False)
    p.set("s:int", 12345)
    p.set("s:neg", -7)
    p.set("s:big", 2 ** 40)
    p.set("s:short", "hello")
    p.set("s:lzf", "abc" * 200)
    p.set("s:bin", bytes(range(256)) * 3)
    p.set("s:empty", "")
    p.set("s:ttl", "v", px=3_600_000)
    p.set("s:float", "3.14")
    p.rpush("l:small", "a", "b", 1, 2, -300, "x" * 70)
    p.rpush("l:big", *[f"elem-{i}" * 3 for i in range(3000)])
    p.rpush("l:huge-elem", "y" * 20000, "z")
    p.sadd("set:ints", 1, 2, 3, -5, 70000, 2 ** 40)
    p.sadd("set:bigints", *range(1000))
    p.sadd("set:strs", "a", "b", "c")
    p.sadd("set:big", *[f"m{i}" for i in range(500)])
    p.hset("h:small", mapping={"f1": "v1", "f2": 2, "n": -1})
    p.hset("h:longval", mapping={"f": "v" * 100})
    p.hset("h:big", mapping={f"field{i}": f"value{i}" for i in range(300)})
    p.zadd("z:small", {"a": 1, "b": 2.5, "c": -3, "d": float("inf"), "e": 1e-300})
    p.zadd("z:big", {f"m{i}": i * 1.5 for i in range(400)})
    p.zadd("z:longmember", {"q" * 100: 1})
    p.pfadd("hll", *[f"e{i}" for i in range(100)])
    p.setbit("bits", 1000, 1)
    for i in range(250):
        p.xadd("st", {"f": i, "g": "x"}, id=f"{1000 + i}-0")
    p.xadd("st", {"other": "fields"}, id="5000-1")
    p.execute()
    c.xdel("st", "1003-0", "1100-0")
    c.xgroup_create("st", "g1", id="0")
    c.xgroup_create("st", "g2", id="$")
    c.xgroup_create("st", "g3", id="1050-0")
    c.xreadgroup("g1", "alice", {"st": ">"}, count=5)
    c.xreadgroup("g1", "bob", {"st": ">"}, count=3)
    c.xack("st", "g1", "1001-0")
    c.xgroup_createconsumer("st", "g1", "idle-one")
    c.xreadgroup("g3", "carol", {"st": ">"}, count=2)
    c.xadd("st:empty", {"a": 1}, id="1-1")
    c.xdel("st:empty", "1-1")
    c.xgroup_create("st:empty", "eg", id="0")
    c.xadd("st:trim", {"a": 1}, id="1-0")
    c.xadd("st:trim", {"a": 2}, id="2-0")
    c.xtrim("st:trim", maxlen=1)
    c.execute_command("SELECT", 3)
    c.select(3)
    c.set("db3:key", "in three")
    c.hset("db3:h", "a", "b")
    c.pexpire("db3:h", 7_200_000)
    c.select(15)
    c.rpush("db15:list", "q")
    c.select(0)


def snapshot(c):
    """Everything observable, by a full scan with type-specific reads."""
    out = {}
    for db in range(16):
        c.execute_command("SELECT", db)
        for key in sorted(c.scan_iter(count=1000)):
            t = c.type(key)
            rec = {"type": t}
            pexp = c.pexpiretime(key)
            rec["pexpiretime"] = pexp
            if t == b"string":
                rec["v"] = c.get(key)
            elif t == b"list":
                rec["v"] = c.lrange(key, 0, -1)
            elif t == b"set":
                rec["v"] = sorted(c.smembers(key))
                rec["enc"] = c.object("encoding", key)
            elif t == b"hash":
                rec["v"] = c.hgetall(key)
                rec["enc"] = c.object("encoding", key)
            elif t == b"zset":
                rec["v"] = c.zrange(key, 0, -1, withscores=True)
                rec["enc"] = c.object("encoding", key)
            elif t == b"stream":
                rec["v"] = c.xrange(key)
                info = c.xinfo_stream(key)
                rec["info"] = {k: info[k] for k in (
                    "length", "last-generated-id", "max-deleted-entry-id",
                    "entries-added", "recorded-first-entry-id")}
                groups = []
                for g in c.xinfo_groups(key):
                    name = g["name"]
                    pending = c.xpending_range(key, name, "-", "+", 10000)
                    consumers = sorted(
                        (x["name"], x["pending"]) for x in c.xinfo_consumers(key, name))
                    groups.append({
                        "name": name,
                        "last": g["last-delivered-id"],
                        "entries-read": g["entries-read"],
                        "lag": g["lag"],
                        "pending": [(x["message_id"], x["consumer"], x["times_delivered"])
                                    for x in pending],
                        "consumers": consumers,
                    })
                rec["groups"] = groups
            out[(db, key)] = rec
    c.execute_command("SELECT", 0)
    return out


def wait_bgsave(c):
    deadline = time.time() + 30
    while c.info("persistence")["rdb_bgsave_in_progress"]:
        assert time.time() < deadline, "BGSAVE did not finish"
        time.sleep(0.01)  # polling a state, bounded by the deadline


@pytest.fixture
def redis_server():
    s = RedisServer()
    yield s
    s.stop()


def test_redis_dump_loads_into_kcache(redis_server):
    rc = redis_server.client()
    populate(rc)
    want = snapshot(rc)
    assert rc.save()
    d = tempfile.mkdtemp(prefix="kcache-rdb-in-")
    shutil.copy(os.path.join(redis_server.dir, "dump.rdb"), os.path.join(d, "from-redis.rdb"))
    node = Node("--dbfilename", "from-redis.rdb", "--dir", d)
    try:
        kc = node.client()
        info = kc.info("persistence")
        assert info["rdb_last_load_keys_loaded"] == len(want)
        assert snapshot(kc) == want
    finally:
        node.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_kcache_dump_loads_into_redis(node):
    kc = node.client()
    populate(kc)
    want = snapshot(kc)
    assert kc.save()
    d = tempfile.mkdtemp(prefix="kcache-rdb-out-")
    shutil.copy(os.path.join(node.dir, "dump.rdb"), os.path.join(d, "dump.rdb"))
    rs = RedisServer(dir=d)
    try:
        assert snapshot(rs.client()) == want
    finally:
        rs.stop()


@pytest.mark.parametrize("how", ["save", "bgsave", "shutdown", "sigterm"])
def test_restart_round_trip(how):
    d = tempfile.mkdtemp(prefix="kcache-restart-")
    node = Node("--dir", d)
    try:
        kc = node.client()
        populate(kc)
        want = snapshot(kc)
        if how == "save":
            before = kc.lastsave()
            assert kc.save()
            assert kc.info("persistence")["rdb_changes_since_last_save"] == 0
            assert kc.lastsave() >= before
            node.stop()
        elif how == "bgsave":
            assert kc.bgsave()
            wait_bgsave(kc)
            info = kc.info("persistence")
            assert info["rdb_last_bgsave_status"] == "ok"
            assert info["rdb_saves"] == 1
            node.stop()
        elif how == "shutdown":
            try:
                kc.shutdown()
            except redis.exceptions.ConnectionError:
                pass
            assert node.proc.wait(timeout=30) == 0
        else:
            node.proc.terminate()
            assert node.proc.wait(timeout=30) == 0
        assert os.path.exists(os.path.join(d, "dump.rdb"))
        node = Node("--dir", d)
        assert snapshot(node.client()) == want
    finally:
        node.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_shutdown_nosave_and_no_save_points(node):
    kc = node.client()
    kc.set("k", "v")
    try:
        kc.shutdown(nosave=True)
    except redis.exceptions.ConnectionError:
        pass
    node.proc.wait(timeout=30)
    assert not os.path.exists(os.path.join(node.dir, "dump.rdb"))
    n2 = Node("--save", "")
    try:
        c = n2.client()
        c.set("k", "v")
        try:
            c.shutdown()
        except redis.exceptions.ConnectionError:
            pass
        n2.proc.wait(timeout=30)
        assert not os.path.exists(os.path.join(n2.dir, "dump.rdb"))
    finally:
        n2.stop()


def test_bgsave_replies_and_info(node):
    kc = node.client(decode_responses=True)
    info = kc.info("persistence")
    for field in ("loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
                  "rdb_last_save_time", "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec",
                  "rdb_current_bgsave_time_sec", "rdb_saves", "rdb_last_cow_size"):
        assert field in info
    kc.set("a", 1)
    kc.set("b", 2)
    assert kc.info("persistence")["rdb_changes_since_last_save"] == 2
    def cli(*args):
        out = subprocess.run(["redis-cli", "-p", str(node.port), *args],
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip()

    assert cli("BGSAVE") == "Background saving started"
    # Still running (refused, or scheduled), or already done.
    assert cli("BGSAVE") in ("Background saving started",
                             "ERR Background save already in progress")
    assert cli("BGSAVE", "SCHEDULE") in ("Background saving started",
                                         "Background saving scheduled")
    wait_bgsave(kc)
    with pytest.raises(redis.exceptions.ResponseError, match="syntax error"):
        kc.execute_command("BGSAVE", "NOW")


def test_save_rule_triggers_bgsave():
    node = Node("--save", "1 3")
    try:
        kc = node.client()
        for i in range(5):
            kc.set(f"k{i}", i)
        deadline = time.time() + 20
        while kc.info("persistence")["rdb_saves"] == 0:
            assert time.time() < deadline, "the save rule never fired"
            time.sleep(0.05)  # polling the cron's effect, bounded
        assert os.path.exists(os.path.join(node.dir, "dump.rdb"))
    finally:
        node.stop()


def test_dump_restore_both_ways(redis_server, node):
    rc = redis_server.client()
    kc = node.client()
    populate(rc)
    populate(kc)
    want = snapshot(rc)
    for db in (0, 3, 15):
        rc.execute_command("SELECT", db)
        kc.execute_command("SELECT", db)
        keys = list(rc.scan_iter(count=1000))
        # redis -> kcache
        kc.flushdb()
        for k in keys:
            pttl = rc.pttl(k)
            assert kc.restore(k, max(pttl, 0), rc.dump(k)) == b"OK"
        # kcache -> redis
        rc.flushdb()
        for k in keys:
            pttl = kc.pttl(k)
            assert rc.restore(k, max(pttl, 0), kc.dump(k)) == b"OK"
    rc.execute_command("SELECT", 0)
    kc.execute_command("SELECT", 0)
    got_k, got_r = snapshot(kc), snapshot(rc)

    def no_ttl_values(s):
        return {k: {f: v for f, v in rec.items() if f != "pexpiretime"} for k, rec in s.items()}

    assert no_ttl_values(got_k) == no_ttl_values(want)
    assert no_ttl_values(got_r) == no_ttl_values(want)


def test_restore_errors_match_redis(redis_server, node):
    rc = redis_server.client()
    kc = node.client()
    for c in (rc, kc):
        c.set("src", "value")
    payload = rc.dump("src")
    assert kc.dump("src") == payload
    assert kc.dump("missing") is None
    cases = [
        ["RESTORE", "src", "0", payload],
        ["RESTORE", "new", "-1", payload],
        ["RESTORE", "new", "abc", payload],
        ["RESTORE", "new", "0", payload[:-1] + b"\x00"],
        ["RESTORE", "new", "0", b"x"],
        ["RESTORE", "new", "0", payload, "BOGUS"],
        ["RESTORE", "new", "0", payload, "IDLETIME", "-1"],
        ["RESTORE", "new", "0", payload, "FREQ", "256"],
        ["RESTORE", "new", "0", payload, "IDLETIME", "1", "FREQ", "2"],
        ["RESTORE", "new", "0", payload, "IDLETIME"],
    ]
    for cmd in cases:
        errs = []
        for c in (rc, kc):
            try:
                c.execute_command(*cmd)
                errs.append(None)
            except redis.exceptions.ResponseError as e:
                errs.append(str(e))
        assert errs[0] == errs[1], (cmd, errs)
    for c in (rc, kc):
        assert c.execute_command("RESTORE", "src", "0", payload, "REPLACE", "IDLETIME", "1000") == b"OK"
        assert c.execute_command("RESTORE", "abs", str(int(time.time() * 1000) + 100000), payload, "ABSTTL") == b"OK"
        assert 0 < c.pttl("abs") <= 100000
        assert c.execute_command("RESTORE", "past", "1", payload, "ABSTTL") == b"OK"
        assert c.exists("past") == 0


def test_restore_notifications_match_redis(redis_server, node):
    def events(c, payload):
        c.execute_command("CONFIG", "SET", "notify-keyspace-events", "KEAn")
        p = c.pubsub()
        p.psubscribe("__key*__:*")
        p.get_message(timeout=5)
        c.set("old", "x")
        c.execute_command("RESTORE", "fresh", "0", payload)
        c.execute_command("RESTORE", "old", "0", payload, "REPLACE")
        c.execute_command("RESTORE", "old", "1", payload, "REPLACE", "ABSTTL")
        c.set("end", "1")
        got = []
        last = {(b"__keyspace@0__:end", b"set"), (b"__keyevent@0__:set", b"end")}
        deadline = time.time() + 10
        while not last <= set(got) and time.time() < deadline:
            m = p.get_message(timeout=1)
            if m and m["type"] == "pmessage":
                got.append((m["channel"], m["data"]))
        p.close()
        return got

    rc, kc = redis_server.client(), node.client()
    rc.set("src", "value")
    payload = rc.dump("src")
    rc.delete("src")
    want = events(rc, payload)
    assert (b"__keyevent@0__:restore", b"fresh") in want
    assert events(kc, payload) == want
