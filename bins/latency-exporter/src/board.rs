//! The latest result and the running totals of every target, and their
//! rendering as Prometheus text. A scrape reads this board; it never waits
//! on a target (except in `--interval scrape` mode, by design).

use crate::probe::Probe;
use crate::probe::{JsonGauge, Target};
use common::log;
use common::process_metrics::ProcessMetrics;
use common::prom::{Histogram, Kind, Writer};
use std::sync::Mutex;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Board {
    pub targets: Vec<Target>,
    json_gauges: Vec<JsonGauge>,
    series: Mutex<Vec<Series>>,
    /// The targets' text, rendered once per probe rather than per scrape.
    rendered: Mutex<Option<String>>,
    process: ProcessMetrics,
}

/// Name, HELP, and the value read off the last probe.
type LastProbeGauge = (&'static str, &'static str, fn(&Probe) -> Option<f64>);

struct Series {
    last: Option<Probe>,
    latency: Histogram,
    successes: u64,
    failures: u64,
    last_success: Option<f64>,
    /// Folds the log of a long outage; the counters count every failure.
    outage: log::Outage,
}

impl Board {
    pub fn new(targets: Vec<Target>, json_gauges: Vec<JsonGauge>, buckets: &[f64]) -> Board {
        let series = targets
            .iter()
            .map(|_| Series {
                last: None,
                latency: Histogram::new(buckets.to_vec()),
                successes: 0,
                failures: 0,
                last_success: None,
                outage: log::Outage::new(),
            })
            .collect();
        Board {
            targets,
            json_gauges,
            series: Mutex::new(series),
            rendered: Mutex::new(None),
            process: ProcessMetrics::new(),
        }
    }

