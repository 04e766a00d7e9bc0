//! The small HTTP server every listening program uses, on std's `TcpListener`
//! and `httparse` rather than tiny_http, because probe and metrics ports are
//! reachable from the whole cluster and tiny_http 0.12 falls to hostile
//! clients by construction (it allocates a declared Content-Length on drop,
//! sets no socket timeouts and spawns a thread per keep-alive connection).
//!
//! One thread owns every socket and polls them non-blocking: slow, idle or
//! malformed clients cost a slot in a bounded table, never a thread, so they
//! cannot delay a well-behaved request. Heads are capped at 8 KiB and must
//! arrive within 10 s; bodies are never read (a request that has one is
//! answered and closed); at most 512 connections are kept, and a new one
//! evicts the oldest idle one when the table is full. An answer that takes
//! time (a check, a probe) is not computed on the socket thread: the handler
//! keeps a `Later` and sends through it from its own thread, so any number
//! of waiting requests can share one run and cost no thread each.

mod handler;
mod shared_run;
mod sockets;
mod wire;

pub use handler::{Defer, Handler, Later};
pub use shared_run::SharedRun;
pub use wire::{Request, Response, TEXT};

use crate::log::{self, Field};
use handler::Done;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Connections the kernel queues before the server accepts them.
const LISTEN_BACKLOG: i32 = 4096;

pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A `--listen`/`--serve` address, checked with the other options:
/// `:PORT` (every address, IPv6 and IPv4, as the kubelet probes the Pod IP),
/// `HOST:PORT` or `[V6]:PORT`. A host name is looked up when binding.
#[derive(Clone, Debug, PartialEq)]
pub struct ListenAddr {
    /// None for every address.
    host: Option<String>,
    port: u16,
}

impl ListenAddr {
    pub fn parse(spec: &str) -> Result<ListenAddr, String> {
        let bad = || format!("'{spec}' is not :PORT, HOST:PORT or [V6]:PORT");
        let (host, port) = spec.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = match host {
            "" => None,
            _ if host.starts_with('[') => {
                let inner = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .ok_or_else(bad)?;
                inner.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
                Some(host.to_string())
            }
            _ if host.contains(':') || host.contains(char::is_whitespace) => return Err(bad()),
            _ => Some(host.to_string()),
        };
        Ok(ListenAddr { host, port })
    }

    fn bind(&self) -> io::Result<TcpListener> {
        match &self.host {
            // [::] also takes IPv4 on Linux; fall back where IPv6 is disabled.
            None => TcpListener::bind(("::", self.port))
                .or_else(|_| TcpListener::bind(("0.0.0.0", self.port))),
            Some(host) => {
                let addrs: Vec<SocketAddr> = (format!("{host}:{}", self.port))
                    .to_socket_addrs()?
                    .collect();
                TcpListener::bind(&addrs[..])
            }
        }
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}:{}", self.host.as_deref().unwrap_or(""), self.port)
    }
}

/// A bound listening socket, not yet served: programs bind before they
/// start any worker, so a taken port fails at once and nothing half-runs.
pub struct Bound {
    listener: TcpListener,
    pub addr: String,
}

/// Binds `addr` with a listen backlog fit for bursts. The caller says
/// what a failure means (the side-cars: `cli::Program::bind`).
pub fn bind(addr: &ListenAddr) -> io::Result<Bound> {
    let listener = addr.bind()?;
    // std listens with a backlog of 128: a burst of connections (a flood,
    // hundreds of idle clients) overflows it, the kernel drops SYNs, and a
    // well-behaved probe waits out a 1 s retransmission. Listening again
    // raises the backlog (to the kernel's somaxconn at most).
    // SAFETY: listen on a socket we own.
    unsafe { libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG) };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    Ok(Bound { listener, addr })
}

impl Bound {
    /// Serves `handler` on a background thread and logs `serving` with the
    /// address and `fields`.
    pub fn serve(self, handler: Arc<dyn Handler>, fields: &[Field]) -> io::Result<()> {
        let addr = self.addr;
        spawn(self.listener, handler)?;
        let mut all: Vec<Field> = vec![("addr", &addr)];
        all.extend_from_slice(fields);
        log::info("serving", &all);
        Ok(())
    }
}

/// What every exporter serves: `/metrics`, `/healthz`, and a short index
/// at `/`. The text is rendered at each scrape, or, for an exporter that
/// probes on each scrape, comes from a run shared by concurrent scrapes
/// and bounded by Prometheus's scrape timeout.
pub struct MetricsEndpoint {
    pub index: &'static str,
    pub source: Metrics,
}

pub enum Metrics {
    Render(Box<dyn Fn() -> String + Send + Sync>),
    Shared(SharedRun<String>),
}

