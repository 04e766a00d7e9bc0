//! One probe of one target: what came back and how long each phase took.
//! HTTP targets are probed with common's client (GET, timed phase by phase);
//! `tcp://HOST:PORT` targets with a connect, as blackbox's tcp_connect;
//! `tls://HOST:PORT` with a connect and a TLS handshake, as blackbox's tcp
//! module with `tls: true`.

use net::client::{Client, Phases, Request};
use net::condition::{Conditions, DefaultStatus};
use net::error::FetchError;
use std::io::ErrorKind;
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub struct Target {
    /// The `target` label: the NAME given, or the URL.
    pub name: String,
    pub url: String,
    /// `--status`, `--header`, `--contains`, `--json` given after it.
    pub conditions: Conditions,
    /// `--fail-if-not-ssl`: the final answer must come over TLS.
    pub fail_if_not_ssl: bool,
}

impl Target {
    /// `tcp://HOST:PORT`: the address of a connect probe.
    pub fn tcp_address(&self) -> Option<&str> {
        self.url.strip_prefix("tcp://")
    }

    /// `tls://HOST:PORT`: the address of a handshake probe.
    pub fn tls_address(&self) -> Option<&str> {
        self.url.strip_prefix("tls://")
    }

    /// An http:// or https:// target.
    pub fn is_http(&self) -> bool {
        self.tcp_address().is_none() && self.tls_address().is_none()
    }
}

#[derive(Clone)]
pub struct JsonGauge {
    pub name: String,
    pub pointer: String,
}

/// `--cel-gauge NAME{LABEL,...}=EXPR`.
#[derive(Clone)]
pub struct CelGauge {
    pub name: String,
    pub labels: Vec<String>,
    pub program: std::sync::Arc<cel::Program>,
}

/// The series one `--cel-gauge` gives: label values and the value.
pub type CelSeries = Vec<(Vec<String>, f64)>;

/// The most series one `--cel-gauge` may give a target: an answer's map of
/// a million keys is an error, not a million series.
pub const MAX_CEL_SERIES: usize = 1000;
/// The longest label value taken from an answer.
pub const MAX_LABEL_VALUE: usize = 1024;

impl CelGauge {
    /// The gauge's series over an answer's variables. A number or a bool
    /// is one series (NAME=EXPR); a map from keys to numbers, a series per
    /// key (NAME{LABEL}=EXPR); a list of rows `[label, ..., number]`, a
    /// series per row (NAME{L1,L2}=EXPR). Anything else is an error.
    pub fn series(
        &self,
        variables: &[(&str, Result<cel::Value, String>)],
    ) -> Result<CelSeries, String> {
        let value = self
            .program
            .eval(variables, cel::DEFAULT_BUDGET)
            .map_err(|e| e.to_string())?;
        let wanted = self.labels.len();
        let shape = |what: &str| {
            Err(format!(
                "gave {what}; {} wants {}",
                self.name,
                match wanted {
                    0 => "a number or a bool".to_string(),
                    1 =>
                        "a map from keys to numbers, or a list of [label, number] rows".to_string(),
                    n => format!("a list of rows of {n} labels and a number"),
                }
            ))
        };
        let rows: Vec<(Vec<String>, f64)> = match (&value, wanted) {
            (cel::Value::List(rows), _) if wanted > 0 => {
                let mut out = Vec::new();
                for row in rows.iter().take(MAX_CEL_SERIES + 1) {
                    let cel::Value::List(cells) = row else {
                        return shape(&format!("a list holding a {}", row.type_name().name()));
                    };
                    let (value, labels) = match cells.split_last() {
                        Some((value, labels)) if labels.len() == wanted => (value, labels),
                        _ => return shape(&format!("a row of {} items", cells.len())),
                    };
                    let labels = labels
                        .iter()
                        .map(label_text)
                        .collect::<Result<Vec<_>, _>>()?;
                    out.push((labels, number(value).ok_or_else(|| not_number(value))?));
                }
                out
            }
            (cel::Value::Map(entries), 1) => {
                let mut out = Vec::new();
                for (key, value) in entries.iter().take(MAX_CEL_SERIES + 1) {
                    out.push((
                        vec![label_text(key)?],
                        number(value).ok_or_else(|| not_number(value))?,
                    ));
                }
                out
            }
            (other, 0) => match number(other) {
                Some(n) => vec![(Vec::new(), n)],
                None => return shape(&format!("a {}", other.type_name().name())),
            },
            (other, _) => return shape(&format!("a {}", other.type_name().name())),
        };
        if rows.len() > MAX_CEL_SERIES {
            return Err(format!("more than {MAX_CEL_SERIES} series"));
        }
        Ok(rows)
    }
}

