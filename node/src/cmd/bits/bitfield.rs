//! BITFIELD and BITFIELD_RO: signed and unsigned integers of 1 to 64 bits (63 for
//! unsigned) at arbitrary bit offsets, with Redis's WRAP/SAT/FAIL overflow rules.

use super::{bit_offset, str_of, with_string_mut};
use crate::cmd::{err, Args, CmdError, CmdResult, Ctx, SYNTAX};
use crate::protocol::Out;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Get,
    Set,
    IncrBy,
}

#[derive(Clone, Copy)]
struct Op {
    kind: OpKind,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// `i1`..`i64` or `u1`..`u63` (lower case only, as in Redis). Redis reads the width as a C string, so it stops
/// at a NUL byte.
fn parse_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return err(BAD_TYPE),
    };
    let width = &arg[1..];
    let width = &width[..width.iter().position(|&b| b == 0).unwrap_or(width.len())];
    match crate::util::parse_i64_strict(width) {
        Some(b) if b >= 1 && b <= if signed { 64 } else { 63 } => Ok((signed, b as u32)),
        _ => err(BAD_TYPE),
    }
}

/// Parses every subcommand (all errors come before any effect); returns the ops
/// and the highest bit any SET/INCRBY writes, if one does.
fn parse(ctx: &Ctx, args: &Args) -> Result<(Vec<Op>, Option<u64>), CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest: Option<u64> = None;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let kind = if args.is(j, "get") && remaining >= 2 {
            OpKind::Get
        } else if args.is(j, "set") && remaining >= 3 {
            OpKind::Set
        } else if args.is(j, "incrby") && remaining >= 3 {
            OpKind::IncrBy
        } else if args.is(j, "overflow") && remaining >= 1 {
            overflow = if args.is(j + 1, "wrap") {
                Overflow::Wrap
            } else if args.is(j + 1, "sat") {
                Overflow::Sat
            } else if args.is(j + 1, "fail") {
                Overflow::Fail
            } else {
                return err("ERR Invalid OVERFLOW type specified");
            };
            j += 2;
            continue;
        } else {
            return err(SYNTAX);
        };
        let (signed, bits) = parse_type(args.get(j + 1))?;
        let offset = bit_offset(ctx, args.get(j + 2), bits)?;
        let mut value = 0;
        if kind != OpKind::Get {
            let last = offset + bits as u64 - 1;
            highest = Some(highest.map_or(last, |h| h.max(last)));
            value = args.int(j + 3)?;
        }
        ops.push(Op {
            kind,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        j += if kind == OpKind::Get { 3 } else { 4 };
    }
    Ok((ops, highest))
}

/// `BITFIELD key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> ...]]`
pub fn bitfield(ctx: &mut Ctx, args: &Args) -> CmdResult {
    run(ctx, args, false)
}

/// `BITFIELD_RO key [GET encoding offset [GET encoding offset ...]]`
pub fn bitfield_ro(ctx: &mut Ctx, args: &Args) -> CmdResult {
    run(ctx, args, true)
}

fn run(ctx: &mut Ctx, args: &Args, read_only: bool) -> CmdResult {
    let (ops, highest) = parse(ctx, args)?;
    let key = args.get(1);
    let h = ctx.hash(key);
    let ks = ctx.ks();
    let mut sh = ctx.db().lock(h);
    let Some(highest) = highest else {
        // Only GETs: read in place; a missing key reads as zeros.
        let slot = ks.read(&mut sh, h, key, ctx.now_ms);
        let view = slot.map(|s| sh.view(s));
        let s: &[u8] = match &view {
            Some(v) => str_of(v)?,
            None => &[],
        };
        ctx.out.array(ops.len());
        for op in &ops {
            ctx.out.int(get(s, op.offset, op.bits, op.signed));
        }
        return Ok(());
    };
    if read_only {
        return err("ERR BITFIELD_RO only supports the GET subcommand");
    }
    // Bounded: offsets are below proto-max-bulk-len bytes.
    let min_len = (highest >> 3) as usize + 1;
    let out: &mut Out = ctx.out;
    with_string_mut(ks, &mut sh, h, key, ctx.now_ms, min_len, |buf| {
        out.array(ops.len());
        for op in &ops {
            apply(buf, op, out);
        }
        Ok(())
    })
}

