//! Keyspace notifications: the events a script of commands produces on a node
//! and on redis-server, compared command by command; expiry events (lazy and
//! active); events to the writing client itself in RESP3; nothing when off.

mod common;
mod rawresp;

use std::time::{Duration, Instant};

use common::Server;
use rawresp::{encode, Raw};

const MARKER: &str = "__keyspace@0__:~end-of-command";

/// A writing connection plus a subscriber to every keyspace channel.
struct Watch {
    cli: Raw,
    sub: Raw,
}

impl Watch {
    fn new(port: u16, flags: &str) -> Watch {
        let mut cli = Raw::connect(port);
        assert_eq!(cli.cmd_s(&["FLUSHALL"]), "+OK\r\n");
        assert_eq!(
            cli.cmd_s(&["CONFIG", "SET", "notify-keyspace-events", flags]),
            "+OK\r\n"
        );
        let mut sub = Raw::connect(port);
        sub.cmd(&["PSUBSCRIBE", "__key*@*__:*"]);
        Watch { cli, sub }
    }

    /// Runs one command; returns its reply and the events it caused, as
    /// `channel=message` strings. A marker published by the same connection
    /// afterwards arrives after all of them (one publisher's messages keep
    /// their order), so no waiting is needed.
    fn run(&mut self, args: &[&str]) -> (String, Vec<String>) {
        let reply = self.cli.cmd_s(args);
        self.cli.cmd(&["PUBLISH", MARKER, "x"]);
        (reply, self.collect_until_marker())
    }

    fn collect_until_marker(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        loop {
            let (channel, message) = pmessage(&self.sub.reply());
            if channel == MARKER {
                return events;
            }
            events.push(format!("{channel}={message}"));
        }
    }
}

/// (channel, message) of a `pmessage` push.
fn pmessage(r: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(r).into_owned();
    let parts: Vec<&str> = text.split("\r\n").collect();
    // *4 $8 pmessage $n pattern $n channel $n message
    assert_eq!(parts.get(2).copied(), Some("pmessage"), "{text:?}");
    (parts[6].to_string(), parts[8].to_string())
}

