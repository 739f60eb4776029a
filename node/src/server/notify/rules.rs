//! Which events each write command sends, as Redis 7.0's handlers do (event
//! names and order checked against redis-server by `tests/notifications.rs`).

use super::{emit, probe, Noted, Reply};
use crate::cmd::Args;
use crate::db::entry::ValueRef;
use crate::db::events::{GENERIC, HASH, LIST, NEW, SET, STRING, ZSET};
use crate::db::types::Object;
use crate::server::channels::SelfSink;
use crate::server::Server;

/// The argument positions of the keys whose prior state the events of `name`
/// depend on; `None` for commands that send no events.
pub(super) fn tracked_args(name: &str, args: &Args) -> Option<Vec<usize>> {
    let n = args.len();
    Some(match name {
        "set" | "setnx" | "setex" | "psetex" | "getset" | "getdel" | "getex" | "append"
        | "setrange" | "incr" | "decr" | "incrby" | "decrby" | "incrbyfloat" | "setbit"
        | "bitfield" | "pfadd" | "pfmerge" | "persist" | "expire" | "pexpire" | "expireat"
        | "pexpireat" | "lpush" | "rpush" | "lpushx" | "rpushx" | "lpop" | "rpop" | "linsert"
        | "lset" | "lrem" | "ltrim" | "sadd" | "srem" | "spop" | "hset" | "hsetnx" | "hmset"
        | "hincrby" | "hincrbyfloat" | "hdel" | "zadd" | "zincrby" | "zrem"
        | "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex" | "zpopmin" | "zpopmax"
        | "geoadd" | "sinterstore" | "sunionstore" | "sdiffstore" | "zunionstore"
        | "zinterstore" | "zdiffstore" | "zrangestore" | "geosearchstore" | "move" | "copy"
        | "restore" => {
            vec![1]
        }
        "bitop" => vec![2],
        "mset" | "msetnx" => (1..n).step_by(2).collect(),
        "del" | "unlink" => (1..n).collect(),
        "rename" | "renamenx" | "lmove" | "rpoplpush" | "smove" => vec![1, 2],
        "lmpop" | "zmpop" => {
            let keys = args.int(1).ok()?.clamp(0, n as i64) as usize;
            (2..(2 + keys).min(n)).collect()
        }
        "sort" => vec![sort_store(args)?],
        "georadius" => vec![geo_store(args, 5)?],
        "georadiusbymember" => vec![geo_store(args, 4)?],
        _ => return None,
    })
}

