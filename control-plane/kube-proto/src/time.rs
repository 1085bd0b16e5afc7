//! Conversions between protobuf timestamps and durations and the strings Kubernetes' JSON
//! uses: RFC 3339 in UTC (`2006-01-02T15:04:05Z`, with six fractional digits for MicroTime)
//! and Go's duration syntax (`1h2m3.5s`).

const SECONDS_PER_DAY: i64 = 86_400;
/// 0000-01-01T00:00:00Z, the earliest time JSON can carry.
const MIN_SECONDS: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z, the latest.
const MAX_SECONDS: i64 = 253_402_300_799;
/// Go's zero time, 0001-01-01T00:00:00Z, which its JSON writes as null.
pub(crate) const ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both in range by construction: day 1..=31, month 1..=12.
    (year, month as u32, day as u32)
}

/// `seconds` since the epoch as RFC 3339 UTC; `micros` adds six fractional digits.
/// `None` outside years 0..=9999.
pub(crate) fn format_rfc3339(seconds: i64, micros: Option<u32>) -> Option<String> {
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return None;
    }
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let secs_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if let Some(micros) = micros {
        out.push_str(&format!(".{micros:06}"));
    }
    out.push('Z');
    Some(out)
}

/// Parses RFC 3339 (any offset, optional fraction) into seconds since the epoch and
/// nanoseconds.
pub(crate) fn parse_rfc3339(text: &str) -> Option<(i64, u32)> {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| -> Option<i64> {
        let part = b.get(from..from + n)?;
        part.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(0, 4)?;
    let month = u32::try_from(digits(5, 2)?).ok()?;
    let day = u32::try_from(digits(8, 2)?).ok()?;
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut nanos: u32 = 0;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            if pos - start < 9 {
                nanos = nanos * 10 + u32::from(b[pos] - b'0');
            }
            pos += 1;
        }
        let n_digits = pos - start;
        if n_digits == 0 {
            return None;
        }
        for _ in n_digits..9 {
            nanos *= 10;
        }
    }
    let offset_seconds = match b.get(pos..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, c: u8| -> Option<i64> {
                (a.is_ascii_digit() && c.is_ascii_digit())
                    .then(|| i64::from((a - b'0') * 10 + (c - b'0')))
            };
            let (oh, om) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let total = oh * 3600 + om * 60;
            if *sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset_seconds;
    Some((seconds, nanos))
}

/// A duration in nanoseconds the way Go's `time.Duration.String` prints it.
pub(crate) fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let negative = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if u < 1_000_000_000 {
        let (unit, scale) = match u {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        push_fraction(&mut out, u, scale);
        out.push_str(unit);
        return out;
    }
    let hours = u / 3_600_000_000_000;
    let minutes = u / 60_000_000_000 % 60;
    let rest = u % 60_000_000_000;
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    push_fraction(&mut out, rest, 1_000_000_000);
    out.push('s');
    out
}

/// Writes `value / scale` with the fraction's trailing zeros dropped.
fn push_fraction(out: &mut String, value: u64, scale: u64) {
    out.push_str(&(value / scale).to_string());
    let frac = value % scale;
    if frac != 0 {
        let width = scale.ilog10() as usize;
        let digits = format!("{frac:0width$}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Parses Go's duration syntax (`1h30m`, `-1.5s`, `300ms`, `0`) into nanoseconds.
pub(crate) fn parse_go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut value = whole.checked_mul(scale)?;
        let mut frac_scale = scale;
        for c in frac.chars() {
            frac_scale /= 10;
            value += i128::from(c.to_digit(10)?) * frac_scale;
        }
        total = total.checked_add(value)?;
        if total > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    let signed = if negative { -total } else { total };
    i64::try_from(signed).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        let cases: &[(i64, &str)] = &[
            (0, "1970-01-01T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (ZERO_TIME_SECONDS, "0001-01-01T00:00:00Z"),
            (MAX_SECONDS, "9999-12-31T23:59:59Z"),
            (MIN_SECONDS, "0000-01-01T00:00:00Z"),
        ];
        for &(seconds, text) in cases {
            assert_eq!(
                format_rfc3339(seconds, None).as_deref(),
                Some(text),
                "{seconds}"
            );
            assert_eq!(parse_rfc3339(text), Some((seconds, 0)), "{text}");
        }
        assert_eq!(format_rfc3339(MAX_SECONDS + 1, None), None);
        assert_eq!(format_rfc3339(MIN_SECONDS - 1, None), None);
        assert_eq!(
            format_rfc3339(5, Some(120)).as_deref(),
            Some("1970-01-01T00:00:05.000120Z")
        );
    }

    #[test]
    fn rfc3339_parses_offsets_and_fractions() {
        let cases: &[(&str, Option<(i64, u32)>)] = &[
            ("1970-01-01T01:00:00+01:00", Some((0, 0))),
            ("1970-01-01T00:00:00.5Z", Some((0, 500_000_000))),
            ("1970-01-01T00:00:00.123456789123Z", Some((0, 123_456_789))),
            ("1970-01-01T00:00:00", None),
            ("1970-13-01T00:00:00Z", None),
            ("1970-01-01T00:00:00.Z", None),
            ("1970-01-01 00:00:00Z", None),
            ("", None),
            ("é970-01-01T00:00:00Z", None),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_rfc3339(text), want, "{text}");
        }
    }

    #[test]
    fn go_durations() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (300_000_000, "300ms"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (-2_000_000_000, "-2s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for &(nanos, text) in cases {
            assert_eq!(format_go_duration(nanos), text, "{nanos}");
            assert_eq!(parse_go_duration(text), Some(nanos), "{text}");
        }
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        for bad in ["", "1", "1x", "h", ".s", "99999999999999999999h"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }
}
