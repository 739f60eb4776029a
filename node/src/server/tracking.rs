//! CLIENT TRACKING: server-assisted client-side caching, as Redis 7.0.
//!
//! In the default mode the node remembers which clients read which keys (the
//! tracking table) and sends each of them one invalidation when a key they
//! read changes, expires or is evicted; then it forgets the key until they
//! read it again. In BCAST mode a client names key prefixes instead and hears
//! about every change to a key under them. Invalidations are `invalidate`
//! pushes in RESP3, or messages on `__redis__:invalidate` to the RESP2 client
//! a tracking client redirects them to.
//!
//! # Ordering
//! Redis registers a read after running it; with several event loops a write
//! on another loop could then land between the read and its registration and
//! its invalidation would be lost, leaving a stale value cached for good. The
//! request path therefore registers a read's keys *before* running it
//! ([`Tracking::remember`]) and invalidates a write's keys *after* it ran: a
//! write either precedes the registration (the read sees its value) or finds
//! it (the reader is told). The cost is an occasional extra invalidation.
//!
//! # Bounds
//! The table holds at most `tracking-table-max-keys` keys (0: no bound): past
//! it, keys are invalidated early and forgotten, as in Redis. A client that
//! stops tracking or disconnects is removed from the table lazily, when its
//! keys are next invalidated, as in Redis.
//!
//! Cost when nobody tracks: one relaxed load per command ([`Tracking::active`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::client::{ClientShared, Registry};

type Hasher = foldhash::fast::RandomState;

/// The options of `CLIENT TRACKING ON`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// Client id that receives the invalidations (0: the client itself).
    pub redirect: u64,
    /// BCAST prefixes (none: every key).
    pub prefixes: Vec<Box<[u8]>>,
}

struct Tracker {
    shared: Arc<ClientShared>,
    mode: Mode,
    /// The redirect target went away (TRACKINGINFO `broken_redirect`).
    broken: bool,
}

#[derive(Default)]
struct Inner {
    clients: HashMap<u64, Tracker, Hasher>,
    /// Default mode: key -> ids of the clients that read it.
    keys: HashMap<Box<[u8]>, Vec<u64>, Hasher>,
    /// Sum of the id lists' lengths (INFO `tracking_total_items`).
    items: usize,
    /// BCAST: prefix -> ids of the clients that asked for it.
    prefixes: HashMap<Box<[u8]>, Vec<u64>, Hasher>,
}

/// The tracking state of the whole node.
#[derive(Default)]
pub struct Tracking {
    /// Tracking clients; 0 means no command needs to look.
    active: AtomicUsize,
    inner: Mutex<Inner>,
}

/// What an invalidation names: keys, or everything (FLUSHDB, FLUSHALL).
enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    All,
}

/// The per-connection half, kept by the client's own event loop so that the
/// request path needs no lock to know whether to track a read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Local {
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    /// `CLIENT CACHING yes|no` for the next command.
    pub caching: Option<bool>,
}

impl Local {
    /// Whether the keys of a read-only command run now are to be remembered.
    #[inline]
    pub fn tracks_reads(&self) -> bool {
        let skipped =
            self.optin && self.caching != Some(true) || self.optout && self.caching == Some(false);
        !self.bcast && !skipped
    }
}

/// Figures for INFO: tracking clients, keys, items, prefixes.
pub struct Counts {
    pub clients: usize,
    pub keys: usize,
    pub items: usize,
    pub prefixes: usize,
}

/// Where invalidations for the client running the current command go: they
/// follow its reply (`pending`), as Redis 7.0 sends them.
pub struct Caller<'a> {
    pub id: u64,
    pub pending: &'a mut Vec<u8>,
}