/// Reads `bits` bits at bit `offset` (most significant first); bytes past the end
/// read as zero.
fn get_unsigned(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let p = offset + i;
        let byte = s.get((p >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (p & 7))) & 1) as u64;
    }
    v
}

fn get(s: &[u8], offset: u64, bits: u32, signed: bool) -> i64 {
    let v = get_unsigned(s, offset, bits);
    if signed && bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `v` at bit `offset`; the buffer is long enough.
fn set(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..bits as u64 {
        let p = offset + i;
        let bit = (v >> (bits as u64 - 1 - i)) & 1;
        let byte = &mut s[(p >> 3) as usize];
        let mask = 0x80u8 >> (p & 7);
        if bit == 1 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: whether `value + incr` leaves the
/// range, and the value WRAP/SAT would store instead.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrapped = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrapped() })
    } else if incr < 0 && incr < minincr {
        Some(if ow == Overflow::Sat { 0 } else { wrapped() })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrapped = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrapped() })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(if ow == Overflow::Sat { min } else { wrapped() })
    } else {
        None
    }
}

/// Runs one op on the (long enough) buffer and writes its reply.
fn apply(buf: &mut [u8], op: &Op, out: &mut Out) {
    if op.kind == OpKind::Get {
        out.int(get(buf, op.offset, op.bits, op.signed));
        return;
    }
    let incr = op.kind == OpKind::IncrBy;
    let (reply, store, overflowed) = if op.signed {
        let old = get(buf, op.offset, op.bits, true);
        let (new, of) = if incr {
            match signed_overflow(old, op.value, op.bits, op.overflow) {
                Some(w) => (w, true),
                None => (old.wrapping_add(op.value), false),
            }
        } else {
            match signed_overflow(op.value, 0, op.bits, op.overflow) {
                Some(w) => (w, true),
                None => (op.value, false),
            }
        };
        (if incr { new } else { old }, new as u64, of)
    } else {
        let old = get_unsigned(buf, op.offset, op.bits);
        let (new, of) = if incr {
            match unsigned_overflow(old, op.value, op.bits, op.overflow) {
                Some(w) => (w, true),
                None => (old.wrapping_add(op.value as u64), false),
            }
        } else {
            match unsigned_overflow(op.value as u64, 0, op.bits, op.overflow) {
                Some(w) => (w, true),
                None => (op.value as u64, false),
            }
        };
        ((if incr { new } else { old }) as i64, new, of)
    };
    if overflowed && op.overflow == Overflow::Fail {
        out.null();
    } else {
        out.int(reply);
        set(buf, op.offset, op.bits, store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_and_set_round_trip_at_odd_offsets() {
        let mut b = vec![0u8; 10];
        set(&mut b, 5, 13, 0x1abc);
        assert_eq!(get_unsigned(&b, 5, 13), 0x1abc);
        set(&mut b, 3, 64, u64::MAX - 5);
        assert_eq!(get(&b, 3, 64, true), -6);
        assert_eq!(get(&[0xff], 0, 8, true), -1);
        assert_eq!(get(&[0xff], 4, 8, false), 0xf0);
    }

    #[test]
    fn overflow_rules() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(5, 10, 8, Overflow::Sat), None);
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Wrap), Some(-126));
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_overflow(-120, -10, 8, Overflow::Sat), Some(-128));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(i64::MIN)
        );
        assert_eq!(signed_overflow(0, i64::MAX, 64, Overflow::Wrap), None);
    }
}
