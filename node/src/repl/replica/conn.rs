//! The replica's connection to its primary: a blocking socket with a read
//! buffer of our own, on the link thread.
//!
//! Why blocking with a short read timeout rather than the event loops: the link
//! is one connection with a strictly sequential conversation (handshake, a
//! payload, then a stream), and it must never stall a loop that serves clients
//! while a multi-gigabyte payload is loaded. Reads wake every [`TICK`] so the
//! thread notices a REPLICAOF, a CLIENT KILL, `repl-timeout` and its
//! once-a-second ACK without any other wake-up machinery.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::server::client::ClientShared;
use crate::server::Server;

/// How often a blocked read wakes up to check for cancellation and timers.
pub const TICK: Duration = Duration::from_millis(100);
/// Longest status line the handshake accepts (Redis: PROTO_IOBUF_LEN).
const MAX_LINE: usize = 16 * 1024;
/// Bytes asked of one read.
const READ_CHUNK: usize = 64 * 1024;

/// Why a link session ended.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed by the primary")]
    Closed,
    #[error("timeout: no data from the primary for {0} seconds (repl-timeout)")]
    Timeout(i64),
    /// REPLICAOF changed the target, CLIENT KILL, or shutdown.
    #[error("link cancelled")]
    Cancelled,
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The primary cannot serve us now (`-NOMASTERLINK`, `-LOADING`).
    #[error("primary asked us to retry later: {0}")]
    TryLater(String),
    /// The safety rule refused an empty full sync (see `sync`).
    #[error("refused an empty full sync from primary {0} of unknown history")]
    RefusedEmpty(String),
    #[error("loading the full-sync payload failed: {0}")]
    Load(String),
}

/// What a session checks at every tick to know it must stop.
pub struct Cancel {
    pub srv: Arc<Server>,
    pub generation: u64,
    /// The master client while streaming (CLIENT KILL sets `killed`).
    pub client: Option<Arc<ClientShared>>,
}

impl Cancel {
    pub fn cancelled(&self) -> bool {
        self.srv.repl.generation() != self.generation
            || self.srv.shutting_down.load(Ordering::Relaxed)
            || self
                .client
                .as_ref()
                .is_some_and(|c| c.killed.load(Ordering::Relaxed))
    }
}

/// A blocking connection with a read buffer.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    pub cancel: Cancel,
    /// Last time bytes arrived.
    pub last_io: Instant,
}

impl Conn {
    pub fn new(stream: TcpStream, cancel: Cancel) -> std::io::Result<Conn> {
        stream.set_read_timeout(Some(TICK))?;
        // A primary that stops reading must not block ACKs forever.
        let limit = cancel.srv.config.get_i64("repl-timeout").max(1) as u64;
        stream.set_write_timeout(Some(Duration::from_secs(limit)))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
            pos: 0,
            cancel,
            last_io: Instant::now(),
        })
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// `repl-timeout` in seconds (read at every tick: CONFIG SET applies at once).
    pub fn timeout_secs(&self) -> i64 {
        self.cancel.srv.config.get_i64("repl-timeout").max(1)
    }

    /// Buffered bytes not consumed yet.
    pub fn available(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    /// Takes every buffered byte (the start of the command stream).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let rest = self.buf.split_off(self.pos);
        self.buf.clear();
        self.pos = 0;
        rest
    }

    /// One read of at most one tick. `Ok(None)`: nothing arrived yet (the
    /// caller's timers run); errors include cancellation and `repl-timeout`.
    pub fn poll_read(&mut self) -> Result<Option<usize>, LinkError> {
        if self.cancel.cancelled() {
            return Err(LinkError::Cancelled);
        }
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let r = self.stream.read(&mut self.buf[old..]);
        match r {
            Ok(0) => {
                self.buf.truncate(old);
                Err(LinkError::Closed)
            }
            Ok(n) => {
                self.buf.truncate(old + n);
                self.last_io = Instant::now();
                Ok(Some(n))
            }
            Err(e) => {
                self.buf.truncate(old);
                match e.kind() {
                    std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::Interrupted => {
                        let limit = self.timeout_secs();
                        if self.last_io.elapsed() > Duration::from_secs(limit as u64) {
                            return Err(LinkError::Timeout(limit));
                        }
                        Ok(None)
                    }
                    _ => Err(e.into()),
                }
            }
        }
    }

    /// Reads until at least one more byte is buffered.
    pub fn fill(&mut self) -> Result<usize, LinkError> {
        loop {
            if let Some(n) = self.poll_read()? {
                return Ok(n);
            }
        }
    }

    /// One line without its `\r\n` (or `\n`). An empty line is a keepalive.
    pub fn read_line(&mut self) -> Result<Vec<u8>, LinkError> {
        loop {
            if let Some(nl) = self.available().iter().position(|&b| b == b'\n') {
                let mut line = self.available()[..nl].to_vec();
                self.consume(nl + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.available().len() > MAX_LINE {
                return Err(LinkError::Protocol("status line too long".into()));
            }
            self.fill()?;
        }
    }

    /// Sends a command as a RESP multibulk.
    pub fn send_command(&mut self, args: &[&[u8]]) -> Result<(), LinkError> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out)?;
        Ok(())
    }

    /// Sends a command and reads its one-line reply, skipping keepalives.
    pub fn command(&mut self, args: &[&[u8]]) -> Result<String, LinkError> {
        self.send_command(args)?;
        self.reply_line()
    }

    /// The next non-empty reply line (a primary may send newlines while it
    /// prepares the reply to PSYNC).
    pub fn reply_line(&mut self) -> Result<String, LinkError> {
        loop {
            let line = self.read_line()?;
            if !line.is_empty() {
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
        }
    }
}
