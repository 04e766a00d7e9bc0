//! A PROGRAM's stdout and stderr as log lines: each line it writes is one
//! `output` line at level info, with its run and its stream, in every's own
//! format, so a JSON log pipeline reads all of it (supercronic does the
//! same). Bytes that are not UTF-8 become U+FFFD, as in the rest of the log;
//! a line longer than [`MAX_LINE`] is logged in parts, each but the last
//! marked `split` (it goes on in the next line of the run and stream).
//!
//! One thread reads every open pipe with poll(2). A process the program
//! leaves behind may keep a pipe open long after the run: that costs a
//! descriptor, read on as before, and never holds up the next run.

use common::log;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The longest line logged whole; a longer one is logged in parts.
pub const MAX_LINE: usize = 16 * 1024;
/// Pipes read at once. Past this, the oldest pipe of an ended run (held
/// open by a process it left) is closed, and that said.
const MAX_STREAMS: usize = 64;
/// How long the end of a run waits for its pipes to close, so that its
/// lines come before its `run` line. Short: a pipe a process left behind
/// holds open must not delay the run; it is read on in the background.
const RUN_END: Duration = Duration::from_millis(100);
/// How long every's exit waits for the pipes still open: what a program
/// wrote before it exited is read to its end.
pub const DRAIN: Duration = Duration::from_secs(1);

struct Stream {
    fd: OwnedFd,
    run: u64,
    name: &'static str,
    /// The start of a line not yet ended.
    pending: Vec<u8>,
    /// Its program has exited.
    run_over: bool,
}

impl Stream {
    /// Logs each complete line of `pending` plus `bytes`; keeps the rest.
    fn feed(&mut self, bytes: &[u8]) {
        let (run, name) = (self.run, self.name);
        self.lines(bytes, &mut |line, split| say(run, name, line, split));
    }

    /// The end of the stream: a last line without its newline is a line.
    fn finish(&mut self) {
        let (run, name) = (self.run, self.name);
        self.last_line(&mut |line, split| say(run, name, line, split));
    }

    /// Each complete line of `pending` plus `bytes`, to `emit` with whether
    /// the line goes on in the next (a part of a long line, not its last);
    /// the rest is kept.
    fn lines(&mut self, bytes: &[u8], emit: &mut dyn FnMut(&[u8], bool)) {
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        loop {
            let rest = &self.pending[start..];
            match memchr::memchr(b'\n', rest) {
                Some(end) if end <= MAX_LINE => {
                    let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
                    emit(line, false);
                    start += end + 1;
                }
                _ if rest.len() > MAX_LINE => {
                    let cut = char_cut(rest, MAX_LINE);
                    emit(&rest[..cut], true);
                    start += cut;
                }
                _ => break,
            }
        }
        self.pending.drain(..start);
    }

    fn last_line(&mut self, emit: &mut dyn FnMut(&[u8], bool)) {
        if !self.pending.is_empty() {
            emit(&self.pending, false);
            self.pending.clear();
        }
    }
}

/// Where to cut a long line near `at` so that no UTF-8 character is cut in
/// two: back over at most three continuation bytes.
fn char_cut(bytes: &[u8], at: usize) -> usize {
    let continuation = |i: usize| bytes[i] & 0xC0 == 0x80;
    (at - 3..=at)
        .rev()
        .find(|&i| !continuation(i))
        .unwrap_or(at)
}

fn say(run: u64, stream: &str, line: &[u8], split: bool) {
    let text = String::from_utf8_lossy(line);
    let mut fields: Vec<log::Field> = vec![("run", &run), ("stream", &stream), ("line", &text)];
    if split {
        fields.push(("split", &true));
    }
    log::info("output", &fields);
}

pub struct Pump {
    streams: Mutex<Vec<Stream>>,
    /// Signalled when a stream ends.
    ended: Condvar,
    /// Written to wake the reading thread for a new stream.
    wake: OwnedFd,
}

