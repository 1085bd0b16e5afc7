//! Kubernetes resource quantities ("100m", "64Mi", "1.5", "1e3") to integers: CPU in
//! millicores, memory in bytes. Pure.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid quantity {0:?}")]
pub struct QuantityError(pub String);

/// Parses a quantity into thousandths of its unit (so "100m" is 100, "2" is 2000), rounding up
/// as Kubernetes does for CPU.
pub fn parse_milli(s: &str) -> Result<u64, QuantityError> {
    let (num, scale) = split(s)?;
    let v = num * scale * 1000.0;
    if !(0.0..=1e18).contains(&v) {
        return Err(QuantityError(s.to_string()));
    }
    Ok(v.ceil() as u64)
}

/// Parses a quantity into whole units, rounding up ("64Mi" is 67108864, "1k" is 1000).
pub fn parse_units(s: &str) -> Result<u64, QuantityError> {
    let (num, scale) = split(s)?;
    let v = num * scale;
    if !(0.0..=1e18).contains(&v) {
        return Err(QuantityError(s.to_string()));
    }
    Ok(v.ceil() as u64)
}

fn split(s: &str) -> Result<(f64, f64), QuantityError> {
    let bad = || QuantityError(s.to_string());
    let t = s.trim();
    if t.is_empty() || t.len() > 64 {
        return Err(bad());
    }
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suffix, scale) in SUFFIXES.iter().chain([("P", 1e15), ("E", 1e18)].iter()) {
        if let Some(num) = t.strip_suffix(suffix) {
            return Ok((number(num).ok_or_else(bad)?, *scale));
        }
    }
    // Decimal exponent form ("1e3", "1E3") or a plain number.
    Ok((number(t).ok_or_else(bad)?, 1.0))
}

fn number(s: &str) -> Option<f64> {
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_milli(s: &str, expected: Option<u64>) {
        assert_eq!(parse_milli(s).ok(), expected, "{s}");
    }
    fn check_units(s: &str, expected: Option<u64>) {
        assert_eq!(parse_units(s).ok(), expected, "{s}");
    }

    #[test]
    fn cpu() {
        check_milli("100m", Some(100));
        check_milli("1", Some(1000));
        check_milli("0.5", Some(500));
        check_milli("2.0001", Some(2001));
        check_milli("1e3", Some(1_000_000));
        check_milli("250000u", Some(250));
        check_milli("", None);
        check_milli("-1", None);
        check_milli("abc", None);
        check_milli("1x", None);
    }

    #[test]
    fn memory() {
        check_units("64Mi", Some(64 << 20));
        check_units("1Gi", Some(1 << 30));
        check_units("128974848", Some(128974848));
        check_units("129M", Some(129_000_000));
        check_units("123Ki", Some(123 * 1024));
        check_units("1k", Some(1000));
        check_units("0.5Gi", Some(1 << 29));
        check_units("Mi", None);
        check_units("1 Mi", None);
    }
}
