//! Per-connection state: the part only the owning event loop touches ([`Client`]),
//! and the part other threads read for CLIENT LIST / CLIENT KILL / INFO
//! ([`ClientShared`], updated with relaxed atomics so the hot path never locks).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
}

/// State visible to other threads.
pub struct ClientShared {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub worker: usize,
    /// The connection's slot in its event loop.
    pub token: usize,
    pub created_ms: i64,
    pub name: Mutex<Option<String>>,
    pub lib_name: Mutex<Option<String>>,
    pub lib_ver: Mutex<Option<String>>,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    pub last_interaction_ms: AtomicI64,
    /// Index of the last command in the command table (usize::MAX: none yet).
    pub last_cmd: AtomicUsize,
    pub qbuf: AtomicUsize,
    pub omem: AtomicUsize,
    pub monitor: AtomicBool,
    pub no_evict: AtomicBool,
    /// Set by CLIENT KILL; the owner closes the connection at its next turn.
    pub killed: AtomicBool,
    pub commands: AtomicU64,
    /// Commands queued since MULTI, -1 outside a transaction (CLIENT LIST `multi=`
    /// and flag `x`).
    pub multi: AtomicI64,
    /// A watched key was touched: EXEC will fail (CLIENT LIST flag `d`).
    pub dirty_cas: AtomicBool,
    /// In a blocking command (CLIENT LIST flag `b`).
    pub blocked: AtomicBool,
    /// A replica of this node (CLIENT LIST flag `S`, type `replica`).
    pub replica: AtomicBool,
    /// Subscription counts, mirrored by `server::channels`.
    pub subs: SubCounts,
}

/// Channel, pattern and shard-channel subscriptions of a client (CLIENT LIST
/// `sub=`, `psub=`, `ssub=`).
#[derive(Default)]
pub struct SubCounts {
    pub sub: AtomicUsize,
    pub psub: AtomicUsize,
    pub ssub: AtomicUsize,
}

impl ClientShared {
    /// The shared half of a client with no connection (the AOF loader's
    /// pseudo-client), registered nowhere.
    pub fn internal(id: u64, name: &str) -> ClientShared {
        ClientShared {
            id,
            addr: String::new(),
            laddr: String::new(),
            fd: -1,
            worker: 0,
            token: usize::MAX,
            created_ms: crate::util::now_ms(),
            name: Mutex::new(Some(name.to_string())),
            lib_name: Default::default(),
            lib_ver: Default::default(),
            db: Default::default(),
            resp: AtomicU8::new(2),
            last_interaction_ms: Default::default(),
            last_cmd: usize::MAX.into(),
            qbuf: Default::default(),
            omem: Default::default(),
            monitor: Default::default(),
            no_evict: Default::default(),
            killed: Default::default(),
            commands: Default::default(),
            multi: (-1).into(),
            dirty_cas: Default::default(),
            blocked: Default::default(),
            replica: Default::default(),
            subs: Default::default(),
        }
    }

    pub fn set_blocked(&self, on: bool) {
        self.blocked.store(on, Ordering::Relaxed);
    }

    pub fn name(&self) -> Option<String> {
        self.name.lock().clone()
    }

    /// Subscribed to anything: CLIENT LIST flag `P`, client type `pubsub`.
    pub fn is_pubsub(&self) -> bool {
        let s = &self.subs;
        s.sub.load(Ordering::Relaxed)
            + s.psub.load(Ordering::Relaxed)
            + s.ssub.load(Ordering::Relaxed)
            > 0
    }

    /// Redis's CLIENT LIST flags letters.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        if self.replica.load(Ordering::Relaxed) {
            f.push('S');
        }
        if self.monitor.load(Ordering::Relaxed) {
            f.push('O');
        }
        if self.is_pubsub() {
            f.push('P');
        }
        if self.multi.load(Ordering::Relaxed) >= 0 {
            f.push('x');
        }
        if self.blocked.load(Ordering::Relaxed) {
            f.push('b');
        }
        if self.dirty_cas.load(Ordering::Relaxed) {
            f.push('d');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }
}

