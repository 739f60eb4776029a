//! Bit commands: SETBIT GETBIT BITCOUNT BITPOS BITOP, and BITFIELD in [`bitfield`].
//!
//! Bits are numbered from the most significant bit of the first byte, as in Redis.

mod bitfield;

use super::flags::*;
use super::strings::{store, str_of, with_string_mut};
use super::{err, Args, CmdError, CmdResult, CommandSpec, Ctx, SYNTAX};

use super::keyed as cmd;

const GROUP: &str = "bitmap";

pub static COMMANDS: &[CommandSpec] = &[
    cmd!("setbit", 4, WRITE | DENYOOM, 1, 1, 1, setbit, "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."),
    cmd!("getbit", 3, READONLY | FAST, 1, 1, 1, getbit, "2.2.0", "Returns a bit value by offset."),
    cmd!("bitcount", -2, READONLY, 1, 1, 1, bitcount, "2.6.0", "Counts the number of set bits (population counting) in a string."),
    cmd!("bitpos", -3, READONLY, 1, 1, 1, bitpos, "2.8.7", "Finds the first set (1) or clear (0) bit in a string."),
    cmd!("bitop", -4, WRITE | DENYOOM, 2, -1, 1, bitop, "2.6.0", "Performs bitwise operations on multiple strings, and stores the result."),
    cmd!("bitfield", -2, WRITE | DENYOOM, 1, 1, 1, bitfield::bitfield, "3.2.0", "Performs arbitrary bitfield integer operations on strings."),
    cmd!("bitfield_ro", -2, READONLY | FAST, 1, 1, 1, bitfield::bitfield_ro, "6.0.0", "Performs arbitrary read-only bitfield integer operations on strings."),
];

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// Redis's `getBitOffsetFromArgument`: a bit offset whose byte lies below
/// proto-max-bulk-len; with `bits > 0`, `#n` means `n * bits`.
fn bit_offset(ctx: &Ctx, arg: &[u8], bits: u32) -> Result<u64, CmdError> {
    let hash = bits > 0 && arg.len() > 1 && arg[0] == b'#';
    let digits = if hash { &arg[1..] } else { arg };
    let mut v = crate::util::parse_i64_strict(digits).ok_or(CmdError::from(BAD_OFFSET))?;
    if hash {
        // Redis multiplies without an overflow check; wrapping mirrors it.
        v = v.wrapping_mul(bits as i64);
    }
    if v < 0 {
        return err(BAD_OFFSET);
    }
    let byte = (v >> 3) as u64;
    // The parameter cannot go below 1 MiB: small offsets never read it.
    if byte >= 1024 * 1024 && byte >= ctx.srv.config.get_i64("proto-max-bulk-len") as u64 {
        return err(BAD_OFFSET);
    }
    Ok(v as u64)
}

/// `SETBIT key offset value`
fn setbit(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let offset = bit_offset(ctx, args.get(2), 0)?;
    const BAD_BIT: &str = "ERR bit is not an integer or out of range";
    let on = crate::util::parse_i64_strict(args.get(3)).ok_or(CmdError::from(BAD_BIT))?;
    if on & !1 != 0 {
        return err(BAD_BIT);
    }
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    // Offsets are bounded by proto-max-bulk-len bytes above.
    let byte = (offset >> 3) as usize;
    let mask = 1u8 << (7 - (offset & 7));
    let old = with_string_mut(ks, &mut sh, h, key, ctx.now_ms, byte + 1, |buf| {
        let old = buf[byte] & mask != 0;
        if on == 1 {
            buf[byte] |= mask;
        } else {
            buf[byte] &= !mask;
        }
        Ok(old)
    })?;
    ctx.out.int(old as i64);
    Ok(())
}

/// `GETBIT key offset`
fn getbit(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let offset = bit_offset(ctx, args.get(2), 0)?;
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    let bit = match ks.read(&mut sh, h, key, ctx.now_ms) {
        Some(slot) => {
            let view = sh.view(slot);
            let s = str_of(&view)?;
            let byte = (offset >> 3) as usize;
            s.get(byte)
                .is_some_and(|b| b & (1 << (7 - (offset & 7))) != 0)
        }
        None => false,
    };
    ctx.out.int(bit as i64);
    Ok(())
}

/// Counts set bits, eight bytes at a time.
fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut n: u64 = chunks
        .by_ref()
        .map(|c| {
            u64::from_ne_bytes(c.try_into().expect("chunks_exact(8) yields 8 bytes")).count_ones()
                as u64
        })
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    n
}

/// `BYTE` (default) or `BIT` at argument `i`.
fn range_unit(args: &Args, i: usize) -> Result<bool, CmdError> {
    if args.is(i, "bit") {
        Ok(true)
    } else if args.is(i, "byte") {
        Ok(false)
    } else {
        err(SYNTAX)
    }
}

/// `BITCOUNT key [start end [BYTE | BIT]]`
fn bitcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    // Redis 7.0 answers 0 for a missing key before looking at the range.
    let Some(slot) = ks.read(&mut sh, h, key, ctx.now_ms) else {
        ctx.out.int(0);
        return Ok(());
    };
    let view = sh.view(slot);
    let s = str_of(&view)?;
    let n = match args.len() {
        2 => popcount(s),
        4 | 5 => {
            let start = args.int(2)?;
            let end = args.int(3)?;
            if start < 0 && end < 0 && start > end {
                ctx.out.int(0);
                return Ok(());
            }
            let in_bits = args.len() == 5 && range_unit(args, 4)?;
            match clamp_bits(start, end, s.len(), in_bits) {
                Some((first, last)) => count_bits(s, first, last),
                None => 0,
            }
        }
        _ => return err(SYNTAX),
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// Resolves a BITCOUNT/BITPOS range (inclusive, negative from the end, in bytes
/// or bits) over a string of `len` bytes to an inclusive bit range.
fn clamp_bits(start: i64, end: i64, len: usize, in_bits: bool) -> Option<(u64, u64)> {
    let total = if in_bits { len as i64 * 8 } else { len as i64 };
    let start = if start < 0 { total + start } else { start }.max(0);
    let end = if end < 0 { total + end } else { end }
        .max(0)
        .min(total - 1);
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if in_bits {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    })
}

