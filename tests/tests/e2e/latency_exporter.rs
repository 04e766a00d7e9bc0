//! latency-exporter: what Prometheus scrapes, in every state, checked by
//! promtool and value by value, and scraped by a real Prometheus.

use sidecars_tests::prom::{scrape_checked, wait_for_sample};
use sidecars_tests::prometheus::Prometheus;
use sidecars_tests::target::{Reply, Target};
use sidecars_tests::{get, hostile, http, Daemon};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Scrapes until `key` has a value satisfying `want`.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn a_fresh_start_exposes_families_and_process_metrics_but_no_false_failure() {
    let target = Target::start(|_| Reply::Hang);
    let exporter = Daemon::listening(
        "latency-exporter",
        &["--target", &target.url("/"), "--timeout", "5s"],
    );
    let (text, values) = scrape_checked(&exporter.addr);
    assert!(
        !values.keys().any(|k| k.starts_with("probe_success")),
        "{text}"
    );
    assert_eq!(
        values[&format!(
            "probe_total{{target=\"{}\",result=\"failure\"}}",
            target.url("/")
        )],
        0.0
    );
    for name in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_start_time_seconds",
        "process_open_fds",
        "process_max_fds",
    ] {
        assert!(values.contains_key(name), "{name} missing: {text}");
    }
    let start = values["process_start_time_seconds"];
    assert!((now() - start).abs() < 60.0, "start time {start}");
    let rss = values["process_resident_memory_bytes"];
    assert!(rss > 100_000.0 && rss < 50e6, "{rss}");
}

#[test]
fn a_successful_probe_is_exported_value_by_value() {
    let body = r#"{"value": 5, "queue": {"depth": 12}}"#;
    let target = Target::start(move |_| Reply::ok(body));
    let exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--target",
            &format!("app={}", target.url("/known-value")),
            "--interval",
            "100ms",
        ],
    );
    let values = wait_for_sample(
        &exporter.addr,
        "probe_latency_seconds_count{target=\"app\"}",
        |v| v >= 3.0,
    );
    assert_eq!(values["probe_success{target=\"app\"}"], 1.0);
    assert_eq!(values["probe_http_status_code{target=\"app\"}"], 200.0);
    assert_eq!(
        values["probe_http_content_length{target=\"app\"}"],
        body.len() as f64
    );
    let duration = values["probe_duration_seconds{target=\"app\"}"];
    assert!(duration > 0.0 && duration < 0.05, "{duration}");
    let count = values["probe_latency_seconds_count{target=\"app\"}"];
    assert_eq!(
        values["probe_latency_seconds_bucket{target=\"app\",le=\"+Inf\"}"],
        count
    );
    assert_eq!(
        values["probe_total{target=\"app\",result=\"success\"}"]
            + values["probe_total{target=\"app\",result=\"failure\"}"],
        count
    );
    assert!(values["probe_latency_seconds_sum{target=\"app\"}"] > 0.0);
    let last = values["probe_last_success_timestamp_seconds{target=\"app\"}"];
    assert!((now() - last).abs() < 5.0, "{last}");
    // Buckets are cumulative.
    let buckets: Vec<f64> = values
        .iter()
        .filter(|(k, _)| k.starts_with("probe_latency_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert!(buckets.len() >= 10);
    assert!(
        values.keys().any(|k| k.contains("le=\"0.0001\"")),
        "sub-millisecond buckets"
    );
}

#[test]
fn every_failure_is_probe_success_0_with_the_series_present_and_the_reason_logged() {
    let refused = sidecars_tests::free_loopback_addr();
    let hang = Target::start(|_| Reply::Hang);
    let error = Target::start(|_| Reply::status(503, "down"));
    let big = Target::start(|_| Reply::ok(&"x".repeat(5000)));
    let mut exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "200ms",
            "--timeout",
            "150ms",
            "--max-body",
            "1000",
            "--target",
            &format!("refused=http://{refused}/"),
            "--target",
            &format!("hang={}", hang.url("/")),
            "--target",
            &format!("error={}", error.url("/")),
            "--target",
            &format!("big={}", big.url("/")),
        ],
    );
    let values = wait_for_sample(
        &exporter.addr,
        "probe_total{target=\"hang\",result=\"failure\"}",
        |v| v >= 1.0,
    );
    for (target, status) in [
        ("refused", 0.0),
        ("hang", 0.0),
        ("error", 503.0),
        ("big", 200.0),
    ] {
        assert_eq!(
            values[&format!("probe_success{{target=\"{target}\"}}")],
            0.0,
            "{target}"
        );
        assert_eq!(
            values[&format!("probe_http_status_code{{target=\"{target}\"}}")],
            status,
            "{target}"
        );
        assert!(values.contains_key(&format!("probe_duration_seconds{{target=\"{target}\"}}")));
        assert!(values[&format!("probe_total{{target=\"{target}\",result=\"failure\"}}")] >= 1.0);
        assert!(!values.contains_key(&format!(
            "probe_last_success_timestamp_seconds{{target=\"{target}\"}}"
        )));
    }
    let hang_duration = values["probe_duration_seconds{target=\"hang\"}"];
    assert!(
        (0.14..0.3).contains(&hang_duration),
        "timed out at {hang_duration}"
    );
    exporter.wait_log("target=refused error=\"connection refused\"");
    exporter.wait_log("target=hang error=\"timed out after 150ms\"");
    exporter.wait_log("target=error error=\"status 503, want 200-299\"");
    exporter.wait_log("target=big error=\"body larger than 1000 bytes (--max-body)\"");
}

