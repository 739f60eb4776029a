//! The replication backlog: the recent replication stream, indexed by offset,
//! and the one buffer every replica's sender reads from.
//!
//! # One buffer, many readers (Redis 7's shared replication buffer)
//! Bytes are appended once (by the propagation log's consumer on a primary,
//! by the link thread's proxy on a replica) and each replica sender copies
//! its next range out of it. The buffer keeps at least `repl-backlog-size`
//! bytes of history for PSYNC, and more while a replica still has to send
//! them: it is trimmed to the older of "size bytes back" and the slowest
//! reader. That extra is what Redis counts as a replica's output buffer, so
//! `client-output-buffer-limit replica` is checked here, on every append:
//! a reader more than `hard` bytes behind (or more than `soft` for
//! `soft_secs`) is dropped and its socket shut down, which also unblocks a
//! sender stuck in a write to a replica that stopped reading.
//!
//! # Offsets
//! `end` is `master_repl_offset` (bytes ever appended in this history);
//! `start` is the offset before the first byte held, so PSYNC's `offset`
//! (the next byte wanted, counted from 1) is servable when
//! `start + 1 <= offset <= end + 1`. `end` is mirrored into the replication
//! state's offset atomic (`srv.repl.offset`) under the same lock, so INFO,
//! ROLE and the snapshot's start point read one number.
//!
//! Lock order: the log lock (or the replica's apply lock) -> this lock. A
//! reader's socket shutdown is the only system call made under it.

use std::collections::VecDeque;
use std::net::TcpStream;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::config::OutputLimit;
use crate::db::log::Consumer;

/// Why a reader got no bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// Dropped: over its output limit, or disconnected by a role change.
    Dropped,
}

struct Reader {
    id: u64,
    /// Offset of the last byte handed to the reader.
    pos: i64,
    limit: OutputLimit,
    over_soft_since: Option<Instant>,
    socket: Option<TcpStream>,
    dropped: bool,
}

struct Ring {
    buf: VecDeque<u8>,
    start: i64,
    readers: Vec<Reader>,
}

impl Ring {
    fn end(&self) -> i64 {
        self.start + self.buf.len() as i64
    }
}

/// The backlog (module docs).
pub struct Backlog {
    ring: Mutex<Ring>,
    more: Condvar,
    size: AtomicUsize,
    /// `srv.repl.offset`, kept equal to the end.
    mirror: Arc<AtomicI64>,
}

impl Backlog {
    /// An empty backlog whose history starts after byte `offset`.
    pub fn new(offset: i64, size: usize, mirror: Arc<AtomicI64>) -> Backlog {
        mirror.store(offset, Ordering::Relaxed);
        Backlog {
            ring: Mutex::new(Ring {
                buf: VecDeque::new(),
                start: offset,
                readers: Vec::new(),
            }),
            more: Condvar::new(),
            size: AtomicUsize::new(size),
            mirror,
        }
    }

    pub fn set_size(&self, size: usize) {
        self.size.store(size, Ordering::Relaxed);
    }

    pub fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// `(first byte offset, history length, end)` for INFO.
    pub fn bounds(&self) -> (i64, i64, i64) {
        let r = self.ring.lock();
        (r.start + 1, r.buf.len() as i64, r.end())
    }

    pub fn end(&self) -> i64 {
        self.ring.lock().end()
    }

    /// Appends `bytes` if they end exactly at offset `end` (a replica's
    /// proxy, contiguous with what it applied before); false otherwise.
    pub fn append_ending_at(&self, bytes: &[u8], end: i64) -> bool {
        let r = self.ring.lock();
        if r.end() + bytes.len() as i64 != end {
            return false;
        }
        self.append_locked(r, bytes);
        true
    }

    /// Appends stream bytes; checks every reader's output limit; trims.
    pub fn append(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.append_locked(self.ring.lock(), bytes);
    }

