//! latency-exporter: Prometheus metrics of synthetic HTTP probes of the main
//! container, with the blackbox exporter's metric names, and an app's own
//! JSON stats reformatted as gauges.

mod board;
mod options;
mod probe;

use board::Board;
use common::cli::Program;
use common::client::Client;
use common::log;
use common::server::{metrics_response, Defer, Handler, Later, Request, Response};
use common::shutdown::Shutdown;
use options::Schedule;
use probe::Prober;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const PROGRAM: Program = Program {
    name: "latency-exporter",
    version: env!("CARGO_PKG_VERSION"),
    help: HELP,
};

const HELP: &str = "\
latency-exporter: Prometheus metrics of synthetic HTTP probes of the main container.

Usage: latency-exporter [--listen ADDR] --target [NAME=]URL [--target ...] [OPTIONS]

  --listen ADDR            serve /metrics here (default :9100); :PORT, HOST:PORT, [V6]:PORT
  --target [NAME=]URL      probe URL with GET; label target=NAME (default: the URL); repeatable
  --interval DURATION      probe each target this often (default 10s), or 'scrape':
                           probe on each scrape, concurrent scrapes sharing one probe,
                           within Prometheus's X-Prometheus-Scrape-Timeout-Seconds
  --timeout DURATION       per probe (default 5s)
  --header 'Name: value'   send this header with every probe (repeatable)
  --json-gauge NAME=POINTER
                           when a target answers JSON, export the number at the
                           RFC 6901 POINTER as gauge NAME (repeatable)
  --buckets S,S,...        probe_latency_seconds buckets in seconds
                           (default 0.0001 ... 5, suited to loopback)
  --max-body SIZE          read at most this much of a body (default 1MiB; more fails)
  -h, --help, -V, --version

Serves:
  /metrics   probe_success, probe_duration_seconds, probe_http_status_code,
             probe_http_content_length, probe_latency_seconds (histogram),
             probe_total{result}, probe_last_success_timestamp_seconds,
             the JSON gauges, and process_* metrics
  /healthz   200 ok
  /          this index

A probe succeeds on a 2xx answer within the timeout and the body cap.

Examples:
  latency-exporter --listen :9100 --target http://127.0.0.1:8080/healthz
  latency-exporter --listen :9100 --interval 5s --target app=http://127.0.0.1:8080/ \\
      --target stats=http://127.0.0.1:8080/stats --json-gauge app_queue_depth=/queue/depth
  latency-exporter --listen 127.0.0.1:9100 --interval scrape --target http://127.0.0.1:8080/
";

const INDEX: &str = "latency-exporter: Prometheus metrics of synthetic HTTP probes.\n\n/metrics  the metrics\n/healthz  liveness\n";

fn main() {
    let options = PROGRAM.parse(options::parse);
    let shutdown = Shutdown::install();
    let prober = Arc::new(Prober {
        client: Client::new(
            concat!("latency-exporter/", env!("CARGO_PKG_VERSION")),
            false,
        ),
        headers: options.headers,
        max_body: options.max_body,
        json_gauges: options.json_gauges.clone(),
    });
    let board = Arc::new(Board::new(
        options.targets,
        options.json_gauges,
        &options.buckets,
    ));
    let (mode, on_scrape) = match options.schedule {
        Schedule::Every(interval) => {
            for index in 0..board.targets.len() {
                let (board, prober, shutdown) = (board.clone(), prober.clone(), shutdown.clone());
                let timeout = options.timeout;
                std::thread::Builder::new()
                    .name(format!("probe-{index}"))
                    .spawn(move || {
                        probe_every(interval, timeout, index, &board, &prober, &shutdown)
                    })
                    .expect("spawn a probe thread");
            }
            (common::duration::format(interval), None)
        }
        Schedule::OnScrape => (
            "scrape".to_string(),
            Some(OnScrape::start(board.clone(), prober, options.timeout)),
        ),
    };
    let exporter = Arc::new(Exporter {
        board: board.clone(),
        on_scrape,
    });
    let addr = common::server::start(&options.listen, exporter)
        .unwrap_or_else(|e| PROGRAM.config_exit(&format!("--listen: {e}")));
    log::info(
        "serving",
        &[
            ("addr", &addr),
            ("targets", &board.targets.len()),
            ("interval", &mode),
        ],
    );
    let signal = shutdown.wait();
    log::info("stopping", &[("signal", &signal)]);
}

