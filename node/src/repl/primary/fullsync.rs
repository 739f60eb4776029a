//! A full sync: a snapshot sent to one replica, paired with the offset the
//! stream continues from.
//!
//! The pairing is the snapshot's start point: while every stripe is held
//! (and, on a replica, its apply lock, so no primary command is half
//! applied), the replica is registered as a backlog reader at the backlog's
//! end, which is `master_repl_offset`; every later change reaches it through
//! the backlog, every earlier one is in the snapshot.
//!
//! Two wire forms, as Redis:
//! - diskless (`capa eof` and `repl-diskless-sync yes`): `+FULLRESYNC <id>
//!   <offset>`, `$EOF:<40 random bytes>`, the snapshot written straight to
//!   the socket, the 40 bytes again. The stream starts only after the
//!   replica's first ACK: a replica reading the payload in chunks must not
//!   find stream bytes after the mark.
//! - disk: the snapshot goes to `dir/temp-repl-<pid>-<id>.rdb`, then
//!   `+FULLRESYNC`, `$<len>` and the file; the stream follows at once.
//!
//! One snapshot runs at a time: the sync claims the SAVE/BGSAVE slot and
//! waits for it while a save runs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::backlog::Backlog;
use super::handshake::Handshake;
use super::link::{output_limit, ReplicaError, TICK};
use super::{Replica, ReplicaState};
use crate::persist::snapshot::{self, Progress, SnapshotError};
use crate::server::Server;

const EOF_MARK_LEN: usize = 40;

/// A socket sink that writes the reply line and payload header, fixed at
/// the snapshot's start, before the first snapshot byte.
struct PrefixedSink {
    sock: BufWriter<TcpStream>,
    prefix: Arc<Mutex<Option<Vec<u8>>>>,
}

impl Write for PrefixedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let p = self.prefix.lock().take();
        if let Some(p) = p {
            self.sock.write_all(&p)?;
        }
        self.sock.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sock.flush()
    }
}

fn eof_mark() -> [u8; EOF_MARK_LEN] {
    let mut rng = crate::util::Rng::from_entropy();
    let mut m = [0u8; EOF_MARK_LEN];
    for b in m.iter_mut() {
        let d = (rng.next_u64() % 16) as u8;
        *b = if d < 10 { b'0' + d } else { b'a' + d - 10 };
    }
    m
}

/// Waits for the snapshot slot (a running SAVE/BGSAVE, another full sync).
fn claim(srv: &Server, r: &Replica) -> Result<(), ReplicaError> {
    let mut logged = false;
    loop {
        if crate::persist::save::try_claim_for_sync(srv) {
            return Ok(());
        }
        if !logged {
            tracing::info!(
                replica = r.id,
                "full sync waits for the running snapshot to end"
            );
            logged = true;
        }
        if r.shared.killed.load(Ordering::Relaxed) || srv.shutting_down.load(Ordering::Relaxed) {
            return Err(ReplicaError::Gone(
                "disconnected while waiting for a snapshot",
            ));
        }
        // Not synchronisation with a test: the running save ends by itself.
        std::thread::sleep(TICK);
    }
}

/// What the start hook recorded.
#[derive(Default)]
struct Start {
    replid: String,
    offset: i64,
}