/// Set bits in the inclusive bit range `first..=last`.
fn count_bits(s: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let mut n = popcount(&s[fb..=lb]);
    // Take away the bits of the edge bytes that fall outside the range.
    n -= (s[fb] & !(0xffu8 >> (first & 7))).count_ones() as u64;
    n -= (s[lb] & (0xffu16 >> ((last & 7) + 1)) as u8).count_ones() as u64;
    n
}

/// `BITPOS key bit [start [end [BYTE | BIT]]]`
fn bitpos(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let bit = args.int(2)?;
    if bit != 0 && bit != 1 {
        return err("ERR The bit argument must be 1 or 0.");
    }
    let want = bit == 1;
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    // A missing key is an endless run of zeros.
    let Some(slot) = ks.read(&mut sh, h, key, ctx.now_ms) else {
        ctx.out.int(if want { -1 } else { 0 });
        return Ok(());
    };
    let view = sh.view(slot);
    let s = str_of(&view)?;
    let (range, end_given) = match args.len() {
        3 => (clamp_bits(0, -1, s.len(), false), false),
        4..=6 => {
            let start = args.int(3)?;
            let in_bits = args.len() == 6 && range_unit(args, 5)?;
            let end_given = args.len() >= 5;
            let end = if end_given { args.int(4)? } else { -1 };
            (clamp_bits(start, end, s.len(), in_bits), end_given)
        }
        _ => return err(SYNTAX),
    };
    let pos = match range {
        None => -1,
        Some((first, last)) => match find_bit(s, first, last, want) {
            Some(p) => p as i64,
            // Looking for a zero past the end of an open range finds the padding.
            None if !want && !end_given => last as i64 + 1,
            None => -1,
        },
    };
    ctx.out.int(pos);
    Ok(())
}

/// First bit equal to `want` in the inclusive bit range `first..=last`.
fn find_bit(s: &[u8], first: u64, last: u64, want: bool) -> Option<u64> {
    let skip = if want { 0x00 } else { 0xff };
    let mut p = first;
    while p <= last {
        let byte = s[(p >> 3) as usize];
        if p & 7 == 0 && last - p >= 7 && byte == skip {
            p += 8;
            continue;
        }
        if (byte & (0x80 >> (p & 7)) != 0) == want {
            return Some(p);
        }
        p += 1;
    }
    None
}

/// `BITOP <AND | OR | XOR | NOT> destkey key [key ...]`
fn bitop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = match args.get(1).to_ascii_lowercase().as_slice() {
        b"and" => Op::And,
        b"or" => Op::Or,
        b"xor" => Op::Xor,
        b"not" => Op::Not,
        _ => return err(SYNTAX),
    };
    if op == Op::Not && args.len() != 4 {
        return err("ERR BITOP NOT must be called with a single source key.");
    }
    let ks = ctx.ks();
    let hashes: Vec<u64> = (2..args.len()).map(|i| ks.hash(args.get(i))).collect();
    let mut locked = ctx.db().lock_many(&hashes);
    let sources = &hashes[1..];
    // First pass: type checks and lengths (a missing key is an empty string).
    let mut lens = Vec::with_capacity(sources.len());
    for (i, &h) in sources.iter().enumerate() {
        let sh = locked.stripe(h);
        let len = match ks.read(sh, h, args.get(i + 3), ctx.now_ms) {
            Some(slot) => str_of(&sh.view(slot))?.len(),
            None => 0,
        };
        lens.push(len);
    }
    let maxlen = lens.iter().copied().max().unwrap_or(0);
    // Second pass: fold each source into the result, reading it in place.
    let mut res = vec![0u8; maxlen];
    for (i, &h) in sources.iter().enumerate() {
        let sh = locked.stripe(h);
        let slot = ks.live(sh, h, args.get(i + 3), ctx.now_ms);
        let view = slot.map(|s| sh.view(s));
        let src: &[u8] = match &view {
            Some(v) => str_of(v)?,
            None => &[],
        };
        let byte = |j: usize| src.get(j).copied().unwrap_or(0);
        if i == 0 {
            for (j, r) in res.iter_mut().enumerate() {
                *r = if op == Op::Not { !byte(j) } else { byte(j) };
            }
            continue;
        }
        for (j, r) in res.iter_mut().enumerate() {
            match op {
                Op::And => *r &= byte(j),
                Op::Or => *r |= byte(j),
                Op::Xor => *r ^= byte(j),
                Op::Not => {}
            }
        }
    }
    let dest = args.get(2);
    let dh = hashes[0];
    let sh = locked.stripe(dh);
    let slot = ks.live(sh, dh, dest, ctx.now_ms);
    if maxlen > 0 {
        store(sh, dh, slot, dest, &res, None, ctx.now_ms);
    } else if let Some(s) = slot {
        drop(sh.remove(s, dh));
    }
    ctx.out.int(maxlen as i64);
    Ok(())
}
