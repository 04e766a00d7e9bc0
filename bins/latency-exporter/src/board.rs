//! The latest result and the running totals of every target, and their
//! rendering as Prometheus text. A scrape reads this board; it never waits
//! on a target (except in `--interval scrape` mode, by design).

use crate::families::*;
use crate::probe::Probe;
use crate::probe::{CelGauge, JsonGauge, Target};
use common::log;
use common::process_metrics::ProcessMetrics;
use common::prom::{Histogram, Kind, Writer};
use std::sync::Mutex;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Board {
    pub targets: Vec<Target>,
    json_gauges: Vec<JsonGauge>,
    cel_gauges: Vec<CelGauge>,
    series: Mutex<Vec<Series>>,
    /// The targets' text, rendered once per probe rather than per scrape.
    rendered: Mutex<Option<String>>,
    process: ProcessMetrics,
}

/// A family's name and HELP (its fields, not a reference to it, so that no
/// Family is kept in the executable), and its value read off the last probe.
type LastProbeGauge = (&'static str, &'static str, fn(&Probe) -> Option<f64>);

struct Series {
    last: Option<Probe>,
    latency: Histogram,
    successes: u64,
    failures: u64,
    last_success: Option<f64>,
    /// Folds the log of a long outage; the counters count every failure.
    outage: log::Outage,
    /// Per `--cel-gauge`: answers it failed on, and the last reason said
    /// (a reason is logged when it changes, not on every probe).
    cel_errors: Vec<u64>,
    cel_said: Vec<Option<String>>,
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
                cel_errors: Vec::new(),
                cel_said: Vec::new(),
            })
            .collect();
        Board {
            targets,
            json_gauges,
            cel_gauges: Vec::new(),
            series: Mutex::new(series),
            rendered: Mutex::new(None),
            process: ProcessMetrics::new(),
        }
    }

    /// With `--cel-gauge`s.
    pub fn with_cel_gauges(mut self, gauges: Vec<CelGauge>) -> Board {
        let all = self.series.get_mut().unwrap_or_else(|e| e.into_inner());
        for series in all.iter_mut() {
            series.cel_errors = vec![0; gauges.len()];
            series.cel_said = vec![None; gauges.len()];
        }
        self.cel_gauges = gauges;
        self
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
        for (i, outcome) in probe
            .cel_series
            .iter()
            .enumerate()
            .take(self.cel_gauges.len())
        {
            match outcome {
                Ok(_) => series.cel_said[i] = None,
                Err(why) => {
                    series.cel_errors[i] += 1;
                    if series.cel_said[i].as_deref() != Some(why.as_str()) {
                        let gauge = self.cel_gauges[i].name.as_str();
                        log::warn(
                            "cel gauge failed",
                            &[("target", target), ("gauge", &gauge), ("error", why)],
                        );
                        series.cel_said[i] = Some(why.clone());
                    }
                }
            }
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
        common::build_info::write(&mut w, &BUILD_INFO);
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
        let gauges: [LastProbeGauge; 15] = [
            (SUCCESS.name, SUCCESS.help, |p| {
                Some(f64::from(u8::from(p.success)))
            }),
            (DURATION_SECONDS.name, DURATION_SECONDS.help, |p| {
                Some(p.duration)
            }),
            (
                DNS_LOOKUP_TIME_SECONDS.name,
                DNS_LOOKUP_TIME_SECONDS.help,
                |p| Some(p.phases.resolve.as_secs_f64()),
            ),
            (IP_PROTOCOL.name, IP_PROTOCOL.help, |p| {
                p.ip.map(|ip| if ip.is_ipv4() { 4.0 } else { 6.0 })
            }),
            (IP_ADDR_HASH.name, IP_ADDR_HASH.help, |p| p.ip.map(ip_hash)),
            (HTTP_STATUS_CODE.name, HTTP_STATUS_CODE.help, |p| {
                p.http.as_ref().map(|h| f64::from(h.status))
            }),
            (HTTP_VERSION.name, HTTP_VERSION.help, |p| {
                p.http.as_ref().filter(|h| h.status > 0).map(|h| h.version)
            }),
            (HTTP_SSL.name, HTTP_SSL.help, |p| {
                p.http
                    .as_ref()
                    .map(|_| f64::from(u8::from(p.tls.is_some())))
            }),
            (HTTP_REDIRECTS.name, HTTP_REDIRECTS.help, |p| {
                p.http.as_ref().map(|h| f64::from(h.redirects))
            }),
            (HTTP_CONTENT_LENGTH.name, HTTP_CONTENT_LENGTH.help, |p| {
                p.http
                    .as_ref()
                    .map(|h| h.content_length.map_or(-1.0, |n| n as f64))
            }),
            (
                HTTP_UNCOMPRESSED_BODY_LENGTH.name,
                HTTP_UNCOMPRESSED_BODY_LENGTH.help,
                |p| p.http.as_ref().map(|h| h.body_bytes as f64),
            ),
            (
                FAILED_DUE_TO_CONDITION.name,
                FAILED_DUE_TO_CONDITION.help,
                |p| Some(f64::from(u8::from(p.failed_condition))),
            ),
            (FAILED_DUE_TO_REGEX.name, FAILED_DUE_TO_REGEX.help, |p| {
                Some(f64::from(u8::from(p.failed_condition)))
            }),
            (FAILED_DUE_TO_CEL.name, FAILED_DUE_TO_CEL.help, |p| {
                Some(f64::from(u8::from(p.failed_cel)))
            }),
            (TCP_CONNECTED.name, TCP_CONNECTED.help, |p| {
                p.http
                    .is_none()
                    .then(|| f64::from(u8::from(p.success || p.phases.tls > Duration::ZERO)))
            }),
        ];
        for (name, help, value) in gauges {
            w.family_named(name, Kind::Gauge, help);
            for (target, _, probe) in &probed {
                if let Some(v) = value(probe) {
                    w.sample_named(name, &[("target", target)], v);
                }
            }
        }
        w.family(&HTTP_DURATION);
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
                    &HTTP_DURATION,
                    &[("target", target), ("phase", phase)],
                    d.as_secs_f64(),
                );
            }
        }
        write_tls_series(&mut w, &probed);
        w.family(&LAST_SUCCESS);
        for (target, series) in self.targets.iter().zip(all.iter()) {
            if let Some(at) = series.last_success {
                w.sample(&LAST_SUCCESS, &[("target", &target.name)], at);
            }
        }
        w.family(&TOTAL);
        for (target, series) in self.targets.iter().zip(all.iter()) {
            let t = target.name.as_str();
            w.sample(
                &TOTAL,
                &[("target", t), ("result", "success")],
                series.successes as f64,
            );
            w.sample(
                &TOTAL,
                &[("target", t), ("result", "failure")],
                series.failures as f64,
            );
        }
        w.family(&LATENCY);
        for (target, series) in self.targets.iter().zip(all.iter()) {
            w.histogram(&LATENCY, &[("target", &target.name)], &series.latency);
        }
        for (i, gauge) in self.json_gauges.iter().enumerate() {
            let help = format!(
                "The number at JSON pointer {} in the target's last answer.",
                gauge.pointer
            );
            w.family_named(&gauge.name, Kind::Gauge, &help);
            for (target, _, probe) in &probed {
                // A tcp:// target, or a probe that failed early, has no
                // gauge values: no sample, rather than an index past them.
                if let Some(value) = probe.gauges.get(i).copied().flatten() {
                    w.sample_named(&gauge.name, &[("target", target)], value);
                }
            }
        }
        self.write_cel_gauges(&mut w, &probed, &all);
        w.finish()
    }

    fn write_cel_gauges(&self, w: &mut Writer, probed: &[(&str, &Series, &Probe)], all: &[Series]) {
        for (i, gauge) in self.cel_gauges.iter().enumerate() {
            let help = format!(
                "CEL over the target's last answer: {}",
                gauge.program.source()
            );
            w.family_named(&gauge.name, Kind::Gauge, &help);
            for (target, _, probe) in probed {
                let Some(Ok(series)) = probe.cel_series.get(i) else {
                    continue;
                };
                for (values, value) in series {
                    let mut labels: Vec<(&str, &str)> = vec![("target", target)];
                    labels.extend(
                        gauge
                            .labels
                            .iter()
                            .map(String::as_str)
                            .zip(values.iter().map(String::as_str)),
                    );
                    w.sample_named(&gauge.name, &labels, *value);
                }
            }
        }
        if !self.cel_gauges.is_empty() {
            w.family(&CEL_GAUGE_ERRORS);
            for (target, series) in self.targets.iter().zip(all) {
                for (gauge, errors) in self.cel_gauges.iter().zip(&series.cel_errors) {
                    let labels = [
                        ("target", target.name.as_str()),
                        ("name", gauge.name.as_str()),
                    ];
                    w.sample(&CEL_GAUGE_ERRORS, &labels, *errors as f64);
                }
            }
        }
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
            SSL_EARLIEST_CERT_EXPIRY.name,
            SSL_EARLIEST_CERT_EXPIRY.help,
            |tls| tls.earliest_expiry,
        ),
        (
            SSL_LAST_CHAIN_EXPIRY_TIMESTAMP_SECONDS.name,
            SSL_LAST_CHAIN_EXPIRY_TIMESTAMP_SECONDS.help,
            |tls| tls.chain_expiry,
        ),
    ];
    for (name, help, value) in expiries {
        w.family_named(name, Kind::Gauge, help);
        for (target, tls) in &over_tls {
            if let Some(at) = value(tls) {
                w.sample_named(name, &[("target", target)], at as f64);
            }
        }
        // A chain refused (expired, say) keeps its earliest expiry, so the
        // expired-certificate alert still sees it (blackbox_exporter 1119).
        if name == SSL_EARLIEST_CERT_EXPIRY.name {
            for (target, _, probe) in probed {
                if let Some(at) = probe.refused_expiry {
                    w.sample_named(name, &[("target", target)], at as f64);
                }
            }
        }
    }
    w.family(&SSL_LAST_CHAIN_INFO);
    for (target, tls) in &over_tls {
        if let Some(leaf) = &tls.leaf {
            w.sample(
                &SSL_LAST_CHAIN_INFO,
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
    w.family(&TLS_VERSION_INFO);
    for (target, tls) in &over_tls {
        w.sample(
            &TLS_VERSION_INFO,
            &[("target", target), ("version", tls.version)],
            1.0,
        );
    }
    w.family(&TLS_CIPHER_INFO);
    for (target, tls) in &over_tls {
        w.sample(
            &TLS_CIPHER_INFO,
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

    #[test]
    fn the_docs_table_is_the_declared_families() {
        let page = include_str!("../../../docs/latency-exporter.md");
        common::prom::check_docs(FAMILIES, page);
    }

    /// Every family a scrape can hold, HTTP and TLS, is declared with the
    /// labels its samples carry; a `--json-gauge` is the user's.
    #[test]
    fn a_scrape_writes_declared_families_only() {
        let target = |name: &str| Target {
            name: name.into(),
            url: "https://127.0.0.1:1/".into(),
            conditions: Default::default(),
            fail_if_not_ssl: false,
        };
        let gauge = JsonGauge {
            name: "app_queue_depth".into(),
            pointer: "/depth".into(),
        };
        let tcp = Target {
            url: "tcp://127.0.0.1:1".into(),
            ..target("c")
        };
        let cel_gauge = CelGauge {
            name: "app_items".into(),
            labels: vec!["state".into()],
            program: std::sync::Arc::new(
                cel::Program::compile("body.items", &net::condition::cel_variables()).unwrap(),
            ),
        };
        let board = Board::new(vec![target("a"), target("b"), tcp], vec![gauge], &[0.01])
            .with_cel_gauges(vec![cel_gauge]);
        let mut over_tls = probe(true);
        over_tls.ip = Some("127.0.0.1".parse().unwrap());
        over_tls.gauges = vec![Some(3.0)];
        over_tls.cel_series = vec![Ok(vec![(vec!["ready".into()], 2.0)])];
        over_tls.tls = Some(net::tls::TlsInfo {
            version: "TLS 1.3",
            cipher: "TLS_AES_128_GCM_SHA256".into(),
            earliest_expiry: Some(2_000_000_000),
            chain_expiry: Some(2_000_000_000),
            leaf: Some(net::tls::Leaf {
                fingerprint_sha256: "ab".into(),
                subject: "CN=a".into(),
                issuer: "CN=ca".into(),
                dns_names: "a".into(),
                serial: "01".into(),
            }),
            ..Default::default()
        });
        board.record(0, over_tls);
        board.record(1, probe(false));
        let connected = Probe {
            success: true,
            ..Probe::default()
        };
        board.record(2, connected);
        let text = board.render();
        let user_named = |name: &str| name == "app_queue_depth" || name == "app_items";
        assert!(
            text.contains("app_items{target=\"a\",state=\"ready\"} 2\n"),
            "{text}"
        );
        assert_eq!(
            common::prom::check_scrape(FAMILIES, &text, &user_named),
            Ok(())
        );
        let none: &[&str] = &[];
        assert_eq!(common::prom::unwritten(FAMILIES, &text), none);
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
