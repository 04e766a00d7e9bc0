//! Command-line parsing: global options anywhere, each modifier applies to
//! the check before it.

use crate::check::{Check, HttpCheck};
use crate::json_condition::Condition;
use common::cli::{self, usage, Stop};
use std::time::Duration;

pub struct Options {
    pub checks: Vec<Check>,
    pub timeout: Duration,
    pub max_body: u64,
    pub follow_redirects: bool,
    pub serve: Option<String>,
    pub cache: Duration,
    pub quiet: bool,
}

pub fn parse(mut parser: lexopt::Parser) -> Result<Options, Stop> {
    use lexopt::prelude::*;
    let mut options = Options {
        checks: Vec::new(),
        timeout: Duration::from_secs(1),
        max_body: common::client::DEFAULT_MAX_BODY,
        follow_redirects: false,
        serve: None,
        cache: Duration::ZERO,
        quiet: false,
    };
    let mut cache_given = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Err(Stop::Help),
            Short('V') | Long("version") => return Err(Stop::Version),
            Long("timeout") => options.timeout = cli::positive_duration(&mut parser, "--timeout")?,
            Long("max-body") => options.max_body = cli::byte_size(&mut parser, "--max-body")?,
            Long("follow-redirects") => options.follow_redirects = true,
            Long("serve") => options.serve = Some(cli::text(&mut parser, "--serve")?),
            Long("cache") => {
                options.cache = cli::duration(&mut parser, "--cache")?;
                cache_given = true;
            }
            Short('q') | Long("quiet") => options.quiet = true,
            Long("http") => {
                let url = cli::text(&mut parser, "--http")?;
                common::client::check_url(&url).map_err(|e| usage("--http", e))?;
                options.checks.push(Check::Http(HttpCheck {
                    url,
                    ..HttpCheck::default()
                }));
            }
            Long("tcp") => {
                let addr = cli::text(&mut parser, "--tcp")?;
                if addr
                    .rsplit_once(':')
                    .is_none_or(|(_, port)| port.parse::<u16>().is_err())
                {
                    return Err(usage("--tcp", format!("'{addr}' is not HOST:PORT")));
                }
                options.checks.push(Check::Tcp(addr));
            }
            Long("file") => {
                let path = parser.value()?.into();
                options.checks.push(Check::File {
                    path,
                    max_age: None,
                });
            }
            Long("max-age") => {
                let age = cli::positive_duration(&mut parser, "--max-age")?;
                match options.checks.last_mut() {
                    Some(Check::File { max_age, .. }) => *max_age = Some(age),
                    _ => return Err(usage("--max-age", "must follow --file PATH")),
                }
            }
            Long(flag @ ("status" | "header" | "contains" | "json")) => {
                let flag = format!("--{flag}");
                let value = cli::text(&mut parser, &flag)?;
                let Some(Check::Http(http)) = options.checks.last_mut() else {
                    return Err(usage(&flag, "must follow --http URL"));
                };
                add_http_modifier(http, &flag, &value).map_err(|e| usage(&flag, e))?;
            }
            Value(value) => {
                return Err(Stop::Usage(format!(
                "unexpected argument {:?}: checks are --http URL, --tcp HOST:PORT or --file PATH",
                value.to_string_lossy()
            )))
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    if options.checks.is_empty() {
        return Err(Stop::Usage(
            "no check given: add --http URL, --tcp HOST:PORT or --file PATH".into(),
        ));
    }
    if cache_given && options.serve.is_none() {
        return Err(usage("--cache", "only applies with --serve ADDR"));
    }
    Ok(options)
}

fn add_http_modifier(http: &mut HttpCheck, flag: &str, value: &str) -> Result<(), String> {
    match flag {
        "--status" => {
            for code in value.split(',') {
                let code: u16 = code
                    .trim()
                    .parse()
                    .ok()
                    .filter(|c| (100..600).contains(c))
                    .ok_or_else(|| format!("'{code}' is not an HTTP status code (100-599)"))?;
                http.statuses.push(code);
            }
        }
        "--header" => http.headers.push(common::client::parse_header(value)?),
        "--contains" => http.contains.push(value.to_string()),
        _ => http.json.push(Condition::parse(value)?),
    }
    Ok(())
}
