//! The propagation log: one totally ordered stream of RESP commands describing
//! every change to the keyspace, with a byte offset (Redis's
//! `master_repl_offset`).
//!
//! # Ordering
//! Writers append while holding the stripe locks of the keys they changed
//! (`prop::call`, lazy expiry, the expiry cycle, eviction, served blocked pops),
//! so two changes to one key are logged in the order they happened; changes to
//! different keys commute. Lock order is always stripes -> log -> consumer
//! buffers: nothing here ever takes a stripe.
//!
//! # Consumers
//! A [`Consumer`] is handed every appended byte range, in offset order, under
//! the log lock, so it must only copy (into a buffer it drains elsewhere). The
//! append-only file is one (`persist::aof`). Replication plugs in the same way:
//! the backlog is a consumer that copies into a ring buffer indexed by offset
//! (PSYNC serves `[offset, log offset)` from it), and a replica link is a
//! consumer that copies into the link's output buffer and wakes its sender.
//! [`ReplLog::attach`] reports the offset at which the new consumer starts,
//! taken under the same lock as the first byte it will see, which is what a
//! full sync needs to pair a snapshot with a stream position.
//!
//! # Cost when off
//! With no consumer the log is inactive: [`ReplLog::active`] is one relaxed
//! load, and the request path does nothing else.
//!
//! # Why it lives with the keyspace
//! The keyspace appends to it itself (a `DEL` for each key that lazy expiry or
//! eviction removes, under the stripe lock that removed it), so the log stands
//! on the keyspace's layer and the AOF and replication consume it from above.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

/// Receives the log's bytes. See the module docs.
pub trait Consumer: Send {
    /// `bytes` were appended at log offsets `start .. start + bytes.len()`.
    /// Called with the log lock held: copy, never block.
    fn feed(&mut self, start: u64, bytes: &[u8]);
}

/// Handle of an attached consumer, for [`ReplLog::detach`].
pub type ConsumerId = u64;

/// The global propagation log.
#[derive(Default)]
pub struct ReplLog {
    active: AtomicBool,
    /// Mirror of the offset for readers that must not lock (INFO).
    offset: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    offset: u64,
    /// The database of the last command logged; `None` forces a `SELECT`.
    last_db: Option<usize>,
    consumers: Vec<(ConsumerId, Box<dyn Consumer>)>,
    next_id: ConsumerId,
    scratch: Vec<u8>,
}

thread_local! {
    /// End offset of the last append made by this thread (0: none since the
    /// last [`take_last_end`]). The event loop fsyncs up to it before replying.
    static LAST_END: Cell<u64> = const { Cell::new(0) };
}

/// The end offset of this thread's appends since the last take (0: none).
#[inline]
pub fn peek_last_end() -> u64 {
    LAST_END.with(|c| c.get())
}

/// Takes the end offset of this thread's appends since the last call (0: none).
#[inline]
pub fn take_last_end() -> u64 {
    LAST_END.with(|c| c.replace(0))
}

impl Inner {
    /// Appends `scratch` (already assembled) and feeds every consumer.
    fn commit(&mut self) -> u64 {
        let start = self.offset;
        let bytes = std::mem::take(&mut self.scratch);
        for (_, c) in &mut self.consumers {
            c.feed(start, &bytes);
        }
        self.offset = start + bytes.len() as u64;
        self.scratch = bytes;
        self.scratch.clear();
        if self.scratch.capacity() > 1 << 20 {
            self.scratch = Vec::new();
        }
        self.offset
    }

    fn select(&mut self, db: usize) {
        if self.last_db != Some(db) {
            let n = itoa::Buffer::new().format(db).to_owned();
            encode(&mut self.scratch, [b"SELECT".as_slice(), n.as_bytes()]);
            self.last_db = Some(db);
        }
    }
}

impl ReplLog {
    /// Whether anything consumes the log (the request path's only check).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// The offset after the last appended byte.
    pub fn offset(&self) -> u64 {
        self.offset.load(Ordering::Relaxed)
    }

    /// Attaches a consumer built from the offset it starts at (its first byte
    /// will be a `SELECT`). Runs `make` under the log lock.
    pub fn attach(&self, make: impl FnOnce(u64) -> Box<dyn Consumer>) -> ConsumerId {
        let mut g = self.inner.lock();
        let c = make(g.offset);
        g.next_id += 1;
        let id = g.next_id;
        g.consumers.push((id, c));
        g.last_db = None;
        self.active.store(true, Ordering::Relaxed);
        id
    }

    pub fn detach(&self, id: ConsumerId) {
        let mut g = self.inner.lock();
        g.consumers.retain(|(i, _)| *i != id);
        self.active
            .store(!g.consumers.is_empty(), Ordering::Relaxed);
    }

    /// Runs `f` with the log locked at its current offset, and makes the next
    /// append start with a `SELECT` (a consumer switching files does this, so
    /// the new file stands on its own).
    pub fn at_offset<R>(&self, f: impl FnOnce(u64) -> R) -> R {
        let mut g = self.inner.lock();
        g.last_db = None;
        f(g.offset)
    }

