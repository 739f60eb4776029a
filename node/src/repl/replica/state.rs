//! The replication state of a node: its role, replication ids and offsets, and
//! the replica link's progress. One struct on `Server`, shared by the replica
//! side (this module) and the primary side (which reads the ids and offset to
//! answer PSYNC and sets them on promotion).
//!
//! Why two locks and a few atomics: the request path reads only atomics (the
//! role for the READONLY gate, whether the link is up for MASTERDOWN), so a
//! replica's clients never take a lock; `apply` serialises "apply a batch of
//! the primary's stream and advance the offset" against role changes, so
//! `REPLICAOF NO ONE` records an offset no command will move afterwards;
//! `inner` holds everything INFO and ROLE print.

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use parking_lot::{Mutex, MutexGuard};

use super::sync::{FullSyncTarget, RdbLoader};
use crate::server::Server;

/// The replica link's state, named as ROLE prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting to connect (after a failure, before the next attempt).
    Connect,
    /// TCP connect in progress.
    Connecting,
    /// PING / AUTH / REPLCONF / PSYNC exchange.
    Handshake,
    /// Receiving the full-sync payload.
    Sync,
    /// Streaming commands, in sync.
    Connected,
}

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The primary a replica follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Master {
    pub host: String,
    pub port: u16,
}

/// Progress of a full-sync transfer (INFO's `master_sync_*`).
#[derive(Clone, Debug)]
pub struct SyncProgress {
    /// Payload size, or -1 for a diskless (EOF-mark) transfer.
    pub total: i64,
    pub read: u64,
    pub last_io: Instant,
}

/// A full sync the safety rule refused (see `sync::decide`).
#[derive(Clone, Debug)]
pub struct Refused {
    /// The primary's replication id from `+FULLRESYNC`.
    pub master_replid: String,
    pub at: Instant,
    pub count: u64,
}

/// What INFO and ROLE print; changed under the `inner` lock.
pub struct Inner {
    pub replid: String,
    pub replid2: String,
    /// The first offset `replid2` is valid for (-1: none).
    pub second_offset: i64,
    pub master: Option<Master>,
    pub link: LinkState,
    /// Whether `replid` and the offset may be offered in PSYNC (Redis's cached
    /// master); false after a start from `replicaof` with no history, and
    /// while a full sync is in flight.
    pub psync_history: bool,
    pub master_client_id: Option<u64>,
    /// Last byte received from the primary (while a master client exists).
    pub last_io: Option<Instant>,
    pub down_since: Option<Instant>,
    pub sync: Option<SyncProgress>,
    pub refused: Option<Refused>,
    /// A handle on the link's socket, shut down to interrupt the link thread.
    pub socket: Option<TcpStream>,
}

/// The replication state (see the module doc).
pub struct ReplState {
    replica: AtomicBool,
    link_up: AtomicBool,
    /// `master_repl_offset`: on a replica, the offset of the last byte of the
    /// primary's stream applied (Redis's `master->reploff`).
    /// Shared with the backlog, which keeps it equal to its end
    /// (`repl::primary::backlog`).
    pub offset: Arc<AtomicI64>,
    /// Bytes of the stream received (`slave_read_repl_offset`).
    pub read_offset: AtomicI64,
    /// The master link's selected database at `offset`, so a partial resync
    /// continues in it (the primary does not repeat its SELECT).
    pub stream_db: AtomicUsize,
    /// Bumped by every REPLICAOF; a link thread with an older one stops.
    generation: AtomicU64,
    apply: Mutex<()>,
    inner: Mutex<Inner>,
    server: OnceLock<Weak<Server>>,
    target: Mutex<Arc<dyn FullSyncTarget>>,
}

/// A fresh 40-hex-digit replication id.
pub fn new_replid() -> String {
    let mut rng = crate::util::Rng::from_entropy();
    let mut s = String::with_capacity(40);
    while s.len() < 40 {
        let d = (rng.next_u64() % 16) as u8;
        s.push((if d < 10 { b'0' + d } else { b'a' + d - 10 }) as char);
    }
    s
}

pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

impl Default for ReplState {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplState {
    pub fn new() -> ReplState {
        ReplState {
            replica: AtomicBool::new(false),
            link_up: AtomicBool::new(false),
            offset: Arc::new(AtomicI64::new(0)),
            read_offset: AtomicI64::new(0),
            stream_db: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            apply: Mutex::new(()),
            inner: Mutex::new(Inner {
                replid: new_replid(),
                replid2: NO_REPLID.to_string(),
                second_offset: -1,
                master: None,
                link: LinkState::Connect,
                psync_history: true,
                master_client_id: None,
                last_io: None,
                down_since: None,
                sync: None,
                refused: None,
                socket: None,
            }),
            server: OnceLock::new(),
            target: Mutex::new(Arc::new(RdbLoader)),
        }
    }

    /// Whether this node is a replica (one relaxed load: the request path).
    #[inline]
    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }

    /// Whether the replica's link is connected and in sync.
    #[inline]
    pub fn link_up(&self) -> bool {
        self.link_up.load(Ordering::Relaxed)
    }

    pub fn replid(&self) -> String {
        self.inner.lock().replid.clone()
    }

    pub fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    /// Serialises applying the primary's stream against role changes.
    pub fn apply_lock(&self) -> MutexGuard<'_, ()> {
        self.apply.lock()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(super) fn bump_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    pub(super) fn set_role(&self, srv: &Server, replica: bool) {
        self.replica.store(replica, Ordering::Relaxed);
        // A replica keeps expired keys until its primary's DEL (db::ExpiryMode).
        srv.keyspace
            .replica_expiry
            .store(replica, Ordering::Relaxed);
        if !replica {
            self.link_up.store(false, Ordering::Relaxed);
        }
    }

    pub(super) fn set_link(&self, inner: &mut Inner, link: LinkState) {
        let was_up = inner.link == LinkState::Connected;
        inner.link = link;
        let up = link == LinkState::Connected;
        self.link_up.store(up, Ordering::Relaxed);
        if up {
            inner.down_since = None;
        } else if was_up {
            inner.down_since = Some(Instant::now());
        }
    }

    /// Binds the server this state belongs to (to start link threads).
    pub fn bind(&self, srv: &Arc<Server>) {
        let _ = self.server.set(Arc::downgrade(srv));
    }

    pub(crate) fn server(&self) -> Option<Arc<Server>> {
        self.server.get().and_then(Weak::upgrade)
    }

    /// The loader of full-sync payloads (the RDB reader plugs in here).
    pub fn set_full_sync_target(&self, t: Arc<dyn FullSyncTarget>) {
        *self.target.lock() = t;
    }

    pub fn full_sync_target(&self) -> Arc<dyn FullSyncTarget> {
        self.target.lock().clone()
    }

    /// `/readyz` for the role: a replica is ready only while its link is
    /// connected and in sync, so an operator never promotes a stale one.
    pub fn readiness(&self) -> Result<(), &'static str> {
        if !self.is_replica() {
            return Ok(());
        }
        let inner = self.inner.lock();
        if inner.refused.is_some() {
            return Err("replica refused an empty full sync from an unknown primary");
        }
        match inner.link {
            LinkState::Connected => Ok(()),
            LinkState::Sync => Err("replica sync in progress"),
            _ => Err("replica link down"),
        }
    }
}
