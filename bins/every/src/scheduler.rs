//! The loop: wait for the next tick of the fixed-rate schedule, run the job,
//! record and log the run, and decide whether to go on (`--count`,
//! `--max-failures`, a stop signal). Ticks that passed while a run was in
//! flight, or while the process could not run, are skipped and said why.

use crate::job::run_once;
use crate::options::Options;
use crate::program::Reaper;
use crate::stats::Stats;
use common::cli::EXIT_FAILURE;
use common::client::Client;
use common::log::{self, Outage, Said};
use common::schedule::Schedule;
use common::shutdown::Shutdown;
use std::time::Instant;

/// Runs the job on its schedule until done or stopped; returns the exit status.
pub fn run(options: &Options, stats: &Stats, shutdown: &Shutdown, reaper: &Reaper) -> i32 {
    let client = Client::new(concat!("every/", env!("CARGO_PKG_VERSION")), false);
    let mut schedule = Schedule::new(options.interval, options.jitter, options.delay_first);
    let (mut runs, mut failures_in_a_row) = (0u64, 0u64);
    let mut outage = Outage::new();
    log::info(
        "scheduled",
        &[
            ("interval", &common::duration::format(options.interval)),
            ("timeout", &common::duration::format(options.timeout)),
        ],
    );
    while let Some(tick) = schedule.wait(shutdown) {
        for (skipped, reason) in [
            (tick.overran, "previous run still in flight"),
            (
                tick.woke_late,
                "the process did not get to run (suspended or starved)",
            ),
        ] {
            if skipped > 0 {
                stats.skipped(skipped);
                log::warn(
                    "skipped ticks",
                    &[("skipped", &skipped), ("reason", &reason)],
                );
            }
        }
        runs += 1;
        let began = Instant::now();
        let run_start = log::timestamp(std::time::SystemTime::now());
        let (ok, detail) = run_once(&options.job, options.timeout, &client, reaper);
        let took = began.elapsed();
        stats.record(ok, took);
        let result = if ok { "success" } else { "failure" };
        let duration = common::duration::format(took);
        let fields: [log::Field; 5] = [
            ("run", &runs),
            ("result", &result),
            (detail.0, &detail.1),
            ("start", &run_start),
            ("duration", &duration),
        ];
        // Every success is a line; a long run of like failures is folded
        // to one line a minute (the metrics count each), and its end said.
        if ok {
            log::info("run", &fields);
            if let Some((lasted, failures)) = outage.success() {
                let lasted = common::duration::format(lasted);
                log::info("recovered", &[("outage", &lasted), ("failures", &failures)]);
            }
        } else if let Said::Now { folded } = outage.failure(&format!("{}={}", detail.0, detail.1)) {
            let mut all = fields.to_vec();
            if folded > 0 {
                all.push(("repeated", &folded));
            }
            log::warn("run", &all);
        }
        failures_in_a_row = if ok { 0 } else { failures_in_a_row + 1 };
        if options
            .max_failures
            .is_some_and(|max| failures_in_a_row >= max)
        {
            log::error(
                "too many failures in a row",
                &[("failures", &failures_in_a_row)],
            );
            return EXIT_FAILURE;
        }
        if options.count.is_some_and(|count| runs >= count) {
            return if ok { 0 } else { EXIT_FAILURE };
        }
        if shutdown.requested() {
            break;
        }
    }
    log::info(
        "stopping",
        &[("signal", &shutdown.reason().unwrap_or("signal"))],
    );
    0
}
