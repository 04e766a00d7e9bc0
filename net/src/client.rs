//! The one HTTP/1.1 client every program uses, on std sockets and httparse:
//! a deadline over the whole exchange (name lookup included), a cap on every
//! response head and body, no proxy taken from the environment, redirects
//! only when asked, one fresh connection per request (as the kubelet and the
//! blackbox exporter do, so latency includes connect).
//!
//! Each exchange is timed phase by phase as the blackbox exporter times it:
//! `resolve` (the name lookup; 0 for an IP), `connect` (the TCP connect),
//! `tls` (the handshake, for https://), `processing` (to the first response
//! byte) and `transfer` (first byte to the last body byte), read from one
//! run of consecutive clock readings so that they add up to the duration.
//! Those timings live between socket calls, which is why this is a client
//! of its own and not a library's.

use crate::answer::{Framing, Input, Source};
use crate::error::{FetchError, HeaderError, UrlError, UrlProblem};
use crate::tls::{Tls, TlsInfo, TlsOptions, TlsStream};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub use crate::error::MAX_HEAD;

/// The default body cap (`--max-body`).
pub const DEFAULT_MAX_BODY: u64 = 1 << 20;

pub struct Client {
    user_agent: String,
    max_redirects: u32,
    tls: Tls,
}

/// What to send.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: Option<&'a [u8]>,
    /// For the whole exchange: lookup, connect, every hop, the body.
    pub timeout: Duration,
    /// Read the body up to this many bytes; more is an error. `None`: do not
    /// read the body at all (status-only).
    pub max_body: Option<u64>,
}

impl<'a> Request<'a> {
    pub fn get(url: &'a str, timeout: Duration) -> Self {
        Request {
            method: "GET",
            url,
            headers: &[],
            body: None,
            timeout,
            max_body: None,
        }
    }
}

/// What came back.
pub struct Reply {
    pub status: u16,
    /// The final answer's headers, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From just before the lookup to the last body byte read.
    pub elapsed: Duration,
    /// What the handshake saw, when the final answer came over TLS.
    pub tls: Option<TlsInfo>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Phases {
    pub resolve: Duration,
    pub connect: Duration,
    /// The TLS handshake; 0 over plain HTTP.
    pub tls: Duration,
    pub processing: Duration,
    pub transfer: Duration,
}

impl Phases {
    pub fn total(&self) -> Duration {
        self.resolve + self.connect + self.tls + self.processing + self.transfer
    }

    fn add(&mut self, other: &Phases) {
        self.resolve += other.resolve;
        self.connect += other.connect;
        self.tls += other.tls;
        self.processing += other.processing;
        self.transfer += other.transfer;
    }
}

/// What one exchange saw, also when it failed part way: the phases are
/// summed over the redirects followed, the rest is the last hop's.
#[derive(Debug, Default)]
pub struct Exchange {
    pub phases: Phases,
    /// The address connected to.
    pub ip: Option<IpAddr>,
    /// 0 when no response arrived.
    pub status: u16,
    /// 1.0 or 1.1.
    pub version: f64,
    /// The Content-Length header; None when absent.
    pub content_length: Option<u64>,
    /// The final answer's headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body bytes received (kept up to the cap).
    pub body: Vec<u8>,
    pub redirects: u32,
    /// What the last hop's handshake saw; None over plain HTTP.
    pub tls: Option<TlsInfo>,
    pub error: Option<FetchError>,
}

impl Client {
    /// `user_agent` is sent on every request, e.g. `ready-check/0.1.0`;
    /// up to `max_redirects` are followed (0: a 3xx is the answer).
    pub fn new(user_agent: &str, max_redirects: u32) -> Client {
        Client {
            user_agent: user_agent.to_string(),
            max_redirects,
            tls: Tls::new(TlsOptions::default()),
        }
    }

    /// The TLS flags for https:// URLs (without: verification against the
    /// built-in roots or SSL_CERT_FILE / SSL_CERT_DIR).
    pub fn with_tls(mut self, options: TlsOptions) -> Client {
        self.tls = Tls::new(options);
        self
    }

    pub fn fetch(&self, request: &Request) -> Result<Reply, FetchError> {
        let started = Instant::now();
        let exchange = self.exchange(request);
        match exchange.error {
            Some(error) => Err(error),
            None => Ok(Reply {
                status: exchange.status,
                headers: exchange.headers,
                body: exchange.body,
                elapsed: started.elapsed(),
                tls: exchange.tls,
            }),
        }
    }

