//! Redis's listpack, read and written: the blob inside RDB values of the
//! `*_LISTPACK` types, quicklist-2 nodes and stream nodes.
//!
//! Layout: `u32 total bytes, u16 element count (65535: unknown), elements,
//! 0xff`. An element is an encoding byte (7-bit uint, 6/12/32-bit string
//! length, 13/16/24/32/64-bit int) with its data, then a 1-5 byte back-length.
//! The reader checks every length against the blob before using it, so a
//! corrupt blob is an error, never an out-of-bounds read.

/// One element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Val<'_> {
    /// The element as Redis hands it out (`lpGet`): integers as decimal text.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Val::Int(v) => itoa::Buffer::new().format(v).as_bytes().to_vec(),
            Val::Str(s) => s.to_vec(),
        }
    }

    pub fn as_int(self) -> Option<i64> {
        match self {
            Val::Int(v) => Some(v),
            Val::Str(s) => crate::util::parse_i64_strict(s),
        }
    }
}

const EOF: u8 = 0xff;

/// Iterates the elements of a listpack blob; yields `Err` once on corruption.
pub struct Iter<'a> {
    lp: &'a [u8],
    pos: usize,
    done: bool,
}

/// Validates the header and returns an iterator over the elements.
pub fn iter(lp: &[u8]) -> Result<Iter<'_>, &'static str> {
    if lp.len() < 7 {
        return Err("listpack shorter than its header");
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return Err("listpack size header does not match its length");
    }
    if lp[lp.len() - 1] != EOF {
        return Err("listpack without its terminator");
    }
    Ok(Iter {
        lp,
        pos: 6,
        done: false,
    })
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

impl<'a> Iter<'a> {
    fn element(&mut self) -> Result<Option<Val<'a>>, &'static str> {
        let lp = self.lp;
        let p = self.pos;
        let b = *lp.get(p).ok_or("listpack element past the end")?;
        if b == EOF {
            if p + 1 != lp.len() {
                return Err("listpack terminator before its end");
            }
            return Ok(None);
        }
        let need = |n: usize| lp.get(p..p + n).ok_or("listpack element past the end");
        let (val, enc_len) = if b & 0x80 == 0 {
            (Val::Int((b & 0x7f) as i64), 1)
        } else if b & 0xc0 == 0x80 {
            let n = (b & 0x3f) as usize;
            (Val::Str(&need(1 + n)?[1..]), 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let d = need(2)?;
            let u = (((d[0] & 0x1f) as i64) << 8) | d[1] as i64;
            (Val::Int(if u >= 1 << 12 { u - (1 << 13) } else { u }), 2)
        } else if b & 0xf0 == 0xe0 {
            let d = need(2)?;
            let n = (((d[0] & 0x0f) as usize) << 8) | d[1] as usize;
            (Val::Str(&need(2 + n)?[2..]), 2 + n)
        } else {
            match b {
                0xf0 => {
                    let d = need(5)?;
                    let n = u32::from_le_bytes([d[1], d[2], d[3], d[4]]) as usize;
                    let end = 5usize.checked_add(n).ok_or("listpack string too long")?;
                    (Val::Str(&need(end)?[5..]), end)
                }
                0xf1 => {
                    let d = need(3)?;
                    (Val::Int(i16::from_le_bytes([d[1], d[2]]) as i64), 3)
                }
                0xf2 => {
                    let d = need(4)?;
                    let u = i32::from_le_bytes([0, d[1], d[2], d[3]]) >> 8;
                    (Val::Int(u as i64), 4)
                }
                0xf3 => {
                    let d = need(5)?;
                    (
                        Val::Int(i32::from_le_bytes([d[1], d[2], d[3], d[4]]) as i64),
                        5,
                    )
                }
                0xf4 => {
                    let d = need(9)?;
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&d[1..9]);
                    (Val::Int(i64::from_le_bytes(w)), 9)
                }
                _ => return Err("listpack element with an unknown encoding"),
            }
        };
        let next = p + enc_len + backlen_size(enc_len);
        if next >= lp.len() {
            return Err("listpack element past the end");
        }
        self.pos = next;
        Ok(Some(val))
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Val<'a>, &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.element() {
            Ok(Some(v)) => Some(Ok(v)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// All elements of a listpack, checked.
pub fn collect(lp: &[u8]) -> Result<Vec<Val<'_>>, &'static str> {
    iter(lp)?.collect()
}

/// Builds a listpack element by element.
pub struct Writer {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        Writer {
            buf: vec![0; 6],
            count: 0,
        }
    }

    fn backlen(&mut self, l: usize) {
        let l = l as u64;
        match backlen_size(l as usize) {
            1 => self.buf.push(l as u8),
            2 => self
                .buf
                .extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]),
            3 => self.buf.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]),
            4 => self.buf.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]),
            _ => self.buf.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]),
        }
    }

    pub fn int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v & 0x1fff) as u16;
            self.buf
                .extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
        } else if (-32768..=32767).contains(&v) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        let l = self.buf.len() - start;
        self.backlen(l);
        self.count += 1;
    }

    /// A string element, stored as an integer when it is one (as `lpAppend`).
    pub fn str(&mut self, s: &[u8]) {
        if s.len() <= 20 {
            if let Some(v) = crate::util::parse_i64_strict(s) {
                return self.int(v);
            }
        }
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf
                .extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let l = self.buf.len() - start;
        self.backlen(l);
        self.count += 1;
    }

    pub fn val(&mut self, v: Val<'_>) {
        match v {
            Val::Int(i) => self.int(i),
            Val::Str(s) => self.str(s),
        }
    }

    /// Bytes so far, terminator included.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// The finished blob.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_round_trips() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            32767,
            -32768,
            40000,
            -8_388_608,
            8_388_607,
            8_388_608,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i64::MIN,
            i64::MAX,
        ];
        let big = vec![b'x'; 70_000];
        let mid = vec![b'y'; 300];
        let mut w = Writer::new();
        for &i in &ints {
            w.int(i);
        }
        w.str(b"hello");
        w.str(&mid);
        w.str(&big);
        w.str(b"-17");
        w.str(b"007");
        let lp = w.finish();
        let got = collect(&lp).expect("valid");
        let mut want: Vec<Val> = ints.iter().map(|&i| Val::Int(i)).collect();
        want.extend([
            Val::Str(b"hello"),
            Val::Str(&mid),
            Val::Str(&big),
            Val::Int(-17),
            Val::Str(b"007"),
        ]);
        assert_eq!(got, want);
        assert_eq!(u16::from_le_bytes([lp[4], lp[5]]) as usize, want.len());
        // Truncation and header damage are caught.
        for cut in 0..lp.len().min(400) {
            let mut bad = lp[..cut].to_vec();
            bad.push(0xff);
            let _ = collect(&bad);
        }
        let mut bad = lp.clone();
        bad[0] ^= 1;
        assert!(collect(&bad).is_err());
    }
}