impl Tracking {
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    /// `CLIENT TRACKING ON ...` for `client` (the caller checked the options
    /// against its current mode). Prefixes of one client must not overlap.
    pub fn enable(&self, client: &Arc<ClientShared>, mode: Mode) -> Result<(), String> {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        let mut prefixes: Vec<Box<[u8]>> = inner
            .clients
            .get(&client.id)
            .map(|t| t.mode.prefixes.clone())
            .unwrap_or_default();
        if mode.bcast {
            // Redis's checkPrefixCollisionsOrReply: against the client's
            // prefixes (in order), then within the new ones; a prefix of
            // another, or the same one again, overlaps.
            let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
            let mut held = prefixes.clone();
            held.sort();
            for (i, p) in mode.prefixes.iter().enumerate() {
                if let Some(q) = held.iter().find(|q| overlap(p, q)) {
                    return Err(format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(q)
                    ));
                }
                if let Some(q) = mode.prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                    return Err(format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(q)
                    ));
                }
            }
            // BCAST without a prefix is the empty prefix: every key.
            if mode.prefixes.is_empty() && !prefixes.iter().any(|p| p.is_empty()) {
                prefixes.push(Box::default());
            }
            prefixes.extend(mode.prefixes.iter().cloned());
            // TRACKINGINFO lists them in Redis's (radix tree) order.
            prefixes.sort();
        }
        if mode.bcast {
            for p in &prefixes {
                let ids = inner.prefixes.entry(p.clone()).or_default();
                if !ids.contains(&client.id) {
                    ids.push(client.id);
                }
            }
        }
        let fresh = !inner.clients.contains_key(&client.id);
        inner.clients.insert(
            client.id,
            Tracker {
                shared: client.clone(),
                mode: Mode { prefixes, ..mode },
                broken: false,
            },
        );
        if fresh {
            self.active.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// `CLIENT TRACKING OFF`, or the client went away.
    pub fn disable(&self, id: u64) {
        let mut inner = self.inner.lock();
        let Some(t) = inner.clients.remove(&id) else {
            return;
        };
        self.active.fetch_sub(1, Ordering::Relaxed);
        for p in &t.mode.prefixes {
            if let Some(ids) = inner.prefixes.get_mut(p) {
                ids.retain(|&i| i != id);
                if ids.is_empty() {
                    inner.prefixes.remove(p);
                }
            }
        }
    }

    /// The mode of a tracking client and whether its redirect is broken.
    pub fn mode(&self, id: u64) -> Option<(Mode, bool)> {
        let inner = self.inner.lock();
        inner.clients.get(&id).map(|t| (t.mode.clone(), t.broken))
    }

    pub fn counts(&self) -> Counts {
        let inner = self.inner.lock();
        Counts {
            clients: inner.clients.len(),
            keys: inner.keys.len(),
            items: inner.items,
            prefixes: inner.prefixes.len(),
        }
    }

    /// Records that client `id` (default mode) reads `keys`. Past `max_keys`
    /// (0: no bound), keys are invalidated early and forgotten.
    pub fn remember(&self, id: u64, keys: &[&[u8]], max_keys: usize, clients: &Registry) {
        let mut inner = self.inner.lock();
        for key in keys {
            let inner = &mut *inner;
            if !inner.keys.contains_key(*key) {
                inner.keys.insert((*key).into(), Vec::new());
            }
            if let Some(ids) = inner.keys.get_mut(*key).filter(|ids| !ids.contains(&id)) {
                ids.push(id);
                inner.items += 1;
            }
        }
        if max_keys == 0 || inner.keys.len() <= max_keys {
            return;
        }
        // Redis's trackingLimitUsedSlots: evict until under the bound, never
        // the keys just read (they are reported as read, so they must stay).
        let over = inner.keys.len() - max_keys;
        let victims: Vec<Box<[u8]>> = inner
            .keys
            .keys()
            .filter(|k| !keys.contains(&&***k))
            .take(over)
            .cloned()
            .collect();
        for v in victims {
            let key: &[u8] = &v;
            invalidate_key(&mut inner, key, None, clients);
        }
    }

    /// Invalidates `keys` after a change; `caller` is the client whose command
    /// changed them (None: expiry, eviction).
    pub fn invalidate(&self, keys: &[&[u8]], mut caller: Option<Caller>, clients: &Registry) {
        let mut inner = self.inner.lock();
        for key in keys {
            invalidate_key(&mut inner, key, caller.as_mut(), clients);
        }
    }

    /// FLUSHDB/FLUSHALL: every tracking client is told that everything changed
    /// (a null invalidation), and the table is emptied.
    pub fn invalidate_all(&self, mut caller: Option<Caller>, clients: &Registry) {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        inner.keys.clear();
        inner.items = 0;
        let ids: Vec<u64> = inner.clients.keys().copied().collect();
        for id in ids {
            send(inner, id, Payload::All, caller.as_mut(), clients);
        }
    }
}