/// Fixed-rate probing of one target: probe k starts at start + k*interval;
/// a probe that overruns its slot makes the schedule skip, not drift.
fn probe_every(
    interval: Duration,
    timeout: Duration,
    index: usize,
    board: &Board,
    prober: &Prober,
    shutdown: &Shutdown,
) {
    let target = &board.targets[index];
    let start = Instant::now();
    let mut slot: u32 = 0;
    loop {
        board.record(index, prober.probe(target, timeout));
        let elapsed = start.elapsed();
        slot = slot
            .saturating_add(1)
            .max((elapsed.as_secs_f64() / interval.as_secs_f64()).ceil() as u32);
        if shutdown.sleep_until(start + interval * slot) {
            return;
        }
    }
}

struct Exporter {
    board: Arc<Board>,
    on_scrape: Option<OnScrape>,
}

impl Handler for Exporter {
    fn paths(&self) -> &[&'static str] {
        &["/", "/metrics", "/healthz"]
    }

    fn handle(&self, request: &Request, defer: &mut Defer) -> Option<Response> {
        match request.path.as_str() {
            "/metrics" => match &self.on_scrape {
                Some(on_scrape) => {
                    on_scrape.ask(
                        defer.later(),
                        request.header("X-Prometheus-Scrape-Timeout-Seconds"),
                    );
                    None
                }
                None => Some(metrics_response(self.board.render())),
            },
            "/healthz" => Some(Response::text(200, "ok\n")),
            _ => Some(Response::text(200, INDEX)),
        }
    }
}

/// `--interval scrape`: a scrape asks for a probe of every target; scrapes
/// that arrive while one is in flight wait for it and share its result.
struct OnScrape {
    state: Arc<(Mutex<Waiting>, Condvar)>,
}

#[derive(Default)]
struct Waiting {
    scrapes: Vec<Later>,
    /// The tightest scrape timeout among the waiting scrapes.
    budget: Option<Duration>,
}

impl OnScrape {
    fn start(board: Arc<Board>, prober: Arc<Prober>, timeout: Duration) -> OnScrape {
        let state: Arc<(Mutex<Waiting>, Condvar)> = Arc::default();
        let shared = state.clone();
        std::thread::Builder::new()
            .name("scrape-probes".into())
            .spawn(move || loop {
                let (lock, asked) = &*shared;
                let mut waiting = lock.lock().unwrap_or_else(|e| e.into_inner());
                while waiting.scrapes.is_empty() {
                    waiting = asked.wait(waiting).unwrap_or_else(|e| e.into_inner());
                }
                let budget = waiting.budget.take().map_or(timeout, |b| b.min(timeout));
                drop(waiting);
                probe_all(&board, &prober, budget);
                let text = board.render();
                // Scrapes that arrived during the probe share its result too.
                let scrapes =
                    std::mem::take(&mut lock.lock().unwrap_or_else(|e| e.into_inner()).scrapes);
                for later in scrapes {
                    later.send(metrics_response(text.clone()));
                }
            })
            .expect("spawn the scrape thread");
        OnScrape { state }
    }

    fn ask(&self, later: Later, scrape_timeout: Option<&str>) {
        // Leave Prometheus a tenth of its budget to receive the answer.
        let budget = scrape_timeout
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64((s * 0.9).max(0.01)));
        let (lock, asked) = &*self.state;
        let mut waiting = lock.lock().unwrap_or_else(|e| e.into_inner());
        waiting.scrapes.push(later);
        if let Some(budget) = budget {
            waiting.budget = Some(waiting.budget.map_or(budget, |b| b.min(budget)));
        }
        asked.notify_one();
    }
}

/// Probes every target at once, so a scrape waits for the slowest only.
fn probe_all(board: &Board, prober: &Prober, timeout: Duration) {
    std::thread::scope(|scope| {
        for (index, target) in board.targets.iter().enumerate() {
            scope.spawn(move || board.record(index, prober.probe(target, timeout)));
        }
    });
}