/// Commands with their arguments separated by spaces; `''` is an empty one.
const SCRIPT: &[&str] = &[
    "set a 1",
    "set a 2 ex 100",
    "set a 3 nx",
    "set b 1 xx",
    "set a 4 get",
    "set nn 1 nx get",
    "set a 5 keepttl",
    "setnx a 1",
    "setnx c 1",
    "setex d 100 v",
    "psetex e 100000 v",
    "mset f 1 g 2",
    "msetnx f 1 h 2",
    "msetnx h 1 i 2",
    "append a x",
    "append new x",
    "setrange a 0 y",
    "setrange a 0 ''",
    "setrange zz 0 ''",
    "incr n",
    "incrby n 2",
    "decr n",
    "decrby n 2",
    "incrbyfloat n 1.5",
    "incr a",
    "getset a 9",
    "getdel a",
    "getdel a",
    "set a 1",
    "getex a ex 100",
    "getex a persist",
    "getex a persist",
    "getex a",
    "getex a pxat 1",
    "setbit bb 1 1",
    "bitop and bc bb bb",
    "bitop and bb2 nosuch",
    "bitop and bc nosuch",
    "bitfield bf set u8 0 1",
    "bitfield bf get u8 0",
    "set x 1",
    "del x nosuch x",
    "set x 1",
    "unlink x",
    "set x 1",
    "expire x 100",
    "pexpire x 100000",
    "expireat x 99999999999",
    "expire x 100 nx",
    "persist x",
    "persist x",
    "expire x -1",
    "expire nosuch 10",
    "set x 1",
    "rename x y",
    "rename y y",
    "rename nosuch y",
    "set x 1",
    "renamenx x y",
    "renamenx x z",
    "move z 1",
    "move y 1",
    "copy y w",
    "copy y w",
    "copy y w replace",
    "copy y w2 db 2",
    "lpush l a b c",
    "rpush l d",
    "lpushx l e",
    "lpushx nol e",
    "rpushx l f",
    "lpop l",
    "rpop l",
    "lpop l 2",
    "lpop l 0",
    "linsert l before a q",
    "linsert l before nope q",
    "lset l 0 z",
    "lrem l 1 z",
    "lrem l 1 nope",
    "ltrim l 0 0",
    "ltrim nol 0 1",
    "rpush l2 1 2",
    "lmove l l2 left right",
    "rpoplpush l2 l3",
    "lmove l3 l3 left left",
    "lmpop 2 l2 l3 left count 5",
    "lmpop 2 nol l3 right",
    "rpush l4 1",
    "ltrim l4 1 0",
    "lpop nol",
    "sadd s a b",
    "sadd s a",
    "srem s a",
    "srem s nope",
    "sadd s2 b",
    "sadd s b",
    "smove s s2 b",
    "sadd s a b c",
    "smove s s3 a",
    "smove s s nope",
    "spop s",
    "spop s 5",
    "sadd s a b",
    "sadd t b c",
    "sinterstore st s t",
    "sunionstore su s t",
    "sdiffstore sd s s",
    "sdiffstore su s s",
    "hset hh a 1 b 2",
    "hset hh a 1",
    "hsetnx hh a 1",
    "hsetnx hh c 1",
    "hmset hh d 1",
    "hincrby hh n 1",
    "hincrbyfloat hh f 1.5",
    "hdel hh a",
    "hdel hh nope",
    "hdel hh b c d n f",
    "zadd z 1 a 2 b",
    "zadd z 1 a",
    "zadd z 3 a",
    "zadd z incr 1 a",
    "zadd z nx incr 1 a",
    "zadd z nx 5 a",
    "zadd z ch 1 incr",
    "zadd z gt 0 a",
    "zincrby z 1 b",
    "zrem z a incr",
    "zrem z nope",
    "zadd z 1 a 2 c 3 d",
    "zremrangebyscore z 1 1",
    "zremrangebyscore z 100 200",
    "zremrangebyrank z 0 0",
    "zadd zl 0 x 0 y",
    "zremrangebylex zl [x [x",
    "zremrangebylex zl [y [y",
    "zpopmin z",
    "zpopmax z",
    "zpopmin nosuch",
    "zadd z2 1 a",
    "zunionstore zu 2 z z2",
    "zinterstore zi 2 z z2",
    "zdiffstore zd 2 z z",
    "zdiffstore zu 1 nosuch",
    "zrangestore zr z 0 -1",
    "zrangestore zr nosuch 0 -1",
    "zmpop 1 z min",
    "zadd z3 1 a 2 b",
    "zmpop 2 nosuch z3 max count 9",
    "zpopmin z2 5",
    "geoadd geo 13.361389 38.115556 p1",
    "geoadd geo 13.361389 38.115556 p1",
    "geoadd geo 15.087269 37.502669 p2",
    "geosearchstore gs geo fromlonlat 15 37 byradius 200 km asc",
    "geosearchstore gs geo fromlonlat 0 0 byradius 1 km asc",
    "georadius geo 15 37 200 km store gr",
    "georadiusbymember geo p1 10 km storedist gr2",
    "pfadd hl a b",
    "pfadd hl a",
    "pfmerge hl2 hl",
    "pfcount hl",
    "rpush srt 3 1 2",
    "sort srt store srts",
    "sort srt limit 0 1 store srts",
    "sort nosuch store srts",
    "get nosuch",
    "flushdb",
];

fn split(line: &str) -> Vec<&str> {
    line.split(' ')
        .map(|a| if a == "''" { "" } else { a })
        .collect()
}

