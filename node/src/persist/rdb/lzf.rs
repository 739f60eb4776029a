//! LZF, the compression Redis applies to RDB strings (`rdbcompression yes`).
//!
//! Format (liblzf): a control byte `c`; `c < 32` is a literal run of `c + 1`
//! bytes; otherwise `len = c >> 5` (7 means "add the next byte"), and the match
//! copies `len + 2` bytes from `((c & 0x1f) << 8 | next) + 1` bytes back.
//! The compressor is a greedy single-probe hash matcher like liblzf's; its
//! output differs from liblzf's in places but any LZF decoder reads it.

const HLOG: u32 = 14;
const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

#[inline]
fn hash3(p: &[u8], hlog: u32) -> usize {
    let v = (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2]);
    (v.wrapping_mul(0x9E37_79B1) >> (32 - hlog)) as usize
}

/// Compresses `input`; `None` when the result would not be shorter than
/// `max_out` bytes (Redis then stores the string uncompressed).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Vec::with_capacity(max_out.min(n + n / 16 + 64));
    // A table sized to the input: most values are short, and zeroing a
    // full-size table per string would cost more than compressing it.
    let hlog = (usize::BITS - n.leading_zeros()).clamp(8, HLOG);
    let mut table = vec![0u32; 1 << hlog];
    let mut lit_start = 0usize;
    let mut ip = 0usize;
    let flush_lits = |out: &mut Vec<u8>, from: usize, to: usize| {
        let mut s = from;
        while s < to {
            let run = (to - s).min(MAX_LIT);
            out.push((run - 1) as u8);
            out.extend_from_slice(&input[s..s + run]);
            s += run;
        }
    };
    while ip + 2 < n {
        let h = hash3(&input[ip..], hlog);
        let cand = table[h] as usize;
        table[h] = (ip + 1) as u32;
        if cand > 0 {
            let r = cand - 1;
            let off = ip - r - 1;
            if off < MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
                let max = (n - ip).min(MAX_REF);
                let mut len = 3;
                while len < max && input[r + len] == input[ip + len] {
                    len += 1;
                }
                flush_lits(&mut out, lit_start, ip);
                let l = len - 2;
                if l < 7 {
                    out.push(((l << 5) | (off >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (off >> 8)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                if out.len() >= max_out {
                    return None;
                }
                // Index the positions the match covered (as liblzf's ULTRA_FAST
                // off does for the last two), so later repeats are found.
                let end = ip + len;
                ip += 1;
                while ip < end {
                    if ip + 2 < n {
                        table[hash3(&input[ip..], hlog)] = (ip + 1) as u32;
                    }
                    ip += 1;
                }
                lit_start = ip;
                continue;
            }
        }
        ip += 1;
        if ip - lit_start > 4096 && out.len() + (ip - lit_start) >= max_out {
            return None;
        }
    }
    flush_lits(&mut out, lit_start, n);
    (out.len() < max_out).then_some(out)
}

/// Decompresses `input` into exactly `out_len` bytes; `None` when the input is
/// not a valid LZF stream of that length.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    // A 3-byte back reference expands to at most 264 bytes: a longer claim is
    // corrupt, and the claim is not trusted for the allocation either.
    if out_len > input.len().saturating_mul(MAX_REF / 3 + 1) + MAX_LIT {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(out_len.min(input.len().saturating_mul(4)));
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run)?;
            if out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            len += 2;
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let from = out.len() - back;
            for k in 0..len {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let mut samples: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello hello hello hello hello world world world".to_vec(),
        ];
        let mut x = 12345u64;
        let mut rnd = Vec::new();
        for i in 0..100_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            rnd.push(if i % 3 == 0 {
                (x % 4) as u8
            } else {
                b'a' + (i % 17) as u8
            });
        }
        samples.push(rnd);
        for s in &samples {
            let c = compress(s, s.len()).expect("compressible");
            assert!(c.len() < s.len());
            assert_eq!(decompress(&c, s.len()).as_deref(), Some(&s[..]));
            assert!(decompress(&c, s.len() + 1).is_none());
        }
        // Incompressible input does not compress.
        let noise: Vec<u8> = (0..64u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert!(compress(&noise, noise.len() - 4).is_none());
        // A back reference before the start is refused.
        assert!(decompress(&[0x20, 0x05], 3).is_none());
    }
}
