//! Whether a replica caught up with a primary whose writes are held
//! (FAILOVER, a shutdown waiting for its replicas).
//!
//! The primary asks with `REPLCONF GETACK *` in the stream. A replica answers
//! GETACK with its offset *before* it (as Redis's do), so asking moves the
//! primary's offset past what the answer can report: a replica counts as
//! caught up when it acknowledged the current offset or, when nothing but
//! the last GETACK was appended since, the offset that GETACK was appended at.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::server::Server;

const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
/// How often to ask: the replicas' own ACKs come once a second.
const GETACK_EVERY: Duration = Duration::from_millis(100);

/// The last GETACK sent: when, and the offsets before and after it.
#[derive(Default)]
pub struct CatchUp {
    last_getack: Option<(Instant, i64, i64)>,
}

impl CatchUp {
    /// Whether an ACK of `ack` covers the primary's `offset` (see the
    /// module docs).
    pub fn caught_up(&self, offset: i64, ack: i64) -> bool {
        ack >= offset
            || self
                .last_getack
                .is_some_and(|(_, pre, post)| post == offset && ack >= pre)
    }

    /// Asks every replica for an ACK, at most every [`GETACK_EVERY`].
    pub fn ask(&mut self, srv: &Server) {
        if self
            .last_getack
            .is_none_or(|(at, _, _)| at.elapsed() >= GETACK_EVERY)
        {
            let pre = srv.repl.offset.load(Ordering::Relaxed);
            super::send_to_replicas(srv, GETACK);
            let post = srv.repl.offset.load(Ordering::Relaxed);
            self.last_getack = Some((Instant::now(), pre, post));
        }
    }
}
