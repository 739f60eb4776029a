//! Full synchronisation: reading the payload a primary sends after
//! `+FULLRESYNC`, the empty-dataset safety rule, and the loader seam.
//!
//! The payload comes in one of two forms: `$<len>\r\n<len bytes>` (a snapshot
//! file), or, for a diskless sync, `$EOF:<40-byte mark>\r\n<bytes><mark>`.
//! Before the header a primary may send bare newlines to keep the link alive
//! while it prepares. [`Payload`] turns either form into a `Read` that ends
//! exactly at the payload's last byte, leaving what follows (the start of the
//! command stream) in the connection's buffer.
//!
//! # The safety rule (beyond Redis)
//! A replica that holds keys refuses to replace them with an EMPTY dataset
//! from a primary whose replication id it does not know: that is what a
//! primary that restarted without persistence looks like, and following it
//! wipes the only copy of the data (incidents of this shape are known from
//! other projects). The replica keeps its data, reports
//! `master_sync_refused_empty:1` in INFO replication, logs it, stays not ready
//! on `/readyz`, and retries. `CONFIG SET replica-accept-empty-sync yes` lets
//! the next attempt load the empty dataset. Emptiness is decided by
//! [`super::probe`] from the payload's first bytes, which are kept in memory and
//! handed to the loader ahead of the rest: nothing is spooled to disk and the
//! dataset is never held twice.

use std::io::Read;
use std::time::Instant;

use super::conn::{Conn, LinkError};
use super::probe::{probe, Probe};
use crate::server::Server;

/// How far the probe may read into a payload before it gives up and treats
/// the payload as holding data (metadata larger than this is not an empty
/// dataset anyone restarts with).
const PROBE_MAX: usize = 16 * 1024 * 1024;
/// Size of the EOF mark of a diskless payload.
pub const EOF_MARK_LEN: usize = 40;

/// What a loader reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadInfo {
    pub keys: u64,
}

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading the payload: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad payload: {0}")]
    Format(String),
}

/// Replaces the dataset with a full-sync payload ([`RdbLoader`]; a seam for
/// tests and other engines).
pub trait FullSyncTarget: Send + Sync {
    /// Empties the keyspace and loads `payload` (an RDB stream that ends at
    /// the payload's end). The link has already applied the safety rule.
    fn load(&self, srv: &Server, payload: &mut dyn Read) -> Result<LoadInfo, LoadError>;
}

/// Loads the payload with the snapshot reader (`persist::rdb`): the keyspace is
/// emptied, then every key of the payload inserted. `/readyz` says "loading"
/// meanwhile, as at start-up.
pub struct RdbLoader;

impl FullSyncTarget for RdbLoader {
    fn load(&self, srv: &Server, payload: &mut dyn Read) -> Result<LoadInfo, LoadError> {
        // Through the command path, so WATCHed keys are touched as by FLUSHALL.
        super::stream::run_internal(srv, &[b"FLUSHALL", b"SYNC"]);
        let loading = &srv.persist.loading;
        loading.store(true, std::sync::atomic::Ordering::Release);
        let result = crate::persist::save::load_into(srv, payload);
        loading.store(false, std::sync::atomic::Ordering::Release);
        match result {
            Ok(summary) => Ok(LoadInfo { keys: summary.keys }),
            Err(e) => Err(LoadError::Format(e.to_string())),
        }
    }
}

enum Form {
    Bulk {
        left: u64,
    },
    Eof {
        mark: [u8; EOF_MARK_LEN],
        tail: Vec<u8>,
        done: bool,
    },
}

/// A full-sync payload as a `Read` (see the module doc).
pub struct Payload<'a> {
    conn: &'a mut Conn,
    form: Form,
    ready: Vec<u8>,
    ready_pos: usize,
    /// Bytes of the payload read so far (INFO's `master_sync_read_bytes`).
    pub read: u64,
    progress: &'a dyn Fn(u64),
}

