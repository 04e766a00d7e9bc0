//! every's command line, `every INTERVAL [OPTIONS] URL` or `every INTERVAL
//! [OPTIONS] -- PROGRAM [ARG]...`, with `--cron 'EXPR'` in place of
//! INTERVAL: the help text, the options and their parsing, side by side.

use crate::cron::{Expr, Zone};
use common::cli::{self, usage, Stop};
use common::flag::Flag;
use common::server::ListenAddr;
use std::ffi::OsString;
use std::time::Duration;

pub const HELP: &str = concat!(
    "\
every: run an HTTP request or a program on a drift-free schedule.

Usage: every INTERVAL [OPTIONS] URL
       every INTERVAL [OPTIONS] -- PROGRAM [ARG]...
       every --cron 'EXPR' [OPTIONS] URL
       every --cron 'EXPR' [OPTIONS] -- PROGRAM [ARG]...

Run k starts at start + k*INTERVAL (plus jitter), however long each run
takes; a run never overlaps the next: ticks that pass while one is in flight
are skipped, counted and logged.

  --cron 'EXPR'          instead of INTERVAL, run at the wall-clock times EXPR
                         matches: minute hour day-of-month month day-of-week, or a
                         seconds field first; numbers, names (JAN, MON), *, ranges,
                         lists, steps; @hourly @daily @weekly @monthly @yearly. The
                         first run is the first matching time after start
  --tz NAME|PATH         with --cron: the time zone, /usr/share/zoneinfo/NAME or a
                         TZif file (default UTC; the image has none: mount it)
  --timeout DURATION     per run (default: the smaller of INTERVAL, or the gap
                         between the first two cron times, and 30s)
  --jitter DURATION      a random delay in [0, DURATION) per tick, to spread replicas
  --delay-first          wait one INTERVAL before the first run (default: run at once)
  --count N              stop after N runs; exit with the last run's status
  --max-failures N       exit 1 after N failures in a row (so the kubelet restarts it)
  --passthrough-logs     PROGRAM runs: pass its stdout and stderr through as they
                         are, instead of one log line per line it writes
  --listen ADDR          serve /metrics: every_runs_total{result}, every_skipped_total,
                         every_run_duration_seconds, every_last_success_timestamp_seconds,
                         every_next_run_timestamp_seconds,
                         every_last_run_scheduled_timestamp_seconds (--cron),
                         every_failures_in_a_row, every_interval_seconds, and
                         process_*; /healthz (200 ok) for a liveness probe
",
    common::log_help!(),
    "  -h, --help, -V, --version
URL runs (success: a 2xx answer):
  -X, --method METHOD    default GET, or POST with --data
  -H, --header 'Name: value'   (repeatable)
  -d, --data BODY        send BODY
  --cel 'EXPR'           and the CEL EXPR is true over the answer: body (its
                         JSON), status, headers, now (repeatable; docs/cel.md).
                         E.g. a job endpoint answering 200 {\"ok\": false}
                         fails with --cel 'body.ok'
",
    net::tls_help!(),
    "\
PROGRAM runs (success: exit 0): exec'd directly (no shell); each line it writes
to stdout or stderr is a log line (msg=output run=N stream=stdout line=...;
longer than 16 KiB: in parts, each but the last split=true), unless --passthrough-logs; at
the timeout SIGTERM, then SIGKILL 1s later; always reaped.

Durations: 250ms, 1.5s, 1m30s, 1h, 1d (units ns us ms s m h d), or a bare
number of seconds.

Examples:
  every 60s http://127.0.0.1:8080/flush_queues
  every 5m --jitter 30s --method POST --data '{}' --header 'Content-Type: application/json' http://127.0.0.1:8080/compact
  every 1h --timeout 10m --max-failures 3 -- /app/bin/cleanup --older-than 7d
  every 5m --method POST https://hc-ping.com/your-uuid
"
);

/// Each flag of every, declared once (see `common::flag`). With the shared
/// lists, [`ALL_FLAGS`] is the parser's list, and its test holds `HELP` and
/// `docs/every.md` to it.
pub const FLAGS: &[Flag] = &[
    Flag::new("cron", &["*/5 * * * *"]).after(&["https://127.0.0.1:8443/flush"]),
    Flag::new("tz", &["UTC", "--cron", "0 3 * * *"]).after(&["https://127.0.0.1:8443/flush"]),
    Flag::new("timeout", &["10s"]),
    Flag::new("jitter", &["30s"]),
    Flag::switch("delay-first"),
    Flag::switch("passthrough-logs"),
    Flag::new("count", &["3"]),
    Flag::new("max-failures", &["3"]),
    Flag::new("listen", &[":9104"]),
    Flag::new("method", &["POST"]).short('X'),
    Flag::new("header", &["Content-Type: application/json"]).short('H'),
    Flag::new("data", &["{}"]).short('d'),
    Flag::new("cel", &["body.ok"]),
];

/// The spellings the parser takes, made from the lists at compile time.
const PARSED: [common::flag::Spelling; common::flag::count(ALL_FLAGS)] =
    common::flag::spelled(ALL_FLAGS);

pub const ALL_FLAGS: &[&[Flag]] = &[
    FLAGS,
    common::log::FLAGS,
    net::tls::FLAGS,
    common::flag::STANDARD,
];

pub enum Job {
    Http {
        url: String,
        method: String,
        headers: Vec<(String, String)>,
        data: Option<String>,
        /// `--cel`: each must be true, beside the 2xx rule.
        cel: Vec<std::sync::Arc<cel::Program>>,
    },
    Program(Vec<OsString>),
}

/// When runs are due.
pub enum When {
    Interval(Duration),
    Cron {
        expr: Expr,
        zone: Zone,
        text: String,
    },
}

pub struct Options {
    /// `--log-format`, `--log-level`.
    pub log: common::log::LogOptions,
    pub when: When,
    pub job: Job,
    pub timeout: Duration,
    pub jitter: Duration,
    pub delay_first: bool,
    /// PROGRAM runs: its stdout and stderr as they are, not as log lines.
    pub passthrough_logs: bool,
    pub count: Option<u64>,
    pub max_failures: Option<u64>,
    pub listen: Option<ListenAddr>,
    /// For https:// URLs.
    pub tls: net::tls::TlsOptions,
}

/// A path, a name found on PATH, or a word with no dot and no port (no
/// host is written so): what `every 5s echo` meant was a program.
fn looks_like_a_program(word: &str) -> bool {
    let on_path = || {
        std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(dir.join(word))
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
        })
    };
    word.starts_with('/')
        || word.starts_with("./")
        || !word.contains(['.', ':', '/'])
        || (!word.contains('/') && on_path())
}

