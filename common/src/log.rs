//! One logfmt line per event on stderr, with the same keys in every program:
//! `ts=2026-11-24T19:14:00.123Z level=info msg="..." key=value`.

use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// A key and a value to append to a log line.
pub type Field<'a> = (&'a str, &'a dyn Display);

pub fn info(msg: &str, fields: &[Field]) {
    emit("info", msg, fields)
}

pub fn warn(msg: &str, fields: &[Field]) {
    emit("warn", msg, fields)
}

pub fn error(msg: &str, fields: &[Field]) {
    emit("error", msg, fields)
}

fn emit(level: &str, msg: &str, fields: &[Field]) {
    let line = format_line(SystemTime::now(), level, msg, fields);
    // One write per line so lines from several threads never interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn format_line(now: SystemTime, level: &str, msg: &str, fields: &[Field]) -> String {
    let mut line = String::with_capacity(96);
    let _ = write!(line, "ts={} level={level} msg=", timestamp(now));
    push_value(&mut line, msg);
    for (key, value) in fields {
        let _ = write!(line, " {key}=");
        push_value(&mut line, &value.to_string());
    }
    line.push('\n');
    line
}

/// Quotes a value when logfmt needs it (empty, spaces, `=`, quotes, controls).
fn push_value(line: &mut String, value: &str) {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control());
    if plain {
        line.push_str(value);
        return;
    }
    line.push('"');
    for c in value.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(line, "\\u{{{:x}}}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

/// RFC 3339 UTC with milliseconds, computed without a time zone database
/// (there is none in a scratch image).
pub fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86400) as i64);
    let rem = secs % 86400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_547_640_123);
        assert_eq!(timestamp(t), "2026-11-24T19:14:00.123Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // A leap day.
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn lines_are_logfmt() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_547_640_123);
        let line = format_line(
            t,
            "info",
            "run done",
            &[
                ("status", &200),
                ("url", &"http://x/?a=b"),
                ("err", &"say \"hi\"\n"),
            ],
        );
        assert_eq!(
            line,
            "ts=2026-11-24T19:14:00.123Z level=info msg=\"run done\" status=200 url=\"http://x/?a=b\" err=\"say \\\"hi\\\"\\n\"\n"
        );
    }
}
