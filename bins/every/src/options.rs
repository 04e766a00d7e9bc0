//! Command-line parsing for every: `every INTERVAL [OPTIONS] URL` or
//! `every INTERVAL [OPTIONS] -- PROGRAM [ARG]...`.

use common::cli::{self, usage, Stop};
use std::ffi::OsString;
use std::time::Duration;

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
    pub listen: Option<String>,
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
            Long("listen") => options.listen = Some(cli::text(&mut parser, "--listen")?),
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
