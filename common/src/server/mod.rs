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

mod sockets;
mod wire;

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

pub const TEXT: &str = "text/plain; charset=utf-8";
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A parsed request head. The body, if any, is never read.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: body.into().into_bytes(),
        }
    }
}

/// What a program serves.
pub trait Handler: Send + Sync + 'static {
    /// The paths answered; any other gets 404, any method but GET and HEAD 405.
    fn paths(&self) -> &[&'static str];
    /// Called on the socket thread, so it must not block: return the answer,
    /// or take `defer.later()`, return None, and answer from another thread.
    fn handle(&self, request: &Request, defer: &mut Defer) -> Option<Response>;
}

/// Where a handler takes its `Later` when it cannot answer at once.
pub struct Defer(Option<Later>);

impl Defer {
    pub fn later(&mut self) -> Later {
        self.0.take().expect("a request is deferred once")
    }
}

/// A promise to answer one request from any thread. Dropped unsent, it
/// answers 500, so no client waits forever on a handler's mistake.
pub struct Later {
    id: u64,
    head_only: bool,
    keep_alive: bool,
    done: Option<Arc<Done>>,
}

impl Later {
    pub fn send(mut self, response: Response) {
        self.deliver(&response);
    }

    fn deliver(&mut self, response: &Response) {
        let Some(done) = self.done.take() else { return };
        let bytes = wire::encode(response, self.head_only, self.keep_alive);
        done.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((self.id, bytes, self.keep_alive));
        // SAFETY: writing one byte from a valid buffer to our own pipe.
        unsafe { libc::write(done.wake.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    }
}

impl Drop for Later {
    fn drop(&mut self) {
        if self.done.is_some() {
            self.deliver(&Response::text(500, "no answer\n"));
        }
    }
}

/// Binds `:PORT` (all addresses, IPv6 and IPv4), `HOST:PORT` or `[v6]:PORT`.
pub fn bind(spec: &str) -> Result<TcpListener, String> {
    let fail = |e: io::Error| format!("cannot listen on '{spec}': {e}");
    if let Some(port) = spec.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("'{spec}' is not :PORT, HOST:PORT or [V6]:PORT"))?;
        // [::] also takes IPv4 on Linux; fall back where IPv6 is disabled.
        return TcpListener::bind(("::", port))
            .or_else(|_| TcpListener::bind(("0.0.0.0", port)))
            .map_err(fail);
    }
    let addrs: Vec<SocketAddr> = spec
        .to_socket_addrs()
        .map_err(|_| format!("'{spec}' is not :PORT, HOST:PORT or [V6]:PORT"))?
        .collect();
    TcpListener::bind(&addrs[..]).map_err(fail)
}

/// Binds `spec` (see `bind`) and serves `handler` on a background thread;
/// returns the address bound, for the log.
pub fn start(spec: &str, handler: Arc<dyn Handler>) -> Result<String, String> {
    let listener = bind(spec)?;
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    spawn(listener, handler).map_err(|e| format!("cannot serve on '{spec}': {e}"))?;
    Ok(addr)
}

/// What every exporter serves: `/metrics` from `render`, `/healthz`, and a
/// short index at `/`.
pub struct MetricsEndpoint<F> {
    pub index: &'static str,
    pub render: F,
}

impl<F: Fn() -> String + Send + Sync + 'static> Handler for MetricsEndpoint<F> {
    fn paths(&self) -> &[&'static str] {
        &["/", "/metrics", "/healthz"]
    }

    fn handle(&self, request: &Request, _: &mut Defer) -> Option<Response> {
        Some(match request.path.as_str() {
            "/metrics" => metrics_response((self.render)()),
            "/healthz" => Response::text(200, "ok\n"),
            _ => Response::text(200, self.index),
        })
    }
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
pub fn spawn(listener: TcpListener, handler: Arc<dyn Handler>) -> io::Result<()> {
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

/// Answers sent through `Later`, waiting for the socket thread to write them.
struct Done {
    answers: Mutex<Vec<(u64, Vec<u8>, bool)>>,
    wake: OwnedFd,
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
    use super::bind;

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
        for bad in ["", ":", ":http", "9100", "host", "[::1]", "127.0.0.1:99999"] {
            let err = bind(bad).unwrap_err();
            assert!(
                err.contains("is not :PORT, HOST:PORT or [V6]:PORT"),
                "{bad}: {err}"
            );
        }
        let taken = bind("127.0.0.1:0").unwrap();
        let again = bind(&taken.local_addr().unwrap().to_string()).unwrap_err();
        assert!(again.starts_with("cannot listen on"), "{again}");
    }
}