/// Sends a full sync; returns with the replica online and registered as a
/// backlog reader at the snapshot's offset.
pub fn send(
    srv: &Arc<Server>,
    r: &Replica,
    b: &Arc<Backlog>,
    hs: &Handshake,
    psync: bool,
    stream: &mut TcpStream,
) -> Result<(), ReplicaError> {
    let diskless = hs.capa_eof && srv.config.get_bool("repl-diskless-sync");
    let started = Instant::now();
    loop {
        claim(srv, r)?;
        let result = if diskless {
            send_diskless(srv, r, b, psync, stream)
        } else {
            send_disk(srv, r, b, psync, stream)
        };
        crate::persist::save::release_for_sync(srv);
        match result {
            // Another snapshot user (an AOF rewrite) got the engine first.
            Err(SyncAttempt::Busy) => std::thread::sleep(TICK),
            Err(SyncAttempt::Failed(e)) => return Err(e),
            Ok(bytes) => {
                tracing::info!(
                    replica = r.id,
                    bytes,
                    diskless,
                    ms = started.elapsed().as_millis() as u64,
                    "full sync payload sent"
                );
                break;
            }
        }
    }
    if diskless {
        // Online at the first ACK (the replica has loaded the payload).
        r.set_state(ReplicaState::SendBulk);
        let deadline = Instant::now()
            + std::time::Duration::from_secs(srv.config.get_i64("repl-timeout").max(1) as u64);
        while r.acks.load(Ordering::Acquire) == 0 {
            if Instant::now() > deadline {
                return Err(ReplicaError::Gone("no ACK after the full sync"));
            }
            if r.shared.killed.load(Ordering::Relaxed) {
                return Err(ReplicaError::Gone("killed"));
            }
            // Polling the ACK reader's counter (its thread owns the socket's
            // read side); the tick bounds the delay to online.
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    r.ack_ms.store(crate::util::now_ms(), Ordering::Relaxed);
    r.set_state(ReplicaState::Online);
    Ok(())
}

enum SyncAttempt {
    Busy,
    Failed(ReplicaError),
}

impl From<std::io::Error> for SyncAttempt {
    fn from(e: std::io::Error) -> Self {
        SyncAttempt::Failed(e.into())
    }
}

/// Runs the snapshot into `w`, registering the reader at its start point.
fn snapshot_into<W: Write + Send + 'static>(
    srv: &Server,
    r: &Replica,
    b: &Backlog,
    w: W,
    on_start: impl FnOnce(&Start),
) -> Result<(W, u64), SyncAttempt> {
    let mut opts = crate::persist::save::options(srv);
    opts.aof_base = false;
    let start = std::cell::RefCell::new(Start::default());
    let sock = r.socket.try_clone().ok();
    let limit = output_limit(srv);
    let apply = srv.repl.apply_lock();
    let result = snapshot::run_with_aux(
        &srv.keyspace,
        w,
        &opts,
        Arc::new(Progress::default()),
        || {
            let mut s = start.borrow_mut();
            s.offset = b.add_reader_at_end(r.id, limit, sock);
            s.replid = srv.repl.replid();
            on_start(&s);
            let aux = super::rdb_aux(srv);
            drop(apply);
            aux
        },
    );
    match result {
        Ok((w, report)) => Ok((w, report.bytes)),
        Err(SnapshotError::Busy) => Err(SyncAttempt::Busy),
        Err(SnapshotError::Io(e)) => Err(SyncAttempt::Failed(ReplicaError::Io(e))),
    }
}

fn reply_line(psync: bool, s: &Start) -> String {
    if psync {
        format!("+FULLRESYNC {} {}\r\n", s.replid, s.offset)
    } else {
        String::new()
    }
}

fn send_diskless(
    srv: &Server,
    r: &Replica,
    b: &Backlog,
    psync: bool,
    stream: &mut TcpStream,
) -> Result<u64, SyncAttempt> {
    let mark = eof_mark();
    let prefix = Arc::new(Mutex::new(None));
    let sink = PrefixedSink {
        sock: BufWriter::with_capacity(1 << 20, stream.try_clone()?),
        prefix: prefix.clone(),
    };
    r.set_state(ReplicaState::SendBulk);
    let (mut sink, bytes) = snapshot_into(srv, r, b, sink, |s| {
        let mut p = reply_line(psync, s).into_bytes();
        p.extend_from_slice(b"$EOF:");
        p.extend_from_slice(&mark);
        p.extend_from_slice(b"\r\n");
        *prefix.lock() = Some(p);
    })?;
    sink.write_all(&mark)?;
    sink.flush()?;
    Ok(bytes)
}

fn send_disk(
    srv: &Server,
    r: &Replica,
    b: &Backlog,
    psync: bool,
    stream: &mut TcpStream,
) -> Result<u64, SyncAttempt> {
    let dir = crate::persist::save::dir(srv);
    let path = dir.join(format!("temp-repl-{}-{}.rdb", std::process::id(), r.id));
    let file = File::create(&path)?;
    let start = std::cell::RefCell::new(String::new());
    let result = snapshot_into(srv, r, b, BufWriter::with_capacity(1 << 20, file), |s| {
        *start.borrow_mut() = reply_line(psync, s);
    });
    let sent = (|| -> Result<u64, SyncAttempt> {
        let (w, _) = result?;
        let file = w
            .into_inner()
            .map_err(|e| SyncAttempt::from(e.into_error()))?;
        drop(file);
        let len = std::fs::metadata(&path)?.len();
        r.set_state(ReplicaState::SendBulk);
        let mut head = start.borrow().clone().into_bytes();
        head.extend_from_slice(format!("${len}\r\n").as_bytes());
        stream.write_all(&head)?;
        let mut f = File::open(&path)?;
        std::io::copy(&mut f, stream)?;
        Ok(len)
    })();
    let _ = std::fs::remove_file(&path);
    sent
}
