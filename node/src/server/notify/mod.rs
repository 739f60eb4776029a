//! Keyspace notifications (`notify-keyspace-events`): the
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` messages Redis
//! publishes when commands change keys, keys expire or keys are created.
//!
//! # Design
//! Instead of a call in every command handler, the request path calls
//! [`before`] and [`after`] around each command; when notifications are off each
//! is one atomic load. When they are on, [`before`] records what a write
//! command's events depend on: whether its keys existed (and had a TTL), and for
//! ZADD/GEOADD/SMOVE whether the members it names were already there. [`after`]
//! then derives Redis's events, in Redis's order, from that record, the keys'
//! state afterwards and the command's reply, by the rules in [`rules`] (one arm
//! per command, named as in Redis's source).
//!
//! Keys expired lazily are logged by the keyspace
//! ([`crate::db::Keyspace::note_expired`]) and announced by [`after`] ahead of the
//! command's own events; the active expiry cycle announces its own
//! ([`expired`]). Messages for the client whose command caused them go ahead of
//! its reply, as in Redis.
//!
//! Known limits: the before/after lookups lock the keys' stripes separately from
//! the command, so a concurrent write to the same key by another client in
//! between can make an event be missed or misreported; lazily expired keys of a
//! database other than the client's (MOVE, COPY ... DB) are announced in the
//! client's database; `keymiss` is never sent, and `evicted` only by callers of
//! [`evicted`].

mod rules;

use std::sync::atomic::Ordering;

use super::channels::{self, SelfSink};
use super::client::Client;
use super::Server;
use crate::cmd::{Args, CommandSpec};
use crate::db::events::*;
use crate::protocol::Out;

/// Publishes one event of `class` about `key` in database `db`, on the
/// keyspace and/or keyevent channel as `mask` asks.
fn emit(
    srv: &Server,
    mask: u32,
    class: u32,
    event: &str,
    key: &[u8],
    db: usize,
    mut me: Option<&mut SelfSink>,
) {
    if mask & class == 0 || !srv.pubsub.has_subscribers() {
        return;
    }
    let mut dbs = itoa::Buffer::new();
    let db = dbs.format(db);
    let mut ch = Vec::with_capacity(20 + key.len().max(event.len()));
    if mask & KEYSPACE != 0 {
        ch.extend_from_slice(b"__keyspace@");
        ch.extend_from_slice(db.as_bytes());
        ch.extend_from_slice(b"__:");
        ch.extend_from_slice(key);
        channels::publish(srv, false, &ch, event.as_bytes(), me.as_deref_mut());
    }
    if mask & KEYEVENT != 0 {
        ch.clear();
        ch.extend_from_slice(b"__keyevent@");
        ch.extend_from_slice(db.as_bytes());
        ch.extend_from_slice(b"__:");
        ch.extend_from_slice(event.as_bytes());
        channels::publish(srv, false, &ch, key, me);
    }
}

/// Announces a key removed by the active expiry cycle.
pub fn expired(srv: &Server, db: usize, key: &[u8]) {
    if srv.tracking.active() {
        srv.tracking.invalidate(&[key], None, &srv.clients);
        channels::flush_unbatched(srv);
    }
    let mask = srv.config.notify.load(Ordering::Relaxed);
    emit(srv, mask, EXPIRED, "expired", key, db, None);
}

/// Announces a key removed by maxmemory eviction.
pub fn evicted(srv: &Server, db: usize, key: &[u8]) {
    if srv.tracking.active() {
        srv.tracking.invalidate(&[key], None, &srv.clients);
        channels::flush_unbatched(srv);
    }
    let mask = srv.config.notify.load(Ordering::Relaxed);
    emit(srv, mask, EVICTED, "evicted", key, db, None);
}

/// What a key looked like before the command ran.
struct KeyState {
    arg: usize,
    existed: bool,
    volatile: bool,
}

/// Recorded by [`before`] for [`after`].
pub struct Noted {
    keys: Vec<KeyState>,
    /// ZADD/GEOADD: the named members' scores; SMOVE: whether the destination
    /// held the member (as a score of 0 or none).
    scores: Vec<Option<f64>>,
}

/// Records the state a write command's notifications depend on; `None` (one
/// atomic load) when notifications are off.
#[inline]
pub fn before(srv: &Server, db: usize, spec: &CommandSpec, args: &Args) -> Option<Box<Noted>> {
    if srv.config.notify.load(Ordering::Relaxed) == 0 || !srv.pubsub.has_subscribers() {
        return None;
    }
    capture(srv, db, spec, args)
}

#[cold]
fn capture(srv: &Server, db: usize, spec: &CommandSpec, args: &Args) -> Option<Box<Noted>> {
    let tracked = rules::tracked_args(spec.name, args)?;
    let now = crate::util::now_ms();
    let keys = tracked
        .into_iter()
        .map(|arg| {
            let (existed, volatile) = probe(srv, db, args.get(arg), now);
            KeyState {
                arg,
                existed,
                volatile,
            }
        })
        .collect();
    let scores = rules::member_scores(srv, db, spec.name, args);
    Some(Box::new(Noted { keys, scores }))
}

/// Whether `key` exists (unexpired) in `db`, and whether it has a TTL.
fn probe(srv: &Server, db: usize, key: &[u8], now: i64) -> (bool, bool) {
    let ks = &srv.keyspace;
    let h = ks.hash(key);
    let sh = ks.db(db).lock(h);
    match sh.find(h, key) {
        Some(slot) => {
            let v = sh.view(slot);
            if v.is_expired(now) {
                (false, false)
            } else {
                (true, v.expire().is_some())
            }
        }
        None => (false, false),
    }
}

/// Publishes the events of the command that just ran (and of keys it expired
/// lazily); one atomic load when notifications are off.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn after(
    srv: &Server,
    client: &mut Client,
    spec: &CommandSpec,
    args: &Args,
    noted: Option<Box<Noted>>,
    ok: bool,
    out: &mut Out,
    reply_start: usize,
) {
    let mask = srv.config.notify.load(Ordering::Relaxed);
    if mask == 0 {
        return;
    }
    after_slow(srv, mask, client, spec, args, noted, ok, out, reply_start);
}

#[cold]
#[allow(clippy::too_many_arguments)]
fn after_slow(
    srv: &Server,
    mask: u32,
    client: &mut Client,
    spec: &CommandSpec,
    args: &Args,
    noted: Option<Box<Noted>>,
    ok: bool,
    out: &mut Out,
    reply_start: usize,
) {
    let mut mine = Vec::new();
    let mut me = SelfSink {
        id: client.id,
        buf: &mut mine,
    };
    for key in crate::db::take_expired_log() {
        emit(
            srv,
            mask,
            EXPIRED,
            "expired",
            &key,
            client.db,
            Some(&mut me),
        );
    }
    if let (Some(noted), true) = (noted, ok) {
        let reply = Reply::parse(out.buf.get(reply_start..).unwrap_or_default());
        let mut n = rules::Note {
            srv,
            mask,
            db: client.db,
            args,
            noted: &noted,
            reply,
            me,
            now: crate::util::now_ms(),
        };
        rules::apply(&mut n, spec.name);
    }
    if mine.is_empty() {
        return;
    }
    if client.reply != super::client::ReplyMode::On {
        // Kept past CLIENT REPLY OFF|SKIP, as Redis sends pushes.
        client.held_pushes.extend_from_slice(&mine);
    } else if reply_start <= out.buf.len() {
        out.buf.splice(reply_start..reply_start, mine);
    }
}

/// The shape of a command's reply, as much as the rules need.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reply {
    Int(i64),
    Null,
    Status,
    Bulk,
    Array(i64),
    Other,
}

impl Reply {
    fn parse(b: &[u8]) -> Reply {
        let num = || -> i64 {
            let end = b.iter().position(|&c| c == b'\r').unwrap_or(b.len());
            crate::util::parse_i64_strict(b.get(1..end).unwrap_or_default()).unwrap_or(0)
        };
        match b.first() {
            Some(b':') => Reply::Int(num()),
            Some(b'_') => Reply::Null,
            Some(b'$') if b.starts_with(b"$-1") => Reply::Null,
            Some(b'*') if b.starts_with(b"*-1") => Reply::Null,
            Some(b'$') | Some(b',') => Reply::Bulk,
            Some(b'*') | Some(b'%') | Some(b'~') => Reply::Array(num()),
            Some(b'+') => Reply::Status,
            _ => Reply::Other,
        }
    }

    fn is_null(self) -> bool {
        self == Reply::Null
    }

    /// A positive integer reply (added, removed, changed ...).
    fn positive(self) -> bool {
        matches!(self, Reply::Int(n) if n > 0)
    }

    /// A bulk, or a non-empty array (the pops).
    fn popped(self) -> bool {
        matches!(self, Reply::Bulk) || matches!(self, Reply::Array(n) if n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(flags_from_str(""), 0);
        assert_eq!(flags_from_str("A"), 0, "no K or E: nothing to publish");
        let m = flags_from_str("KEA");
        assert_ne!(m & EXPIRED, 0);
        assert_eq!(m & NEW, 0);
        assert_eq!(m & KEY_MISS, 0);
        assert_ne!(flags_from_str("Kn") & NEW, 0);
    }

    #[test]
    fn replies() {
        assert_eq!(Reply::parse(b":3\r\n"), Reply::Int(3));
        assert_eq!(Reply::parse(b"$-1\r\n"), Reply::Null);
        assert_eq!(Reply::parse(b"_\r\n"), Reply::Null);
        assert_eq!(Reply::parse(b"*-1\r\n"), Reply::Null);
        assert_eq!(Reply::parse(b"*0\r\n"), Reply::Array(0));
        assert_eq!(Reply::parse(b"$1\r\na\r\n"), Reply::Bulk);
        assert_eq!(Reply::parse(b"+OK\r\n"), Reply::Status);
        assert!(Reply::parse(b"*2\r\n").popped());
        assert!(!Reply::parse(b"*0\r\n").popped());
    }
}
