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
            "--json",
            "/value == 5",
            "--target",
            &format!("db=tcp://{}", main.addr),
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
    // blackbox's dashboard queries: the phases, and a tcp target.
    prometheus.wait_for(
        "sum(probe_http_duration_seconds{target=\"app\"}) > 0",
        |v| v > 0.0,
    );
    prometheus.wait_for("probe_failed_due_to_regex{target=\"app\"}", |v| v == 0.0);
    prometheus.wait_for("probe_success{target=\"db\"}", |v| v == 1.0);
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
            "--target: 'ftp://x/' is not an http:// or https:// URL",
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
            "--target",
            &format!("cel={url}"),
            "--cel",
            "body.value == 5.0 && body.queue.depth < 100.0",
        ],
    );
    let ok = |t: &str| format!("probe_success{{target=\"{t}\"}}");
    let by_cel = |t: &str| format!("probe_failed_due_to_cel{{target=\"{t}\"}}");
    let values = wait_for_sample(&exporter.addr, &ok("cel"), |v| v == 1.0);
    assert_eq!(values[&by_cel("cel")], 0.0);
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
    let values = wait_for_sample(&exporter.addr, &ok("cel"), |v| v == 0.0);
    assert_eq!(values[&by_cel("cel")], 1.0, "as blackbox 0.27");
    assert_eq!(values[&by_cel("json")], 0.0, "only --cel sets it");
    scrape_checked(&exporter.addr);
    for (target, message) in [
        ("json", "/value is 4, want == 5"),
        ("text", "body does not contain"),
        ("status", "status 200, want 204"),
        ("missing", "status 404, want 200-299"),
        ("cel", "--cel 'body.value == 5.0 && body.queue.depth < 100.0' is false: body.value == 5.0 is false"),
    ] {
        let line = exporter.wait_log(&format!("target={target} "));
        assert!(line.contains(message), "{target}: {line}");
    }
}

fn raw(text: &str) -> Reply {
    Reply::Raw(text.as_bytes().to_vec())
}

/// latency-exporter probing NAME=URL targets every `interval`, with
/// `extra` flags after them.
fn exporter_of(interval: &str, targets: &[(&str, &str)], extra: &[&str]) -> Daemon {
    let specs: Vec<String> = targets.iter().map(|(n, u)| format!("{n}={u}")).collect();
    let mut args = vec!["--interval", interval];
    for spec in &specs {
        args.extend(["--target", spec.as_str()]);
    }
    args.extend_from_slice(extra);
    Daemon::listening("latency-exporter", &args)
}

/// The five phases of blackbox, summing to the duration; after a refused
/// connect, the phases after it are 0.
#[test]
fn the_phases_of_a_probe_add_up_to_its_duration() {
    let app = Daemon::start("stand-in", &["--listen", "127.0.0.1:0"]);
    let refused = sidecars_tests::free_loopback_addr();
    let (url, down) = (
        format!("http://{}/known-value", app.addr),
        format!("http://{refused}/"),
    );
    let exporter = exporter_of("100ms", &[("app", &url), ("refused", &down)], &[]);
    wait_for_sample(&exporter.addr, "probe_success{target=\"app\"}", |v| {
        v == 1.0
    });
    let (_, values) = scrape_checked(&exporter.addr);
    let phase = |t: &str, p: &str| {
        values[&format!("probe_http_duration_seconds{{target=\"{t}\",phase=\"{p}\"}}")]
    };
    let phases = ["resolve", "connect", "tls", "processing", "transfer"];
    let sum: f64 = phases.iter().map(|p| phase("app", p)).sum();
    let duration = values["probe_duration_seconds{target=\"app\"}"];
    assert!(
        (sum - duration).abs() < 50e-6,
        "phases {sum} against duration {duration}"
    );
    assert!(phase("app", "connect") > 0.0 && phase("app", "processing") > 0.0);
    assert_eq!(
        (phase("app", "resolve"), phase("app", "tls")),
        (0.0, 0.0),
        "an IP needs no lookup; no TLS"
    );
    assert_eq!(values["probe_dns_lookup_time_seconds{target=\"app\"}"], 0.0);
    assert_eq!(values["probe_ip_protocol{target=\"app\"}"], 4.0);
    assert_eq!(values["probe_http_version{target=\"app\"}"], 1.1);
    assert_eq!(values["probe_http_ssl{target=\"app\"}"], 0.0);
    assert_eq!(values["probe_http_redirects{target=\"app\"}"], 0.0);
    // 127.0.0.1 hashed with FNV-1a, as blackbox does (its value for it).
    assert_eq!(
        values["probe_ip_addr_hash{target=\"app\"}"],
        3_668_918_509.0
    );
    assert_eq!(values["probe_success{target=\"refused\"}"], 0.0);
    assert_eq!(
        (phase("refused", "processing"), phase("refused", "transfer")),
        (0.0, 0.0)
    );
    assert!(!values.contains_key("probe_http_version{target=\"refused\"}"));
}

