//! Incremental request parser: RESP multibulk (`*N\r\n$len\r\n...`) and inline
//! commands, with Redis's limits and error strings.
//!
//! Why our own and not `redis_protocol::resp2::decode`: requests are only ever
//! arrays of bulk strings, so the parser can record argument *ranges* into the read
//! buffer instead of building frames, and it can resume a half-received request
//! where it stopped instead of starting over (a 500 MB value arriving in 16 KB reads
//! would otherwise be rescanned thousands of times). `benches/parser.rs` measures it
//! against `redis-protocol` on the same buffers.
//!
//! "Need more bytes" is not an error: [`Parser::parse`] returns `Ok(None)`.

use std::ops::Range;

/// Inline requests and the header line of a multibulk must fit in this.
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;
/// Maximum multibulk length (Redis: 1024*1024 for authenticated clients).
pub const MAX_MULTIBULK: i64 = 1024 * 1024;

/// A protocol error. Redis answers `-ERR Protocol error: ...` and closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    #[error("Protocol error: expected '$', got '{0}'")]
    ExpectedDollar(char),
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
}

/// Limits applied while parsing (from config and the client's auth state).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bulk_len: i64,
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            authenticated: true,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
enum State {
    #[default]
    Idle,
    /// Inside a multibulk: `remaining` arguments still to read, next byte at `pos`.
    Multibulk { remaining: usize, pos: usize },
}

/// A complete request: where it ends and the ranges of its arguments.
#[derive(Debug)]
pub struct Request {
    pub end: usize,
    /// Inline requests are unescaped into owned bytes; multibulk ones are ranges.
    pub inline: bool,
}

/// Resumable parser; one per connection.
#[derive(Default)]
pub struct Parser {
    state: State,
    /// Argument ranges into the buffer passed to `parse` (or into `inline_buf`).
    pub args: Vec<Range<usize>>,
    /// Unescaped arguments of an inline request.
    pub inline_buf: Vec<u8>,
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == b'\r')
        .map(|i| from + i)
}

/// Parses the integer of a `*N` or `$N` header line (Redis's string2ll rules).
fn parse_len(line: &[u8]) -> Option<i64> {
    crate::util::parse_i64_strict(line)
}

