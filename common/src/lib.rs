//! The conventions every side-car shares: the command line, durations and
//! sizes, logging, shutdown, schedules, the /metrics server and its text.
//! Each module is one concern; a binary's own logic stays in its own crate,
//! and what speaks HTTP out is in `net`.

pub mod build_info;
pub mod civil;
pub mod cli;
pub mod duration;
pub mod file;
pub mod flag;
pub mod log;
pub mod process_metrics;
pub mod prom;
pub mod schedule;
pub mod server;
pub mod shutdown;