/// State owned by the connection's event loop.
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    pub reply: ReplyMode,
    /// Pushes for this client produced while CLIENT REPLY is OFF or SKIP
    /// (see [`Client::push_buf`]).
    pub held_pushes: Vec<u8>,
    pub close_after_reply: bool,
    pub monitor: bool,
    /// Subscriptions; `Some` exactly while the client is subscribed to something.
    pub pubsub: Option<Box<super::channels::ClientSubs>>,
    /// MULTI/EXEC and WATCH state (`server/multi.rs`).
    pub tx: super::multi::Tx,
    pub shared: Arc<ClientShared>,
    /// Set while the client waits in a blocking command: its loop executes
    /// none of its further input until it is unblocked.
    pub blocked: Option<Arc<super::blocked::Waiter>>,
    /// Held by CLIENT PAUSE: its loop runs none of its input until the pause
    /// ends (`pause.rs`).
    pub paused: bool,
    /// The replication link's pseudo-client (`repl::replica`): its writes pass
    /// the READONLY and MASTERDOWN gates and its replies go nowhere.
    pub master_link: bool,
    /// REPLCONF / PSYNC state of a connection that is becoming a replica
    /// (`repl::primary::handshake`); a sync request hands the socket over.
    pub replica: Option<Box<crate::repl::primary::Handshake>>,
    /// READONLY (cluster mode): a replica serves this client's reads of its
    /// primary's slots instead of redirecting them.
    pub readonly: bool,
    /// The AOF loader's pseudo-client: obeyed as the master link is, never
    /// redirected (cluster mode).
    pub loader: bool,
    /// CLIENT TRACKING is on (`server::tracking`), with the options the
    /// request path reads.
    pub tracking: Option<super::tracking::Local>,
    /// Invalidations of keys this client's own command changed, sent after
    /// its reply (after EXEC's, inside a transaction), as Redis 7.0 does.
    pub tracking_pending: Vec<u8>,
}

impl Client {
    pub fn new(shared: Arc<ClientShared>, authenticated: bool) -> Client {
        Client {
            id: shared.id,
            db: 0,
            resp3: false,
            authenticated,
            reply: ReplyMode::On,
            held_pushes: Vec::new(),
            close_after_reply: false,
            monitor: false,
            pubsub: None,
            tx: super::multi::Tx::default(),
            shared,
            blocked: None,
            paused: false,
            master_link: false,
            replica: None,
            readonly: false,
            loader: false,
            tracking: None,
            tracking_pending: Vec::new(),
        }
    }

    /// Where a push for this client (a pub/sub confirmation or message, a
    /// keyspace notification) goes while its command runs: the reply buffer
    /// `out`, or under CLIENT REPLY OFF|SKIP [`Client::held_pushes`], which
    /// `exec::finish_reply_mode` appends after dropping the command's reply.
    /// Redis 7.0 sends these whatever the reply mode, in RESP2 as in RESP3.
    #[inline]
    pub fn push_buf<'a>(&'a mut self, out: &'a mut Vec<u8>) -> &'a mut Vec<u8> {
        if self.reply == ReplyMode::On {
            out
        } else {
            &mut self.held_pushes
        }
    }

    /// PSYNC/SYNC asked for a hand-over of the socket (`server::worker`).
    #[inline]
    pub fn wants_handover(&self) -> bool {
        self.replica.as_ref().is_some_and(|h| h.request.is_some())
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.shared.db.store(db, Ordering::Relaxed);
    }
}

/// Every connected client, by id.
#[derive(Default)]
pub struct Registry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientShared>>>,
}

impl Registry {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn add(&self, c: Arc<ClientShared>) {
        self.clients.lock().insert(c.id, c);
    }

    pub fn remove(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn snapshot(&self) -> Vec<Arc<ClientShared>> {
        self.clients.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientShared>> {
        self.clients.lock().get(&id).cloned()
    }
}
