//! every's command line, `every INTERVAL [OPTIONS] URL` or `every INTERVAL
//! [OPTIONS] -- PROGRAM [ARG]...`: the help text, the options and their
//! parsing, side by side.

use common::cli::{self, usage, Stop};
use common::server::ListenAddr;
use std::ffi::OsString;
use std::time::Duration;

pub const HELP: &str = "\
every: run an HTTP request or a program on a drift-free schedule.

Usage: every INTERVAL [OPTIONS] URL
       every INTERVAL [OPTIONS] -- PROGRAM [ARG]...

Run k starts at start + k*INTERVAL (plus jitter), however long each run
takes; a run never overlaps the next: ticks that pass while one is in flight
are skipped, counted and logged.

  --timeout DURATION     per run (default: the smaller of INTERVAL and 30s)
  --jitter DURATION      a random delay in [0, DURATION) per tick, to spread replicas
  --delay-first          wait one INTERVAL before the first run (default: run at once)
  --count N              stop after N runs; exit with the last run's status
  --max-failures N       exit 1 after N failures in a row (so the kubelet restarts it)
  --listen ADDR          serve /metrics: every_runs_total{result}, every_skipped_total,
                         every_run_duration_seconds, every_last_success_timestamp_seconds
  -h, --help, -V, --version
URL runs (success: a 2xx answer):
  -X, --method METHOD    default GET, or POST with --data
  -H, --header 'Name: value'   (repeatable)
  -d, --data BODY        send BODY
PROGRAM runs (success: exit 0): exec'd directly (no shell), stdout and stderr
passed through; at the timeout SIGTERM, then SIGKILL 1s later; always reaped.

Durations: 250ms, 2s, 1m30s, or a bare number of seconds.

Examples:
  every 60s http://127.0.0.1:8080/flush_queues
  every 5m --jitter 30s --method POST --data '{}' --header 'Content-Type: application/json' http://127.0.0.1:8080/compact
  every 1h --timeout 10m --max-failures 3 -- /app/bin/cleanup --older-than 7d
";

pub enum Job {
    Http {
        url: String,
        method: String,
        headers: Vec<(String, String)>,
        data: Option<String>,
    },
    Program(Vec<OsString>),
}

pub struct Options {
    pub interval: Duration,
    pub job: Job,
    pub timeout: Duration,
    pub jitter: Duration,
    pub delay_first: bool,
    pub count: Option<u64>,
    pub max_failures: Option<u64>,
    pub listen: Option<ListenAddr>,
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
    let mut interval = None;
    let mut url = None;
    let mut method = None;
    let mut headers = Vec::new();
    let mut data = None;
    let mut timeout = None;
    let mut options = Options {
        interval: Duration::ZERO,
        job: Job::Program(Vec::new()),
        timeout: Duration::ZERO,
        jitter: Duration::ZERO,
        delay_first: false,
        count: None,
        max_failures: None,
        listen: None,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Err(Stop::Help),
            Short('V') | Long("version") => return Err(Stop::Version),
            Long("method") | Short('X') => {
                method = Some(cli::text(&mut parser, "--method")?.to_ascii_uppercase())
            }
            Long("header") | Short('H') => {
                let text = cli::text(&mut parser, "--header")?;
                headers
                    .push(common::client::parse_header(&text).map_err(|e| usage("--header", e))?);
            }
            Long("data") | Short('d') => data = Some(cli::text(&mut parser, "--data")?),
            Long("timeout") => timeout = Some(cli::positive_duration(&mut parser, "--timeout")?),
            Long("jitter") => options.jitter = cli::duration(&mut parser, "--jitter")?,
            Long("delay-first") => options.delay_first = true,
            Long("count") => options.count = Some(positive(&mut parser, "--count")?),
            Long("max-failures") => {
                options.max_failures = Some(positive(&mut parser, "--max-failures")?)
            }
            Long("listen") => options.listen = Some(cli::listen_addr(&mut parser, "--listen")?),
            Value(value) if interval.is_none() => {
                let text = cli::utf8("INTERVAL", value)?;
                let parsed = common::duration::parse(&text).map_err(|e| usage("INTERVAL", e))?;
                if parsed.is_zero() {
                    return Err(usage("INTERVAL", "must be greater than zero"));
                }
                interval = Some(parsed);
            }
            Value(value) if url.is_none() => url = Some(cli::utf8("URL", value)?),
            Value(value) => {
                return Err(Stop::Usage(format!(
                    "unexpected argument {:?}: give one URL, or a program after --",
                    value.to_string_lossy()
                )))
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    options.interval = interval.ok_or_else(|| {
        Stop::Usage(
            "INTERVAL missing: every INTERVAL URL, or every INTERVAL -- PROGRAM [ARG]...".into(),
        )
    })?;
    options.job = match (url, program) {
        (Some(url), None) => {
            common::client::check_url(&url).map_err(|e| usage("URL", e))?;
            let method =
                method.unwrap_or_else(|| if data.is_some() { "POST" } else { "GET" }.to_string());
            Job::Http {
                url,
                method,
                headers,
                data,
            }
        }
        (None, Some(program)) if !program.is_empty() => {
            if method.is_some() || !headers.is_empty() || data.is_some() {
                return Err(Stop::Usage(
                    "--method, --header and --data apply to a URL, not a program".into(),
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
    if options.jitter >= options.interval {
        return Err(usage("--jitter", "must be shorter than INTERVAL"));
    }
    options.timeout = timeout.unwrap_or_else(|| options.interval.min(Duration::from_secs(30)));
    Ok(options)
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
        assert_eq!(options.interval, Duration::from_secs(90));
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
}