impl MetricsEndpoint {
    pub fn rendered(
        index: &'static str,
        render: impl Fn() -> String + Send + Sync + 'static,
    ) -> MetricsEndpoint {
        MetricsEndpoint {
            index,
            source: Metrics::Render(Box::new(render)),
        }
    }
}

impl Handler for MetricsEndpoint {
    fn paths(&self) -> &[&'static str] {
        &["/", "/metrics", "/healthz"]
    }

    fn handle(&self, request: &Request, defer: &mut Defer) -> Option<Response> {
        Some(match (request.path.as_str(), &self.source) {
            ("/metrics", Metrics::Render(render)) => metrics_response(render()),
            ("/metrics", Metrics::Shared(run)) => {
                run.ask(defer.later(), scrape_deadline(request));
                return None;
            }
            ("/healthz", _) => Response::text(200, "ok\n"),
            _ => Response::text(200, self.index),
        })
    }
}

/// When Prometheus gives up on this scrape, less a tenth of its budget to
/// receive the answer (`X-Prometheus-Scrape-Timeout-Seconds`).
fn scrape_deadline(request: &Request) -> Option<Instant> {
    let seconds = request
        .header("X-Prometheus-Scrape-Timeout-Seconds")?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)?;
    Some(Instant::now() + Duration::from_secs_f64((seconds * 0.9).clamp(0.01, 3600.0)))
}

/// A Prometheus text exposition answer.
pub fn metrics_response(text: String) -> Response {
    Response {
        status: 200,
        content_type: PROMETHEUS_TEXT,
        body: text.into_bytes(),
    }
}

/// Starts serving on background threads and returns at once.
fn spawn(listener: TcpListener, handler: Arc<dyn Handler>) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let (wake_read, wake_write) = wake_pipe()?;
    let done = Arc::new(Done {
        answers: Mutex::new(Vec::new()),
        wake: wake_write,
    });
    let mut sockets = sockets::Sockets::new(listener, wake_read, handler, done);
    std::thread::Builder::new()
        .name("http".into())
        .stack_size(256 * 1024)
        .spawn(move || sockets.run())?;
    Ok(())
}

fn wake_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors that we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(test)]
mod tests {
    use super::ListenAddr;

    use proptest::prelude::*;

    /// The server only says what failed; what it means is the caller's.
    #[test]
    fn a_taken_address_is_an_error_to_the_caller() {
        let first = super::bind(&ListenAddr::parse("127.0.0.1:0").unwrap()).unwrap();
        let taken = ListenAddr::parse(&first.addr).unwrap();
        let error = super::bind(&taken).err().expect("the port is taken");
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
        assert!(first.addr.starts_with("127.0.0.1:"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn any_text_is_an_address_or_a_clear_refusal(text in any::<String>()) {
            if let Err(e) = ListenAddr::parse(&text) {
                prop_assert!(e.contains("is not :PORT, HOST:PORT or [V6]:PORT"));
            }
        }

        /// Every documented form is taken, and written back as given.
        #[test]
        fn every_documented_form_is_taken(port: u16, host in "(|127\\.0\\.0\\.1|localhost|\\[::1\\]|\\[fe80::1\\]|0\\.0\\.0\\.0|[a-z][a-z0-9.-]{0,20})") {
            let text = format!("{host}:{port}");
            prop_assert_eq!(ListenAddr::parse(&text).map(|a| a.to_string()), Ok(text));
        }
    }

    fn bind(spec: &str) -> Result<std::net::TcpListener, String> {
        ListenAddr::parse(spec)?.bind().map_err(|e| e.to_string())
    }

    #[test]
    fn listen_addresses_in_every_documented_form() {
        // :PORT is every address: IPv6 and IPv4 both, or IPv4 where IPv6 is off.
        let all = bind(":0").unwrap().local_addr().unwrap();
        assert!(all.ip().is_unspecified(), "{all}");
        assert!(bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .ip()
            .is_loopback());
        assert!(bind("localhost:0").is_ok());
        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            assert!(bind("[::1]:0").unwrap().local_addr().unwrap().is_ipv6());
        }
        assert_eq!(ListenAddr::parse(":9100").unwrap().to_string(), ":9100");
        assert_eq!(
            ListenAddr::parse("[::1]:80").unwrap().to_string(),
            "[::1]:80"
        );
    }

    #[test]
    fn a_bad_address_is_refused_when_parsed_not_when_bound() {
        for bad in [
            "",
            ":",
            ":http",
            "9100",
            "host",
            "[::1]",
            "127.0.0.1:99999",
            "[nope]:80",
            "::1:80",
            "a b:80",
        ] {
            let err = ListenAddr::parse(bad).unwrap_err();
            assert!(
                err.contains("is not :PORT, HOST:PORT or [V6]:PORT"),
                "{bad}: {err}"
            );
        }
    }
}
