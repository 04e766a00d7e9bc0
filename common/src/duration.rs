//! Durations as users write them: `250ms`, `2s`, `1m30s`, `1h`, or a bare
//! number of seconds (`60`, `0.5`), as Kubernetes manifests do.

use std::time::Duration;

/// Parses a duration; the error says what was expected.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a duration (examples: 250ms, 2s, 1m30s, 60)");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    // A bare number means seconds.
    let too_long = |total: f64| match total.is_finite() && total > MAX_SECONDS {
        true => format!("'{text}' is longer than the limit of ten years (3650d)"),
        false => bad(),
    };
    if let Ok(secs) = text.parse::<f64>() {
        return seconds(secs).ok_or_else(|| too_long(secs));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(did_you_mean(text, unit).unwrap_or_else(bad)),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    seconds(total).ok_or_else(|| too_long(total))
}

/// Ten years: a generous ceiling that keeps Instant arithmetic from overflowing.
const MAX_SECONDS: f64 = 315_360_000.0;

/// The unit a user most likely meant, for the units other tools take.
fn did_you_mean(text: &str, unit: &str) -> Option<String> {
    let (meant, why) = match unit {
        "min" | "mins" | "minute" | "minutes" => ("m", "minutes"),
        "sec" | "secs" | "second" | "seconds" => ("s", "seconds"),
        "H" | "hr" | "hrs" | "hour" | "hours" => ("h", "hours"),
        "D" | "day" | "days" => ("d", "days"),
        "w" | "W" | "week" | "weeks" => ("7d", "a week is 7d"),
        "MS" | "msec" | "msecs" => ("ms", "milliseconds"),
        _ => return None,
    };
    let fixed = match meant {
        // 1w -> 7d, 2w -> 14d: the number changes too.
        "7d" => {
            let n: f64 = text.trim().strip_suffix(unit)?.parse().ok()?;
            format!("{}d", trim(n * 7.0))
        }
        _ => text.trim().replace(unit, meant),
    };
    Some(format!(
        "'{text}' is not a duration: did you mean '{fixed}' ({why})? Units are ns us ms s m h d"
    ))
}

fn seconds(secs: f64) -> Option<Duration> {
    (secs.is_finite() && (0.0..=MAX_SECONDS).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// Formats a duration the way `parse` reads it back, for logs and messages:
/// to the microsecond below a second, to the millisecond above.
pub fn format(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{}us", d.as_micros())
    } else if ms < 1000.0 {
        format!("{}ms", trim(ms))
    } else if ms < 60_000.0 || d.subsec_millis() != 0 {
        format!("{}s", trim(d.as_secs_f64()))
    } else {
        // Whole minutes and hours as people write them: 2m, 1m30s, 1h.
        let secs = d.as_secs();
        let mut out = String::new();
        for (value, unit) in [(secs / 3600, "h"), (secs / 60 % 60, "m"), (secs % 60, "s")] {
            if value > 0 {
                out.push_str(&format!("{value}{unit}"));
            }
        }
        out
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    #[test]
    fn other_tools_units_get_a_did_you_mean_and_the_limit_is_named() {
        for (text, fixed) in [
            ("5min", "'5m' (minutes)"),
            ("1w", "'7d' (a week is 7d)"),
            ("2weeks", "'14d' (a week is 7d)"),
            ("1H", "'1h' (hours)"),
            ("1h30mins", "'1h30m' (minutes)"),
            ("10sec", "'10s' (seconds)"),
            ("3days", "'3d' (days)"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(&format!("did you mean {fixed}?")), "{text}: {e}");
        }
        assert_eq!(
            parse("3651d").unwrap_err(),
            "'3651d' is longer than the limit of ten years (3650d)"
        );
        assert_eq!(parse("3650d").unwrap(), Duration::from_secs(3650 * 86_400));
        assert!(parse("400000000")
            .unwrap_err()
            .contains("longer than the limit"));
        assert!(parse("5x")
            .unwrap_err()
            .contains("is not a duration (examples"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Any text: a duration or an error that quotes it, never a panic.
        #[test]
        fn any_text_parses_or_is_refused_with_its_words(text in any::<String>()) {
            if let Err(e) = parse(&text) {
                prop_assert!(e.contains("is not a duration") || e.contains("longer than the limit"), "{}", e);
            }
        }

        /// What `format` writes, `parse` reads back: to the microsecond
        /// below a second, to the millisecond above.
        #[test]
        fn formatted_durations_read_back(micros in 0u64..(10 * 365 * 86_400 * 1_000_000)) {
            let d = Duration::from_micros(micros);
            let back = parse(&format(d)).unwrap();
            let error = (back.as_secs_f64() - d.as_secs_f64()).abs();
            let allowed = if d < Duration::from_secs(1) { 1e-6 } else { 1e-3 };
            prop_assert!(error <= allowed, "{:?} -> {} -> {:?}", d, format(d), back);
        }

        /// Unit sums as people write them.
        #[test]
        fn hours_minutes_seconds_add_up(h in 0u64..100, m in 0u64..60, s in 0u64..60, ms in 0u64..1000) {
            let text = format!("{h}h{m}m{s}s{ms}ms");
            let want = Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + ms);
            prop_assert_eq!(parse(&text).unwrap().as_millis(), want.as_millis());
        }
    }

    #[test]
    fn reads_every_documented_form() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "", "s", "ms", "-1", "-1s", "5x", "1m30", "abc", "1..2s", "inf", "NaN", "1e400",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("is not a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn formats_back_readably() {
        assert_eq!(format(Duration::from_millis(250)), "250ms");
        assert_eq!(format(Duration::from_secs(2)), "2s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_micros(40)), "40us");
        assert_eq!(format(Duration::from_secs(120)), "2m");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_secs(3600)), "1h");
        assert_eq!(
            parse(&format(Duration::from_millis(1500))),
            Ok(Duration::from_millis(1500))
        );
    }
}
