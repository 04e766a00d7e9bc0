//! The loop: wait for the next tick of the fixed-rate schedule (or the next
//! time of the cron schedule), run the job, record and log the run, and
//! decide whether to go on (`--count`, `--max-failures`, a stop signal).
//! Ticks that passed while a run was in flight, or while the process could
//! not run, are skipped and said why.

use crate::calendar::Calendar;
use crate::cron::format_utc;
use crate::job::run_once;
use crate::options::{Options, When};
use crate::program::Reaper;
use crate::stats::Stats;
use common::cli::EXIT_FAILURE;
use common::log::{self, Outage};
use common::schedule::Schedule;
use common::shutdown::Shutdown;
use net::client::Client;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A run is said to be late past this.
const LATE: Duration = Duration::from_secs(1);

/// The two kinds of schedule, behind one wait.
enum Timer {
    Interval(Schedule),
    Cron(Calendar),
}

/// A run due now.
struct Next {
    overran: u64,
    woke_late: u64,
    /// The cron time the run is for, and how late it starts.
    scheduled: Option<(i64, Duration)>,
}

impl Timer {
    fn new(options: &Options) -> Timer {
        match &options.when {
            When::Interval(interval) => Timer::Interval(Schedule::new(
                *interval,
                options.jitter,
                options.delay_first,
            )),
            When::Cron { expr, zone, .. } => Timer::Cron(Calendar::new(expr.clone(), zone.clone())),
        }
    }

    fn wait(&mut self, shutdown: &Shutdown) -> Option<Next> {
        match self {
            Timer::Interval(schedule) => schedule.wait(shutdown).map(|tick| Next {
                overran: tick.overran,
                woke_late: tick.woke_late,
                scheduled: None,
            }),
            Timer::Cron(calendar) => calendar.wait(shutdown).map(|due| Next {
                overran: due.overran,
                woke_late: due.missed,
                scheduled: Some((due.scheduled, due.late)),
            }),
        }
    }

    /// Unix time of the next run (before jitter).
    fn next_run(&self) -> f64 {
        match self {
            Timer::Interval(schedule) => {
                let ahead = schedule
                    .next_due()
                    .saturating_duration_since(Instant::now());
                (SystemTime::now() + ahead)
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64())
            }
            Timer::Cron(calendar) => calendar.next() as f64,
        }
    }

    /// INTERVAL, or the gap between the next two cron times, in seconds.
    fn interval(&self, options: &Options) -> f64 {
        match (self, &options.when) {
            (Timer::Cron(calendar), _) => calendar.gap() as f64,
            (_, When::Interval(interval)) => interval.as_secs_f64(),
            (_, When::Cron { .. }) => 0.0,
        }
    }

    fn woke_late_reason(&self) -> &'static str {
        match self {
            Timer::Interval(_) => "the process did not get to run (suspended or starved)",
            Timer::Cron(_) => "missed: the wall clock jumped forward, or the process was suspended; the latest runs now",
        }
    }
}

/// Runs the job on its schedule until done or stopped; returns the exit status.
pub fn run(options: &Options, stats: &Stats, shutdown: &Shutdown, reaper: &Reaper) -> i32 {
    let client =
        Client::new(concat!("every/", env!("CARGO_PKG_VERSION")), 0).with_tls(options.tls.clone());
    let mut timer = Timer::new(options);
    let (mut runs, mut failures_in_a_row) = (0u64, 0u64);
    let mut outage = Outage::new();
    let timeout = common::duration::format(options.timeout);
    let next = format_utc(timer.next_run() as i64);
    match &options.when {
        When::Interval(interval) => log::info(
            "scheduled",
            &[
                ("interval", &common::duration::format(*interval)),
                ("timeout", &timeout),
            ],
        ),
        When::Cron { text, .. } => log::info(
            "scheduled",
            &[("cron", text), ("next", &next), ("timeout", &timeout)],
        ),
    }
    stats.next_run(timer.next_run(), timer.interval(options));
    while let Some(tick) = timer.wait(shutdown) {
        stats.next_run(timer.next_run(), timer.interval(options));
        for (skipped, reason) in [
            (tick.overran, "previous run still in flight"),
            (tick.woke_late, timer.woke_late_reason()),
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
        let (ok, detail) = run_once(&options.job, options.timeout, &client, reaper, runs);
        let took = began.elapsed();
        stats.record(ok, took, tick.scheduled.map(|(at, _)| at));
        let result = if ok { "success" } else { "failure" };
        let duration = common::duration::format(took);
        let mut fields: Vec<log::Field> =
            vec![("run", &runs), ("result", &result), (detail.0, &detail.1)];
        let scheduled = tick.scheduled.map(|(at, _)| format_utc(at));
        if let Some(scheduled) = &scheduled {
            fields.push(("scheduled", scheduled));
        }
        fields.push(("start", &run_start));
        fields.push(("duration", &duration));
        let late = tick
            .scheduled
            .filter(|(_, late)| *late > LATE)
            .map(|(_, late)| common::duration::format(late));
        if let Some(late) = &late {
            fields.push(("late", late));
        }
        // Every success is a line; a long run of like failures is folded
        // to one line a minute (the metrics count each), and its end said.
        if ok {
            log::info("run", &fields);
            if let Some((lasted, failures)) = outage.success() {
                let lasted = common::duration::format(lasted);
                log::info("recovered", &[("outage", &lasted), ("failures", &failures)]);
            }
        } else {
            outage.say(
                log::Level::Warn,
                "run",
                &fields,
                &format!("{}={}", detail.0, detail.1),
            );
        }
        if log::enabled(log::Level::Debug) {
            let next = format_utc(timer.next_run() as i64);
            log::debug("next run", &[("next", &next)]);
        }
        failures_in_a_row = if ok { 0 } else { failures_in_a_row + 1 };
        if options
            .max_failures
            .is_some_and(|max| failures_in_a_row >= max)
        {
            outage.flush();
            log::error(
                "too many failures in a row",
                &[("failures", &failures_in_a_row)],
            );
            return EXIT_FAILURE;
        }
        if options.count.is_some_and(|count| runs >= count) {
            outage.flush();
            return if ok { 0 } else { EXIT_FAILURE };
        }
        if shutdown.requested() {
            break;
        }
    }
    outage.flush();
    log::info(
        "stopping",
        &[("signal", &shutdown.reason().unwrap_or("signal"))],
    );
    0
}
