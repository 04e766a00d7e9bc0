//! Command-line conventions shared by the side-cars: `--help` and
//! `--version` exit 0, a usage error is one line naming the flag plus a hint
//! to try `--help` and exits 2, a mistyped flag gets the nearest one, no
//! input ever ends in a panic, and every way to fail goes through
//! `Program::fail`, which writes the `NAME: ` prefix once.

use std::ffi::OsString;
use std::time::Duration;

/// A check or run failed.
pub const EXIT_FAILURE: i32 = 1;
/// Bad usage or configuration.
pub const EXIT_USAGE: i32 = 2;
/// An internal error: a panic, in any thread (sysexits' EX_SOFTWARE).
pub const EXIT_INTERNAL: i32 = 70;

// Declared with the flags, which cli builds on (not the other way round).
pub use crate::flag::{flags_in, Stop};

/// Who is speaking: used for `--version`, `--help` and every error line.
pub struct Program {
    pub name: &'static str,
    pub help: &'static str,
}

/// Runs a program's `parse` over `args` as if they were its command line:
/// the in-process tests of each binary's parser use it.
pub fn parse_args<T>(
    args: &[&str],
    parse: impl FnOnce(lexopt::Parser) -> Result<T, Stop>,
) -> Result<T, Stop> {
    parse(lexopt::Parser::from_args(args.iter().copied()))
}

/// The usage error `parsed` holds; panics when parsing succeeded or stopped
/// for `--help` or `--version`.
pub fn usage_error<T>(parsed: Result<T, Stop>) -> String {
    match parsed {
        Err(Stop::Usage(text)) => text,
        Err(stop) => panic!("stopped for {stop:?}, not a usage error"),
        Ok(_) => panic!("accepted"),
    }
}

/// A usage error about one flag.
pub fn usage(flag: &str, what: impl std::fmt::Display) -> Stop {
    Stop::Usage(format!("{flag}: {what}"))
}

/// Why a program cannot go on: one line, and the exit status it means.
#[derive(Debug, PartialEq)]
pub struct Fatal {
    pub status: i32,
    pub message: String,
}

impl Fatal {
    /// The side-car cannot run as configured (a fix in the manifest): 2.
    pub fn config(message: impl Into<String>) -> Fatal {
        Fatal {
            status: EXIT_USAGE,
            message: message.into(),
        }
    }
}

impl Program {
    /// Runs the parser; prints help, version or the usage error and exits
    /// when parsing did not produce options to run with.
    pub fn parse<T>(&self, parse: impl FnOnce(lexopt::Parser) -> Result<T, Stop>) -> T {
        self.parse_from(lexopt::Parser::from_env(), parse)
    }

    /// As `parse`, over a parser the caller made (e.g. from part of argv).
    pub fn parse_from<T>(
        &self,
        parser: lexopt::Parser,
        parse: impl FnOnce(lexopt::Parser) -> Result<T, Stop>,
    ) -> T {
        exit_on_panic();
        match parse(parser) {
            Ok(options) => options,
            Err(stop) => self.stopped(stop),
        }
    }

    /// Help, version or a usage error: printed, then exit. Apart from the
    /// generic `parse_from`, so that the multicall keeps one copy of it, not
    /// one per side-car (measured: 2.9 KB of the multicall).
    #[inline(never)]
    fn stopped(&self, stop: Stop) -> ! {
        match stop {
            Stop::Help => {
                print!("{}", self.help);
                std::process::exit(0)
            }
            Stop::Version => {
                print!("{}", crate::build_info::version_text(self.name));
                std::process::exit(0)
            }
            Stop::Usage(msg) => {
                let msg = suggest(&msg, self.help);
                let hint = format!("Try '{} --help' for more information.", self.name);
                if crate::log::json() {
                    // `--FLAG: what`, `INTERVAL: what` or `invalid option
                    // '--FLAG'`: the flag as a field too, where there is one.
                    let flag = match msg.strip_prefix("invalid option '") {
                        Some(rest) => rest.split('\'').next(),
                        None => msg
                            .split_once(": ")
                            .map(|(flag, _)| flag)
                            .filter(|flag| !flag.contains(' ')),
                    };
                    let mut fields: Vec<crate::log::Field> = Vec::new();
                    if let Some(flag) = &flag {
                        fields.push(("flag", flag));
                    }
                    fields.push(("hint", &hint));
                    fields.push(("exit", &EXIT_USAGE));
                    crate::log::error(&msg, &fields);
                    std::process::exit(EXIT_USAGE)
                }
                self.exit_with(EXIT_USAGE, &[&msg, &hint])
            }
        }
    }

