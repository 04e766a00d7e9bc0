//! The main container dies (kill -9) and comes back while all the side-cars
//! watch it: ready-check turns 503 then 200, latency-exporter records the
//! failures then success, every counts its failed runs and resumes, and
//! peerlog-count finds the new process and loses no line.

use sidecars_tests::prom::{scrape, wait_for_sample};
use sidecars_tests::{
    free_loopback_addr, get, is_root, skip, static_bin, tempdir, wait_until, Daemon,
};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The app: a static stand-in chroot'ed into `root`, on `addr`.
fn start_app(root: &Path, addr: &str, log: &str) -> Daemon {
    Daemon::start_command(
        Command::new("chroot")
            .arg(root)
            .args(["/stand-in", "--listen", addr, "--log", log]),
        true,
    )
}

fn lines_in(path: &Path) -> f64 {
    std::fs::read(path)
        .unwrap()
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as f64
}

#[test]
fn the_main_container_killed_and_restarted_under_all_four_side_cars() {
    let stand_in = static_bin("stand-in");
    if !is_root() || !stand_in.exists() {
        return skip(
            "the_main_container_killed_and_restarted_under_all_four_side_cars",
            "needs root (chroot) and the static stand-in",
        );
    }
    let root = tempdir("faults-root");
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    std::fs::copy(&stand_in, root.join("stand-in")).unwrap();
    let log = format!("/var/log/sidecars-faults-{}.log", std::process::id());
    let log_on_host = root.join(log.trim_start_matches('/'));
    let addr = free_loopback_addr();
    let url = format!("http://{addr}/known-value");
    let mut app = start_app(&root, &addr, &log);

    let ready = Daemon::start(
        "ready-check",
        &[
            "--serve",
            "127.0.0.1:0",
            "--http",
            &url,
            "--json",
            "/value == 5",
        ],
    );
    let latency = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "50ms",
            "--timeout",
            "200ms",
            "--target",
            &format!("app={url}"),
        ],
    );
    let every = Daemon::start(
        "every",
        &[
            "50ms",
            "--timeout",
            "200ms",
            "--listen",
            "127.0.0.1:0",
            &format!("http://{addr}/flush_queues"),
        ],
    );
    let mut peerlog = Daemon::listening("peerlog-count", &["--interval", "50ms", &log]);

    // All well.
    assert_eq!(get(&ready.addr, "/ready").0, 200);
    wait_for_sample(&latency.addr, "probe_success{target=\"app\"}", |v| v == 1.0);
    wait_for_sample(&every.addr, "every_runs_total{result=\"success\"}", |v| {
        v >= 3.0
    });
    let first_pid = f64::from(app.pid());
    wait_for_sample(&peerlog.addr, "peerlog_peer_pid", |v| v == first_pid);

    // kill -9: nothing is cleaned up, the port and the PID just go.
    app.signal(libc::SIGKILL);
    app.wait_exit(Duration::from_secs(5));
    let (status, body) = get(&ready.addr, "/ready");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("connection refused"), "{body}");
    let failures = wait_for_sample(&latency.addr, "probe_success{target=\"app\"}", |v| v == 0.0)
        ["probe_total{target=\"app\",result=\"failure\"}"];
    assert!(failures >= 1.0);
    wait_for_sample(&every.addr, "every_runs_total{result=\"failure\"}", |v| {
        v >= 3.0
    });
    peerlog.wait_log("msg=\"peer gone; discovering again\"");
    let lines_before_restart = lines_in(&log_on_host);

    // The container restarts: a new process in the same filesystem.
    let app = start_app(&root, &addr, &log);
    wait_until(
        "ready-check to answer 200 again",
        Duration::from_secs(10),
        || get(&ready.addr, "/ready").0 == 200,
    );
    wait_for_sample(&latency.addr, "probe_success{target=\"app\"}", |v| v == 1.0);
    let before = scrape(&every.addr).1["every_runs_total{result=\"success\"}"];
    wait_for_sample(&every.addr, "every_runs_total{result=\"success\"}", |v| {
        v >= before + 3.0
    });
    let second_pid = f64::from(app.pid());
    wait_for_sample(&peerlog.addr, "peerlog_peer_pid", |v| v == second_pid);
    // Every line of both lives of the app, once: the file is the same one.
    for _ in 0..5 {
        get(&addr, "/known-value");
    }
    assert!(lines_in(&log_on_host) > lines_before_restart);
    wait_until(
        "peerlog-count to count every line once",
        Duration::from_secs(10),
        || scrape(&peerlog.addr).1["peerlog_lines_total"] == lines_in(&log_on_host),
    );
    assert_eq!(scrape(&peerlog.addr).1["peerlog_rotations_total"], 0.0);
}