/// Two redirects, followed with --follow-redirects=2: counted, and the
/// phases summed over the three hops (each answers 20 ms late, so the sum
/// of processing is 60 ms or more); without it the 302 is the answer.
#[test]
fn redirects_are_followed_when_asked_counted_and_timed_over_every_hop() {
    let late = |text: &str| Reply::RawAfter(Duration::from_millis(20), text.as_bytes().to_vec());
    let target = Target::start(move |hit| match hit.path.as_str() {
        "/a" => late("HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n"),
        "/b" => late("HTTP/1.1 302 Found\r\nLocation: /c\r\nContent-Length: 0\r\n\r\n"),
        _ => late("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"),
    });
    let start = target.url("/a");
    let follow = exporter_of("200ms", &[("app", &start)], &["--follow-redirects=2"]);
    let values = wait_for_sample(&follow.addr, "probe_success{target=\"app\"}", |v| v == 1.0);
    assert_eq!(values["probe_http_redirects{target=\"app\"}"], 2.0);
    assert_eq!(values["probe_http_status_code{target=\"app\"}"], 200.0);
    let connect = values["probe_http_duration_seconds{target=\"app\",phase=\"connect\"}"];
    let processing = values["probe_http_duration_seconds{target=\"app\",phase=\"processing\"}"];
    assert!(
        (0.06..0.5).contains(&processing),
        "three hops of 20 ms each are in: {processing}"
    );
    assert!(connect > 0.0);
    let still = exporter_of("200ms", &[("app", &start)], &[]);
    let values = wait_for_sample(&still.addr, "probe_http_status_code{target=\"app\"}", |v| {
        v == 302.0
    });
    assert_eq!(values["probe_success{target=\"app\"}"], 0.0);
    assert_eq!(values["probe_http_redirects{target=\"app\"}"], 0.0);
}

/// tcp://HOST:PORT: a connect probe, up and down, with blackbox's tcp series.
#[test]
fn a_tcp_target_is_probed_by_a_connect() {
    let up = Target::start(|_| Reply::ok("x"));
    let down = sidecars_tests::free_loopback_addr();
    let (db, cache) = (format!("tcp://{}", up.addr), format!("tcp://{down}"));
    let exporter = exporter_of("100ms", &[("db", &db), ("cache", &cache)], &[]);
    let values = wait_for_sample(&exporter.addr, "probe_success{target=\"cache\"}", |v| {
        v == 0.0
    });
    let values = if values.get("probe_success{target=\"db\"}") == Some(&1.0) {
        values
    } else {
        wait_for_sample(&exporter.addr, "probe_success{target=\"db\"}", |v| v == 1.0)
    };
    for t in ["db", "cache"] {
        assert!(values.contains_key(&format!("probe_duration_seconds{{target=\"{t}\"}}")));
        assert_eq!(
            values[&format!("probe_dns_lookup_time_seconds{{target=\"{t}\"}}")],
            0.0
        );
        assert_eq!(values[&format!("probe_ip_protocol{{target=\"{t}\"}}")], 4.0);
        assert!(!values.contains_key(&format!("probe_http_status_code{{target=\"{t}\"}}")));
    }
    scrape_checked(&exporter.addr);
}