    /// The one way to fail: a log line at level error once the log is
    /// configured (a pipeline reading JSON gets JSON), `NAME: message`
    /// before; then exit with the status the failure means.
    pub fn fail(&self, fatal: Fatal) -> ! {
        if crate::log::configured() {
            crate::log::error(&fatal.message, &[("exit", &fatal.status)]);
            std::process::exit(fatal.status)
        }
        self.exit_with(fatal.status, &[&fatal.message])
    }

    /// Binds the address given as `flag`, or fails with status 2 saying why:
    /// a taken port fails at start, before any worker runs.
    pub fn bind(&self, flag: &str, addr: &crate::server::ListenAddr) -> crate::server::Bound {
        crate::server::bind(addr).unwrap_or_else(|e| {
            self.fail(Fatal::config(format!(
                "{flag}: cannot listen on '{addr}': {e}"
            )))
        })
    }

    /// With `--listen ADDR` given, binds it and serves `/metrics` as `render`
    /// writes it (and `index` at `/`), or fails saying why, before the
    /// program's work starts.
    pub fn serve_metrics(
        &self,
        listen: Option<&crate::server::ListenAddr>,
        index: &'static str,
        render: impl Fn() -> String + Send + Sync + 'static,
    ) {
        if let Some(addr) = listen {
            let bound = self.bind("--listen", addr);
            let endpoint = crate::server::MetricsEndpoint::rendered(index, render);
            self.serve(bound, std::sync::Arc::new(endpoint), &[]);
        }
    }

    /// Serves `handler` on `bound` and logs `serving`, or fails saying why.
    pub fn serve(
        &self,
        bound: crate::server::Bound,
        handler: std::sync::Arc<dyn crate::server::Handler>,
        fields: &[crate::log::Field],
    ) {
        let addr = bound.addr.clone();
        bound
            .serve(handler, fields)
            .unwrap_or_else(|e| self.fail(Fatal::config(format!("cannot serve on {addr}: {e}"))))
    }

    /// The first line prefixed with `NAME: `, then exit.
    fn exit_with(&self, status: i32, lines: &[&str]) -> ! {
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate() {
            if i == 0 {
                text.push_str(self.name);
                text.push_str(": ");
            }
            text.push_str(line);
            text.push('\n');
        }
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
        std::process::exit(status)
    }
}

/// lexopt's "invalid option '--older-thn'" with the nearest flag of `help`
/// added: `did you mean '--older-than'?`, as ripgrep does. Other messages
/// pass unchanged.
fn suggest(msg: &str, help: &str) -> String {
    let Some(given) = msg
        .strip_prefix("invalid option '")
        .and_then(|rest| rest.strip_suffix('\''))
        .filter(|flag| flag.starts_with("--"))
    else {
        return msg.to_string();
    };
    let name = given.split('=').next().unwrap_or(given);
    let best = flags_in(help)
        .into_iter()
        .filter(|flag| flag.starts_with("--"))
        .map(|flag| (edit_distance(name, &flag), flag))
        .filter(|(distance, flag)| *distance <= (flag.len() / 4).max(1) + 1)
        .min();
    match best {
        Some((_, flag)) => format!("{msg}: did you mean '{flag}'?"),
        None => msg.to_string(),
    }
}