impl<'a> Payload<'a> {
    /// Reads the payload header, skipping keepalive newlines.
    pub fn open(
        conn: &'a mut Conn,
        progress: &'a dyn Fn(u64),
    ) -> Result<(Payload<'a>, i64), LinkError> {
        let header = loop {
            let line = conn.read_line()?;
            if !line.is_empty() {
                break line;
            }
        };
        if header.first() == Some(&b'-') {
            return Err(LinkError::Protocol(format!(
                "the primary aborted the sync: {}",
                String::from_utf8_lossy(&header)
            )));
        }
        if header.first() != Some(&b'$') {
            return Err(LinkError::Protocol(format!(
                "bad full-sync payload header '{}'",
                String::from_utf8_lossy(&header[..header.len().min(64)])
            )));
        }
        let (form, total) = match header[1..].strip_prefix(b"EOF:") {
            Some(mark) => {
                let mark: [u8; EOF_MARK_LEN] = mark
                    .try_into()
                    .map_err(|_| LinkError::Protocol("bad EOF mark length".into()))?;
                let form = Form::Eof {
                    mark,
                    tail: Vec::new(),
                    done: false,
                };
                (form, -1)
            }
            None => {
                let n = crate::util::parse_i64_strict(&header[1..])
                    .filter(|&n| n >= 0)
                    .ok_or_else(|| LinkError::Protocol("bad payload length".into()))?;
                (Form::Bulk { left: n as u64 }, n)
            }
        };
        let p = Payload {
            conn,
            form,
            ready: Vec::new(),
            ready_pos: 0,
            read: 0,
            progress,
        };
        Ok((p, total))
    }

    fn count(&mut self, n: usize) {
        self.read += n as u64;
        (self.progress)(self.read);
    }

    /// Moves the next chunk of an EOF-marked payload into `ready`.
    fn next_eof_chunk(&mut self) -> Result<(), LinkError> {
        if self.conn.available().is_empty() {
            self.conn.fill()?;
        }
        let Form::Eof { mark, tail, done } = &mut self.form else {
            return Ok(());
        };
        let chunk = self.conn.available();
        let chunk_len = chunk.len();
        let mut window = std::mem::take(tail);
        window.extend_from_slice(chunk);
        match window.windows(EOF_MARK_LEN).position(|w| w == &mark[..]) {
            Some(i) => {
                // Bytes after the mark are the command stream: leave them.
                let after = window.len() - (i + EOF_MARK_LEN);
                self.conn.consume(chunk_len - after);
                window.truncate(i);
                *done = true;
            }
            None => {
                // The mark may straddle this read and the next: hold back its
                // length minus one.
                let keep = window.len().min(EOF_MARK_LEN - 1);
                *tail = window.split_off(window.len() - keep);
                self.conn.consume(chunk_len);
            }
        }
        self.ready = window;
        self.ready_pos = 0;
        Ok(())
    }
}

fn io_err(e: LinkError) -> std::io::Error {
    std::io::Error::other(e)
}

impl Read for Payload<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.ready_pos < self.ready.len() {
                let n = out.len().min(self.ready.len() - self.ready_pos);
                out[..n].copy_from_slice(&self.ready[self.ready_pos..self.ready_pos + n]);
                self.ready_pos += n;
                self.count(n);
                return Ok(n);
            }
            match &mut self.form {
                Form::Bulk { left } => {
                    if *left == 0 {
                        return Ok(0);
                    }
                    if self.conn.available().is_empty() {
                        self.conn.fill().map_err(io_err)?;
                    }
                    let avail = self.conn.available();
                    let n = (out.len() as u64).min(*left).min(avail.len() as u64) as usize;
                    out[..n].copy_from_slice(&avail[..n]);
                    *left -= n as u64;
                    self.conn.consume(n);
                    self.count(n);
                    return Ok(n);
                }
                Form::Eof { done: true, .. } => return Ok(0),
                Form::Eof { .. } => self.next_eof_chunk().map_err(io_err)?,
            }
        }
    }
}

/// What to do with a payload (the safety rule).
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Load,
    RefuseEmpty,
}

/// The safety rule: refuse only an empty payload, from a primary whose id we
/// do not know, while we hold keys, unless the operator said yes.
pub fn decide(probe: Probe, holds_keys: bool, known_replid: bool, accept_empty: bool) -> Decision {
    if probe == Probe::Empty && holds_keys && !known_replid && !accept_empty {
        Decision::RefuseEmpty
    } else {
        Decision::Load
    }
}

