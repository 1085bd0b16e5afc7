//! Kubernetes quantity strings ("100m", "1.5", "128Mi", "1e3") to integers, rounding up as
//! `resource.Quantity`'s `MilliValue` and `Value` do.

use crate::Error;

/// Longest quantity string accepted; longer ones are invalid (bound everything).
const MAX_QUANTITY_LEN: usize = 64;

/// Parses a quantity into thousandths of a unit, rounding up (CPU millicores: "100m" -> 100,
/// "1" -> 1000, "0.1m" -> 1). Saturates at `i64::MAX`/`i64::MIN`.
pub fn parse_milli(s: &str) -> Result<i64, Error> {
    parse_scaled(s, 3)
}

/// Parses a quantity into whole units, rounding up (memory bytes: "128Mi" -> 134217728,
/// "1G" -> 1000000000, "1.5" -> 2). Saturates at `i64::MAX`/`i64::MIN`.
pub fn parse_bytes(s: &str) -> Result<i64, Error> {
    parse_scaled(s, 0)
}

/// `ceil(quantity * 10^out_exp10)`.
fn parse_scaled(s: &str, out_exp10: i32) -> Result<i64, Error> {
    let invalid = || Error::InvalidQuantity(s.to_string());
    if s.is_empty() || s.len() > MAX_QUANTITY_LEN {
        return Err(invalid());
    }
    let bytes = s.as_bytes();
    let mut pos = 0;
    let negative = match bytes[0] {
        b'-' => {
            pos = 1;
            true
        }
        b'+' => {
            pos = 1;
            false
        }
        _ => false,
    };
    // Mantissa digits, with the decimal point remembered as a count of fraction digits.
    let mut mantissa: u128 = 0;
    let mut n_digits = 0usize;
    let mut n_frac_digits: i32 = 0;
    let mut seen_point = false;
    // Digits beyond what u128 holds exactly only matter for rounding up.
    let mut dropped_nonzero = false;
    let mut n_dropped_int_digits: i32 = 0;
    while pos < bytes.len() {
        let b = bytes[pos];
        if b.is_ascii_digit() {
            n_digits += 1;
            let d = u128::from(b - b'0');
            match mantissa.checked_mul(10).and_then(|m| m.checked_add(d)) {
                Some(m) if mantissa < 10u128.pow(36) => {
                    mantissa = m;
                    if seen_point {
                        n_frac_digits += 1;
                    }
                }
                _ => {
                    if d != 0 {
                        dropped_nonzero = true;
                    }
                    if !seen_point {
                        n_dropped_int_digits += 1;
                    }
                }
            }
        } else if b == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        pos += 1;
    }
    if n_digits == 0 {
        return Err(invalid());
    }
    let suffix = &s[pos..];
    let (exp10, exp2): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ if suffix.len() > 1 && (suffix.starts_with('e') || suffix.starts_with('E')) => {
            let exp = &suffix[1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(invalid());
            }
            (exp.parse::<i32>().map_err(|_| invalid())?, 0)
        }
        _ => return Err(invalid()),
    };
    let scale10 = exp10 + out_exp10 - n_frac_digits + n_dropped_int_digits;
    let magnitude = scale_ceil(mantissa, exp2, scale10, dropped_nonzero);
    // ceil(-x) == -floor(x): for negative values round the magnitude down instead.
    let value = if negative {
        let down = scale_floor(mantissa, exp2, scale10);
        -(i128::try_from(down).unwrap_or(i128::MAX))
    } else {
        i128::try_from(magnitude).unwrap_or(i128::MAX)
    };
    Ok(value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// `ceil(m * 2^exp2 * 10^scale10)`, saturating at `u128::MAX`.
fn scale_ceil(m: u128, exp2: u32, scale10: i32, dropped_nonzero: bool) -> u128 {
    if m == 0 && !dropped_nonzero {
        return 0;
    }
    let m = m
        .checked_shl(exp2)
        .filter(|v| v >> exp2 == m)
        .unwrap_or(u128::MAX);
    if scale10 >= 0 {
        let v = pow10(scale10)
            .and_then(|p| m.checked_mul(p))
            .unwrap_or(u128::MAX);
        if dropped_nonzero {
            v.saturating_add(1)
        } else {
            v
        }
    } else {
        match pow10(-scale10) {
            Some(p) => {
                let q = m / p;
                if m % p != 0 || dropped_nonzero {
                    q + 1
                } else {
                    q
                }
            }
            None => 1,
        }
    }
}

/// `floor(m * 2^exp2 * 10^scale10)`, saturating at `u128::MAX`.
fn scale_floor(m: u128, exp2: u32, scale10: i32) -> u128 {
    let m = m
        .checked_shl(exp2)
        .filter(|v| v >> exp2 == m)
        .unwrap_or(u128::MAX);
    if scale10 >= 0 {
        pow10(scale10)
            .and_then(|p| m.checked_mul(p))
            .unwrap_or(u128::MAX)
    } else {
        pow10(-scale10).map_or(0, |p| m / p)
    }
}

fn pow10(exp: i32) -> Option<u128> {
    u32::try_from(exp).ok().and_then(|e| 10u128.checked_pow(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case: input, expected millis, expected units (`None` = invalid).
    fn check(input: &str, milli: Option<i64>, units: Option<i64>) {
        assert_eq!(parse_milli(input).ok(), milli, "parse_milli({input:?})");
        assert_eq!(parse_bytes(input).ok(), units, "parse_bytes({input:?})");
    }

    #[test]
    fn quantities() {
        let cases: &[(&str, Option<i64>, Option<i64>)] = &[
            ("0", Some(0), Some(0)),
            ("1", Some(1000), Some(1)),
            ("100m", Some(100), Some(1)),
            ("1500m", Some(1500), Some(2)),
            ("0.1", Some(100), Some(1)),
            ("1.5", Some(1500), Some(2)),
            (".5", Some(500), Some(1)),
            ("5.", Some(5000), Some(5)),
            ("0.1m", Some(1), Some(1)),
            ("1u", Some(1), Some(1)),
            ("1n", Some(1), Some(1)),
            ("2Ki", Some(2_048_000), Some(2048)),
            ("128Mi", Some(134_217_728_000), Some(134_217_728)),
            ("1Gi", Some(1_073_741_824_000), Some(1_073_741_824)),
            ("1.5Gi", Some(1_610_612_736_000), Some(1_610_612_736)),
            ("1k", Some(1_000_000), Some(1000)),
            ("1M", Some(1_000_000_000), Some(1_000_000)),
            ("1G", Some(1_000_000_000_000), Some(1_000_000_000)),
            ("1T", Some(1_000_000_000_000_000), Some(1_000_000_000_000)),
            ("1E", Some(i64::MAX), Some(1_000_000_000_000_000_000)),
            ("1Ei", Some(i64::MAX), Some(1_152_921_504_606_846_976)),
            ("1e3", Some(1_000_000), Some(1000)),
            ("1E3", Some(1_000_000), Some(1000)),
            ("1e-3", Some(1), Some(1)),
            ("12e+2", Some(1_200_000), Some(1200)),
            ("+1", Some(1000), Some(1)),
            ("-1", Some(-1000), Some(-1)),
            ("-100m", Some(-100), Some(0)),
            ("-1.5", Some(-1500), Some(-1)),
            ("110", Some(110_000), Some(110)),
            (
                "99999999999999999999999999999999999999999",
                Some(i64::MAX),
                Some(i64::MAX),
            ),
            (
                "0.000000000000000000000000000000000000000001",
                Some(1),
                Some(1),
            ),
            ("", None, None),
            ("m", None, None),
            ("Mi", None, None),
            ("1x", None, None),
            ("1mi", None, None),
            ("1 Mi", None, None),
            ("1..2", None, None),
            ("--1", None, None),
            ("1e", None, None),
            ("1e+", None, None),
            ("1e1.5", None, None),
            ("1KI", None, None),
        ];
        for (input, milli, units) in cases {
            check(input, *milli, *units);
        }
        check(&"1".repeat(MAX_QUANTITY_LEN + 1), None, None);
    }
}
