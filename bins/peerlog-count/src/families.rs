//! peerlog-count's metric families, declared once: name, type, HELP and labels.
//! `/metrics` writes them, and the tests hold docs/peerlog-count.md and every
//! scrape to this list. The e2e tests include this file by path, so that
//! they need not build the side-car's crate to know its families.

use common::prom::{Family, Kind};

pub const FAMILIES: &[&[&Family]] = &[
    &[
        &LINES,
        &MATCHED,
        &LINES_BY,
        &VALUES_DROPPED,
        &BYTES,
        &ROTATIONS,
        &TRUNCATIONS,
        &UNRECOVERED,
        &UP,
        &PEER_PID,
        &BUILD_INFO,
    ],
    common::process_metrics::FAMILIES,
];

pub(crate) const LINES: Family = Family::new(
    "peerlog_lines_total",
    Kind::Counter,
    "Complete lines read from the log since start.",
    &[],
);
pub(crate) const MATCHED: Family = Family::new(
    "peerlog_matched_lines_total",
    Kind::Counter,
    "Complete lines containing each --match TEXT.",
    &["match"],
);
pub(crate) const LINES_BY: Family = Family::new(
    "peerlog_lines_by_total",
    Kind::Counter,
    "Complete lines by the value of each --by field (\"\" without the field, \"other\" past --max-values).",
    &["by", "value"],
);
pub(crate) const VALUES_DROPPED: Family = Family::new(
    "peerlog_values_dropped_total",
    Kind::Counter,
    "Lines counted under \"other\" because their --by value came after --max-values distinct ones.",
    &["by"],
);
pub(crate) const BYTES: Family = Family::new(
    "peerlog_bytes_total",
    Kind::Counter,
    "Bytes read from the log since start.",
    &[],
);
pub(crate) const ROTATIONS: Family = Family::new(
    "peerlog_rotations_total",
    Kind::Counter,
    "Times the log was replaced or removed (the old one read on until quiet for --rotate-wait), counting generations found in its directory that were created and renamed away between two reads.",
    &[],
);
pub(crate) const TRUNCATIONS: Family = Family::new(
    "peerlog_truncations_total",
    Kind::Counter,
    "Times the log was truncated in place (copytruncate) and read again from its start.",
    &[],
);
pub(crate) const UNRECOVERED: Family = Family::new(
    "peerlog_truncations_unrecovered_total",
    Kind::Counter,
    "Truncations whose copy was not found in the log's directory (compressed or removed at once): lines written since the last read may be lost.",
    &[],
);
pub(crate) const UP: Family = Family::new(
    "peerlog_up",
    Kind::Gauge,
    "Whether the log was found and read at the last interval.",
    &[],
);
pub(crate) const PEER_PID: Family = Family::new(
    "peerlog_peer_pid",
    Kind::Gauge,
    "PID of the process through whose root the log is read.",
    &[],
);
pub(crate) const BUILD_INFO: Family = common::build_info::family("peerlog_build_info");
