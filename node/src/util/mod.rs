//! Small helpers shared by commands: Redis's number parsing and formatting rules,
//! glob-style matching, clocks.

use std::time::{SystemTime, UNIX_EPOCH};

pub mod glob;
pub mod long_double;
pub mod slot;

pub use glob::glob_match;

/// Parses a string the way Redis's `string2ll` does: an optional `-`, digits, no
/// leading zeros (except "0"), no spaces or `+`, in i64 range.
pub fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

/// Parses a double the way Redis's `getDoubleFromObject` accepts it: `strtod`
/// syntax (decimal, hex, `inf`, `infinity`), no surrounding spaces, no NaN,
/// and no overflow to infinity or underflow to zero (strtod's ERANGE cases
/// that Redis refuses; subnormal results are accepted).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    match strtod(s)? {
        (_, true) => None,
        (v, false) => Some(v),
    }
}

/// `strtod` over the whole of `s`, without surrounding spaces: the value, and
/// whether it overflowed to infinity or underflowed to zero (glibc reports
/// ERANGE then; Redis's range parsing ignores it, `getDoubleFromObject` does
/// not). NaN is refused.
pub fn strtod(s: &[u8]) -> Option<(f64, bool)> {
    let text = std::str::from_utf8(s).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let neg = text.starts_with('-');
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        let v = if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        return Some((v, false));
    }
    if lower.starts_with("0x") {
        // strtold's parser (exact for a hex mantissa of up to 64 bits),
        // then one rounding to double.
        let crate::util::long_double::Ld::Finite { neg, mant, exp } =
            crate::util::long_double::parse(s)?
        else {
            return None;
        };
        let v = ldexp(mant as f64, exp);
        let v = if neg { -v } else { v };
        return Some((v, v.is_infinite() || (v == 0.0 && mant != 0)));
    }
    // Rust's grammar is strtod's decimal one; keep out its NaN spellings.
    if !lower
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    let mantissa = lower.split('e').next().unwrap_or("");
    let nonzero = mantissa.bytes().any(|c| matches!(c, b'1'..=b'9'));
    Some((v, v.is_infinite() || (v == 0.0 && nonzero)))
}

/// `x × 2^exp` without intermediate overflow or underflow of the power.
fn ldexp(mut x: f64, mut exp: i64) -> f64 {
    let step = 2f64.powi(512);
    while exp > 512 && x.is_finite() && x != 0.0 {
        x *= step;
        exp -= 512;
    }
    while exp < -512 && x != 0.0 {
        // Scale down in two halves near the end so a subnormal result is
        // rounded once, not twice.
        if exp < -1024 {
            x /= step;
            exp += 512;
        } else {
            break;
        }
    }
    if exp < 0 {
        let half = exp / 2;
        x * 2f64.powi(half as i32) * 2f64.powi((exp - half) as i32)
    } else {
        x * 2f64.powi(exp as i32)
    }
}

/// Formats a double as Redis does for replies and stored values (`%.17g`, with
/// `inf`/`-inf`), used where Redis 7.0 calls `ld2string` in LD_STR_HUMAN mode it
/// trims trailing zeros: see [`format_f64_human`].
pub fn format_f64(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format_g17(v)
}

/// `%.17g` as C's printf prints it.
fn format_g17(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exp = v.abs().log10().floor() as i32;
    // %g uses scientific notation when exp < -4 or exp >= precision.
    let sci = format!("{:.16e}", v);
    let (mantissa, e) = match sci.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(exp)),
        None => (sci.clone(), exp),
    };
    if !(-4..17).contains(&e) {
        let m = trim_fraction(&mantissa);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", e.abs());
    }
    let decimals = (16 - e).max(0) as usize;
    trim_fraction(&format!("{:.*}", decimals, v)).to_string()
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Formats an `f64` in the style of Redis's human-friendly long double output
/// (positional, no exponent), using the shortest round-trip digits. INCRBYFLOAT
/// itself must compute in long double to match Redis digit for digit (`0.1 + 0.2`
/// is `0.3` there): it uses [`long_double`], not this.
pub fn format_f64_human(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{v}");
    if s.contains('e') {
        // Rust prints very large/small values in exponent form; Redis prints them
        // positionally with %.17Lf.
        let fixed = format!("{v:.17}");
        return trim_fraction(&fixed).to_string();
    }
    s
}

/// Milliseconds on a monotonic clock since the first call in this process,
/// plus one (never 0): for durations that a wall-clock step must not distort.
pub fn mono_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
        + 1
}

/// Wall-clock Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Wall-clock Unix time in microseconds.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A small, fast, non-cryptographic PRNG (xorshift64*), for sampling.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn from_entropy() -> Rng {
        let t = now_us() as u64;
        let addr = &t as *const u64 as u64;
        Rng::new(t ^ addr.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Lowercases an ASCII command name into a stack buffer; `None` when too long to
/// be a command name.
pub fn lower_name(name: &[u8], buf: &mut [u8; 32]) -> Option<usize> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(name.len())
}

/// Redis's `sdscatrepr`: a quoted, escaped representation of bytes.
pub fn repr(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64_strict(b"0"), Some(0));
        assert_eq!(parse_i64_strict(b"-12"), Some(-12));
        assert_eq!(parse_i64_strict(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
            b"-",
        ] {
            assert_eq!(parse_i64_strict(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_f64(1.5), "1.5");
        assert_eq!(format_f64(3.0), "3");
        assert_eq!(format_f64(0.1), "0.10000000000000001");
        assert_eq!(format_f64(1e20), "1e+20");
        assert_eq!(format_f64(f64::INFINITY), "inf");
        assert_eq!(format_f64_human(10.5), "10.5");
        assert_eq!(format_f64_human(5.0e3), "5000");
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
    }

    /// As glibc's strtod and Redis 7.0's getDoubleFromObject (ZADD 1e400 is
    /// "not a valid float" there, ZADD 0x10 is 16).
    #[test]
    fn doubles_follow_strtod() {
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"0X1P-2"), Some(0.25));
        assert_eq!(parse_f64(b"-0x1p3"), Some(-8.0));
        assert_eq!(parse_f64(b"0x"), None);
        assert_eq!(parse_f64(b"1."), Some(1.0));
        assert_eq!(parse_f64(b"+.5"), Some(0.5));
        assert_eq!(parse_f64(b"1e"), None);
        assert_eq!(parse_f64(b"1_0"), None);
        assert_eq!(parse_f64(b"Infinity"), Some(f64::INFINITY));
        // Overflow and underflow to zero are errors; subnormals are not.
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"-1e400"), None);
        assert_eq!(parse_f64(b"1e-400"), None);
        assert_eq!(parse_f64(b"0e-400"), Some(0.0));
        assert_eq!(parse_f64(b"1e-310"), Some(1e-310));
        // Range bounds take strtod's value regardless.
        assert_eq!(strtod(b"1e400"), Some((f64::INFINITY, true)));
        assert_eq!(strtod(b"-1e-400"), Some((-0.0, true)));
        assert_eq!(strtod(b"0x1p-2000"), Some((0.0, true)));
        assert_eq!(ldexp(1.0, -1074), 5e-324);
        assert_eq!(ldexp(3.0, 1023), f64::INFINITY);
    }
}
