//! The HTTP client every program uses: plain HTTP to the Pod's own loopback,
//! a timeout on every request, a cap on every body, no proxy taken from the
//! environment, redirects only when asked, one fresh connection per request
//! (as the kubelet and the blackbox exporter do, so latency includes connect).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

pub use ureq::http;

/// The default body cap (`--max-body`).
pub const DEFAULT_MAX_BODY: u64 = 1 << 20;

pub struct Client {
    agent: ureq::Agent,
}

/// What to send.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: Option<&'a [u8]>,
    pub timeout: Duration,
    /// Read the body up to this many bytes; more is an error. `None`: do not
    /// read the body at all (status-only checks).
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
    pub body: Vec<u8>,
    /// From just before connecting to the last body byte read.
    pub elapsed: Duration,
}

/// The longest response head read.
pub const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, PartialEq)]
pub enum FetchError {
    Refused,
    TimedOut(Duration),
    HostNotFound,
    /// The answer's status was fine, its body longer than the cap.
    BodyTooLarge {
        cap: u64,
        status: u16,
    },
    /// The response head was longer than MAX_HEAD.
    HeadTooLarge,
    Closed,
    Reset,
    Other(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Refused => f.write_str("connection refused"),
            FetchError::TimedOut(after) => {
                write!(f, "timed out after {}", crate::duration::format(*after))
            }
            FetchError::HostNotFound => f.write_str("host not found"),
            FetchError::BodyTooLarge { cap, .. } => {
                write!(f, "body larger than {cap} bytes (--max-body)")
            }
            FetchError::HeadTooLarge => {
                write!(f, "response head larger than {} KiB", MAX_HEAD / 1024)
            }
            FetchError::Closed => f.write_str("connection closed before a complete response"),
            FetchError::Reset => f.write_str("connection reset by peer"),
            FetchError::Other(msg) => f.write_str(msg),
        }
    }
}

impl Client {
    /// `user_agent` is sent on every request, e.g. `ready-check/0.1.0`;
    /// up to `max_redirects` are followed (0: a 3xx is the answer).
    pub fn new(user_agent: &str, max_redirects: u32) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(max_redirects)
            .max_redirects_will_error(false)
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .user_agent(user_agent)
            .allow_non_standard_methods(true)
            // Every request has a fresh connection and so fresh, zero-filled
            // buffers: ureq's 128 KiB defaults cost more than the request
            // itself. 16 KiB holds any sane response head; 8 KiB the request's.
            // The input buffer has room past the head cap: ureq tells a head
            // over the cap only when it has read more than the cap.
            .input_buffer_size(MAX_HEAD + 4 * 1024)
            .max_response_header_size(MAX_HEAD)
            .output_buffer_size(8 * 1024)
            .build();
        let agent =
            ureq::Agent::with_parts(config, DefaultConnector::new(), LiteralFirst::default());
        Client { agent }
    }

    fn send<B: ureq::AsSendBody>(
        &self,
        builder: http::request::Builder,
        body: B,
        timeout: Duration,
    ) -> Result<(Instant, Result<http::Response<ureq::Body>, ureq::Error>), FetchError> {
        let request = builder
            .body(body)
            .map_err(|e| FetchError::Other(e.to_string()))?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(timeout))
            .build();
        Ok((Instant::now(), self.agent.run(request)))
    }

    pub fn fetch(&self, req: &Request) -> Result<Reply, FetchError> {
        let mut builder = http::Request::builder().method(req.method).uri(req.url);
        for (name, value) in req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        // Without a body, send none: not even `Content-Length: 0` on a GET.
        let (started, sent) = match req.body {
            Some(body) => self.send(builder, body, req.timeout)?,
            None => self.send(builder, (), req.timeout)?,
        };
        let mut response = sent.map_err(|e| classify(e, req.timeout))?;
        let status = response.status().as_u16();
        let body = match req.max_body {
            None => Vec::new(),
            Some(cap) => response
                .body_mut()
                .with_config()
                .limit(cap)
                .read_to_vec()
                .map_err(|e| match classify(e, req.timeout) {
                    FetchError::BodyTooLarge { cap, .. } => {
                        FetchError::BodyTooLarge { cap, status }
                    }
                    other => other,
                })?,
        };
        Ok(Reply {
            status,
            body,
            elapsed: started.elapsed(),
        })
    }
}

