//! The socket thread: one poll loop over the listener, the wake pipe and
//! every connection, reading heads, writing answers, enforcing deadlines and
//! the connection cap.

use super::handler::{Defer, Done, Handler, Later};
use super::wire::{encode, parse_head, Head, Request, Response, MAX_HEAD_BYTES};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const MAX_CONNECTIONS: usize = 512;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(120);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body we do not use is read and dropped, up to this much, after
/// the answer and before the close: closing with unread bytes would send a
/// reset, and the client might lose the answer.
const MAX_DRAIN: usize = 1 << 20;

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

enum State {
    Reading,
    /// The handler will answer through `Later`.
    Waiting,
    Writing {
        out: Vec<u8>,
        written: usize,
        keep_alive: bool,
    },
    /// Answered and half-closed; reading what the client still sends (a
    /// body) until it closes, `left` bytes more at most, or the deadline.
    Draining {
        left: usize,
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

pub(super) struct Sockets {
    listener: TcpListener,
    wake: OwnedFd,
    conns: Vec<Conn>,
    next_id: u64,
    handler: Arc<dyn Handler>,
    done: Arc<Done>,
}

impl Sockets {
    pub(super) fn new(
        listener: TcpListener,
        wake: OwnedFd,
        handler: Arc<dyn Handler>,
        done: Arc<Done>,
    ) -> Sockets {
        Sockets {
            listener,
            wake,
            conns: Vec::new(),
            next_id: 0,
            handler,
            done,
        }
    }

    pub(super) fn run(&mut self) {
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
                    State::Reading | State::Draining { .. } => {
                        (conn.stream.as_raw_fd(), libc::POLLIN)
                    }
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
            State::Draining { .. } => drain(&mut self.conns[i]),
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
        let (request, keep_alive) = match parse_head(&conn.buf) {
            Head::Complete {
                request,
                len,
                keep_alive,
            } => {
                conn.buf.drain(..len);
                (request, keep_alive)
            }
            Head::Partial => {
                if conn.deadline > now + HEAD_TIMEOUT {
                    // First bytes of a request on an idle keep-alive connection.
                    conn.deadline = now + HEAD_TIMEOUT;
                }
                return Step::Wait;
            }
            Head::TooLarge => {
                return step(reply_and_close(conn, now, 431, "request head too large\n"))
            }
            Head::Malformed => return step(reply_and_close(conn, now, 400, "malformed request\n")),
        };
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
            .filter(|(_, c)| matches!(c.state, State::Reading | State::Draining { .. }))
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
        conn.state = State::Draining { left: MAX_DRAIN };
        conn.deadline = now + HEAD_TIMEOUT;
        return drain(conn);
    }
    conn.state = State::Reading;
    conn.deadline = now + KEEP_ALIVE_IDLE;
    true
}

/// Reads and drops what the client sends after its answer; false when the
/// connection should now be closed (the client closed, or sent too much).
fn drain(conn: &mut Conn) -> bool {
    let State::Draining { left } = &mut conn.state else {
        return true;
    };
    let mut scratch = [0u8; 16 * 1024];
    loop {
        match conn.stream.read(&mut scratch) {
            Ok(0) => return false,
            Ok(n) if n >= *left => return false,
            Ok(n) => *left -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
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
