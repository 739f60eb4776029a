//! Readers for the compact blobs older Redis versions wrote and Redis 7.0
//! still loads: ziplists (quicklist nodes, `*_ZIPLIST` types), zipmaps
//! (`HASH_ZIPMAP`, Redis 2.x), and intsets (`SET_INTSET`, also written).
//! Every length is checked against the blob before it is used.

use super::listpack::Val;

/// The elements of a ziplist: `u32 bytes, u32 tail, u16 count, entries,
/// 0xff`; an entry is a previous-length (1 or 5 bytes), an encoding and data.
pub fn ziplist(zl: &[u8]) -> Result<Vec<Val<'_>>, &'static str> {
    const TRUNC: &str = "ziplist entry past the end";
    if zl.len() < 11 {
        return Err("ziplist shorter than its header");
    }
    if u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize != zl.len() {
        return Err("ziplist size header does not match its length");
    }
    let mut out = Vec::new();
    let mut p = 10;
    loop {
        let b = *zl.get(p).ok_or(TRUNC)?;
        if b == 0xff {
            if p + 1 != zl.len() {
                return Err("ziplist terminator before its end");
            }
            return Ok(out);
        }
        p += if b == 0xfe { 5 } else { 1 };
        let enc = *zl.get(p).ok_or(TRUNC)?;
        let need =
            |from: usize, n: usize| zl.get(from..from.checked_add(n).ok_or(TRUNC)?).ok_or(TRUNC);
        let (val, len) = match enc >> 6 {
            0 => {
                let n = (enc & 0x3f) as usize;
                (Val::Str(need(p + 1, n)?), 1 + n)
            }
            1 => {
                let d = need(p, 2)?;
                let n = (((d[0] & 0x3f) as usize) << 8) | d[1] as usize;
                (Val::Str(need(p + 2, n)?), 2 + n)
            }
            2 => {
                let d = need(p + 1, 4)?;
                let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize;
                (Val::Str(need(p + 5, n)?), 5 + n)
            }
            _ => match enc {
                0xc0 => {
                    let d = need(p + 1, 2)?;
                    (Val::Int(i16::from_le_bytes([d[0], d[1]]) as i64), 3)
                }
                0xd0 => {
                    let d = need(p + 1, 4)?;
                    (
                        Val::Int(i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64),
                        5,
                    )
                }
                0xe0 => {
                    let d = need(p + 1, 8)?;
                    let mut w = [0u8; 8];
                    w.copy_from_slice(d);
                    (Val::Int(i64::from_le_bytes(w)), 9)
                }
                0xf0 => {
                    let d = need(p + 1, 3)?;
                    (
                        Val::Int((i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8) as i64),
                        4,
                    )
                }
                0xfe => (
                    Val::Int(*need(p + 1, 1)?.first().ok_or(TRUNC)? as i8 as i64),
                    2,
                ),
                0xf1..=0xfd => (Val::Int((enc & 0x0f) as i64 - 1), 1),
                _ => return Err("ziplist entry with an unknown encoding"),
            },
        };
        p += len;
        out.push(val);
    }
}

/// A field and its value.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// The field/value pairs of a zipmap: `u8 count, (len key len free value
/// [free bytes])*, 0xff`, lengths 1 byte, or 254 and a 4-byte length.
pub fn zipmap(zm: &[u8]) -> Result<Vec<Pair<'_>>, &'static str> {
    const TRUNC: &str = "zipmap entry past the end";
    let mut p = 1usize;
    let mut out = Vec::new();
    let len_at = |p: usize| -> Result<(usize, usize), &'static str> {
        match *zm.get(p).ok_or(TRUNC)? {
            254 => {
                let d = zm.get(p + 1..p + 5).ok_or(TRUNC)?;
                Ok((u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize, 5))
            }
            255 => Err("zipmap length where an entry was expected"),
            n => Ok((n as usize, 1)),
        }
    };
    loop {
        if *zm.get(p).ok_or(TRUNC)? == 0xff {
            if p + 1 != zm.len() {
                return Err("zipmap terminator before its end");
            }
            return Ok(out);
        }
        let (klen, n) = len_at(p)?;
        p += n;
        let key = zm.get(p..p.checked_add(klen).ok_or(TRUNC)?).ok_or(TRUNC)?;
        p += klen;
        let (vlen, n) = len_at(p)?;
        p += n;
        let free = *zm.get(p).ok_or(TRUNC)? as usize;
        p += 1;
        let val = zm.get(p..p.checked_add(vlen).ok_or(TRUNC)?).ok_or(TRUNC)?;
        p += vlen + free;
        out.push((key, val));
    }
}

