//! What the passes did, as Prometheus metrics with `--listen`.

use crate::pass::{Report, Skip};
use common::process_metrics::ProcessMetrics;
use common::prom::{Family, Kind, Writer};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// sweep's families, declared once: `/metrics` writes them from here, and
/// the tests hold docs/sweep.md and every scrape to the list.
pub const FAMILIES: &[&[&Family]] = &[
    &[
        &DELETED_FILES,
        &DELETED_BYTES,
        &DELETED_DIRS,
        &SKIPPED,
        &TREE_BYTES,
        &TREE_FILES,
        &OLDEST_FILE,
        &PASS_DURATION,
        &LAST_PASS,
        &BUILD_INFO,
    ],
    common::process_metrics::FAMILIES,
];

const DELETED_FILES: Family = Family::new(
    "sweep_deleted_files_total",
    Kind::Counter,
    "Files and symlinks deleted, by reason.",
    &["reason"],
);
const DELETED_BYTES: Family = Family::new(
    "sweep_deleted_bytes_total",
    Kind::Counter,
    "Bytes freed by deleting files (st_blocks * 512 of single-link inodes), by reason.",
    &["reason"],
);
const DELETED_DIRS: Family = Family::new(
    "sweep_deleted_dirs_total",
    Kind::Counter,
    "Empty directories deleted (--remove-empty-dirs).",
    &[],
);
const SKIPPED: Family = Family::new(
    "sweep_skipped_total",
    Kind::Counter,
    "Entries left alone, by reason.",
    &["reason"],
);
const TREE_BYTES: Family = Family::new(
    "sweep_tree_bytes",
    Kind::Gauge,
    "DIR's usage after the last pass, as the kubelet counts an emptyDir.",
    &[],
);
const TREE_FILES: Family = Family::new(
    "sweep_tree_files",
    Kind::Gauge,
    "Files and symlinks under DIR after the last pass.",
    &[],
);
const OLDEST_FILE: Family = Family::new(
    "sweep_oldest_file_timestamp_seconds",
    Kind::Gauge,
    "Unix time (by --age-by) of the oldest file left after the last pass.",
    &[],
);
const PASS_DURATION: Family = Family::new(
    "sweep_pass_duration_seconds",
    Kind::Gauge,
    "How long the last pass took.",
    &[],
);
const LAST_PASS: Family = Family::new(
    "sweep_last_pass_timestamp_seconds",
    Kind::Gauge,
    "Unix time the last complete pass ended.",
    &[],
);
const BUILD_INFO: Family = common::build_info::family("sweep_build_info");

pub struct Stats {
    totals: Mutex<Totals>,
    process: ProcessMetrics,
}

#[derive(Default)]
struct Totals {
    deleted: [u64; 2],
    freed: [u64; 2],
    dirs_removed: u64,
    skipped: BTreeMap<Skip, u64>,
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
    pub fn new() -> Stats {
        Stats {
            totals: Mutex::new(Totals::default()),
            process: ProcessMetrics::new(),
        }
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
        let stats = super::Stats::new();
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
    }
}