/// A gauge's value: numbers, and booleans as 0 and 1.
fn number(value: &cel::Value) -> Option<f64> {
    match value {
        cel::Value::Int(i) => Some(*i as f64),
        cel::Value::Uint(u) => Some(*u as f64),
        cel::Value::Double(d) => Some(*d),
        cel::Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn not_number(value: &cel::Value) -> String {
    format!(
        "a value is a {}, not a number or a bool",
        value.type_name().name()
    )
}

/// A label value: a string as it is, a number or a bool as CEL's string().
fn label_text(value: &cel::Value) -> Result<String, String> {
    let text = match value {
        cel::Value::String(s) => s.to_string(),
        cel::Value::Int(i) => i.to_string(),
        cel::Value::Uint(u) => u.to_string(),
        cel::Value::Bool(b) => b.to_string(),
        cel::Value::Double(d) => cel::format_double(*d),
        other => {
            return Err(format!(
                "a label is a {}, not a string",
                other.type_name().name()
            ))
        }
    };
    if text.len() > MAX_LABEL_VALUE {
        return Err(format!(
            "a label value is longer than {MAX_LABEL_VALUE} bytes"
        ));
    }
    Ok(text)
}

fn refused_expiry(error: Option<&FetchError>) -> Option<i64> {
    match error {
        Some(FetchError::Tls(tls)) => tls.sent_expiry(),
        _ => None,
    }
}

#[derive(Default)]
pub struct Probe {
    pub success: bool,
    pub duration: f64,
    pub phases: Phases,
    /// The address probed, when a name was resolved (or was an IP).
    pub ip: Option<IpAddr>,
    /// The HTTP side: None for a tcp:// or tls:// target.
    pub http: Option<HttpSide>,
    /// What the handshake saw, when the final answer came over TLS.
    pub tls: Option<net::tls::TlsInfo>,
    /// When the verifier refused the server's certificates: the smallest
    /// NotAfter of those it sent (an expired chain keeps its date).
    pub refused_expiry: Option<i64>,
    /// Per `--json-gauge`, the number found (None: missing or not a number).
    pub gauges: Vec<Option<f64>>,
    /// Per `--cel-gauge`, its series or why it has none; empty for a
    /// target that was not probed over HTTP.
    pub cel_series: Vec<Result<CelSeries, String>>,
    pub error: Option<String>,
    /// A condition of the target (`--status`, `--contains`, `--json`,
    /// `--cel`) failed.
    pub failed_condition: bool,
    /// A `--cel` expression of the target was false or failed.
    pub failed_cel: bool,
}

#[derive(Default)]
pub struct HttpSide {
    /// 0 when no response arrived, as in the blackbox exporter.
    pub status: u16,
    pub version: f64,
    /// The Content-Length header; None (exported as -1) when absent.
    pub content_length: Option<u64>,
    /// Body bytes received.
    pub body_bytes: usize,
    pub redirects: u32,
}

pub struct Prober {
    pub headers: Vec<(String, String)>,
    pub max_body: u64,
    /// Follows `--follow-redirects`.
    pub client: Client,
    pub json_gauges: Vec<JsonGauge>,
    pub cel_gauges: Vec<CelGauge>,
}

impl Prober {
    pub fn probe(&self, target: &Target, timeout: Duration) -> Probe {
        if let Some(address) = target.tcp_address() {
            return tcp(address, timeout);
        }
        match target.tls_address() {
            Some(address) => self.tls(address, timeout),
            None => self.http(target, timeout),
        }
    }

    fn tls(&self, address: &str, timeout: Duration) -> Probe {
        let exchange = self.client.handshake(address, timeout);
        Probe {
            refused_expiry: refused_expiry(exchange.error.as_ref()),
            success: exchange.error.is_none(),
            duration: exchange.phases.total().as_secs_f64(),
            phases: exchange.phases,
            ip: exchange.ip,
            tls: exchange.tls,
            error: exchange.error.map(|e| e.to_string()),
            ..Probe::default()
        }
    }

    fn http(&self, target: &Target, timeout: Duration) -> Probe {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .chain(&target.conditions.headers)
            .cloned()
            .collect();
        let exchange = self.client.exchange(&Request {
            headers: &headers,
            max_body: Some(self.max_body),
            ..Request::get(&target.url, timeout)
        });
        let mut probe = Probe {
            duration: exchange.phases.total().as_secs_f64(),
            phases: exchange.phases,
            ip: exchange.ip,
            http: Some(HttpSide {
                status: exchange.status,
                version: exchange.version,
                content_length: exchange.content_length,
                body_bytes: exchange.body.len(),
                redirects: exchange.redirects,
            }),
            gauges: vec![None; self.json_gauges.len()],
            tls: exchange.tls,
            refused_expiry: refused_expiry(exchange.error.as_ref()),
            error: exchange.error.map(|e| e.to_string()),
            ..Probe::default()
        };
        if probe.error.is_some() {
            return probe;
        }
        if target.fail_if_not_ssl && probe.tls.is_none() {
            probe.error = Some("the final answer did not come over TLS (--fail-if-not-ssl)".into());
            probe.failed_condition = true;
            return probe;
        }
        // As the blackbox exporter's http_2xx module judges, unless --status
        // says; then the target's conditions on the body.
        let conditions = &target.conditions;
        let judged = conditions
            .judge_status(exchange.status, DefaultStatus::Success)
            .and_then(|()| conditions.judge_body(&exchange.body))
            .and_then(|()| {
                conditions.judge_cel(exchange.status, &exchange.headers, &exchange.body)
            });
        probe.success = judged.is_ok();
        if let Err(failure) = judged {
            probe.failed_condition = failure.by_condition();
            probe.failed_cel = failure.by_cel();
            probe.error = Some(failure.to_string());
        }
        if !self.cel_gauges.is_empty() {
            let variables =
                net::condition::cel_answer(exchange.status, &exchange.headers, &exchange.body);
            probe.cel_series = self
                .cel_gauges
                .iter()
                .map(|g| g.series(&variables))
                .collect();
        }
        if !self.json_gauges.is_empty() {
            if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&exchange.body) {
                for (slot, gauge) in probe.gauges.iter_mut().zip(&self.json_gauges) {
                    *slot = doc
                        .pointer(&gauge.pointer)
                        .and_then(serde_json::Value::as_f64);
                }
            }
        }
        probe
    }
}

/// A TCP connect, timed: the name lookup, then the connection.
fn tcp(address: &str, timeout: Duration) -> Probe {
    let mut probe = Probe::default();
    let t0 = Instant::now();
    let literal = address.parse::<std::net::SocketAddr>().ok();
    let resolved = literal.or_else(|| address.to_socket_addrs().ok()?.next());
    // No lookup, and no time, for an IP.
    let t1 = if literal.is_some() {
        t0
    } else {
        Instant::now()
    };
    probe.phases.resolve = t1 - t0;
    let Some(addr) = resolved else {
        probe.duration = probe.phases.total().as_secs_f64();
        probe.error = Some(FetchError::HostNotFound.to_string());
        return probe;
    };
    probe.ip = Some(addr.ip());
    let left = timeout.saturating_sub(t1 - t0);
    let connected = TcpStream::connect_timeout(&addr, left.max(Duration::from_millis(1)));
    probe.phases.connect = t1.elapsed();
    probe.duration = probe.phases.total().as_secs_f64();
    match connected {
        Ok(_) => probe.success = true,
        Err(e) => {
            probe.error = Some(match e.kind() {
                ErrorKind::ConnectionRefused => FetchError::Refused.to_string(),
                ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                    FetchError::TimedOut(timeout).to_string()
                }
                _ => e.to_string(),
            })
        }
    }
    probe
}