/// Reads, checks and loads a full-sync payload. `known_replid`: the primary's
/// id is one of ours (same history). Returns the loader's report.
pub fn full_sync(
    srv: &Server,
    conn: &mut Conn,
    master_replid: &str,
    known_replid: bool,
) -> Result<LoadInfo, LinkError> {
    let progress = |read: u64| {
        if let Some(s) = srv.repl.inner().sync.as_mut() {
            s.read = read;
            s.last_io = Instant::now();
        }
    };
    let (mut payload, total) = Payload::open(conn, &progress)?;
    if let Some(s) = srv.repl.inner().sync.as_mut() {
        s.total = total;
    }
    // Read the payload's head until the probe can tell whether it is empty.
    let mut head = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let verdict = loop {
        match probe(&head) {
            Probe::NeedMore if head.len() < PROBE_MAX => {}
            Probe::NeedMore => break Probe::HasData,
            p => break p,
        }
        let n = payload.read(&mut chunk).map_err(LinkError::Io)?;
        if n == 0 {
            // Ended inside its metadata: not a dataset we can judge; the
            // loader reports what is wrong with it.
            break Probe::HasData;
        }
        head.extend_from_slice(&chunk[..n]);
    };
    let holds_keys = srv.keyspace.total_keys() > 0;
    let accept = srv.config.get_bool("replica-accept-empty-sync");
    if decide(verdict, holds_keys, known_replid, accept) == Decision::RefuseEmpty {
        return Err(LinkError::RefusedEmpty(master_replid.to_string()));
    }
    // From here the dataset no longer matches our id and offset: a failed load
    // must lead to a full sync, never a partial one on top of half a dataset.
    srv.repl.inner().psync_history = false;
    let target = srv.repl.full_sync_target();
    let mut reader = std::io::Cursor::new(head).chain(&mut payload);
    let info = target
        .load(srv, &mut reader)
        .map_err(|e| LinkError::Load(e.to_string()))?;
    // Whatever the loader left unread belongs to the payload, not the stream.
    std::io::copy(&mut payload, &mut std::io::sink()).map_err(LinkError::Io)?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;

    /// Sends `wire` over loopback in uneven pieces; returns what the payload
    /// reader yields and what it leaves for the command stream.
    fn through_payload(wire: Vec<u8>, stream_len: usize) -> (Vec<u8>, Vec<u8>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // Uneven pieces (7, 4093, 40, ...) so boundaries fall everywhere.
            let mut pos = 0;
            for (i, size) in [7usize, 4093, 40, 39, 65_536, 1, 12_345]
                .iter()
                .cycle()
                .enumerate()
            {
                if pos >= wire.len() || i > 10_000 {
                    break;
                }
                let end = (pos + size).min(wire.len());
                s.write_all(&wire[pos..end]).unwrap();
                s.flush().unwrap();
                pos = end;
            }
            s
        });
        let srv = Arc::new(Server::new(crate::config::Config::defaults()));
        let stream = std::net::TcpStream::connect(addr).unwrap();
        let cancel = super::super::conn::Cancel {
            srv,
            generation: 0,
            client: None,
        };
        let mut conn = Conn::new(stream, cancel).unwrap();
        let progress = |_: u64| {};
        let (mut p, _) = Payload::open(&mut conn, &progress).unwrap();
        let mut got = Vec::new();
        p.read_to_end(&mut got).unwrap();
        let _keep_open = writer.join().unwrap();
        let mut rest = conn.take_buffered();
        while rest.len() < stream_len {
            conn.fill().unwrap();
            rest.extend(conn.take_buffered());
        }
        (got, rest)
    }

    #[test]
    fn both_payload_forms_end_exactly_at_the_payload() {
        let mark = [b'm'; EOF_MARK_LEN];
        let stream = b"*1\r\n$4\r\nPING\r\n".to_vec();
        for size in [0usize, 1, 39, 40, 41, 4093, 65_536 + 17, 200_000] {
            let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            // Diskless: keepalives, `$EOF:<mark>`, bytes, mark, then the stream.
            let mut wire = b"\n\n$EOF:".to_vec();
            wire.extend_from_slice(&mark);
            wire.extend_from_slice(b"\r\n");
            wire.extend_from_slice(&body);
            wire.extend_from_slice(&mark);
            wire.extend_from_slice(&stream);
            let (got, rest) = through_payload(wire, stream.len());
            assert_eq!(got, body, "EOF form, {size} bytes");
            assert_eq!(rest, stream, "EOF form, {size} bytes");
            // Disk-based: `$<len>`.
            let mut wire = format!("\n${size}\r\n").into_bytes();
            wire.extend_from_slice(&body);
            wire.extend_from_slice(&stream);
            let (got, rest) = through_payload(wire, stream.len());
            assert_eq!(got, body, "bulk form, {size} bytes");
            assert_eq!(rest, stream, "bulk form, {size} bytes");
        }
    }

    #[test]
    fn safety_rule_refuses_only_the_dangerous_case() {
        use Decision::*;
        assert_eq!(decide(Probe::Empty, true, false, false), RefuseEmpty);
        assert_eq!(decide(Probe::Empty, true, false, true), Load);
        assert_eq!(decide(Probe::Empty, true, true, false), Load);
        assert_eq!(decide(Probe::Empty, false, false, false), Load);
        assert_eq!(decide(Probe::HasData, true, false, false), Load);
    }
}
