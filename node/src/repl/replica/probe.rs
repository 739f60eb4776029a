//! Does a full-sync payload hold any key? Answered from the payload's first
//! bytes, before anything is loaded, for the empty-dataset safety rule (see
//! `sync`).
//!
//! An RDB file is `REDIS<4 digits>`, then auxiliary fields and function
//! libraries, then per non-empty database a SELECTDB opcode and its keys, then
//! EOF and a checksum. Redis writes SELECTDB only for databases holding keys,
//! so a payload whose metadata runs straight into EOF is an empty dataset.
//! The probe answers [`Probe::Empty`] only when it has seen exactly that;
//! anything it does not recognise counts as data, so an unknown format can
//! never make a replica refuse a sync.

/// What the first bytes of a payload say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Metadata then EOF: no key.
    Empty,
    /// A database selector, a key, or something unknown: treat as data.
    HasData,
    /// The bytes so far are metadata; more are needed to decide.
    NeedMore,
}

const OP_FUNCTION2: u8 = 0xf5;
const OP_RESIZEDB: u8 = 0xfb;
const OP_AUX: u8 = 0xfa;
const OP_EOF: u8 = 0xff;

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

/// `None`: the bytes end before the item does.
impl Cursor<'_> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        let end = (self.pos as u64).checked_add(n)?;
        if end > self.b.len() as u64 {
            return None;
        }
        self.pos = end as usize;
        Some(())
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 8) | self.byte()? as u64;
        }
        Some(v)
    }

    /// An RDB length: `Ok(len)`, or `Err(encoding)` for an encoded string.
    fn len(&mut self) -> Option<Result<u64, u8>> {
        let b = self.byte()?;
        Some(match b >> 6 {
            0 => Ok((b & 0x3f) as u64),
            1 => Ok((((b & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 if b == 0x80 => Ok(self.be(4)?),
            2 if b == 0x81 => Ok(self.be(8)?),
            2 => Err(0xff), // not a valid length
            _ => Err(b & 0x3f),
        })
    }

    /// Skips one RDB string; `Some(false)` when it is malformed.
    fn string(&mut self) -> Option<bool> {
        match self.len()? {
            Ok(n) => self.skip(n).map(|_| true),
            Err(0) => self.skip(1).map(|_| true),
            Err(1) => self.skip(2).map(|_| true),
            Err(2) => self.skip(4).map(|_| true),
            Err(3) => {
                // LZF: compressed length, original length, compressed bytes.
                let Ok(clen) = self.len()? else {
                    return Some(false);
                };
                let Ok(_) = self.len()? else {
                    return Some(false);
                };
                self.skip(clen).map(|_| true)
            }
            Err(_) => Some(false),
        }
    }
}

/// Probes the first bytes of an RDB payload.
pub fn probe(bytes: &[u8]) -> Probe {
    if bytes.len() < 9 {
        return Probe::NeedMore;
    }
    if &bytes[..5] != b"REDIS" || !bytes[5..9].iter().all(u8::is_ascii_digit) {
        return Probe::HasData;
    }
    let mut c = Cursor { b: bytes, pos: 9 };
    loop {
        let Some(op) = c.byte() else {
            return Probe::NeedMore;
        };
        let step = match op {
            OP_EOF => return Probe::Empty,
            OP_AUX => c
                .string()
                .and_then(|ok| if ok { c.string() } else { Some(false) }),
            OP_FUNCTION2 => c.string(),
            OP_RESIZEDB => c
                .len()
                .and_then(|a| c.len().map(|b| a.is_ok() && b.is_ok())),
            _ => return Probe::HasData,
        };
        match step {
            None => return Probe::NeedMore,
            Some(false) => return Probe::HasData,
            Some(true) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aux(out: &mut Vec<u8>, k: &[u8], v: &[u8]) {
        out.push(OP_AUX);
        out.push(k.len() as u8);
        out.extend_from_slice(k);
        out.push(v.len() as u8);
        out.extend_from_slice(v);
    }

    #[test]
    fn empty_and_non_empty_payloads() {
        let mut rdb = b"REDIS0010".to_vec();
        aux(&mut rdb, b"redis-ver", b"7.0.15");
        // An integer-encoded aux value (redis-bits 64) and a 14-bit length.
        rdb.extend_from_slice(&[OP_AUX, 10]);
        rdb.extend_from_slice(b"redis-bits");
        rdb.extend_from_slice(&[0xc0, 64]);
        rdb.extend_from_slice(&[OP_AUX, 0x40, 3, b'a', b'b', b'c', 0x00]);
        let meta = rdb.clone();
        for cut in 0..meta.len() {
            assert_eq!(probe(&meta[..cut]), Probe::NeedMore, "cut at {cut}");
        }
        let mut empty = meta.clone();
        empty.push(OP_EOF);
        empty.extend_from_slice(&[0; 8]);
        assert_eq!(probe(&empty), Probe::Empty);
        let mut full = meta.clone();
        full.extend_from_slice(&[0xfe, 0x00, OP_RESIZEDB, 1, 0, 0x00, 1, b'k', 1, b'v']);
        assert_eq!(probe(&full), Probe::HasData);
        assert_eq!(probe(b"NOTRDB000"), Probe::HasData);
        // A huge declared length is "need more", never a panic or allocation.
        let mut huge = b"REDIS0010".to_vec();
        huge.extend_from_slice(&[OP_AUX, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(probe(&huge), Probe::NeedMore);
    }
}
