//! Software x87 extended precision ("long double"), just enough for INCRBYFLOAT.
//!
//! Redis 7.0 parses INCRBYFLOAT operands with `strtold`, adds them as 80-bit long
//! doubles and stores `"%.17Lf"` with trailing zeros removed. Doing the same in
//! `f64` gives different text for everyday inputs (`0.1 + 0.2` is `0.3` in Redis,
//! `0.30000000000000004` in f64; `1e30` prints its 64-bit-mantissa expansion), so
//! this module reproduces the three steps exactly: correctly rounded parsing into
//! a 64-bit mantissa with the x87 exponent range (subnormals included), correctly
//! rounded addition, and exact decimal formatting with ties to even, as glibc does.
//! Exactness comes from a small big-integer type; the operands are bounded by
//! Redis's 5 KiB limit on a long double's text, so the numbers stay small.

use std::cmp::Ordering;

/// Longest text Redis accepts as a long double (`MAX_LONG_DOUBLE_CHARS`).
pub const MAX_CHARS: usize = 5 * 1024;

/// Smallest binary exponent of the lowest mantissa bit (x87 subnormal ulp).
const MIN_EXP: i64 = -16445;
/// Largest binary exponent of the lowest mantissa bit of a finite value.
const MAX_EXP: i64 = 16320;

/// A long double: `mant × 2^exp`, or an infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ld {
    Finite { neg: bool, mant: u64, exp: i64 },
    Inf { neg: bool },
}

/// Why an INCRBYFLOAT-style addition failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatError {
    /// An operand is not a valid long double ("value is not a valid float").
    NotFloat,
    /// The result is not finite ("increment would produce NaN or Infinity").
    NanOrInf,
}

/// Adds two decimal operands as Redis's INCRBYFLOAT does and returns the text to
/// store and reply. `value` is parsed first, as Redis does.
pub fn incr_by_float(value: &[u8], incr: &[u8]) -> Result<String, FloatError> {
    let a = parse(value).ok_or(FloatError::NotFloat)?;
    let b = parse(incr).ok_or(FloatError::NotFloat)?;
    match add(a, b) {
        Ld::Inf { .. } => Err(FloatError::NanOrInf),
        sum => Ok(format_human(sum)),
    }
}

