//! ready-check's command line: the help text, the options and their parsing,
//! side by side. Global options go anywhere; each modifier applies to the
//! check before it.

use crate::check::{Check, HttpCheck};
use common::cli::{self, usage, Stop};
use common::flag::Flag;
use common::server::ListenAddr;
use net::condition;
use std::time::Duration;

pub const HELP: &str = concat!(
    "\
ready-check: readiness checks for a Kubernetes Pod; all must pass.

Usage: ready-check [GLOBAL] CHECK [MODIFIERS] [CHECK [MODIFIERS]]...

Checks (each followed by the modifiers that apply to it):
  --http URL                 GET URL; passes on status 200-399, as the kubelet judges
      --status CODE[,CODE]   require one of these statuses instead
      --header 'Name: value' send this header (repeatable)
      --contains TEXT        the body must contain TEXT (repeatable)
      --json 'POINTER OP VALUE'
                             the body is JSON and the value at the RFC 6901
                             POINTER compares true with the JSON literal VALUE;
                             OP is == != < <= > >= (repeatable)
      --cel 'EXPR'           the CEL expression is true, over body (the JSON
                             answer), status, headers (lower-case names) and
                             now, as Kubernetes and blackbox write it
                             (repeatable; docs/cel.md)
  --tcp HOST:PORT            a TCP connection is accepted
      --cert-valid-for DURATION
                             fail while the server's certificate (any it
                             sent) expires sooner: a gate before it runs out.
                             After --tcp: a TLS handshake, verified as for
                             https://, for any TLS service; after --http too
  --file PATH                the file exists
      --max-age DURATION     and was modified within DURATION (heartbeat files)
      --cel 'EXPR'           and the CEL EXPR is true over body (the file's
                             JSON, at most --max-body of it), modified (its
                             mtime) and now (repeatable)

Global:
  --timeout DURATION   budget for each check (default 1s); checks run in parallel
  --max-body SIZE      read at most this much of a body; a longer one fails
                       the check (default 1Mi)
  --follow-redirects[=N]
                       follow up to N HTTP redirects (alone: 10, as the
                       kubelet; default: a 3xx passes as it is)
  --serve ADDR         stay up and answer GET /ready and / (200 ok, or 503 and
                       the reasons) and GET /live; ADDR is :PORT, HOST:PORT or
                       [V6]:PORT
  --cache DURATION     with --serve, reuse a result for this long (default 0:
                       concurrent probes still share one run)
  -q, --quiet          print nothing on success
  --copy-to DIR        copy this executable to DIR/ready-check (atomically,
                       mode 0755) and exit: an init container of the image
                       fills an emptyDir so the app's exec probe can run it
",
    common::log_help!(),
    "  -h, --help           print this help
  -V, --version        print the version

",
    net::tls_help!(),
    "
Durations: 250ms, 1.5s, 1m30s, 1h, 1d (units ns us ms s m h d), or a bare
number of seconds. Sizes as Kubernetes writes them: 65536, 64Ki, 1.5Mi, 1M
(10^6), 1e6; or 64KiB.
Exit status: 0 all checks passed, 1 a check failed, 2 bad usage or cannot
start (--serve address, --copy-to), 70 an internal error.

Examples:
  ready-check --http http://127.0.0.1:8080/known-value --json '/value == 5'
  ready-check --http http://127.0.0.1:8080/healthz --status 200 --tcp 127.0.0.1:5432
  ready-check --http http://127.0.0.1:8080/status --cel 'body.items.filter(i, i.ready).size() >= 2'
  ready-check --file /tmp/heartbeat --max-age 30s --quiet
  ready-check --serve :8081 --cache 1s --http http://127.0.0.1:8080/healthz
  ready-check --insecure --http https://127.0.0.1:8443/healthz --cert-valid-for 7d
"
);

/// Each flag of ready-check, declared once (see `common::flag`). With the shared
/// lists, [`ALL_FLAGS`] is the parser's list, and its test holds `HELP` and
/// `docs/ready-check.md` to it.
pub const FLAGS: &[Flag] = &[
    Flag::new("http", &["http://127.0.0.1:8080/healthz"]),
    Flag::new("tcp", &["127.0.0.1:5432"]),
    Flag::new("cert-valid-for", &["7d"]),
    Flag::new("file", &["/tmp/heartbeat"]),
    Flag::new("max-age", &["1m"]).after(&["--file", "/tmp/heartbeat"]),
    Flag::new("timeout", &["2s"]),
    Flag::new("max-body", &["64Ki"]),
    Flag::switch("follow-redirects"),
    Flag::new("serve", &[":8081"]),
    Flag::new("cache", &["1s", "--serve", ":8081"]),
    Flag::switch("quiet").short('q'),
    Flag::new("copy-to", &["/shared"]).after(&[]),
];

/// The spellings the parser takes, made from the lists at compile time.
const PARSED: [common::flag::Spelling; common::flag::count(ALL_FLAGS)] =
    common::flag::spelled(ALL_FLAGS);

