//! examples/alerts: the rules pass promtool's check and their unit tests,
//! the PrometheusRule holds the same groups, and on a real Prometheus
//! scraping real side-cars three faults each fire their alert, and none
//! fires before its fault.

use crate::tls::{days_from_now, listen, serve_leaf, Pki};
use sidecars_tests::prom::wait_for_sample;
use sidecars_tests::prometheus::Prometheus;
use sidecars_tests::{free_loopback_addr, skip, tempdir, wait_until, Daemon};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn alerts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/alerts")
}

fn promtool(args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(alerts_dir())
        .output()
        .ok()?;
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success(), said))
}

#[test]
fn promtool_checks_the_rules_and_passes_their_unit_tests() {
    let Some((checked, said)) = promtool(&["check", "rules", "sidecars.rules.yml"]) else {
        skip(
            "promtool_checks_the_rules_and_passes_their_unit_tests",
            "promtool is not installed (Debian's prometheus)",
        );
        return;
    };
    assert!(checked && said.contains("SUCCESS"), "{said}");
    let (tested, said) = promtool(&["test", "rules", "tests.yml"]).unwrap();
    assert!(tested && said.contains("SUCCESS"), "{said}");
    // Each alert is tested: its name appears in tests.yml.
    let rules = std::fs::read_to_string(alerts_dir().join("sidecars.rules.yml")).unwrap();
    let tests = std::fs::read_to_string(alerts_dir().join("tests.yml")).unwrap();
    for alert in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "{alert} has no unit test"
        );
    }
}

/// The PrometheusRule is the plain file's groups: text for text, indented.
#[test]
fn the_prometheusrule_holds_the_rules_files_groups() {
    let rules = std::fs::read_to_string(alerts_dir().join("sidecars.rules.yml")).unwrap();
    let resource = std::fs::read_to_string(alerts_dir().join("prometheusrule.yaml")).unwrap();
    let groups = &rules[rules.find("\ngroups:").expect("groups:") + 1..];
    let spec = &resource[resource.find("\nspec:\n").expect("spec:") + 7..];
    let indented: String = groups
        .lines()
        .map(|line| match line {
            "" => "\n".to_string(),
            line => format!("  {line}\n"),
        })
        .collect();
    assert_eq!(
        spec, indented,
        "prometheusrule.yaml's spec is not sidecars.rules.yml's groups"
    );
    assert!(resource.contains("kind: PrometheusRule\n"));
}

/// A plain HTTP server answering 200, until dropped.
fn http_ok() -> crate::tls::Server {
    listen(|mut socket| {
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf);
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    })
}

/// Sweep's cap, and what is over it: a file sweep may not delete.
const CAP: u64 = 64 * 1024;

#[test]
fn a_down_target_a_2_day_certificate_and_a_full_directory_fire_their_alerts() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(
            "a_down_target_a_2_day_certificate_and_a_full_directory_fire_their_alerts",
            "prometheus is not installed",
        );
        return;
    }
    // Healthy: a target that answers, a certificate good for 90 days, an
    // empty directory.
    let app = http_ok();
    let pki = Pki::new("alerts");
    let tls_addr = free_loopback_addr();
    let ip = tls_addr.rsplit_once(':').unwrap().0.to_string();
    let good = pki.leaf("good", &[&ip], (days_from_now(-1), days_from_now(90)));
    let short = pki.leaf("short", &[&ip], (days_from_now(-1), days_from_now(2)));
    let served = serve_leaf(&pki, tls_addr.clone(), good.der(), &good);
    let app_target = format!("app=http://{}/", app.addr);
    let cert_target = format!("cert=https://{tls_addr}/");
    let exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "300ms",
            "--ca-file",
            &pki.ca_file(),
            "--target",
            &app_target,
            "--target",
            &cert_target,
        ],
    );
    let dir = tempdir("alerts-sweep");
    let cap = CAP.to_string();
    let sweeper = Daemon::listening(
        "sweep",
        &[
            dir.to_str().unwrap(),
            "--max-size",
            &cap,
            "--exclude",
            "**/*.keep",
            "--interval",
            "300ms",
        ],
    );
    wait_for_sample(&exporter.addr, "probe_success{target=\"app\"}", |v| {
        v == 1.0
    });
    wait_for_sample(&exporter.addr, "probe_success{target=\"cert\"}", |v| {
        v == 1.0
    });
    wait_for_sample(&sweeper.addr, "sweep_max_size_bytes", |v| v == CAP as f64);

    // The rules as shipped, with every `for:` shortened to 2s.
    let rules = std::fs::read_to_string(alerts_dir().join("sidecars.rules.yml")).unwrap();
    let shortened: String = rules
        .lines()
        .map(|line| match line.trim_start().strip_prefix("for: ") {
            Some(_) => format!("{}for: 2s\n", &line[..line.len() - line.trim_start().len()]),
            None => format!("{line}\n"),
        })
        .collect();
    assert!(shortened.contains("for: 2s") && !shortened.contains("for: 2m"));
    let prometheus =
        Prometheus::start_with_rules(&[&exporter.addr, &sweeper.addr], Some(&shortened)).unwrap();

    // Before any fault: the series are in Prometheus, the rules have been
    // evaluated over them for longer than any `for:`, and nothing fires.
    prometheus.wait_for("probe_success{target=\"cert\"}", |v| v == 1.0);
    prometheus.wait_for(
        "probe_ssl_earliest_cert_expiry{target=\"cert\"} - time()",
        |v| v > 80.0 * 86400.0,
    );
    prometheus.wait_for("sweep_tree_bytes", |v| v < CAP as f64);
    let healthy_at = prometheus.query("vector(time())").unwrap();
    wait_until(
        "the rules evaluated 4s past healthy data",
        Duration::from_secs(30),
        || {
            prometheus
                .rules_evaluated_at()
                .is_some_and(|at| at >= healthy_at + 4.0)
        },
    );
    assert_eq!(prometheus.alerts(), [], "alerts before any fault");

    let fired = |alert: &str, on: &str| {
        wait_until(
            &format!("{alert} on {on} firing"),
            Duration::from_secs(60),
            || {
                prometheus
                    .alerts()
                    .iter()
                    .any(|(name, at, state)| name == alert && at == on && state == "firing")
            },
        );
    };
    let quiet = |alert: &str| {
        let alerts = prometheus.alerts();
        assert!(
            !alerts.iter().any(|(name, _, _)| name == alert),
            "{alert} before its fault: {alerts:?}"
        );
    };

    // 1. The target goes down.
    drop(app);
    fired("SidecarsProbeFailing", "app");
    quiet("SidecarsCertificateExpiresIn3Days");
    quiet("SidecarsSweepOverCap");

    // 2. The certificate is replaced by one that expires in 2 days.
    drop(served);
    wait_until("the TLS address free again", Duration::from_secs(5), || {
        std::net::TcpListener::bind(&tls_addr).is_ok()
    });
    let served = serve_leaf(&pki, tls_addr.clone(), short.der(), &short);
    fired("SidecarsCertificateExpiresIn3Days", "cert");
    quiet("SidecarsSweepOverCap");
    quiet("SidecarsCertificateExpiresIn14Days");

    // 3. The directory goes over sweep's cap with files it may not delete.
    std::fs::write(dir.join("pinned.keep"), vec![7u8; 2 * CAP as usize]).unwrap();
    fired("SidecarsSweepOverCap", &sweeper.addr);
    drop(served);
}
