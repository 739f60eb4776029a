//! One event loop: accepts on its own `SO_REUSEPORT` listener, reads, executes and
//! writes for the connections it owns.
//!
//! Buffers: the loop reads into one scratch buffer and writes replies into one
//! scratch output buffer; a connection keeps bytes of its own only when a request
//! arrived in part (the unparsed tail) or the socket would not take all its
//! replies (the unsent tail). Ten thousand idle clients therefore cost no buffers.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::blocked::Timeouts;
use super::client::{Client, ClientShared};
use super::exec::{self, Hot};
use super::{Msg, Server, WorkerHandle};
use crate::protocol::{Out, Parser};
use crate::stats::WorkerStats;

const WAKER: Token = Token(usize::MAX - 1);
/// Listener tokens are `LISTENER_BASE + i`.
const LISTENER_BASE: usize = usize::MAX - 64;
const READ_CHUNK: usize = 64 * 1024;
/// Connection buffers above this are released once empty.
const KEEP_BUFFER: usize = 64 * 1024;
/// How long shutdown waits for slow clients to take their last replies.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(3);
/// At shutdown, a connection with no new input for this long is considered done.
const SHUTDOWN_QUIET: Duration = Duration::from_millis(50);

/// One client connection.
struct Conn {
    stream: TcpStream,
    /// Unparsed input (only when a request arrived in part).
    rbuf: Vec<u8>,
    parser: Parser,
    /// Replies not yet accepted by the socket.
    pending: Vec<u8>,
    client: Client,
    writable: bool,
    closing: bool,
    /// Replies wait in `pending` for this loop's AOF write (and fsync with
    /// `appendfsync always`) at the end of the current event batch.
    awaiting_log: bool,
}

/// Creates the listeners: for each address in `bind`, one socket per event loop,
/// all with `SO_REUSEPORT` on the same port. Returns `[loop][address]`.
pub fn bind_listeners(srv: &Server) -> anyhow::Result<Vec<Vec<TcpListener>>> {
    let port = srv.config.get_i64("port") as u16;
    let backlog = srv.config.get_i64("tcp-backlog").clamp(1, i32::MAX as i64) as i32;
    let bind = srv.config.get("bind");
    let mut per_loop: Vec<Vec<TcpListener>> = (0..srv.io_threads).map(|_| Vec::new()).collect();
    let mut chosen_port = port;
    for spec in bind.split_whitespace() {
        // A leading '-' means "skip if this address is unavailable" (Redis 7).
        let (optional, addr) = match spec.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, spec),
        };
        let ip = match addr {
            "*" => "0.0.0.0",
            "::*" => "::",
            a => a,
        };
        let ip: std::net::IpAddr = match ip.parse() {
            Ok(ip) => ip,
            Err(_) => anyhow::bail!("bind: '{addr}' is not an IP address"),
        };
        let mut bound = Vec::new();
        let mut failed = None;
        for _ in 0..srv.io_threads {
            match listen(SocketAddr::new(ip, chosen_port), backlog, ip.is_ipv6()) {
                Ok(l) => {
                    if chosen_port == 0 {
                        chosen_port = l.local_addr()?.port();
                    }
                    bound.push(l);
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            None => {
                for (i, l) in bound.into_iter().enumerate() {
                    per_loop[i].push(l);
                }
            }
            Some(e) if optional => {
                tracing::warn!(addr, error = %e, "skipping optional bind address");
            }
            Some(e) => anyhow::bail!("could not listen on {addr}:{chosen_port}: {e}"),
        }
    }
    if per_loop[0].is_empty() {
        anyhow::bail!("no address to listen on (bind '{bind}')");
    }
    Ok(per_loop)
}

fn listen(addr: SocketAddr, backlog: i32, v6: bool) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    if v6 {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(backlog)?;
    Ok(TcpListener::from_std(s.into()))
}

