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

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const MAX_HEAD_BYTES: usize = 8 * 1024;
pub const MAX_HEADERS: usize = 64;
pub const MAX_CONNECTIONS: usize = 512;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(120);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

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
        let bytes = encode(response, self.head_only, self.keep_alive);
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
    let mut sockets = Sockets {
        listener,
        wake: wake_read,
        conns: Vec::new(),
        next_id: 0,
        handler,
        done,
    };
    std::thread::Builder::new()
        .name("http".into())
        .stack_size(256 * 1024)
        .spawn(move || sockets.run())?;
    Ok(())
}

/// What handling one request head left to do.
enum Step {
    Close,
    /// The head is incomplete: wait for more bytes.
    Wait,
    Answered,
}

fn step(keep: bool) -> Step {
    if keep {
        Step::Answered
    } else {
        Step::Close
    }
}

/// Answers sent through `Later`, waiting for the socket thread to write them.
struct Done {
    answers: Mutex<Vec<(u64, Vec<u8>, bool)>>,
    wake: OwnedFd,
}

enum State {
    Reading,
    /// The handler will answer through `Later`.
    Waiting,
    Writing {
        out: Vec<u8>,
        written: usize,
        keep_alive: bool,
    },
}

struct Conn {
    id: u64,
    stream: TcpStream,
    buf: Vec<u8>,
    state: State,
    deadline: Instant,
    accepted: Instant,
}

struct Sockets {
    listener: TcpListener,
    wake: OwnedFd,
    conns: Vec<Conn>,
    next_id: u64,
    handler: Arc<dyn Handler>,
    done: Arc<Done>,
}

impl Sockets {
    fn run(&mut self) {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        loop {
            let now = Instant::now();
            fds.clear();
            fds.push(pollfd(self.listener.as_raw_fd(), libc::POLLIN));
            fds.push(pollfd(self.wake.as_raw_fd(), libc::POLLIN));
            let mut next_deadline = now + Duration::from_secs(1);
            for conn in &self.conns {
                // A waiting connection is not polled at all (fd -1): a client
                // that hung up would otherwise report POLLHUP in a busy loop.
                let (fd, events) = match conn.state {
                    State::Reading => (conn.stream.as_raw_fd(), libc::POLLIN),
                    State::Writing { .. } => (conn.stream.as_raw_fd(), libc::POLLOUT),
                    State::Waiting => (-1, 0),
                };
                fds.push(pollfd(fd, events));
                if !matches!(conn.state, State::Waiting) {
                    next_deadline = next_deadline.min(conn.deadline);
                }
            }
            let wait_ms = next_deadline.saturating_duration_since(now).as_millis() as i32 + 1;
            // SAFETY: fds is a valid, initialised array of its stated length.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
            if ready < 0 {
                continue; // EINTR
            }
            // Connections first: indexes in `fds` match `conns` before any change.
            let now = Instant::now();
            let mut i = self.conns.len();
            while i > 0 {
                i -= 1;
                let revents = fds[i + 2].revents;
                let keep = if revents != 0 {
                    self.service(i, now)
                } else {
                    matches!(self.conns[i].state, State::Waiting) || now < self.conns[i].deadline
                };
                if !keep {
                    self.conns.swap_remove(i);
                }
            }
            if fds[1].revents != 0 {
                self.collect_answers(now);
            }
            if fds[0].revents != 0 {
                self.accept(now);
            }
        }
    }

    /// Reads or writes one ready connection; false when it should be closed.
    fn service(&mut self, i: usize, now: Instant) -> bool {
        match self.conns[i].state {
            State::Reading => self.read(i, now),
            State::Writing { .. } => {
                write_some(&mut self.conns[i], now) && self.next_pipelined(i, now)
            }
            State::Waiting => true,
        }
    }

    /// After an answer is written on a kept-alive connection, a pipelined
    /// request may already be in the buffer.
    fn next_pipelined(&mut self, i: usize, now: Instant) -> bool {
        let conn = &self.conns[i];
        if matches!(conn.state, State::Reading) && !conn.buf.is_empty() {
            self.parse(i, now)
        } else {
            true
        }
    }

