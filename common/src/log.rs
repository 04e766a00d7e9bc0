//! One line per event on stderr, with the same keys in every program: `ts`,
//! `level`, `msg`, then the event's own. logfmt by default,
//! `ts=2026-11-24T19:14:00.123Z level=info msg="..." key=value`, or with
//! `--log-format json` one JSON object per line with the same keys, every
//! value a string (so a field's type never changes from one line to the
//! next, which Elasticsearch's mapping needs). `--log-level` drops the
//! lines below it.
//!
//! Values may come from the main container (paths, reasons, log content):
//! bytes that are not UTF-8 are written as U+FFFD, as Rust's lossy
//! conversions make them, so every line is valid UTF-8 and valid logfmt or
//! JSON whatever the peer sent.

use std::borrow::Cow;
use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A key and a value to append to a log line.
pub type Field<'a> = (&'a str, &'a dyn Display);

/// The log flags' help, the same in every program; a macro so that each
/// program's help text stays one literal.
#[macro_export]
macro_rules! log_help {
    () => {
        "  --log-format logfmt|json
                       log lines on stderr as logfmt (default) or as one
                       JSON object per line, with the same keys
  --log-level debug|info|warn|error
                       leave out lines below this level (default info);
                       debug adds each probe, run, read or deletion
"
    };
}

/// The log flags, spelled the toolbox's way.
pub const FLAGS: &[crate::flag::Flag] = &[
    // logfmt: json would switch this process's usage errors to JSON.
    crate::flag::Flag::new("log-format", &["logfmt"]),
    crate::flag::Flag::new("log-level", &["debug"]),
];
/// Their spellings, for the parser's guards.
pub const SPELLED: [crate::flag::Spelling; crate::flag::count(&[FLAGS])] =
    crate::flag::spelled(&[FLAGS]);

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Format {
    #[default]
    Logfmt,
    Json,
}

/// In order: a level shows itself and everything above it.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub enum Level {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// `--log-format` and `--log-level`, as given.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LogOptions {
    pub format: Format,
    pub level: Level,
}

/// The format (bit 7) and the lowest level shown (the rest); set once,
/// after parsing, before any thread logs.
static SETTINGS: AtomicU8 = AtomicU8::new(Level::Info as u8);
static CONFIGURED: AtomicBool = AtomicBool::new(false);
const JSON_BIT: u8 = 0x80;

/// Applies the log flags: every line from now on follows them.
pub fn configure(options: LogOptions) {
    let format = match options.format {
        Format::Logfmt => 0,
        Format::Json => JSON_BIT,
    };
    SETTINGS.store(format | options.level as u8, Ordering::Relaxed);
    CONFIGURED.store(true, Ordering::Relaxed);
}

/// Whether `configure` ran: a failure before it (a usage error) is plain
/// text for the person typing; after it, a log line.
pub fn configured() -> bool {
    CONFIGURED.load(Ordering::Relaxed)
}

/// Whether lines are JSON: configured so, or `--log-format json` already
/// read by a parse still under way.
pub fn json() -> bool {
    configured() && SETTINGS.load(Ordering::Relaxed) & JSON_BIT != 0
}

/// Whether a line at `level` is written.
pub fn enabled(level: Level) -> bool {
    level as u8 >= SETTINGS.load(Ordering::Relaxed) & !JSON_BIT
}

fn format() -> Format {
    match SETTINGS.load(Ordering::Relaxed) & JSON_BIT {
        0 => Format::Logfmt,
        _ => Format::Json,
    }
}

/// Detail too chatty for info: each probe, run, read, deletion.
pub fn debug(msg: &str, fields: &[Field]) {
    emit(Level::Debug, msg, fields)
}

pub fn info(msg: &str, fields: &[Field]) {
    emit(Level::Info, msg, fields)
}

pub fn warn(msg: &str, fields: &[Field]) {
    emit(Level::Warn, msg, fields)
}

