//! The primary side of replication: answering replicas.
//!
//! - [`backlog`]: the replication stream kept by offset, the buffer every
//!   replica sender reads from (PSYNC serves from it).
//! - [`handshake`]: what a connection announces before PSYNC/SYNC (REPLCONF),
//!   kept on its `Client` by the event loop.
//! - [`link`]: one replica after the hand-over: the sender thread (partial
//!   or full sync, then the stream, PINGs) and its ACK reader.
//! - [`fullsync`]: the snapshot sent to a replica (diskless `$EOF:` form or a
//!   temp file sent as `$<len>`).
//! - [`wait`]: WAIT and the min-replicas write gate.
//! - [`catchup`]: whether a replica caught up with a primary whose writes
//!   are held (FAILOVER, a shutdown waiting for its replicas).
//! - [`report`]: ROLE's replica list and INFO replication's replica lines.
//!
//! # Where the stream comes from, and what the offset means
//! `master_repl_offset` is `srv.repl.offset` on both roles, and the backlog's
//! end equals it:
//! - On a primary the backlog is a consumer of the propagation log
//!   (`db::log`), so it holds every effect logged, in log order. It is
//!   created when the first replica asks for a sync (as in Redis, with a new
//!   replication id when there was no history) or at start-up from an RDB
//!   that carried `repl-id`/`repl-offset`, and kept afterwards. The log's own
//!   offset is not the replication offset: the log also runs for the AOF
//!   alone, on replicas, and from process start; it stays the AOF's
//!   bookkeeping, and the backlog counts replication bytes itself.
//! - On a replica the log keeps feeding the AOF with the effects of applied
//!   commands, but the backlog is detached from it and fed instead with the
//!   primary's own stream bytes as they are applied (`proxy`), byte for byte,
//!   so sub-replicas see exactly the primary's stream and offsets agree
//!   across the chain (Redis's `replicationFeedStreamFromMasterStream`).
//! - `REPLICAOF NO ONE` (under the replica's apply lock, where backlog end ==
//!   applied offset) re-attaches the backlog to the log, so the promoted
//!   node's history continues at the same offset under a new replid and
//!   replicas of the old primary resume with PSYNC `<old replid>` as
//!   `+CONTINUE <new replid>`.
//!
//! # Threads
//! The event loop answers REPLCONF; PSYNC/SYNC mark the connection for
//! hand-over and the loop gives the socket to a sender thread (blocking
//! writes) with an ACK-reader thread beside it. Full syncs use the snapshot
//! engine, which runs one snapshot at a time: a full sync claims the same
//! slot as SAVE/BGSAVE and waits while one runs (BGSAVE during a full sync
//! answers "already in progress"); replicas arriving together sync one after
//! the other (no `repl-diskless-sync-delay` batching).

pub mod backlog;
pub mod catchup;
pub mod fullsync;
pub mod handshake;
pub mod link;
pub mod report;
pub mod wait;

use std::sync::atomic::{AtomicI64, AtomicU16, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::db::log::ConsumerId;
use crate::server::client::ClientShared;
use crate::server::Server;
pub use backlog::Backlog;
pub use handshake::{Handshake, SyncRequest};

/// A replica's state, named as INFO prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ReplicaState {
    WaitBgsave = 0,
    SendBulk = 1,
    Online = 2,
}

impl ReplicaState {
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }

    fn from_u8(v: u8) -> ReplicaState {
        match v {
            0 => ReplicaState::WaitBgsave,
            1 => ReplicaState::SendBulk,
            _ => ReplicaState::Online,
        }
    }
}

/// One connected replica, as every thread sees it.
pub struct Replica {
    pub id: u64,
    pub shared: Arc<ClientShared>,
    /// `ip-address` announced, or the peer's address.
    pub ip: String,
    pub port: AtomicU16,
    state: AtomicU8,
    /// Offset of the last `REPLCONF ACK` (0: none yet).
    pub ack_offset: AtomicI64,
    /// Unix ms of the last ACK (or of the sync's start).
    pub ack_ms: AtomicI64,
    /// ACKs received (a diskless sync waits for the first).
    pub acks: AtomicU64,
    /// Shut down to stop both of the replica's threads.
    pub socket: std::net::TcpStream,
}