    fn append_locked(&self, mut r: parking_lot::MutexGuard<'_, Ring>, bytes: &[u8]) {
        r.buf.extend(bytes);
        let end = r.end();
        self.mirror.store(end, Ordering::Relaxed);
        let now = Instant::now();
        for rd in r.readers.iter_mut().filter(|rd| !rd.dropped) {
            let lag = (end - rd.pos).max(0) as usize;
            if over_limit(rd, lag, now) {
                tracing::warn!(
                    replica = rd.id,
                    lag_bytes = lag,
                    "client-output-buffer-limit replica reached: disconnecting the replica"
                );
                drop_reader(rd);
            }
        }
        self.trim(&mut r);
        drop(r);
        self.more.notify_all();
    }

    /// Keeps `size` bytes of history plus whatever a live reader still needs.
    fn trim(&self, r: &mut Ring) {
        let end = r.end();
        let mut keep_from = end - self.size() as i64;
        for rd in r.readers.iter().filter(|rd| !rd.dropped) {
            keep_from = keep_from.min(rd.pos);
        }
        let cut = keep_from - r.start;
        if cut > 0 {
            let cut = (cut as usize).min(r.buf.len());
            r.buf.drain(..cut);
            r.start += cut as i64;
            if r.buf.capacity() > 4 * (r.buf.len() + self.size()) + (1 << 20) {
                r.buf.shrink_to(2 * (r.buf.len() + self.size()));
            }
        }
    }

    /// Starts a new history after byte `offset` (a replica's full sync):
    /// drops the bytes and every reader.
    pub fn reset(&self, offset: i64) {
        let mut r = self.ring.lock();
        r.buf = VecDeque::new();
        r.start = offset;
        for rd in r.readers.iter_mut() {
            drop_reader(rd);
        }
        r.readers.clear();
        self.mirror.store(offset, Ordering::Relaxed);
        drop(r);
        self.more.notify_all();
    }

    /// Registers a reader that has the stream up to `pos` (its next byte is
    /// `pos + 1`), if the backlog still holds everything after it.
    pub fn add_reader(
        &self,
        id: u64,
        pos: i64,
        limit: OutputLimit,
        socket: Option<TcpStream>,
    ) -> bool {
        let mut r = self.ring.lock();
        if pos < r.start || pos > r.end() {
            return false;
        }
        r.readers.push(Reader {
            id,
            pos,
            limit,
            over_soft_since: None,
            socket,
            dropped: false,
        });
        true
    }

    /// Registers a reader at the current end (a full sync's start point,
    /// under the snapshot's all-stripes hold) and returns that offset.
    pub fn add_reader_at_end(&self, id: u64, limit: OutputLimit, socket: Option<TcpStream>) -> i64 {
        let mut r = self.ring.lock();
        let pos = r.end();
        r.readers.push(Reader {
            id,
            pos,
            limit,
            over_soft_since: None,
            socket,
            dropped: false,
        });
        pos
    }

    pub fn remove_reader(&self, id: u64) {
        let mut r = self.ring.lock();
        r.readers.retain(|rd| rd.id != id);
        self.trim(&mut r);
    }

    /// Drops every reader (a role change: replicas reconnect and PSYNC).
    pub fn drop_readers(&self) {
        let mut r = self.ring.lock();
        for rd in r.readers.iter_mut() {
            drop_reader(rd);
        }
        drop(r);
        self.more.notify_all();
    }

    /// Copies up to `max` bytes after reader `id`'s position into `out`,
    /// waiting up to `wait` for some. `Ok(0)`: nothing new yet.
    pub fn read(
        &self,
        id: u64,
        out: &mut Vec<u8>,
        max: usize,
        wait: Duration,
    ) -> Result<usize, ReadError> {
        let mut r = self.ring.lock();
        let deadline = Instant::now() + wait;
        loop {
            let end = r.end();
            let start = r.start;
            let Some(rd) = r.readers.iter().find(|rd| rd.id == id) else {
                return Err(ReadError::Dropped);
            };
            if rd.dropped || rd.pos < start {
                return Err(ReadError::Dropped);
            }
            let pos = rd.pos;
            if pos < end {
                let from = (pos - start) as usize;
                let n = ((end - pos) as usize).min(max);
                let (a, b) = r.buf.as_slices();
                copy_range(a, b, from, n, out);
                if let Some(rd) = r.readers.iter_mut().find(|rd| rd.id == id) {
                    rd.pos += n as i64;
                    // Back under the soft limit: its clock restarts.
                    if ((end - rd.pos) as usize) < rd.limit.soft || rd.limit.soft == 0 {
                        rd.over_soft_since = None;
                    }
                }
                self.trim(&mut r);
                return Ok(n);
            }
            if self.more.wait_until(&mut r, deadline).timed_out() {
                return Ok(0);
            }
        }
    }

