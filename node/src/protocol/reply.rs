//! Reply encoding for RESP2 and RESP3 into a connection's output buffer.
//!
//! Each method writes the RESP3 type when the client negotiated protocol 3 with
//! HELLO, and the RESP2 shape Redis uses for the same reply otherwise (maps become
//! flat arrays, doubles become bulk strings, nulls become `$-1`/`*-1`).

/// An output buffer plus the protocol version it encodes for.
pub struct Out {
    pub buf: Vec<u8>,
    pub resp3: bool,
}

impl Out {
    pub fn new() -> Out {
        Out {
            buf: Vec::with_capacity(16 * 1024),
            resp3: false,
        }
    }

    #[inline]
    fn header(&mut self, prefix: u8, n: i64) {
        self.buf.push(prefix);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// `+text` (text must not contain CR or LF).
    #[inline]
    pub fn simple(&mut self, text: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(text.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `-text`; `text` starts with the error code (`ERR ...`, `WRONGTYPE ...`).
    /// As Redis's addReplyErrorFormat: CR and LF at either end are trimmed
    /// (an argument echoed last, `Unsupported option x\r`, loses its CR),
    /// those inside become spaces.
    pub fn error(&mut self, text: &str) {
        let text = text.trim_matches(['\r', '\n']);
        self.buf.push(b'-');
        self.buf.extend(
            text.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, v: i64) {
        self.header(b':', v);
    }

    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes())
    }

    /// A bulk string holding a formatted integer (e.g. INCRBYFLOAT-style replies).
    pub fn bulk_int(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(v).as_bytes());
    }

    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    #[inline]
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs: `%n` in RESP3, an array of 2n in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set of `n` elements: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'~', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    /// An out-of-band push of `n` elements: `>n` in RESP3, an array in RESP2.
    pub fn push(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'>', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    /// A double: `,v` in RESP3, a bulk string in RESP2 (Redis's `%.17g` form).
    pub fn double(&mut self, v: f64) {
        let s = crate::util::format_f64(v);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// Verbatim text (INFO, CLIENT LIST...): `=len\r\ntxt:...` in RESP3, bulk in RESP2.
    pub fn verbatim(&mut self, text: &str) {
        if self.resp3 {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// Appends already-encoded bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

impl Default for Out {
    fn default() -> Self {
        Out::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_shapes() {
        let mut o = Out::new();
        o.map(1);
        o.null();
        o.double(1.5);
        o.boolean(true);
        assert_eq!(o.buf, b"*2\r\n$-1\r\n$3\r\n1.5\r\n:1\r\n");
        let mut o = Out::new();
        o.resp3 = true;
        o.map(1);
        o.null();
        o.double(1.5);
        o.boolean(true);
        o.verbatim("hi");
        assert_eq!(o.buf, b"%1\r\n_\r\n,1.5\r\n#t\r\n=6\r\ntxt:hi\r\n");
    }

    #[test]
    fn errors_have_no_newlines() {
        let mut o = Out::new();
        o.error("ERR a\r\nb");
        assert_eq!(o.buf, b"-ERR a  b\r\n");
        o.buf.clear();
        o.error("ERR Unsupported option x\r\n\r");
        assert_eq!(o.buf, b"-ERR Unsupported option x\r\n");
    }
}
