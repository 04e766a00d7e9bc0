//! The three kinds of check and what each failure says. Every message names
//! the cause, because the kubelet shows it in the Pod's events.

use crate::json_condition::Condition;
use common::client::{Client, FetchError, Request};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug)]
pub enum Check {
    Http(HttpCheck),
    Tcp(String),
    File {
        path: PathBuf,
        max_age: Option<Duration>,
    },
}

#[derive(Debug, Default)]
pub struct HttpCheck {
    pub url: String,
    pub statuses: Vec<u16>,
    pub headers: Vec<(String, String)>,
    pub contains: Vec<String>,
    pub json: Vec<Condition>,
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
            Check::Tcp(addr) => format!("tcp {addr}"),
            Check::File { path, .. } => format!("file {}", path.display()),
        }
    }

    pub fn run(&self, client: &Client, budget: &Budget) -> Result<(), String> {
        match self {
            Check::Http(http) => http.run(client, budget),
            Check::Tcp(addr) => tcp(addr, budget.timeout),
            Check::File { path, max_age } => file(path, *max_age),
        }
    }
}

impl HttpCheck {
    fn run(&self, client: &Client, budget: &Budget) -> Result<(), String> {
        let needs_body = !self.contains.is_empty() || !self.json.is_empty();
        let request = Request {
            headers: &self.headers,
            // A status-only check never reads the body, however large.
            max_body: needs_body.then_some(budget.max_body),
            ..Request::get(&self.url, budget.timeout)
        };
        let reply = client.fetch(&request).map_err(|e| match e {
            FetchError::BodyTooLarge { cap, .. } => {
                format!("body larger than {cap} bytes (raise --max-body)")
            }
            other => other.to_string(),
        })?;
        self.judge_status(reply.status)?;
        for text in &self.contains {
            if memchr::memmem::find(&reply.body, text.as_bytes()).is_none() {
                return Err(format!("body does not contain {text:?}"));
            }
        }
        if !self.json.is_empty() {
            let doc: serde_json::Value = serde_json::from_slice(&reply.body)
                .map_err(|e| format!("body is not JSON ({e})"))?;
            for condition in &self.json {
                condition.check(&doc)?;
            }
        }
        Ok(())
    }

    fn judge_status(&self, status: u16) -> Result<(), String> {
        if self.statuses.is_empty() {
            // As the kubelet judges an httpGet probe.
            if (200..400).contains(&status) {
                return Ok(());
            }
            return Err(format!("status {status}, want 200-399"));
        }
        if self.statuses.contains(&status) {
            return Ok(());
        }
        let want: Vec<String> = self.statuses.iter().map(u16::to_string).collect();
        Err(format!("status {status}, want {}", want.join(" or ")))
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

fn file(path: &PathBuf, max_age: Option<Duration>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    })?;
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