/// Levenshtein distance, for flags a few dozen bytes long.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(x != y));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A panic anywhere is a bug, and a server with one thread dead would
/// answer half its requests or none: the whole process says so in one log
/// line and exits `EXIT_INTERNAL`, so that the kubelet restarts the
/// container and the line is in its last log. Installed by `Program::parse`,
/// before any thread starts.
fn exit_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let location = info
            .location()
            .map_or_else(String::new, |l| format!("{}:{}", l.file(), l.line()));
        crate::log::error(
            "internal error (a bug): exiting so that the container is restarted",
            &[
                ("thread", &thread),
                ("panic", &message),
                ("at", &location),
                ("exit", &EXIT_INTERNAL),
            ],
        );
        // SAFETY: _exit ends the process at once; nothing is shared with a
        // thread that might hold a lock the exit path would need.
        unsafe { libc::_exit(EXIT_INTERNAL) }
    }));
}

/// Parses one of `log::FLAGS` (given without its dashes) into `options`.
pub fn log_flag(
    options: &mut crate::log::LogOptions,
    flag: &str,
    parser: &mut lexopt::Parser,
) -> Result<(), Stop> {
    use crate::log::{Format, Level};
    let name = format!("--{flag}");
    let value = text(parser, &name)?;
    match (flag, value.as_str()) {
        ("log-format", "logfmt") => options.format = Format::Logfmt,
        ("log-format", "json") => {
            options.format = Format::Json;
            // From here on a usage error is a JSON line too, so that a
            // pipeline that reads only JSON sees why the container exits.
            crate::log::configure(*options);
        }
        ("log-format", other) => {
            return Err(usage(&name, format!("'{other}' is not logfmt or json")))
        }
        ("log-level", "debug") => options.level = Level::Debug,
        ("log-level", "info") => options.level = Level::Info,
        ("log-level", "warn") => options.level = Level::Warn,
        ("log-level", "error") => options.level = Level::Error,
        (_, other) => {
            return Err(usage(
                &name,
                format!("'{other}' is not debug, info, warn or error"),
            ))
        }
    }
    Ok(())
}

/// The value of `flag` as UTF-8 text.
pub fn text(parser: &mut lexopt::Parser, flag: &str) -> Result<String, Stop> {
    utf8(flag, parser.value()?)
}

/// Converts a raw argument, naming `flag` when it is not UTF-8.
pub fn utf8(flag: &str, raw: OsString) -> Result<String, Stop> {
    raw.into_string()
        .map_err(|raw| usage(flag, format!("{raw:?} is not valid UTF-8")))
}

/// The value of `flag` as a duration (`250ms`, `2s`, `1m30s`, `60`).
pub fn duration(parser: &mut lexopt::Parser, flag: &str) -> Result<Duration, Stop> {
    let value = text(parser, flag)?;
    crate::duration::parse(&value).map_err(|e| usage(flag, e))
}

/// The value of `flag` as a positive duration.
pub fn positive_duration(parser: &mut lexopt::Parser, flag: &str) -> Result<Duration, Stop> {
    let value = duration(parser, flag)?;
    if value.is_zero() {
        return Err(usage(flag, "must be greater than zero"));
    }
    Ok(value)
}

/// The value of `flag` as a listening address (`:PORT`, `HOST:PORT`,
/// `[V6]:PORT`), checked now so that a bad one is a usage error.
pub fn listen_addr(
    parser: &mut lexopt::Parser,
    flag: &str,
) -> Result<crate::server::ListenAddr, Stop> {
    let value = text(parser, flag)?;
    crate::server::ListenAddr::parse(&value).map_err(|e| usage(flag, e))
}

/// As many redirects as the kubelet's httpGet probe follows (Go's client).
pub const DEFAULT_REDIRECTS: u32 = 10;