/// probe_http_content_length is the header (-1 when absent), as blackbox;
/// the bytes received are probe_http_uncompressed_body_length.
#[test]
fn content_length_means_the_header_and_the_body_length_the_bytes() {
    let target = Target::start(|hit| {
        match hit.path.as_str() {
        "/with" => Reply::ok("12345"),
        "/without" => raw("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n1234567"),
        _ => raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"),
    }
    });
    let (with, without, chunked) = (
        target.url("/with"),
        target.url("/without"),
        target.url("/chunked"),
    );
    let exporter = exporter_of(
        "100ms",
        &[
            ("with", &with),
            ("without", &without),
            ("chunked", &chunked),
        ],
        &[],
    );
    for t in ["with", "without", "chunked"] {
        wait_for_sample(
            &exporter.addr,
            &format!("probe_success{{target=\"{t}\"}}"),
            |v| v == 1.0,
        );
    }
    let (_, values) = scrape_checked(&exporter.addr);
    for (t, header, bytes) in [
        ("with", 5.0, 5.0),
        ("without", -1.0, 7.0),
        ("chunked", -1.0, 7.0),
    ] {
        assert_eq!(
            values[&format!("probe_http_content_length{{target=\"{t}\"}}")],
            header,
            "{t}"
        );
        assert_eq!(
            values[&format!("probe_http_uncompressed_body_length{{target=\"{t}\"}}")],
            bytes,
            "{t}"
        );
    }
}

/// What a blackbox user's dashboards query: every series name and label
/// set the real blackbox exporter (Debian's) emits for an http and a tcp
/// target is also in latency-exporter's output (with `target` added).
#[test]
fn blackbox_series_and_labels_are_a_subset_of_ours() {
    let app = Daemon::start("stand-in", &["--listen", "127.0.0.1:0"]);
    let http_url = format!("http://{}/known-value", app.addr);
    let dir = sidecars_tests::tempdir("blackbox");
    let config = dir.join("blackbox.yml");
    std::fs::write(
        &config,
        "modules:\n  http_2xx:\n    prober: http\n    http:\n      preferred_ip_protocol: ip4\n  tcp_connect:\n    prober: tcp\n    tcp:\n      preferred_ip_protocol: ip4\n",
    )
    .unwrap();
    let Some((_bb, listen)) = sidecars_tests::start_blackbox(&config) else {
        return sidecars_tests::skip(
            "blackbox_series_and_labels_are_a_subset_of_ours",
            "prometheus-blackbox-exporter is not installed (scripts/setup installs it)",
        );
    };
    let tcp_url = format!("tcp://{}", app.addr);
    let exporter = exporter_of("100ms", &[("web", &http_url), ("db", &tcp_url)], &[]);
    wait_for_sample(&exporter.addr, "probe_success{target=\"db\"}", |v| v == 1.0);
    wait_for_sample(&exporter.addr, "probe_success{target=\"web\"}", |v| {
        v == 1.0
    });
    let ours = scrape_checked(&exporter.addr).1;
    // Series as name{label names}, without the target label.
    let shapes = |keys: Vec<&String>, target: Option<&str>| -> std::collections::BTreeSet<String> {
        keys.into_iter()
            .filter(|k| k.starts_with("probe_"))
            .filter(|k| target.is_none_or(|t| k.contains(&format!("target=\"{t}\""))))
            .map(|k| {
                let (name, labels) = k.split_once('{').unwrap_or((k, "}"));
                let mut names: Vec<&str> = labels
                    .trim_end_matches('}')
                    .split(',')
                    .filter_map(|l| l.split_once('=').map(|(n, _)| n))
                    .filter(|n| *n != "target")
                    .collect();
                names.sort();
                format!("{name}{{{}}}", names.join(","))
            })
            .collect()
    };
    for (module, target, ours_target) in [
        ("http_2xx", http_url.clone(), "web"),
        ("tcp_connect", app.addr.clone(), "db"),
    ] {
        let (status, body) = get(&listen, &format!("/probe?module={module}&target={target}"));
        assert_eq!(status, 200, "{body}");
        let theirs = sidecars_tests::prom::samples(&body);
        assert_eq!(theirs["probe_success"], 1.0, "{body}");
        let missing: Vec<String> = shapes(theirs.keys().collect(), None)
            .difference(&shapes(ours.keys().collect(), Some(ours_target)))
            .cloned()
            .collect();
        assert!(
            missing.is_empty(),
            "{module}: blackbox has, latency-exporter lacks: {missing:?}"
        );
        // The same meanings where the values are fixed by the answer.
        for name in [
            "probe_ip_addr_hash",
            "probe_ip_protocol",
            "probe_http_status_code",
            "probe_http_content_length",
            "probe_http_uncompressed_body_length",
            "probe_http_version",
            "probe_http_redirects",
        ] {
            if let Some(value) = theirs.get(name) {
                let key = format!("{name}{{target=\"{ours_target}\"}}");
                assert_eq!(ours[&key], *value, "{module}: {name}");
            }
        }
    }
}