impl Pump {
    pub fn start() -> Arc<Pump> {
        let (wake_read, wake) = pipe();
        let pump = Arc::new(Pump {
            streams: Mutex::default(),
            ended: Condvar::new(),
            wake,
        });
        let reader = pump.clone();
        std::thread::Builder::new()
            .name("output".into())
            .stack_size(64 * 1024)
            .spawn(move || reader.read_all(wake_read))
            .expect("spawn the output thread");
        pump
    }

    /// Reads `fd` (a pipe from the program of run `run`) until it closes.
    pub fn add(&self, fd: OwnedFd, run: u64, name: &'static str) {
        set_nonblocking(&fd);
        self.lock().push(Stream {
            fd,
            run,
            name,
            pending: Vec::new(),
            run_over: false,
        });
        // SAFETY: one byte from a live buffer to our own pipe.
        unsafe { libc::write(self.wake.as_raw_fd(), [0u8].as_ptr().cast(), 1) };
    }

    /// After run `run`'s program exited: waits until its pipes close, at
    /// most [`RUN_END`]. Those still open (a process it left holds them, or
    /// a busy machine) are read on, and said once.
    pub fn run_ended(&self, run: u64) {
        let deadline = Instant::now() + RUN_END;
        let mut streams = self.wait_while(deadline, |s| s.iter().any(|s| s.run == run));
        for stream in streams.iter_mut().filter(|s| s.run == run) {
            stream.run_over = true;
            log::info(
                "output still open after the run",
                &[("run", &run), ("stream", &stream.name)],
            );
        }
    }

