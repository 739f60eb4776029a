//! Pub/sub: who is subscribed to which channel, pattern or shard channel, and
//! delivery of published messages to subscribers on any event loop.
//!
//! # Delivery
//! A subscriber is a connection owned by one event loop; a publisher may run on
//! any thread. The publisher looks the channel up under a read lock, encodes the
//! message once (RESP2 array; a RESP3 subscriber gets the same bytes with `>` as
//! the first byte) and appends it to a per-thread outbox keyed by destination
//! connection. Event loops hand their outbox over once per turn of the loop,
//! one [`WorkerHandle::send_many`](super::WorkerHandle::send_many) per
//! destination loop: a burst of messages costs one lock and one wake-up per
//! destination loop, not one per message. Other threads (cron) flush after
//! each publish. Messages from one publisher reach a subscriber in publish order:
//! the outbox, the inbox and the connection's output are all FIFO.
//!
//! A message for the publishing client itself (a RESP3 client subscribed to the
//! channel it publishes to, or notified of its own writes) goes straight into its
//! reply buffer ahead of the command's reply, as in Redis.
//!
//! # Slow subscribers
//! A subscriber's unsent output is bounded by the `pubsub` class of
//! `client-output-buffer-limit`: past the hard limit, or past the soft limit for
//! longer than its seconds, the connection is closed ([`over_output_limit`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;

use super::client::{Client, ClientShared};
use super::{Msg, Server};
use crate::config::OutputLimit;
use crate::util::glob_match;

type Hasher = foldhash::fast::RandomState;
type Subscribers = HashMap<Box<[u8]>, Vec<Arc<ClientShared>>, Hasher>;
type NameSet = hashbrown::HashSet<Box<[u8]>, Hasher>;

/// The three subscription namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    pub fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    pub fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// Every subscription of the server.
#[derive(Default)]
pub struct PubSub {
    channels: RwLock<Subscribers>,
    patterns: RwLock<Subscribers>,
    shard: RwLock<Subscribers>,
    /// Subscriptions of all kinds: a publish with none returns at once, and
    /// keyspace notifications cost nothing when nobody listens.
    total: AtomicUsize,
}

impl PubSub {
    fn map(&self, kind: Kind) -> &RwLock<Subscribers> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    /// Whether anyone is subscribed to anything.
    #[inline]
    pub fn has_subscribers(&self) -> bool {
        self.total.load(Ordering::Relaxed) > 0
    }

    /// Channels (or patterns, shard channels) with at least one subscriber.
    pub fn count(&self, kind: Kind) -> usize {
        self.map(kind).read().len()
    }

    /// Names with subscribers that match `pattern` (all when `None`).
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.map(kind)
            .read()
            .keys()
            .filter(|n| pattern.is_none_or(|p| glob_match(p, n, false)))
            .map(|n| n.to_vec())
            .collect()
    }

    /// Subscribers of one channel (or shard channel).
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.map(kind).read().get(name).map_or(0, |v| v.len())
    }
}

/// A client's own subscriptions; present only while it has at least one.
#[derive(Default)]
pub struct ClientSubs {
    channels: NameSet,
    patterns: NameSet,
    shard: NameSet,
    /// When the output first went over the soft limit (Redis's
    /// `obuf_soft_limit_reached_time`).
    soft_since: Option<Instant>,
}

impl ClientSubs {
    fn set(&mut self, kind: Kind) -> &mut NameSet {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty()
    }
}

/// The count Redis reports in (un)subscribe confirmations: channels plus
/// patterns for those two kinds, shard channels alone for the shard kind.
pub fn reported_count(client: &Client, kind: Kind) -> usize {
    let Some(s) = client.pubsub.as_deref() else {
        return 0;
    };
    match kind {
        Kind::Channel | Kind::Pattern => s.channels.len() + s.patterns.len(),
        Kind::Shard => s.shard.len(),
    }
}

/// Whether the client is in the pub/sub context (subscribed to anything).
#[inline]
pub fn is_subscriber(client: &Client) -> bool {
    client.pubsub.is_some()
}