    /// Sends the request, following up to `max_redirects` redirects; what
    /// was seen comes back also on failure, with the phases.
    pub fn exchange(&self, request: &Request) -> Exchange {
        let deadline = Instant::now() + request.timeout;
        let mut exchange = Exchange::default();
        let mut url = request.url.to_string();
        let mut method = request.method;
        let mut body = request.body;
        loop {
            let mut hop = Phases::default();
            let sent = Sent {
                method,
                body,
                ..Sent::from(request)
            };
            let result = self.one(&sent, &url, deadline, &mut hop, &mut exchange);
            exchange.phases.add(&hop);
            match result {
                Err(error) => {
                    exchange.error = Some(error);
                    return exchange;
                }
                Ok(Some(location)) if exchange.redirects < self.max_redirects => {
                    exchange.redirects += 1;
                    url = match resolve_location(&url, &location) {
                        Some(next) => next,
                        None => {
                            exchange.error = Some(FetchError::BadRedirect(location));
                            return exchange;
                        }
                    };
                    // As browsers and Go's client do: 303 always, and 301 and
                    // 302 after a POST, go on as a GET without the body.
                    let status = exchange.status;
                    if status == 303 || (matches!(status, 301 | 302) && method == "POST") {
                        method = if method == "HEAD" { "HEAD" } else { "GET" };
                        body = None;
                    }
                }
                Ok(Some(_)) if self.max_redirects > 0 => {
                    exchange.error = Some(FetchError::TooManyRedirects(self.max_redirects));
                    return exchange;
                }
                Ok(_) => return exchange,
            }
        }
    }

    /// A TCP connect to `HOST:PORT` and a TLS handshake, nothing sent
    /// after it: latency-exporter's `tls://` probes (blackbox's tcp module
    /// with `tls: true`), for services that are not HTTP.
    pub fn handshake(&self, address: &str, timeout: Duration) -> Exchange {
        let deadline = Instant::now() + timeout;
        let mut exchange = Exchange::default();
        let mut phases = Phases::default();
        let result = (|| {
            let text = format!("https://{address}/");
            let url = parse_url(&text).map_err(FetchError::BadUrl)?;
            let (socket, connect_end) = connect(
                url.host,
                url.port,
                deadline,
                timeout,
                &mut phases,
                &mut exchange,
            )?;
            let handshake = self.tls.handshake(socket, url.host, deadline, timeout);
            phases.tls = connect_end.elapsed();
            let (_, info) = handshake.map_err(|e| FetchError::Tls(Box::new(e)))?;
            exchange.tls = Some(info);
            Ok(())
        })();
        exchange.phases = phases;
        exchange.error = result.err();
        exchange
    }

    /// One hop: Ok(Some(location)) for a redirect answer with a Location.
    fn one(
        &self,
        request: &Sent,
        url: &str,
        deadline: Instant,
        phases: &mut Phases,
        exchange: &mut Exchange,
    ) -> Result<Option<String>, FetchError> {
        let url = parse_url(url).map_err(FetchError::BadUrl)?;
        let timeout = request.timeout;
        let left = || {
            let left = deadline.saturating_duration_since(Instant::now());
            (!left.is_zero())
                .then_some(left)
                .ok_or(FetchError::TimedOut(timeout))
        };
        let (socket, connect_end) =
            connect(url.host, url.port, deadline, timeout, phases, exchange)?;
        exchange.tls = None;
        let mut stream = match url.https {
            false => Connection::Plain(socket),
            true => {
                let handshake = self.tls.handshake(socket, url.host, deadline, timeout);
                phases.tls = connect_end.elapsed();
                let (stream, info) = handshake.map_err(|e| FetchError::Tls(Box::new(e)))?;
                exchange.tls = Some(info);
                Connection::Tls(Box::new(stream))
            }
        };
        let t2 = Instant::now();
        let head = self.head(request, &url);
        let written = (|| {
            stream
                .socket()
                .set_write_timeout(Some(left()?))
                .map_err(io_error)?;
            stream.write_all(&head).map_err(io_error)?;
            if let Some(body) = request.body {
                stream.write_all(body).map_err(io_error)?;
            }
            stream.flush().map_err(io_error)
        })();
        written.map_err(|e| match e {
            FetchError::TimedOut(_) => FetchError::TimedOut(timeout),
            other => other,
        })?;

        // processing: until the first response byte; transfer: to the last.
        let mut input = Input::new(Timed {
            stream: &mut stream,
            deadline,
            timeout,
        });
        let head_request = request.method.eq_ignore_ascii_case("HEAD");
        let read = input.head(head_request).and_then(|mut head| {
            exchange.status = head.status;
            exchange.version = if head.minor_version == 0 { 1.0 } else { 1.1 };
            exchange.content_length = head.content_length;
            // Moved, not copied: every probe pays for this.
            exchange.headers = std::mem::take(&mut head.headers);
            let body = match request.max_body {
                // Status only: the head is the answer.
                None => Ok(Vec::new()),
                Some(_) if head.framing == Framing::None => Ok(Vec::new()),
                Some(cap) => input.body(&head, cap),
            };
            body.map(|body| (head, body))
        });
        let now = Instant::now();
        let first = input.first_byte.unwrap_or(now);
        phases.processing = first - t2;
        phases.transfer = now - first;
        let (head, body) = read?;
        exchange.body = body;
        let redirect = matches!(head.status, 301 | 302 | 303 | 307 | 308);
        Ok(head.location.filter(|_| redirect))
    }

