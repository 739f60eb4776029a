//! One replica after its PSYNC/SYNC: the sender thread and the ACK reader.
//!
//! The sender answers the sync request (a partial resync from the backlog,
//! or a full sync, `fullsync`), then copies the stream out of the backlog
//! into the socket with blocking writes. Why threads rather than the event
//! loops: a full sync writes a snapshot for seconds or minutes and a replica
//! may be slow; with a thread per replica neither ever delays a client, and
//! a blocking write is the back-pressure (the backlog's output limit drops a
//! replica that falls too far behind, shutting its socket, which also ends a
//! write stuck on it).
//!
//! The ACK reader reads what the replica sends (`REPLCONF ACK <offset>`),
//! records the offset and time (ROLE, INFO lag, min-replicas) and wakes WAIT.
//! Either thread ending shuts the socket down, which ends the other.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicI64, AtomicU16, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::backlog::Backlog;
use super::handshake::{Handshake, SyncRequest};
use super::{Replica, ReplicaState};
use crate::cmd::Args;
use crate::protocol::{Limits, Parser};
use crate::server::client::ClientShared;
use crate::server::Server;

/// How often a waiting thread checks for CLIENT KILL, timeouts and shutdown.
pub const TICK: Duration = Duration::from_millis(100);
/// Bytes copied out of the backlog per write.
const CHUNK: usize = 1 << 20;

pub const NOMASTERLINK: &str = "-NOMASTERLINK Can't SYNC while not connected with my master\r\n";

/// Why a replica's session ended.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("disconnected: {0}")]
    Gone(&'static str),
    #[error("full sync failed: {0}")]
    Sync(String),
}

/// Takes over a connection that asked for a sync. `pending` are replies the
/// event loop still owed it; `input` is what it sent after PSYNC/SYNC.
pub fn spawn(
    srv: Arc<Server>,
    stream: TcpStream,
    shared: Arc<ClientShared>,
    hs: Handshake,
    pending: Vec<u8>,
    input: Vec<u8>,
) {
    let id = shared.id;
    let r = std::thread::Builder::new()
        .name(format!("repl-replica-{id}"))
        .spawn(move || serve(srv, stream, shared, hs, pending, input));
    if let Err(e) = r {
        tracing::error!(error = %e, "could not start a replica sender thread");
    }
}

fn repl_timeout(srv: &Server) -> Duration {
    Duration::from_secs(srv.config.get_i64("repl-timeout").max(1) as u64)
}

pub(super) fn output_limit(srv: &Server) -> crate::config::OutputLimit {
    crate::config::output_limit(&srv.config.get("client-output-buffer-limit"), "slave")
}

fn serve(
    srv: Arc<Server>,
    mut stream: TcpStream,
    shared: Arc<ClientShared>,
    hs: Handshake,
    pending: Vec<u8>,
    input: Vec<u8>,
) {
    let id = shared.id;
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(repl_timeout(&srv)));
    let Ok(socket) = stream.try_clone() else {
        srv.clients.remove(id);
        return;
    };
    let ip = hs.ip.clone().unwrap_or_else(|| {
        stream
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    });
    shared.replica.store(true, Ordering::Relaxed);
    let r = Arc::new(Replica {
        id,
        shared,
        ip,
        port: AtomicU16::new(hs.port),
        state: AtomicU8::new(ReplicaState::WaitBgsave as u8),
        ack_offset: AtomicI64::new(0),
        ack_ms: AtomicI64::new(crate::util::now_ms()),
        acks: AtomicU64::new(0),
        socket,
    });
    let result = session(&srv, &r, &mut stream, &hs, pending, input);
    match &result {
        Ok(()) => {}
        Err(e) => tracing::info!(
            replica = %format!("{}:{}", r.ip, r.port.load(Ordering::Relaxed)),
            error = %e,
            "connection with replica lost"
        ),
    }
    srv.primary.unregister(id);
    if let Some(b) = srv.primary.backlog() {
        b.remove_reader(id);
    }
    r.disconnect();
    srv.clients.remove(id);
}

fn session(
    srv: &Arc<Server>,
    r: &Arc<Replica>,
    stream: &mut TcpStream,
    hs: &Handshake,
    pending: Vec<u8>,
    input: Vec<u8>,
) -> Result<(), ReplicaError> {
    stream.write_all(&pending)?;
    let epoch = srv.primary.epoch();
    if srv.repl.is_replica() && !srv.repl.link_up() {
        stream.write_all(NOMASTERLINK.as_bytes())?;
        return Err(ReplicaError::Gone("this replica's own link is down"));
    }
    let request = hs.request.clone().unwrap_or(SyncRequest::Sync);
    let addr = format!("{}:{}", r.ip, r.port.load(Ordering::Relaxed));
    if let Some(b) = try_partial(srv, r, &request, &addr) {
        if !srv.primary.register(r.clone(), epoch) {
            return Err(ReplicaError::Gone("role changed during the handshake"));
        }
        let replid = srv.repl.replid();
        let line = if hs.capa_psync2 {
            format!("+CONTINUE {replid}\r\n")
        } else {
            "+CONTINUE\r\n".to_string()
        };
        stream.write_all(line.as_bytes())?;
        r.set_state(ReplicaState::Online);
        r.ack_ms.store(crate::util::now_ms(), Ordering::Relaxed);
        spawn_reader(srv, r, input)?;
        return stream_loop(srv, r, &b, stream);
    }
    if srv.repl.is_replica() && srv.primary.backlog().is_none() {
        stream.write_all(NOMASTERLINK.as_bytes())?;
        return Err(ReplicaError::Gone("no replication history to serve yet"));
    }
    let Some(b) = super::ensure_backlog(srv) else {
        stream.write_all(NOMASTERLINK.as_bytes())?;
        return Err(ReplicaError::Gone("no replication history to serve yet"));
    };
    if !srv.primary.register(r.clone(), epoch) {
        return Err(ReplicaError::Gone("role changed during the handshake"));
    }
    spawn_reader(srv, r, input)?;
    tracing::info!(replica = %addr, "starting a full sync with the replica");
    srv.primary.sync_full.fetch_add(1, Ordering::Relaxed);
    let psync = matches!(request, SyncRequest::Psync { .. });
    super::fullsync::send(srv, r, &b, hs, psync, stream)?;
    tracing::info!(replica = %addr, "synchronization with replica succeeded");
    stream_loop(srv, r, &b, stream)
}