#[test]
fn json_gauges_export_numbers_and_skip_the_rest() {
    let stats =
        Target::start(|_| Reply::ok(r#"{"queue": {"depth": 12.5}, "name": "x", "ok": true}"#));
    let text = Target::start(|_| Reply::ok("not json"));
    let exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "100ms",
            "--target",
            &format!("stats={}", stats.url("/stats")),
            "--target",
            &format!("text={}", text.url("/")),
            "--json-gauge",
            "app_queue_depth=/queue/depth",
            "--json-gauge",
            "app_name=/name",
            "--json-gauge",
            "app_missing=/nothing",
        ],
    );
    let values = wait_for_sample(&exporter.addr, "app_queue_depth{target=\"stats\"}", |v| {
        v == 12.5
    });
    assert!(values.contains_key("probe_success{target=\"text\"}"));
    assert!(!values.contains_key("app_queue_depth{target=\"text\"}"));
    assert!(
        !values
            .keys()
            .any(|k| k.starts_with("app_name{") || k.starts_with("app_missing{")),
        "{values:?}"
    );
}

#[test]
fn scrape_mode_shares_one_probe_among_concurrent_scrapes() {
    let target = Target::start(|_| Reply::delayed(Duration::from_millis(500), "{}"));
    let exporter = Daemon::listening(
        "latency-exporter",
        &["--interval", "scrape", "--target", &target.url("/")],
    );
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(50));
    let scrapes: Vec<_> = (0..50)
        .map(|_| {
            let (addr, barrier) = (exporter.addr.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                get(&addr, "/metrics")
            })
        })
        .collect();
    for s in scrapes {
        let (status, body) = s.join().unwrap();
        assert_eq!(status, 200);
        assert!(
            body.contains(&format!(
                "probe_success{{target=\"{}\"}} 1",
                target.url("/")
            )),
            "{body}"
        );
    }
    assert_eq!(
        target.hit_count(),
        1,
        "50 concurrent scrapes caused {} probes",
        target.hit_count()
    );
    // The next scrape probes again.
    get(&exporter.addr, "/metrics");
    assert_eq!(target.hit_count(), 2);
}

#[test]
fn scrape_mode_keeps_within_prometheus_scrape_timeout() {
    let target = Target::start(|_| Reply::Hang);
    let exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "scrape",
            "--timeout",
            "10s",
            "--target",
            &target.url("/"),
        ],
    );
    let mut stream = std::net::TcpStream::connect(&exporter.addr).unwrap();
    use std::io::{Read, Write};
    let started = Instant::now();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Prometheus-Scrape-Timeout-Seconds: 0.5\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(600), "took {took:?}");
    assert!(
        answer.contains("probe_success{target=") && answer.contains("} 0\n"),
        "{answer}"
    );
}

#[test]
fn a_real_prometheus_scrapes_it() {
    let main = Daemon::start("stand-in", &["--listen", "127.0.0.1:0"]);
    let exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "200ms",
            "--target",
            &format!("app=http://{}/known-value", main.addr),
        ],
    );
    let Some(prometheus) = Prometheus::start(&[&exporter.addr]) else {
        sidecars_tests::skip(
            "a_real_prometheus_scrapes_it",
            "prometheus is not installed",
        );
        return;
    };
    assert_eq!(
        prometheus.wait_for("probe_success{target=\"app\"}", |v| v == 1.0),
        1.0
    );
    let count = prometheus.wait_for("probe_latency_seconds_count{target=\"app\"}", |v| v >= 1.0);
    assert!(count >= 1.0);
    prometheus.wait_for("up{job=\"sidecars\"}", |v| v == 1.0);
}

#[test]
fn healthz_index_404_and_405() {
    let target = Target::start(|_| Reply::ok("{}"));
    let exporter = Daemon::listening("latency-exporter", &["--target", &target.url("/")]);
    assert_eq!(get(&exporter.addr, "/healthz"), (200, "ok\n".into()));
    let (status, index) = get(&exporter.addr, "/");
    assert_eq!(status, 200);
    assert!(index.contains("/metrics"));
    assert_eq!(get(&exporter.addr, "/nope").0, 404);
    assert_eq!(http(&exporter.addr, "POST", "/metrics").unwrap().0, 405);
}

#[test]
fn metrics_withstands_hostile_clients() {
    let target = Target::start(|_| Reply::ok("{}"));
    let exporter = Daemon::listening("latency-exporter", &["--target", &target.url("/")]);
    hostile::withstands_all(&exporter.addr, "/metrics", exporter.pid(), 16 * 1024);
}

