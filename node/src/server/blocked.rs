//! Blocked clients (BLPOP, BLMOVE, BZPOPMIN and friends, XREAD and
//! XREADGROUP with BLOCK) across event loops.
//!
//! # The pieces
//! - A global [`Registry`]: `(db, key)` -> FIFO of [`Waiter`]s, and `id` ->
//!   waiter. A waiter owns everything needed to serve it from any thread: its
//!   loop and connection slot (`worker`, `token`, `id`), its protocol (`resp3`),
//!   its database, the parsed command with owned keys ([`BlockOp`]) and its
//!   deadline. A relaxed counter of blocked clients gates every other path, so
//!   with nobody blocked the keyspace pays one atomic load per key creation.
//! - Ready keys. A client can only block on keys that do not exist (lists and
//!   sorted sets are deleted when empty), so the event that can serve it is the
//!   creation of one of its keys. [`signal_ready`] is called wherever a write
//!   creates a collection key (`typed::write_or_create`, `typed::store`,
//!   RENAME/COPY/MOVE destinations, SWAPDB); when that key has waiters it is put
//!   on a thread-local ready list. [`handle_ready_keys`] runs after every whole
//!   top-level command (so after EXEC for a transaction, after all values of an
//!   RPUSH, after SORT ... STORE), like Redis's `handleClientsBlockedOnKeys`.
//! - Streams. A stream is kept when empty and grows in place, so XADD signals
//!   its key on every append, and XGROUP DESTROY signals it too (a client
//!   blocked on that group gets `-NOGROUP`). A stream leaving the keyspace by
//!   any path (DEL, overwrite, RENAME, MOVE, FLUSH*, expiry) is recorded by
//!   the stripe itself while an XREADGROUP client waits (see
//!   [`crate::db::removed`]); [`handle_ready_keys`] turns those records into
//!   ready keys, and the XREADGROUP clients waiting on them get
//!   `-UNBLOCKED the stream key no longer exists`, as in Redis 7.0. XREAD
//!   clients keep waiting then.
//! - Serving. The thread that did the write serves the waiters of each ready
//!   key right there, in FIFO order, each under the stripe locks its pop needs
//!   (BLMOVE locks source and destination, so the move is one step). It runs
//!   the pop with the waiter's RESP version into a fresh buffer and sends the
//!   bytes to the waiter's loop as [`Msg::Write`] followed by [`Msg::Unblock`],
//!   which makes that loop resume the client's buffered input. A served BLMOVE
//!   creates its destination, which may make that key ready in turn: the loop
//!   goes on until the ready list is empty.
//! - Claims. Serving, timing out, CLIENT UNBLOCK and disconnection race with
//!   each other across threads; each takes the waiter with one atomic swap
//!   ([`Waiter::claim`]) and only the winner replies. A server claims only while
//!   holding the stripe lock and after checking there is data, so a claimed
//!   waiter always gets its element.
//! - Timeouts. The owning loop keeps its blocked clients' deadlines
//!   ([`Timeouts`]) and shortens its epoll timeout to the nearest one
//!   (millisecond precision); an expired waiter it manages to claim gets the
//!   null reply there.
//!
//! # Why registration cannot miss a push
//! A blocking command checks its keys and registers while holding their stripe
//! locks; a push creates the key under the same stripe lock and only then
//! checks for waiters. Lock order is always stripe -> registry, and no thread
//! takes a stripe lock while holding the registry lock.
//!
//! A client that disconnects while a server on another thread has already
//! claimed it loses the element popped for it (the reply has nowhere to go).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::client::ClientShared;
use super::{Msg, Server};
pub use crate::cmd::blocking::BlockOp;

/// One blocked client, as every thread needs to see it.
pub struct Waiter {
    pub id: u64,
    pub worker: usize,
    pub token: usize,
    pub resp3: bool,
    pub db: usize,
    /// Index of the blocking command in the command table.
    pub cmd: usize,
    pub shared: Arc<ClientShared>,
    pub op: BlockOp,
    /// `None`: blocks until served.
    pub deadline: Option<Instant>,
    claimed: AtomicBool,
}

impl Waiter {
    pub fn new(
        shared: Arc<ClientShared>,
        resp3: bool,
        db: usize,
        cmd: usize,
        op: BlockOp,
        deadline: Option<Instant>,
    ) -> Waiter {
        Waiter {
            id: shared.id,
            worker: shared.worker,
            token: shared.token,
            resp3,
            db,
            cmd,
            shared,
            op,
            deadline,
            claimed: AtomicBool::new(false),
        }
    }

    /// Takes this waiter for serving, timing out or dropping it: true for the
    /// one caller that gets it.
    pub fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::AcqRel)
    }

    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }
}