/// Resolves IP literals on the spot. ureq's default resolver spawns a thread
/// per lookup whenever a timeout is set, even for `127.0.0.1`, which costs an
/// exec probe more than the request itself; names still go through it.
#[derive(Debug, Default)]
struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        if let Some(authority) = uri.authority() {
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            if let Ok(ip) = host.parse::<IpAddr>() {
                let mut addrs = self.empty();
                addrs.push(SocketAddr::new(ip, authority.port_u16().unwrap_or(80)));
                return Ok(addrs);
            }
        }
        self.0.resolve(uri, config, timeout)
    }
}

fn classify(err: ureq::Error, timeout: Duration) -> FetchError {
    use std::io::ErrorKind;
    match err {
        ureq::Error::Timeout(_) => FetchError::TimedOut(timeout),
        ureq::Error::HostNotFound => FetchError::HostNotFound,
        ureq::Error::LargeResponseHeader(..) => FetchError::HeadTooLarge,
        ureq::Error::BodyExceedsLimit(cap) => FetchError::BodyTooLarge { cap, status: 0 },
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => FetchError::Refused,
            ErrorKind::TimedOut | ErrorKind::WouldBlock => FetchError::TimedOut(timeout),
            ErrorKind::UnexpectedEof => FetchError::Closed,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
                FetchError::Reset
            }
            _ => FetchError::Other(io.to_string()),
        },
        ureq::Error::Protocol(e) => FetchError::Other(format!("malformed HTTP response: {e}")),
        other => FetchError::Other(other.to_string()),
    }
}

/// Checks a URL at start-up, so a typo is a usage error and not a failing probe.
pub fn check_url(url: &str) -> Result<(), String> {
    if !url.contains("://") {
        return Err(format!("'{url}' has no scheme: add http:// (http://{url})"));
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|_| format!("'{url}' is not a valid URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(format!(
                "'{url}': https is not supported (side-cars talk plain HTTP to the Pod's loopback)"
            ))
        }
        _ => return Err(format!("'{url}' is not an http:// URL")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("'{url}' has no host"));
    }
    Ok(())
}

/// Parses `Name: value` as given to `--header`.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}' is not 'Name: value'"))?;
    let name = name.trim();
    http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("'{name}' is not a valid header name"))?;
    let value = value.trim();
    http::HeaderValue::from_str(value)
        .map_err(|_| format!("'{value}' is not a valid header value"))?;
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
                prop_assert!(e.contains("is not"), "{}", e);
            }
        }

        #[test]
        fn name_colon_value_is_taken_trimmed(name in "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}", value in "[!-~]([ -~]{0,40}[!-~])?", pad in " {0,3}") {
            let text = format!("{pad}{name}{pad}:{pad}{value}{pad}");
            prop_assert_eq!(parse_header(&text), Ok((name, value)));
        }
    }

    #[test]
    fn urls() {
        assert!(check_url("http://127.0.0.1:8080/known-value").is_ok());
        assert!(check_url("http://[::1]:8080/").is_ok());
        assert!(check_url("https://example/")
            .unwrap_err()
            .contains("https is not supported"));
        assert_eq!(
            check_url("127.0.0.1:18080/"),
            Err("'127.0.0.1:18080/' has no scheme: add http:// (http://127.0.0.1:18080/)".into())
        );
        assert!(check_url("ftp://x/").is_err());
        assert!(check_url("http:// bad").is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("X-Token: abc def"),
            Ok(("X-Token".into(), "abc def".into()))
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }
}