#[test]
fn sigterm_stops_it_at_once_with_status_0() {
    let target = Target::start(|_| Reply::ok("{}"));
    let mut exporter = Daemon::listening("latency-exporter", &["--target", &target.url("/")]);
    exporter.signal(libc::SIGTERM);
    let (code, took) = exporter.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert!(took < Duration::from_millis(100), "took {took:?}");
}

#[test]
fn bad_usage_exits_2_with_one_line_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "no target given"),
        (
            &["--target", "ftp://x/"],
            "--target: 'ftp://x/' is not an http:// URL",
        ),
        (&["--target", "=http://x/"], "--target:"),
        (
            &["--target", "a=http://x/", "--target", "a=http://y/"],
            "--target: 'a' is given twice",
        ),
        (
            &["--target", "http://x/", "--interval", "0"],
            "--interval: must be greater than zero",
        ),
        (
            &["--target", "http://x/", "--interval", "often"],
            "--interval: 'often' is not a duration",
        ),
        (
            &["--target", "http://x/", "--json-gauge", "bad-name=/x"],
            "--json-gauge: 'bad-name' is not a valid metric name",
        ),
        (
            &["--target", "http://x/", "--json-gauge", "x"],
            "--json-gauge: 'x' is not NAME=POINTER",
        ),
        (
            &["--target", "http://x/", "--buckets", "1,0.5"],
            "--buckets:",
        ),
        (
            &["--target", "http://x/", "--listen", "nowhere"],
            "--listen:",
        ),
        (&["--target", "http://x/", "--what"], "'--what'"),
    ];
    sidecars_tests::assert_usage_errors("latency-exporter", cases);
    sidecars_tests::assert_help_and_version("latency-exporter");
}

/// A target down for twenty probes: one line when it goes down, one when
/// it is back (with how long and how many), while the counters count all.
#[test]
fn an_outage_is_logged_once_and_its_end_once_while_every_failure_is_counted() {
    let probes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = probes.clone();
    let target =
        Target::start(
            move |_| match seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0..20 => Reply::status(503, "down"),
                _ => Reply::ok("up"),
            },
        );
    let mut exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "20ms",
            "--target",
            &format!("app={}", target.url("/")),
        ],
    );
    let line = exporter.wait_log("msg=\"probe succeeded\" target=app");
    assert!(
        line.contains("failures=20") && line.contains("outage="),
        "{line}"
    );
    let failed: Vec<String> = exporter
        .log()
        .into_iter()
        .filter(|l| l.contains("probe failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("error=\"status 503, want 200-299\""),
        "{failed:?}"
    );
    let values = wait_for_sample(
        &exporter.addr,
        "probe_total{target=\"app\",result=\"failure\"}",
        |v| v == 20.0,
    );
    assert!(values["probe_total{target=\"app\",result=\"success\"}"] >= 1.0);
}

/// ready-check's check language, per target: each condition that fails is
/// probe_success 0 and probe_failed_due_to_condition 1 (and the blackbox
/// name probe_failed_due_to_regex), with ready-check's message in the log;
/// a plain non-2xx answer is not a condition's failure.
#[test]
fn each_condition_of_a_target_fails_with_ready_checks_message() {
    let app = Daemon::start("stand-in", &["--listen", "127.0.0.1:0"]);
    let url = format!("http://{}/known-value", app.addr);
    let mut exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "100ms",
            "--target",
            &format!("json={url}"),
            "--json",
            "/value == 5",
            "--target",
            &format!("text={url}"),
            "--contains",
            "\"value\": 5",
            "--target",
            &format!("status={url}"),
            "--status",
            "204",
            "--target",
            &format!("missing=http://{}/no-such-page", app.addr),
        ],
    );
    let ok = |t: &str| format!("probe_success{{target=\"{t}\"}}");
    let by_condition = |t: &str| format!("probe_failed_due_to_condition{{target=\"{t}\"}}");
    let values = wait_for_sample(&exporter.addr, &ok("json"), |v| v == 1.0);
    assert_eq!(values[&by_condition("json")], 0.0);
    let values = wait_for_sample(&exporter.addr, &ok("status"), |v| v == 0.0);
    assert_eq!(values[&by_condition("status")], 1.0);
    assert_eq!(values["probe_failed_due_to_regex{target=\"status\"}"], 1.0);
    let values = wait_for_sample(&exporter.addr, &ok("missing"), |v| v == 0.0);
    assert_eq!(
        values[&by_condition("missing")],
        0.0,
        "a 404 fails no condition"
    );
    get(&app.addr, "/set?value=4");
    let values = wait_for_sample(&exporter.addr, &ok("json"), |v| v == 0.0);
    assert_eq!(values[&by_condition("json")], 1.0);
    wait_for_sample(&exporter.addr, &ok("text"), |v| v == 0.0);
    scrape_checked(&exporter.addr);
    for (target, message) in [
        ("json", "/value is 4, want == 5"),
        ("text", "body does not contain"),
        ("status", "status 200, want 204"),
        ("missing", "status 404, want 200-299"),
    ] {
        let line = exporter.wait_log(&format!("target={target} "));
        assert!(line.contains(message), "{target}: {line}");
    }
}
