//! Command-line parsing for latency-exporter.

use common::cli::{self, usage, Stop};
use std::time::Duration;

pub struct Target {
    /// The `target` label: the NAME given, or the URL.
    pub name: String,
    pub url: String,
}

#[derive(Clone)]
pub struct JsonGauge {
    pub name: String,
    pub pointer: String,
}

pub enum Schedule {
    Every(Duration),
    /// Probe on each scrape; concurrent scrapes share one probe.
    OnScrape,
}

pub struct Options {
    pub listen: String,
    pub targets: Vec<Target>,
    pub schedule: Schedule,
    pub timeout: Duration,
    pub max_body: u64,
    pub headers: Vec<(String, String)>,
    pub json_gauges: Vec<JsonGauge>,
    pub buckets: Vec<f64>,
}

/// Sub-millisecond (loopback) up to the default timeout.
const DEFAULT_BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

pub fn parse(mut parser: lexopt::Parser) -> Result<Options, Stop> {
    use lexopt::prelude::*;
    let mut options = Options {
        listen: ":9100".into(),
        targets: Vec::new(),
        schedule: Schedule::Every(Duration::from_secs(10)),
        timeout: Duration::from_secs(5),
        max_body: common::client::DEFAULT_MAX_BODY,
        headers: Vec::new(),
        json_gauges: Vec::new(),
        buckets: Vec::new(),
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Err(Stop::Help),
            Short('V') | Long("version") => return Err(Stop::Version),
            Long("listen") => options.listen = cli::text(&mut parser, "--listen")?,
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
                options.schedule = if text == "scrape" {
                    Schedule::OnScrape
                } else {
                    match common::duration::parse(&text) {
                        Ok(d) if !d.is_zero() => Schedule::Every(d),
                        Ok(_) => return Err(usage("--interval", "must be greater than zero")),
                        Err(e) => return Err(usage("--interval", format!("{e}, or 'scrape'"))),
                    }
                };
            }
            Long("timeout") => options.timeout = cli::positive_duration(&mut parser, "--timeout")?,
            Long("max-body") => options.max_body = cli::byte_size(&mut parser, "--max-body")?,
            Long("header") => {
                let text = cli::text(&mut parser, "--header")?;
                options
                    .headers
                    .push(common::client::parse_header(&text).map_err(|e| usage("--header", e))?);
            }
            Long("json-gauge") => {
                let text = cli::text(&mut parser, "--json-gauge")?;
                options
                    .json_gauges
                    .push(json_gauge(&text).map_err(|e| usage("--json-gauge", e))?);
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
    common::client::check_url(&url)?;
    Ok(Target { name, url })
}

/// `NAME=POINTER`.
fn json_gauge(text: &str) -> Result<JsonGauge, String> {
    let (name, pointer) = text.split_once('=').ok_or_else(|| {
        format!("'{text}' is not NAME=POINTER (e.g. app_queue_depth=/queue/depth)")
    })?;
    if !common::prom::is_metric_name(name) {
        return Err(format!("'{name}' is not a valid metric name"));
    }
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
