//! Command-line conventions shared by all four programs: `--help` and
//! `--version` exit 0, a usage error is one line naming the flag plus a hint to
//! try `--help` and exits 2, and no input ever ends in a panic.

use std::ffi::OsString;
use std::time::Duration;

/// A check or run failed.
pub const EXIT_FAILURE: i32 = 1;
/// Bad usage or configuration.
pub const EXIT_USAGE: i32 = 2;

/// Who is speaking: used for `--version`, `--help` and every error line.
pub struct Program {
    pub name: &'static str,
    pub version: &'static str,
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
        match parse(parser) {
            Ok(options) => options,
            Err(Stop::Help) => {
                print!("{}", self.help);
                std::process::exit(0)
            }
            Err(Stop::Version) => {
                println!("{} {}", self.name, self.version);
                std::process::exit(0)
            }
            Err(Stop::Usage(msg)) => self.usage_exit(&msg),
        }
    }

    /// Prints a usage error and the `--help` hint, exits 2.
    pub fn usage_exit(&self, msg: &str) -> ! {
        eprintln!("{}: {msg}", self.name);
        eprintln!("Try '{} --help' for more information.", self.name);
        std::process::exit(EXIT_USAGE)
    }

    /// Prints a configuration or start-up error (not a usage mistake) and exits 2.
    pub fn config_exit(&self, msg: &str) -> ! {
        eprintln!("{}: {msg}", self.name);
        std::process::exit(EXIT_USAGE)
    }
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

/// The value of `flag` as a number of any `FromStr` type.
pub fn number<T: std::str::FromStr>(parser: &mut lexopt::Parser, flag: &str) -> Result<T, Stop> {
    let value = text(parser, flag)?;
    value
        .parse()
        .map_err(|_| usage(flag, format!("'{value}' is not a valid number")))
}

/// A byte size: a number with an optional `KiB`, `MiB` or `GiB` suffix (`k`, `M`, `G` too).
pub fn byte_size(parser: &mut lexopt::Parser, flag: &str) -> Result<u64, Stop> {
    let value = text(parser, flag)?;
    parse_byte_size(&value).ok_or_else(|| {
        usage(
            flag,
            format!("'{value}' is not a size (examples: 65536, 512KiB, 1MiB)"),
        )
    })
}

fn parse_byte_size(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..split].parse().ok()?;
    let scale: u64 = match text[split..].trim() {
        "" | "B" => 1,
        "k" | "K" | "KiB" | "kB" => 1 << 10,
        "M" | "MiB" | "MB" => 1 << 20,
        "G" | "GiB" | "GB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::parse_byte_size;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("65536"), Some(65536));
        assert_eq!(parse_byte_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_byte_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_byte_size("MiB"), None);
        assert_eq!(parse_byte_size("1XB"), None);
        assert_eq!(parse_byte_size("99999999999999999999G"), None);
    }
}
