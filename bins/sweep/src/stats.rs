//! What the passes did, as Prometheus metrics with `--listen`.

use crate::families::*;
use crate::pass::{Report, Skip};
use common::process_metrics::ProcessMetrics;
use common::prom::Writer;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Stats {
    totals: Mutex<Totals>,
    process: ProcessMetrics,
    /// `--max-size` and `--low-water`, so that an alert is a ratio of two
    /// series rather than a number copied into the rule.
    max_size: Option<(u64, u64)>,
}

#[derive(Default)]
struct Totals {
    deleted: [u64; 2],
    freed: [u64; 2],
    dirs_removed: u64,
    skipped: BTreeMap<Skip, u64>,
    pass_failures: u64,
    /// Of the last pass that ran to its end.
    last: Option<Last>,
}

struct Last {
    usage: u64,
    files: u64,
    oldest: Option<i64>,
    took: f64,
    at: f64,
}

impl Stats {
    /// `max_size`: `--max-size` and the low water, when given.
    pub fn new(max_size: Option<(u64, u64)>) -> Stats {
        Stats {
            totals: Mutex::new(Totals::default()),
            process: ProcessMetrics::new(),
            max_size,
        }
    }

    /// A pass that could not run (DIR gone or unreadable).
    pub fn pass_failed(&self) {
        self.totals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pass_failures += 1;
    }

    /// Adds a pass; a dry run's deletions are not counted as deleted.
    pub fn record(&self, report: &Report, dry_run: bool) {
        let mut t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        if !dry_run {
            for i in 0..2 {
                t.deleted[i] += report.deleted[i];
                t.freed[i] += report.freed[i];
            }
            t.dirs_removed += report.dirs_removed;
        }
        for (why, n) in &report.skipped {
            *t.skipped.entry(*why).or_default() += n;
        }
        if !report.stopped {
            t.last = Some(Last {
                usage: report.usage,
                files: report.files,
                oldest: report.oldest,
                took: report.took.as_secs_f64(),
                at: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            });
        }
    }

    pub fn render(&self) -> String {
        let t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        let mut w = Writer::new();
        for (family, by_reason) in [(&DELETED_FILES, t.deleted), (&DELETED_BYTES, t.freed)] {
            w.family(family);
            for (reason, value) in ["age", "size"].iter().zip(by_reason) {
                w.sample(family, &[("reason", reason)], value as f64);
            }
        }
        w.single(&DELETED_DIRS, t.dirs_removed as f64);
        w.family(&SKIPPED);
        for why in Skip::ALL {
            let n = t.skipped.get(&why).copied().unwrap_or(0);
            w.sample(&SKIPPED, &[("reason", why.label())], n as f64);
        }
        if let Some(last) = &t.last {
            w.single(&TREE_BYTES, last.usage as f64);
            w.single(&TREE_FILES, last.files as f64);
            if let Some(oldest) = last.oldest {
                w.single(&OLDEST_FILE, oldest as f64);
            }
            w.single(&PASS_DURATION, last.took);
            w.single(&LAST_PASS, last.at);
        }
        w.single(&PASS_FAILURES, t.pass_failures as f64);
        if let Some((max_size, low_water)) = self.max_size {
            w.single(&MAX_SIZE, max_size as f64);
            w.single(&LOW_WATER, low_water as f64);
        }
        self.process.write(&mut w);
        common::build_info::write(&mut w, &BUILD_INFO);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_docs_table_is_the_declared_families() {
        common::prom::check_docs(super::FAMILIES, include_str!("../../../docs/sweep.md"));
    }

    #[test]
    fn a_scrape_writes_declared_families_only() {
        let stats = super::Stats::new(Some((1 << 20, 900 << 10)));
        stats.pass_failed();
        let pass = crate::pass::Report {
            usage: 4096,
            files: 1,
            oldest: Some(1_700_000_000),
            ..Default::default()
        };
        stats.record(&pass, false);
        let text = stats.render();
        assert_eq!(
            common::prom::check_scrape(super::FAMILIES, &text, &|_| false),
            Ok(())
        );
        let none: &[&str] = &[];
        assert_eq!(common::prom::unwritten(super::FAMILIES, &text), none);
        assert!(text.contains("\nsweep_max_size_bytes 1048576\n"), "{text}");
        assert!(text.contains("\nsweep_low_water_bytes 921600\n"), "{text}");
        assert!(text.contains("\nsweep_pass_failures_total 1\n"), "{text}");
        // Without --max-size there is no cap to say.
        let uncapped = super::Stats::new(None).render();
        assert!(!uncapped.contains("sweep_max_size_bytes"), "{uncapped}");
    }
}
