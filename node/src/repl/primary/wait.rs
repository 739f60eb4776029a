//! WAIT and the min-replicas write gate.
//!
//! WAIT blocks its client with the blocking machinery (`server::blocked`:
//! the client's loop stops running its input and keeps its deadline), with
//! a [`BlockOp::Wait`] that names no key. The waiter is also listed here;
//! each ACK a replica sends (`link`'s reader thread) re-counts the replicas
//! that reached each waiter's offset and answers those satisfied, through
//! the loop's inbox as a served blocking pop is. At the deadline the loop
//! answers with the count at that moment ([`reply_now`]). Like Redis, WAIT
//! asks every replica for an ACK (`REPLCONF GETACK *` in the stream) when
//! it blocks.
//!
//! The offset waited for is `master_repl_offset` when WAIT runs, which
//! covers every write the client made before (Redis uses the client's own
//! last write offset; ours may wait for a few more bytes of other clients').

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ReplicaState;
use crate::cmd::blocking::BlockOp;
use crate::server::blocked::Waiter;
use crate::server::Server;

pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
pub const WAIT_ON_REPLICA: &str = "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.";

const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";

/// Replicas whose last ACK reached `offset`.
pub fn acked(srv: &Server, offset: i64) -> usize {
    srv.primary
        .replicas
        .lock()
        .iter()
        .filter(|r| {
            r.state() == ReplicaState::Online && r.ack_offset.load(Ordering::Relaxed) >= offset
        })
        .count()
}

/// What WAIT does now: `Ok(n)` answers at once, `Err(target)` blocks.
pub fn start(srv: &Server, numreplicas: i64) -> Result<usize, i64> {
    let target = srv.repl.offset.load(Ordering::Relaxed);
    let n = acked(srv, target);
    if numreplicas <= 0 || n as i64 >= numreplicas {
        return Ok(n);
    }
    Err(target)
}

/// Blocks a WAIT client (see the module docs) and asks replicas for ACKs.
pub fn block(
    ctx: &crate::cmd::Ctx,
    target: i64,
    numreplicas: i64,
    timeout: Option<Duration>,
) -> Arc<Waiter> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let srv = ctx.srv;
    let w = Arc::new(Waiter::new(
        ctx.client.shared.clone(),
        ctx.client.resp3,
        ctx.client.db,
        ctx.cmd,
        BlockOp::Wait {
            offset: target,
            numreplicas,
        },
        deadline,
    ));
    srv.blocking.add(w.clone());
    w.shared.set_blocked(true);
    srv.primary.waits.lock().push(w.clone());
    super::send_to_replicas(srv, GETACK);
    // An ACK may have arrived between the count and the registration.
    on_ack(srv);
    w
}

/// Answers the WAIT clients whose offset enough replicas acknowledged.
pub fn on_ack(srv: &Server) {
    let mut waits = srv.primary.waits.lock();
    if waits.is_empty() {
        return;
    }
    waits.retain(|w| {
        if w.is_claimed() {
            return false;
        }
        let BlockOp::Wait {
            offset,
            numreplicas,
        } = w.op
        else {
            return false;
        };
        let n = acked(srv, offset);
        if (n as i64) < numreplicas {
            return true;
        }
        if w.claim() {
            srv.blocking.remove(w.id);
            crate::server::blocked::deliver_reply(srv, w, format!(":{n}\r\n").into_bytes());
        }
        false
    });
}

/// The reply of a WAIT that timed out (or was unblocked): the count now.
pub fn reply_now(srv: &Server, offset: i64) -> Vec<u8> {
    format!(":{}\r\n", acked(srv, offset)).into_bytes()
}

/// Whether `min-replicas-to-write` refuses writes now (a primary with fewer
/// good replicas: online, last ACK within `min-replicas-max-lag`).
#[inline]
pub fn refuses_writes(srv: &Server, min_to_write: usize, max_lag: i64) -> bool {
    min_to_write > 0
        && max_lag > 0
        && !srv.repl.is_replica()
        && srv.primary.good_replicas.load(Ordering::Relaxed) < min_to_write
}