/// Runs [`SCRIPT`] on both servers with `flags`; returns how many events it
/// produced.
fn compare_script(flags: &str) -> usize {
    let node = Server::start(&["--io-threads", "2"]);
    let redis = Server::start_redis(&[]);
    let mut ours = Watch::new(node.port, flags);
    let mut theirs = Watch::new(redis.port, flags);
    let mut seen = 0;
    for line in SCRIPT {
        let args = split(line);
        let (r1, e1) = ours.run(&args);
        let (r2, e2) = theirs.run(&args);
        // SPOP picks at random: only its events are comparable.
        if !line.starts_with("spop") {
            assert_eq!(r1, r2, "reply to {line}");
        }
        assert_eq!(e1, e2, "events of {line} with flags {flags}");
        seen += e2.len();
    }
    seen
}

#[test]
fn events_match_redis_all_classes() {
    assert!(compare_script("KEA") > 200);
}

#[test]
fn events_match_redis_with_new_keys() {
    assert!(compare_script("KEAn") > 250);
}

#[test]
fn events_match_redis_for_class_subsets() {
    assert!(compare_script("Elg") > 30);
    assert!(compare_script("K$zn") > 30);
}

#[test]
fn nothing_is_published_when_off() {
    let node = Server::start(&[]);
    let mut w = Watch::new(node.port, "");
    for line in ["set a 1", "del a", "lpush l x", "set e 1 px 1", "get e"] {
        assert!(w.run(&split(line)).1.is_empty(), "{line}");
    }
    // Classes without K or E publish nothing either.
    let mut w = Watch::new(node.port, "A");
    assert!(w.run(&["SET", "a", "1"]).1.is_empty());
}

/// A key with a TTL that nobody reads is announced once by the active expiry
/// cycle; one that is read after its TTL is announced once, by whichever of
/// the lazy and the active path removes it.
#[test]
fn expired_events_lazy_and_active() {
    let node = Server::start(&["--io-threads", "2", "--hz", "100"]);
    let mut w = Watch::new(node.port, "Ex");
    let mut expected: Vec<String> = Vec::new();
    for i in 0..20 {
        let k = format!("active{i}");
        w.cli.cmd(&["SET", &k, "v", "PX", "1"]);
        expected.push(format!("__keyevent@0__:expired={k}"));
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < expected.len() && Instant::now() < deadline {
        if let Some(r) = w.sub.try_reply() {
            let (c, m) = pmessage(&r);
            got.push(format!("{c}={m}"));
        }
    }
    got.sort();
    expected.sort();
    assert_eq!(got, expected);

    // Lazy: read the key until it is gone; exactly one `expired` either way.
    w.cli.cmd(&["SET", "lazy", "v", "PX", "1"]);
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (reply, ev) = w.run(&["GET", "lazy"]);
        events.extend(ev);
        if reply == "$-1\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "key never expired");
    }
    // If the active cycle took it, its event may trail the GET's marker.
    while events.is_empty() {
        events.extend(w.run(&["PING"]).1);
        assert!(Instant::now() < deadline, "no expired event");
    }
    events.extend(w.run(&["PING"]).1);
    assert_eq!(events, ["__keyevent@0__:expired=lazy"]);
}

/// In RESP3 the writer subscribed to its own keys gets the event before the
/// reply, byte for byte as redis-server sends it.
#[test]
fn resp3_writer_gets_its_own_events_first() {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let mut replies = Vec::new();
    for port in [node.port, redis.port] {
        let mut c = Raw::connect(port);
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KA"]);
        c.cmd(&["HELLO", "3"]);
        c.cmd(&["PSUBSCRIBE", "__keyspace@0__:*"]);
        let mut text = String::new();
        c.send(&encode(&[b"SET", b"k", b"v", b"EX", b"100"]));
        for _ in 0..3 {
            text.push_str(&String::from_utf8_lossy(&c.reply()));
        }
        c.send(&encode(&[b"DEL", b"k"]));
        for _ in 0..2 {
            text.push_str(&String::from_utf8_lossy(&c.reply()));
        }
        replies.push(text);
    }
    assert_eq!(replies[0], replies[1]);
    assert!(
        replies[0].starts_with(">4\r\n$8\r\npmessage\r\n"),
        "{}",
        replies[0]
    );
}