impl Replica {
    pub fn state(&self) -> ReplicaState {
        ReplicaState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub fn set_state(&self, s: ReplicaState) {
        self.state.store(s as u8, Ordering::Relaxed);
    }

    /// Seconds since the last ACK.
    pub fn lag_secs(&self, now_ms: i64) -> i64 {
        ((now_ms - self.ack_ms.load(Ordering::Relaxed)) / 1000).max(0)
    }

    pub fn disconnect(&self) {
        self.shared.killed.store(true, Ordering::Relaxed);
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }
}

/// The primary side's state, one per server.
#[derive(Default)]
pub struct Primary {
    backlog: Mutex<Option<Arc<Backlog>>>,
    /// The backlog's log consumer while this node is a primary.
    consumer: Mutex<Option<ConsumerId>>,
    /// Mirror of `consumer.is_some()`, read under the log lock.
    attached: std::sync::atomic::AtomicBool,
    replicas: Mutex<Vec<Arc<Replica>>>,
    /// Bumped when every replica is disconnected (role changes), so a sender
    /// still in its PSYNC decision does not register into the new history.
    epoch: AtomicU64,
    /// Online replicas with lag <= `min-replicas-max-lag` (cron-refreshed).
    pub good_replicas: AtomicUsize,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Clients blocked in WAIT (`wait.rs`).
    pub(crate) waits: Mutex<Vec<Arc<crate::server::blocked::Waiter>>>,
    /// FAILOVER's state (`repl::failover`).
    pub failover: crate::repl::failover::Failover,
}

impl Primary {
    pub fn backlog(&self) -> Option<Arc<Backlog>> {
        self.backlog.lock().clone()
    }