    /// At exit: waits for every pipe to close, at most [`DRAIN`], then logs
    /// what is left of each unfinished line.
    pub fn drain(&self) {
        let mut streams = self.wait_while(Instant::now() + DRAIN, |s| !s.is_empty());
        for stream in streams.iter_mut() {
            stream.finish();
        }
        streams.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Stream>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait_while(
        &self,
        deadline: Instant,
        waiting: impl Fn(&Vec<Stream>) -> bool,
    ) -> std::sync::MutexGuard<'_, Vec<Stream>> {
        let mut streams = self.lock();
        while waiting(&streams) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            streams = self
                .ended
                .wait_timeout(streams, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        streams
    }

    /// The reading thread: poll every pipe, log what comes, end what closes.
    fn read_all(&self, wake: OwnedFd) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut polled: Vec<libc::pollfd> = {
                let mut streams = self.lock();
                self.close_oldest_over_cap(&mut streams);
                std::iter::once(wake.as_raw_fd())
                    .chain(streams.iter().map(|s| s.fd.as_raw_fd()))
                    .map(|fd| libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    })
                    .collect()
            };
            // SAFETY: `polled` is a live array of that many pollfds.
            let ready =
                unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, -1) };
            if ready <= 0 {
                continue;
            }
            if polled[0].revents != 0 {
                // SAFETY: reading into our own buffer from our own pipe.
                unsafe { libc::read(wake.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            }
            let mut streams = self.lock();
            let mut ended = false;
            for ready in polled[1..].iter().filter(|p| p.revents != 0) {
                let Some(at) = streams.iter().position(|s| s.fd.as_raw_fd() == ready.fd) else {
                    continue;
                };
                // SAFETY: reading into our own buffer from a pipe we own.
                let n = unsafe { libc::read(ready.fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    streams[at].feed(&buf[..n as usize]);
                    continue;
                }
                let again = std::io::Error::last_os_error().kind();
                if n < 0
                    && matches!(
                        again,
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    )
                {
                    continue;
                }
                // End of file (or a read error, which ends it as well).
                let mut stream = streams.remove(at);
                stream.finish();
                ended = true;
            }
            if ended {
                self.ended.notify_all();
            }
        }
    }

    /// A process left behind by each run, holding its pipes, must not use
    /// up descriptors: past the cap, the oldest ended run's pipe is closed.
    fn close_oldest_over_cap(&self, streams: &mut Vec<Stream>) {
        while streams.len() > MAX_STREAMS {
            let at = streams.iter().position(|s| s.run_over).unwrap_or(0);
            let mut stream = streams.remove(at);
            stream.finish();
            log::warn(
                "output no longer read: too many pipes held open",
                &[
                    ("run", &stream.run),
                    ("stream", &stream.name),
                    ("open", &MAX_STREAMS),
                ],
            );
            self.ended.notify_all();
        }
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors, which we then own.
    let made = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    assert_eq!(made, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: just made, owned by nothing else.
    unsafe {
        use std::os::fd::FromRawFd;
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    }
}

fn set_nonblocking(fd: &OwnedFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stream() -> Stream {
        Stream {
            fd: pipe().0,
            run: 1,
            name: "stdout",
            pending: Vec::new(),
            run_over: false,
        }
    }

    proptest! {
        /// Any bytes, read in any chunks: the lines given out, split parts
        /// joined, are the input's lines (a `\r` before a newline dropped),
        /// none longer than MAX_LINE, and nothing is lost.
        #[test]
        fn any_output_comes_out_whole_in_bounded_lines(
            text in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(0xC3u8), Just(0xA9u8), any::<u8>()],
                0..40_000,
            ),
            chunks in proptest::collection::vec(1usize..9000, 1..20),
        ) {
            let mut stream = stream();
            let mut parts: Vec<(Vec<u8>, bool)> = Vec::new();
            let mut emit = |line: &[u8], split: bool| parts.push((line.to_vec(), split));
            let mut at = 0;
            for size in chunks.iter().cycle() {
                if at >= text.len() {
                    break;
                }
                let end = (at + size).min(text.len());
                stream.lines(&text[at..end], &mut emit);
                at = end;
            }
            stream.last_line(&mut emit);
            prop_assert!(parts.iter().all(|(line, _)| line.len() <= MAX_LINE));
            // Join: a split part runs on into the next; a whole line ends.
            let mut joined: Vec<Vec<u8>> = vec![Vec::new()];
            for (i, (line, split)) in parts.iter().enumerate() {
                prop_assert!(!split || line.len() >= MAX_LINE - 3);
                joined.last_mut().unwrap().extend_from_slice(line);
                if !split || i + 1 == parts.len() {
                    joined.push(Vec::new());
                }
            }
            joined.pop();
            // A `\r` goes only before a newline: a last line keeps its own.
            let mut want: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            let last = want.pop().unwrap_or_default();
            for line in want.iter_mut() {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
            }
            if !last.is_empty() {
                want.push(last);
            }
            prop_assert_eq!(joined, want);
        }
    }

    /// A process left behind by each run holds its pipes: past the cap,
    /// pipes of ended runs are closed first, the oldest first.
    #[test]
    fn pipes_over_the_cap_close_ended_runs_first() {
        let (_, wake) = pipe();
        let pump = Pump {
            streams: Mutex::default(),
            ended: Condvar::new(),
            wake,
        };
        let mut writers = Vec::new();
        let mut streams = Vec::new();
        for run in 0..MAX_STREAMS as u64 + 3 {
            let (read, write) = pipe();
            writers.push(write);
            let mut stream = stream();
            stream.fd = read;
            stream.run = run;
            // Runs 10 and 20 have ended; the others are in flight.
            stream.run_over = run == 10 || run == 20;
            streams.push(stream);
        }
        pump.close_oldest_over_cap(&mut streams);
        assert_eq!(streams.len(), MAX_STREAMS);
        let runs: Vec<u64> = streams.iter().map(|s| s.run).collect();
        assert!(!runs.contains(&10) && !runs.contains(&20), "{runs:?}");
        // Then the oldest: run 0.
        assert!(!runs.contains(&0), "{runs:?}");
        assert!(runs.contains(&1));
    }

    #[test]
    fn a_long_line_is_cut_between_characters() {
        let text = "é".repeat(MAX_LINE); // two bytes each
        let bytes = text.as_bytes();
        let cut = char_cut(bytes, MAX_LINE + 1);
        assert!(std::str::from_utf8(&bytes[..cut]).is_ok());
        assert_eq!(cut, MAX_LINE);
        // Not UTF-8 at all: cut where asked.
        assert_eq!(char_cut(&[0x80; 20], 10), 10);
    }
}
