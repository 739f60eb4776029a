//! CRC-64/Jones, the checksum Redis appends to RDB files and DUMP payloads
//! (reflected polynomial 0xad93d23594c935a9, initial value 0, no final xor;
//! `crc64(0, "123456789") == 0xe9c6d914c4b8d9ca`).
//!
//! Slicing-by-8 over tables built at compile time: loading a multi-gigabyte
//! snapshot checksums every byte, so the bytewise loop would be the bottleneck.

/// The polynomial, bit-reflected.
const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

const fn tables() -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

static T: [[u64; 256]; 8] = tables();

/// Continues the checksum `crc` over `data`.
pub fn update(mut crc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = crc ^ u64::from_le_bytes(w);
        crc = T[7][(v & 0xff) as usize]
            ^ T[6][((v >> 8) & 0xff) as usize]
            ^ T[5][((v >> 16) & 0xff) as usize]
            ^ T[4][((v >> 24) & 0xff) as usize]
            ^ T[3][((v >> 32) & 0xff) as usize]
            ^ T[2][((v >> 40) & 0xff) as usize]
            ^ T[1][((v >> 48) & 0xff) as usize]
            ^ T[0][(v >> 56) as usize];
    }
    for &b in chunks.remainder() {
        crc = T[0][((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// The checksum of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    update(0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_test_vector() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        let text = b"This is a test of the emergency broadcast system.";
        // Incremental equals one-shot at every split point.
        for split in 0..text.len() {
            assert_eq!(
                update(update(0, &text[..split]), &text[split..]),
                crc64(text)
            );
        }
    }
}
