//! Run counts and durations, served as Prometheus metrics with `--listen`.

use common::process_metrics::ProcessMetrics;
use common::prom::{Histogram, Kind, Writer};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

pub struct Stats {
    counts: Mutex<Counts>,
    process: ProcessMetrics,
}

struct Counts {
    successes: u64,
    failures: u64,
    skipped: u64,
    durations: Histogram,
    last_success: Option<f64>,
    /// The cron time the last run was for.
    last_scheduled: Option<i64>,
    next_run: Option<f64>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            counts: Mutex::new(Counts {
                successes: 0,
                failures: 0,
                skipped: 0,
                durations: Histogram::new(BUCKETS.to_vec()),
                last_success: None,
                last_scheduled: None,
                next_run: None,
            }),
            process: ProcessMetrics::new(),
        }
    }

    pub fn record(&self, ok: bool, took: Duration, scheduled: Option<i64>) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.durations.observe(took.as_secs_f64());
        if scheduled.is_some() {
            counts.last_scheduled = scheduled;
        }
        if ok {
            counts.successes += 1;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            counts.last_success = Some(now.as_secs_f64());
        } else {
            counts.failures += 1;
        }
    }

    pub fn next_run(&self, at: f64) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_run = Some(at);
    }

    pub fn skipped(&self, ticks: u64) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .skipped += ticks;
    }

    pub fn render(&self) -> String {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut w = Writer::new();
        w.family(
            "every_runs_total",
            Kind::Counter,
            "Runs since start, by result.",
        );
        w.sample(
            "every_runs_total",
            &[("result", "success")],
            counts.successes as f64,
        );
        w.sample(
            "every_runs_total",
            &[("result", "failure")],
            counts.failures as f64,
        );
        w.single(
            "every_skipped_total",
            Kind::Counter,
            "Ticks skipped: the previous run was still in flight, or they passed while the process could not run (the latest of those runs late).",
            counts.skipped as f64,
        );
        w.family(
            "every_run_duration_seconds",
            Kind::Histogram,
            "Duration of every run since start.",
        );
        w.histogram("every_run_duration_seconds", &[], &counts.durations);
        w.family(
            "every_last_success_timestamp_seconds",
            Kind::Gauge,
            "Unix time of the last successful run's end.",
        );
        if let Some(at) = counts.last_success {
            w.sample("every_last_success_timestamp_seconds", &[], at);
        }
        w.family(
            "every_next_run_timestamp_seconds",
            Kind::Gauge,
            "Unix time the next run is due.",
        );
        if let Some(at) = counts.next_run {
            w.sample("every_next_run_timestamp_seconds", &[], at);
        }
        if let Some(at) = counts.last_scheduled {
            w.single(
                "every_last_run_scheduled_timestamp_seconds",
                Kind::Gauge,
                "The cron time (Unix time) the last run was for.",
                at as f64,
            );
        }
        drop(counts);
        self.process.write(&mut w);
        common::build_info::write(&mut w, "every");
        w.finish()
    }
}
