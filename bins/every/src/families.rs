//! every's metric families, declared once: name, type, HELP and labels.
//! `/metrics` writes them, and the tests hold docs/every.md and every
//! scrape to this list. The e2e tests include this file by path, so that
//! they need not build the side-car's crate to know its families.

use common::prom::{Family, Kind};

pub const FAMILIES: &[&[&Family]] = &[
    &[
        &RUNS,
        &SKIPPED,
        &RUN_DURATION,
        &LAST_SUCCESS,
        &NEXT_RUN,
        &LAST_SCHEDULED,
        &FAILURES_IN_A_ROW,
        &INTERVAL,
        &BUILD_INFO,
    ],
    common::process_metrics::FAMILIES,
];

pub(crate) const RUNS: Family = Family::new(
    "every_runs_total",
    Kind::Counter,
    "Runs since start, by result.",
    &["result"],
);
pub(crate) const SKIPPED: Family = Family::new(
    "every_skipped_total",
    Kind::Counter,
    "Ticks skipped: the previous run was still in flight, or they passed while the process could not run (the latest of those runs late).",
    &[],
);
pub(crate) const RUN_DURATION: Family = Family::new(
    "every_run_duration_seconds",
    Kind::Histogram,
    "Duration of every run since start.",
    &[],
);
pub(crate) const LAST_SUCCESS: Family = Family::new(
    "every_last_success_timestamp_seconds",
    Kind::Gauge,
    "Unix time of the last successful run's end.",
    &[],
);
pub(crate) const NEXT_RUN: Family = Family::new(
    "every_next_run_timestamp_seconds",
    Kind::Gauge,
    "Unix time the next run is due.",
    &[],
);
pub(crate) const LAST_SCHEDULED: Family = Family::new(
    "every_last_run_scheduled_timestamp_seconds",
    Kind::Gauge,
    "The cron time (Unix time) the last run was for.",
    &[],
);
pub(crate) const FAILURES_IN_A_ROW: Family = Family::new(
    "every_failures_in_a_row",
    Kind::Gauge,
    "Runs that failed since the last success (0 after a success).",
    &[],
);
pub(crate) const INTERVAL: Family = Family::new(
    "every_interval_seconds",
    Kind::Gauge,
    "INTERVAL, or with --cron the gap between the next two cron times: what alerts count intervals in.",
    &[],
);
pub(crate) const BUILD_INFO: Family = common::build_info::family("every_build_info");
