//! Replaying the AOF at start-up, before any client is accepted.
//!
//! A file that starts with `REDIS` (an RDB-format base, `aof-use-rdb-preamble
//! yes`, as redis-server writes it too) is read with the RDB reader
//! (`persist::save::load_into`), then whatever follows its checksum as
//! commands, as Redis's loader does. Each file of the manifest (base, then
//! incr files in order) is otherwise read as a stream of RESP multi-bulk
//! commands and executed through the real command
//! path (`server::exec::execute`) by a pseudo-client, while the propagation
//! log is still inactive (nothing is re-propagated). As Redis does:
//! - a file that ends in the middle of a command (a crash mid-write) is
//!   truncated to its last complete command with a warning when
//!   `aof-load-truncated yes` and it is the last file, and refused otherwise;
//! - a transaction cut by the end of the file is dropped (the file is cut
//!   before its `MULTI`);
//! - anything else that is not RESP (a corrupt byte in the middle) stops the
//!   start with the file name and the byte offset: no data is ever skipped.
//!
//! Lengths read from the file are never trusted for allocation: arguments are
//! read in pieces as the bytes arrive.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cmd::Args;
use crate::protocol::Out;
use crate::server::client::{Client, ClientShared};
use crate::server::exec::Hot;
use crate::server::Server;

/// Why loading stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading {file}: {source}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("bad file format reading the append only file {file} at byte offset {offset}: {why}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        why: String,
    },
    #[error("the append only file {file} is truncated at byte offset {offset} (aof-load-truncated is no, or it is not the last file)")]
    Truncated { file: PathBuf, offset: u64 },
    #[error("loading the RDB preamble of {file}: {source}")]
    Rdb {
        file: PathBuf,
        #[source]
        source: crate::persist::rdb::RdbError,
    },
}

/// One step of the reader.
enum Next {
    Cmd(Vec<Vec<u8>>),
    Eof,
    /// The file ends inside a command that starts at this offset.
    Short(u64),
    Bad(u64, String),
}

/// A pull reader of RESP commands with byte offsets.
struct Reader<R> {
    r: R,
    pos: u64,
    max_bulk: usize,
}

/// Longest header line (`*<n>` / `$<n>`) accepted, as Redis's 128-byte buffer.
const MAX_LINE: usize = 128;
/// Argument count cap (Redis's `INT_MAX` is looser; nothing legitimate nears it).
const MAX_ARGS: i64 = 1 << 30;

impl<R: BufRead> Reader<R> {
    /// Reads one `\r\n`-terminated header line starting with `prefix`.
    fn line(&mut self, prefix: u8) -> std::io::Result<Line> {
        let mut v = Vec::new();
        let n = (&mut self.r)
            .take(MAX_LINE as u64 + 2)
            .read_until(b'\n', &mut v)?;
        self.pos += n as u64;
        if v.last() == Some(&b'\n') {
            return Ok(match header(&v, prefix) {
                Some(n) => Line::Int(n),
                None => Line::Bad,
            });
        }
        // No newline: the end of the file, or an over-long line. A cut header
        // is a short read only if it could have become a valid one.
        let could_be = v.len() <= MAX_LINE
            && v.first().is_none_or(|&b| b == prefix)
            && v.iter()
                .skip(1)
                .all(|&b| b.is_ascii_digit() || b == b'-' || b == b'\r');
        Ok(if could_be { Line::Short } else { Line::Bad })
    }

    fn next(&mut self) -> std::io::Result<Next> {
        let start = self.pos;
        let n = match self.line(b'*')? {
            Line::Int(n) => n,
            Line::Short if self.pos == start => return Ok(Next::Eof),
            Line::Short => return Ok(Next::Short(start)),
            Line::Bad => return Ok(Next::Bad(start, "expected '*<count>'".into())),
        };
        if !(1..=MAX_ARGS).contains(&n) {
            return Ok(Next::Bad(start, format!("bad argument count {n}")));
        }
        let mut argv = Vec::with_capacity((n as usize).min(64));
        for _ in 0..n {
            let at = self.pos;
            let len = match self.line(b'$')? {
                Line::Int(n) => n,
                Line::Short => return Ok(Next::Short(start)),
                Line::Bad => return Ok(Next::Bad(at, "expected '$<length>'".into())),
            };
            if len < 0 || len as u64 > self.max_bulk as u64 {
                return Ok(Next::Bad(at, format!("bad bulk length {len}")));
            }
            let len = len as u64;
            let mut v = Vec::new();
            let got = (&mut self.r).take(len).read_to_end(&mut v)? as u64;
            self.pos += got;
            if got < len {
                return Ok(Next::Short(start));
            }
            let mut crlf = Vec::with_capacity(2);
            let got = (&mut self.r).take(2).read_to_end(&mut crlf)?;
            self.pos += got as u64;
            if got < 2 && b"\r\n".starts_with(&crlf) {
                return Ok(Next::Short(start));
            }
            if crlf != b"\r\n" {
                return Ok(Next::Bad(at, "bulk not followed by CRLF".into()));
            }
            argv.push(v);
        }
        Ok(Next::Cmd(argv))
    }
}