    /// Records a probe of target `index`, logging failures and recoveries.
    pub fn record(&self, index: usize, probe: Probe) {
        self.update(index, probe);
        // Only now, with `series` released: `render` takes `rendered` and
        // then `series`, so holding both the other way round deadlocks.
        *self.rendered.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn update(&self, index: usize, probe: Probe) {
        let target = &self.targets[index].name;
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let series = &mut all[index];
        series.latency.observe(probe.duration);
        if log::enabled(log::Level::Debug) {
            let duration = common::duration::format(Duration::from_secs_f64(probe.duration));
            let status = probe.http.as_ref().map_or(0, |h| h.status);
            let error = probe.error.as_deref().unwrap_or("");
            log::debug(
                "probe",
                &[
                    ("target", target),
                    ("success", &probe.success),
                    ("status", &status),
                    ("duration", &duration),
                    ("error", &error),
                ],
            );
        }
        if probe.success {
            series.successes += 1;
            series.last_success = Some(unix_now());
            series.outage.succeeded(
                "probe succeeded",
                &[
                    ("target", target),
                    ("status", &probe.http.as_ref().map_or(0, |h| h.status)),
                ],
            );
        } else {
            series.failures += 1;
            let error = probe.error.as_deref().unwrap_or("failed");
            series
                .outage
                .failed("probe failed", &[("target", target)], ("error", error));
        }
        series.last = Some(probe);
    }

    /// Says the failures folded since their last line: at exit.
    pub fn flush_logs(&self) {
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        for series in all.iter_mut() {
            series.outage.flush();
        }
    }

    /// The whole exposition: the targets' part as of the last probe, the
    /// process metrics as of now.
    pub fn render(&self) -> String {
        let mut rendered = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
        let targets = rendered.get_or_insert_with(|| self.render_targets());
        let mut w = Writer::after(targets);
        drop(rendered);
        self.process.write(&mut w);
        common::build_info::write(&mut w, "latency_exporter");
        w.finish()
    }

    fn render_targets(&self) -> String {
        let all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut w = Writer::new();
        // Per-target gauges exist from the first probe on: a fresh start
        // shows no series rather than a false failure.
        let probed: Vec<(&str, &Series, &Probe)> = self
            .targets
            .iter()
            .zip(all.iter())
            .filter_map(|(t, s)| Some((t.name.as_str(), s, s.last.as_ref()?)))
            .collect();
        let gauges: [LastProbeGauge; 14] = [
            (
                "probe_success",
                "Whether the last probe succeeded (1) or not (0).",
                |p| Some(f64::from(u8::from(p.success))),
            ),
            (
                "probe_duration_seconds",
                "Duration of the last probe: the sum of its phases.",
                |p| Some(p.duration),
            ),
            (
                "probe_dns_lookup_time_seconds",
                "Time the last probe took to resolve the target's name (0 for an IP).",
                |p| Some(p.phases.resolve.as_secs_f64()),
            ),
            (
                "probe_ip_protocol",
                "IP protocol of the address probed (4 or 6).",
                |p| p.ip.map(|ip| if ip.is_ipv4() { 4.0 } else { 6.0 }),
            ),
            (
                "probe_ip_addr_hash",
                "FNV-1a hash of the address probed, to see it change.",
                |p| p.ip.map(ip_hash),
            ),
            (
                "probe_http_status_code",
                "HTTP status of the last probe's response (0: none).",
                |p| p.http.as_ref().map(|h| f64::from(h.status)),
            ),
            (
                "probe_http_version",
                "HTTP version of the last probe's response.",
                |p| p.http.as_ref().filter(|h| h.status > 0).map(|h| h.version),
            ),
            (
                "probe_http_ssl",
                "Whether the final answer of the last probe came over TLS.",
                |p| p.http.as_ref().map(|_| f64::from(u8::from(p.tls.is_some()))),
            ),
            (
                "probe_http_redirects",
                "Redirects the last probe followed.",
                |p| p.http.as_ref().map(|h| f64::from(h.redirects)),
            ),
            (
                "probe_http_content_length",
                "The last response's Content-Length header (-1 when absent), as the blackbox exporter.",
                |p| p.http.as_ref().map(|h| h.content_length.map_or(-1.0, |n| n as f64)),
            ),
            (
                "probe_http_uncompressed_body_length",
                "Body bytes of the last probe's response, as received.",
                |p| p.http.as_ref().map(|h| h.body_bytes as f64),
            ),
            (
                "probe_failed_due_to_condition",
                "Whether the last probe failed a condition of its target (--status, --contains, --json).",
                |p| Some(f64::from(u8::from(p.failed_condition))),
            ),
            (
                "probe_failed_due_to_regex",
                "The blackbox exporter's name for probe_failed_due_to_condition, so alerts on it keep working.",
                |p| Some(f64::from(u8::from(p.failed_condition))),
            ),
            (
                "probe_tcp_connected",
                "Whether the last TCP probe connected (tcp:// and tls:// targets).",
                |p| {
                    p.http
                        .is_none()
                        .then(|| f64::from(u8::from(p.success || p.phases.tls > Duration::ZERO)))
                },
            ),
        ];
        for (name, help, value) in gauges {
            w.family(name, Kind::Gauge, help);
            for (target, _, probe) in &probed {
                if let Some(v) = value(probe) {
                    w.sample(name, &[("target", target)], v);
                }
            }
        }
        w.family(
            "probe_http_duration_seconds",
            Kind::Gauge,
            "Duration of each phase of the last HTTP probe, summed over redirects.",
        );
        for (target, _, probe) in &probed {
            if probe.http.is_none() {
                continue;
            }
            let p = &probe.phases;
            for (phase, d) in [
                ("resolve", p.resolve),
                ("connect", p.connect),
                ("tls", p.tls),
                ("processing", p.processing),
                ("transfer", p.transfer),
            ] {
                w.sample(
                    "probe_http_duration_seconds",
                    &[("target", target), ("phase", phase)],
                    d.as_secs_f64(),
                );
            }
        }
        write_tls_series(&mut w, &probed);
        w.family(
            "probe_last_success_timestamp_seconds",
            Kind::Gauge,
            "Unix time of the last successful probe.",
        );
        for (target, series) in self.targets.iter().zip(all.iter()) {
            if let Some(at) = series.last_success {
                w.sample(
                    "probe_last_success_timestamp_seconds",
                    &[("target", &target.name)],
                    at,
                );
            }
        }
        w.family(
            "probe_total",
            Kind::Counter,
            "Probes since start, by result.",
        );
        for (target, series) in self.targets.iter().zip(all.iter()) {
            let t = target.name.as_str();
            w.sample(
                "probe_total",
                &[("target", t), ("result", "success")],
                series.successes as f64,
            );
            w.sample(
                "probe_total",
                &[("target", t), ("result", "failure")],
                series.failures as f64,
            );
        }
        w.family(
            "probe_latency_seconds",
            Kind::Histogram,
            "Duration of every probe since start, from connection start to the last body byte.",
        );
        for (target, series) in self.targets.iter().zip(all.iter()) {
            w.histogram(
                "probe_latency_seconds",
                &[("target", &target.name)],
                &series.latency,
            );
        }
        for (i, gauge) in self.json_gauges.iter().enumerate() {
            let help = format!(
                "The number at JSON pointer {} in the target's last answer.",
                gauge.pointer
            );
            w.family(&gauge.name, Kind::Gauge, &help);
            for (target, _, probe) in &probed {
                // A tcp:// target, or a probe that failed early, has no
                // gauge values: no sample, rather than an index past them.
                if let Some(value) = probe.gauges.get(i).copied().flatten() {
                    w.sample(&gauge.name, &[("target", target)], value);
                }
            }
        }
        w.finish()
    }
}

/// FNV-1a (32 bits) of the address's bytes, as the blackbox exporter hashes it.
/// The blackbox exporter's TLS series, for probes whose final answer came
/// over TLS (https:// and tls:// targets).
fn write_tls_series(w: &mut Writer, probed: &[(&str, &Series, &Probe)]) {
    let over_tls: Vec<(&str, &net::tls::TlsInfo)> = probed
        .iter()
        .filter_map(|(target, _, probe)| Some((*target, probe.tls.as_ref()?)))
        .collect();
    type Expiry = (
        &'static str,
        &'static str,
        fn(&net::tls::TlsInfo) -> Option<i64>,
    );
    let expiries: [Expiry; 2] = [
        (
            "probe_ssl_earliest_cert_expiry",
            "Unix time of the earliest NotAfter over every certificate the server sent.",
            |tls| tls.earliest_expiry,
        ),
        (
            "probe_ssl_last_chain_expiry_timestamp_seconds",
            "Unix time of the earliest NotAfter in the verified chain (the root's counted when it came from --ca-file or SSL_CERT_*; not with --insecure).",
            |tls| tls.chain_expiry,
        ),
    ];
    for (name, help, value) in expiries {
        w.family(name, Kind::Gauge, help);
        for (target, tls) in &over_tls {
            if let Some(at) = value(tls) {
                w.sample(name, &[("target", target)], at as f64);
            }
        }
    }
    w.family(
        "probe_ssl_last_chain_info",
        Kind::Gauge,
        "The server's leaf certificate, as labels.",
    );
    for (target, tls) in &over_tls {
        if let Some(leaf) = &tls.leaf {
            w.sample(
                "probe_ssl_last_chain_info",
                &[
                    ("target", target),
                    ("fingerprint_sha256", &leaf.fingerprint_sha256),
                    ("subject", &leaf.subject),
                    ("issuer", &leaf.issuer),
                    ("subjectalternative", &leaf.dns_names),
                    ("serialnumber", &leaf.serial),
                ],
                1.0,
            );
        }
    }
    w.family(
        "probe_tls_version_info",
        Kind::Gauge,
        "The TLS version the last probe negotiated.",
    );
    for (target, tls) in &over_tls {
        w.sample(
            "probe_tls_version_info",
            &[("target", target), ("version", tls.version)],
            1.0,
        );
    }
    w.family(
        "probe_tls_cipher_info",
        Kind::Gauge,
        "The cipher suite the last probe negotiated, by Go's name.",
    );
    for (target, tls) in &over_tls {
        w.sample(
            "probe_tls_cipher_info",
            &[("target", target), ("cipher", &tls.cipher)],
            1.0,
        );
    }
}

fn ip_hash(ip: std::net::IpAddr) -> f64 {
    let bytes = match ip {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let hash = bytes.iter().fold(0x811c_9dc5_u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    f64::from(hash)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn probe(success: bool) -> Probe {
        Probe {
            success,
            duration: 0.001,
            http: Some(crate::probe::HttpSide {
                status: if success { 200 } else { 503 },
                body_bytes: 2,
                ..Default::default()
            }),
            error: (!success).then(|| "status 503".to_string()),
            ..Probe::default()
        }
    }

    /// Probes recorded while scrapes render, as fast as both can go: the
    /// two never wait on each other for good (they once took their two
    /// locks in opposite orders).
    #[test]
    fn recording_and_rendering_at_once_never_deadlock() {
        let targets = vec![Target {
            name: "app".into(),
            url: "http://127.0.0.1:1/".into(),
            conditions: Default::default(),
            fail_if_not_ssl: false,
        }];
        let board = Arc::new(Board::new(targets, Vec::new(), &[0.001, 0.01]));
        let (done, finished) = std::sync::mpsc::channel();
        for role in 0..4 {
            let (board, done) = (board.clone(), done.clone());
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    if role % 2 == 0 {
                        // Successes: the same locks, and no log line each.
                        board.record(0, probe(true));
                    } else {
                        assert!(board.render().contains("probe_success"));
                    }
                }
                let _ = done.send(());
            });
        }
        for _ in 0..4 {
            finished
                .recv_timeout(Duration::from_secs(20))
                .expect("recording and rendering deadlocked");
        }
    }