/// The phase-timed client against broken and hostile answers: each is a
/// failed probe with its own one-line reason, within the timeout, and the
/// exporter goes on answering.
#[test]
fn hostile_answers_fail_the_probe_with_a_clear_reason() {
    let huge_head = format!("HTTP/1.1 200 OK\r\nX-Junk: {}", "a".repeat(1 << 20));
    let many_headers = format!(
        "HTTP/1.1 200 OK\r\n{}Content-Length: 0\r\n\r\n",
        "X-H: 1\r\n".repeat(200)
    );
    // A 64 KiB chunk, then a 1 MiB one: past the cap.
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n{}\r\n100000\r\n{}\r\n0\r\n\r\n",
        "x".repeat(0x10000),
        "y".repeat(0x100000)
    );
    let target = Target::start(move |hit| match hit.path.as_str() {
        "/head" => raw(&huge_head),
        "/headers" => raw(&many_headers),
        "/badchunk" => raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n"),
        "/short" => raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"),
        "/chunked" => raw(&chunked),
        "/huge" => Reply::Huge(50 << 20),
        _ => raw("SSH-2.0-OpenSSH_9.6\r\n\r\n"),
    });
    let paths = [
        "head", "headers", "badchunk", "short", "chunked", "huge", "ssh",
    ];
    let urls: Vec<String> = paths.iter().map(|p| target.url(&format!("/{p}"))).collect();
    let targets: Vec<(&str, &str)> = paths
        .iter()
        .zip(&urls)
        .map(|(p, u)| (*p, u.as_str()))
        .collect();
    let mut exporter = exporter_of(
        "200ms",
        &targets,
        &["--timeout", "1s", "--max-body", "512KiB"],
    );
    for (path, reason) in [
        ("head", "response head larger than 16 KiB"),
        ("headers", "malformed response head"),
        ("badchunk", "answer: chunk size 'zz' is not hex"),
        (
            "short",
            "answer: connection closed after 3 of 100 body bytes (Content-Length)",
        ),
        (
            "chunked",
            "answer: chunk size '100000' over the 512 KiB cap (--max-body)",
        ),
        ("huge", "body larger than 524288 bytes (--max-body)"),
        ("ssh", "answer: not HTTP: it begins 'SSH-2.0-OpenSSH_9.6"),
    ] {
        let line = exporter.wait_log(&format!("target={path} "));
        assert!(line.contains(reason), "{path}: {line}");
    }
    let (_, values) = scrape_checked(&exporter.addr);
    for path in paths {
        assert_eq!(
            values[&format!("probe_success{{target=\"{path}\"}}")],
            0.0,
            "{path}"
        );
        assert!(
            values[&format!("probe_duration_seconds{{target=\"{path}\"}}")] < 1.0,
            "{path}"
        );
    }
}