/// A header line.
enum Line {
    Int(i64),
    Short,
    Bad,
}

/// Parses `<prefix><integer>\r\n`.
fn header(line: &[u8], prefix: u8) -> Option<i64> {
    let body = line.strip_prefix(&[prefix])?.strip_suffix(b"\r\n")?;
    crate::util::parse_i64_strict(body)
}

/// Whether `f` starts with the RDB magic `REDIS`; leaves `f` at its start.
fn has_rdb_magic(f: &mut File) -> std::io::Result<bool> {
    let mut magic = Vec::with_capacity(5);
    Read::by_ref(f).take(5).read_to_end(&mut magic)?;
    f.seek(SeekFrom::Start(0))?;
    Ok(magic == b"REDIS")
}

/// Totals of one load, for the log line.
#[derive(Default, Debug)]
pub struct Loaded {
    pub commands: u64,
    /// Keys read from RDB preambles.
    pub rdb_keys: u64,
    pub errors: u64,
    pub truncated: bool,
}

/// Replays `files` (full paths, in order) into the server.
pub fn replay(
    srv: &Arc<Server>,
    files: &[PathBuf],
    allow_truncated: bool,
) -> Result<Loaded, LoadError> {
    let mut total = Loaded::default();
    let mut loader = Loader::new(srv);
    crate::db::set_loading(true);
    let r = files.iter().enumerate().try_for_each(|(i, path)| {
        let last = i + 1 == files.len();
        loader.file(path, last && allow_truncated, &mut total)
    });
    crate::db::set_loading(false);
    r.map(|()| total)
}

/// The pseudo-client and what executing needs.
struct Loader<'a> {
    srv: &'a Arc<Server>,
    client: Client,
    hot: Hot,
    out: Out,
}

impl<'a> Loader<'a> {
    fn new(srv: &'a Arc<Server>) -> Loader<'a> {
        let shared = Arc::new(ClientShared::internal(u64::MAX, "aof-loader"));
        let mut client = Client::new(shared, true);
        client.loader = true;
        Loader {
            srv,
            client,
            hot: Hot::load(&srv.config),
            out: Out::new(),
        }
    }

    fn file(
        &mut self,
        path: &Path,
        allow_truncated: bool,
        total: &mut Loaded,
    ) -> Result<(), LoadError> {
        let io = |source| LoadError::Io {
            file: path.to_path_buf(),
            source,
        };
        let mut f = File::open(path).map_err(io)?;
        let start = if has_rdb_magic(&mut f).map_err(io)? {
            let sum = crate::persist::save::load_into_with(
                self.srv,
                BufReader::with_capacity(1 << 20, &f),
                true,
            )
            .map_err(|source| LoadError::Rdb {
                file: path.to_path_buf(),
                source,
            })?;
            tracing::info!(file = %path.display(), keys = sum.keys, "loaded the RDB preamble of the AOF");
            total.rdb_keys += sum.keys;
            sum.end_offset
        } else {
            0
        };
        f.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut r = Reader {
            r: BufReader::with_capacity(1 << 20, f),
            pos: start,
            max_bulk: self.hot.max_bulk_len.max(0) as usize,
        };
        self.client.select(0);
        // Offset of the MULTI of an open transaction.
        let mut multi_at: Option<u64> = None;
        let stats = self.srv.stats.workers[0].clone();
        let _deny = crate::server::blocked::DenyBlocking::enter();
        let cut = loop {
            let at = r.pos;
            match r.next().map_err(io)? {
                Next::Cmd(argv) => {
                    if argv[0].eq_ignore_ascii_case(b"multi") {
                        multi_at = Some(at);
                    } else if argv[0].eq_ignore_ascii_case(b"exec") {
                        multi_at = None;
                    }
                    self.exec(&argv, &stats, total);
                }
                Next::Eof => break multi_at,
                Next::Short(off) => break Some(multi_at.unwrap_or(off)),
                Next::Bad(off, why) => {
                    return Err(LoadError::Corrupt {
                        file: path.to_path_buf(),
                        offset: off,
                        why,
                    })
                }
            }
        };
        if self.client.tx.queuing() {
            crate::server::multi::discard(&mut self.client);
        }
        if let Some(off) = cut {
            if !allow_truncated {
                return Err(LoadError::Truncated {
                    file: path.to_path_buf(),
                    offset: off,
                });
            }
            tracing::warn!(
                file = %path.display(),
                offset = off,
                size = r.pos,
                "AOF loaded anyway because aof-load-truncated is enabled; truncating the incomplete tail"
            );
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io)?;
            f.set_len(off).map_err(io)?;
            f.sync_all().map_err(io)?;
            total.truncated = true;
        }
        Ok(())
    }