/// PSYNC's partial path: our replid (or replid2 up to where it is valid) and
/// an offset the backlog holds. Registers the backlog reader on success.
fn try_partial(
    srv: &Server,
    r: &Replica,
    request: &SyncRequest,
    addr: &str,
) -> Option<Arc<Backlog>> {
    let SyncRequest::Psync { replid, offset } = request else {
        return None;
    };
    if replid == "?" {
        return None;
    }
    let (ours, id2, off2) = {
        let i = srv.repl.inner();
        (i.replid.clone(), i.replid2.clone(), i.second_offset)
    };
    let fail = |why: &str| {
        srv.primary.sync_partial_err.fetch_add(1, Ordering::Relaxed);
        tracing::info!(replica = %addr, replid = %replid, offset, why, "partial resynchronization not accepted");
        None
    };
    if *replid != ours && (*replid != id2 || *offset > off2) {
        return fail("replication id mismatch");
    }
    let Some(b) = srv.primary.backlog() else {
        return fail("no backlog");
    };
    if !b.add_reader(
        r.id,
        offset - 1,
        output_limit(srv),
        r.socket.try_clone().ok(),
    ) {
        return fail("offset outside the backlog");
    }
    srv.primary.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
    tracing::info!(replica = %addr, offset, "partial resynchronization request accepted");
    Some(b)
}

/// Copies the stream from the backlog to the replica until it goes away.
fn stream_loop(
    srv: &Server,
    r: &Replica,
    b: &Backlog,
    stream: &mut TcpStream,
) -> Result<(), ReplicaError> {
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        if r.shared.killed.load(Ordering::Relaxed) {
            return Err(ReplicaError::Gone("killed"));
        }
        if srv.shutting_down.load(Ordering::Relaxed) {
            return Err(ReplicaError::Gone("shutting down"));
        }
        buf.clear();
        match b.read(r.id, &mut buf, CHUNK, TICK) {
            Err(_) => return Err(ReplicaError::Gone("dropped from the backlog")),
            Ok(0) => {}
            Ok(_) => stream.write_all(&buf)?,
        }
        if buf.capacity() > 4 * CHUNK {
            buf = Vec::with_capacity(64 * 1024);
        }
        let silent = crate::util::now_ms() - r.ack_ms.load(Ordering::Relaxed);
        if silent > repl_timeout(srv).as_millis() as i64 {
            tracing::warn!(
                replica = r.id,
                "disconnecting timed out replica (no ACK for repl-timeout)"
            );
            return Err(ReplicaError::Gone("timeout"));
        }
    }
}

fn spawn_reader(srv: &Arc<Server>, r: &Arc<Replica>, input: Vec<u8>) -> Result<(), ReplicaError> {
    let sock = r.socket.try_clone()?;
    let (srv, r) = (srv.clone(), r.clone());
    std::thread::Builder::new()
        .name(format!("repl-acks-{}", r.id))
        .spawn(move || {
            read_acks(&srv, &r, sock, input);
            r.disconnect();
        })?;
    Ok(())
}

/// Reads the replica's `REPLCONF ACK`s until the connection ends.
fn read_acks(srv: &Server, r: &Replica, mut sock: TcpStream, mut buf: Vec<u8>) {
    let _ = sock.set_read_timeout(Some(TICK));
    let mut parser = Parser::default();
    let limits = Limits {
        max_bulk_len: 64 * 1024,
        authenticated: true,
    };
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let mut start = 0;
        loop {
            let req = match parser.parse(&buf, start, &limits) {
                Ok(Some(req)) => req,
                Ok(None) => break,
                Err(_) => return,
            };
            start = req.end;
            let src: &[u8] = if req.inline { &parser.inline_buf } else { &buf };
            let args = Args::new(src, &parser.args);
            if args.len() >= 3 && args.is(0, "replconf") && args.is(1, "ack") {
                if let Some(off) = crate::util::parse_i64_strict(args.get(2)) {
                    r.ack_offset.fetch_max(off, Ordering::Relaxed);
                    r.ack_ms.store(crate::util::now_ms(), Ordering::Relaxed);
                    r.acks.fetch_add(1, Ordering::Release);
                    super::wait::on_ack(srv);
                }
            }
        }
        if start > 0 {
            buf.drain(..start);
            parser.rebase(start);
        }
        if buf.len() > 1 << 20 {
            return;
        }
        if r.shared.killed.load(Ordering::Relaxed) {
            return;
        }
        match sock.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
