//! peerlog-count: find the main container's filesystem through
//! /proc/PID/root (with `shareProcessNamespace`), follow its log, and count
//! lines and matching lines, never losing one already counted.

mod by_field;
mod count;
mod discover;
mod families;
mod follow;
mod in_root;
mod json_pointer;
mod mapped;
mod newlines;
mod options;
mod publish;
mod run;

/// The metric families `/metrics` writes, for the tests that hold scrapes to them.
pub use families::FAMILIES;

use common::cli::Program;
use common::shutdown::Shutdown;
use publish::Totals;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROGRAM: Program = Program {
    name: "peerlog-count",
    help: options::HELP,
};

/// The program, from its command line to its exit.
pub fn main() {
    let options = PROGRAM.parse(options::parse);
    common::log::configure(options.log);
    let shutdown = Shutdown::install();
    // Whatever is in flight (a post to a receiver that never answers, a
    // read of a huge append), SIGTERM ends it within a second.
    shutdown.exit_within(Duration::from_millis(900));
    let totals = Arc::new(Mutex::new(Totals::new(&options.matches)));
    let metrics = publish::Metrics::new(totals.clone());
    PROGRAM.serve_metrics(
        options.listen.as_ref(),
        "peerlog-count: /metrics, /healthz\n",
        move || metrics.render(),
    );
    match run::run(&options, &totals, &shutdown) {
        Ok(status) => std::process::exit(status),
        Err(fatal) => PROGRAM.fail(fatal),
    }
}
