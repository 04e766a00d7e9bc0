//! One HTTP/1.1 GET, timed phase by phase as the blackbox exporter times
//! them: `resolve` (the name lookup; 0 for an IP), `connect`, `tls` (always
//! 0: plain HTTP), `processing` (connected to the first response byte) and
//! `transfer` (first byte to the last body byte). The phases are read from
//! one run of consecutive clock readings, so they add up to the duration.
//! A client of its own because the timings live between socket calls.

use common::client::{FetchError, MAX_HEAD};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Phases {
    pub resolve: Duration,
    pub connect: Duration,
    pub processing: Duration,
    pub transfer: Duration,
}

impl Phases {
    pub fn total(&self) -> Duration {
        self.resolve + self.connect + self.processing + self.transfer
    }

    fn add(&mut self, other: &Phases) {
        self.resolve += other.resolve;
        self.connect += other.connect;
        self.processing += other.processing;
        self.transfer += other.transfer;
    }
}

/// What one probe saw, also when it failed part way.
#[derive(Debug, Default)]
pub struct Exchange {
    pub phases: Phases,
    /// The address connected to (the last hop's).
    pub ip: Option<IpAddr>,
    /// 0 when no response arrived.
    pub status: u16,
    /// 1.0 or 1.1.
    pub version: f64,
    /// The Content-Length header; None when absent.
    pub content_length: Option<u64>,
    /// Body bytes received (kept up to the cap).
    pub body: Vec<u8>,
    pub redirects: u32,
    pub error: Option<String>,
}

pub struct Request<'a> {
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub timeout: Duration,
    pub max_body: u64,
    pub follow_redirects: u32,
    pub user_agent: &'a str,
}

/// GETs the URL, following up to `follow_redirects` redirects (the phases
/// summed over the hops, as blackbox does).
pub fn get(request: &Request) -> Exchange {
    let deadline = Instant::now() + request.timeout;
    let mut exchange = Exchange::default();
    let mut url = request.url.to_string();
    loop {
        let mut hop = Phases::default();
        let result = one(request, &url, deadline, &mut hop, &mut exchange);
        exchange.phases.add(&hop);
        match result {
            Err(error) => {
                exchange.error = Some(error);
                return exchange;
            }
            Ok(Some(location)) if exchange.redirects < request.follow_redirects => {
                exchange.redirects += 1;
                url = match resolve_location(&url, &location) {
                    Some(next) => next,
                    None => {
                        exchange.error =
                            Some(format!("cannot follow the redirect to {location:?}"));
                        return exchange;
                    }
                };
            }
            Ok(_) => return exchange,
        }
    }
}

/// The parts of an http:// URL.
struct Url<'a> {
    host: &'a str,
    port: u16,
    /// Host and port as the Host header carries them.
    authority: &'a str,
    path: &'a str,
}

fn parse_url(url: &str) -> Result<Url<'_>, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("'{url}' is not an http:// URL"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) if rest.as_bytes()[at] == b'/' => (&rest[..at], &rest[at..]),
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed [ in the URL")?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("bad port in '{url}'"))?,
        None => 80,
    };
    Ok(Url {
        host,
        port,
        authority,
        path: if path.starts_with('?') { "/" } else { path },
    })
}

/// A Location header made absolute against the URL it answered.
fn resolve_location(base: &str, location: &str) -> Option<String> {
    if location.starts_with("http://") {
        return Some(location.to_string());
    }
    if location.starts_with('/') && !location.starts_with("//") {
        let url = parse_url(base).ok()?;
        return Some(format!("http://{}{location}", url.authority));
    }
    None
}

// Failures are said in the shared client's words (ready-check's, every's).
fn timed_out(timeout: Duration) -> String {
    FetchError::TimedOut(timeout).to_string()
}

fn closed() -> String {
    FetchError::Closed.to_string()
}