/// json_exporter's own example (its examples/config.yml over its
/// examples/data.json) as four --cel-gauge flags: the series, labels and
/// values its README shows, plus our `target` label. A body that breaks
/// the gauges' shape is counted per gauge, and the other gauges go on.
#[test]
fn json_exporters_example_comes_out_of_cel_gauges() {
    let data = r#"{
        "counter": 1234,
        "timestamp": 1657568506,
        "values": [
            {"id": "id-A", "count": 1, "some_boolean": true, "state": "ACTIVE"},
            {"id": "id-B", "count": 2, "some_boolean": true, "state": "INACTIVE"},
            {"id": "id-C", "count": 3, "some_boolean": false, "state": "ACTIVE"}
        ],
        "location": "mars",
        "available_memory": "1000 MB"
    }"#;
    let broken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let switch = broken.clone();
    let app = Target::start(move |_| {
        if switch.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::ok(r#"{"counter": "many", "values": [], "location": "mars"}"#)
        } else {
            Reply::ok(data)
        }
    });
    let active = r#"body.values.filter(v, v.state == "ACTIVE")"#;
    let gauges = [
        r#"example_global_value{environment,location}=[["beta", "planet-" + body.location, body.counter]]"#.to_string(),
        format!(r#"example_value_active{{environment,id}}={active}.map(v, ["beta", v.id, 1])"#),
        format!(r#"example_value_count{{environment,id}}={active}.map(v, ["beta", v.id, v.count])"#),
        format!(r#"example_value_boolean{{environment,id}}={active}.map(v, ["beta", v.id, v.some_boolean])"#),
    ];
    let mut extra = Vec::new();
    for gauge in &gauges {
        extra.extend(["--cel-gauge", gauge.as_str()]);
    }
    let url = app.url("/data.json");
    let mut exporter = exporter_of("100ms", &[("example", &url)], &extra);
    let wanted = [
        ("example_global_value{target=\"example\",environment=\"beta\",location=\"planet-mars\"}", 1234.0),
        ("example_value_active{target=\"example\",environment=\"beta\",id=\"id-A\"}", 1.0),
        ("example_value_active{target=\"example\",environment=\"beta\",id=\"id-C\"}", 1.0),
        ("example_value_count{target=\"example\",environment=\"beta\",id=\"id-A\"}", 1.0),
        ("example_value_count{target=\"example\",environment=\"beta\",id=\"id-C\"}", 3.0),
        ("example_value_boolean{target=\"example\",environment=\"beta\",id=\"id-A\"}", 1.0),
        ("example_value_boolean{target=\"example\",environment=\"beta\",id=\"id-C\"}", 0.0),
    ];
    wait_for_sample(&exporter.addr, wanted[0].0, |v| v == 1234.0);
    // Not promtool's lint: json_exporter's own name example_value_count
    // ends in _count, which promtool reserves for histograms.
    let (text, values) = sidecars_tests::prom::scrape(&exporter.addr);
    let example: Vec<(&String, &f64)> = values
        .iter()
        .filter(|(k, _)| k.starts_with("example_"))
        .collect();
    let want: Vec<(String, f64)> = wanted.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let mut got: Vec<(String, f64)> = example.iter().map(|(k, v)| ((*k).clone(), **v)).collect();
    let mut want_sorted = want.clone();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    want_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want_sorted, "{text}");
    assert!(text.contains("# TYPE example_value_count gauge"), "{text}");
    // A counter that is a string: that gauge fails, counted; the rest stand.
    broken.store(true, std::sync::atomic::Ordering::SeqCst);
    let errors = "latency_exporter_cel_series_errors_total{target=\"example\",name=\"example_global_value\"}";
    let values = wait_for_sample(&exporter.addr, errors, |v| v >= 1.0);
    assert!(
        !values.contains_key(wanted[0].0),
        "no stale series: {values:?}"
    );
    assert_eq!(
        values["latency_exporter_cel_series_errors_total{target=\"example\",name=\"example_value_count\"}"],
        0.0,
        "an empty list is no error"
    );
    let line = exporter.wait_log("cel gauge failed");
    assert!(line.contains("gauge=example_global_value"), "{line}");
    assert!(line.contains("not a number"), "{line}");
}

#[test]
fn a_cel_gauge_that_does_not_parse_or_names_a_bad_label_is_refused_at_start() {
    sidecars_tests::assert_usage_errors(
        "latency-exporter",
        &[
            (
                &["--target", "http://x/", "--cel-gauge", "app_x=body.a +"],
                "--cel-gauge: column 9: expected an operand",
            ),
            (
                &[
                    "--target",
                    "http://x/",
                    "--cel-gauge",
                    "app_x{target}=body.a",
                ],
                "the label 'target' is given twice",
            ),
            (
                &["--target", "http://x/", "--cel-gauge", "probe_x=1"],
                "would clash with latency-exporter's own series",
            ),
            (
                &["--target", "http://x/", "--cel-gauge", "app_x{a=1"],
                "opens '{' and does not close it",
            ),
        ],
    );
}

/// The cost limit over a 1 MiB answer, probe after probe: each stops with
/// "cost limit exceeded" (probe_failed_due_to_cel 1), and the exporter's
/// memory does not grow with the probes. blackbox's own example passes.
#[test]
fn a_quadratic_cel_over_a_1_mib_answer_stops_at_the_budget_with_bounded_memory() {
    let numbers: Vec<String> = (0..170_000).map(|i| i.to_string()).collect();
    let big = format!(
        "{{\"a\": [{}], \"foo\": \"bar\", \"baz\": \"qux\"}}",
        numbers.join(",")
    );
    assert!(big.len() > 1 << 20, "{} bytes", big.len());
    let app = Target::start(move |_| Reply::ok(&big));
    let url = app.url("/big");
    let mut exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "50ms",
            "--timeout",
            "5s",
            "--max-body",
            "2Mi",
            "--target",
            &format!("quadratic={url}"),
            "--cel",
            "body.a.all(x, body.a.all(y, x != y || x == y))",
            "--target",
            &format!("blackbox={url}"),
            "--cel",
            "body.foo == 'bar' && body.baz.startsWith('q')",
        ],
    );
    let probes = "probe_total{target=\"quadratic\",result=\"failure\"}";
    // A debug build spends most of a second on each probe: a deadline
    // for a busy machine, not a timing claim.
    let addr = exporter.addr.clone();
    let probed = |at_least: f64| {
        let mut values = Default::default();
        sidecars_tests::wait_until(
            &format!("{at_least} probes"),
            Duration::from_secs(180),
            || {
                values = sidecars_tests::prom::scrape(&addr).1;
                values.get(probes).is_some_and(|v| *v >= at_least)
            },
        );
        values
    };
    let values = probed(4.0);
    assert_eq!(values["probe_failed_due_to_cel{target=\"quadratic\"}"], 1.0);
    assert_eq!(values["probe_success{target=\"blackbox\"}"], 1.0);
    assert_eq!(values["probe_failed_due_to_cel{target=\"blackbox\"}"], 0.0);
    let line = exporter.wait_log("target=quadratic");
    assert!(line.contains("cost limit exceeded"), "{line}");
    let after_4 = exporter.rss_kib();
    probed(14.0);
    let after_14 = exporter.rss_kib();
    eprintln!("RSS after 4 probes {after_4} KiB, after 14 {after_14} KiB");
    // Each probe holds the answer, its JSON and its CEL value (about 15 MB
    // for 170,000 numbers), and gives them back.
    assert!(after_14 < 64 * 1024, "{after_14} KiB after 14 probes");
    assert!(
        after_14 <= after_4 + 8 * 1024,
        "RSS grew from {after_4} to {after_14} KiB over 10 probes"
    );
    scrape_checked(&exporter.addr);
}