    /// Runs `f` under the log lock without appending: bytes a consumer takes
    /// from elsewhere (the replication backlog's PINGs and GETACKs, which the
    /// AOF must not see) are ordered with everything logged.
    pub fn locked<R>(&self, f: impl FnOnce() -> R) -> R {
        let _g = self.inner.lock();
        f()
    }

    /// Appends commands (RESP, all for database `db`). Returns the end offset.
    pub fn append(&self, db: usize, resp: &[u8]) -> u64 {
        if resp.is_empty() || !self.active() {
            return 0;
        }
        let mut g = self.inner.lock();
        g.select(db);
        g.scratch.extend_from_slice(resp);
        let end = g.commit();
        drop(g);
        self.published(end)
    }

    /// Appends what `write` encodes (commands for database `db`) straight into
    /// the log's buffer, saving a copy on the request path.
    pub fn append_with(&self, db: usize, write: impl FnOnce(&mut Vec<u8>)) -> u64 {
        if !self.active() {
            return 0;
        }
        let mut g = self.inner.lock();
        g.select(db);
        let before = g.scratch.len();
        write(&mut g.scratch);
        if g.scratch.len() == before {
            // Nothing to log after all (the SELECT alone is not worth it).
            g.scratch.clear();
            if before > 0 {
                g.last_db = None;
            }
            return 0;
        }
        let end = g.commit();
        drop(g);
        self.published(end)
    }

    /// Appends one command given as arguments.
    pub fn append_argv(&self, db: usize, argv: &[&[u8]]) -> u64 {
        if !self.active() {
            return 0;
        }
        let mut g = self.inner.lock();
        g.select(db);
        encode(&mut g.scratch, argv.iter().copied());
        let end = g.commit();
        drop(g);
        self.published(end)
    }

    /// Appends a transaction's effects as `MULTI`, the commands (with the
    /// `SELECT`s they need), `EXEC`, in one piece so that nothing else logged
    /// can fall between them.
    pub fn append_tx(&self, ops: &[(usize, Vec<u8>)]) -> u64 {
        let Some((first_db, _)) = ops.first() else {
            return 0;
        };
        if !self.active() {
            return 0;
        }
        let mut g = self.inner.lock();
        g.select(*first_db);
        encode(&mut g.scratch, [b"MULTI".as_slice()]);
        for (db, resp) in ops {
            g.select(*db);
            g.scratch.extend_from_slice(resp);
        }
        encode(&mut g.scratch, [b"EXEC".as_slice()]);
        let end = g.commit();
        drop(g);
        self.published(end)
    }

    #[inline]
    fn published(&self, end: u64) -> u64 {
        self.offset.store(end, Ordering::Relaxed);
        LAST_END.with(|c| c.set(end));
        end
    }
}

/// Appends one RESP multi-bulk command.
pub fn encode<'a>(out: &mut Vec<u8>, argv: impl IntoIterator<Item = &'a [u8]>) {
    let argv = argv.into_iter();
    let start = out.len();
    out.push(b'*');
    // Placeholder count, patched once the arguments are counted.
    let mut n = 0usize;
    let mut body = Vec::new();
    for a in argv {
        n += 1;
        body.push(b'$');
        body.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(a);
        body.extend_from_slice(b"\r\n");
    }
    out.truncate(start + 1);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
}

/// Appends one RESP command whose arguments are known up front (no copy).
pub fn encode_slice(out: &mut Vec<u8>, argv: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        out.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    type Seen = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;
    struct Sink(Seen);
    impl Consumer for Sink {
        fn feed(&mut self, start: u64, bytes: &[u8]) {
            self.0.lock().push((start, bytes.to_vec()));
        }
    }

    #[test]
    fn selects_when_the_db_changes_and_counts_offsets() {
        let log = ReplLog::default();
        assert_eq!(log.append_argv(0, &[b"SET", b"k", b"v"]), 0, "inactive");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let id = log.attach(move |off| {
            assert_eq!(off, 0);
            Box::new(Sink(s))
        });
        log.append_argv(0, &[b"SET", b"k", b"v"]);
        log.append_argv(0, &[b"DEL", b"k"]);
        log.append_tx(&[(1, b"*1\r\n$4\r\nPING\r\n".to_vec())]);
        let all: Vec<u8> = seen.lock().iter().flat_map(|(_, b)| b.clone()).collect();
        let text = String::from_utf8(all).unwrap();
        assert_eq!(
            text,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *2\r\n$3\r\nDEL\r\n$1\r\nk\r\n\
             *2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nEXEC\r\n"
        );
        assert_eq!(log.offset(), text.len() as u64);
        let starts: Vec<u64> = seen.lock().iter().map(|(s, _)| *s).collect();
        assert_eq!(starts[0], 0);
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(take_last_end(), text.len() as u64);
        assert_eq!(take_last_end(), 0);
        log.detach(id);
        assert!(!log.active());
    }

    #[test]
    fn encoders_agree() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        encode(&mut a, [b"x".as_slice(), b"", b"abc"]);
        encode_slice(&mut b, &[b"x", b"", b"abc"]);
        assert_eq!(a, b);
        assert_eq!(a, b"*3\r\n$1\r\nx\r\n$0\r\n\r\n$3\r\nabc\r\n");
    }
}
