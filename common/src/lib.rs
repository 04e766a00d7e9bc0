//! What the sidecars binaries share. Each module is one concern; a binary's own
//! logic stays in its own crate.

pub mod answer;
pub mod build_info;
pub mod civil;
pub mod cli;
pub mod client;
pub mod condition;
pub mod duration;
pub mod file;
pub mod json_condition;
pub mod log;
pub mod process_metrics;
pub mod prom;
pub mod schedule;
pub mod server;
pub mod shutdown;
pub mod tls;
pub mod x509;
