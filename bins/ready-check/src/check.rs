//! The three kinds of check and what each failure says. Every message names
//! the cause, because the kubelet shows it in the Pod's events.

use net::client::{Client, Request};
use net::condition::{Conditions, DefaultStatus};
use net::error::FetchError;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug)]
pub enum Check {
    Http(HttpCheck),
    /// HOST:PORT; with `--cert-valid-for`, a TLS handshake and its expiry.
    Tcp {
        addr: String,
        cert_valid_for: Option<Duration>,
    },
    File {
        path: PathBuf,
        max_age: Option<Duration>,
        /// `--cel` over the file: `body` its JSON, `modified` its mtime.
        cel: Vec<std::sync::Arc<cel::Program>>,
    },
}

#[derive(Debug, Default)]
pub struct HttpCheck {
    pub url: String,
    pub conditions: Conditions,
    /// `--cert-valid-for`: fail while the server's certificate expires sooner.
    pub cert_valid_for: Option<Duration>,
}

/// How checks run: the same for every check in one invocation.
pub struct Budget {
    pub timeout: Duration,
    pub max_body: u64,
}

impl Check {
    /// What the check looks at, as printed before `ok` or `FAIL`.
    pub fn label(&self) -> String {
        match self {
            Check::Http(http) => http.url.clone(),
            Check::Tcp {
                addr,
                cert_valid_for: None,
            } => format!("tcp {addr}"),
            Check::Tcp { addr, .. } => format!("tls {addr}"),
            Check::File { path, .. } => format!("file {}", path.display()),
        }
    }

    pub fn run(&self, client: &Client, budget: &Budget) -> Result<(), String> {
        match self {
            Check::Http(http) => http.run(client, budget),
            Check::Tcp {
                addr,
                cert_valid_for: None,
            } => tcp(addr, budget.timeout),
            // Any TLS service, not only HTTPS: a database, a broker.
            Check::Tcp {
                addr,
                cert_valid_for: Some(wanted),
            } => {
                let exchange = client.handshake(addr, budget.timeout);
                if let Some(error) = exchange.error {
                    return Err(error.to_string());
                }
                cert_valid_for(exchange.tls.as_ref(), *wanted)
            }
            Check::File { path, max_age, cel } => file(path, *max_age, cel, budget.max_body),
        }
    }
}

impl HttpCheck {
    fn run(&self, client: &Client, budget: &Budget) -> Result<(), String> {
        let request = Request {
            headers: &self.conditions.headers,
            // One rule for every check, as latency-exporter's probes: the
            // body is read up to --max-body, and a longer one fails.
            max_body: Some(budget.max_body),
            ..Request::get(&self.url, budget.timeout)
        };
        let reply = client.fetch(&request).map_err(|e| match e {
            FetchError::BodyTooLarge {
                cap, chunk: None, ..
            } => {
                format!("body larger than {cap} bytes (raise --max-body)")
            }
            other => other.to_string(),
        })?;
        if let Some(wanted) = self.cert_valid_for {
            cert_valid_for(reply.tls.as_ref(), wanted)?;
        }
        // As the kubelet judges an httpGet probe, unless --status says.
        self.conditions
            .judge_status(reply.status, DefaultStatus::Kubelet)
            .and_then(|()| self.conditions.judge_body(&reply.body))
            .and_then(|()| {
                self.conditions
                    .judge_cel(reply.status, &reply.headers, &reply.body)
            })
            .map_err(|failure| failure.to_string())
    }
}

/// The earliest NotAfter the server sent is at least `wanted` away.
fn cert_valid_for(tls: Option<&net::tls::TlsInfo>, wanted: Duration) -> Result<(), String> {
    let tls = tls.ok_or("the answer did not come over TLS (--cert-valid-for needs https://)")?;
    let expiry = tls.earliest_expiry.ok_or_else(|| {
        tls.unreadable
            .clone()
            .unwrap_or_else(|| "the server sent no certificate".into())
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let left = expiry.saturating_sub(now);
    if left <= 0 {
        return Err(format!(
            "certificate expired at {}",
            common::civil::format_utc(expiry)
        ));
    }
    if left < wanted.as_secs() as i64 {
        return Err(format!(
            "certificate expires at {}, in {}, sooner than --cert-valid-for {}",
            common::civil::format_utc(expiry),
            in_days(left.max(0) as u64),
            in_days(wanted.as_secs())
        ));
    }
    Ok(())
}

/// `89d23h`: certificate lifetimes are days, where 2159h says little.
fn in_days(secs: u64) -> String {
    let (days, hours) = (secs / 86_400, secs % 86_400 / 3600);
    match (days, hours) {
        (0, _) => common::duration::format(Duration::from_secs(secs)),
        (_, 0) => format!("{days}d"),
        _ => format!("{days}d{hours}h"),
    }
}

fn tcp(addr: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .collect();
    let mut last = String::from("no address");
    for candidate in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&candidate, left) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = "connection refused".into()
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!("timed out after {}", common::duration::format(timeout))
            }
            Err(e) => last = e.to_string(),
        }
    }
    if Instant::now() >= deadline {
        last = format!("timed out after {}", common::duration::format(timeout));
    }
    Err(last)
}

/// What a `--cel` after `--file` may read.
pub fn file_cel_variables() -> Vec<(&'static str, cel::Ty)> {
    use cel::Ty;
    vec![
        ("body", Ty::Dyn),
        ("modified", Ty::Timestamp),
        ("now", Ty::Timestamp),
    ]
}

fn file(
    path: &PathBuf,
    max_age: Option<Duration>,
    programs: &[std::sync::Arc<cel::Program>],
    cap: u64,
) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    })?;
    if !programs.is_empty() {
        // Read as any file here: a regular file only (no FIFO to hang on),
        // at most --max-body of it.
        let body = common::file::read_regular(path, cap).map_err(|e| e.to_string())?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        let variables = [
            ("body", net::condition::cel_body(&body)),
            ("modified", Ok(cel::Value::Timestamp(modified))),
            ("now", Ok(net::condition::cel_now())),
        ];
        net::condition::judge_cel(programs, &variables).map_err(|f| f.to_string())?;
    }
    let Some(max_age) = max_age else {
        return Ok(());
    };
    let modified = meta.modified().map_err(|e| e.to_string())?;
    // A modification time in the future (clock skew) counts as fresh.
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    if age > max_age {
        return Err(format!(
            "stale: modified {} ago, want within {}",
            common::duration::format(Duration::from_secs(age.as_secs())),
            common::duration::format(max_age)
        ));
    }
    Ok(())
}

/// Runs every check, concurrently when there are several, so the whole run
/// stays within one `--timeout`. Results come back in the checks' order.
pub fn run_all(checks: &[Check], client: &Client, budget: &Budget) -> Vec<Result<(), String>> {
    if let [only] = checks {
        return vec![only.run(client, budget)];
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = checks
            .iter()
            .map(|check| scope.spawn(move || check.run(client, budget)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("check crashed".into())))
            .collect()
    })
}