pub fn error(msg: &str, fields: &[Field]) {
    emit(Level::Error, msg, fields)
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
type OwnedLine = (Level, String, Vec<(String, String)>);

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
        self.say(Level::Warn, msg, &all, reason.1);
    }

    /// Logs a failure at `level` as `msg` with `fields` (and `repeated=N`
    /// when like failures were folded since the last line), unless it is
    /// folded; `same` is what tells a like failure from a new one.
    pub fn say(&mut self, level: Level, msg: &str, fields: &[Field], same: &str) {
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

fn emit(level: Level, msg: &str, fields: &[Field]) {
    if !enabled(level) {
        return;
    }
    let line = format_line(format(), SystemTime::now(), level, msg, fields);
    // One write per line so lines from several threads never interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn format_line(
    format: Format,
    now: SystemTime,
    level: Level,
    msg: &str,
    fields: &[Field],
) -> String {
    let ts = timestamp(now);
    // Borrowed where the text is at hand; only the event's own values are
    // formatted.
    let own = fields
        .iter()
        .map(|(key, value)| (*key, Cow::Owned(value.to_string())));
    let all = [
        ("ts", Cow::Owned(ts)),
        ("level", Cow::Borrowed(level.name())),
        ("msg", Cow::Borrowed(msg)),
    ]
    .into_iter()
    .chain(own);
    let mut line = String::with_capacity(96);
    for (i, (key, text)) in all.enumerate() {
        match format {
            Format::Logfmt => {
                if i > 0 {
                    line.push(' ');
                }
                line.push_str(key);
                line.push('=');
                push_logfmt(&mut line, &text);
            }
            Format::Json => {
                line.push(if i == 0 { '{' } else { ',' });
                push_json(&mut line, key);
                line.push(':');
                push_json(&mut line, &text);
            }
        }
    }
    if format == Format::Json {
        line.push('}');
    }
    line.push('\n');
    line
}

/// A logfmt value, quoted when go-logfmt would quote it (empty, a space or
/// control, `=`, `"`, U+FFFD), with its escapes: `\"`, `\\`, `\n`, `\r`,
/// `\t`, and `\u001b` for other controls.
fn push_logfmt(line: &mut String, value: &str) {
    let plain = !value.is_empty()
        && !value.chars().any(|c| {
            c <= ' ' || c == '=' || c == '"' || c == '\\' || c == '\u{fffd}' || c.is_control()
        });
    if plain {
        line.push_str(value);
        return;
    }
    line.push('"');
    push_escaped(line, value);
    line.push('"');
}

/// A JSON string.
fn push_json(line: &mut String, value: &str) {
    line.push('"');
    push_escaped(line, value);
    line.push('"');
}

/// The escapes logfmt's quoted values and JSON strings share.
fn push_escaped(line: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(line, "\\u{:04x}", c as u32);
            }
            c => line.push(c),
        }
    }
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
            Format::Logfmt,
            t,
            Level::Info,
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

    #[test]
    fn controls_are_escaped_as_go_logfmt_and_json_read_them() {
        let t = UNIX_EPOCH;
        let odd = "a\u{1b}[31m\u{7f}\u{0}b \u{fffd}";
        let logfmt = format_line(Format::Logfmt, t, Level::Warn, "x", &[("path", &odd)]);
        assert!(
            logfmt.ends_with(" path=\"a\\u001b[31m\\u007f\\u0000b \u{fffd}\"\n"),
            "{logfmt}"
        );
        // A lone U+FFFD is quoted, as go-logfmt's encoder quotes it.
        let replaced = format_line(Format::Logfmt, t, Level::Info, "x", &[("v", &"\u{fffd}")]);
        assert!(replaced.ends_with(" v=\"\u{fffd}\"\n"), "{replaced}");
        let json = format_line(
            Format::Json,
            t,
            Level::Warn,
            "x",
            &[("path", &odd), ("n", &3)],
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["path"], odd);
        assert_eq!(parsed["n"], "3");
        assert_eq!(parsed["level"], "warn");
        assert_eq!(parsed["ts"], "1970-01-01T00:00:00.000Z");
        // The keys in logfmt's order.
        assert!(
            json.starts_with(
                r#"{"ts":"1970-01-01T00:00:00.000Z","level":"warn","msg":"x","path":"#
            ),
            "{json}"
        );
        assert!(json.ends_with(",\"n\":\"3\"}\n"), "{json}");
    }
}
