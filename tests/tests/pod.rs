//! A whole Pod, for real, on the Docker engine: a pause-like first container
//! holds the namespaces and is PID 1, the stand-in app runs in its own
//! scratch image writing its log in its own filesystem, and the four
//! side-cars join it with the users and capabilities the manifests set. A
//! real Prometheus scrapes them through ports published on 127.0.0.1.

use sidecars_tests::docker::{sidecars_image, stand_in_image, unavailable, Container};
use sidecars_tests::prom::{scrape, wait_for_sample};
use sidecars_tests::prometheus::Prometheus;
use sidecars_tests::{get, skip, wait_until};
use std::time::{Duration, Instant};

#[test]
fn a_whole_pod_runs_and_stops_cleanly() {
    if let Some(why) = unavailable() {
        return skip("a_whole_pod_runs_and_stops_cleanly", &why);
    }
    let image = sidecars_image();
    // The pause container: `every` with nothing due for a year is PID 1,
    // reaps orphans and stops on SIGTERM, which is all a pause does.
    let publish = ["8080", "8081", "9100", "9101", "9102"].map(|p| format!("127.0.0.1::{p}"));
    let mut args: Vec<&str> = publish.iter().flat_map(|p| ["-p", p.as_str()]).collect();
    args.extend([
        image.as_str(),
        "every",
        "8760h",
        "--delay-first",
        "--",
        "pause",
    ]);
    let pause = Container::run("pause", &args);
    pause.wait_log("msg=scheduled");
    let namespaces = format!("container:{}", pause.name);
    let join = [
        "--network",
        namespaces.as_str(),
        "--pid",
        namespaces.as_str(),
    ];
    let locked = [
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
    ];
    let with = |user: &'static str, rest: &[&str]| -> Vec<String> {
        join.iter()
            .chain(&locked)
            .chain(&["--user", user])
            .chain(rest)
            .map(|s| s.to_string())
            .collect()
    };
    let run = |name: &str, args: Vec<String>| {
        Container::run(name, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // The app: read-only root, its log on a writable tmpfs (the manifests' emptyDir).
    let stand_in = stand_in_image();
    let app = run(
        "app",
        with(
            "101:101",
            &[
                "--tmpfs",
                "/var/log/app:uid=101,gid=101,mode=0755",
                &stand_in,
            ],
        ),
    );
    let started = Instant::now();
    let ready = run(
        "ready-check",
        with(
            "65532:65532",
            &[
                &image,
                "ready-check",
                "--serve",
                ":8081",
                "--http",
                "http://127.0.0.1:8080/known-value",
                "--json",
                "/value == 5",
            ],
        ),
    );
    let latency = run(
        "latency-exporter",
        with(
            "65532:65532",
            &[
                &image,
                "latency-exporter",
                "--listen",
                ":9100",
                "--interval",
                "500ms",
                "--target",
                "app=http://127.0.0.1:8080/known-value",
            ],
        ),
    );
    let every = run(
        "every",
        with(
            "65532:65532",
            &[
                &image,
                "every",
                "200ms",
                "--listen",
                ":9101",
                "http://127.0.0.1:8080/flush_queues",
            ],
        ),
    );
    // The app's UID, so that its /proc/PID/root is ours to read.
    let peerlog = run(
        "peerlog-count",
        with(
            "101:101",
            &[
                &image,
                "peerlog-count",
                "--listen",
                ":9102",
                "--interval",
                "200ms",
                "/var/log/app/app.log",
            ],
        ),
    );

    let app_addr = pause.published(8080);
    let ready_addr = pause.published(8081);
    let (latency_addr, every_addr, peerlog_addr) = (
        pause.published(9100),
        pause.published(9101),
        pause.published(9102),
    );

    // ready-check passes, then fails when the app turns unready, and back.
    wait_until("ready-check to answer 200", Duration::from_secs(10), || {
        sidecars_tests::http(&ready_addr, "GET", "/ready").is_ok_and(|(s, _, _)| s == 200)
    });
    get(&app_addr, "/set?value=4");
    let (status, body) = get(&ready_addr, "/ready");
    assert_eq!(
        (status, body.as_str()),
        (
            503,
            "FAIL http://127.0.0.1:8080/known-value: /value is 4, want == 5\n"
        )
    );
    get(&app_addr, "/set?value=5");
    assert_eq!(get(&ready_addr, "/ready").0, 200);

    // peerlog-count found the app by its root, not the namespace's PID 1.
    let found = peerlog.wait_log("msg=\"peer found\"");
    assert!(found.contains("comm=stand-in"), "{found}");
    let peer_pid = wait_for_sample(&peerlog_addr, "peerlog_up", |v| v == 1.0)["peerlog_peer_pid"];
    assert!(peer_pid > 1.0, "picked PID {peer_pid}");

    // A real Prometheus sees the probe and the line count.
    if let Some(prometheus) = Prometheus::start(&[&latency_addr, &every_addr, &peerlog_addr]) {
        prometheus.wait_for("probe_success{target=\"app\"}", |v| v == 1.0);
        prometheus.wait_for("peerlog_lines_total", |v| v > 0.0);
        prometheus.wait_for("sum(every_runs_total)", |v| v > 0.0);
    } else {
        skip(
            "a_whole_pod_runs_and_stops_cleanly (Prometheus part)",
            "prometheus is not installed",
        );
    }

    // every reaches its endpoint on schedule: one run per 200 ms since it
    // started, none skipped, each one seen by the app.
    let runs = wait_for_sample(&every_addr, "every_runs_total{result=\"success\"}", |v| {
        v >= 10.0
    });
    let elapsed = started.elapsed().as_secs_f64();
    let expected = elapsed / 0.2;
    let done = runs["every_runs_total{result=\"success\"}"];
    assert!(
        done <= expected + 1.0 && done >= expected - 10.0,
        "{done} runs in {elapsed:.1}s at 200ms"
    );
    assert_eq!(runs["every_skipped_total"], 0.0);

    // Stop the load makers as the kubelet stops side-cars: SIGTERM, exit 0 within 1 s.
    stop_cleanly(&[&every, &latency, &ready]);
    let flushes = get(&app_addr, "/stats").1;
    let flushes: f64 = flushes
        .split("\"flushes\": ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        flushes >= done,
        "the app saw {flushes} flushes of {done} runs"
    );

    // The log is quiet now: peerlog-count counts exactly its lines, read here
    // through the app's root as the host sees it.
    let log = std::fs::read(format!("/proc/{}/root/var/log/app/app.log", app.host_pid())).unwrap();
    let lines = log.iter().filter(|&&b| b == b'\n').count() as f64;
    assert!(lines > 20.0);
    wait_for_sample(&peerlog_addr, "peerlog_lines_total", |v| v == lines);
    assert_eq!(
        scrape(&peerlog_addr).1["peerlog_bytes_total"],
        log.len() as f64
    );

    stop_cleanly(&[&peerlog, &app, &pause]);
}

/// SIGTERM each in turn (the pause container last, as the kubelet does):
/// each must exit 0 within a second.
fn stop_cleanly(containers: &[&Container]) {
    for container in containers {
        let (code, took) = container.stop();
        assert_eq!(
            code,
            0,
            "{} exited {code}: {}",
            container.name,
            container.logs()
        );
        assert!(
            took < Duration::from_secs(1),
            "{} took {took:?} to stop",
            container.name
        );
    }
}
