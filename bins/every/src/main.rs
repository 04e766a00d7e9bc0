//! every: run an HTTP request or a program on a fixed-rate schedule that
//! never drifts and never overlaps itself.

mod options;
mod program;
mod stats;

use common::cli::{Program, EXIT_FAILURE};
use common::client::{Client, FetchError, Request};
use common::log;
use common::server::MetricsEndpoint;
use common::shutdown::Shutdown;
use options::{Job, Options};
use stats::Stats;
use std::ffi::OsString;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROGRAM: Program = Program {
    name: "every",
    version: env!("CARGO_PKG_VERSION"),
    help: HELP,
};

const HELP: &str = "\
every: run an HTTP request or a program on a drift-free schedule.

Usage: every INTERVAL [OPTIONS] URL
       every INTERVAL [OPTIONS] -- PROGRAM [ARG]...

Run k starts at start + k*INTERVAL (plus jitter), however long each run
takes; a run never overlaps the next: ticks that pass while one is in flight
are skipped, counted and logged.

  --timeout DURATION     per run (default: the smaller of INTERVAL and 30s)
  --jitter DURATION      a random delay in [0, DURATION) per tick, to spread replicas
  --delay-first          wait one INTERVAL before the first run (default: run at once)
  --count N              stop after N runs; exit with the last run's status
  --max-failures N       exit 1 after N failures in a row (so the kubelet restarts it)
  --listen ADDR          serve /metrics: every_runs_total{result}, every_skipped_total,
                         every_run_duration_seconds, every_last_success_timestamp_seconds
URL runs (success: a 2xx answer):
  -X, --method METHOD    default GET, or POST with --data
  -H, --header 'Name: value'   (repeatable)
  -d, --data BODY        send BODY
PROGRAM runs (success: exit 0): exec'd directly (no shell), stdout and stderr
passed through; at the timeout SIGTERM, then SIGKILL 1s later; always reaped.

Durations: 250ms, 2s, 1m30s, or a bare number of seconds.

Examples:
  every 60s http://127.0.0.1:8080/flush_queues
  every 5m --jitter 30s --method POST --data '{}' --header 'Content-Type: application/json' http://127.0.0.1:8080/compact
  every 1h --timeout 10m --max-failures 3 -- /app/bin/cleanup --older-than 7d
";

fn main() {
    // Everything after the first bare `--` is the program to run.
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let program = args.iter().position(|a| a == "--").map(|at| {
        let program = args.split_off(at + 1);
        args.pop();
        program
    });
    let options = PROGRAM.parse_from(lexopt::Parser::from_args(args), |parser| {
        options::parse(parser, program)
    });
    // Every signal we take is blocked before the first thread starts.
    program::block_sigchld();
    let shutdown = Shutdown::install();
    let reaper = program::Reaper::start();
    let stats = Arc::new(Stats::new());
    if let Some(listen) = &options.listen {
        let stats = stats.clone();
        let endpoint = MetricsEndpoint {
            index: "every: /metrics, /healthz\n",
            render: move || stats.render(),
        };
        let addr = common::server::start(listen, Arc::new(endpoint))
            .unwrap_or_else(|e| PROGRAM.config_exit(&format!("--listen: {e}")));
        log::info("serving", &[("addr", &addr)]);
    }
    std::process::exit(schedule(&options, &stats, &shutdown, &reaper));
}