    /// The request head: ours, then the caller's headers, which replace a
    /// default of the same name.
    fn head(&self, request: &Sent, url: &Url) -> Vec<u8> {
        let given = |name: &str| {
            request
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let mut head = format!("{} {} HTTP/1.1\r\n", request.method, url.path);
        for (name, value) in [
            ("Host", url.authority),
            ("User-Agent", self.user_agent.as_str()),
            ("Accept", "*/*"),
        ] {
            if !given(name) {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str("Connection: close\r\n");
        if let Some(body) = request.body {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        for (name, value) in request.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// A request as one hop sends it (a redirect may change the method).
struct Sent<'a> {
    method: &'a str,
    body: Option<&'a [u8]>,
    headers: &'a [(String, String)],
    timeout: Duration,
    max_body: Option<u64>,
}

impl<'a> From<&Request<'a>> for Sent<'a> {
    fn from(request: &Request<'a>) -> Sent<'a> {
        Sent {
            method: request.method,
            body: request.body,
            headers: request.headers,
            timeout: request.timeout,
            max_body: request.max_body,
        }
    }
}

/// Resolves `host` and connects to its addresses in turn within the
/// deadline, timing `resolve` and `connect`; returns the socket and when
/// the connect ended.
fn connect(
    host: &str,
    port: u16,
    deadline: Instant,
    timeout: Duration,
    phases: &mut Phases,
    exchange: &mut Exchange,
) -> Result<(TcpStream, Instant), FetchError> {
    let left = || {
        let left = deadline.saturating_duration_since(Instant::now());
        (!left.is_zero())
            .then_some(left)
            .ok_or(FetchError::TimedOut(timeout))
    };
    // resolve: no lookup, and no time, for an IP
    let t0 = Instant::now();
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => lookup(host, port, left()?, timeout)?,
    };
    let t1 = if addrs.len() == 1 && host.parse::<IpAddr>().is_ok() {
        t0
    } else {
        Instant::now()
    };
    phases.resolve = t1 - t0;
    // connect: each address in turn ("localhost" may be ::1 first)
    let mut connected = Err(FetchError::HostNotFound);
    for addr in addrs {
        exchange.ip = Some(addr.ip());
        connected = TcpStream::connect_timeout(&addr, left()?).map_err(|e| match e.kind() {
            ErrorKind::ConnectionRefused => FetchError::Refused,
            ErrorKind::TimedOut | ErrorKind::WouldBlock => FetchError::TimedOut(timeout),
            _ => FetchError::from(e),
        });
        if connected.is_ok() {
            break;
        }
    }
    let connect_end = Instant::now();
    phases.connect = connect_end - t1;
    let socket = connected?;
    let _ = socket.set_nodelay(true);
    Ok((socket, connect_end))
}

/// A name looked up within `left`: getaddrinfo has no timeout of its own,
/// so it runs in a thread that is left behind if the resolver hangs.
fn lookup(
    host: &str,
    port: u16,
    left: Duration,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, FetchError> {
    let (send, receive) = std::sync::mpsc::channel();
    let host = host.to_string();
    let spawned = std::thread::Builder::new()
        .name("lookup".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let found = (host.as_str(), port)
                .to_socket_addrs()
                .map(|addrs| addrs.collect::<Vec<_>>());
            let _ = send.send(found);
        });
    if spawned.is_err() {
        return Err(FetchError::NoLookup);
    }
    match receive.recv_timeout(left) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(_) => Err(FetchError::HostNotFound),
        Err(_) => Err(FetchError::TimedOut(timeout)),
    }
}

/// The parts of an http:// or https:// URL.
struct Url<'a> {
    https: bool,
    host: &'a str,
    port: u16,
    /// Host and port as the Host header carries them.
    authority: &'a str,
    /// Path and query, as the request line carries them.
    path: String,
}

fn parse_url(url: &str) -> Result<Url<'_>, UrlError> {
    let error = |problem| UrlError {
        url: url.to_string(),
        problem,
    };
    let (https, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(rest), _) => (false, rest),
        (_, Some(rest)) => (true, rest),
        _ => return Err(error(UrlProblem::NotHttp)),
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err(error(UrlProblem::UserInfo));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| error(UrlProblem::UnclosedBracket))?;
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| error(UrlProblem::NotIpv6(host.to_string())))?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| error(UrlProblem::Invalid))?,
                ),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(error(UrlProblem::NoHost));
    }
    let valid_host = |c: char| c.is_ascii_alphanumeric() || "-._:%".contains(c);
    if !host.chars().all(valid_host) {
        return Err(error(UrlProblem::Invalid));
    }
    let port = match port {
        Some(p) => p
            .parse()
            .map_err(|_| error(UrlProblem::BadPort(p.to_string())))?,
        None if https => 443,
        None => 80,
    };
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(error(UrlProblem::Invalid));
    }
    Ok(Url {
        https,
        host,
        port,
        authority,
        // A query with an empty path goes to "/?query".
        path: if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        },
    })
}