/// Parses like Redis's `string2ld`: `strtold` syntax (decimal, hex, `inf`), no
/// leading space, nothing left over, no NaN, and no overflow or underflow to zero.
pub fn parse(s: &[u8]) -> Option<Ld> {
    if s.is_empty() || s.len() >= MAX_CHARS || s[0].is_ascii_whitespace() {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Ld::Inf { neg });
    }
    let hex = body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x';
    let (digits, exp2) = if hex {
        parse_hex(&body[2..])?
    } else {
        let (d, e10) = parse_decimal(body)?;
        if d.is_zero() {
            return Some(Ld::Finite {
                neg,
                mant: 0,
                exp: 0,
            });
        }
        // Digits before the point of the exact value; far outside the x87 range
        // the result is known without computing it.
        let mag = e10.saturating_add(decimal_len(&d));
        if mag > 4940 {
            return None;
        }
        if mag < -4960 {
            return None;
        }
        let v = if e10 >= 0 {
            let mut n = d;
            n.mul_pow10(e10 as u64);
            round(&n, &Big::one(), 0, neg)
        } else {
            let mut den = Big::one();
            den.mul_pow10(e10.unsigned_abs());
            round(&d, &den, 0, neg)
        };
        return finite_or_none(v);
    };
    if digits.is_zero() {
        return Some(Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let mag = exp2.saturating_add(digits.bits() as i64);
    if !(-16500..=16400).contains(&mag) {
        return None;
    }
    finite_or_none(round(&digits, &Big::one(), exp2, neg))
}

/// `strtold` reports ERANGE for overflow and for underflow to zero; Redis rejects both.
fn finite_or_none(v: Ld) -> Option<Ld> {
    match v {
        Ld::Finite { mant: 0, .. } | Ld::Inf { .. } => None,
        v => Some(v),
    }
}

/// `digits [. digits] [e [sign] digits]`, at least one digit; returns the digits
/// as an integer and the power of ten to scale it by.
fn parse_decimal(s: &[u8]) -> Option<(Big, i64)> {
    let mut d = Big::zero();
    let mut e10: i64 = 0;
    let mut i = 0;
    let mut seen = false;
    let mut point = false;
    while i < s.len() {
        match s[i] {
            c @ b'0'..=b'9' => {
                seen = true;
                d.mul_small(10);
                d.add_small((c - b'0') as u32);
                if point {
                    e10 -= 1;
                }
            }
            b'.' if !point => point = true,
            _ => break,
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    if i < s.len() {
        if s[i] | 0x20 != b'e' {
            return None;
        }
        e10 = e10.saturating_add(parse_exponent(&s[i + 1..])?);
    }
    Some((d, e10))
}

/// A signed decimal exponent with nothing after it, saturated far beyond any
/// meaningful range.
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        v = (v * 10 + (c - b'0') as i64).min(1 << 40);
    }
    Some(if neg { -v } else { v })
}

/// `hexdigits [. hexdigits] [p [sign] digits]` after `0x`.
fn parse_hex(s: &[u8]) -> Option<(Big, i64)> {
    let mut d = Big::zero();
    let mut exp2: i64 = 0;
    let mut i = 0;
    let mut seen = false;
    let mut point = false;
    while i < s.len() {
        let c = s[i];
        if let Some(v) = (c as char).to_digit(16) {
            seen = true;
            d.mul_small(16);
            d.add_small(v);
            if point {
                exp2 -= 4;
            }
        } else if c == b'.' && !point {
            point = true;
        } else {
            break;
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    if i < s.len() {
        if s[i] | 0x20 != b'p' {
            return None;
        }
        exp2 = exp2.saturating_add(parse_exponent(&s[i + 1..])?);
    }
    Some((d, exp2))
}

/// Number of decimal digits of a non-zero integer, within one (cheap bound from
/// its bit length, enough for the range pre-checks).
fn decimal_len(d: &Big) -> i64 {
    (d.bits() as f64 * std::f64::consts::LOG10_2).ceil() as i64
}

/// Rounds `num / den × 2^exp2` (num > 0) to the nearest long double, ties to even.
fn round(num: &Big, den: &Big, exp2: i64, neg: bool) -> Ld {
    // Scale so that the integer quotient has 66 or 67 bits: 64 for the mantissa,
    // the rest (and the remainder) decide the rounding.
    let sh = 66 - (num.bits() as i64 - den.bits() as i64);
    let (n, d) = if sh >= 0 {
        (num.shl(sh as u64), den.clone())
    } else {
        (num.clone(), den.shl(sh.unsigned_abs()))
    };
    let (q, inexact) = div_small_quotient(n, &d);
    let e = exp2 - sh;
    let len = 128 - q.leading_zeros() as i64;
    let mut drop = len - 64;
    if e + drop < MIN_EXP {
        drop = MIN_EXP - e;
    }
    let (mut m, up) = if drop > len {
        (0u128, false)
    } else {
        let m = q >> drop;
        let half = (q >> (drop - 1)) & 1 == 1;
        let rest = q & ((1u128 << (drop - 1)) - 1) != 0 || inexact;
        (m, half && (rest || m & 1 == 1))
    };
    let mut exp = e + drop;
    if up {
        m += 1;
        if m == 1u128 << 64 {
            m >>= 1;
            exp += 1;
        }
    }
    if m == 0 {
        return Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    if exp > MAX_EXP {
        return Ld::Inf { neg };
    }
    Ld::Finite {
        neg,
        mant: m as u64,
        exp,
    }
}

/// `floor(n / d)` for a quotient known to be below 2^68, and whether it was inexact.
fn div_small_quotient(mut n: Big, d: &Big) -> (u128, bool) {
    let mut q: u128 = 0;
    for i in (0..68u64).rev() {
        let ds = d.shl(i);
        if n.cmp(&ds) != Ordering::Less {
            n.sub_assign(&ds);
            q |= 1u128 << i;
        }
    }
    (q, !n.is_zero())
}

/// Correctly rounded sum of two long doubles.
pub fn add(a: Ld, b: Ld) -> Ld {
    let (an, am, ae, bn, bm, be) = match (a, b) {
        (Ld::Inf { neg }, Ld::Inf { neg: n2 }) if neg != n2 => return Ld::Inf { neg },
        (Ld::Inf { neg }, _) | (_, Ld::Inf { neg }) => return Ld::Inf { neg },
        (
            Ld::Finite {
                neg: an,
                mant: am,
                exp: ae,
            },
            Ld::Finite {
                neg: bn,
                mant: bm,
                exp: be,
            },
        ) => (an, am, ae, bn, bm, be),
    };
    if am == 0 {
        return b;
    }
    if bm == 0 {
        return a;
    }
    let e = ae.min(be);
    let x = Big::from_u128(am as u128).shl((ae - e) as u64);
    let y = Big::from_u128(bm as u128).shl((be - e) as u64);
    let (sum, neg) = if an == bn {
        (x.add(&y), an)
    } else {
        match x.cmp(&y) {
            Ordering::Equal => {
                return Ld::Finite {
                    neg: false,
                    mant: 0,
                    exp: 0,
                }
            }
            Ordering::Greater => {
                let mut s = x;
                s.sub_assign(&y);
                (s, an)
            }
            Ordering::Less => {
                let mut s = y;
                s.sub_assign(&x);
                (s, bn)
            }
        }
    };
    round(&sum, &Big::one(), e, neg)
}

/// `"%.17Lf"` with trailing zeros (and a bare point) removed and `-0` printed as
/// `0`: Redis's `ld2string(..., LD_STR_HUMAN)`.
pub fn format_human(v: Ld) -> String {
    let (neg, mant, exp) = match v {
        Ld::Inf { neg: true } => return "-inf".into(),
        Ld::Inf { neg: false } => return "inf".into(),
        Ld::Finite { neg, mant, exp } => (neg, mant, exp),
    };
    // Value × 10^17, rounded to an integer with ties to even.
    let mut scaled = Big::from_u128(mant as u128);
    scaled.mul_pow10(17);
    let fixed = if exp >= 0 {
        scaled.shl(exp as u64)
    } else {
        let k = exp.unsigned_abs();
        let q = scaled.shr(k);
        let rem = scaled.sub_of(&q.shl(k));
        let half = Big::one().shl(k - 1);
        let mut q = q;
        match rem.cmp(&half) {
            Ordering::Greater => q.add_small(1),
            Ordering::Equal if q.is_odd() => q.add_small(1),
            _ => {}
        }
        q
    };
    let mut digits = fixed.to_decimal();
    if digits.len() < 18 {
        digits = format!("{}{}", "0".repeat(18 - digits.len()), digits);
    }
    let (int, frac) = digits.split_at(digits.len() - 17);
    let frac = frac.trim_end_matches('0');
    let mut s = String::with_capacity(digits.len() + 2);
    if neg {
        s.push('-');
    }
    s.push_str(int);
    if !frac.is_empty() {
        s.push('.');
        s.push_str(frac);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// Unsigned big integer, little-endian 32-bit limbs, no high zero limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn one() -> Big {
        Big(vec![1])
    }

    fn from_u128(mut v: u128) -> Big {
        let mut l = Vec::new();
        while v > 0 {
            l.push(v as u32);
            v >>= 32;
        }
        Big(l)
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn is_odd(&self) -> bool {
        self.0.first().is_some_and(|l| l & 1 == 1)
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros()) as u64,
        }
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for l in self.0.iter_mut() {
            let v = *l as u64 * m as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = a as u64;
        for l in self.0.iter_mut() {
            if carry == 0 {
                return;
            }
            let v = *l as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut n: u64) {
        while n >= 9 {
            self.mul_small(1_000_000_000);
            n -= 9;
        }
        self.mul_small(10u32.pow(n as u32));
    }

    fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        let mut out = vec![0u32; limbs];
        out.reserve(self.0.len() + 1);
        let mut carry = 0u32;
        for &l in &self.0 {
            if bits == 0 {
                out.push(l);
            } else {
                out.push((l << bits) | carry);
                carry = l >> (32 - bits);
            }
        }
        if carry > 0 {
            out.push(carry);
        }
        Big(out)
    }

    fn shr(&self, n: u64) -> Big {
        let limbs = (n / 32) as usize;
        if limbs >= self.0.len() {
            return Big::zero();
        }
        let bits = (n % 32) as u32;
        let src = &self.0[limbs..];
        let mut out = Vec::with_capacity(src.len());
        for (i, &l) in src.iter().enumerate() {
            let hi = src.get(i + 1).copied().unwrap_or(0);
            out.push(if bits == 0 {
                l
            } else {
                (l >> bits) | (hi << (32 - bits))
            });
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    fn add(&self, o: &Big) -> Big {
        let (long, short) = if self.0.len() >= o.0.len() {
            (self, o)
        } else {
            (o, self)
        };
        let mut out = Vec::with_capacity(long.0.len() + 1);
        let mut carry = 0u64;
        for (i, &l) in long.0.iter().enumerate() {
            let v = l as u64 + short.0.get(i).copied().unwrap_or(0) as u64 + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        if carry > 0 {
            out.push(carry as u32);
        }
        Big(out)
    }

    /// `self -= o`; requires `self >= o`.
    fn sub_assign(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for (i, l) in self.0.iter_mut().enumerate() {
            let v = *l as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            if v < 0 {
                *l = (v + (1i64 << 32)) as u32;
                borrow = 1;
            } else {
                *l = v as u32;
                borrow = 0;
            }
        }
        self.trim();
    }

    fn sub_of(&self, o: &Big) -> Big {
        let mut s = self.clone();
        s.sub_assign(o);
        s
    }

    /// Divides in place by `d`, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for l in self.0.iter_mut().rev() {
            let cur = (rem << 32) | *l as u64;
            *l = (cur / d as u64) as u32;
            rem = cur % d as u64;
        }
        self.trim();
        rem as u32
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut s = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(a: &str, b: &str) -> Result<String, FloatError> {
        incr_by_float(a.as_bytes(), b.as_bytes())
    }

    // Expected strings were taken from redis-server 7.0.15.
    #[test]
    fn matches_redis_formatting() {
        assert_eq!(inc("0.1", "0.2").unwrap(), "0.3");
        assert_eq!(inc("10.5", "0.1").unwrap(), "10.6");
        assert_eq!(inc("5.0e3", "2.0e2").unwrap(), "5200");
        assert_eq!(inc("0", "5.0e-3").unwrap(), "0.005");
        assert_eq!(inc("0", "0x10").unwrap(), "16");
        assert_eq!(inc("0", "0x1p-3").unwrap(), "0.125");
        assert_eq!(inc("1e30", "0").unwrap(), "1000000000000000000024696061952");
        assert_eq!(inc("0", "1e-20").unwrap(), "0");
        assert_eq!(inc("0", "-0.0").unwrap(), "0");
        assert_eq!(inc("0", "0.000000000000000005").unwrap(), "0");
        assert_eq!(
            inc("0", "0.000000000000000015").unwrap(),
            "0.00000000000000002"
        );
        assert_eq!(inc("0", "1e-4940").unwrap(), "0");
        assert_eq!(
            inc("0", "1.7976931348623157e308").unwrap(),
            "179769313486231569995921046774104434048386446944329178485314420765176628523124396354701868608387085564428793419425520689308708363451136055357897278026477617073498977686288394835618163294045594434929537447290627480669417384648879122776218333598953852832103282504751611691208117720159985926376802466863339536384"
        );
        assert!(inc("0", "1e400")
            .unwrap()
            .starts_with("10000000000000000000281880683947586514586"));
        assert_eq!(inc("3", "-3").unwrap(), "0");
        assert_eq!(inc("-1.5", "0.25").unwrap(), "-1.25");
    }

    #[test]
    fn rejects_like_redis() {
        for bad in [
            "1e5000", "1e-5000", " 1", "1 ", "", "abc", "nan", "1e", ".", "0x", "1..2",
        ] {
            assert_eq!(inc("0", bad), Err(FloatError::NotFloat), "{bad:?}");
        }
        assert_eq!(inc("0", "inf"), Err(FloatError::NanOrInf));
        assert_eq!(inc("inf", "-inf"), Err(FloatError::NanOrInf));
        assert_eq!(inc("1e4932", "1e4932"), Err(FloatError::NanOrInf));
        assert_eq!(inc("x", "inf"), Err(FloatError::NotFloat));
        assert!(inc("0", &"1".repeat(MAX_CHARS)).is_err());
        assert_eq!(
            inc("0", "1e99999999999999999999999").unwrap_err(),
            FloatError::NotFloat
        );
        assert_eq!(inc("0", "0e99999999999999999999999").unwrap(), "0");
    }

    #[test]
    fn integers_are_exact_up_to_64_bits() {
        assert_eq!(
            inc("18446744073709551615", "0").unwrap(),
            "18446744073709551615"
        );
        assert_eq!(
            inc("18446744073709551617", "0").unwrap(),
            "18446744073709551616"
        );
        assert_eq!(inc("9007199254740993", "0").unwrap(), "9007199254740993");
    }
}