/// The schedule: returns the exit status.
fn schedule(
    options: &Options,
    stats: &Stats,
    shutdown: &Shutdown,
    reaper: &program::Reaper,
) -> i32 {
    let client = Client::new(concat!("every/", env!("CARGO_PKG_VERSION")), false);
    let interval = options.interval;
    let start = Instant::now();
    let mut jitter = Jitter::new();
    let mut tick: u64 = u64::from(options.delay_first);
    let (mut runs, mut failures_in_a_row) = (0u64, 0u64);
    log::info(
        "scheduled",
        &[
            ("interval", &common::duration::format(interval)),
            ("timeout", &common::duration::format(options.timeout)),
        ],
    );
    loop {
        let slot = start + interval.mul_f64(tick as f64);
        if shutdown.sleep_until(slot + jitter.up_to(options.jitter)) {
            log::info(
                "stopping",
                &[("signal", &shutdown.reason().unwrap_or("signal"))],
            );
            return 0;
        }
        runs += 1;
        let began = Instant::now();
        let run_start = common::log::timestamp(std::time::SystemTime::now());
        let (ok, detail) = run_once(&options.job, options.timeout, &client, reaper);
        let took = began.elapsed();
        stats.record(ok, took);
        let result = if ok { "success" } else { "failure" };
        let duration = common::duration::format(took);
        let fields: [common::log::Field; 5] = [
            ("run", &runs),
            ("result", &result),
            (detail.0, &detail.1),
            ("start", &run_start),
            ("duration", &duration),
        ];
        if ok {
            log::info("run", &fields);
        } else {
            log::warn("run", &fields);
        }
        failures_in_a_row = if ok { 0 } else { failures_in_a_row + 1 };
        if options
            .max_failures
            .is_some_and(|max| failures_in_a_row >= max)
        {
            log::error(
                "too many failures in a row",
                &[("failures", &failures_in_a_row)],
            );
            return EXIT_FAILURE;
        }
        if options.count.is_some_and(|count| runs >= count) {
            return if ok { 0 } else { EXIT_FAILURE };
        }
        // The next tick whose slot has not passed: missed ones are skipped.
        let elapsed = start.elapsed().as_secs_f64();
        let due = (elapsed / interval.as_secs_f64()).ceil() as u64;
        let next = due.max(tick + 1);
        let skipped = next - tick - 1;
        if skipped > 0 {
            stats.skipped(skipped);
            log::warn(
                "skipped ticks",
                &[
                    ("skipped", &skipped),
                    ("reason", &"previous run still in flight"),
                ],
            );
        }
        tick = next;
        if shutdown.requested() {
            log::info(
                "stopping",
                &[("signal", &shutdown.reason().unwrap_or("signal"))],
            );
            return 0;
        }
    }
}

/// One run: (success, (log key, value)).
fn run_once(
    job: &Job,
    timeout: Duration,
    client: &Client,
    reaper: &program::Reaper,
) -> (bool, (&'static str, String)) {
    match job {
        Job::Http {
            url,
            method,
            headers,
            data,
        } => {
            let request = Request {
                method,
                headers,
                body: data.as_deref().map(str::as_bytes),
                // Read the answer (up to the cap) so the connection closes
                // cleanly rather than with a reset; only its status counts.
                max_body: Some(common::client::DEFAULT_MAX_BODY),
                ..Request::get(url, timeout)
            };
            let status = match client.fetch(&request) {
                Ok(reply) => reply.status,
                Err(FetchError::BodyTooLarge { status, .. }) => status,
                Err(e) => return (false, ("error", e.to_string())),
            };
            ((200..300).contains(&status), ("status", status.to_string()))
        }
        Job::Program(argv) => {
            let run = reaper.run(argv, timeout);
            let (key, ended) = match run.ended {
                program::Ended::Exited(code) => ("exit_code", code.to_string()),
                program::Ended::Signalled(signal) => ("signal", program::signal_name(signal)),
                program::Ended::NotStarted(why) => return (false, ("error", why)),
            };
            if run.timed_out {
                let how = if key == "exit_code" {
                    format!("exit code {ended}")
                } else {
                    ended
                };
                let why = format!(
                    "timed out after {}, ended by {how}",
                    common::duration::format(timeout)
                );
                return (false, ("error", why));
            }
            (matches!(run.ended, program::Ended::Exited(0)), (key, ended))
        }
    }
}

/// A small xorshift generator for jitter: no crate needed for spreading ticks.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Jitter((nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)) | 1)
    }

    /// Uniform in [0, max).
    fn up_to(&mut self, max: Duration) -> Duration {
        if max.is_zero() {
            return Duration::ZERO;
        }
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        max.mul_f64((self.0 >> 11) as f64 / (1u64 << 53) as f64)
    }
}