impl Parser {
    /// Parses one request starting at `start`. `Ok(None)`: need more bytes (the
    /// parser keeps its progress; call again with the same `start` and a longer
    /// buffer, or after [`Parser::rebase`]).
    pub fn parse(
        &mut self,
        buf: &[u8],
        start: usize,
        limits: &Limits,
    ) -> Result<Option<Request>, ProtocolError> {
        loop {
            match self.state {
                State::Idle => {
                    if start >= buf.len() {
                        return Ok(None);
                    }
                    self.args.clear();
                    if buf[start] == b'*' {
                        let Some(cr) = find_crlf(buf, start) else {
                            if buf.len() - start > PROTO_INLINE_MAX_SIZE {
                                return Err(ProtocolError::TooBigMbulkCount);
                            }
                            return Ok(None);
                        };
                        if cr - start > PROTO_INLINE_MAX_SIZE {
                            return Err(ProtocolError::TooBigMbulkCount);
                        }
                        if cr + 1 >= buf.len() {
                            return Ok(None);
                        }
                        let n = parse_len(&buf[start + 1..cr])
                            .filter(|&n| n <= MAX_MULTIBULK)
                            .ok_or(ProtocolError::InvalidMultibulkLength)?;
                        if !limits.authenticated && n > 10 {
                            return Err(ProtocolError::UnauthenticatedMultibulkLength);
                        }
                        let pos = cr + 2;
                        if n <= 0 {
                            // `*0` or `*-1`: an empty request, skipped silently.
                            return Ok(Some(Request {
                                end: pos,
                                inline: false,
                            }));
                        }
                        self.args.reserve(n as usize);
                        self.state = State::Multibulk {
                            remaining: n as usize,
                            pos,
                        };
                    } else {
                        return self.parse_inline(buf, start);
                    }
                }
                State::Multibulk { remaining, pos } => {
                    if remaining == 0 {
                        self.state = State::Idle;
                        return Ok(Some(Request {
                            end: pos,
                            inline: false,
                        }));
                    }
                    if pos >= buf.len() {
                        return Ok(None);
                    }
                    let Some(cr) = find_crlf(buf, pos) else {
                        if buf.len() - pos > PROTO_INLINE_MAX_SIZE {
                            return Err(ProtocolError::TooBigBulkCount);
                        }
                        return Ok(None);
                    };
                    if cr - pos > PROTO_INLINE_MAX_SIZE {
                        return Err(ProtocolError::TooBigBulkCount);
                    }
                    if buf[pos] != b'$' {
                        return Err(ProtocolError::ExpectedDollar(buf[pos] as char));
                    }
                    let len = parse_len(&buf[pos + 1..cr])
                        .filter(|&l| l >= 0 && l <= limits.max_bulk_len)
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    if !limits.authenticated && len > 16384 {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    let data = cr + 2;
                    let len = len as usize;
                    // Redis skips the two bytes after the payload without checking them.
                    if buf.len() < data + len + 2 {
                        return Ok(None);
                    }
                    self.args.push(data..data + len);
                    self.state = State::Multibulk {
                        remaining: remaining - 1,
                        pos: data + len + 2,
                    };
                }
            }
        }
    }

    /// Bytes still needed for the argument being read, when known (lets the caller
    /// size its read buffer for a large bulk in one allocation).
    pub fn pending_bulk_hint(&self, buf: &[u8]) -> Option<usize> {
        let State::Multibulk { pos, .. } = self.state else {
            return None;
        };
        let cr = find_crlf(buf, pos)?;
        let len = parse_len(buf.get(pos + 1..cr)?)?;
        Some((cr + 2 + len as usize + 2).saturating_sub(buf.len()))
    }

    /// The buffer was compacted by removing its first `by` bytes.
    pub fn rebase(&mut self, by: usize) {
        if let State::Multibulk { remaining, pos } = self.state {
            self.state = State::Multibulk {
                remaining,
                pos: pos - by,
            };
            for r in &mut self.args {
                *r = r.start - by..r.end - by;
            }
        }
    }

    /// True while part of a request has been consumed into parser state.
    pub fn in_progress(&self) -> bool {
        matches!(self.state, State::Multibulk { .. })
    }

    fn parse_inline(&mut self, buf: &[u8], start: usize) -> Result<Option<Request>, ProtocolError> {
        let Some(nl) = buf[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| start + i)
        else {
            if buf.len() - start > PROTO_INLINE_MAX_SIZE {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(None);
        };
        if nl - start > PROTO_INLINE_MAX_SIZE {
            return Err(ProtocolError::TooBigInline);
        }
        let mut line = &buf[start..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.inline_buf.clear();
        self.args.clear();
        split_args(line, &mut self.inline_buf, &mut self.args)?;
        Ok(Some(Request {
            end: nl + 1,
            inline: true,
        }))
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Redis's `sdssplitargs`: whitespace-separated words, "double quotes" with C
/// escapes (`\n`, `\xff`, ...), 'single quotes' with only `\'`.
///
/// Redis splits a C string: the line ends at its first NUL byte (inside quotes
/// that is an unbalanced quote), and "whitespace" is C's `isspace`.
pub fn split_args(
    line: &[u8],
    out: &mut Vec<u8>,
    ranges: &mut Vec<Range<usize>>,
) -> Result<(), ProtocolError> {
    let mut i = 0;
    let n = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let line = &line[..n];
    let isspace = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    loop {
        while i < n && isspace(line[i]) {
            i += 1;
        }
        // A NUL outside quotes ends the line, as in C's sdssplitargs (and must, or
        // the word loop below would stop on it forever without advancing).
        if i >= n || line[i] == 0 {
            return Ok(());
        }
        let arg_start = out.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' {
                    if let (Some(a), Some(b)) = (hex(line[i + 2]), hex(line[i + 3])) {
                        out.push(a * 16 + b);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < n {
                    let e = match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    };
                    out.push(e);
                    i += 2;
                    continue;
                }
                if c == b'"' {
                    // Closing quote must be followed by a space or the end.
                    if i + 1 < n && !isspace(line[i + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                }
                out.push(c);
                i += 1;
            } else if in_sq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    out.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    if i + 1 < n && !isspace(line[i + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                }
                out.push(c);
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                let c = line[i];
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => out.push(c),
                }
                i += 1;
            }
        }
        ranges.push(arg_start..out.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = Parser::default();
        let mut start = 0;
        let mut out = Vec::new();
        while let Some(req) = p.parse(input, start, &Limits::default())? {
            let src: &[u8] = if req.inline { &p.inline_buf } else { input };
            out.push(p.args.iter().map(|r| src[r.clone()].to_vec()).collect());
            start = req.end;
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        let reqs =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\\n\"\r\n").unwrap();
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0], vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(reqs[1], vec![b"PING".to_vec()]);
        assert_eq!(
            reqs[2],
            vec![b"set".to_vec(), b"a".to_vec(), b"b c\n".to_vec()]
        );
    }

    #[test]
    fn resumes_byte_by_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut p = Parser::default();
        for cut in 0..input.len() {
            assert!(p
                .parse(&input[..cut], 0, &Limits::default())
                .unwrap()
                .is_none());
        }
        let req = p.parse(input, 0, &Limits::default()).unwrap().unwrap();
        assert_eq!(req.end, input.len());
        assert_eq!(&input[p.args[2].clone()], b"value");
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(
            parse_all(b"*x\r\n").unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        assert_eq!(
            parse_all(b"*1\r\n+foo\r\n").unwrap_err(),
            ProtocolError::ExpectedDollar('+')
        );
        assert_eq!(
            parse_all(b"*1\r\n$-5\r\n").unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(
            parse_all(b"set a \"b\r\n").unwrap_err(),
            ProtocolError::UnbalancedQuotes
        );
        assert_eq!(
            parse_all(b"*2000000\r\n").unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        let big = vec![b'a'; PROTO_INLINE_MAX_SIZE + 10];
        assert_eq!(parse_all(&big).unwrap_err(), ProtocolError::TooBigInline);
        assert_eq!(
            ProtocolError::ExpectedDollar('+').to_string(),
            "Protocol error: expected '$', got '+'"
        );
    }

    #[test]
    fn inline_stops_at_nul_like_a_c_string() {
        // A NUL once made the splitter loop forever, pushing empty arguments.
        // Leading C whitespace (\v) is skipped; only space, \t, \r, \n end a word.
        let reqs = parse_all(b"ECHO ab\x00cd \"x\r\n\x0bPING\x0b\r\n").unwrap();
        assert_eq!(
            reqs,
            vec![
                vec![b"ECHO".to_vec(), b"ab".to_vec()],
                vec![b"PING\x0b".to_vec()]
            ]
        );
        assert_eq!(
            parse_all(b"ECHO \"a\x00b\"\r\n").unwrap_err(),
            ProtocolError::UnbalancedQuotes
        );
        assert_eq!(
            parse_all(b"\x00PING\r\n").unwrap(),
            vec![Vec::<Vec<u8>>::new()]
        );
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        let reqs = parse_all(b"*0\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(reqs.len(), 2);
        assert!(reqs[0].is_empty());
    }

    #[test]
    fn nul_ends_an_inline_line() {
        let mut buf = Vec::new();
        let mut ranges = Vec::new();
        split_args(b"\x00abc", &mut buf, &mut ranges).unwrap();
        assert!(ranges.is_empty());
        split_args(b"get a\x00b c", &mut buf, &mut ranges).unwrap();
        let words: Vec<&[u8]> = ranges.iter().map(|r| &buf[r.clone()]).collect();
        assert_eq!(words, [&b"get"[..], b"a"]);
    }
}