/// An event loop, ready to run on its own thread.
pub struct Worker {
    idx: usize,
    srv: Arc<Server>,
    poll: Poll,
    listeners: Vec<TcpListener>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    stats: Arc<WorkerStats>,
    hot: Hot,
    scratch_in: Vec<u8>,
    scratch_out: Out,
    accepting: bool,
    /// Deadlines of this loop's blocked clients.
    timeouts: Timeouts,
    /// Clients held by CLIENT PAUSE (token, id), and the strongest mode that
    /// held one of them: they are retried when the pause weakens or ends.
    paused: Vec<(usize, u64)>,
    held_under: super::pause::Mode,
    /// Connections whose replies wait for the AOF (`flush_awaiting`).
    awaiting: Vec<usize>,
}

impl Worker {
    pub fn new(
        idx: usize,
        srv: Arc<Server>,
        mut listeners: Vec<TcpListener>,
    ) -> io::Result<(Worker, WorkerHandle)> {
        let poll = Poll::new()?;
        for (i, l) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(l, Token(LISTENER_BASE + i), Interest::READABLE)?;
        }
        let waker = Waker::new(poll.registry(), WAKER)?;
        let stats = srv.stats.workers[idx].clone();
        let hot = Hot::load(&srv.config);
        Ok((
            Worker {
                idx,
                srv,
                poll,
                listeners,
                conns: Vec::new(),
                free: Vec::new(),
                stats,
                hot,
                scratch_in: vec![0u8; READ_CHUNK],
                scratch_out: Out::new(),
                accepting: true,
                timeouts: Timeouts::default(),
                paused: Vec::new(),
                held_under: super::pause::Mode::Off,
                awaiting: Vec::new(),
            },
            WorkerHandle {
                inbox: parking_lot::Mutex::new(Vec::new()),
                waker,
            },
        ))
    }

    pub fn index(&self) -> usize {
        self.idx
    }

    /// Runs until a shutdown message has been handled.
    pub fn run(mut self) {
        crate::stats::set_current(self.stats.clone());
        super::channels::batch_on_this_thread();
        let mut events = Events::with_capacity(1024);
        let mut last_tick = std::time::Instant::now();
        loop {
            // Wake for the nearest blocked client's deadline, if sooner.
            let mut wait = self.timeouts.poll_timeout(Duration::from_millis(100));
            // And for the end of a pause that holds some of its clients.
            if !self.paused.is_empty() {
                let now = crate::util::now_ms();
                if let Some(end) = self.srv.pause.deadline(now) {
                    wait = wait.min(Duration::from_millis((end - now).max(0) as u64));
                }
            }
            // Waiting is not being stuck: the watchdog times batches only.
            self.stats.progress.end_batch();
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(error = %e, "epoll failed; stopping this event loop");
                return;
            }
            self.stats.progress.begin_batch(crate::util::mono_ms());
            self.hot.refresh(&self.srv.config);
            let now_ms = crate::util::now_ms();
            for ev in events.iter() {
                match ev.token() {
                    WAKER => {}
                    Token(t) if (LISTENER_BASE..WAKER.0).contains(&t) => {
                        self.accept(t - LISTENER_BASE, now_ms)
                    }
                    Token(t) => {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.on_readable(t, now_ms);
                        }
                        if ev.is_writable() {
                            self.flush(t);
                        }
                    }
                }
            }
            self.flush_awaiting();
            // Messages published while serving these events: one hand-over per
            // destination loop (see `pubsub`).
            super::channels::flush(&self.srv);
            if self.handle_inbox() {
                self.finish_shutdown();
                return;
            }
            self.expire_blocked();
            if !self.paused.is_empty() {
                self.retry_paused();
            }
            if last_tick.elapsed() >= Duration::from_secs(1) {
                last_tick = std::time::Instant::now();
                self.close_idle(now_ms);
            }
        }
    }

    fn accept(&mut self, which: usize, now_ms: i64) {
        loop {
            let (stream, peer) = match self.listeners[which].accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // EMFILE and friends: log and try again at the next event.
                    tracing::warn!(error = %e, "accept failed");
                    return;
                }
            };
            WorkerStats::add(&self.stats.connections_received, 1);
            if self.srv.clients.len() >= self.hot.maxclients || !self.accepting {
                WorkerStats::add(&self.stats.rejected_connections, 1);
                let mut s = stream;
                let _ = s.write(b"-ERR max number of clients reached\r\n");
                continue;
            }
            let _ = stream.set_nodelay(true);
            let token = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            let mut stream = stream;
            if let Err(e) =
                self.poll
                    .registry()
                    .register(&mut stream, Token(token), Interest::READABLE)
            {
                tracing::warn!(error = %e, "could not register a connection");
                self.free.push(token);
                continue;
            }
            let id = self.srv.clients.next_id();
            let laddr = stream
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            let shared = Arc::new(ClientShared {
                id,
                addr: peer.to_string(),
                laddr,
                fd: {
                    use std::os::fd::AsRawFd;
                    stream.as_raw_fd()
                },
                worker: self.idx,
                token,
                created_ms: now_ms,
                name: Default::default(),
                lib_name: Default::default(),
                lib_ver: Default::default(),
                db: Default::default(),
                resp: std::sync::atomic::AtomicU8::new(2),
                last_interaction_ms: now_ms.into(),
                last_cmd: usize::MAX.into(),
                qbuf: Default::default(),
                omem: Default::default(),
                monitor: Default::default(),
                no_evict: Default::default(),
                killed: Default::default(),
                commands: Default::default(),
                blocked: Default::default(),
                replica: Default::default(),
                subs: Default::default(),
                multi: (-1).into(),
                dirty_cas: Default::default(),
            });
            self.srv.clients.add(shared.clone());
            let authenticated = self.hot.requirepass.is_none();
            self.conns[token] = Some(Conn {
                stream,
                rbuf: Vec::new(),
                parser: Parser::default(),
                pending: Vec::new(),
                client: Client::new(shared, authenticated),
                writable: false,
                closing: false,
                awaiting_log: false,
            });
        }
    }

    fn on_readable(&mut self, token: usize, now_ms: i64) {
        let Some(conn) = self.conns.get_mut(token).and_then(|c| c.as_mut()) else {
            return;
        };
        let mut eof = false;
        loop {
            // `asked` is how many bytes the read could have returned: getting all
            // of them means the socket may hold more (edge-triggered: read again).
            let (n, from_scratch, asked) = if conn.rbuf.is_empty() && !conn.parser.in_progress() {
                match conn.stream.read(&mut self.scratch_in) {
                    Ok(n) => (n, true, self.scratch_in.len()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        eof = true;
                        break;
                    }
                }
            } else {
                let hint = conn.parser.pending_bulk_hint(&conn.rbuf).unwrap_or(0);
                let want = hint.clamp(READ_CHUNK, 64 * 1024 * 1024);
                let old = conn.rbuf.len();
                conn.rbuf.resize(old + want, 0);
                match conn.stream.read(&mut conn.rbuf[old..]) {
                    Ok(n) => {
                        conn.rbuf.truncate(old + n);
                        (n, false, want)
                    }
                    Err(e) => {
                        conn.rbuf.truncate(old);
                        match e.kind() {
                            io::ErrorKind::WouldBlock => break,
                            io::ErrorKind::Interrupted => continue,
                            _ => {
                                eof = true;
                                break;
                            }
                        }
                    }
                }
            };
            if n == 0 {
                eof = true;
                break;
            }
            WorkerStats::add(&self.stats.net_input_bytes, n as u64);
            let input: &[u8] = if from_scratch {
                &self.scratch_in[..n]
            } else {
                &conn.rbuf
            };
            // A blocked or paused client's input waits in its buffer.
            let consumed = if conn.client.blocked.is_some() || conn.client.paused {
                0
            } else {
                exec::process(
                    &self.srv,
                    &self.stats,
                    &mut self.hot,
                    &mut conn.client,
                    exec::Input {
                        parser: &mut conn.parser,
                        bytes: input,
                    },
                    &mut self.scratch_out,
                    now_ms,
                )
            };
            if let Some(w) = &conn.client.blocked {
                self.timeouts.insert(w);
            }
            if conn.client.paused {
                note_paused(
                    &mut self.paused,
                    &mut self.held_under,
                    &self.srv,
                    token,
                    conn.client.id,
                );
            }
            if from_scratch {
                if consumed < n {
                    conn.rbuf.extend_from_slice(&self.scratch_in[consumed..n]);
                    conn.parser.rebase(consumed);
                }
            } else {
                conn.rbuf.drain(..consumed);
                conn.parser.rebase(consumed);
                if conn.rbuf.is_empty() && conn.rbuf.capacity() > KEEP_BUFFER {
                    conn.rbuf = Vec::new();
                }
            }
            conn.client
                .shared
                .qbuf
                .store(conn.rbuf.len(), Ordering::Relaxed);
            if conn.rbuf.len() > self.hot.query_buffer_limit {
                tracing::warn!(
                    client = conn.client.id,
                    bytes = conn.rbuf.len(),
                    "closing client that reached max query buffer length"
                );
                conn.closing = true;
                self.scratch_out.buf.clear();
                break;
            }
            // Replies to commands that were logged wait until the AOF has
            // their bytes (fsynced with `appendfsync always`): one write and
            // one fsync for every connection served in this event batch
            // (`flush_awaiting`), as Redis does once per event-loop turn.
            if !self.scratch_out.buf.is_empty()
                && (conn.awaiting_log
                    || self.srv.aof.is_on() && crate::db::log::peek_last_end() != 0)
            {
                if !conn.awaiting_log {
                    conn.awaiting_log = true;
                    self.awaiting.push(token);
                }
                conn.pending.extend_from_slice(&self.scratch_out.buf);
                self.scratch_out.buf.clear();
            }
            // Hand the replies of this read to the socket.
            if !self.scratch_out.buf.is_empty() {
                if conn.pending.is_empty() {
                    match write_some(&mut conn.stream, &self.scratch_out.buf) {
                        Ok(w) => {
                            WorkerStats::add(&self.stats.net_output_bytes, w as u64);
                            if w < self.scratch_out.buf.len() {
                                conn.pending.extend_from_slice(&self.scratch_out.buf[w..]);
                            }
                        }
                        Err(_) => conn.closing = true,
                    }
                } else {
                    conn.pending.extend_from_slice(&self.scratch_out.buf);
                }
                self.scratch_out.buf.clear();
                if self.scratch_out.buf.capacity() > 4 * KEEP_BUFFER {
                    self.scratch_out = Out::new();
                }
            }
            if conn.client.close_after_reply || conn.closing || conn.client.wants_handover() {
                break;
            }
            // A short read means the socket was drained; later data raises a new
            // edge-triggered event.
            if n < asked {
                break;
            }
        }
        if eof {
            conn.closing = true;
        }
        if conn.client.wants_handover() && !conn.closing {
            self.hand_over(token);
            return;
        }
        self.after_io(token);
    }

    /// PSYNC/SYNC: the connection leaves this loop for a replica sender
    /// thread (`repl::primary::link`) with its unsent replies and unread
    /// input. It stays in the client list, now owned by that thread.
    fn hand_over(&mut self, token: usize) {
        let Some(mut conn) = self.conns.get_mut(token).and_then(|c| c.take()) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.stream);
        if conn.awaiting_log {
            self.awaiting.retain(|t| *t != token);
            self.srv.aof.before_reply();
        }
        super::channels::remove_client(&self.srv, &mut conn.client);
        if conn.client.tracking.is_some() {
            self.srv.tracking.disable(conn.client.id);
        }
        if conn.client.monitor {
            exec::remove_monitor(&self.srv, conn.client.id);
        }
        self.free.push(token);
        let hs = conn.client.replica.take().map(|b| *b).unwrap_or_default();
        let stream: std::net::TcpStream = conn.stream.into();
        crate::repl::primary::link::spawn(
            self.srv.clone(),
            stream,
            conn.client.shared.clone(),
            hs,
            conn.pending,
            conn.rbuf,
        );
    }

    /// Writes pending output; registers for writability when the socket is full;
    /// closes when asked to.
    fn after_io(&mut self, token: usize) {
        let Some(conn) = self.conns.get_mut(token).and_then(|c| c.as_mut()) else {
            return;
        };
        if !conn.pending.is_empty() && !conn.closing && !conn.awaiting_log {
            match write_some(&mut conn.stream, &conn.pending) {
                Ok(w) => {
                    WorkerStats::add(&self.stats.net_output_bytes, w as u64);
                    conn.pending.drain(..w);
                }
                Err(_) => conn.closing = true,
            }
        }
        let want_write = !conn.pending.is_empty();
        conn.client
            .shared
            .omem
            .store(conn.pending.len(), Ordering::Relaxed);
        if conn.pending.is_empty() && conn.pending.capacity() > KEEP_BUFFER {
            conn.pending = Vec::new();
        }
        if super::channels::over_output_limit(
            &mut conn.client,
            conn.pending.len(),
            &self.hot.pubsub_output_limit,
        ) {
            tracing::warn!(
                client = conn.client.id,
                bytes = conn.pending.len(),
                "closing subscriber that overcame the pubsub output buffer limit"
            );
            conn.closing = true;
        }
        let done_closing = conn.client.close_after_reply && conn.pending.is_empty();
        if conn.closing || done_closing || conn.client.shared.killed.load(Ordering::Relaxed) {
            self.close(token);
            return;
        }
        if want_write != conn.writable {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poll
                .registry()
                .reregister(&mut conn.stream, Token(token), interest)
                .is_ok()
            {
                conn.writable = want_write;
            }
        }
    }

    fn flush(&mut self, token: usize) {
        self.after_io(token);
    }

    /// Makes this loop's logged bytes durable as the fsync policy asks (one
    /// write, and one fsync with `always`, shared by concurrent loops), then
    /// sends the replies that waited for it.
    fn flush_awaiting(&mut self) {
        self.srv.aof.before_reply();
        for token in std::mem::take(&mut self.awaiting) {
            if let Some(conn) = self.conns.get_mut(token).and_then(|c| c.as_mut()) {
                conn.awaiting_log = false;
            }
            self.after_io(token);
        }
    }

    fn close(&mut self, token: usize) {
        let Some(mut conn) = self.conns.get_mut(token).and_then(|c| c.take()) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.srv.clients.remove(conn.client.id);
        if let Some(w) = conn.client.blocked.take() {
            self.timeouts.remove(&w);
            super::blocked::cancel(&self.srv, &w);
        }
        super::channels::remove_client(&self.srv, &mut conn.client);
        if conn.client.tracking.is_some() {
            self.srv.tracking.disable(conn.client.id);
        }
        if conn.client.monitor {
            exec::remove_monitor(&self.srv, conn.client.id);
        }
        self.free.push(token);
    }

    /// Returns true when a shutdown was requested.
    fn handle_inbox(&mut self) -> bool {
        let msgs = {
            let Some(handle) = self.srv.worker(self.idx) else {
                return false;
            };
            let mut inbox = handle.inbox.lock();
            if inbox.is_empty() {
                return false;
            }
            std::mem::take(&mut *inbox)
        };
        let mut shutdown = false;
        for m in msgs {
            match m {
                Msg::Kill { token, id } => {
                    if self.conn_is(token, id) {
                        self.close(token);
                    }
                }
                Msg::Write { token, id, bytes } => {
                    if self.conn_is(token, id) {
                        if let Some(conn) = self.conns[token].as_mut() {
                            conn.pending.extend_from_slice(&bytes);
                        }
                        self.after_io(token);
                    }
                }
                Msg::Unblock { token, id } => {
                    if self.conn_is(token, id) {
                        self.resume(token);
                    }
                }
                Msg::CloseAfterReply { token, id } => {
                    if self.conn_is(token, id) {
                        if let Some(conn) = self.conns[token].as_mut() {
                            conn.client.close_after_reply = true;
                        }
                        self.after_io(token);
                    }
                }
                Msg::DropShardChannels {
                    token,
                    id,
                    channels,
                } => {
                    if self.conn_is(token, id) {
                        if let Some(conn) = self.conns[token].as_mut() {
                            let bytes = super::channels::unsubscribe_shard(
                                &self.srv,
                                &mut conn.client,
                                &channels,
                            );
                            conn.pending.extend_from_slice(&bytes);
                        }
                        self.after_io(token);
                    }
                }
                Msg::Shutdown => shutdown = true,
            }
        }
        shutdown
    }

    /// Replies to the blocked clients whose deadline has passed (unless another
    /// thread claimed them first: its reply and `Unblock` are on their way).
    fn expire_blocked(&mut self) {
        if self.timeouts.is_empty() {
            return;
        }
        for (token, id) in self.timeouts.expired(std::time::Instant::now()) {
            let Some(w) = self
                .conns
                .get(token)
                .and_then(|c| c.as_ref())
                .filter(|c| c.client.id == id)
                .and_then(|c| c.client.blocked.clone())
            else {
                continue;
            };
            if !w.claim() {
                continue;
            }
            self.srv.blocking.remove(w.id);
            if let Some(conn) = self.conns[token].as_mut() {
                conn.pending
                    .extend_from_slice(&super::blocked::timeout_bytes(&self.srv, &w));
            }
            self.resume(token);
        }
    }

    /// Ends a client's blocked state and executes the input that arrived
    /// meanwhile (which may block it again).
    fn resume(&mut self, token: usize) {
        let Some(conn) = self.conns.get_mut(token).and_then(|c| c.as_mut()) else {
            return;
        };
        let Some(w) = conn.client.blocked.take() else {
            return;
        };
        self.timeouts.remove(&w);
        conn.client.shared.set_blocked(false);
        self.run_buffered(token);
        self.after_io(token);
    }

    /// Runs the held input of paused clients once the pause is weaker than the
    /// one that held them (a client still held is noted again).
    fn retry_paused(&mut self) {
        let now = crate::util::now_ms();
        if self.srv.pause.mode(now) >= self.held_under {
            return;
        }
        self.held_under = super::pause::Mode::Off;
        for (token, id) in std::mem::take(&mut self.paused) {
            if !self.conn_is(token, id) {
                continue;
            }
            if let Some(conn) = self.conns[token].as_mut() {
                if !conn.client.paused {
                    continue;
                }
                conn.client.paused = false;
            }
            self.run_buffered(token);
            self.after_io(token);
        }
    }

    /// Executes the input a client received while it could not run it (blocked
    /// or paused); its replies join the pending output (after the AOF has the
    /// writes they acknowledge).
    fn run_buffered(&mut self, token: usize) {
        let Some(conn) = self.conns.get_mut(token).and_then(|c| c.as_mut()) else {
            return;
        };
        if conn.rbuf.is_empty() || conn.closing || conn.client.blocked.is_some() {
            return;
        }
        let consumed = exec::process(
            &self.srv,
            &self.stats,
            &mut self.hot,
            &mut conn.client,
            exec::Input {
                parser: &mut conn.parser,
                bytes: &conn.rbuf,
            },
            &mut self.scratch_out,
            crate::util::now_ms(),
        );
        conn.rbuf.drain(..consumed);
        conn.parser.rebase(consumed);
        conn.client
            .shared
            .qbuf
            .store(conn.rbuf.len(), Ordering::Relaxed);
        self.srv.aof.before_reply();
        conn.pending.extend_from_slice(&self.scratch_out.buf);
        self.scratch_out.buf.clear();
        if let Some(w) = &conn.client.blocked {
            self.timeouts.insert(w);
        }
        if conn.client.paused {
            let id = conn.client.id;
            note_paused(&mut self.paused, &mut self.held_under, &self.srv, token, id);
        }
    }

    fn conn_is(&self, token: usize, id: u64) -> bool {
        matches!(self.conns.get(token), Some(Some(c)) if c.client.id == id)
    }

    fn close_idle(&mut self, now_ms: i64) {
        let timeout = self.hot.timeout_secs;
        for token in 0..self.conns.len() {
            let Some(conn) = self.conns[token].as_ref() else {
                continue;
            };
            let killed = conn.client.shared.killed.load(Ordering::Relaxed);
            let idle_ms = now_ms
                - conn
                    .client
                    .shared
                    .last_interaction_ms
                    .load(Ordering::Relaxed);
            // Blocked clients and subscribers (who only listen) are exempt from the
            // idle timeout, as in Redis.
            let exempt = conn.client.monitor
                || conn.client.blocked.is_some()
                || conn.client.pubsub.is_some();
            if killed || (timeout > 0 && !exempt && idle_ms > timeout * 1000) {
                self.close(token);
            }
        }
    }

    /// Stops accepting, gives every client up to [`SHUTDOWN_FLUSH`] to take what it
    /// is owed, and closes everything.
    fn finish_shutdown(&mut self) {
        // Connections the kernel completed before the shutdown but this loop
        // had not accepted yet: take them in, so that the requests they sent
        // are served like everyone else's instead of being reset with the
        // listener.
        let now_ms = crate::util::now_ms();
        for which in 0..self.listeners.len() {
            self.accept(which, now_ms);
        }
        self.accepting = false;
        for l in &mut self.listeners {
            let _ = self.poll.registry().deregister(l);
        }
        self.listeners.clear();
        let deadline = std::time::Instant::now() + SHUTDOWN_FLUSH;
        // Requests a client sent before the shutdown may still sit in the socket
        // buffer: serve them so every request that arrived gets its reply (and
        // closing never discards unread input, which would reset the connection).
        // A pipeline may still be in flight from the client's send buffer, so a
        // connection counts as drained only after it has been quiet for
        // SHUTDOWN_QUIET (or the overall deadline passes).
        let mut last_data = std::time::Instant::now();
        while std::time::Instant::now() < deadline && last_data.elapsed() < SHUTDOWN_QUIET {
            let mut any = false;
            for token in 0..self.conns.len() {
                let has_input = match self.conns[token].as_ref() {
                    Some(c) if !c.closing && !c.client.close_after_reply => {
                        matches!(c.stream.peek(&mut [0u8; 1]), Ok(n) if n > 0)
                    }
                    _ => false,
                };
                if has_input {
                    self.on_readable(token, now_ms);
                    any = true;
                }
            }
            if any {
                last_data = std::time::Instant::now();
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        self.flush_awaiting();
        for conn in self.conns.iter_mut().flatten() {
            let _ = conn.stream.set_nodelay(true);
            while !conn.pending.is_empty() && std::time::Instant::now() < deadline {
                match conn.stream.write(&conn.pending) {
                    Ok(0) => break,
                    Ok(w) => {
                        conn.pending.drain(..w);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::yield_now();
                    }
                    Err(_) => break,
                }
            }
        }
        for token in 0..self.conns.len() {
            self.close(token);
        }
    }
}

/// Writes as much as the socket takes without blocking.
fn write_some(stream: &mut TcpStream, mut buf: &[u8]) -> io::Result<usize> {
    let mut total = 0;
    while !buf.is_empty() {
        match stream.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                total += n;
                buf = &buf[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Remembers a client the pause held, and the mode that held it.
fn note_paused(
    paused: &mut Vec<(usize, u64)>,
    held_under: &mut super::pause::Mode,
    srv: &Server,
    token: usize,
    id: u64,
) {
    if !paused.contains(&(token, id)) {
        paused.push((token, id));
    }
    // At least WRITE: the pause may have ended since it held this client, which
    // must then be retried at once.
    let mode = srv.pause.mode(crate::util::now_ms());
    *held_under = (*held_under).max(mode.max(super::pause::Mode::Write));
}