/// One hop: Ok(Some(location)) for a redirect answer with a Location.
fn one(
    request: &Request,
    url: &str,
    deadline: Instant,
    phases: &mut Phases,
    exchange: &mut Exchange,
) -> Result<Option<String>, String> {
    let url = parse_url(url)?;
    let timeout = request.timeout;
    let left = || {
        let left = deadline.saturating_duration_since(Instant::now());
        (!left.is_zero())
            .then_some(left)
            .ok_or_else(|| timed_out(timeout))
    };
    // resolve: no lookup, and no time, for an IP
    let t0 = Instant::now();
    let addr: SocketAddr = match url.host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, url.port),
        Err(_) => (url.host, url.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| FetchError::HostNotFound.to_string())?,
    };
    let t1 = if url.host.parse::<IpAddr>().is_ok() {
        t0
    } else {
        Instant::now()
    };
    phases.resolve = t1 - t0;
    exchange.ip = Some(addr.ip());
    // connect
    let connected = TcpStream::connect_timeout(&addr, left()?);
    let t2 = Instant::now();
    phases.connect = t2 - t1;
    let mut stream = connected.map_err(|e| match e.kind() {
        ErrorKind::ConnectionRefused => FetchError::Refused.to_string(),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => timed_out(timeout),
        _ => e.to_string(),
    })?;
    let io_error = |e: std::io::Error| match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => timed_out(timeout),
        ErrorKind::ConnectionReset => FetchError::Reset.to_string(),
        _ => e.to_string(),
    };
    let _ = stream.set_nodelay(true);
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: */*\r\nConnection: close\r\n",
        url.path, url.authority, request.user_agent
    );
    for (name, value) in request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.set_write_timeout(Some(left()?)).map_err(io_error)?;
    stream.write_all(head.as_bytes()).map_err(io_error)?;

    // processing: until the first response byte
    let mut buf = vec![0u8; 8192];
    let mut received: Vec<u8> = Vec::new();
    let mut first_byte = None;
    let head_end = loop {
        stream.set_read_timeout(Some(left()?)).map_err(io_error)?;
        let n = match stream.read(&mut buf) {
            Ok(0) => {
                let now = Instant::now();
                let first = *first_byte.get_or_insert(now);
                phases.processing = first - t2;
                phases.transfer = now - first;
                return Err(closed());
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let now = Instant::now();
                let first = *first_byte.get_or_insert(now);
                phases.processing = first - t2;
                phases.transfer = now - first;
                return Err(io_error(e));
            }
        };
        first_byte.get_or_insert_with(Instant::now);
        received.extend_from_slice(&buf[..n]);
        if let Some(at) = memchr::memmem::find(&received, b"\r\n\r\n") {
            break at + 4;
        }
        if received.len() > MAX_HEAD {
            return Err(FetchError::HeadTooLarge.to_string());
        }
    };
    let t3 = first_byte.expect("a byte arrived");
    phases.processing = t3 - t2;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&received[..head_end]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => {
            phases.transfer = Instant::now() - t3;
            return Err("malformed response head".into());
        }
    }
    let status = response.code.unwrap_or(0);
    exchange.status = status;
    exchange.version = if response.version == Some(0) {
        1.0
    } else {
        1.1
    };
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    exchange.content_length = header("content-length").and_then(|v| v.parse().ok());
    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let location = header("location");
    let no_body = (100..200).contains(&status) || status == 204 || status == 304;

    // transfer: the body
    let mut body = Body {
        stream: &mut stream,
        pending: received[head_end..].to_vec(),
        deadline,
        timeout,
    };
    let result = if no_body {
        Ok(Vec::new())
    } else if chunked {
        body.chunked(request.max_body)
    } else {
        body.plain(exchange.content_length, request.max_body)
    };
    phases.transfer = Instant::now() - t3;
    exchange.body = result?;
    let redirect = (300..400).contains(&status) && location.is_some();
    Ok(redirect.then(|| location.unwrap_or_default()))
}

/// The rest of a response body: bytes already read, then the socket.
struct Body<'a> {
    stream: &'a mut TcpStream,
    pending: Vec<u8>,
    deadline: Instant,
    timeout: Duration,
}

impl Body<'_> {
    /// Up to `want` more bytes into `pending`; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(self.timeout));
        }
        self.stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 16 * 1024];
        loop {
            return match self.stream.read(&mut buf) {
                Ok(0) => Ok(false),
                Ok(n) => {
                    self.pending.extend_from_slice(&buf[..n]);
                    Ok(true)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                    Err(timed_out(self.timeout))
                }
                Err(e) => Err(e.to_string()),
            };
        }
    }

    fn too_large(cap: u64) -> String {
        FetchError::BodyTooLarge { cap, status: 0 }.to_string()
    }

    /// A Content-Length body, or one that ends when the connection does.
    fn plain(&mut self, length: Option<u64>, cap: u64) -> Result<Vec<u8>, String> {
        if length.is_some_and(|n| n > cap) {
            return Err(Body::too_large(cap));
        }
        loop {
            if length.is_some_and(|n| self.pending.len() as u64 >= n) {
                self.pending.truncate(length.unwrap_or_default() as usize);
                return Ok(std::mem::take(&mut self.pending));
            }
            if self.pending.len() as u64 > cap {
                return Err(Body::too_large(cap));
            }
            if !self.fill()? {
                return match length {
                    Some(_) => Err(closed()),
                    None => Ok(std::mem::take(&mut self.pending)),
                };
            }
        }
    }

    /// `Transfer-Encoding: chunked`: size lines, data, to the 0 chunk.
    fn chunked(&mut self, cap: u64) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = loop {
                if let Some(i) = memchr::memmem::find(&self.pending[at..], b"\r\n") {
                    break at + i;
                }
                if self.pending.len() - at > 1024 || !self.fill()? {
                    return Err("malformed chunked body".into());
                }
            };
            let size_text = String::from_utf8_lossy(&self.pending[at..line_end]);
            let size_text = size_text.split(';').next().unwrap_or_default().trim();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| "malformed chunked body".to_string())?;
            if body.len() as u64 + size > cap {
                return Err(Body::too_large(cap));
            }
            let data_start = line_end + 2;
            let data_end = data_start + size as usize;
            while self.pending.len() < data_end + 2 {
                if !self.fill()? {
                    return Err(closed());
                }
            }
            if size == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&self.pending[data_start..data_end]);
            at = data_end + 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_path() {
        let u = parse_url("http://127.0.0.1:8080/a/b?c=1").unwrap();
        assert_eq!(
            (u.host, u.port, u.authority, u.path),
            ("127.0.0.1", 8080, "127.0.0.1:8080", "/a/b?c=1")
        );
        let u = parse_url("http://[::1]:9/").unwrap();
        assert_eq!((u.host, u.port), ("::1", 9));
        let u = parse_url("http://example").unwrap();
        assert_eq!((u.host, u.port, u.path), ("example", 80, "/"));
        assert!(parse_url("https://x/").is_err());
        assert_eq!(
            resolve_location("http://127.0.0.1:1/a", "/b").as_deref(),
            Some("http://127.0.0.1:1/b")
        );
        assert_eq!(resolve_location("http://x/", "//evil/"), None);
    }
}
