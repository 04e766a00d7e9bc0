//! latency-exporter's command line: the help text, the options, and their
//! parsing, side by side.

use crate::probe::{CelGauge, JsonGauge, Target};
use common::cli::{self, usage, Stop};
use common::flag::Flag;
use common::server::ListenAddr;
use net::condition::{self, Conditions};
use std::time::Duration;

pub const HELP: &str = concat!(
    "\
latency-exporter: Prometheus metrics of synthetic HTTP probes of the main container.

Usage: latency-exporter [--listen ADDR] --target [NAME=]URL [--target ...] [OPTIONS]

  --listen ADDR            serve /metrics here (default :9100); :PORT, HOST:PORT, [V6]:PORT
  --target [NAME=]URL      probe URL with GET; label target=NAME (default: the URL); repeatable;
                           tcp://HOST:PORT probes a TCP connect (a database, a cache);
                           tls://HOST:PORT a connect and a TLS handshake (SMTPS, LDAPS,
                           a database with TLS): the certificate series, nothing sent
  --interval DURATION      probe each target this often (default 10s), or 'scrape':
                           probe on each scrape, concurrent scrapes sharing one probe,
                           within Prometheus's X-Prometheus-Scrape-Timeout-Seconds
  --timeout DURATION       per probe (default 5s)
  --header 'Name: value'   before any --target: send this header with every probe;
                           after a --target: with that target's probes (repeatable)
Conditions, after the --target they apply to (the same language as ready-check's;
a failure is probe_success 0 and probe_failed_due_to_condition 1):
  --status CODE[,CODE]     require one of these statuses instead of 2xx
  --contains TEXT          the body must contain TEXT (repeatable)
  --json 'POINTER OP VALUE'
                           the body is JSON and the value at POINTER compares true
                           with VALUE; OP is == != < <= > >= (repeatable)
  --cel 'EXPR'             the CEL expression is true, over body (the JSON answer),
                           status, headers and now; a failure is also
                           probe_failed_due_to_cel 1 (repeatable; docs/cel.md)
  --fail-if-not-ssl        the final answer must come over TLS (after redirects)

  --json-gauge NAME=POINTER
                           when a target answers JSON, export the number at the
                           RFC 6901 POINTER as gauge NAME (repeatable)
  --cel-gauge 'NAME=EXPR'  export the number (or bool, as 0/1) the CEL EXPR gives
  --cel-gauge 'NAME{LABEL,...}=EXPR'
                           as gauge NAME; with labels, EXPR gives a map (a series
                           per key, as LABEL) or a list of rows [label, ...,
                           number] (repeatable; docs/cel.md)
  --buckets S,S,...        probe_latency_seconds buckets in seconds
                           (default 0.0001 ... 5, suited to loopback)
  --max-body SIZE          read at most this much of a body (default 1Mi; more fails);
                           sizes as Kubernetes writes them: 65536, 64Ki, 1.5Mi, 1M
  --follow-redirects[=N]   follow up to N redirects (alone: 10, as the kubelet;
                           default 0: a 3xx is the answer)
",
    common::log_help!(),
    "  -h, --help, -V, --version

",
    net::tls_help!(),
    "
Serves:
  /metrics   probe_success, probe_duration_seconds, probe_http_status_code,
             probe_http_content_length, probe_latency_seconds (histogram),
             probe_total{result}, probe_last_success_timestamp_seconds,
             over TLS probe_ssl_earliest_cert_expiry and the other
             blackbox TLS series, the JSON gauges, and process_* metrics
  /healthz   200 ok
  /          this index

A probe succeeds on a 2xx answer (or --status) within the timeout and the
body cap, meeting its target's conditions.

Examples:
  latency-exporter --listen :9100 --target http://127.0.0.1:8080/healthz
  latency-exporter --listen :9100 --interval 5s --target app=http://127.0.0.1:8080/ \\
      --target stats=http://127.0.0.1:8080/stats --json-gauge app_queue_depth=/queue/depth
  latency-exporter --listen 127.0.0.1:9100 --interval scrape --target http://127.0.0.1:8080/
"
);

