//! Run counts and durations, served as Prometheus metrics with `--listen`.

use crate::families::*;
use common::process_metrics::ProcessMetrics;
use common::prom::{Histogram, Writer};
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
    /// Since the last success.
    failures_in_a_row: u64,
    skipped: u64,
    durations: Histogram,
    last_success: Option<f64>,
    /// The cron time the last run was for.
    last_scheduled: Option<i64>,
    next_run: Option<f64>,
    /// INTERVAL, or the gap between the next two cron times (seconds).
    interval: Option<f64>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            counts: Mutex::new(Counts {
                successes: 0,
                failures: 0,
                failures_in_a_row: 0,
                skipped: 0,
                durations: Histogram::new(BUCKETS.to_vec()),
                last_success: None,
                last_scheduled: None,
                next_run: None,
                interval: None,
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
            counts.failures_in_a_row = 0;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            counts.last_success = Some(now.as_secs_f64());
        } else {
            counts.failures += 1;
            counts.failures_in_a_row += 1;
        }
    }

    /// When the next run is due, and the interval it is due after.
    pub fn next_run(&self, at: f64, interval: f64) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.next_run = Some(at);
        counts.interval = Some(interval);
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
        w.family(&RUNS);
        w.sample(&RUNS, &[("result", "success")], counts.successes as f64);
        w.sample(&RUNS, &[("result", "failure")], counts.failures as f64);
        w.single(&SKIPPED, counts.skipped as f64);
        w.family(&RUN_DURATION);
        w.histogram(&RUN_DURATION, &[], &counts.durations);
        w.family(&LAST_SUCCESS);
        if let Some(at) = counts.last_success {
            w.sample(&LAST_SUCCESS, &[], at);
        }
        w.family(&NEXT_RUN);
        if let Some(at) = counts.next_run {
            w.sample(&NEXT_RUN, &[], at);
        }
        if let Some(at) = counts.last_scheduled {
            w.single(&LAST_SCHEDULED, at as f64);
        }
        w.single(&FAILURES_IN_A_ROW, counts.failures_in_a_row as f64);
        if let Some(interval) = counts.interval {
            w.single(&INTERVAL, interval);
        }
        drop(counts);
        self.process.write(&mut w);
        common::build_info::write(&mut w, &BUILD_INFO);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_docs_table_is_the_declared_families() {
        common::prom::check_docs(super::FAMILIES, include_str!("../../../docs/every.md"));
    }

    #[test]
    fn a_scrape_writes_declared_families_only() {
        let stats = super::Stats::new();
        stats.next_run(1e9, 60.0);
        stats.record(false, std::time::Duration::from_millis(5), None);
        assert!(stats.render().contains("\nevery_failures_in_a_row 1\n"));
        stats.skipped(2);
        stats.record(
            true,
            std::time::Duration::from_millis(5),
            Some(1_700_000_000),
        );
        let text = stats.render();
        assert_eq!(
            common::prom::check_scrape(super::FAMILIES, &text, &|_| false),
            Ok(())
        );
        let none: &[&str] = &[];
        assert_eq!(common::prom::unwritten(super::FAMILIES, &text), none);
        // A success ends the run of failures.
        assert!(text.contains("\nevery_failures_in_a_row 0\n"), "{text}");
        assert!(text.contains("\nevery_interval_seconds 60\n"), "{text}");
    }
}