/// The STORE destination of `SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC]
/// [ALPHA] [STORE dest]`.
fn sort_store(args: &Args) -> Option<usize> {
    let mut i = 2;
    let mut store = None;
    while i < args.len() {
        if args.is(i, "limit") {
            i += 3;
        } else if args.is(i, "by") || args.is(i, "get") {
            i += 2;
        } else if args.is(i, "store") {
            store = (i + 1 < args.len()).then_some(i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    store
}

/// The STORE/STOREDIST destination of GEORADIUS(BYMEMBER), options from `from`.
fn geo_store(args: &Args, from: usize) -> Option<usize> {
    let mut i = from;
    let mut store = None;
    while i < args.len() {
        if args.is(i, "count") {
            i += 2;
        } else if args.is(i, "store") || args.is(i, "storedist") {
            store = (i + 1 < args.len()).then_some(i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    store
}

/// Members named by ZADD (`[NX|XX] [GT|LT] [CH] [INCR] score member ...`),
/// GEOADD (`[NX|XX] [CH] lon lat member ...`) and SMOVE (`src dst member`).
fn members<'a>(name: &str, args: &Args<'a>) -> Vec<&'a [u8]> {
    let opts: &[&str] = match name {
        "zadd" => &["nx", "xx", "gt", "lt", "ch", "incr"],
        "geoadd" => &["nx", "xx", "ch"],
        "smove" if args.len() >= 4 => return vec![args.get(3)],
        _ => return Vec::new(),
    };
    let i = options_end(args, opts);
    let (first, step) = if name == "zadd" {
        (i + 1, 2)
    } else {
        (i + 2, 3)
    };
    (first..args.len())
        .step_by(step)
        .map(|j| args.get(j))
        .collect()
}

/// The scores of the members ZADD/GEOADD name (for SMOVE: whether the
/// destination holds the member, as `Some(0.0)`), read now.
pub(super) fn member_scores(srv: &Server, db: usize, name: &str, args: &Args) -> Vec<Option<f64>> {
    let ms = members(name, args);
    if ms.is_empty() {
        return Vec::new();
    }
    let key = args.get(if name == "smove" { 2 } else { 1 });
    let ks = &srv.keyspace;
    let h = ks.hash(key);
    let sh = ks.db(db).lock(h);
    let value = sh.find(h, key).map(|slot| sh.value(slot));
    ms.iter()
        .map(|m| match value {
            Some(ValueRef::Obj(Object::ZSet(z))) => z.score(m),
            Some(ValueRef::Obj(Object::Set(s))) => s.contains(m).then_some(0.0),
            _ => None,
        })
        .collect()
}

/// Everything a rule needs.
pub(super) struct Note<'a, 'b> {
    pub srv: &'a Server,
    pub mask: u32,
    pub db: usize,
    pub args: &'a Args<'a>,
    pub noted: &'a Noted,
    pub reply: Reply,
    pub me: SelfSink<'b>,
    pub now: i64,
}

impl Note<'_, '_> {
    fn ev_db(&mut self, class: u32, event: &str, arg: usize, db: usize) {
        let key = self.args.get(arg);
        emit(
            self.srv,
            self.mask,
            class,
            event,
            key,
            db,
            Some(&mut self.me),
        );
    }

    fn ev(&mut self, class: u32, event: &str, arg: usize) {
        self.ev_db(class, event, arg, self.db);
    }

    fn state(&self, arg: usize) -> Option<&super::KeyState> {
        self.noted.keys.iter().find(|k| k.arg == arg)
    }

    fn existed(&self, arg: usize) -> bool {
        self.state(arg).is_some_and(|k| k.existed)
    }

    fn exists(&self, arg: usize) -> bool {
        probe(self.srv, self.db, self.args.get(arg), self.now).0
    }

    /// `new` first when the command created the key, then the event.
    fn ev_created(&mut self, class: u32, event: &str, arg: usize) {
        if self.mask & NEW != 0 && !self.existed(arg) && self.exists(arg) {
            self.ev(NEW, "new", arg);
        }
        self.ev(class, event, arg);
    }

    /// `del` when the command left the key empty (and so deleted it).
    fn del_if_gone(&mut self, arg: usize) {
        if !self.exists(arg) {
            self.ev(GENERIC, "del", arg);
        }
    }

    /// The *STORE commands: the event when a result was stored, `del` when an
    /// empty result removed an existing destination.
    fn stored(&mut self, class: u32, event: &str, arg: usize) {
        if self.reply.positive() {
            self.ev_created(class, event, arg);
        } else if self.existed(arg) {
            self.ev(GENERIC, "del", arg);
        }
    }

    /// Whether the members ZADD/GEOADD named changed score or appeared.
    fn scores_changed(&self, name: &str) -> bool {
        let after = member_scores(self.srv, self.db, name, self.args);
        after != self.noted.scores
    }

    /// The first key of LMPOP/ZMPOP that held a value: the one popped from.
    fn first_existing(&self) -> Option<usize> {
        self.noted.keys.iter().find(|k| k.existed).map(|k| k.arg)
    }
}

/// The index of the first argument after the leading options (from 2).
fn options_end(args: &Args, opts: &[&str]) -> usize {
    let mut i = 2;
    while i < args.len() && opts.iter().any(|o| args.is(i, o)) {
        i += 1;
    }
    i
}

/// ZADD with the INCR option (looked for among the leading options only, so a
/// member named "incr" does not count).
fn zadd_incr(args: &Args) -> bool {
    (2..options_end(args, &["nx", "xx", "gt", "lt", "ch", "incr"])).any(|i| args.is(i, "incr"))
}

fn has_opt(args: &Args, from: usize, words: &[&str]) -> bool {
    (from..args.len()).any(|i| words.iter().any(|w| args.is(i, w)))
}

/// Sends the events of command `name`, given its reply and the noted state.
pub(super) fn apply(n: &mut Note, name: &str) {
    let r = n.reply;
    let args = n.args;
    match name {
        "set" => {
            // Options are single words or a word and a value; values never
            // collide with GET/NX/XX as SET parses positions, but a TTL value
            // is a number, so a plain scan is exact.
            let get = has_opt(args, 3, &["get"]);
            let nx = has_opt(args, 3, &["nx"]);
            let xx = has_opt(args, 3, &["xx"]);
            let done = if get {
                (!nx || r.is_null()) && (!xx || !r.is_null())
            } else {
                r == Reply::Status
            };
            if done {
                n.ev_created(STRING, "set", 1);
                if has_opt(args, 3, &["ex", "px", "exat", "pxat"]) {
                    n.ev(GENERIC, "expire", 1);
                }
            }
        }
        "setnx" | "msetnx" if !r.positive() => {}
        "setnx" | "getset" => n.ev_created(STRING, "set", 1),
        "setex" | "psetex" => {
            n.ev_created(STRING, "set", 1);
            n.ev(GENERIC, "expire", 1);
        }
        "mset" | "msetnx" => {
            for i in (1..args.len()).step_by(2) {
                n.ev_created(STRING, "set", i);
            }
        }
        "append" => n.ev_created(STRING, "append", 1),
        "setrange" if !args.get(3).is_empty() => n.ev_created(STRING, "setrange", 1),
        "incr" | "decr" | "incrby" | "decrby" => n.ev_created(STRING, "incrby", 1),
        "incrbyfloat" => n.ev_created(STRING, "incrbyfloat", 1),
        "getdel" if !r.is_null() => n.ev(GENERIC, "del", 1),
        "getex" if !r.is_null() => {
            if has_opt(args, 2, &["ex", "px", "exat", "pxat"]) {
                if n.exists(1) {
                    n.ev(GENERIC, "expire", 1);
                } else {
                    n.ev(GENERIC, "del", 1);
                }
            } else if has_opt(args, 2, &["persist"]) && n.state(1).is_some_and(|k| k.volatile) {
                n.ev(GENERIC, "persist", 1);
            }
        }
        "setbit" => n.ev_created(STRING, "setbit", 1),
        "bitfield" if has_opt(args, 2, &["set", "incrby"]) => n.ev_created(STRING, "setbit", 1),
        "bitop" => n.stored(STRING, "set", 2),
        "pfadd" if r.positive() => n.ev_created(STRING, "pfadd", 1),
        "pfmerge" => n.ev_created(STRING, "pfadd", 1),
        "del" | "unlink" => {
            for i in 1..args.len() {
                let dup = (1..i).any(|j| args.get(j) == args.get(i));
                if !dup && n.existed(i) {
                    n.ev(GENERIC, "del", i);
                }
            }
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" if r.positive() => {
            if n.exists(1) {
                n.ev(GENERIC, "expire", 1);
            } else {
                n.ev(GENERIC, "del", 1);
            }
        }
        "persist" if r.positive() => n.ev(GENERIC, "persist", 1),
        "rename" | "renamenx"
            if (r == Reply::Status || r.positive()) && args.get(1) != args.get(2) =>
        {
            // The destination is always re-added, so always `new`.
            n.ev(NEW, "new", 2);
            n.ev(GENERIC, "rename_from", 1);
            n.ev(GENERIC, "rename_to", 2);
        }
        "move" if r.positive() => {
            let Ok(to) = args.int(2).map(|d| d as usize) else {
                return;
            };
            n.ev_db(NEW, "new", 1, to);
            n.ev(GENERIC, "move_from", 1);
            n.ev_db(GENERIC, "move_to", 1, to);
        }
        "copy" if r.positive() => {
            let mut to = n.db;
            for i in 3..args.len().saturating_sub(1) {
                if args.is(i, "db") {
                    to = args.int(i + 1).map_or(to, |d| d as usize);
                }
            }
            n.ev_db(NEW, "new", 2, to);
            n.ev_db(GENERIC, "copy_to", 2, to);
        }
        // RESTORE re-adds the key (`new` even over REPLACE, as dbAdd), or,
        // with a TTL already past, only deletes what REPLACE removed.
        "restore" if r == Reply::Status => {
            if n.exists(1) {
                n.ev(NEW, "new", 1);
                n.ev(GENERIC, "restore", 1);
            } else if n.existed(1) {
                n.ev(GENERIC, "del", 1);
            }
        }
        "lpush" | "lpushx" if r.positive() => n.ev_created(LIST, "lpush", 1),
        "rpush" | "rpushx" if r.positive() => n.ev_created(LIST, "rpush", 1),
        "lpop" | "rpop" if r.popped() => {
            n.ev(LIST, name, 1);
            n.del_if_gone(1);
        }
        "linsert" if r.positive() => n.ev(LIST, "linsert", 1),
        "lset" => n.ev(LIST, "lset", 1),
        "lrem" if r.positive() => {
            n.ev(LIST, "lrem", 1);
            n.del_if_gone(1);
        }
        "ltrim" if n.existed(1) => {
            n.ev(LIST, "ltrim", 1);
            n.del_if_gone(1);
        }
        "lmove" | "rpoplpush" if !r.is_null() => {
            let (from_left, to_left) = if name == "rpoplpush" {
                (false, true)
            } else {
                (args.is(3, "left"), args.is(4, "left"))
            };
            n.ev_created(LIST, if to_left { "lpush" } else { "rpush" }, 2);
            n.ev(LIST, if from_left { "lpop" } else { "rpop" }, 1);
            n.del_if_gone(1);
        }
        "lmpop" | "zmpop" if !r.is_null() => {
            let Some(k) = n.first_existing() else {
                return;
            };
            let dir = n.noted.keys.last().map_or(0, |s| s.arg) + 1;
            let (class, event) = match (name, args.is(dir, "left") || args.is(dir, "min")) {
                ("lmpop", true) => (LIST, "lpop"),
                ("lmpop", false) => (LIST, "rpop"),
                (_, true) => (ZSET, "zpopmin"),
                (_, false) => (ZSET, "zpopmax"),
            };
            n.ev(class, event, k);
            n.del_if_gone(k);
        }
        "sadd" if r.positive() => n.ev_created(SET, "sadd", 1),
        "srem" if r.positive() => {
            n.ev(SET, "srem", 1);
            n.del_if_gone(1);
        }
        "spop" if r.popped() => {
            n.ev(SET, "spop", 1);
            n.del_if_gone(1);
        }
        "smove" if r.positive() && args.get(1) != args.get(2) => {
            n.ev(SET, "srem", 1);
            n.del_if_gone(1);
            // `sadd` only when the destination did not hold the member.
            if n.noted.scores.first().is_some_and(|s| s.is_none()) {
                n.ev_created(SET, "sadd", 2);
            }
        }
        "sinterstore" | "sunionstore" | "sdiffstore" => n.stored(SET, name, 1),
        "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" | "geosearchstore" => {
            n.stored(ZSET, name, 1)
        }
        "georadius" | "georadiusbymember" => {
            if let Some(k) = n.noted.keys.first().map(|k| k.arg) {
                n.stored(ZSET, "georadiusstore", k);
            }
        }
        "sort" => {
            if let Some(k) = n.noted.keys.first().map(|k| k.arg) {
                n.stored(LIST, "sortstore", k);
            }
        }
        "hset" | "hmset" => n.ev_created(HASH, "hset", 1),
        "hsetnx" if r.positive() => n.ev_created(HASH, "hset", 1),
        "hincrby" | "hincrbyfloat" => n.ev_created(HASH, name, 1),
        "hdel" if r.positive() => {
            n.ev(HASH, "hdel", 1);
            n.del_if_gone(1);
        }
        "zadd" if zadd_incr(args) => zincr(n),
        "zadd" | "geoadd" if n.scores_changed(name) => n.ev_created(ZSET, "zadd", 1),
        "zincrby" => n.ev_created(ZSET, "zincr", 1),
        "zrem" | "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex" if r.positive() => {
            n.ev(ZSET, name, 1);
            n.del_if_gone(1);
        }
        "zpopmin" | "zpopmax" if r.popped() => {
            n.ev(ZSET, name, 1);
            n.del_if_gone(1);
        }
        _ => {}
    }
}

/// ZADD INCR: `zincr` unless the increment was refused (nil reply).
fn zincr(n: &mut Note) {
    if !n.reply.is_null() {
        n.ev_created(ZSET, "zincr", 1);
    }
}