    fn read(&mut self, i: usize, now: Instant) -> bool {
        let conn = &mut self.conns[i];
        let mut chunk = [0u8; 4096];
        loop {
            match conn.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    conn.buf.extend_from_slice(&chunk[..n]);
                    // A short read drained the socket: skip the read that
                    // would only say EAGAIN.
                    if n < chunk.len() || conn.buf.len() > MAX_HEAD_BYTES {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        self.parse(i, now)
    }

    /// Acts on every complete head in the buffer; false when the connection
    /// should be closed. A loop, not recursion: a client may pipeline hundreds.
    fn parse(&mut self, i: usize, now: Instant) -> bool {
        loop {
            match self.parse_one(i, now) {
                Step::Close => return false,
                Step::Wait => return true,
                Step::Answered => {
                    let conn = &self.conns[i];
                    if !matches!(conn.state, State::Reading) || conn.buf.is_empty() {
                        return true;
                    }
                }
            }
        }
    }

    /// Acts on the first complete head in the buffer, if there is one.
    fn parse_one(&mut self, i: usize, now: Instant) -> Step {
        let conn = &mut self.conns[i];
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        let head_len = match parsed.parse(&conn.buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if conn.buf.len() <= MAX_HEAD_BYTES => {
                if conn.deadline > now + HEAD_TIMEOUT {
                    // First bytes of a request on an idle keep-alive connection.
                    conn.deadline = now + HEAD_TIMEOUT;
                }
                return Step::Wait;
            }
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return step(reply_and_close(conn, now, 431, "request head too large\n"));
            }
            Err(_) => return step(reply_and_close(conn, now, 400, "malformed request\n")),
        };
        let target = parsed.path.unwrap_or("/");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let method = parsed.method.unwrap_or("").to_string();
        let has_body = parsed.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("transfer-encoding")
                || (h.name.eq_ignore_ascii_case("content-length") && h.value.trim_ascii() != b"0")
        });
        let wants_close = parsed.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close")
        });
        // Keep-alive only where the next request can be found: no body to skip.
        let keep_alive = parsed.version == Some(1) && !wants_close && !has_body;
        let request = Request {
            method,
            path: path.to_string(),
            query: query.to_string(),
            headers: parsed
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
        };
        conn.buf.drain(..head_len);
        let head_only = request.method == "HEAD";
        if let Some(response) = route(&*self.handler, &request) {
            let out = encode(&response, head_only, keep_alive);
            return step(start_writing(conn, now, out, keep_alive));
        }
        let later = Later {
            id: conn.id,
            head_only,
            keep_alive,
            done: Some(self.done.clone()),
        };
        let mut defer = Defer(Some(later));
        let answer = self.handler.handle(&request, &mut defer);
        match (defer.0.take(), answer) {
            (Some(mut untaken), Some(response)) => {
                untaken.done = None; // answered here, not through the Later
                let out = encode(&response, head_only, keep_alive);
                step(start_writing(conn, now, out, keep_alive))
            }
            (Some(mut untaken), None) => {
                untaken.done = None;
                step(reply_and_close(conn, now, 500, "no answer\n"))
            }
            (None, _) => {
                conn.state = State::Waiting;
                Step::Answered
            }
        }
    }

    fn collect_answers(&mut self, now: Instant) {
        let mut drain = [0u8; 256];
        // SAFETY: reading into a valid buffer from our own non-blocking pipe.
        while unsafe {
            libc::read(
                self.wake.as_raw_fd(),
                drain.as_mut_ptr().cast(),
                drain.len(),
            )
        } > 0
        {}
        let answers =
            std::mem::take(&mut *self.done.answers.lock().unwrap_or_else(|e| e.into_inner()));
        for (id, out, keep_alive) in answers {
            if let Some(i) = self.conns.iter().position(|c| c.id == id) {
                if !(start_writing(&mut self.conns[i], now, out, keep_alive)
                    && self.next_pipelined(i, now))
                {
                    self.conns.swap_remove(i);
                }
            }
        }
    }

    fn accept(&mut self, now: Instant) {
        // A bounded batch, so a flood of connects cannot starve the others.
        for _ in 0..64 {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    if self.conns.len() >= MAX_CONNECTIONS && !self.evict_oldest() {
                        continue; // every slot is an answer being computed: drop the newcomer
                    }
                    self.next_id += 1;
                    self.conns.push(Conn {
                        id: self.next_id,
                        stream,
                        buf: Vec::new(),
                        state: State::Reading,
                        deadline: now + HEAD_TIMEOUT,
                        accepted: now,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_out_of_fds(&e) => {
                    // Free a descriptor for the next round rather than spin.
                    if !self.evict_oldest() {
                        std::thread::sleep(Duration::from_millis(10));
                        return;
                    }
                }
                // ECONNABORTED and the like concern one client only.
                Err(_) => {}
            }
        }
    }

    /// Closes the longest-connected reading connection; false if there is none.
    fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .conns
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c.state, State::Reading))
            .min_by_key(|(_, c)| c.accepted)
            .map(|(i, _)| i);
        match oldest {
            Some(i) => {
                self.conns.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

/// 404 and 405 are decided here, before the handler sees the request.
fn route(handler: &dyn Handler, request: &Request) -> Option<Response> {
    if !handler.paths().contains(&request.path.as_str()) {
        return Some(Response::text(404, "not found\n"));
    }
    if request.method != "GET" && request.method != "HEAD" {
        return Some(Response::text(405, "method not allowed: use GET or HEAD\n"));
    }
    None
}

fn reply_and_close(conn: &mut Conn, now: Instant, status: u16, body: &str) -> bool {
    let out = encode(&Response::text(status, body), false, false);
    start_writing(conn, now, out, false)
}

fn start_writing(conn: &mut Conn, now: Instant, out: Vec<u8>, keep_alive: bool) -> bool {
    conn.state = State::Writing {
        out,
        written: 0,
        keep_alive,
    };
    conn.deadline = now + WRITE_TIMEOUT;
    // Most answers fit the socket buffer: write at once rather than wait a poll round.
    write_some(conn, now)
}

/// Writes what the socket takes; false when the connection should be closed.
fn write_some(conn: &mut Conn, now: Instant) -> bool {
    let State::Writing {
        out,
        written,
        keep_alive,
    } = &mut conn.state
    else {
        return true;
    };
    while *written < out.len() {
        match conn.stream.write(&out[*written..]) {
            Ok(0) => return false,
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    if !*keep_alive {
        let _ = conn.stream.shutdown(std::net::Shutdown::Write);
        return false;
    }
    conn.state = State::Reading;
    conn.deadline = now + KEEP_ALIVE_IDLE;
    true
}

fn encode(response: &Response, head_only: bool, keep_alive: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + if head_only { 0 } else { response.body.len() });
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if response.status == 405 {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        },
        if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        },
    );
    if !head_only {
        out.extend_from_slice(&response.body);
    }
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn is_out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
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