/// `--follow-redirects` alone: up to `DEFAULT_REDIRECTS`; `--follow-redirects=N`:
/// up to N. A switch with an optional `=N`, so that neither spelling
/// swallows the next flag as its value.
pub fn follow_redirects(parser: &mut lexopt::Parser, flag: &str) -> Result<u32, Stop> {
    match parser.optional_value() {
        None => Ok(DEFAULT_REDIRECTS),
        Some(raw) => {
            let value = utf8(flag, raw)?;
            value.parse().map_err(|_| {
                usage(
                    flag,
                    format!("'{value}' is not a number of redirects (--follow-redirects, or --follow-redirects=N)"),
                )
            })
        }
    }
}

/// The value of `flag` as a number of any `FromStr` type.
pub fn number<T: std::str::FromStr>(parser: &mut lexopt::Parser, flag: &str) -> Result<T, Stop> {
    let value = text(parser, flag)?;
    value
        .parse()
        .map_err(|_| usage(flag, format!("'{value}' is not a valid number")))
}

/// The value of `flag` as a byte size greater than zero (see `parse_byte_size`).
pub fn byte_size(parser: &mut lexopt::Parser, flag: &str) -> Result<u64, Stop> {
    let value = text(parser, flag)?;
    match parse_byte_size(&value) {
        Ok(0) => Err(usage(flag, "must be greater than zero")),
        Ok(bytes) => Ok(bytes),
        Err(e) => Err(usage(flag, e)),
    }
}

/// The size spellings everywhere: Kubernetes' quantity grammar, exactly,
/// as a user copies it from a `sizeLimit` or a memory limit (`65536`,
/// `64Ki`, `1.5Gi`, `1G` = 10^9, `500M`, `1e9`, `1500m` rounded up to whole
/// bytes as Kubernetes' `Value()` does), and IEC's `KiB` to `EiB`, read as
/// `Ki` to `Ei`. What neither grammar has, and readers take two ways (`1GB`,
/// `1gb`, `1K`, `1mib`), is refused with the spelling to use.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    const HINT: &str =
        "write bytes (65536) or a Kubernetes quantity: 64Ki, 1.5Gi, 900Mi, 1G (10^9), 500M, 1e9";
    let not_a_size = || format!("'{text}' is not a size: {HINT}");
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    // <number> ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    let number_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(not_a_size());
    }
    // The value is (digits / 10^fraction) * numerator / denominator.
    let (numerator, denominator): (u128, u128) = match suffix {
        "" | "B" => (1, 1),
        "Ki" | "KiB" => (1 << 10, 1),
        "Mi" | "MiB" => (1 << 20, 1),
        "Gi" | "GiB" => (1 << 30, 1),
        "Ti" | "TiB" => (1 << 40, 1),
        "Pi" | "PiB" => (1 << 50, 1),
        "Ei" | "EiB" => (1 << 60, 1),
        "n" => (1, 10u128.pow(9)),
        "u" => (1, 10u128.pow(6)),
        "m" => (1, 1000),
        "k" => (10u128.pow(3), 1),
        "M" => (10u128.pow(6), 1),
        "G" => (10u128.pow(9), 1),
        "T" => (10u128.pow(12), 1),
        "P" => (10u128.pow(15), 1),
        "E" => (10u128.pow(18), 1),
        _ => match exponent(suffix) {
            Some(Ok(power)) if power >= 0 => (10u128.pow(power as u32), 1),
            Some(Ok(power)) => (1, 10u128.pow(power.unsigned_abs())),
            Some(Err(())) => return Err(format!("'{text}' is too large")),
            None => return Err(ambiguous(text, number, suffix).unwrap_or_else(not_a_size)),
        },
    };
    // 20 significant digits hold any u64; more are refused, not rounded.
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 24 {
        return Err(format!("'{text}' is too large"));
    }
    let mantissa: u128 = digits.parse().unwrap_or(0);
    let scale = 10u128.pow(fraction.len().min(38) as u32);
    let too_large = || format!("'{text}' is too large");
    let over = mantissa.checked_mul(numerator).ok_or_else(too_large)?;
    let under = scale.checked_mul(denominator).ok_or_else(too_large)?;
    // -0 is 0 to Kubernetes; any other negative is no size.
    if negative && over != 0 {
        return Err(format!("'{text}': a size cannot be negative"));
    }
    // Rounded up to a whole byte, as Kubernetes' Quantity.Value().
    let bytes = over.div_ceil(under);
    // Kubernetes clamps past 2^63 - 1 to that; a size so large is a mistake.
    match i64::try_from(bytes) {
        Ok(bytes) => Ok(bytes as u64),
        Err(_) => Err(too_large()),
    }
}

