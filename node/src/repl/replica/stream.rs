//! The command stream: after a sync, the primary sends every write as a RESP
//! command. They are parsed with the node's own request parser and applied
//! through a [`StreamApplier`]; the offset advances by the bytes of each
//! command processed (outside MULTI: Redis's rule, so a partial resync never
//! resumes inside a transaction).
//!
//! The primary's `PING` only counts in the offset; `REPLCONF GETACK` is
//! answered with `REPLCONF ACK <offset>` (the offset before the GETACK, as
//! Redis does), and an ACK goes out every second so the primary's WAIT and
//! lag figures move.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::{Conn, LinkError};
use crate::cmd::Args;
use crate::protocol::{Limits, Out, Parser};
use crate::server::client::{Client, ClientShared};
use crate::server::exec::{self, Hot};
use crate::server::Server;
use crate::stats::WorkerStats;

/// How often the replica reports its offset unasked.
const ACK_PERIOD: Duration = Duration::from_secs(1);

/// Applies the primary's commands. The propagation log's replay path plugs in
/// here; until then [`ExecApplier`] runs them through the request path.
pub trait StreamApplier {
    /// Runs one command; its reply goes nowhere.
    fn apply(&mut self, srv: &Server, args: &Args);
    /// Inside MULTI (the offset does not advance until EXEC).
    fn in_transaction(&self) -> bool;
    /// The selected database.
    fn db(&self) -> usize;
}

/// Runs commands with `exec::execute` as a pseudo-client flagged as the
/// master link: not subject to READONLY, MASTERDOWN or OOM, SELECT honoured,
/// blocking commands answer at once, replies dropped.
pub struct ExecApplier {
    client: Client,
    out: Out,
    hot: Hot,
    stats: Arc<WorkerStats>,
}

impl ExecApplier {
    pub fn new(srv: &Server, shared: Arc<ClientShared>, db: usize) -> ExecApplier {
        let mut client = Client::new(shared, true);
        client.master_link = true;
        if db < srv.keyspace.db_count() {
            client.select(db);
        }
        // The slot past the event loops' is the link thread's (server::Server::new).
        let stats = srv
            .stats
            .workers
            .last()
            .cloned()
            .unwrap_or_else(|| Arc::new(WorkerStats::new(srv.commands.len())));
        ExecApplier {
            client,
            out: Out::new(),
            hot: Hot::load(&srv.config),
            stats,
        }
    }
}

impl StreamApplier for ExecApplier {
    fn apply(&mut self, srv: &Server, args: &Args) {
        self.hot.refresh(&srv.config);
        let _no_block = crate::server::blocked::DenyBlocking::enter();
        let mut t0 = Instant::now();
        let env = exec::Env {
            srv,
            stats: &self.stats,
            hot: &self.hot,
        };
        exec::execute(
            env,
            &mut self.client,
            &mut self.out,
            args,
            crate::util::now_ms(),
            &mut t0,
        );
        crate::server::blocked::handle_ready_keys(srv);
        if self.out.buf.starts_with(b"-") {
            tracing::debug!(
                reply = %String::from_utf8_lossy(&self.out.buf[..self.out.buf.len().min(200)]),
                "a command from the primary failed"
            );
        }
        self.out.buf.clear();
        self.client.close_after_reply = false;
    }

    fn in_transaction(&self) -> bool {
        self.client.tx.queuing()
    }

    fn db(&self) -> usize {
        self.client.db
    }
}

/// The shared half of the master link's pseudo-client; registered in the
/// client list while the link streams (CLIENT LIST / CLIENT KILL TYPE master
/// see it).
pub fn master_shared(srv: &Server, conn: &Conn) -> Arc<ClientShared> {
    use std::os::fd::AsRawFd;
    let s = conn.stream();
    detached_shared(
        srv,
        s.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
        s.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        s.as_raw_fd(),
    )
}

fn detached_shared(srv: &Server, addr: String, laddr: String, fd: i32) -> Arc<ClientShared> {
    let now = crate::util::now_ms();
    let mut shared = ClientShared::internal(srv.clients.next_id(), "");
    *shared.name.get_mut() = None;
    shared.addr = addr;
    shared.laddr = laddr;
    shared.fd = fd;
    // No event loop owns it: CLIENT KILL sets `killed`, which the link thread
    // checks at every tick.
    shared.worker = usize::MAX;
    shared.last_interaction_ms = now.into();
    Arc::new(shared)
}