/// The members of an intset blob: `u32 width (2, 4, 8), u32 count, values`,
/// little-endian, strictly ascending.
pub fn intset(is: &[u8]) -> Result<Vec<i64>, &'static str> {
    if is.len() < 8 {
        return Err("intset shorter than its header");
    }
    let width = u32::from_le_bytes([is[0], is[1], is[2], is[3]]) as usize;
    let count = u32::from_le_bytes([is[4], is[5], is[6], is[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset with an invalid encoding");
    }
    if count.checked_mul(width).and_then(|b| b.checked_add(8)) != Some(is.len()) {
        return Err("intset size does not match its length");
    }
    let mut out: Vec<i64> = Vec::with_capacity(count);
    for c in is[8..].chunks_exact(width) {
        let v = match width {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
            _ => {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                i64::from_le_bytes(w)
            }
        };
        if out.last().is_some_and(|&l| l >= v) {
            return Err("intset members out of order");
        }
        out.push(v);
    }
    Ok(out)
}

/// An intset blob of ascending, distinct `members` at the narrowest width.
pub fn write_intset(members: &[i64]) -> Vec<u8> {
    let width: usize = if members.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if members.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + members.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &v in members {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_round_trips_at_each_width() {
        for set in [
            vec![-3i64, 5, 100],
            vec![-70_000, 1],
            vec![i64::MIN, 0, i64::MAX],
        ] {
            assert_eq!(intset(&write_intset(&set)).expect("valid"), set);
        }
        let mut bad = write_intset(&[1, 2]);
        bad[8] = 9;
        assert!(intset(&bad).is_err());
        assert!(intset(&bad[..9]).is_err());
    }

    #[test]
    fn ziplist_of_each_encoding() {
        // Built by hand: "ab", 7 (imm), -2 (int8), 300 (int16), 1 (imm).
        let mut zl = vec![0u8; 10];
        let entries: Vec<Vec<u8>> = vec![
            vec![0, 0x02, b'a', b'b'],
            vec![4, 0xf8],
            vec![2, 0xfe, 0xfe],
            vec![3, 0xc0, 0x2c, 0x01],
            vec![4, 0xf2],
        ];
        for e in &entries {
            zl.extend_from_slice(e);
        }
        zl.push(0xff);
        let n = zl.len() as u32;
        zl[0..4].copy_from_slice(&n.to_le_bytes());
        let got = ziplist(&zl).expect("valid");
        assert_eq!(
            got,
            vec![
                Val::Str(b"ab"),
                Val::Int(7),
                Val::Int(-2),
                Val::Int(300),
                Val::Int(1)
            ]
        );
        assert!(ziplist(&zl[..zl.len() - 2]).is_err());
    }

    #[test]
    fn zipmap_pairs() {
        let zm = [2u8, 1, b'a', 2, 0, b'x', b'y', 1, b'b', 1, 1, b'z', 0, 0xff];
        assert_eq!(
            zipmap(&zm).expect("valid"),
            vec![(&b"a"[..], &b"xy"[..]), (&b"b"[..], &b"z"[..])]
        );
        assert!(zipmap(&zm[..6]).is_err());
    }
}
