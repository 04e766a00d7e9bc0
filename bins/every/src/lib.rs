//! every: run an HTTP request or a program on a fixed-rate schedule that
//! never drifts and never overlaps itself, or at the times of a cron
//! expression.

mod calendar;
mod cron;
mod families;
mod job;
mod options;
mod output;
mod program;
mod scheduler;
mod stats;

/// The metric families `/metrics` writes, for the tests that hold scrapes to them.
pub use families::FAMILIES;

use common::cli::Program;
use common::shutdown::Shutdown;
use stats::Stats;
use std::sync::Arc;

const PROGRAM: Program = Program {
    name: "every",
    help: options::HELP,
};

/// The program, from its command line to its exit.
pub fn main() {
    let (args, program) = options::split_program(std::env::args_os().skip(1).collect());
    let options = PROGRAM.parse_from(lexopt::Parser::from_args(args), |parser| {
        options::parse(parser, program)
    });
    common::log::configure(options.log);
    let (shutdown, children) = Shutdown::install_reaping();
    let stats = Arc::new(Stats::new());
    let rendered = stats.clone();
    PROGRAM.serve_metrics(
        options.listen.as_ref(),
        "every: /metrics, /healthz\n",
        move || rendered.render(),
    );
    let output = match (&options.job, options.passthrough_logs) {
        (options::Job::Program(_), false) => Some(output::Pump::start()),
        _ => None,
    };
    let reaper = program::Reaper::start(children, output);
    let status = scheduler::run(&options, &stats, &shutdown, &reaper);
    reaper.drain_output();
    std::process::exit(status);
}