    /// A consumer of the propagation log feeding this backlog.
    pub fn consumer(self: &Arc<Self>) -> Box<dyn Consumer> {
        Box::new(Feed(self.clone()))
    }
}

fn over_limit(rd: &mut Reader, lag: usize, now: Instant) -> bool {
    let l = rd.limit;
    if l.hard > 0 && lag > l.hard {
        return true;
    }
    if l.soft > 0 && lag > l.soft {
        let since = *rd.over_soft_since.get_or_insert(now);
        return now.duration_since(since) > Duration::from_secs(l.soft_secs);
    }
    rd.over_soft_since = None;
    false
}

fn drop_reader(rd: &mut Reader) {
    rd.dropped = true;
    if let Some(s) = rd.socket.take() {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
}

/// Appends `n` bytes starting at `from` of the ring's two halves to `out`.
fn copy_range(a: &[u8], b: &[u8], from: usize, n: usize, out: &mut Vec<u8>) {
    let to = from + n;
    if from < a.len() {
        out.extend_from_slice(&a[from..to.min(a.len())]);
    }
    if to > a.len() {
        let bf = from.saturating_sub(a.len());
        out.extend_from_slice(&b[bf..to - a.len()]);
    }
}

/// The log consumer: copies under the log lock, as the log requires.
struct Feed(Arc<Backlog>);

impl Consumer for Feed {
    fn feed(&mut self, _start: u64, bytes: &[u8]) {
        self.0.append(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backlog(size: usize) -> Backlog {
        Backlog::new(100, size, Arc::new(AtomicI64::new(0)))
    }

    #[test]
    fn keeps_size_bytes_and_reports_bounds() {
        let b = backlog(16);
        assert_eq!(b.bounds(), (101, 0, 100));
        b.append(b"0123456789");
        b.append(b"abcdefghij");
        assert_eq!(b.bounds(), (105, 16, 120));
        assert_eq!(b.mirror.load(Ordering::Relaxed), 120);
        assert!(
            !b.add_reader(1, 103, OutputLimit::default(), None),
            "trimmed"
        );
        assert!(b.add_reader(1, 110, OutputLimit::default(), None));
        let mut out = Vec::new();
        assert_eq!(b.read(1, &mut out, 4, Duration::ZERO), Ok(4));
        assert_eq!(b.read(1, &mut out, 100, Duration::ZERO), Ok(6));
        assert_eq!(out, b"abcdefghij");
        assert_eq!(b.read(1, &mut out, 100, Duration::ZERO), Ok(0));
    }

    #[test]
    fn a_slow_reader_holds_history_until_its_hard_limit() {
        let b = backlog(16);
        let lim = OutputLimit {
            hard: 64,
            soft: 0,
            soft_secs: 0,
        };
        b.add_reader(7, 100, lim, None);
        for _ in 0..6 {
            b.append(&[b'x'; 10]);
        }
        // 60 bytes behind: all kept for the reader.
        assert_eq!(b.bounds(), (101, 60, 160));
        b.append(&[b'y'; 10]);
        let mut out = Vec::new();
        assert_eq!(
            b.read(7, &mut out, 100, Duration::ZERO),
            Err(ReadError::Dropped)
        );
        b.remove_reader(7);
        assert_eq!(b.bounds().1, 16);
    }

    #[test]
    fn reads_across_the_ring_seam() {
        let b = backlog(8);
        b.add_reader(1, 100, OutputLimit::default(), None);
        let mut out = Vec::new();
        for chunk in [&b"abc"[..], b"defgh", b"ij", b"klmnop"] {
            b.append(chunk);
            b.read(1, &mut out, 3, Duration::ZERO).unwrap();
        }
        while b.read(1, &mut out, 3, Duration::ZERO).unwrap() > 0 {}
        assert_eq!(out, b"abcdefghijklmnop");
    }
}
