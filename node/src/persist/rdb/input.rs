//! Buffered RDB input: counts the offset (every error names it), checksums
//! what it consumes, and decodes the primitives (lengths, strings in their
//! integer and LZF encodings, times, doubles). No length read from the input
//! is trusted for an allocation: a string grows as its bytes actually arrive.

use std::io::Read;

use super::{crc64, lzf, RdbError};

/// Buffered input that tracks its offset and the CRC-64 of consumed bytes.
pub struct Input<R> {
    r: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    offset: u64,
    crc: u64,
}

/// Largest step by which a string buffer grows before its bytes are read.
const GROW_STEP: usize = 1 << 20;

impl<R: Read> Input<R> {
    pub fn new(r: R) -> Input<R> {
        Input {
            r,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            pos: 0,
            end: 0,
            offset: 0,
            crc: 0,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn corrupt<T>(&self, reason: impl Into<String>) -> Result<T, RdbError> {
        Err(RdbError::Corrupt {
            offset: self.offset,
            reason: reason.into(),
        })
    }

    pub fn unsupported<T>(&self, reason: impl Into<String>) -> Result<T, RdbError> {
        Err(RdbError::Unsupported {
            offset: self.offset,
            reason: reason.into(),
        })
    }

    fn fill(&mut self) -> Result<(), RdbError> {
        loop {
            match self.r.read(&mut self.buf) {
                Ok(0) => return self.corrupt("unexpected end of data"),
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(RdbError::Io {
                        offset: self.offset,
                        source: e,
                    })
                }
            }
        }
    }

    /// Appends exactly `n` bytes to `out`.
    fn take_into(&mut self, mut n: usize, out: &mut Vec<u8>) -> Result<(), RdbError> {
        while n > 0 {
            if self.pos == self.end {
                self.fill()?;
            }
            let k = n.min(self.end - self.pos);
            let chunk = &self.buf[self.pos..self.pos + k];
            self.crc = crc64::update(self.crc, chunk);
            if out.capacity() - out.len() < k {
                out.reserve(k.max(out.len().min(GROW_STEP)));
            }
            out.extend_from_slice(chunk);
            self.pos += k;
            self.offset += k as u64;
            n -= k;
        }
        Ok(())
    }

    pub fn bytes(&mut self, n: usize) -> Result<Vec<u8>, RdbError> {
        let mut v = Vec::new();
        self.take_into(n, &mut v)?;
        Ok(v)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut a = [0u8; N];
        for b in a.iter_mut() {
            *b = self.u8()?;
        }
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, RdbError> {
        if self.pos == self.end {
            self.fill()?;
        }
        let b = self.buf[self.pos];
        self.crc = crc64::update(self.crc, &[b]);
        self.pos += 1;
        self.offset += 1;
        Ok(b)
    }

    /// A length, or `Err` when it is one of the special string encodings.
    fn len_or_enc(&mut self) -> Result<Result<u64, u8>, RdbError> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Ok((b & 0x3f) as u64),
            1 => Ok((((b & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 => match b {
                0x80 => Ok(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Ok(u64::from_be_bytes(self.array()?)),
                _ => return self.corrupt(format!("unknown length encoding {b:#04x}")),
            },
            _ => Err(b & 0x3f),
        })
    }

    pub fn length(&mut self) -> Result<u64, RdbError> {
        match self.len_or_enc()? {
            Ok(n) => Ok(n),
            Err(e) => self.corrupt(format!("string encoding {e} where a length was expected")),
        }
    }

    /// A length that must fit memory (a count or size).
    pub fn usize(&mut self) -> Result<usize, RdbError> {
        let n = self.length()?;
        match usize::try_from(n) {
            Ok(n) => Ok(n),
            Err(_) => self.corrupt(format!("length {n} out of range")),
        }
    }

    /// A string in any of its encodings.
    pub fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.len_or_enc()? {
            Ok(n) => {
                let Ok(n) = usize::try_from(n) else {
                    return self.corrupt(format!("string length {n} out of range"));
                };
                self.bytes(n)
            }
            Err(0) => Ok(itoa::Buffer::new()
                .format(self.u8()? as i8)
                .as_bytes()
                .to_vec()),
            Err(1) => Ok(itoa::Buffer::new()
                .format(i16::from_le_bytes(self.array()?))
                .as_bytes()
                .to_vec()),
            Err(2) => Ok(itoa::Buffer::new()
                .format(i32::from_le_bytes(self.array()?))
                .as_bytes()
                .to_vec()),
            Err(3) => {
                let clen = self.usize()?;
                let ulen = self.usize()?;
                let c = self.bytes(clen)?;
                match lzf::decompress(&c, ulen) {
                    Some(v) => Ok(v),
                    None => self.corrupt("invalid LZF-compressed string"),
                }
            }
            Err(e) => self.corrupt(format!("unknown string encoding {e}")),
        }
    }

    pub fn ms_time(&mut self) -> Result<i64, RdbError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub fn f64_bin(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// The text double of the old `ZSET` type: a length byte, or 253 NaN,
    /// 254 +inf, 255 -inf.
    pub fn f64_text(&mut self) -> Result<f64, RdbError> {
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let b = self.bytes(n as usize)?;
                match std::str::from_utf8(&b)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                {
                    Some(v) => Ok(v),
                    None => self.corrupt("invalid score"),
                }
            }
        }
    }

    /// The checksum of everything consumed so far.
    pub fn crc(&self) -> u64 {
        self.crc
    }
}