/// Every blocked client, by key and by id.
#[derive(Default)]
pub struct Registry {
    blocked: AtomicUsize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_key: HashMap<usize, HashMap<Vec<u8>, VecDeque<Arc<Waiter>>>>,
    by_id: HashMap<u64, Arc<Waiter>>,
}

impl Registry {
    /// How many clients are blocked (INFO `blocked_clients`).
    pub fn blocked(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    /// Queues `w` behind the clients already waiting on each of its keys. The
    /// caller holds the stripe locks of those keys (see the module docs).
    pub fn add(&self, w: Arc<Waiter>) {
        let mut inner = self.inner.lock();
        let db = inner.by_key.entry(w.db).or_default();
        for key in w.op.keys() {
            let q = db.entry(key.clone()).or_default();
            // BLPOP k k 0 waits once on k.
            if !q.iter().any(|x| x.id == w.id) {
                q.push_back(w.clone());
            }
        }
        if w.op.watches_removal() {
            crate::db::removed::WATCHERS.fetch_add(1, Ordering::Relaxed);
        }
        inner.by_id.insert(w.id, w);
        self.blocked.store(inner.by_id.len(), Ordering::Relaxed);
    }

    /// Removes the waiter of client `id` from every queue; false when it was
    /// not registered (already removed).
    pub fn remove(&self, id: u64) -> bool {
        let mut inner = self.inner.lock();
        let Some(w) = inner.by_id.remove(&id) else {
            return false;
        };
        if w.op.watches_removal() {
            crate::db::removed::WATCHERS.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(db) = inner.by_key.get_mut(&w.db) {
            for key in w.op.keys() {
                if let Some(q) = db.get_mut(key.as_slice()) {
                    // Served waiters are usually at the front: O(1) then.
                    if let Some(pos) = q.iter().position(|x| x.id == id) {
                        q.remove(pos);
                    }
                    if q.is_empty() {
                        db.remove(key.as_slice());
                    }
                }
            }
            if db.is_empty() {
                inner.by_key.remove(&w.db);
            }
        }
        self.blocked.store(inner.by_id.len(), Ordering::Relaxed);
        true
    }

    pub fn get(&self, id: u64) -> Option<Arc<Waiter>> {
        self.inner.lock().by_id.get(&id).cloned()
    }

    fn has_waiters(&self, db: usize, key: &[u8]) -> bool {
        let inner = self.inner.lock();
        inner.by_key.get(&db).is_some_and(|m| m.contains_key(key))
    }

    /// Up to `limit` clients waiting on `key` that pass `keep`, in the order
    /// they blocked.
    fn waiters(
        &self,
        db: usize,
        key: &[u8],
        limit: usize,
        keep: impl Fn(&Waiter) -> bool,
    ) -> Vec<Arc<Waiter>> {
        let inner = self.inner.lock();
        let Some(q) = inner.by_key.get(&db).and_then(|m| m.get(key)) else {
            return Vec::new();
        };
        q.iter().filter(|w| keep(w)).take(limit).cloned().collect()
    }

    /// Every key someone waits on in `db`.
    fn keys_in(&self, db: usize) -> Vec<Vec<u8>> {
        let inner = self.inner.lock();
        inner
            .by_key
            .get(&db)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

thread_local! {
    /// Keys with waiters that this thread's current command created.
    static READY: RefCell<Vec<(usize, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
    /// Depth of scopes in which commands must not block (EXEC, scripts).
    static DENY: Cell<u32> = const { Cell::new(0) };
}

/// Notes that `key` in `db` was just created holding a value (or, for a
/// stream, appended to or lost a group). Cheap when no client is blocked;
/// otherwise queues the key for [`handle_ready_keys`] if someone waits on it.
#[inline]
pub fn signal_ready(srv: &Server, db: usize, key: &[u8]) {
    if srv.blocking.blocked() == 0 {
        return;
    }
    signal_slow(srv, db, key);
}

#[cold]
fn signal_slow(srv: &Server, db: usize, key: &[u8]) {
    if !srv.blocking.has_waiters(db, key) {
        return;
    }
    READY.with(|r| {
        let mut r = r.borrow_mut();
        if !r.iter().any(|(d, k)| *d == db && k == key) {
            r.push((db, key.to_vec()));
        }
    });
}

/// SWAPDB: every waited key of the two databases may now hold data (Redis's
/// `scanDatabaseForReadyKeys`).
pub fn signal_swapped(srv: &Server, a: usize, b: usize) {
    if srv.blocking.blocked() == 0 {
        return;
    }
    for db in [a, b] {
        for key in srv.blocking.keys_in(db) {
            signal_slow(srv, db, &key);
        }
    }
}

/// Serves the clients blocked on the keys this thread's last command created.
/// Called after every top-level command; nearly free when nothing is ready.
#[inline]
pub fn handle_ready_keys(srv: &Server) {
    if crate::db::removed::watching() {
        signal_removed(srv);
    }
    if READY.with(|r| r.borrow().is_empty()) {
        return;
    }
    serve_ready(srv);
}

/// Turns the streams this thread removed into ready keys, in every database
/// where someone waits on such a key (the record has no database).
#[cold]
fn signal_removed(srv: &Server) {
    let removed = crate::db::removed::take();
    if removed.is_empty() {
        return;
    }
    for db in 0..srv.keyspace.db_count() {
        for key in &removed {
            signal_slow(srv, db, key);
        }
    }
}

#[cold]
fn serve_ready(srv: &Server) {
    loop {
        if crate::db::removed::watching() {
            signal_removed(srv);
        }
        let batch = READY.with(|r| std::mem::take(&mut *r.borrow_mut()));
        if batch.is_empty() {
            return;
        }
        for (db, key) in batch {
            serve_key(srv, db, &key);
        }
    }
}

/// Serves the waiters of one key in FIFO order while it has data for them.
/// Takes them from the queue a few at a time, so one push costs the same
/// whether ten or ten thousand clients wait.
fn serve_key(srv: &Server, db: usize, key: &[u8]) {
    const CHUNK: usize = 32;
    // Waiters passed over because they pop another type (rare).
    let mut skipped: Vec<u64> = Vec::new();
    loop {
        let chunk = srv.blocking.waiters(db, key, CHUNK, |w| {
            !w.is_claimed() && !skipped.contains(&w.id)
        });
        if chunk.is_empty() {
            return;
        }
        for w in chunk {
            match crate::cmd::blocking::serve(srv, &w, key) {
                Served::Reply(bytes) => {
                    srv.blocking.remove(w.id);
                    deliver(srv, &w, bytes);
                }
                Served::Skip => {
                    if !w.is_claimed() {
                        skipped.push(w.id);
                    }
                }
                Served::Empty => return,
            }
        }
    }
}

/// What trying to serve one waiter from a ready key gave.
pub enum Served {
    /// The waiter was claimed and this is its reply.
    Reply(Vec<u8>),
    /// Not this waiter (claimed elsewhere, or it pops another type): try the next.
    Skip,
    /// The key has nothing left: stop serving it.
    Empty,
}

/// Sends a claimed waiter its reply and lets its loop resume its input.
fn deliver(srv: &Server, w: &Waiter, bytes: Vec<u8>) {
    // The pop served here was logged on this thread: durable before the
    // waiter sees its reply, as for any other write.
    srv.aof.before_reply();
    // No longer blocked for CLIENT LIST once the reply can be seen.
    w.shared.set_blocked(false);
    if let Some(h) = srv.worker(w.worker) {
        h.send(Msg::Write {
            token: w.token,
            id: w.id,
            bytes,
        });
        h.send(Msg::Unblock {
            token: w.token,
            id: w.id,
        });
    }
}

/// Sends a waiter claimed outside this module (WAIT, `repl::primary::wait`)
/// its reply and resumes its client.
pub fn deliver_reply(srv: &Server, w: &Waiter, bytes: Vec<u8>) {
    deliver(srv, w, bytes);
}

/// The reply for waiter `w` at its timeout (or CLIENT UNBLOCK ... TIMEOUT):
/// WAIT answers the replicas that acknowledged so far, the others as
/// [`timeout_reply`].
pub fn timeout_bytes(srv: &Server, w: &Waiter) -> Vec<u8> {
    match w.op {
        BlockOp::Wait { offset, .. } => crate::repl::primary::wait::reply_now(srv, offset),
        _ => timeout_reply(w.resp3).to_vec(),
    }
}

/// The reply of a blocking command that timed out: a null array, for BLMOVE too
/// (Redis 7.0's `replyToBlockedClientTimedOut`).
pub fn timeout_reply(resp3: bool) -> &'static [u8] {
    if resp3 {
        b"_\r\n"
    } else {
        b"*-1\r\n"
    }
}

/// CLIENT UNBLOCK: unblocks client `id` with the timeout reply or an
/// `-UNBLOCKED` error. False when it is not blocked.
pub fn unblock_by_id(srv: &Server, id: u64, with_error: bool) -> bool {
    let Some(w) = srv.blocking.get(id) else {
        return false;
    };
    if !w.claim() {
        return false;
    }
    srv.blocking.remove(w.id);
    let bytes = if with_error {
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".to_vec()
    } else {
        timeout_bytes(srv, &w)
    };
    deliver(srv, &w, bytes);
    true
}

/// A role change (REPLICAOF) ends every blocking command, WAIT included, with
/// Redis's `-UNBLOCKED ... (master -> replica?)` and closes those clients
/// after the reply (Redis's `disconnectAllBlockedClients`): what they waited
/// for may never come on a replica.
pub fn unblock_all_for_role_change(srv: &Server) {
    let waiters: Vec<Arc<Waiter>> = srv.blocking.inner.lock().by_id.values().cloned().collect();
    for w in waiters {
        if !w.claim() {
            continue;
        }
        srv.blocking.remove(w.id);
        w.shared.set_blocked(false);
        if let Some(h) = srv.worker(w.worker) {
            h.send(Msg::Write {
                token: w.token,
                id: w.id,
                bytes: b"-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n".to_vec(),
            });
            h.send(Msg::CloseAfterReply {
                token: w.token,
                id: w.id,
            });
        }
    }
}

/// Cluster mode, after a new map: a client blocked on a key of a slot its
/// shard no longer serves gets the redirect `redirect` gives for that slot
/// (`-MOVED`, or `-CLUSTERDOWN`), as Redis's
/// `clusterRedirectBlockedClientIfNeeded` does; the others keep waiting.
pub fn redirect_moved(srv: &Server, redirect: impl Fn(u16) -> Option<String>) {
    if srv.blocking.blocked() == 0 {
        return;
    }
    let waiters: Vec<Arc<Waiter>> = srv.blocking.inner.lock().by_id.values().cloned().collect();
    for w in waiters {
        // Every key of a blocked command is in one slot (CROSSSLOT otherwise).
        let Some(key) = w.op.keys().first() else {
            continue;
        };
        let Some(e) = redirect(crate::util::slot::key_slot(key)) else {
            continue;
        };
        if !w.claim() {
            continue;
        }
        srv.blocking.remove(w.id);
        deliver(srv, &w, format!("-{e}\r\n").into_bytes());
    }
}

/// Drops the waiter of a client that is going away; nothing is replied.
pub fn cancel(srv: &Server, w: &Waiter) {
    w.claim();
    srv.blocking.remove(w.id);
}

/// While alive, blocking commands on this thread answer as if they timed out at
/// once (Redis's `CLIENT_DENY_BLOCKING`): EXEC holds one while it runs the
/// queued commands, as would a script.
pub struct DenyBlocking(());

impl DenyBlocking {
    pub fn enter() -> DenyBlocking {
        DENY.with(|d| d.set(d.get() + 1));
        DenyBlocking(())
    }
}

impl Drop for DenyBlocking {
    fn drop(&mut self) {
        DENY.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Whether a command running now may block.
pub fn blocking_denied() -> bool {
    DENY.with(|d| d.get() > 0)
}

/// An event loop's deadlines of its blocked clients.
#[derive(Default)]
pub struct Timeouts(BTreeSet<(Instant, u64, usize)>);

impl Timeouts {
    pub fn insert(&mut self, w: &Waiter) {
        if let Some(d) = w.deadline {
            self.0.insert((d, w.id, w.token));
        }
    }

    pub fn remove(&mut self, w: &Waiter) {
        if let Some(d) = w.deadline {
            self.0.remove(&(d, w.id, w.token));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How long the loop may sleep: `max`, or less when a deadline is nearer
    /// (rounded up to whole milliseconds so it does not wake early and spin).
    pub fn poll_timeout(&self, max: Duration) -> Duration {
        match self.0.first() {
            None => max,
            Some((d, _, _)) => {
                let left = d.saturating_duration_since(Instant::now());
                let ms = left.as_nanos().div_ceil(1_000_000);
                Duration::from_millis(ms.min(max.as_millis()) as u64)
            }
        }
    }

    /// Takes the `(token, id)` of every client whose deadline has passed.
    pub fn expired(&mut self, now: Instant) -> Vec<(usize, u64)> {
        let mut v = Vec::new();
        while let Some(&(d, id, token)) = self.0.first() {
            if d > now {
                break;
            }
            self.0.pop_first();
            v.push((token, id));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_scope_nests() {
        assert!(!blocking_denied());
        let a = DenyBlocking::enter();
        let b = DenyBlocking::enter();
        drop(a);
        assert!(blocking_denied());
        drop(b);
        assert!(!blocking_denied());
    }

    #[test]
    fn poll_timeout_is_bounded() {
        let t = Timeouts::default();
        assert_eq!(
            t.poll_timeout(Duration::from_millis(100)),
            Duration::from_millis(100)
        );
    }
}
