//! When targets are probed: each on its own fixed-rate schedule, or all at
//! once on a scrape (`--interval scrape`), concurrent scrapes sharing one
//! round of probes bounded by Prometheus's scrape timeout.

use crate::board::Board;
use crate::probe::Prober;
use common::schedule::Schedule;
use common::server::{metrics_response, SharedRun};
use common::shutdown::Shutdown;
use std::sync::Arc;
use std::time::Duration;

/// Starts a thread per target probing it at a fixed rate: probe k starts
/// at start + k*interval; one that overruns its slot skips, never drifts.
pub fn every(
    interval: Duration,
    timeout: Duration,
    board: &Arc<Board>,
    prober: &Arc<Prober>,
    shutdown: &Shutdown,
) {
    for index in 0..board.targets.len() {
        let (board, prober, shutdown) = (board.clone(), prober.clone(), shutdown.clone());
        std::thread::Builder::new()
            .name(format!("probe-{index}"))
            .spawn(move || {
                let mut schedule = Schedule::new(interval, Duration::ZERO, false);
                while schedule.wait(&shutdown).is_some() {
                    board.record(index, prober.probe(&board.targets[index], timeout));
                }
            })
            .expect("spawn a probe thread");
    }
}

/// Probes every target when a scrape asks, within the tightest scrape
/// deadline among the waiting scrapes (and `timeout` at most).
pub fn on_scrape(board: Arc<Board>, prober: Arc<Prober>, timeout: Duration) -> SharedRun<String> {
    let run = move |budget: Duration| {
        probe_all(&board, &prober, budget);
        board.render()
    };
    SharedRun::start("scrape-probes", timeout, Duration::ZERO, run, |text| {
        metrics_response(text.clone())
    })
}

/// Probes every target at once, so a scrape waits for the slowest only.
fn probe_all(board: &Board, prober: &Prober, timeout: Duration) {
    std::thread::scope(|scope| {
        for (index, target) in board.targets.iter().enumerate() {
            scope.spawn(move || board.record(index, prober.probe(target, timeout)));
        }
    });
}
