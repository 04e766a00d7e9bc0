//! stand-in: the main container of the demo and the end-to-end tests. It
//! serves what the side-cars look at and writes a log line per request into
//! its own filesystem, as a real app would.

use common::cli::{self, Program, Stop};
use common::server::{Defer, Handler, Request, Response};
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROGRAM: Program = Program {
    name: "stand-in",
    help: "\
stand-in: a stand-in main container for the sidecars demo and tests.

Usage: stand-in [--listen ADDR] [--log PATH] [--flood RATE]

  --listen ADDR   where to serve (default :8080)
  --log PATH      append one line per request to PATH
  --flood RATE    also write log lines at RATE bytes a second (e.g. 20MiB),
                  each with one write(2), numbered; GET /flood tells how many

Paths:
  /known-value        {\"value\": V, \"queue\": {\"depth\": 12}} (V starts at 5)
  /set?value=V        set V (anything but 5 makes ready-check's demo unready)
  /flush_queues       counts a flush, answers 'flushed'
  /stats              {\"flushes\": N, \"requests\": N}
  /slow?ms=N          answers after N milliseconds
  /reopen?delay_ms=N  reopen the log after N ms (what logrotate's postrotate asks)
  /flood              {\"lines\": N}: lines the flood wrote so far
  /status?code=N      answers status N (100-599), as a failing or missing page
  /                   hello
Every request to these paths is logged with the status it got.

Examples:
  stand-in --listen 127.0.0.1:8080 --log /tmp/stand-in.log
  stand-in --listen :8080
",
};

struct App {
    value: AtomicI64,
    flushes: AtomicU64,
    requests: AtomicU64,
    log: Option<Arc<Mutex<File>>>,
    log_path: Option<std::path::PathBuf>,
    flooded: AtomicU64,
}

impl Handler for App {
    fn paths(&self) -> &[&'static str] {
        &[
            "/",
            "/known-value",
            "/set",
            "/flush_queues",
            "/stats",
            "/slow",
            "/reopen",
            "/flood",
            "/status",
        ]
    }

    fn handle(&self, request: &Request, defer: &mut Defer) -> Option<Response> {
        if request.path == "/slow" {
            // A thread per slow request: this is a test stand-in, not a side-car.
            let ms = query_number(&request.query, "ms")
                .unwrap_or(100)
                .clamp(0, 60_000);
            let later = defer.later();
            self.log(request, 200);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(ms as u64));
                later.send(Response::text(200, "ok\n"));
            });
            return None;
        }
        let requests = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let response = match request.path.as_str() {
            "/known-value" => json(format!(
                "{{\"value\": {}, \"queue\": {{\"depth\": 12}}}}",
                self.value.load(Ordering::Relaxed)
            )),
            "/set" => match query_number(&request.query, "value") {
                Some(v) => {
                    self.value.store(v, Ordering::Relaxed);
                    Response::text(200, format!("value={v}\n"))
                }
                None => Response::text(400, "want /set?value=N\n"),
            },
            "/reopen" => {
                let delay = query_number(&request.query, "delay_ms").unwrap_or(0);
                self.reopen_later(Duration::from_millis(delay.clamp(0, 60_000) as u64));
                Response::text(200, "reopening\n")
            }
            "/flood" => json(format!(
                "{{\"lines\": {}}}",
                self.flooded.load(Ordering::SeqCst)
            )),
            "/status" => match query_number(&request.query, "code") {
                Some(code @ 100..=599) => Response::text(code as u16, format!("status {code}\n")),
                _ => Response::text(400, "want /status?code=N, N from 100 to 599\n"),
            },
            "/flush_queues" => {
                self.flushes.fetch_add(1, Ordering::Relaxed);
                Response::text(200, "flushed\n")
            }
            "/stats" => json(format!(
                "{{\"flushes\": {}, \"requests\": {requests}}}",
                self.flushes.load(Ordering::Relaxed)
            )),
            _ => Response::text(200, "hello\n"),
        };
        self.log(request, response.status);
        Some(response)
    }
}

impl App {
    /// Reopens the log at its path (a rotation renamed the old one away),
    /// `delay` later, as an app that reopens on its next flush.
    fn reopen_later(&self, delay: Duration) {
        let (Some(log), Some(path)) = (self.log.clone(), self.log_path.clone()) else {
            return;
        };
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            if let Ok(file) = open_log(&path) {
                *log.lock().unwrap_or_else(|e| e.into_inner()) = file;
            }
        });
    }

    /// Writes numbered lines at `rate` bytes a second, each with one write.
    fn flood(&self, rate: u64) {
        let Some(log) = &self.log else { return };
        let started = std::time::Instant::now();
        let mut written: u64 = 0;
        loop {
            let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
            if written >= due {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let seq = self.flooded.load(Ordering::SeqCst) + 1;
            let line = format!(
                "ts={} seq={seq} msg=\"flood line for the rotation tests\" path=/flood\n",
                common::log::timestamp(std::time::SystemTime::now()),
            );
            let mut file = log.lock().unwrap_or_else(|e| e.into_inner());
            if file.write_all(line.as_bytes()).is_ok() {
                self.flooded.store(seq, Ordering::SeqCst);
            }
            drop(file);
            written += line.len() as u64;
        }
    }

    fn log(&self, request: &Request, status: u16) {
        if let Some(log) = &self.log {
            let line = format!(
                "ts={} method={} path={} status={status}\n",
                common::log::timestamp(std::time::SystemTime::now()),
                request.method,
                request.path,
            );
            let _ = log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .write_all(line.as_bytes());
        }
    }
}

fn json(body: String) -> Response {
    Response {
        status: 200,
        content_type: "application/json",
        body: body.into_bytes(),
    }
}

fn query_number(query: &str, key: &str) -> Option<i64> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

fn open_log(path: &std::path::Path) -> std::io::Result<File> {
    File::options().create(true).append(true).open(path)
}

fn main() {
    let (listen, log_path, flood) = PROGRAM.parse(|mut parser| {
        use lexopt::prelude::*;
        let mut listen = common::server::ListenAddr::parse(":8080").expect("the default address");
        let mut log = None;
        let mut flood = None;
        while let Some(arg) = parser.next()? {
            match arg {
                Short('h') | Long("help") => return Err(Stop::Help),
                Short('V') | Long("version") => return Err(Stop::Version),
                Long("listen") => listen = cli::listen_addr(&mut parser, "--listen")?,
                Long("log") => log = Some(std::path::PathBuf::from(parser.value()?)),
                Long("flood") => flood = Some(cli::byte_size(&mut parser, "--flood")?),
                _ => return Err(arg.unexpected().into()),
            }
        }
        if flood.is_some() && log.is_none() {
            return Err(cli::usage("--flood", "needs --log PATH"));
        }
        Ok((listen, log, flood))
    });
    let shutdown = common::shutdown::Shutdown::install();
    let bound = PROGRAM.bind("--listen", &listen);
    let log = log_path.as_ref().map(|path| {
        let file = open_log(path);
        Arc::new(Mutex::new(file.unwrap_or_else(|e| {
            PROGRAM.fail(common::cli::Fatal::config(format!(
                "--log {}: {e}",
                path.display()
            )))
        })))
    });
    let app = Arc::new(App {
        value: AtomicI64::new(5),
        flushes: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        log,
        log_path,
        flooded: AtomicU64::new(0),
    });
    if let Some(rate) = flood {
        let app = app.clone();
        std::thread::spawn(move || app.flood(rate));
    }
    PROGRAM.serve(bound, app, &[]);
    let signal = shutdown.wait();
    common::log::info("stopping", &[("signal", &signal)]);
}
