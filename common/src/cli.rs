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

/// Who is speaking: used for `--version`, `--help` and every error line.
pub struct Program {
    pub name: &'static str,
    pub help: &'static str,
}

/// Why argument parsing stopped before a run.
#[derive(Debug)]
pub enum Stop {
    Help,
    Version,
    Usage(String),
}

impl From<lexopt::Error> for Stop {
    fn from(err: lexopt::Error) -> Self {
        Stop::Usage(err.to_string())
    }
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
            Err(Stop::Help) => {
                print!("{}", self.help);
                std::process::exit(0)
            }
            Err(Stop::Version) => {
                print!("{}", crate::build_info::version_text(self.name));
                std::process::exit(0)
            }
            Err(Stop::Usage(msg)) => {
                let msg = suggest(&msg, self.help);
                let hint = format!("Try '{} --help' for more information.", self.name);
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

/// The `--long` and `-s` flags in `text` (a `--help`, a docs page): words
/// of letters, digits and dashes that begin with `--` and a letter, or are
/// one dash and one letter. What follows ` -- ` on a line is a program's
/// own arguments (every's PROGRAM), not a flag. The suggestions read the
/// help with it; the tests read the help and the docs pages with it.
pub fn flags_in(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .flat_map(|line| {
            line.split(" -- ")
                .next()
                .unwrap_or_default()
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        })
        .filter(|word| {
            let b = word.as_bytes();
            (b.len() > 2 && word.starts_with("--") && b[2].is_ascii_alphabetic())
                || (b.len() == 2 && b[0] == b'-' && b[1].is_ascii_alphabetic())
        })
        .map(str::to_owned)
        .collect()
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
        ("log-format", "json") => options.format = Format::Json,
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

/// The size spellings everywhere: bytes (`65536`, `65536B`), or a whole
/// number of binary units in Kubernetes' spelling (`Ki`, `Mi`, `Gi`, `Ti`)
/// or IEC's (`KiB`, `MiB`, `GiB`, `TiB`). Decimal or case-folded units
/// (`k`, `kB`, `MB`, `1G`, `mib`) are refused with a hint: `1MB` is 10^6
/// bytes to one reader and 2^20 to the next, and to Kubernetes `1M` is 10^6.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    const HINT: &str = "write bytes (65536) or binary units: 64Ki or 64KiB, 1Mi or 1MiB, 1Gi, 1Ti";
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!("'{text}' is not a size: {HINT}"));
    }
    let shift = match unit {
        "" | "B" => 0,
        "Ki" | "KiB" => 10,
        "Mi" | "MiB" => 20,
        "Gi" | "GiB" => 30,
        "Ti" | "TiB" => 40,
        _ if unit.starts_with('.') => {
            return Err(format!("'{text}': a whole number, please: {HINT}"))
        }
        _ => {
            let binary = match unit.to_ascii_lowercase().trim_end_matches('b') {
                "k" | "ki" => Some("Ki"),
                "m" | "mi" => Some("Mi"),
                "g" | "gi" => Some("Gi"),
                "t" | "ti" => Some("Ti"),
                _ => None,
            };
            return Err(match binary {
                Some(unit) => format!(
                    "'{text}' is ambiguous (decimal or binary?): write {digits}{unit} or {digits}{unit}B for 2^{} bytes each, or the bytes",
                    match unit { "Ki" => 10, "Mi" => 20, "Gi" => 30, _ => 40 }
                ),
                None => format!("'{text}' is not a size: {HINT}"),
            });
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("'{text}' is too large"))
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
    fn binary_units_in_kubernetes_and_iec_spelling() {
        for (text, bytes) in [
            ("65536", 65536),
            ("65536B", 65536),
            ("1Ki", 1 << 10),
            ("512KiB", 512 << 10),
            ("1Mi", 1 << 20),
            ("900MiB", 900 << 20),
            ("2Gi", 2 << 30),
            ("1TiB", 1 << 40),
            ("0", 0),
        ] {
            assert_eq!(parse_byte_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn ambiguous_and_malformed_sizes_are_refused_with_the_spelling_to_use() {
        for (text, hint) in [
            ("1kB", "write 1Ki or 1KiB"),
            ("1KB", "write 1Ki or 1KiB"),
            ("1kb", "write 1Ki or 1KiB"),
            ("1k", "write 1Ki or 1KiB"),
            ("1MB", "write 1Mi or 1MiB"),
            ("1M", "write 1Mi or 1MiB"),
            ("1mib", "write 1Mi or 1MiB"),
            ("1GB", "write 1Gi or 1GiB"),
            ("1.5Mi", "a whole number"),
            ("MiB", "is not a size"),
            ("", "is not a size"),
            ("1XB", "is not a size"),
            ("-1", "is not a size"),
            ("99999999999999999999Gi", "too large"),
            ("99999999Ti", "too large"),
        ] {
            let refused = parse_byte_size(text).unwrap_err();
            assert!(refused.contains(hint), "{text}: {refused}");
        }
    }

    proptest! {
        #[test]
        fn any_text_is_a_size_or_a_clear_refusal(text in any::<String>()) {
            match parse_byte_size(&text) {
                Ok(_) => prop_assert!(text.starts_with(|c: char| c.is_ascii_digit())),
                Err(e) => prop_assert!(e.contains(&format!("'{text}'")), "{}", e),
            }
        }

        #[test]
        fn every_unit_scales_exactly(n in 0u64..1 << 20, unit in 0usize..5) {
            let (names, shift) = [(["B", ""], 0), (["Ki", "KiB"], 10), (["Mi", "MiB"], 20), (["Gi", "GiB"], 30), (["Ti", "TiB"], 40)][unit];
            for name in names {
                prop_assert_eq!(parse_byte_size(&format!("{n}{name}")), Ok(n << shift));
            }
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