    pub fn replicas(&self) -> Vec<Arc<Replica>> {
        self.replicas.lock().clone()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Adds a replica unless a role change happened since `epoch`.
    fn register(&self, r: Arc<Replica>, epoch: u64) -> bool {
        let mut v = self.replicas.lock();
        if self.epoch() != epoch {
            return false;
        }
        v.push(r);
        true
    }

    fn unregister(&self, id: u64) {
        self.replicas.lock().retain(|r| r.id != id);
    }
}

fn backlog_size(srv: &Server) -> usize {
    srv.config.get_i64("repl-backlog-size").max(16 * 1024) as usize
}

/// The backlog, created on a primary if there is none yet: a new history
/// (new replid, no replid2, as Redis does when it creates the backlog from
/// scratch) starting at the current offset, attached to the log.
pub fn ensure_backlog(srv: &Server) -> Option<Arc<Backlog>> {
    let _apply = srv.repl.apply_lock();
    let mut inner = srv.repl.inner();
    let mut slot = srv.primary.backlog.lock();
    if let Some(b) = slot.as_ref() {
        return Some(b.clone());
    }
    if inner.master.is_some() {
        // A replica creates its backlog after its own sync.
        return None;
    }
    inner.replid = crate::repl::replica::state::new_replid();
    inner.replid2 = crate::repl::replica::state::NO_REPLID.to_string();
    inner.second_offset = -1;
    let b = Arc::new(Backlog::new(
        srv.repl.offset.load(Ordering::Relaxed),
        backlog_size(srv),
        srv.repl.offset.clone(),
    ));
    attach(srv, &b);
    tracing::info!(replid = %inner.replid, "replication backlog created, new replication id");
    *slot = Some(b.clone());
    Some(b)
}

/// Attaches `b` to the log (primary role). Caller holds the apply lock.
fn attach(srv: &Server, b: &Arc<Backlog>) {
    let mut c = srv.primary.consumer.lock();
    if c.is_some() {
        return;
    }
    let feed = b.consumer();
    *c = Some(srv.keyspace.log.attach(move |_| feed));
    srv.primary.attached.store(true, Ordering::Release);
}

fn detach(srv: &Server) {
    if let Some(id) = srv.primary.consumer.lock().take() {
        srv.primary.attached.store(false, Ordering::Release);
        srv.keyspace.log.detach(id);
    }
}

/// Disconnects every replica (they reconnect and PSYNC).
pub fn disconnect_replicas(srv: &Server) {
    srv.primary.epoch.fetch_add(1, Ordering::AcqRel);
    if let Some(b) = srv.primary.backlog() {
        b.drop_readers();
    }
    for r in srv.primary.replicas() {
        r.disconnect();
    }
}

/// Role change hook, called by `REPLICAOF host port` under the apply lock:
/// the backlog stops following the log (the link's proxy feeds it from now
/// on) and replicas reconnect to learn the new history.
pub fn on_demoted(srv: &Server) {
    detach(srv);
    disconnect_replicas(srv);
}

/// Role change hook, called by `REPLICAOF NO ONE` under the apply lock, after
/// the ids shifted: the backlog (end == applied offset) follows the log.
pub fn on_promoted(srv: &Server) {
    if let Some(b) = srv.primary.backlog() {
        debug_assert_eq!(b.end(), srv.repl.offset.load(Ordering::Relaxed));
        attach(srv, &b);
    }
    disconnect_replicas(srv);
}

/// A replica finished a full sync from its primary at `offset` (under the
/// apply lock): a new history, so sub-replicas must resync too.
pub fn on_full_sync(srv: &Server, offset: i64) {
    disconnect_replicas(srv);
    let mut slot = srv.primary.backlog.lock();
    match slot.as_ref() {
        Some(b) => b.reset(offset),
        None => {
            *slot = Some(Arc::new(Backlog::new(
                offset,
                backlog_size(srv),
                srv.repl.offset.clone(),
            )))
        }
    }
}

/// The primary's stream bytes a replica just applied (under the apply lock,
/// after its offset advanced over them): into the backlog for sub-replicas.
#[inline]
pub fn proxy(srv: &Server, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    if let Some(b) = srv.primary.backlog.lock().as_ref() {
        let applied = srv.repl.offset.load(Ordering::Relaxed);
        if !b.append_ending_at(bytes, applied) {
            // Not contiguous with what the backlog holds: start over there
            // (our replicas resync) rather than serve a wrong history.
            tracing::warn!(
                applied,
                backlog_end = b.end(),
                "backlog out of step with the applied stream; reset"
            );
            disconnect_replicas(srv);
            b.reset(applied);
        }
    }
}

/// Restores the replication history an RDB carried (`repl-id`,
/// `repl-offset` AUX fields), as Redis 7.0's `loadDataFromDisk`: a replica
/// (a `replicaof` parameter) takes them as its own, to PSYNC its primary; a
/// primary keeps them as its secondary id and offset with a backlog from
/// there, so its replicas can PSYNC after the restart. Returns whether the
/// file had them.
pub fn restore_from_rdb(srv: &Server, aux: &[(Vec<u8>, Vec<u8>)]) -> bool {
    let get = |k: &str| {
        aux.iter()
            .find(|(n, _)| n.as_slice() == k.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    let (Some(id), Some(off)) = (get("repl-id"), get("repl-offset")) else {
        return false;
    };
    let Ok(off) = off.parse::<i64>() else {
        return false;
    };
    if id.len() != 40 || off < 0 {
        return false;
    }
    let db = get("repl-stream-db")
        .and_then(|d| d.parse::<usize>().ok())
        .unwrap_or(0);
    let as_replica = !srv.config.get("replicaof").trim().is_empty();
    let _apply = srv.repl.apply_lock();
    let mut inner = srv.repl.inner();
    srv.repl.offset.store(off, Ordering::Relaxed);
    srv.repl.read_offset.store(off, Ordering::Relaxed);
    if as_replica {
        inner.replid = id;
        srv.repl.stream_db.store(db, Ordering::Relaxed);
        *srv.primary.backlog.lock() = Some(Arc::new(Backlog::new(
            off,
            backlog_size(srv),
            srv.repl.offset.clone(),
        )));
    } else {
        inner.replid2 = id;
        inner.second_offset = off + 1;
        let b = Arc::new(Backlog::new(
            off,
            backlog_size(srv),
            srv.repl.offset.clone(),
        ));
        attach(srv, &b);
        *srv.primary.backlog.lock() = Some(b);
    }
    tracing::info!(
        replid = %inner.replid,
        replid2 = %inner.replid2,
        offset = off,
        as_replica,
        "replication history restored from the RDB file"
    );
    true
}

/// The AUX fields a snapshot records (read at its start point, with every
/// stripe held): on a node with replication history (a replica, or a primary
/// with a backlog), its replid, offset and stream database, as Redis 7.0's
/// `rdbPopulateSaveInfo`.
pub fn rdb_aux(srv: &Server) -> Vec<(&'static str, String)> {
    let replica = srv.repl.is_replica();
    let backlog = srv.primary.backlog.lock().is_some();
    if !replica && !backlog {
        return Vec::new();
    }
    let inner = srv.repl.inner();
    let db = if replica {
        srv.repl.stream_db.load(Ordering::Relaxed)
    } else {
        0
    };
    vec![
        ("repl-stream-db", db.to_string()),
        ("repl-id", inner.replid.clone()),
        (
            "repl-offset",
            srv.repl.offset.load(Ordering::Relaxed).to_string(),
        ),
    ]
}

/// Starts the primary's cron thread: the good-replicas count, the backlog
/// size, PINGs every `repl-ping-replica-period`.
pub fn start(srv: &Arc<Server>) -> std::io::Result<()> {
    let weak = Arc::downgrade(srv);
    std::thread::Builder::new()
        .name("repl-primary".into())
        .spawn(move || cron(weak))
        .map(|_| ())
}

const CRON_TICK: Duration = Duration::from_millis(100);

fn cron(weak: std::sync::Weak<Server>) {
    let mut last_ping = std::time::Instant::now();
    loop {
        std::thread::sleep(CRON_TICK);
        let Some(srv) = weak.upgrade() else {
            return;
        };
        if srv.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        let now = crate::util::now_ms();
        let max_lag = srv.config.get_i64("min-replicas-max-lag");
        let replicas = srv.primary.replicas();
        let good = replicas
            .iter()
            .filter(|r| r.state() == ReplicaState::Online && r.lag_secs(now) <= max_lag)
            .count();
        srv.primary.good_replicas.store(good, Ordering::Relaxed);
        if let Some(b) = srv.primary.backlog() {
            b.set_size(backlog_size(&srv));
        }
        let period =
            Duration::from_secs(srv.config.get_i64("repl-ping-replica-period").max(1) as u64);
        if last_ping.elapsed() >= period {
            last_ping = std::time::Instant::now();
            // Only a primary pings; a replica proxies its primary's PINGs.
            if !srv.repl.is_replica() && !replicas.is_empty() {
                send_to_replicas(&srv, b"*1\r\n$4\r\nPING\r\n");
            }
        }
    }
}

/// Appends bytes to the replication stream only (PING, `REPLCONF GETACK`):
/// ordered with the log's appends, counted in the offset, not in the AOF.
pub fn send_to_replicas(srv: &Server, resp: &[u8]) {
    let Some(b) = srv.primary.backlog() else {
        return;
    };
    let attached = &srv.primary.attached;
    srv.keyspace.log.locked(|| {
        if attached.load(Ordering::Acquire) {
            b.append(resp);
        }
    });
}