/// Runs one command as the master link outside any stream (the discard
/// loader's FLUSHALL).
pub fn run_internal(srv: &Server, argv: &[&[u8]]) {
    let mut buf = Vec::new();
    let mut ranges = Vec::new();
    for a in argv {
        ranges.push(buf.len()..buf.len() + a.len());
        buf.extend_from_slice(a);
    }
    let shared = detached_shared(srv, String::new(), String::new(), -1);
    let mut applier = ExecApplier::new(srv, shared, 0);
    applier.apply(srv, &Args::new(&buf, &ranges));
}

/// Sends `REPLCONF ACK <offset>`.
pub fn send_ack(conn: &mut Conn, offset: i64) -> Result<(), LinkError> {
    let off = offset.to_string();
    conn.send_command(&[b"REPLCONF", b"ACK", off.as_bytes()])
}

/// Streams commands until the link fails or is cancelled. `input` holds bytes
/// already received after the payload or `+CONTINUE`.
pub fn run(
    srv: &Server,
    conn: &mut Conn,
    applier: &mut dyn StreamApplier,
    generation: u64,
) -> Result<(), LinkError> {
    let repl = &srv.repl;
    let mut parser = Parser::default();
    let limits = Limits {
        max_bulk_len: srv.config.get_i64("proto-max-bulk-len"),
        authenticated: true,
    };
    let mut buf = conn.take_buffered();
    // Absolute offset of buf[0].
    let mut base = repl.offset.load(Ordering::Relaxed);
    repl.read_offset
        .store(base + buf.len() as i64, Ordering::Relaxed);
    let mut last_ack = Instant::now();
    // Applied bytes drained from `buf` inside a MULTI not yet closed: they
    // reach the backlog with the EXEC that applies them.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        // Apply every complete command received, under the apply lock so a
        // role change never sees a half-applied batch.
        let mut start = 0;
        // GETACK is answered after the lock is released: a blocking write
        // must never hold up a role change.
        let mut getack = None;
        // End (in `buf`) of the bytes applied outside a transaction.
        let mut applied = 0;
        {
            let _apply = repl.apply_lock();
            if repl.generation() != generation {
                return Err(LinkError::Cancelled);
            }
            loop {
                let req = match parser.parse(&buf, start, &limits) {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => return Err(LinkError::Protocol(e.to_string())),
                };
                let before = repl.offset.load(Ordering::Relaxed);
                start = req.end;
                if !parser.args.is_empty() {
                    let src: &[u8] = if req.inline { &parser.inline_buf } else { &buf };
                    let args = Args::new(src, &parser.args);
                    if args.is(0, "ping") {
                        // Counted in the offset only.
                    } else if args.is(0, "replconf") {
                        if args.len() >= 2 && args.is(1, "getack") && getack.is_none() {
                            getack = Some(before);
                        }
                    } else {
                        applier.apply(srv, &args);
                    }
                }
                if !applier.in_transaction() {
                    repl.offset.store(base + start as i64, Ordering::Relaxed);
                    repl.stream_db.store(applier.db(), Ordering::Relaxed);
                    applied = start;
                }
            }
            // The primary's bytes, as applied, for our own replicas
            // (repl::primary: the backlog's end stays the applied offset).
            if applied > 0 {
                if carry.is_empty() {
                    crate::repl::primary::proxy(srv, &buf[..applied]);
                } else {
                    carry.extend_from_slice(&buf[..applied]);
                    crate::repl::primary::proxy(srv, &carry);
                    carry.clear();
                }
            }
        }
        if start > applied {
            carry.extend_from_slice(&buf[applied..start]);
        }
        if start > 0 {
            buf.drain(..start);
            parser.rebase(start);
            base += start as i64;
        }
        if let Some(offset) = getack {
            send_ack(conn, offset)?;
            last_ack = Instant::now();
        }
        if last_ack.elapsed() >= ACK_PERIOD {
            send_ack(conn, repl.offset.load(Ordering::Relaxed))?;
            last_ack = Instant::now();
        }
        if conn.poll_read()?.is_some() {
            let more = conn.take_buffered();
            repl.read_offset
                .fetch_add(more.len() as i64, Ordering::Relaxed);
            buf.extend_from_slice(&more);
            repl.inner().last_io = Some(Instant::now());
        }
    }
}