/// Splits argv at the first bare `--`: the options before it, the program
/// to run after it.
pub fn split_program(mut args: Vec<OsString>) -> (Vec<OsString>, Option<Vec<OsString>>) {
    let program = args.iter().position(|a| a == "--").map(|at| {
        let program = args.split_off(at + 1);
        args.pop();
        program
    });
    (args, program)
}

/// `program` is what followed a bare `--` on the command line, if anything did.
pub fn parse(mut parser: lexopt::Parser, program: Option<Vec<OsString>>) -> Result<Options, Stop> {
    use lexopt::prelude::*;
    let mut positionals = Vec::new();
    let mut cron = None;
    let mut tz = None;
    let mut method = None;
    let mut headers = Vec::new();
    let mut data = None;
    let mut cel_checks = Vec::new();
    let mut timeout = None;
    let mut options = Options {
        log: common::log::LogOptions::default(),
        when: When::Interval(Duration::ZERO),
        job: Job::Program(Vec::new()),
        timeout: Duration::ZERO,
        jitter: Duration::ZERO,
        delay_first: false,
        passthrough_logs: false,
        count: None,
        max_failures: None,
        listen: None,
        tls: net::tls::TlsOptions::default(),
    };
    while let Some(arg) = parser.next()? {
        // --interval is no flag of every's, and is refused with a hint below.
        if !matches!(arg, Long("interval")) {
            common::flag::declared(&arg, &PARSED)?;
        }
        match arg {
            Short('h') | Long("help") => return Err(Stop::Help),
            Short('V') | Long("version") => return Err(Stop::Version),
            Long(flag) if common::flag::has(&common::log::SPELLED, flag) => {
                let flag = flag.to_string();
                cli::log_flag(&mut options.log, &flag, &mut parser)?;
            }
            Long(flag) if common::flag::has(&net::tls::SPELLED, flag) => {
                let flag = flag.to_string();
                options.tls.parse_flag(&flag, &mut parser)?;
            }
            Long("method") | Short('X') => {
                method = Some(cli::text(&mut parser, "--method")?.to_ascii_uppercase())
            }
            Long("header") | Short('H') => {
                let text = cli::text(&mut parser, "--header")?;
                headers.push(net::client::parse_header(&text).map_err(|e| usage("--header", e))?);
            }
            Long("data") | Short('d') => data = Some(cli::text(&mut parser, "--data")?),
            Long("cel") => {
                let text = cli::text(&mut parser, "--cel")?;
                let program = cel::Program::compile(&text, &net::condition::cel_variables())
                    .map_err(|e| usage("--cel", e))?;
                cel_checks.push(std::sync::Arc::new(program));
            }
            Long("timeout") => timeout = Some(cli::positive_duration(&mut parser, "--timeout")?),
            Long("jitter") => options.jitter = cli::duration(&mut parser, "--jitter")?,
            Long("delay-first") => options.delay_first = true,
            Long("passthrough-logs") => options.passthrough_logs = true,
            Long("count") => options.count = Some(positive(&mut parser, "--count")?),
            Long("max-failures") => {
                options.max_failures = Some(positive(&mut parser, "--max-failures")?)
            }
            Long("listen") => options.listen = Some(cli::listen_addr(&mut parser, "--listen")?),
            Long("cron") => cron = Some(cli::text(&mut parser, "--cron")?),
            Long("tz") => tz = Some(cli::text(&mut parser, "--tz")?),
            // The other side-cars take --interval; every takes it first.
            Long("interval") => {
                let value = parser.value().map(|v| v.to_string_lossy().into_owned());
                let value = value.unwrap_or_else(|_| "5s".into());
                return Err(usage(
                    "--interval",
                    format!("INTERVAL is every's first argument, not a flag: every {value} URL, or every {value} -- PROGRAM"),
                ));
            }
            Value(value) => positionals.push(value),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let mut positionals = positionals.into_iter().peekable();
    // How the user wrote the schedule, for hints that repeat it.
    let mut schedule = String::new();
    options.when = match cron {
        Some(text) => {
            let interval_too = positionals
                .peek()
                .and_then(|first| first.to_str())
                .is_some_and(|first| common::duration::parse(first).is_ok());
            if interval_too {
                return Err(usage(
                    "--cron",
                    "takes the place of INTERVAL: give INTERVAL or --cron 'EXPR', not both",
                ));
            }
            schedule = format!("--cron '{text}'");
            let expr = Expr::parse(&text).map_err(|e| usage("--cron", e))?;
            let zone = match &tz {
                Some(name) => Zone::load(name).map_err(|e| usage("--tz", e))?,
                None => Zone::utc(),
            };
            When::Cron { expr, zone, text }
        }
        None => {
            if tz.is_some() {
                return Err(usage("--tz", "applies to --cron schedules only"));
            }
            let text = positionals.next().ok_or_else(|| {
                Stop::Usage(
                    "INTERVAL missing: every INTERVAL URL, every INTERVAL -- PROGRAM [ARG]..., or --cron 'EXPR' in place of INTERVAL".into(),
                )
            })?;
            let text = cli::utf8("INTERVAL", text)?;
            schedule.clone_from(&text);
            let parsed = common::duration::parse(&text).map_err(|e| usage("INTERVAL", e))?;
            if parsed.is_zero() {
                return Err(usage("INTERVAL", "must be greater than zero"));
            }
            When::Interval(parsed)
        }
    };
    let url = positionals
        .next()
        .map(|v| cli::utf8("URL", v))
        .transpose()?;
    if let Some(extra) = positionals.next() {
        return Err(Stop::Usage(format!(
            "unexpected argument {:?}: give one URL, or a program after --",
            extra.to_string_lossy()
        )));
    }
    options.job = match (url, program) {
        (Some(url), None) => {
            // A path, a program on PATH, or a bare word where a URL goes:
            // the user meant a program.
            if !url.contains("://") && looks_like_a_program(&url) {
                return Err(usage(
                    "URL",
                    format!(
                        "'{url}' is not a URL; a program goes after --: every {schedule} -- {url}"
                    ),
                ));
            }
            net::client::check_url(&url).map_err(|e| usage("URL", e))?;
            let method =
                method.unwrap_or_else(|| if data.is_some() { "POST" } else { "GET" }.to_string());
            Job::Http {
                url,
                method,
                headers,
                data,
                cel: cel_checks,
            }
        }
        (None, Some(program)) if !program.is_empty() => {
            if method.is_some() || !headers.is_empty() || data.is_some() || !cel_checks.is_empty() {
                return Err(Stop::Usage(
                    "--method, --header, --data and --cel apply to a URL, not a program".into(),
                ));
            }
            Job::Program(program)
        }
        (None, Some(_)) => return Err(usage("--", "no PROGRAM after --")),
        (Some(_), Some(_)) => {
            return Err(Stop::Usage(
                "give a URL or a program after --, not both".into(),
            ))
        }
        (None, None) => {
            return Err(Stop::Usage(
                "nothing to run: give a URL, or -- PROGRAM [ARG]...".into(),
            ))
        }
    };
    let period = match &options.when {
        When::Interval(interval) => {
            if options.jitter >= *interval {
                return Err(usage("--jitter", "must be shorter than INTERVAL"));
            }
            *interval
        }
        When::Cron { expr, zone, .. } => {
            if options.delay_first {
                return Err(usage(
                    "--delay-first",
                    "has no meaning with --cron: the first run is the first matching time",
                ));
            }
            if !options.jitter.is_zero() {
                return Err(usage(
                    "--jitter",
                    "applies to INTERVAL schedules: a cron time is exact",
                ));
            }
            first_gap(expr, zone)
        }
    };
    options.timeout = timeout.unwrap_or_else(|| period.min(Duration::from_secs(30)));
    options.tls.check()?;
    Ok(options)
}

/// The time between the first two runs of a cron schedule from now.
fn first_gap(expr: &Expr, zone: &Zone) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let first = crate::cron::next_after(expr, zone, now);
    let second = first.and_then(|t| crate::cron::next_after(expr, zone, t));
    match (first, second) {
        (Some(a), Some(b)) => Duration::from_secs((b - a) as u64),
        _ => Duration::from_secs(30),
    }
}

fn positive(parser: &mut lexopt::Parser, flag: &str) -> Result<u64, Stop> {
    let n: u64 = cli::number(parser, flag)?;
    if n == 0 {
        return Err(usage(flag, "must be at least 1"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_docs_and_parser_take_each_declared_flag() {
        common::flag::check(
            ALL_FLAGS,
            HELP,
            include_str!("../../../docs/every.md"),
            &[],
            &["5m", "https://127.0.0.1:8443/flush"],
            |parser| parse(parser, None),
        );
    }

    fn parsed(args: &[&str]) -> Result<Options, Stop> {
        let (args, program) = split_program(args.iter().map(OsString::from).collect());
        parse(lexopt::Parser::from_args(args), program)
    }

    fn refused(args: &[&str]) -> String {
        cli::usage_error(parsed(args))
    }

    #[test]
    fn the_program_is_everything_after_the_first_bare_double_dash() {
        let (args, program) = split_program(
            ["5s", "--count", "2", "--", "prog", "--", "-x"]
                .map(OsString::from)
                .to_vec(),
        );
        assert_eq!(args, ["5s", "--count", "2"]);
        assert_eq!(program.unwrap(), ["prog", "--", "-x"]);
        let options = parsed(&["1m30s", "--", "/bin/true"]).unwrap();
        assert!(matches!(options.job, Job::Program(ref argv) if argv == &["/bin/true"]));
        assert!(matches!(options.when, When::Interval(i) if i == Duration::from_secs(90)));
    }

    #[test]
    fn the_timeout_defaults_to_the_interval_capped_at_30s_and_data_means_post() {
        assert_eq!(
            parsed(&["5s", "http://x/"]).unwrap().timeout,
            Duration::from_secs(5)
        );
        assert_eq!(
            parsed(&["1h", "http://x/"]).unwrap().timeout,
            Duration::from_secs(30)
        );
        let options = parsed(&["60", "--data", "{}", "http://x/"]).unwrap();
        assert!(matches!(options.job, Job::Http { ref method, .. } if method == "POST"));
        assert_eq!(options.listen, None);
    }

    /// The three mistakes a new user makes first, each answered with the fix.
    #[test]
    fn common_mistakes_get_the_fix() {
        assert_eq!(
            refused(&["1m", "/bin/true"]),
            "URL: '/bin/true' is not a URL; a program goes after --: every 1m -- /bin/true"
        );
        assert_eq!(
            refused(&["--cron", "0 3 * * *", "./tidy"]),
            "URL: './tidy' is not a URL; a program goes after --: every --cron '0 3 * * *' -- ./tidy"
        );
        assert!(refused(&["1m", "127.0.0.1:8080/flush"])
            .contains("add http:// (http://127.0.0.1:8080/flush)"));
        assert!(refused(&["--cron", "* * * * *", "1m", "http://x/"])
            .starts_with("--cron: takes the place of INTERVAL"));
        // A bare word, on PATH or not: a program.
        assert_eq!(
            refused(&["5s", "--count", "1", "echo"]),
            "URL: 'echo' is not a URL; a program goes after --: every 5s -- echo"
        );
        assert!(refused(&["5s", "cleanup-job"]).contains("every 5s -- cleanup-job"));
        // A host with a dot or a port: a URL without its scheme.
        assert!(refused(&["5s", "example.com/x"]).contains("add http:// (http://example.com/x)"));
        // --interval, as the other side-cars take it.
        assert_eq!(
            refused(&["--interval", "5s", "http://x/"]),
            "--interval: INTERVAL is every's first argument, not a flag: every 5s URL, or every 5s -- PROGRAM"
        );
        assert!(refused(&["--interval=30s", "http://x/"]).contains("every 30s URL"));
    }

    #[test]
    fn bad_usage_names_the_flag() {
        assert!(refused(&["1s", "--jitter", "2s", "http://x/"])
            .starts_with("--jitter: must be shorter than INTERVAL"));
        assert!(refused(&["1s", "--listen", ":http", "http://x/"])
            .starts_with("--listen: ':http' is not :PORT"));
        assert!(refused(&["1s", "--header", "A: b", "--", "prog"])
            .contains("apply to a URL, not a program"));
        assert!(refused(&["0", "http://x/"]).starts_with("INTERVAL: must be greater than zero"));
        assert!(refused(&["1s", "--count", "0", "http://x/"])
            .starts_with("--count: must be at least 1"));
        assert!(refused(&["1s", "http://x/", "--", "prog"]).contains("not both"));
    }

    #[test]
    fn cron_takes_the_place_of_interval() {
        let options = parsed(&["--cron", "*/2 * * * * *", "--", "prog", "x"]).unwrap();
        assert!(matches!(options.when, When::Cron { ref text, .. } if text == "*/2 * * * * *"));
        assert!(matches!(options.job, Job::Program(ref argv) if argv == &["prog", "x"]));
        // The default timeout: the gap between two times, capped at 30s.
        assert_eq!(options.timeout, Duration::from_secs(2));
        let options = parsed(&["--cron", "@daily", "http://x/"]).unwrap();
        assert_eq!(options.timeout, Duration::from_secs(30));
        // The flag may come after the URL too.
        assert!(parsed(&["http://x/", "--cron", "@hourly"]).is_ok());
    }

    #[test]
    fn cron_errors_name_the_field_the_zone_or_the_flag() {
        assert_eq!(
            refused(&["--cron", "* * * * 8", "http://x/"])
                .lines()
                .next()
                .unwrap(),
            "--cron: day-of-week: 8 is out of range 0-7"
        );
        assert!(refused(&["--cron", "0 0 30 2 *", "http://x/"])
            .starts_with("--cron: day-of-month 30 never occurs in month 2"));
        assert!(
            refused(&["--cron", "@daily", "--tz", "No/Such_Zone", "http://x/"])
                .starts_with("--tz: cannot read /usr/share/zoneinfo/No/Such_Zone")
        );
        assert!(refused(&["5s", "--tz", "UTC", "http://x/"])
            .starts_with("--tz: applies to --cron schedules only"));
        assert!(refused(&["--cron", "@daily", "--delay-first", "http://x/"])
            .starts_with("--delay-first: has no meaning with --cron"));
        assert!(refused(&["--cron", "@daily", "5s", "http://x/"])
            .starts_with("--cron: takes the place of INTERVAL"));
        assert!(refused(&["http://x/"]).starts_with("INTERVAL: "));
    }
}
