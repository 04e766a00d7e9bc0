//! Each interval: find the root to read the log in (`--root`, or the peer
//! that discovery found), read what is new, publish the totals, on one
//! fixed-rate schedule that skips rather than bunches after a long read.

use crate::by_field::ByField;
use crate::count::Counter;
use crate::discover::Source;
use crate::follow::Follower;
use crate::in_root::{Problem, Root};
use crate::options::Options;
use crate::publish::{self, Totals};
use common::cli::{Fatal, EXIT_FAILURE};
use common::log;
use common::schedule::Schedule;
use common::shutdown::Shutdown;
use std::sync::Mutex;
use std::time::Duration;

/// Follows the log until stopped (or once, with `--once`); returns the exit
/// status, or why it cannot go on.
pub fn run(options: &Options, totals: &Mutex<Totals>, shutdown: &Shutdown) -> Result<i32, Fatal> {
    let fixed = match &options.root {
        Some(dir) => Some(
            Root::open(dir).map_err(|e| Fatal::config(format!("--root {}: {e}", dir.display())))?,
        ),
        None => None,
    };
    // --once reads once: no waiting, the reason the log is not there is said.
    let wait = match options.once {
        true => Duration::ZERO,
        false => options.wait_for_peer,
    };
    let mut source =
        Source::new(fixed, &options.proc, &options.path, &options.peer).waiting_for_peer(wait);
    let mut follower = Follower::new(
        Counter::new(&options.matches).with_by(
            options
                .by
                .iter()
                .map(|(name, field)| ByField::new(name, field.clone(), options.max_values))
                .collect(),
            options.by_every_line,
        ),
        options.from_end,
        options.rotate_wait,
    );
    let poster = options
        .post
        .as_ref()
        .map(|url| publish::Poster::new(url, &options.path));
    let mut schedule = Schedule::new(options.interval, Duration::ZERO, false);
    let mut lines_before = 0;
    while schedule.wait(shutdown).is_some() {
        let read = match source.root() {
            Ok(Some(root)) => follower.poll(root, &options.path),
            Ok(None) => {
                follower.poll_rotated(None);
                Err(Problem::Absent)
            }
            Err(candidates) => {
                log::error(
                    "several containers have this file",
                    &[("candidates", &candidates)],
                );
                return Err(Fatal::config(format!(
                    "{} is in several containers' roots: {candidates}; pick one with --peer PID or --peer comm:NAME",
                    options.path.display()
                )));
            }
        };
        source.note(&read);
        let up = read.is_ok();
        let snapshot = {
            let mut totals = totals.lock().unwrap_or_else(|e| e.into_inner());
            totals.update(&follower, up, source.peer_pid());
            totals.clone()
        };
        if log::enabled(log::Level::Debug) {
            let new_lines = snapshot.lines - lines_before;
            log::debug(
                "read",
                &[
                    ("path", &options.path.display()),
                    ("up", &up),
                    ("new_lines", &new_lines),
                    ("lines", &snapshot.lines),
                    ("bytes", &snapshot.bytes),
                ],
            );
        }
        lines_before = snapshot.lines;
        if options.once {
            // Counts only of a log that was read: a missing one is its
            // stderr line and exit 1, not zeros a pipeline would take.
            if !up {
                return Ok(EXIT_FAILURE);
            }
            println!("{}", publish::json(&options.path, &snapshot));
            return Ok(0);
        }
        if let Some(poster) = &poster {
            poster.post(&snapshot);
        }
    }
    source.flush_log();
    if let Some(poster) = &poster {
        poster.flush_log();
    }
    log::info(
        "stopping",
        &[("signal", &shutdown.reason().unwrap_or("signal"))],
    );
    Ok(0)
}
