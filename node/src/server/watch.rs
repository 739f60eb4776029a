//! WATCH: optimistic locking for transactions.
//!
//! A global [`Registry`] maps each watched (database, stripe, key) to the clients
//! watching it. A write command runs under a [`LockObserver`] (see `db/guard.rs`)
//! that, when the registry is not empty, marks the watchers of the keys it may
//! write as dirty (`ClientShared::dirty_cas`) *while it holds their stripe*. EXEC
//! checks the flag with the watched keys' stripes held, so a write and an EXEC on
//! the same key are ordered by that stripe's mutex: either the write came first
//! and EXEC sees the flag, or it runs after the whole transaction. (Touching after
//! the write, outside the lock, would let an EXEC slip between the two.) WATCH
//! registers under the key's stripe lock too, so a write that follows it on that
//! stripe sees the registry's counter.
//!
//! Expiry does not touch: WATCH records whether the key was live with a TTL, and
//! EXEC fails if such a key is now expired or gone (as Redis's `expired` flag).
//!
//! Over-approximations (EXEC fails where Redis's would succeed), documented:
//! - a write command touches its keys when it locks them, before knowing whether
//!   it changes anything: a no-op write (`SET NX` on an existing key, `LPUSH`
//!   answering WRONGTYPE, `INCRBY k 0`) counts as a touch. Commands that can only
//!   change or remove an existing key ([`IF_LIVE`]: DEL, EXPIRE, LPOP, SREM, ...)
//!   touch only keys that are live when locked, so `DEL` of a missing key does
//!   not;
//! - commands with movable keys (ZUNIONSTORE, LMPOP, SORT ... STORE, GEORADIUS
//!   ... STORE) touch every argument as if it were a key of the current database;
//! - a command whose key is locked but not written (the source of COPY, MOVE
//!   to a database where the key exists) still touches the keys it names.
//!
//! FLUSHDB, FLUSHALL and SWAPDB touch only watched keys that are live (present
//! and not expired) in an affected database, as Redis does.
//!
//! Cost when nobody watches: a write command installs its observer in a
//! thread-local, and each stripe it locks costs one relaxed load of
//! [`Registry::active`]; reads pay one thread-local check per lock.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::client::ClientShared;
use super::Server;
use crate::cmd::{flags, Args, CommandSpec};
use crate::db::guard::{self, LockObserver};
use crate::db::{stripe_of, Stripe};

struct KeyWatch {
    hash: u64,
    clients: Vec<Arc<ClientShared>>,
}

/// The watched keys of one (database, stripe).
type StripeWatches = HashMap<Box<[u8]>, KeyWatch>;

/// Who watches what, by (database, stripe) then key.
#[derive(Default)]
pub struct Registry {
    /// Number of (key, client) pairs: zero means no write needs to look.
    active: AtomicUsize,
    map: Mutex<HashMap<(usize, usize), StripeWatches>>,
}