/// Each flag of latency-exporter, declared once (see `common::flag`). With the shared
/// lists, [`ALL_FLAGS`] is the parser's list, and its test holds `HELP` and
/// `docs/latency-exporter.md` to it.
pub const FLAGS: &[Flag] = &[
    Flag::new("listen", &[":9100"]),
    Flag::new("target", &["app=http://127.0.0.1:8080/"]),
    Flag::new("interval", &["scrape"]),
    Flag::new("timeout", &["2s"]),
    Flag::new("header", &["X-Probe: 1"]),
    Flag::switch("fail-if-not-ssl"),
    Flag::new("json-gauge", &["app_queue_depth=/queue/depth"]),
    Flag::new("cel-gauge", &["app_items{state}=body.counts"]),
    Flag::new("buckets", &["0.01,0.1,1"]),
    Flag::new("max-body", &["64Ki"]),
    Flag::switch("follow-redirects"),
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

pub enum Probing {
    Every(Duration),
    /// Probe on each scrape; concurrent scrapes share one probe.
    OnScrape,
}

pub struct Options {
    /// `--log-format`, `--log-level`.
    pub log: common::log::LogOptions,
    pub listen: ListenAddr,
    pub targets: Vec<Target>,
    pub probing: Probing,
    pub timeout: Duration,
    pub max_body: u64,
    pub headers: Vec<(String, String)>,
    pub follow_redirects: u32,
    pub json_gauges: Vec<JsonGauge>,
    pub cel_gauges: Vec<CelGauge>,
    pub buckets: Vec<f64>,
    pub tls: net::tls::TlsOptions,
}

/// Sub-millisecond (loopback) up to the default timeout.
const DEFAULT_BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

pub fn parse(mut parser: lexopt::Parser) -> Result<Options, Stop> {
    use lexopt::prelude::*;
    let mut options = Options {
        log: common::log::LogOptions::default(),
        listen: ListenAddr::parse(":9100").expect("the default address"),
        targets: Vec::new(),
        probing: Probing::Every(Duration::from_secs(10)),
        timeout: Duration::from_secs(5),
        max_body: net::client::DEFAULT_MAX_BODY,
        headers: Vec::new(),
        follow_redirects: 0,
        json_gauges: Vec::new(),
        cel_gauges: Vec::new(),
        buckets: Vec::new(),
        tls: net::tls::TlsOptions::default(),
    };
    while let Some(arg) = parser.next()? {
        common::flag::declared(&arg, &PARSED)?;
        match arg {
            Short('h') | Long("help") => return Err(Stop::Help),
            Short('V') | Long("version") => return Err(Stop::Version),
            Long(flag) if common::flag::has(&common::log::SPELLED, flag) => {
                let flag = flag.to_string();
                cli::log_flag(&mut options.log, &flag, &mut parser)?;
            }
            Long("listen") => options.listen = cli::listen_addr(&mut parser, "--listen")?,
            Long("target") => {
                let target = target(&cli::text(&mut parser, "--target")?)
                    .map_err(|e| usage("--target", e))?;
                if options.targets.iter().any(|t| t.name == target.name) {
                    return Err(usage(
                        "--target",
                        format!("'{}' is given twice", target.name),
                    ));
                }
                options.targets.push(target);
            }
            Long("interval") => {
                let text = cli::text(&mut parser, "--interval")?;
                options.probing = if text == "scrape" {
                    Probing::OnScrape
                } else {
                    match common::duration::parse(&text) {
                        Ok(d) if !d.is_zero() => Probing::Every(d),
                        Ok(_) => return Err(usage("--interval", "must be greater than zero")),
                        Err(e) => return Err(usage("--interval", format!("{e}, or 'scrape'"))),
                    }
                };
            }
            Long("timeout") => options.timeout = cli::positive_duration(&mut parser, "--timeout")?,
            Long("max-body") => options.max_body = cli::byte_size(&mut parser, "--max-body")?,
            Long("follow-redirects") => {
                options.follow_redirects = cli::follow_redirects(&mut parser, "--follow-redirects")?
            }
            Long("fail-if-not-ssl") => match options.targets.last_mut() {
                Some(target) if target.is_http() => target.fail_if_not_ssl = true,
                Some(_) => {
                    return Err(usage(
                        "--fail-if-not-ssl",
                        "applies to http:// and https:// targets",
                    ))
                }
                None => {
                    return Err(usage(
                        "--fail-if-not-ssl",
                        "must follow the --target it applies to",
                    ))
                }
            },
            Long(flag) if common::flag::has(&net::tls::SPELLED, flag) => {
                let flag = flag.to_string();
                options.tls.parse_flag(&flag, &mut parser)?;
            }
            Long(flag) if common::flag::has(&condition::SPELLED, flag) => {
                let (name, flag) = (flag.to_string(), format!("--{flag}"));
                let value = cli::text(&mut parser, &flag)?;
                match options.targets.last_mut() {
                    Some(target) if !target.is_http() => {
                        return Err(usage(&flag, "applies to http:// and https:// targets"))
                    }
                    Some(target) => target.conditions.add(&name, &value),
                    // Before any target, a header is for all of them.
                    None if name == "header" => net::client::parse_header(&value)
                        .map(|header| options.headers.push(header))
                        .map_err(|e| e.to_string()),
                    None => return Err(usage(&flag, "must follow the --target it applies to")),
                }
                .map_err(|e| usage(&flag, e))?;
            }
            Long("json-gauge") => {
                let text = cli::text(&mut parser, "--json-gauge")?;
                let gauge = json_gauge(&text).map_err(|e| usage("--json-gauge", e))?;
                if options.json_gauges.iter().any(|g| g.name == gauge.name) {
                    return Err(usage(
                        "--json-gauge",
                        format!("'{}' is given twice", gauge.name),
                    ));
                }
                options.json_gauges.push(gauge);
            }
            Long("cel-gauge") => {
                let text = cli::text(&mut parser, "--cel-gauge")?;
                let gauge = cel_gauge(&text).map_err(|e| usage("--cel-gauge", e))?;
                let taken = options.json_gauges.iter().map(|g| &g.name);
                if taken
                    .chain(options.cel_gauges.iter().map(|g| &g.name))
                    .any(|n| *n == gauge.name)
                {
                    return Err(usage(
                        "--cel-gauge",
                        format!("'{}' is given twice", gauge.name),
                    ));
                }
                options.cel_gauges.push(gauge);
            }
            Long("buckets") => {
                let text = cli::text(&mut parser, "--buckets")?;
                options.buckets =
                    common::prom::parse_buckets(&text).map_err(|e| usage("--buckets", e))?;
            }
            Value(value) => {
                return Err(Stop::Usage(format!(
                    "unexpected argument {:?}: give targets with --target URL",
                    value.to_string_lossy()
                )))
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    if options.targets.is_empty() {
        return Err(Stop::Usage(
            "no target given: add --target URL or --target NAME=URL".into(),
        ));
    }
    options.tls.check()?;
    if options.buckets.is_empty() {
        options.buckets = DEFAULT_BUCKETS.to_vec();
        let timeout = options.timeout.as_secs_f64();
        if timeout > 5.0 {
            options.buckets.push(timeout);
        }
    }
    Ok(options)
}

/// `URL` or `NAME=URL`.
fn target(text: &str) -> Result<Target, String> {
    let (name, url) = match text.split_once('=') {
        Some((name, url)) if !name.contains("://") => (name.to_string(), url.to_string()),
        _ => (text.to_string(), text.to_string()),
    };
    if name.is_empty() {
        return Err(format!("'{text}' has an empty NAME (want URL or NAME=URL)"));
    }
    match url.split_once("://") {
        Some((scheme @ ("tcp" | "tls"), address)) => {
            if address
                .rsplit_once(':')
                .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
            {
                return Err(format!("'{url}' is not {scheme}://HOST:PORT"));
            }
        }
        _ => net::client::check_url(&url).map_err(|e| e.to_string())?,
    }
    Ok(Target {
        name,
        url,
        conditions: Conditions::default(),
        fail_if_not_ssl: false,
    })
}

/// Where latency-exporter's own series live.
const RESERVED_PREFIXES: [&str; 2] = ["probe_", "process_"];

/// `NAME=POINTER`.
fn json_gauge(text: &str) -> Result<JsonGauge, String> {
    let (name, pointer) = text.split_once('=').ok_or_else(|| {
        format!("'{text}' is not NAME=POINTER (e.g. app_queue_depth=/queue/depth)")
    })?;
    gauge_name(name)?;
    if !pointer.starts_with('/') {
        return Err(format!(
            "'{pointer}' is not a JSON pointer (it must start with '/')"
        ));
    }
    Ok(JsonGauge {
        name: name.to_string(),
        pointer: pointer.to_string(),
    })
}

/// `NAME=EXPR` or `NAME{LABEL,...}=EXPR`.
fn cel_gauge(text: &str) -> Result<CelGauge, String> {
    let (head, expr) = text.split_once('=').ok_or_else(|| {
        format!(
            "'{text}' is not NAME=EXPR or NAME{{LABEL}}=EXPR (e.g. app_items{{state}}=body.counts)"
        )
    })?;
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => {
            let list = rest
                .strip_suffix('}')
                .ok_or_else(|| format!("'{head}' opens '{{' and does not close it"))?;
            (
                name,
                list.split(',')
                    .map(|l| l.trim().to_string())
                    .collect::<Vec<_>>(),
            )
        }
        None => (head, Vec::new()),
    };
    gauge_name(name)?;
    for (i, label) in labels.iter().enumerate() {
        let valid = label
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !label.starts_with("__");
        if !valid {
            return Err(format!(
                "'{label}' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting __)"
            ));
        }
        if label == "target" || labels[..i].contains(label) {
            return Err(format!(
                "the label '{label}' is given twice (every series has 'target')"
            ));
        }
    }
    let program =
        cel::Program::compile(expr, &net::condition::cel_variables()).map_err(|e| e.to_string())?;
    Ok(CelGauge {
        name: name.to_string(),
        labels,
        program: std::sync::Arc::new(program),
    })
}

/// A metric name the user may choose: valid, and not one of ours.
fn gauge_name(name: &str) -> Result<(), String> {
    if !common::prom::is_metric_name(name) {
        return Err(format!(
            "'{name}' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        ));
    }
    // The exporter's own series (and the blackbox names it may yet add):
    // a clash would make Prometheus reject the whole exposition.
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return Err(format!(
            "'{name}' would clash with latency-exporter's own series: names starting {prefix} are its own"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_docs_and_parser_take_each_declared_flag() {
        common::flag::check(
            ALL_FLAGS,
            HELP,
            include_str!("../../../docs/latency-exporter.md"),
            &[],
            &["--target", "https://127.0.0.1:8443/healthz"],
            parse,
        );
    }

    use proptest::prelude::*;

    fn parsed(args: &[&str]) -> Result<Options, Stop> {
        cli::parse_args(args, parse)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Any --json-gauge text is taken or refused in one line naming the flag.
        #[test]
        fn any_json_gauge_spec_is_taken_or_refused_clearly(spec in any::<String>()) {
            match parsed(&["--target", "http://x/", "--json-gauge", &spec]) {
                Ok(options) => {
                    let gauge = &options.json_gauges[0];
                    prop_assert!(common::prom::is_metric_name(&gauge.name) && gauge.pointer.starts_with('/'));
                    prop_assert!(!gauge.name.starts_with("probe_") && !gauge.name.starts_with("process_"));
                }
                Err(stop) => {
                    let text = cli::usage_error(Err::<(), _>(stop));
                    prop_assert!(text.starts_with("--json-gauge: ") && !text.contains('\n'), "{}", text);
                }
            }
        }

        /// Any --target text, likewise.
        #[test]
        fn any_target_spec_is_taken_or_refused_clearly(spec in any::<String>()) {
            if let Err(stop) = parsed(&["--target", &spec]) {
                let text = cli::usage_error(Err::<(), _>(stop));
                prop_assert!(text.starts_with("--target: "), "{}", text);
            }
        }
    }

    fn refused(args: &[&str]) -> String {
        cli::usage_error(parsed(args))
    }

    #[test]
    fn defaults_and_named_targets() {
        let options = parsed(&[
            "--target",
            "http://127.0.0.1:1/",
            "--target",
            "app=http://127.0.0.1:2/x",
        ])
        .unwrap();
        assert_eq!(options.listen, ListenAddr::parse(":9100").unwrap());
        assert!(matches!(options.probing, Probing::Every(d) if d == Duration::from_secs(10)));
        let names: Vec<&str> = options.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["http://127.0.0.1:1/", "app"]);
        assert_eq!(options.buckets, DEFAULT_BUCKETS);
        // A timeout past the last bucket gets a bucket of its own.
        let long = parsed(&["--timeout", "9s", "--target", "http://x/"]).unwrap();
        assert_eq!(long.buckets.last(), Some(&9.0));
        let scrape = parsed(&["--interval", "scrape", "--target", "http://x/"]).unwrap();
        assert!(matches!(scrape.probing, Probing::OnScrape));
    }

    #[test]
    fn bad_usage_names_the_flag() {
        assert!(
            refused(&["--target", "a=http://x/", "--target", "a=http://y/"])
                .starts_with("--target: 'a' is given twice")
        );
        assert!(refused(&["--target", "http://x/", "--listen", ":http"])
            .starts_with("--listen: ':http' is not :PORT"));
        assert!(refused(&["--target", "http://x/", "--interval", "soon"]).ends_with("or 'scrape'"));
        assert!(refused(&["--target", "http://x/", "--json-gauge", "depth"])
            .contains("is not NAME=POINTER"));
        assert!(
            refused(&["--target", "http://x/", "--json-gauge", "a-b=/x"])
                .contains("not a valid metric name")
        );
        assert!(refused(&[]).starts_with("no target given"));
        assert!(refused(&["--target", "http://x/", "--max-body", "1MB"])
            .starts_with("--max-body: '1MB' is ambiguous"));
        assert!(refused(&["--target", "http://x/", "--max-body", "0"])
            .starts_with("--max-body: must be greater than zero"));
    }

    /// The shape ready-check's flag has too: a switch, `=N` for a limit;
    /// the next flag is never taken as its value.
    #[test]
    fn follow_redirects_alone_or_with_a_limit() {
        let alone = parsed(&["--follow-redirects", "--target", "http://x/"]).unwrap();
        assert_eq!((alone.follow_redirects, alone.targets.len()), (10, 1));
        let two = parsed(&["--follow-redirects=2", "--target", "http://x/"]).unwrap();
        assert_eq!(two.follow_redirects, 2);
        assert_eq!(
            parsed(&["--target", "http://x/"]).unwrap().follow_redirects,
            0
        );
        assert!(
            refused(&["--follow-redirects=many", "--target", "http://x/"])
                .starts_with("--follow-redirects: 'many' is not a number of redirects")
        );
    }

    #[test]
    fn conditions_follow_their_target_and_a_header_before_all_is_for_all() {
        let options = parsed(&[
            "--header",
            "X-All: 1",
            "--target",
            "app=http://127.0.0.1:1/",
            "--header",
            "X-App: 2",
            "--status",
            "200,503",
            "--json",
            "/ok == true",
            "--target",
            "http://127.0.0.1:2/",
            "--contains",
            "up",
        ])
        .unwrap();
        assert_eq!(options.headers, [("X-All".to_string(), "1".to_string())]);
        let (app, other) = (
            &options.targets[0].conditions,
            &options.targets[1].conditions,
        );
        assert_eq!(app.headers, [("X-App".to_string(), "2".to_string())]);
        assert_eq!(
            (app.statuses.as_slice(), app.json.len()),
            (&[200, 503][..], 1)
        );
        assert_eq!(
            (other.contains.as_slice(), other.statuses.len()),
            (&["up".to_string()][..], 0)
        );
        assert!(refused(&["--status", "200", "--target", "http://x/"])
            .starts_with("--status: must follow the --target it applies to"));
        assert!(refused(&["--target", "http://x/", "--json", "value"])
            .starts_with("--json: 'value' has no operator"));
    }
}