    fn exec(
        &mut self,
        argv: &[Vec<u8>],
        stats: &Arc<crate::stats::WorkerStats>,
        total: &mut Loaded,
    ) {
        let mut buf = Vec::with_capacity(argv.iter().map(Vec::len).sum());
        let mut ranges = Vec::with_capacity(argv.len());
        for a in argv {
            let s = buf.len();
            buf.extend_from_slice(a);
            ranges.push(s..buf.len());
        }
        let args = Args::new(&buf, &ranges);
        let mut t0 = std::time::Instant::now();
        self.out.buf.clear();
        let env = crate::server::exec::Env {
            srv: self.srv,
            stats,
            hot: &self.hot,
        };
        crate::server::exec::execute(
            env,
            &mut self.client,
            &mut self.out,
            &args,
            crate::util::now_ms(),
            &mut t0,
        );
        total.commands += 1;
        if self.out.buf.first() == Some(&b'-') {
            total.errors += 1;
            if total.errors <= 10 {
                tracing::warn!(
                    command = %String::from_utf8_lossy(&argv[0]),
                    reply = %String::from_utf8_lossy(&self.out.buf[..self.out.buf.len().min(200)]).trim_end(),
                    "a command of the AOF answered an error"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Vec<String> {
        let mut r = Reader {
            r: std::io::Cursor::new(bytes.to_vec()),
            pos: 0,
            max_bulk: 1 << 20,
        };
        let mut out = Vec::new();
        loop {
            match r.next().unwrap() {
                Next::Cmd(a) => out.push(
                    a.iter()
                        .map(|x| String::from_utf8_lossy(x).into_owned())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                Next::Eof => return out,
                Next::Short(o) => {
                    out.push(format!("short@{o}"));
                    return out;
                }
                Next::Bad(o, _) => {
                    out.push(format!("bad@{o}"));
                    return out;
                }
            }
        }
    }

    #[test]
    fn reads_commands_and_classifies_tails() {
        let one = b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n";
        assert_eq!(read_all(one), vec!["DEL k"]);
        let mut two = one.to_vec();
        two.extend_from_slice(one);
        assert_eq!(read_all(&two), vec!["DEL k", "DEL k"]);
        // Every cut inside the second command is a short read at its start.
        for cut in one.len() + 1..two.len() {
            assert_eq!(
                read_all(&two[..cut]),
                vec!["DEL k".to_string(), format!("short@{}", one.len())],
                "cut at {cut}"
            );
        }
        let mut bad = one.to_vec();
        bad.extend_from_slice(b"xx\r\n");
        bad.extend_from_slice(one);
        assert_eq!(
            read_all(&bad),
            vec!["DEL k".to_string(), format!("bad@{}", one.len())]
        );
        assert_eq!(read_all(b"*1\r\n$-1\r\n"), vec!["bad@4"]);
        assert_eq!(read_all(b"*1\r\n$1\r\nab\r\n"), vec!["bad@4"]);
        assert_eq!(read_all(b"*0\r\n"), vec!["bad@0"]);
    }
}