fn publish_counts(client: &Client) {
    let (c, p, s) = client.pubsub.as_deref().map_or((0, 0, 0), |s| {
        (s.channels.len(), s.patterns.len(), s.shard.len())
    });
    let sh = &client.shared.subs;
    sh.sub.store(c, Ordering::Relaxed);
    sh.psub.store(p, Ordering::Relaxed);
    sh.ssub.store(s, Ordering::Relaxed);
}

/// Subscribes `client` to `name`; false when it already was.
pub fn subscribe(srv: &Server, client: &mut Client, kind: Kind, name: &[u8]) -> bool {
    let subs = client.pubsub.get_or_insert_with(Default::default);
    if !subs.set(kind).insert(name.into()) {
        return false;
    }
    srv.pubsub
        .map(kind)
        .write()
        .entry(name.into())
        .or_default()
        .push(client.shared.clone());
    srv.pubsub.total.fetch_add(1, Ordering::Relaxed);
    publish_counts(client);
    true
}

/// Unsubscribes `client` from `name`; false when it was not subscribed.
pub fn unsubscribe(srv: &Server, client: &mut Client, kind: Kind, name: &[u8]) -> bool {
    let Some(subs) = client.pubsub.as_deref_mut() else {
        return false;
    };
    if !subs.set(kind).remove(name) {
        return false;
    }
    if subs.is_empty() {
        client.pubsub = None;
    }
    remove_from_map(srv, kind, name, client.id);
    publish_counts(client);
    true
}

fn remove_from_map(srv: &Server, kind: Kind, name: &[u8], id: u64) {
    let mut map = srv.pubsub.map(kind).write();
    if let Some(v) = map.get_mut(name) {
        if let Some(pos) = v.iter().position(|c| c.id == id) {
            // Delivery order among subscribers is not part of the contract.
            v.swap_remove(pos);
            srv.pubsub.total.fetch_sub(1, Ordering::Relaxed);
        }
        if v.is_empty() {
            map.remove(name);
        }
    }
}

/// The client's subscriptions of one kind (for UNSUBSCRIBE without arguments).
pub fn subscribed_names(client: &Client, kind: Kind) -> Vec<Box<[u8]>> {
    match client.pubsub.as_deref() {
        Some(s) => match kind {
            Kind::Channel => s.channels.iter().cloned().collect(),
            Kind::Pattern => s.patterns.iter().cloned().collect(),
            Kind::Shard => s.shard.iter().cloned().collect(),
        },
        None => Vec::new(),
    }
}

/// Drops every subscription of a client (disconnect, RESET).
pub fn remove_client(srv: &Server, client: &mut Client) {
    let Some(subs) = client.pubsub.take() else {
        return;
    };
    for (kind, set) in [
        (Kind::Channel, &subs.channels),
        (Kind::Pattern, &subs.patterns),
        (Kind::Shard, &subs.shard),
    ] {
        for name in set {
            remove_from_map(srv, kind, name, client.id);
        }
    }
    publish_counts(client);
}

/// Cluster mode, after a new map: every client subscribed to a shard channel
/// whose slot left this node's shard (`keep` says false) is unsubscribed
/// from it by its own event loop, and told so with a `sunsubscribe` push,
/// as Redis's `pubsubShardUnsubscribeAllChannelsInSlot` does.
pub fn drop_shard_channels(srv: &Server, keep: impl Fn(&[u8]) -> bool) {
    let mut by_client: HashMap<u64, Leaving> = HashMap::new();
    for (name, subs) in srv.pubsub.shard.read().iter() {
        if keep(name) {
            continue;
        }
        for c in subs {
            by_client
                .entry(c.id)
                .or_insert_with(|| (c.clone(), Vec::new()))
                .1
                .push(name.clone());
        }
    }
    for (id, (c, channels)) in by_client {
        if let Some(w) = srv.worker(c.worker) {
            w.send(Msg::DropShardChannels {
                token: c.token,
                id,
                channels,
            });
        }
    }
}

/// A client and the shard channels it must leave.
type Leaving = (Arc<ClientShared>, Vec<Box<[u8]>>);