/// `e3`, `E-2`: Some(power), Err(()) past what any size needs; None when
/// `suffix` is not a decimal exponent.
fn exponent(suffix: &str) -> Option<Result<i32, ()>> {
    let rest = suffix.strip_prefix(['e', 'E'])?;
    let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let power: i32 = rest.parse().unwrap_or(i32::MAX);
    Some(if power.unsigned_abs() <= 30 {
        Ok(power)
    } else {
        Err(())
    })
}

/// The fix for a unit that only looks like Kubernetes' or IEC's.
fn ambiguous(text: &str, number: &str, suffix: &str) -> Option<String> {
    let letter = match suffix.to_ascii_lowercase().trim_end_matches('b') {
        "k" | "ki" => 'k',
        "m" | "mi" => 'M',
        "g" | "gi" => 'G',
        "t" | "ti" => 'T',
        "p" | "pi" => 'P',
        _ => return None,
    };
    let binary = letter.to_ascii_uppercase();
    let power = match binary {
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        _ => 50,
    };
    Some(format!(
        "'{text}' is ambiguous (decimal or binary?): write {number}{binary}i for 2^{power} bytes each, or {number}{letter} for 10^{} as Kubernetes reads it",
        power / 10 * 3
    ))
}

#[cfg(test)]
mod tests {
    use super::{log_flag, parse_args, parse_byte_size, usage_error};
    use proptest::prelude::*;

    #[test]
    fn a_mistyped_flag_gets_the_nearest_one() {
        let help = "  --older-than DURATION\n  --max-size SIZE\n  --dry-run\n  -h, --help\n";
        let said = |flag: &str| super::suggest(&format!("invalid option '{flag}'"), help);
        assert_eq!(
            said("--older-thn"),
            "invalid option '--older-thn': did you mean '--older-than'?"
        );
        assert_eq!(
            said("--dryrun"),
            "invalid option '--dryrun': did you mean '--dry-run'?"
        );
        assert_eq!(said("--frobnicate"), "invalid option '--frobnicate'");
        assert_eq!(super::suggest("--x: bad", help), "--x: bad");
        let found: Vec<String> = super::flags_in(help).into_iter().collect();
        assert_eq!(
            found,
            ["--dry-run", "--help", "--max-size", "--older-than", "-h"]
        );
    }

