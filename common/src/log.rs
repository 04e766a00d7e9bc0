//! One logfmt line per event on stderr, with the same keys in every program:
//! `ts=2026-11-24T19:14:00.123Z level=info msg="..." key=value`.

use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Keeps a failing source's log readable through a long outage (a target
/// down, a log absent, a job failing): the first failure is logged with its
/// reason; the same failure again at most once a period, with how many were
/// folded into it since; a new reason at once; and the recovery once, with
/// how long the outage lasted and how many failures it saw. Metrics count
/// every failure; only the log is folded. At exit, `flush` says what was
/// folded since the last line, so no failure goes unsaid.
pub struct Outage {
    period: Duration,
    /// Since when it has been failing, and how many times.
    since: Option<(Instant, u64)>,
    reason: String,
    said_at: Instant,
    folded: u64,
    /// The last failure folded, for `flush`.
    last_folded: Option<OwnedLine>,
}

/// A log line kept to be said later: level, message, fields.
type OwnedLine = (&'static str, String, Vec<(String, String)>);

/// What a failure comes to in the log.
#[derive(Debug, PartialEq)]
pub enum Said {
    /// Say it, with the number of like failures folded since it was last said.
    Now { folded: u64 },
    /// Said less than a period ago: folded.
    Folded,
}

impl Outage {
    /// Folding the same failure for a minute at a time.
    pub fn new() -> Outage {
        Outage::with_period(Duration::from_secs(60))
    }

    pub fn with_period(period: Duration) -> Outage {
        Outage {
            period,
            since: None,
            reason: String::new(),
            said_at: Instant::now(),
            folded: 0,
            last_folded: None,
        }
    }

    /// Logs a failure as a warning, `msg` with `fields` then `reason` (a
    /// key and the text compared with the last failure's), unless folded.
    pub fn failed(&mut self, msg: &str, fields: &[Field], reason: (&str, &str)) {
        let mut all = fields.to_vec();
        all.push((reason.0, &reason.1));
        self.say("warn", msg, &all, reason.1);
    }

    /// Logs a failure at `level` as `msg` with `fields` (and `repeated=N`
    /// when like failures were folded since the last line), unless it is
    /// folded; `same` is what tells a like failure from a new one.
    pub fn say(&mut self, level: &'static str, msg: &str, fields: &[Field], same: &str) {
        match self.failure(same) {
            Said::Now { folded } => {
                let mut all = fields.to_vec();
                if folded > 0 {
                    all.push(("repeated", &folded));
                }
                emit(level, msg, &all);
                self.last_folded = None;
            }
            Said::Folded => {
                let owned = fields
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .collect();
                self.last_folded = Some((level, msg.to_string(), owned));
            }
        }
    }

    /// At exit, so that the log loses no failure: says the last one folded
    /// since the last line, with `repeated=N` for the others folded before
    /// it. As every line, it stands for itself and N more.
    pub fn flush(&mut self) {
        if let Some((level, msg, fields)) = self.last_folded.take() {
            let before = self.folded - 1;
            let mut all: Vec<Field> = fields
                .iter()
                .map(|(key, value)| (key.as_str(), value as &dyn Display))
                .collect();
            if before > 0 {
                all.push(("repeated", &before));
            }
            emit(level, &msg, &all);
        }
        self.folded = 0;
    }

    /// Logs the recovery as `msg` with `fields`, once, if it was failing.
    pub fn succeeded(&mut self, msg: &str, fields: &[Field]) {
        if let Some((lasted, failures)) = self.success() {
            let lasted = crate::duration::format(lasted);
            let mut all = fields.to_vec();
            all.push(("outage", &lasted));
            all.push(("failures", &failures));
            info(msg, &all);
        }
    }

    /// Whether to say a failure now.
    fn failure(&mut self, reason: &str) -> Said {
        self.failure_at(Instant::now(), reason)
    }

    /// For a caller that logs the recovery itself: how long the outage
    /// lasted and how many failures it saw, if there was one.
    pub fn success(&mut self) -> Option<(Duration, u64)> {
        self.success_at(Instant::now())
    }

    fn failure_at(&mut self, now: Instant, reason: &str) -> Said {
        let (_, count) = self.since.get_or_insert((now, 0));
        *count += 1;
        let new_reason = *count == 1 || reason != self.reason;
        if new_reason || now.duration_since(self.said_at) >= self.period {
            let folded = if new_reason { 0 } else { self.folded };
            self.reason = reason.to_string();
            self.said_at = now;
            self.folded = 0;
            return Said::Now { folded };
        }
        self.folded += 1;
        Said::Folded
    }

    /// How long the outage lasted and how many failures it saw, if any.
    fn success_at(&mut self, now: Instant) -> Option<(Duration, u64)> {
        let (since, count) = self.since.take()?;
        self.folded = 0;
        self.last_folded = None;
        Some((now.duration_since(since), count))
    }
}

impl Default for Outage {
    fn default() -> Self {
        Outage::new()
    }
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
    let (year, month, day) = crate::civil::date_of((secs / 86400) as i64);
    let rem = secs % 86400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_said_once_a_period_with_what_was_folded_and_its_end_once() {
        let mut outage = Outage::with_period(Duration::from_secs(60));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(outage.failure_at(at(0), "refused"), Said::Now { folded: 0 });
        for s in 1..60 {
            assert_eq!(outage.failure_at(at(s), "refused"), Said::Folded, "{s}");
        }
        assert_eq!(
            outage.failure_at(at(60), "refused"),
            Said::Now { folded: 59 }
        );
        assert_eq!(outage.failure_at(at(61), "refused"), Said::Folded);
        // Another reason is news: said at once.
        assert_eq!(
            outage.failure_at(at(62), "timed out"),
            Said::Now { folded: 0 }
        );
        assert_eq!(
            outage.success_at(at(70)),
            Some((Duration::from_secs(70), 63))
        );
        assert_eq!(outage.success_at(at(71)), None);
        assert_eq!(
            outage.failure_at(at(80), "timed out"),
            Said::Now { folded: 0 }
        );
    }
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
