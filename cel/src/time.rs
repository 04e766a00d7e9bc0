//! `timestamp()` and `duration()`: RFC 3339 times and Go-style durations,
//! in nanoseconds, within cel-spec's ranges (years 1 to 9999; durations of
//! about ±10,000 years), every sum checked against them.

const NANOS: i128 = 1_000_000_000;
/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z.
pub const MIN_TIMESTAMP: i128 = -62_135_596_800 * NANOS;
pub const MAX_TIMESTAMP: i128 = 253_402_300_800 * NANOS - 1;
/// cel-spec's duration range: ±315,576,000,000 seconds.
pub const MAX_DURATION: i128 = 315_576_000_000 * NANOS + (NANOS - 1);

pub fn timestamp_in_range(t: i128) -> Option<i128> {
    (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&t).then_some(t)
}

pub fn duration_in_range(d: i128) -> Option<i128> {
    (-MAX_DURATION..=MAX_DURATION).contains(&d).then_some(d)
}

/// What arithmetic may make of durations: as the reference, an int64 of
/// nanoseconds (about 292 years), though `duration()` reads up to 10,000.
pub fn duration_sum_in_range(d: i128) -> Option<i128> {
    (i128::from(i64::MIN)..=i128::from(i64::MAX))
        .contains(&d)
        .then_some(d)
}

use common::civil::{date_of, days_in_month, days_of};

fn digits(text: &str, at: usize, n: usize) -> Option<i64> {
    let part = text.get(at..at + n)?;
    part.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| part.parse().ok())?
}

/// RFC 3339: `2024-01-01T00:00:00Z`, with optional fraction (up to 9
/// digits) and a `Z` or `±hh:mm` offset.
pub fn parse_timestamp(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (
        digits(text, 0, 4)?,
        digits(text, 5, 2)?,
        digits(text, 8, 2)?,
    );
    let (hour, minute, second) = (
        digits(text, 11, 2)?,
        digits(text, 14, 2)?,
        digits(text, 17, 2)?,
    );
    if !(1..=12).contains(&month)
        || day < 1
        || day > i64::from(days_in_month(year, month as u32))
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: i128 = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let fraction = &text[start..i];
        if fraction.is_empty() || fraction.len() > 9 {
            return None;
        }
        nanos = format!("{fraction:0<9}").parse().ok()?;
    }
    let offset_seconds = match &text[i..] {
        "Z" | "z" => 0,
        rest if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            // Bytes, not a str slice: byte 3 of an answer's text need not
            // start a character (`+0é00`).
            && rest.as_bytes()[3] == b':' =>
        {
            let (h, m) = (digits(rest, 1, 2)?, digits(rest, 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let seconds =
        days_of(year, month as u32, day as u32) * 86_400 + hour * 3600 + minute * 60 + second
            - offset_seconds;
    timestamp_in_range(i128::from(seconds) * NANOS + nanos)
}

/// As cel-spec prints a timestamp: UTC, `Z`, the fraction in groups of 3.
pub fn format_timestamp(t: i128) -> String {
    let seconds = t.div_euclid(NANOS) as i64;
    let nanos = t.rem_euclid(NANOS) as i64;
    let (year, month, day) = date_of(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    out.push_str(&fraction(nanos));
    out.push('Z');
    out
}

/// `.5` -> `.500`, in groups of 3 digits, nothing for none.
fn fraction(nanos: i64) -> String {
    if nanos == 0 {
        String::new()
    } else if nanos % 1_000_000 == 0 {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos % 1000 == 0 {
        format!(".{:06}", nanos / 1000)
    } else {
        format!(".{nanos:09}")
    }
}

/// Go's duration syntax, as cel-spec takes it: `1h30m`, `1.5s`, `-300ms`,
/// `2us`; units h, m, s, ms, us (or µs), ns. No days.
pub fn parse_duration(text: &str) -> Option<i128> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "h" => 3600 * NANOS,
            "m" => 60 * NANOS,
            "s" => NANOS,
            "ms" => 1_000_000,
            "us" | "µs" | "μs" => 1000,
            "ns" => 1,
            _ => return None,
        };
        rest = &rest[unit_end..];
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() || frac.contains('.') || whole.len() > 20 {
            return None;
        }
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(unit)?;
        // The fraction, exactly to the nanosecond (digits past 18 cannot matter).
        let mut scale = unit;
        for digit in frac.bytes().take(18) {
            scale /= 10;
            part = part.checked_add(i128::from(digit - b'0') * scale)?;
        }
        total = total.checked_add(part)?;
        if total > MAX_DURATION {
            return None;
        }
    }
    duration_in_range(if negative { -total } else { total })
}

/// As cel-spec prints a duration: seconds, `3600s`, `1.250s`, `-0.000000001s`.
pub fn format_duration(d: i128) -> String {
    let sign = if d < 0 { "-" } else { "" };
    let magnitude = d.abs();
    let seconds = magnitude / NANOS;
    let nanos = (magnitude % NANOS) as i64;
    format!("{sign}{seconds}{}s", fraction(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_and_print() {
        let t = parse_timestamp("2024-01-01T00:00:00.5Z").unwrap();
        assert_eq!(t, 1_704_067_200 * NANOS + 500_000_000);
        assert_eq!(format_timestamp(t), "2024-01-01T00:00:00.500Z");
        assert_eq!(
            parse_timestamp("2024-01-01T01:00:00+01:00"),
            Some(1_704_067_200 * NANOS)
        );
        assert_eq!(parse_timestamp("0001-01-01T00:00:00Z"), Some(MIN_TIMESTAMP));
        assert_eq!(
            format_timestamp(MAX_TIMESTAMP),
            "9999-12-31T23:59:59.999999999Z"
        );
        for bad in [
            "2024-01-01T00:00:00+0\u{e9}00",
            "2024-02-30T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00",
            "0000-12-31T23:00:00Z",
            "2024-01-01T00:00:00.Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("1h30m"), Some(5400 * NANOS));
        assert_eq!(parse_duration("-1.5s"), Some(-1_500_000_000));
        assert_eq!(parse_duration("1.000000001s"), Some(NANOS + 1));
        assert_eq!(parse_duration("300ms"), Some(300_000_000));
        assert_eq!(format_duration(5400 * NANOS), "5400s");
        assert_eq!(format_duration(-1_500_000_000), "-1.500s");
        for bad in ["1d", "", "-", "1", "h", "1..5s", "99999999999999999999999h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
