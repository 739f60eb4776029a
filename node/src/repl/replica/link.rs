//! The link thread: one per REPLICAOF target. It connects, shakes hands,
//! syncs (full or partial), streams, and after any failure waits with backoff
//! and starts over with `PSYNC <replid> <offset+1>` so a short outage costs a
//! partial resync. A REPLICAOF that changes the target bumps the state's
//! generation; a thread with an older one stops at its next tick and touches
//! nothing after that (every state change checks the generation under the
//! lock that REPLICAOF bumps it under).

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::{Cancel, Conn, LinkError, TICK};
use super::handshake::{handshake, Psync};
use super::state::{Inner, LinkState, Master, Refused, ReplState, SyncProgress, NO_REPLID};
use super::stream::{self, ExecApplier};
use crate::server::Server;

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// After a refused empty sync: retry, but do not make the primary produce a
/// payload more often than this.
const REFUSED_RETRY: Duration = Duration::from_secs(5);

/// Starts the link thread for `master` at `generation`.
pub fn spawn(srv: Arc<Server>, generation: u64, master: Master) {
    let r = std::thread::Builder::new()
        .name("repl-link".into())
        .spawn(move || run(srv, generation, master));
    if let Err(e) = r {
        tracing::error!(error = %e, "could not start the replication link thread");
    }
}

/// Runs `f` on the state if this link is still current.
fn update<R>(
    srv: &Server,
    generation: u64,
    f: impl FnOnce(&ReplState, &mut Inner) -> R,
) -> Result<R, LinkError> {
    let mut inner = srv.repl.inner();
    if srv.repl.generation() != generation {
        return Err(LinkError::Cancelled);
    }
    Ok(f(&srv.repl, &mut inner))
}

fn run(srv: Arc<Server>, generation: u64, master: Master) {
    if let Some(stats) = srv.stats.workers.last() {
        crate::stats::set_current(stats.clone());
    }
    let mut backoff = BACKOFF_MIN;
    loop {
        let mut reached_stream = false;
        let result = session(&srv, generation, &master, &mut reached_stream);
        let stale = srv.repl.generation() != generation;
        if let (false, Err(e)) = (stale, &result) {
            // A failing-over primary whose target did not take over is a
            // primary again (repl::failover); that ends this link.
            crate::repl::failover::on_link_failed(
                &srv,
                &format!("Failover target link failed: {e}"),
            );
        }
        let stale = srv.repl.generation() != generation;
        let wait = match &result {
            _ if stale => return,
            Ok(()) => BACKOFF_MIN,
            Err(LinkError::Cancelled) => {
                tracing::info!(host = %master.host, port = master.port, "master link closed (killed)");
                BACKOFF_MIN
            }
            Err(LinkError::RefusedEmpty(id)) => {
                tracing::error!(
                    host = %master.host,
                    port = master.port,
                    master_replid = %id,
                    "REFUSED a full sync: the primary sent an EMPTY dataset and its replication id is unknown \
                     (a primary restarted without its data?) while this replica holds keys; keeping the data \
                     and retrying. CONFIG SET replica-accept-empty-sync yes accepts it"
                );
                REFUSED_RETRY
            }
            Err(e) => {
                tracing::warn!(host = %master.host, port = master.port, error = %e, "master link lost; will retry");
                backoff
            }
        };
        let refused = match &result {
            Err(LinkError::RefusedEmpty(id)) => Some(id.clone()),
            _ => None,
        };
        let still = update(&srv, generation, |st, inner| {
            st.set_link(inner, LinkState::Connect);
            inner.socket = None;
            inner.sync = None;
            inner.last_io = None;
            if let Some(id) = refused {
                let count = inner.refused.as_ref().map_or(0, |r| r.count) + 1;
                inner.refused = Some(Refused {
                    master_replid: id,
                    at: Instant::now(),
                    count,
                });
            }
        });
        if still.is_err() || srv.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        backoff = if reached_stream {
            BACKOFF_MIN
        } else {
            (backoff * 2).min(BACKOFF_MAX)
        };
        // Backoff between attempts (not synchronisation): wake every tick to
        // stop promptly when REPLICAOF moves on.
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if srv.repl.generation() != generation {
                return;
            }
            std::thread::park_timeout(TICK);
        }
    }
}

fn connect(master: &Master, timeout: Duration) -> Result<TcpStream, LinkError> {
    let mut last = None;
    for addr in (master.host.as_str(), master.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(
        || LinkError::Protocol(format!("cannot resolve '{}'", master.host)),
        LinkError::Io,
    ))
}