impl Registry {
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    /// Number of watched (key, client) pairs.
    pub fn len(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `client` as a watcher of `key`; false when it already was. Call with
    /// the key's stripe locked (see the module docs).
    fn add(&self, db: usize, hash: u64, key: &[u8], client: &Arc<ClientShared>) -> bool {
        let mut map = self.map.lock();
        let keys = map.entry((db, stripe_of(hash))).or_default();
        let kw = keys.entry(key.into()).or_insert_with(|| KeyWatch {
            hash,
            clients: Vec::new(),
        });
        if kw.clients.iter().any(|c| Arc::ptr_eq(c, client)) {
            return false;
        }
        kw.clients.push(client.clone());
        self.active.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn remove(&self, db: usize, hash: u64, key: &[u8], client: &Arc<ClientShared>) {
        let mut map = self.map.lock();
        let slot = (db, stripe_of(hash));
        let Some(keys) = map.get_mut(&slot) else {
            return;
        };
        if let Some(kw) = keys.get_mut(key) {
            let before = kw.clients.len();
            kw.clients.retain(|c| !Arc::ptr_eq(c, client));
            self.active
                .fetch_sub(before - kw.clients.len(), Ordering::Relaxed);
            if kw.clients.is_empty() {
                keys.remove(key);
            }
        }
        if keys.is_empty() {
            map.remove(&slot);
        }
    }

    /// Marks the watchers of `key` dirty.
    fn touch(&self, db: usize, stripe: usize, key: &[u8]) {
        let map = self.map.lock();
        if let Some(kw) = map.get(&(db, stripe)).and_then(|keys| keys.get(key)) {
            for c in &kw.clients {
                c.dirty_cas.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Marks dirty the watchers of keys of `watched_db` in `stripe` that are live
    /// in `locked` (FLUSHDB/FLUSHALL/SWAPDB: Redis leaves watchers of missing and
    /// of already-expired keys alone).
    fn touch_existing(&self, watched_db: usize, stripe: usize, locked: &Stripe, now_ms: i64) {
        let map = self.map.lock();
        let Some(keys) = map.get(&(watched_db, stripe)) else {
            return;
        };
        for (key, kw) in keys {
            if live(locked, kw.hash, key, now_ms) {
                for c in &kw.clients {
                    c.dirty_cas.store(true, Ordering::Relaxed);
                }
            }
        }
    }
}

fn live(locked: &Stripe, hash: u64, key: &[u8], now_ms: i64) -> bool {
    locked
        .find(hash, key)
        .is_some_and(|slot| !locked.view(slot).is_expired(now_ms))
}

/// A key a client watches.
pub struct Watched {
    pub db: usize,
    pub hash: u64,
    pub key: Box<[u8]>,
    /// Live with a TTL at WATCH time: EXEC fails if it has expired since.
    pub volatile: bool,
}

/// A client's watched keys; dropping it (UNWATCH, EXEC, DISCARD, RESET,
/// disconnection) removes them from the registry.
pub struct WatchSet {
    registry: Arc<Registry>,
    client: Arc<ClientShared>,
    pub keys: Vec<Watched>,
}

impl WatchSet {
    pub fn new(registry: Arc<Registry>, client: Arc<ClientShared>) -> WatchSet {
        WatchSet {
            registry,
            client,
            keys: Vec::new(),
        }
    }

    /// Watches `key` of `db`; `locked` is its locked stripe. `now_ms` decides
    /// whether the key counts as live with a TTL.
    pub fn add(&mut self, db: usize, hash: u64, key: &[u8], locked: &Stripe, now_ms: i64) {
        if !self.registry.add(db, hash, key, &self.client) {
            return;
        }
        let volatile = locked.find(hash, key).is_some_and(|slot| {
            let e = locked.view(slot);
            e.expire().is_some() && !e.is_expired(now_ms)
        });
        self.keys.push(Watched {
            db,
            hash,
            key: key.into(),
            volatile,
        });
    }
}

impl Drop for WatchSet {
    fn drop(&mut self) {
        for w in &self.keys {
            self.registry.remove(w.db, w.hash, &w.key, &self.client);
        }
        self.client.dirty_cas.store(false, Ordering::Relaxed);
    }
}

/// What a write command may modify.
enum Written<'a> {
    /// (database, hash, key), and whether only a live key can change.
    Keys(Vec<(usize, u64, &'a [u8])>, bool),
    /// Every existing key of these databases.
    Dbs(Vec<usize>),
    /// SWAPDB: existing keys of either database, watched in either.
    Swap(usize, usize),
}

/// Write commands that leave a missing key missing: they touch a key only when
/// it is live as they lock it.
const IF_LIVE: &[&str] = &[
    "del",
    "unlink",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "persist",
    "getdel",
    "getex",
    "lpop",
    "rpop",
    "lrem",
    "ltrim",
    "lset",
    "lpushx",
    "rpushx",
    "srem",
    "spop",
    "hdel",
    "zrem",
    "zremrangebyscore",
    "zremrangebyrank",
    "zremrangebylex",
    "zpopmin",
    "zpopmax",
];

/// Commands whose key spec includes read-only sources: only the first key (or
/// BITOP's second argument) is written.
const DEST_ONLY: &[&str] = &[
    "sinterstore",
    "sunionstore",
    "sdiffstore",
    "zunionstore",
    "zinterstore",
    "zdiffstore",
    "zrangestore",
    "geosearchstore",
    "pfmerge",
];

fn db_arg(srv: &Server, arg: &[u8]) -> Option<usize> {
    crate::util::parse_i64_strict(arg)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n < srv.keyspace.db_count())
}

fn written<'a>(srv: &Server, db: usize, spec: &CommandSpec, args: &Args<'a>) -> Written<'a> {
    let key = |d: usize, i: usize| {
        let k = args.get(i);
        (d, srv.keyspace.hash(k), k)
    };
    let argc = args.len();
    let keys: Vec<_> = match spec.name {
        "flushdb" => return Written::Dbs(vec![db]),
        "flushall" => return Written::Dbs((0..srv.keyspace.db_count()).collect()),
        "swapdb" => {
            return match (db_arg(srv, args.get(1)), db_arg(srv, args.get(2))) {
                (Some(a), Some(b)) => Written::Swap(a, b),
                _ => Written::Keys(Vec::new(), false),
            }
        }
        "move" => std::iter::once(key(db, 1))
            .chain(db_arg(srv, args.get(2)).map(|to| key(to, 1)))
            .collect(),
        "copy" => {
            let to = (3..argc.saturating_sub(1))
                .find(|&i| args.is(i, "db"))
                .and_then(|i| db_arg(srv, args.get(i + 1)))
                .unwrap_or(db);
            vec![key(to, 2)]
        }
        "bitop" if argc > 2 => vec![key(db, 2)],
        n if DEST_ONLY.contains(&n) && argc > 1 => vec![key(db, 1)],
        _ if spec.flags & flags::MOVABLEKEYS != 0 || spec.first_key <= 0 => {
            (1..argc).map(|i| key(db, i)).collect()
        }
        _ => super::multi::key_positions(spec, argc)
            .map(|i| key(db, i))
            .collect(),
    };
    Written::Keys(keys, IF_LIVE.contains(&spec.name))
}

/// Observes the stripes a write command locks and touches watched keys in them.
struct WriteScope<'a> {
    srv: &'a Server,
    db: usize,
    spec: &'a CommandSpec,
    args: Args<'a>,
    now_ms: i64,
    written: OnceCell<Written<'a>>,
}

impl LockObserver for WriteScope<'_> {
    fn locked(&self, db: usize, stripe: usize, locked: &Stripe) {
        // Called only while the registry is not empty (the gate of `as_write`).
        let reg = &self.srv.watches;
        let w = self
            .written
            .get_or_init(|| written(self.srv, self.db, self.spec, &self.args));
        match w {
            Written::Keys(keys, if_live) => {
                for &(d, h, k) in keys {
                    if d == db
                        && stripe_of(h) == stripe
                        && (!if_live || live(locked, h, k, self.now_ms))
                    {
                        reg.touch(d, stripe, k);
                    }
                }
            }
            Written::Dbs(dbs) => {
                if dbs.contains(&db) {
                    reg.touch_existing(db, stripe, locked, self.now_ms);
                }
            }
            &Written::Swap(a, b) => {
                if db == a || db == b {
                    reg.touch_existing(a, stripe, locked, self.now_ms);
                    reg.touch_existing(b, stripe, locked, self.now_ms);
                }
            }
        }
    }
}

/// Runs a write command's handler `f` so that it touches the watched keys it
/// may modify while it holds their stripes.
#[inline]
pub fn as_write<R>(
    srv: &Server,
    db: usize,
    spec: &CommandSpec,
    args: &Args,
    now_ms: i64,
    f: impl FnOnce() -> R,
) -> R {
    let scope = WriteScope {
        srv,
        db,
        spec,
        args: *args,
        now_ms,
        written: OnceCell::new(),
    };
    guard::observe(&srv.watches.active, &scope, f)
}
