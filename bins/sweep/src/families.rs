//! sweep's metric families, declared once: name, type, HELP and labels.
//! `/metrics` writes them, and the tests hold docs/sweep.md and every
//! scrape to this list. The e2e tests include this file by path, so that
//! they need not build the side-car's crate to know its families.

use common::prom::{Family, Kind};

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
        &PASS_FAILURES,
        &MAX_SIZE,
        &LOW_WATER,
        &BUILD_INFO,
    ],
    common::process_metrics::FAMILIES,
];

pub(crate) const DELETED_FILES: Family = Family::new(
    "sweep_deleted_files_total",
    Kind::Counter,
    "Files and symlinks deleted, by reason.",
    &["reason"],
);
pub(crate) const DELETED_BYTES: Family = Family::new(
    "sweep_deleted_bytes_total",
    Kind::Counter,
    "Bytes freed by deleting files (st_blocks * 512 of single-link inodes), by reason.",
    &["reason"],
);
pub(crate) const DELETED_DIRS: Family = Family::new(
    "sweep_deleted_dirs_total",
    Kind::Counter,
    "Empty directories deleted (--remove-empty-dirs).",
    &[],
);
pub(crate) const SKIPPED: Family = Family::new(
    "sweep_skipped_total",
    Kind::Counter,
    "Entries left alone, by reason.",
    &["reason"],
);
pub(crate) const TREE_BYTES: Family = Family::new(
    "sweep_tree_bytes",
    Kind::Gauge,
    "DIR's usage after the last pass, as the kubelet counts an emptyDir.",
    &[],
);
pub(crate) const TREE_FILES: Family = Family::new(
    "sweep_tree_files",
    Kind::Gauge,
    "Files and symlinks under DIR after the last pass.",
    &[],
);
pub(crate) const OLDEST_FILE: Family = Family::new(
    "sweep_oldest_file_timestamp_seconds",
    Kind::Gauge,
    "Unix time (by --age-by) of the oldest file left after the last pass.",
    &[],
);
pub(crate) const PASS_DURATION: Family = Family::new(
    "sweep_pass_duration_seconds",
    Kind::Gauge,
    "How long the last pass took.",
    &[],
);
pub(crate) const LAST_PASS: Family = Family::new(
    "sweep_last_pass_timestamp_seconds",
    Kind::Gauge,
    "Unix time the last complete pass ended.",
    &[],
);
pub(crate) const PASS_FAILURES: Family = Family::new(
    "sweep_pass_failures_total",
    Kind::Counter,
    "Passes that could not run: DIR gone, not a directory, or not readable.",
    &[],
);
pub(crate) const MAX_SIZE: Family = Family::new(
    "sweep_max_size_bytes",
    Kind::Gauge,
    "--max-size: the usage a size pass keeps DIR at or below.",
    &[],
);
pub(crate) const LOW_WATER: Family = Family::new(
    "sweep_low_water_bytes",
    Kind::Gauge,
    "--low-water: where a size pass stops deleting.",
    &[],
);
pub(crate) const BUILD_INFO: Family = common::build_info::family("sweep_build_info");