    #[test]
    fn kubernetes_quantities_and_iec_units() {
        for (text, bytes) in [
            ("65536", 65536),
            ("65536B", 65536),
            ("+5", 5),
            ("1Ki", 1 << 10),
            ("512KiB", 512 << 10),
            ("1Mi", 1 << 20),
            ("900MiB", 900 << 20),
            ("2Gi", 2 << 30),
            ("1TiB", 1 << 40),
            ("1Pi", 1 << 50),
            ("1.5Gi", 3 << 29),
            (".5Ki", 512),
            ("1.Ki", 1024),
            ("1k", 1000),
            ("1M", 1_000_000),
            ("1G", 1_000_000_000),
            ("2.5G", 2_500_000_000),
            ("1T", 1_000_000_000_000),
            ("1E", 1_000_000_000_000_000_000),
            ("1e9", 1_000_000_000),
            ("12E6", 12_000_000),
            ("1e+3", 1000),
            ("1500e-3", 2),
            ("1500m", 2),
            ("1500u", 1),
            ("5000000000n", 5),
            ("1000m", 1),
            ("0.1", 1),
            ("0", 0),
            ("0.0Gi", 0),
            ("-0", 0),
        ] {
            assert_eq!(parse_byte_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn ambiguous_and_malformed_sizes_are_refused_with_the_spelling_to_use() {
        for (text, hint) in [
            ("1kB", "write 1Ki for 2^10 bytes each, or 1k for 10^3"),
            ("1KB", "write 1Ki for 2^10"),
            ("1kb", "write 1Ki for 2^10"),
            ("1K", "write 1Ki for 2^10"),
            ("1MB", "write 1Mi for 2^20 bytes each, or 1M for 10^6"),
            ("1mib", "write 1Mi"),
            ("1GB", "write 1Gi for 2^30 bytes each, or 1G for 10^9"),
            ("1gb", "write 1Gi"),
            ("1.5GB", "write 1.5Gi"),
            ("MiB", "is not a size"),
            ("", "is not a size"),
            (".", "is not a size"),
            ("1.2.3", "is not a size"),
            ("1XB", "is not a size"),
            ("1 Gi", "is not a size"),
            ("-1", "cannot be negative"),
            ("-1Gi", "cannot be negative"),
            ("99999999999999999999Gi", "too large"),
            ("99999999Ei", "too large"),
            ("8Ei", "too large"),
            ("1e40", "too large"),
            ("1e", "is not a size"),
        ] {
            let refused = parse_byte_size(text).unwrap_err();
            assert!(refused.contains(hint), "{text}: {refused}");
        }
    }

    proptest! {
        #[test]
        fn any_text_is_a_size_or_a_clear_refusal(text in any::<String>()) {
            if let Err(e) = parse_byte_size(&text) {
                prop_assert!(e.contains(&format!("'{text}'")), "{}", e);
            }
        }

        #[test]
        fn every_unit_scales_exactly(n in 0u64..1 << 20, unit in 0usize..5) {
            let (names, shift) = [(["B", ""], 0), (["Ki", "KiB"], 10), (["Mi", "MiB"], 20), (["Gi", "GiB"], 30), (["Ti", "TiB"], 40)][unit];
            for name in names {
                prop_assert_eq!(parse_byte_size(&format!("{n}{name}")), Ok(n << shift));
            }
        }

        /// A decimal fraction of a binary unit, rounded up as Kubernetes rounds.
        #[test]
        fn fractions_round_up_to_whole_bytes(whole in 0u64..1000, tenths in 0u64..10, unit in 0u32..4) {
            let exact = (whole * 10 + tenths) << (10 * unit);
            let suffix = ["", "Ki", "Mi", "Gi"][unit as usize];
            prop_assert_eq!(parse_byte_size(&format!("{whole}.{tenths}{suffix}")), Ok(exact.div_ceil(10)));
        }
    }

    #[test]
    fn levels_and_formats_parse_and_order() {
        let parse = |args: &[&str]| {
            parse_args(args, |mut parser| {
                let mut options = crate::log::LogOptions::default();
                while let Some(arg) = parser.next()? {
                    if let lexopt::Arg::Long(flag) = arg {
                        let flag = flag.to_string();
                        log_flag(&mut options, &flag, &mut parser)?;
                    }
                }
                Ok(options)
            })
        };
        assert_eq!(
            parse(&["--log-format", "json", "--log-level=warn"]).unwrap(),
            crate::log::LogOptions {
                format: crate::log::Format::Json,
                level: crate::log::Level::Warn
            }
        );
        assert_eq!(
            usage_error(parse(&["--log-format", "text"])),
            "--log-format: 'text' is not logfmt or json"
        );
        assert_eq!(
            usage_error(parse(&["--log-level", "trace"])),
            "--log-level: 'trace' is not debug, info, warn or error"
        );
        use crate::log::Level;
        assert!(Level::Debug < Level::Info && Level::Warn < Level::Error);
    }
}