fn invalidate_key(
    inner: &mut Inner,
    key: &[u8],
    mut caller: Option<&mut Caller>,
    clients: &Registry,
) {
    if let Some(ids) = inner.keys.remove(key) {
        inner.items -= ids.len();
        for id in ids {
            let Some(t) = inner.clients.get(&id) else {
                continue;
            };
            if t.mode.bcast || t.mode.noloop && caller.as_ref().is_some_and(|c| c.id == id) {
                continue;
            }
            send(
                inner,
                id,
                Payload::Keys(&[key]),
                caller.as_deref_mut(),
                clients,
            );
        }
    }
    if inner.prefixes.is_empty() {
        return;
    }
    let mut ids: Vec<u64> = Vec::new();
    for (p, subs) in &inner.prefixes {
        if key.starts_with(p) {
            ids.extend(subs);
        }
    }
    for id in ids {
        let noloop = inner.clients.get(&id).is_some_and(|t| t.mode.noloop);
        if noloop && caller.as_ref().is_some_and(|c| c.id == id) {
            continue;
        }
        send(
            inner,
            id,
            Payload::Keys(&[key]),
            caller.as_deref_mut(),
            clients,
        );
    }
}

/// Redis's `sendTrackingMessage`: to the client or its redirect target, as a
/// RESP3 push, or as a `__redis__:invalidate` message to a RESP2 target that
/// is in pub/sub mode (otherwise nothing: a RESP2 client cannot take pushes).
fn send(
    inner: &mut Inner,
    id: u64,
    what: Payload,
    caller: Option<&mut Caller>,
    clients: &Registry,
) {
    let Some(t) = inner.clients.get_mut(&id) else {
        return;
    };
    let source_resp3 = t.shared.resp.load(Ordering::Relaxed) == 3;
    let (target, redirected) = if t.mode.redirect != 0 {
        match clients.get(t.mode.redirect) {
            Some(c) => (c, true),
            None => {
                t.broken = true;
                if source_resp3 {
                    let mut b = Vec::with_capacity(48);
                    b.extend_from_slice(b">2\r\n$21\r\ntracking-redir-broken\r\n:");
                    b.extend_from_slice(itoa::Buffer::new().format(t.mode.redirect).as_bytes());
                    b.extend_from_slice(b"\r\n");
                    let shared = t.shared.clone();
                    deliver(&shared, &b, caller);
                }
                return;
            }
        }
    } else {
        (t.shared.clone(), false)
    };
    let mut b = Vec::with_capacity(64);
    if target.resp.load(Ordering::Relaxed) == 3 {
        b.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if redirected && target.is_pubsub() {
        b.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    } else {
        return;
    }
    match what {
        // The null of the tracking client's protocol, as Redis sends it.
        Payload::All if source_resp3 => b.extend_from_slice(b"_\r\n"),
        Payload::All => b.extend_from_slice(b"$-1\r\n"),
        Payload::Keys(keys) => {
            b.push(b'*');
            b.extend_from_slice(itoa::Buffer::new().format(keys.len()).as_bytes());
            b.extend_from_slice(b"\r\n");
            for k in keys {
                b.push(b'$');
                b.extend_from_slice(itoa::Buffer::new().format(k.len()).as_bytes());
                b.extend_from_slice(b"\r\n");
                b.extend_from_slice(k);
                b.extend_from_slice(b"\r\n");
            }
        }
    }
    deliver(&target, &b, caller);
}

fn deliver(target: &ClientShared, bytes: &[u8], caller: Option<&mut Caller>) {
    match caller {
        Some(c) if c.id == target.id => c.pending.extend_from_slice(bytes),
        _ => super::channels::push_raw(target, bytes),
    }
}