/// On the client's own event loop: unsubscribes it from `channels` (shard
/// channels) and returns the `sunsubscribe` pushes to send it.
pub fn unsubscribe_shard(srv: &Server, client: &mut Client, channels: &[Box<[u8]>]) -> Vec<u8> {
    let mut out = crate::protocol::Out {
        buf: Vec::new(),
        resp3: client.resp3,
    };
    for name in channels {
        if unsubscribe(srv, client, Kind::Shard, name) {
            out.push(3);
            out.bulk(Kind::Shard.unsubscribe_word());
            out.bulk(name);
            out.int(reported_count(client, Kind::Shard) as i64);
        }
    }
    out.buf
}

/// Messages for the publishing client itself, written ahead of its reply.
pub struct SelfSink<'a> {
    pub id: u64,
    pub buf: &'a mut Vec<u8>,
}

fn header(buf: &mut Vec<u8>, prefix: u8, n: usize) {
    buf.push(prefix);
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    buf.extend_from_slice(b"\r\n");
}

fn bulk(buf: &mut Vec<u8>, data: &[u8]) {
    header(buf, b'$', data.len());
    buf.extend_from_slice(data);
    buf.extend_from_slice(b"\r\n");
}

/// Publishes `msg` on `channel` (a plain or a shard channel); returns how many
/// subscribers received it (channel subscribers plus matching patterns).
pub fn publish(
    srv: &Server,
    shard: bool,
    channel: &[u8],
    msg: &[u8],
    mut me: Option<&mut SelfSink>,
) -> usize {
    if !srv.pubsub.has_subscribers() {
        return 0;
    }
    let mut frame = Vec::with_capacity(32 + channel.len() + msg.len());
    let mut receivers = 0;
    let kind = if shard { Kind::Shard } else { Kind::Channel };
    {
        let map = srv.pubsub.map(kind).read();
        if let Some(subs) = map.get(channel) {
            header(&mut frame, b'*', 3);
            bulk(&mut frame, if shard { b"smessage" } else { b"message" });
            bulk(&mut frame, channel);
            bulk(&mut frame, msg);
            for s in subs {
                deliver(s, &frame, me.as_deref_mut());
            }
            receivers += subs.len();
        }
    }
    if !shard {
        let map = srv.pubsub.patterns.read();
        for (pattern, subs) in map.iter() {
            if !glob_match(pattern, channel, false) {
                continue;
            }
            frame.clear();
            header(&mut frame, b'*', 4);
            bulk(&mut frame, b"pmessage");
            bulk(&mut frame, pattern);
            bulk(&mut frame, channel);
            bulk(&mut frame, msg);
            for s in subs {
                deliver(s, &frame, me.as_deref_mut());
            }
            receivers += subs.len();
        }
    }
    if receivers > 0 && !OUTBOX.with(|o| o.borrow().batching) {
        flush(srv);
    }
    receivers
}

/// Appends one encoded message (RESP2 form) for one subscriber.
fn deliver(sub: &ClientShared, frame: &[u8], me: Option<&mut SelfSink>) {
    let resp3 = sub.resp.load(Ordering::Relaxed) == 3;
    let first = if resp3 { b'>' } else { b'*' };
    if let Some(me) = me.filter(|m| m.id == sub.id) {
        me.buf.push(first);
        me.buf.extend_from_slice(&frame[1..]);
        return;
    }
    deliver_as(sub, frame, first);
}

/// Appends `frame` with `first` as its first byte to `sub`'s outbox entry.
fn deliver_as(sub: &ClientShared, frame: &[u8], first: u8) {
    OUTBOX.with(|o| {
        let mut o = o.borrow_mut();
        let key = (sub.worker, sub.token, sub.id);
        let bytes = match o.index.get(&key) {
            Some(&pos) => match &mut o.per_worker[sub.worker][pos] {
                Msg::Write { bytes, .. } => bytes,
                _ => return,
            },
            None => {
                if o.per_worker.len() <= sub.worker {
                    o.per_worker.resize_with(sub.worker + 1, Vec::new);
                }
                let q = &mut o.per_worker[sub.worker];
                q.push(Msg::Write {
                    token: sub.token,
                    id: sub.id,
                    bytes: Vec::with_capacity(frame.len()),
                });
                let pos = q.len() - 1;
                o.index.insert(key, pos);
                match &mut o.per_worker[sub.worker][pos] {
                    Msg::Write { bytes, .. } => bytes,
                    _ => return,
                }
            }
        };
        bytes.push(first);
        bytes.extend_from_slice(&frame[1..]);
    });
}

