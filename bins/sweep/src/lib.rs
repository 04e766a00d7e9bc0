//! sweep: garbage-collects the files the main container leaves in a shared
//! volume (an emptyDir), by age and by size, walking it by file descriptor.

mod families;
mod glob;
mod locks;
mod options;
mod pass;
mod stats;
mod walk;

/// The metric families `/metrics` writes, for the tests that hold scrapes to them.
pub use families::FAMILIES;

use common::cli::{Fatal, Program, EXIT_FAILURE};
use common::log::{self, Outage};
use common::schedule::Schedule;
use common::shutdown::Shutdown;
use stats::Stats;
use std::sync::Arc;
use std::time::Duration;

const PROGRAM: Program = Program {
    name: "sweep",
    help: options::HELP,
};

/// The program, from its command line to its exit.
pub fn main() {
    let options = PROGRAM.parse(options::parse);
    common::log::configure(options.log);
    if let Err(why) = check_dir(&options.dir) {
        PROGRAM.fail(Fatal::config(why));
    }
    let shutdown = Shutdown::install();
    // A walk looks at the stop request every few hundred entries; a
    // filesystem that hangs a syscall is bounded here.
    shutdown.exit_within(Duration::from_millis(900));
    let max_size = options.max_size.map(|max| (max, options.low_water));
    let stats = Arc::new(Stats::new(max_size));
    let rendered = stats.clone();
    PROGRAM.serve_metrics(
        options.listen.as_ref(),
        "sweep: /metrics, /healthz\n",
        move || rendered.render(),
    );
    let mut outages: Vec<(&'static str, Outage)> = Vec::new();
    let mut schedule = Schedule::new(options.interval, Duration::ZERO, false);
    let mut status = 0;
    while schedule.wait(&shutdown).is_some() {
        match pass::pass(&options.dir, &options, &shutdown) {
            Ok(report) => {
                stats.record(&report, options.dry_run);
                say(&report, options.dry_run, &mut outages);
                say_unmatched(&report, &options);
                status = 0;
            }
            Err(why) => {
                stats.pass_failed();
                let outage = outage_for(&mut outages, "dir");
                outage.failed("pass failed", &[], ("error", &why));
                status = EXIT_FAILURE;
            }
        }
        if options.once || shutdown.requested() {
            break;
        }
    }
    for (_, outage) in &mut outages {
        outage.flush();
    }
    if !options.once {
        log::info(
            "stopping",
            &[("signal", &shutdown.reason().unwrap_or("signal"))],
        );
    }
    std::process::exit(if options.once { status } else { 0 });
}

/// DIR exists, is a directory, and is not `/`.
fn check_dir(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).map_err(|e| format!("DIR {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("DIR {}: not a directory", dir.display()));
    }
    let root = std::fs::metadata("/").map_err(|e| format!("/: {e}"))?;
    if (meta.dev(), meta.ino()) == (root.dev(), root.ino()) {
        return Err(format!(
            "DIR {}: is /, which sweep never sweeps",
            dir.display()
        ));
    }
    Ok(())
}

fn outage_for<'a>(
    outages: &'a mut Vec<(&'static str, Outage)>,
    key: &'static str,
) -> &'a mut Outage {
    let at = match outages.iter().position(|(k, _)| *k == key) {
        Some(at) => at,
        None => {
            outages.push((key, Outage::new()));
            outages.len() - 1
        }
    };
    &mut outages[at].1
}

/// The excludes that matched nothing: a warning on a dry run, which is
/// where a filter is tried, and at debug on every pass.
fn say_unmatched(report: &pass::Report, options: &options::Options) {
    for text in report.unmatched(&options.excludes) {
        let fields: &[log::Field] = &[("exclude", &text)];
        let msg = "exclude matched nothing: it protects nothing";
        match options.dry_run {
            true => log::warn(msg, fields),
            false => log::debug(msg, fields),
        }
    }
}

/// One line for the pass, then its problems under the quiet-log rule.
fn say(report: &pass::Report, dry_run: bool, outages: &mut Vec<(&'static str, Outage)>) {
    let deleted = report.deleted[0] + report.deleted[1];
    let freed = report.freed[0] + report.freed[1];
    let skipped: u64 = report.skipped.values().sum();
    let took = common::duration::format(report.took);
    let first = report.paths.join(", ");
    let mut fields: Vec<log::Field> = vec![
        ("scanned", &report.scanned),
        ("deleted", &deleted),
        ("freed", &freed),
        ("by_age", &report.deleted[0]),
        ("by_size", &report.deleted[1]),
        ("usage", &report.usage),
        ("files", &report.files),
        ("skipped", &skipped),
        ("duration", &took),
    ];
    if report.dirs_removed > 0 {
        fields.push(("dirs", &report.dirs_removed));
    }
    if report.stopped {
        fields.push(("stopped", &"true"));
    }
    if dry_run {
        fields.push(("first", &first));
        log::info("dry run: a pass would delete", &fields);
    } else {
        log::info("pass", &fields);
    }
    for (what, path, count) in &report.problems {
        let outage = outage_for(outages, what);
        outage.say(
            log::Level::Warn,
            what,
            &[("path", path), ("count", count)],
            what,
        );
    }
    let seen: Vec<&str> = report.problems.iter().map(|(w, _, _)| *w).collect();
    for (key, outage) in outages.iter_mut() {
        if !seen.contains(key) && *key != "dir" {
            outage.succeeded("resolved", &[("problem", key)]);
        }
    }
    if let Some((_, outage)) = outages.iter_mut().find(|(k, _)| *k == "dir") {
        outage.succeeded("DIR readable again", &[]);
    }
    if report.hard_link_table_full {
        let outage = outage_for(outages, "links");
        outage.say(
            log::Level::Info,
            "more hard-linked files than remembered: further links counted again (usage over-stated)",
            &[("remembered", &pass::MAX_LINKED_INODES)],
            "links",
        );
    }
}
