//! A real HTTP target on 127.0.0.1 for the side-cars to probe: a thread per
//! connection, a reply chosen per request, and a record of every request
//! (when its head arrived, its head and body) and of peak concurrency.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub enum Reply {
    /// Status and body, after a delay.
    Plain {
        status: u16,
        body: Vec<u8>,
        delay: Duration,
    },
    /// 200 with a body of this many bytes, written in chunks.
    Huge(usize),
    /// Accept, read the request, never answer.
    Hang,
    /// These bytes as they are: a hostile or broken answer.
    Raw(Vec<u8>),
    /// These bytes, after a delay (a slow answer of any shape).
    RawAfter(Duration, Vec<u8>),
    /// These bytes one at a time, each after this pause, until the client
    /// goes or 30 s pass.
    Trickle(Duration, Vec<u8>),
    /// These bytes, then `x` for ever, until the client goes or 30 s pass.
    Endless(Vec<u8>),
    /// A reset (RST) at once, after reading the request.
    Reset,
}

impl Reply {
    pub fn ok(body: &str) -> Reply {
        Reply::Plain {
            status: 200,
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16, body: &str) -> Reply {
        Reply::Plain {
            status,
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    pub fn delayed(delay: Duration, body: &str) -> Reply {
        Reply::Plain {
            status: 200,
            body: body.as_bytes().to_vec(),
            delay,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub head: String,
    pub body: Vec<u8>,
}

type Handler = dyn Fn(&Hit) -> Reply + Send + Sync;

#[derive(Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    answered: AtomicUsize,
}

pub struct Target {
    pub addr: String,
    shared: Arc<Shared>,
}

impl Target {
    pub fn start(handler: impl Fn(&Hit) -> Reply + Send + Sync + 'static) -> Target {
        Target::start_on("127.0.0.1:0", handler)
    }

    /// On a given address, e.g. one a program was told to use before the
    /// target came up.
    pub fn start_on(addr: &str, handler: impl Fn(&Hit) -> Reply + Send + Sync + 'static) -> Target {
        let listener = TcpListener::bind(addr).expect("bind target");
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared::default());
        let handler: Arc<Handler> = Arc::new(handler);
        let state = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, handler) = (state.clone(), handler.clone());
                std::thread::spawn(move || serve(stream, &state, &*handler));
            }
        });
        Target { addr, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    pub fn hit_count(&self) -> usize {
        self.shared.hits.lock().unwrap().len()
    }

    /// Requests whose answer was completely written.
    pub fn answered(&self) -> usize {
        self.shared.answered.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream, state: &Shared, handler: &Handler) {
    let Some(hit) = read_request(&mut stream) else {
        return;
    };
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    state.hits.lock().unwrap().push(hit.clone());
    let reply = handler(&hit);
    let written = match reply {
        Reply::Plain {
            status,
            body,
            delay,
        } => {
            std::thread::sleep(delay);
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(&body))
                .is_ok()
        }
        Reply::Huge(total) => {
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = total;
            let mut ok = stream.write_all(head.as_bytes()).is_ok();
            while ok && left > 0 {
                let n = left.min(chunk.len());
                ok = stream.write_all(&chunk[..n]).is_ok();
                left -= n;
            }
            ok
        }
        Reply::Hang => {
            std::thread::sleep(Duration::from_secs(30));
            false
        }
        Reply::Raw(bytes) => stream.write_all(&bytes).is_ok(),
        Reply::RawAfter(delay, bytes) => {
            std::thread::sleep(delay);
            stream.write_all(&bytes).is_ok()
        }
        Reply::Trickle(pause, bytes) => {
            let until = Instant::now() + Duration::from_secs(30);
            bytes.iter().all(|byte| {
                std::thread::sleep(pause);
                Instant::now() < until && stream.write_all(&[*byte]).is_ok()
            })
        }
        Reply::Endless(head) => {
            let until = Instant::now() + Duration::from_secs(30);
            let filler = vec![b'x'; 64 * 1024];
            let mut ok = stream.write_all(&head).is_ok();
            while ok && Instant::now() < until {
                ok = stream.write_all(&filler).is_ok();
            }
            false
        }
        Reply::Reset => {
            crate::reset_on_close(&stream);
            false
        }
    };
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    if written {
        state.answered.fetch_add(1, Ordering::SeqCst);
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Hit> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let at = Instant::now();
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut words = head.split_whitespace();
    let method = words.next()?.to_string();
    let path = words.next()?.to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Hit {
        at,
        method,
        path,
        head,
        body,
    })
}