/// Queues `bytes`, already in the client's protocol, for `sub` (tracking
/// invalidations), handed over with this thread's other messages: event loops
/// once per turn, other threads at [`flush_unbatched`].
pub fn push_raw(sub: &ClientShared, bytes: &[u8]) {
    let mut frame = Vec::with_capacity(bytes.len());
    frame.extend_from_slice(bytes);
    let first = frame.first().copied().unwrap_or(b'*');
    deliver_as(sub, &frame, first);
}

/// Hands this thread's messages over now unless it is an event loop (which
/// flushes once per turn).
pub fn flush_unbatched(srv: &Server) {
    if !OUTBOX.with(|o| o.borrow().batching) {
        flush(srv);
    }
}

/// Messages waiting to be handed to their event loops, per destination loop,
/// with one coalesced write per destination connection.
#[derive(Default)]
struct Outbox {
    batching: bool,
    per_worker: Vec<Vec<Msg>>,
    index: HashMap<(usize, usize, u64), usize, Hasher>,
}

thread_local! {
    static OUTBOX: RefCell<Outbox> = RefCell::new(Outbox::default());
}

/// Makes this thread keep published messages until [`flush`] (event loops call
/// this once and flush once per turn).
pub fn batch_on_this_thread() {
    OUTBOX.with(|o| o.borrow_mut().batching = true);
}

/// Hands every message this thread published to its event loop.
pub fn flush(srv: &Server) {
    let batches = OUTBOX.with(|o| {
        let mut o = o.borrow_mut();
        if o.index.is_empty() {
            return Vec::new();
        }
        o.index.clear();
        o.per_worker
            .iter_mut()
            .enumerate()
            .filter(|(_, q)| !q.is_empty())
            .map(|(w, q)| (w, std::mem::take(q)))
            .collect::<Vec<_>>()
    });
    for (w, msgs) in batches {
        if let Some(h) = srv.worker(w) {
            h.send_many(msgs);
        }
    }
}

/// Redis's `checkClientOutputBufferLimits` for a subscriber with `pending`
/// unsent bytes: true when it must be closed.
pub fn over_output_limit(client: &mut Client, pending: usize, limit: &OutputLimit) -> bool {
    let Some(subs) = client.pubsub.as_deref_mut() else {
        return false;
    };
    if limit.hard > 0 && pending >= limit.hard {
        return true;
    }
    if limit.soft == 0 || pending < limit.soft {
        subs.soft_since = None;
        return false;
    }
    match subs.soft_since {
        None => {
            subs.soft_since = Some(Instant::now());
            false
        }
        Some(t) => t.elapsed().as_secs() > limit.soft_secs,
    }
}

/// The allowed-commands check of RESP2 subscribers: the error for any other
/// command, naming it as Redis does (`container|sub` for subcommands).
pub fn restricted_error(spec: &crate::cmd::CommandSpec, args: &crate::cmd::Args) -> Option<String> {
    const ALLOWED: &[&str] = &[
        "subscribe",
        "psubscribe",
        "ssubscribe",
        "unsubscribe",
        "punsubscribe",
        "sunsubscribe",
        "ping",
        "quit",
        "reset",
    ];
    if ALLOWED.contains(&spec.name) {
        return None;
    }
    let mut name = spec.name.to_string();
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        // An unknown subcommand gets the handler's own error, as in Redis.
        let sub = spec
            .subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(args.get(1)))?;
        name = format!("{name}|{}", sub.name);
    }
    Some(format!(
        "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    ))
}