/// A Location header made absolute against the URL it answered.
fn resolve_location(base: &str, location: &str) -> Option<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return parse_url(location).is_ok().then(|| location.to_string());
    }
    let url = parse_url(base).ok()?;
    let scheme = if url.https { "https" } else { "http" };
    let next = if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{}{location}", url.authority)
    } else if location.contains("://") {
        // Another scheme: not followed.
        return None;
    } else {
        let path = url.path.split('?').next().unwrap_or("/");
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{scheme}://{}{dir}{location}", url.authority)
    };
    parse_url(&next).is_ok().then_some(next)
}

/// An I/O failure on the connection as the line a user reads.
fn io_error(e: std::io::Error) -> FetchError {
    if let Some(line) = crate::tls::after_handshake(&e) {
        return FetchError::Tls(Box::new(crate::tls::TlsError::AfterHandshake(line)));
    }
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => FetchError::TimedOut(Duration::ZERO),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            FetchError::Reset
        }
        _ => FetchError::from(e),
    }
}

/// The connection as an answer's source: each read bounded by what is left
/// of the request's deadline.
struct Timed<'a> {
    stream: &'a mut Connection,
    deadline: Instant,
    timeout: Duration,
}

impl Source for Timed<'_> {
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        let timed_out = FetchError::TimedOut(self.timeout);
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out);
        }
        self.stream
            .socket()
            .set_read_timeout(Some(left))
            .map_err(io_error)?;
        loop {
            return match self.stream.read(buf) {
                Ok(n) => Ok(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => match io_error(e) {
                    FetchError::TimedOut(_) => Err(timed_out),
                    other => Err(other),
                },
            };
        }
    }
}

/// A connected socket, with TLS over it for https://.
enum Connection {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Connection {
    /// The socket, for its timeouts.
    fn socket(&self) -> &TcpStream {
        match self {
            Connection::Plain(socket) => socket,
            Connection::Tls(stream) => &stream.sock,
        }
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Connection::Plain(socket) => socket.read(buf),
            // A server that closes without close_notify ends the body, as
            // it does for curl and browsers; a Content-Length still says
            // whether the body was whole.
            Connection::Tls(stream) => match stream.read(buf) {
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(0),
                read => read,
            },
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Connection::Plain(socket) => socket.write(buf),
            Connection::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Connection::Plain(socket) => socket.flush(),
            Connection::Tls(stream) => stream.flush(),
        }
    }
}

