//! Parsing of Kubernetes memory quantities (`768Mi`, `1G`, `1.5Gi`, `1e9`) into bytes.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Bytes of a memory quantity, rounded down. `None` for a quantity that is not a
/// non-negative amount of memory (a CPU-style `500m` is not).
pub fn bytes(q: &Quantity) -> Option<u64> {
    let s = q.0.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    if number.is_empty() {
        return None;
    }
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if frac.contains('.') {
        return None;
    }
    let multiplier: u128 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        exp if exp.starts_with(['e', 'E']) => {
            let power: u32 = exp[1..].parse().ok()?;
            10u128.checked_pow(power)?
        }
        _ => return None,
    };
    // Exact arithmetic in u128: whole * m + frac * m / 10^len(frac).
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut total = whole.checked_mul(multiplier)?;
    if !frac.is_empty() {
        let digits: u128 = frac.parse().ok()?;
        let scale = 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?;
        total = total.checked_add(digits.checked_mul(multiplier)? / scale)?;
    }
    u64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Option<u64> {
        bytes(&Quantity(s.into()))
    }

    #[test]
    fn binary_and_decimal_suffixes() {
        assert_eq!(b("1024"), Some(1024));
        assert_eq!(b("768Mi"), Some(768 << 20));
        assert_eq!(b("1Gi"), Some(1 << 30));
        assert_eq!(b("1G"), Some(1_000_000_000));
        assert_eq!(b("1.5Gi"), Some(3 << 29));
        assert_eq!(b("1e9"), Some(1_000_000_000));
    }

    #[test]
    fn rejects_non_memory_quantities() {
        assert_eq!(b("500m"), None);
        assert_eq!(b("Gi"), None);
        assert_eq!(b("1.2.3"), None);
        assert_eq!(b("-1Gi"), None);
        assert_eq!(b("99999Ei"), None);
    }
}