    /// A tcp:// target has no JSON gauges: a board with both kinds of
    /// target and a gauge renders (it once indexed past the empty values).
    #[test]
    fn a_tcp_target_beside_a_json_gauge_renders() {
        let targets = vec![
            Target {
                name: "app".into(),
                url: "http://127.0.0.1:1/".into(),
                conditions: Default::default(),
                fail_if_not_ssl: false,
            },
            Target {
                name: "db".into(),
                url: "tcp://127.0.0.1:1".into(),
                conditions: Default::default(),
                fail_if_not_ssl: false,
            },
        ];
        let gauge = JsonGauge {
            name: "app_queue_depth".into(),
            pointer: "/queue/depth".into(),
        };
        let board = Board::new(targets, vec![gauge], &[0.001]);
        board.record(
            0,
            Probe {
                gauges: vec![Some(3.0)],
                ..probe(true)
            },
        );
        board.record(
            1,
            Probe {
                success: true,
                ..Probe::default()
            },
        );
        let text = board.render();
        assert!(
            text.contains("app_queue_depth{target=\"app\"} 3\n"),
            "{text}"
        );
        assert!(!text.contains("app_queue_depth{target=\"db\"}"), "{text}");
        assert!(
            text.contains("probe_tcp_connected{target=\"db\"} 1\n"),
            "{text}"
        );
    }
}