/// Checks a URL at start-up, so a typo is a usage error and not a failing probe.
pub fn check_url(url: &str) -> Result<(), UrlError> {
    if !url.contains("://") {
        return Err(UrlError {
            url: url.to_string(),
            problem: UrlProblem::NoScheme,
        });
    }
    parse_url(url).map(drop)
}

/// Parses `Name: value` as given to `--header`.
pub fn parse_header(text: &str) -> Result<(String, String), HeaderError> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| HeaderError::NoColon(text.to_string()))?;
    let name = name.trim();
    // RFC 9110 token characters.
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(HeaderError::BadName(name.to_string()));
    }
    let value = value.trim();
    if value
        .chars()
        .any(|c| (c.is_ascii_control() && c != '\t') || !c.is_ascii())
    {
        return Err(HeaderError::BadValue(value.to_string()));
    }
    Ok((name.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn any_header_text_is_taken_or_refused_clearly(text in any::<String>()) {
            if let Err(e) = parse_header(&text) {
                prop_assert!(e.to_string().contains("is not"), "{}", e);
            }
        }

        #[test]
        fn name_colon_value_is_taken_trimmed(name in "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}", value in "[!-~]([ -~]{0,40}[!-~])?", pad in " {0,3}") {
            let text = format!("{pad}{name}{pad}:{pad}{value}{pad}");
            prop_assert_eq!(parse_header(&text), Ok((name, value)));
        }

        /// A Location of any text: followed to an http(s) URL that parses,
        /// or refused; never another scheme, never a panic.
        #[test]
        fn any_location_is_followed_or_refused(
            base in prop_oneof![Just("http://127.0.0.1:1/a/b?q"), Just("https://[::1]:8443/"), Just("http://h")],
            location in prop_oneof![
                any::<String>(),
                "(https?:|ftp:|file:|javascript:)?(//)?[a-z0-9.:@\\[\\]%/?#-]{0,30}",
                "[./]{0,6}[ -~]{0,20}",
            ],
        ) {
            if let Some(next) = resolve_location(base, &location) {
                prop_assert!(next.starts_with("http://") || next.starts_with("https://"), "{}", next);
                prop_assert!(parse_url(&next).is_ok(), "{}", next);
            }
        }

        #[test]
        fn any_url_text_is_taken_or_refused_clearly(text in "http://[ -~]{0,30}") {
            if let Err(e) = check_url(&text) {
                prop_assert!(e.to_string().starts_with('\''), "{}", e);
            }
        }
    }

    #[test]
    fn urls() {
        assert!(check_url("http://127.0.0.1:8080/known-value").is_ok());
        assert!(check_url("http://[::1]:8080/").is_ok());
        assert!(check_url("http://example").is_ok());
        assert!(check_url("https://example/").is_ok());
        assert_eq!(
            check_url("127.0.0.1:18080/").unwrap_err().to_string(),
            "'127.0.0.1:18080/' has no scheme: add http:// (http://127.0.0.1:18080/)"
        );
        assert!(check_url("ftp://x/").is_err());
        assert!(check_url("http:// bad").is_err());
        assert!(check_url("http://").is_err());
        assert!(check_url("http://x:99999/").is_err());
        assert!(check_url("http://[::1/").is_err());
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        let u = parse_url("http://127.0.0.1:8080/a/b?c=1").unwrap();
        assert_eq!(
            (u.host, u.port, u.authority, u.path.as_str()),
            ("127.0.0.1", 8080, "127.0.0.1:8080", "/a/b?c=1")
        );
        let u = parse_url("http://[::1]:9/").unwrap();
        assert_eq!((u.host, u.port), ("::1", 9));
        let u = parse_url("http://example").unwrap();
        assert_eq!((u.host, u.port, u.path.as_str()), ("example", 80, "/"));
        let u = parse_url("https://x/").unwrap();
        assert_eq!((u.https, u.port), (true, 443));
        let u = parse_url("https://x:8443").unwrap();
        assert_eq!((u.https, u.port, u.path.as_str()), (true, 8443, "/"));
    }

    #[test]
    fn redirects_resolve_against_the_url_they_answer() {
        let base = "http://127.0.0.1:1/a/b?q";
        for (location, next) in [
            ("/c", Some("http://127.0.0.1:1/c")),
            ("c", Some("http://127.0.0.1:1/a/c")),
            ("//other:2/d", Some("http://other:2/d")),
            ("http://x/y", Some("http://x/y")),
            ("https://x/y", Some("https://x/y")),
            ("ftp://x/y", None),
        ] {
            assert_eq!(
                resolve_location(base, location).as_deref(),
                next,
                "{location}"
            );
        }
        // Relative locations keep the scheme they answered on.
        assert_eq!(
            resolve_location("https://h:1/a/b", "c").as_deref(),
            Some("https://h:1/a/c")
        );
        assert_eq!(
            resolve_location("https://h:1/a", "//o/p").as_deref(),
            Some("https://o/p")
        );
    }

    /// A server on 127.0.0.1 that answers each connection with the next of
    /// `answers` and hands back each request it read (head and body).
    fn server(answers: Vec<String>) -> (u16, std::sync::mpsc::Receiver<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for answer in answers {
                let (mut stream, _) = listener.accept().unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = stream.read(&mut buf).unwrap();
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .map_or(0, |n| n.parse::<usize>().unwrap());
                        if got.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                send.send(String::from_utf8_lossy(&got).to_string())
                    .unwrap();
                stream.write_all(answer.as_bytes()).unwrap();
            }
        });
        (port, receive)
    }

    #[test]
    fn a_303_after_a_post_goes_on_as_a_get_and_a_307_keeps_the_method() {
        let (port, requests) = server(vec![
            "HTTP/1.1 303 See Other\r\nLocation: /then\r\nContent-Length: 0\r\n\r\n".into(),
            "HTTP/1.1 307 Temporary\r\nLocation: again\r\nContent-Length: 0\r\n\r\n".into(),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                .into(),
        ]);
        let url = format!("http://127.0.0.1:{port}/first");
        let headers = [("User-Agent".to_string(), "mine".to_string())];
        let reply = Client::new("default/1", 5)
            .fetch(&Request {
                method: "POST",
                headers: &headers,
                body: Some(b"payload"),
                max_body: Some(100),
                ..Request::get(&url, Duration::from_secs(5))
            })
            .unwrap();
        assert_eq!((reply.status, reply.body.as_slice()), (200, &b"abcde"[..]));
        let first = requests.recv().unwrap();
        assert!(first.starts_with("POST /first HTTP/1.1\r\n"), "{first}");
        assert!(first.ends_with("\r\n\r\npayload") && first.contains("User-Agent: mine\r\n"));
        assert!(!first.contains("default/1"), "{first}");
        let second = requests.recv().unwrap();
        assert!(
            second.starts_with("GET /then HTTP/1.1\r\n") && second.ends_with("\r\n\r\n"),
            "{second}"
        );
        // 307 keeps the method; a GET has no body to keep.
        let third = requests.recv().unwrap();
        assert!(third.starts_with("GET /again HTTP/1.1\r\n"), "{third}");
    }

    #[test]
    fn a_name_is_looked_up_and_each_address_tried_within_the_deadline() {
        let (port, _requests) = server(vec!["HTTP/1.1 204 No Content\r\n\r\n".into()]);
        // localhost may come back as ::1 first; the server is on 127.0.0.1.
        let url = format!("http://localhost:{port}/");
        let exchange = Client::new("t", 0).exchange(&Request::get(&url, Duration::from_secs(5)));
        assert_eq!((exchange.status, exchange.error), (204, None));
        assert_eq!(exchange.ip, Some(IpAddr::from([127, 0, 0, 1])));
    }

    #[test]
    fn a_head_answer_has_no_body_whatever_its_length_says() {
        let (port, _requests) = server(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".into()
        ]);
        let url = format!("http://127.0.0.1:{port}/");
        let reply = Client::new("t", 0)
            .fetch(&Request {
                method: "HEAD",
                max_body: Some(10),
                ..Request::get(&url, Duration::from_secs(5))
            })
            .unwrap();
        // Waiting for the 1000 bytes would end in a timeout, not in this.
        assert_eq!((reply.status, reply.body.len()), (200, 0));
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("X-Token: abc def"),
            Ok(("X-Token".into(), "abc def".into()))
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header("X: a\r\nInjected: b").is_err());
    }
}