pub const ALL_FLAGS: &[&[Flag]] = &[
    FLAGS,
    common::log::FLAGS,
    net::tls::FLAGS,
    net::condition::FLAGS,
    common::flag::STANDARD,
];

pub struct Options {
    /// `--log-format`, `--log-level`.
    pub log: common::log::LogOptions,
    pub checks: Vec<Check>,
    pub timeout: Duration,
    pub max_body: u64,
    /// Redirects to follow (0: a 3xx passes as it is).
    pub follow_redirects: u32,
    pub serve: Option<ListenAddr>,
    pub cache: Duration,
    pub quiet: bool,
    /// `--copy-to DIR`: copy the executable there instead of checking.
    pub copy_to: Option<std::path::PathBuf>,
    pub tls: net::tls::TlsOptions,
}

pub fn parse(mut parser: lexopt::Parser) -> Result<Options, Stop> {
    use lexopt::prelude::*;
    let mut options = Options {
        log: common::log::LogOptions::default(),
        checks: Vec::new(),
        timeout: Duration::from_secs(1),
        max_body: net::client::DEFAULT_MAX_BODY,
        follow_redirects: 0,
        serve: None,
        cache: Duration::ZERO,
        quiet: false,
        copy_to: None,
        tls: net::tls::TlsOptions::default(),
    };
    let mut cache_given = false;
    while let Some(arg) = parser.next()? {
        common::flag::declared(&arg, &PARSED)?;
        match arg {
            Short('h') | Long("help") => return Err(Stop::Help),
            Short('V') | Long("version") => return Err(Stop::Version),
            Long(flag) if common::flag::has(&common::log::SPELLED, flag) => {
                let flag = flag.to_string();
                cli::log_flag(&mut options.log, &flag, &mut parser)?;
            }
            Long("timeout") => options.timeout = cli::positive_duration(&mut parser, "--timeout")?,
            Long("max-body") => options.max_body = cli::byte_size(&mut parser, "--max-body")?,
            Long("follow-redirects") => {
                options.follow_redirects = cli::follow_redirects(&mut parser, "--follow-redirects")?
            }
            Long("serve") => options.serve = Some(cli::listen_addr(&mut parser, "--serve")?),
            Long("cache") => {
                options.cache = cli::duration(&mut parser, "--cache")?;
                cache_given = true;
            }
            Short('q') | Long("quiet") => options.quiet = true,
            Long("copy-to") => options.copy_to = Some(parser.value()?.into()),
            Long("http") => {
                let url = cli::text(&mut parser, "--http")?;
                net::client::check_url(&url).map_err(|e| usage("--http", e))?;
                options.checks.push(Check::Http(HttpCheck {
                    url,
                    ..HttpCheck::default()
                }));
            }
            Long("tcp") => {
                let addr = cli::text(&mut parser, "--tcp")?;
                if let Some((scheme, rest)) = addr.split_once("://") {
                    let host_port = rest.split('/').next().unwrap_or_default();
                    let http = matches!(scheme, "http" | "https");
                    return Err(usage(
                        "--tcp",
                        match http {
                            true => format!("'{addr}' is a URL: give HOST:PORT ({host_port}), or check the URL with --http {addr}"),
                            false => format!("'{addr}' is a URL: give HOST:PORT ({host_port})"),
                        },
                    ));
                }
                if addr
                    .rsplit_once(':')
                    .is_none_or(|(_, port)| port.parse::<u16>().is_err())
                {
                    return Err(usage("--tcp", format!("'{addr}' is not HOST:PORT")));
                }
                options.checks.push(Check::Tcp {
                    addr,
                    cert_valid_for: None,
                });
            }
            Long("file") => {
                let path = parser.value()?.into();
                options.checks.push(Check::File {
                    path,
                    max_age: None,
                    cel: Vec::new(),
                });
            }
            Long("cert-valid-for") => {
                let wanted = cli::positive_duration(&mut parser, "--cert-valid-for")?;
                match options.checks.last_mut() {
                    Some(Check::Http(http)) => http.cert_valid_for = Some(wanted),
                    Some(Check::Tcp { cert_valid_for, .. }) => *cert_valid_for = Some(wanted),
                    _ => {
                        return Err(usage(
                            "--cert-valid-for",
                            "must follow --http URL or --tcp HOST:PORT",
                        ))
                    }
                }
            }
            Long(flag) if common::flag::has(&net::tls::SPELLED, flag) => {
                let flag = flag.to_string();
                options.tls.parse_flag(&flag, &mut parser)?;
            }
            Long("max-age") => {
                let age = cli::positive_duration(&mut parser, "--max-age")?;
                match options.checks.last_mut() {
                    Some(Check::File { max_age, .. }) => *max_age = Some(age),
                    _ => return Err(usage("--max-age", "must follow --file PATH")),
                }
            }
            Long(flag) if common::flag::has(&condition::SPELLED, flag) => {
                let (name, flag) = (flag.to_string(), format!("--{flag}"));
                let value = cli::text(&mut parser, &flag)?;
                if let (Some(Check::File { cel, .. }), "cel") =
                    (options.checks.last_mut(), name.as_str())
                {
                    let variables = crate::check::file_cel_variables();
                    let program =
                        cel::Program::compile(&value, &variables).map_err(|e| usage(&flag, e))?;
                    cel.push(std::sync::Arc::new(program));
                    continue;
                }
                let Some(Check::Http(http)) = options.checks.last_mut() else {
                    return Err(usage(&flag, "must follow --http URL"));
                };
                http.conditions
                    .add(&name, &value)
                    .map_err(|e| usage(&flag, e))?;
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
    if options.copy_to.is_some() {
        if !options.checks.is_empty() || options.serve.is_some() {
            return Err(usage(
                "--copy-to",
                "runs alone: it copies ready-check and exits, no checks with it",
            ));
        }
        return Ok(options);
    }
    if options.checks.is_empty() {
        return Err(Stop::Usage(
            "no check given: add --http URL, --tcp HOST:PORT or --file PATH".into(),
        ));
    }
    options.tls.check()?;
    if cache_given && options.serve.is_none() {
        return Err(usage("--cache", "only applies with --serve ADDR"));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_docs_and_parser_take_each_declared_flag() {
        common::flag::check(
            ALL_FLAGS,
            HELP,
            include_str!("../../../docs/ready-check.md"),
            &[],
            &["--http", "https://127.0.0.1:8443/healthz"],
            parse,
        );
    }

    fn parsed(args: &[&str]) -> Result<Options, Stop> {
        cli::parse_args(args, parse)
    }

    fn refused(args: &[&str]) -> String {
        cli::usage_error(parsed(args))
    }

    #[test]
    fn modifiers_apply_to_the_check_before_them() {
        let options = parsed(&[
            "--timeout",
            "2s",
            "--http",
            "http://127.0.0.1:1/a",
            "--status",
            "200,204",
            "--json",
            "/v == 5",
            "--file",
            "/tmp/hb",
            "--max-age",
            "30s",
            "--serve",
            ":8081",
            "--cache",
            "1s",
        ])
        .unwrap();
        assert_eq!(options.timeout, Duration::from_secs(2));
        let Check::Http(http) = &options.checks[0] else {
            panic!("not http")
        };
        assert_eq!(
            (
                http.conditions.statuses.as_slice(),
                http.conditions.json.len()
            ),
            (&[200, 204][..], 1)
        );
        assert!(
            matches!(&options.checks[1], Check::File { max_age: Some(a), .. } if *a == Duration::from_secs(30))
        );
        assert_eq!(options.serve, Some(ListenAddr::parse(":8081").unwrap()));
        let alone = parsed(&["--follow-redirects", "--http", "http://x/"]).unwrap();
        assert_eq!((alone.follow_redirects, alone.checks.len()), (10, 1));
        let three = parsed(&["--http", "http://x/", "--follow-redirects=3"]).unwrap();
        assert_eq!(three.follow_redirects, 3);
    }

    #[test]
    fn misplaced_modifiers_and_bad_values_are_usage_errors() {
        assert!(refused(&["--status", "200", "--http", "http://x/"])
            .starts_with("--status: must follow --http URL"));
        assert!(refused(&["--file", "/x", "--status", "200"])
            .starts_with("--status: must follow --http URL"));
        assert!(refused(&["--http", "http://x/", "--max-age", "1s"])
            .starts_with("--max-age: must follow --file"));
        assert!(
            refused(&["--http", "http://x/", "--status", "99"]).contains("not an HTTP status code")
        );
        assert!(refused(&["--tcp", "nohost"]).contains("is not HOST:PORT"));
        assert!(refused(&["--tcp", "https://db:5432/x"]).contains("give HOST:PORT (db:5432)"));
        assert!(refused(&["--tcp", "postgres://db:5432"])
            .ends_with("is a URL: give HOST:PORT (db:5432)"));
        assert!(parsed(&["--tcp", "db:5432", "--cert-valid-for", "7d"]).is_ok());
        assert!(refused(&["--http", "http://x/", "--cache", "1s"])
            .starts_with("--cache: only applies with --serve"));
        assert!(refused(&["--serve", ":http", "--http", "http://x/"])
            .starts_with("--serve: ':http' is not :PORT"));
        assert!(refused(&[]).starts_with("no check given"));
        assert!(refused(&["--copy-to", "/probe", "--http", "http://x/"])
            .starts_with("--copy-to: runs alone"));
        assert!(refused(&["--http", "http://x/", "--max-body", "1kB"])
            .starts_with("--max-body: '1kB' is ambiguous"));
        let copy = parsed(&["--copy-to", "/probe"]).unwrap();
        assert_eq!(
            copy.copy_to.as_deref(),
            Some(std::path::Path::new("/probe"))
        );
    }
}
