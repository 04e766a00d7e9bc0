//! latency-exporter's accuracy. It needs the machine to itself while
//! latencies are measured, so it is ignored in the parallel run and run
//! alone after it (`scripts/test` does: `cargo test --test e2e -- --ignored`).

use sidecars_tests::prom::scrape;
use sidecars_tests::target::{Reply, Target};
use sidecars_tests::{wait_until, Daemon};
use std::collections::BTreeMap;
use std::time::Duration;

#[test]
#[ignore = "measures latencies: run alone, after the rest (scripts/test does)"]
fn the_exported_latency_is_the_targets() {
    let slow = Target::start(|_| Reply::delayed(Duration::from_millis(40), "{}"));
    let fast = Daemon::start("stand-in", &["--listen", "127.0.0.1:0"]);
    let exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "50ms",
            "--target",
            &format!("slow={}", slow.url("/")),
            "--target",
            &format!("fast=http://{}/", fast.addr),
        ],
    );
    // The target sleeps 40 ms and a busy machine only ever adds to that:
    // no probe may read less, and the best of ten must be within 2 ms.
    let mut slow_durations = Vec::new();
    let mut values = BTreeMap::new();
    wait_until("ten probes of each target", Duration::from_secs(20), || {
        values = scrape(&exporter.addr).1;
        if let Some(&d) = values.get("probe_duration_seconds{target=\"slow\"}") {
            if slow_durations.last() != Some(&d) {
                slow_durations.push(d);
            }
        }
        let fast_probes = values.get("probe_latency_seconds_count{target=\"fast\"}");
        slow_durations.len() >= 10 && fast_probes.is_some_and(|n| *n >= 20.0)
    });
    let best = slow_durations.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(
        (0.040..0.042).contains(&best),
        "40 ms target exported at best as {best}: {slow_durations:?}"
    );
    // Nearly every loopback probe of a fast target is under a millisecond.
    let count = values["probe_latency_seconds_count{target=\"fast\"}"];
    let under_1ms = values["probe_latency_seconds_bucket{target=\"fast\",le=\"0.001\"}"];
    assert!(
        under_1ms / count >= 0.9,
        "{under_1ms} of {count} probes under 1 ms"
    );
}