/// One connection: handshake, sync, stream. Returns only on failure.
fn session(
    srv: &Arc<Server>,
    generation: u64,
    master: &Master,
    reached_stream: &mut bool,
) -> Result<(), LinkError> {
    update(srv, generation, |st, inner| {
        st.set_link(inner, LinkState::Connecting)
    })?;
    tracing::info!(host = %master.host, port = master.port, "connecting to MASTER");
    let timeout = Duration::from_secs(srv.config.get_i64("repl-timeout").max(1) as u64);
    let stream = connect(master, timeout)?;
    let cancel = Cancel {
        srv: srv.clone(),
        generation,
        client: None,
    };
    let mut conn = Conn::new(stream, cancel)?;
    let history = update(srv, generation, |st, inner| {
        st.set_link(inner, LinkState::Handshake);
        inner.socket = conn.stream().try_clone().ok();
        inner
            .psync_history
            .then(|| (inner.replid.clone(), st.offset.load(Ordering::Relaxed)))
    })?;
    let reply = handshake(
        srv,
        &mut conn,
        history.as_ref().map(|(id, o)| (id.as_str(), *o)),
    )?;
    // A failover we started chose this primary: its full sync (FORCE with a
    // target behind us) is taken even when empty, as Redis does.
    let failing_over = crate::repl::failover::in_progress(srv);
    crate::repl::failover::on_psync_answered(srv);
    match reply {
        Psync::Full { replid, offset } => {
            tracing::info!(master_replid = %replid, offset, "full resync from the primary");
            let known = update(srv, generation, |st, inner| {
                st.set_link(inner, LinkState::Sync);
                inner.sync = Some(SyncProgress {
                    total: -1,
                    read: 0,
                    last_io: Instant::now(),
                });
                failing_over
                    || replid == inner.replid
                    || (replid == inner.replid2 && replid != NO_REPLID)
            })?;
            let started = Instant::now();
            let info = super::sync::full_sync(srv, &mut conn, &replid, known)?;
            {
                let _apply = srv.repl.apply_lock();
                update(srv, generation, |st, inner| {
                    st.offset.store(offset, Ordering::Relaxed);
                    st.read_offset.store(offset, Ordering::Relaxed);
                    st.stream_db.store(0, Ordering::Relaxed);
                    inner.replid = replid.clone();
                    inner.replid2 = NO_REPLID.to_string();
                    inner.second_offset = -1;
                    inner.psync_history = true;
                    inner.sync = None;
                    inner.refused = None;
                })?;
                // A new history: the backlog restarts at the offset, our own
                // replicas resync (repl::primary).
                crate::repl::primary::on_full_sync(srv, offset);
            }
            tracing::info!(
                keys = info.keys,
                ms = started.elapsed().as_millis() as u64,
                "MASTER <-> REPLICA sync: finished with success"
            );
            // The first ACK puts a diskless-synced replica online on the primary.
            stream::send_ack(&mut conn, offset)?;
        }
        Psync::Continue { replid } => {
            let _apply = srv.repl.apply_lock();
            update(srv, generation, |st, inner| {
                if let Some(new) = replid.filter(|n| *n != inner.replid) {
                    // The primary's history forked at our offset: keep ours
                    // as the secondary id, as Redis does.
                    let off = st.offset.load(Ordering::Relaxed);
                    tracing::info!(old = %inner.replid, new = %new, "primary replication id changed");
                    inner.replid2 = std::mem::replace(&mut inner.replid, new);
                    inner.second_offset = off + 1;
                    // Our replicas learn the new id by reconnecting.
                    crate::repl::primary::disconnect_replicas(srv);
                }
                inner.refused = None;
            })?;
            tracing::info!("successful partial resynchronization with the primary");
        }
    }
    let shared = stream::master_shared(srv, &conn);
    srv.clients.add(shared.clone());
    conn.cancel.client = Some(shared.clone());
    let db = srv.repl.stream_db.load(Ordering::Relaxed);
    let registered = update(srv, generation, |st, inner| {
        st.set_link(inner, LinkState::Connected);
        inner.master_client_id = Some(shared.id);
        inner.last_io = Some(Instant::now());
    });
    let result = match registered {
        Ok(()) => {
            *reached_stream = true;
            let mut applier = ExecApplier::new(srv, shared.clone(), db);
            stream::run(srv, &mut conn, &mut applier, generation)
        }
        Err(e) => Err(e),
    };
    srv.clients.remove(shared.id);
    let _ = update(srv, generation, |_, inner| inner.master_client_id = None);
    result
}
