//! A real Prometheus server (Debian's `prometheus`) on loopback with a
//! temporary config and storage, for tests that check a scrape end to end.

use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Prometheus {
    daemon: crate::Daemon,
    pub addr: String,
    dir: std::path::PathBuf,
}

impl Prometheus {
    /// None (the caller prints that it skipped) when prometheus is not installed.
    pub fn start(scrape_targets: &[&str]) -> Option<Prometheus> {
        Prometheus::start_with_rules(scrape_targets, None)
    }

    /// `start`, with these alerting rules (the text of a rules file),
    /// evaluated every second.
    pub fn start_with_rules(scrape_targets: &[&str], rules: Option<&str>) -> Option<Prometheus> {
        Command::new("prometheus")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        let dir = std::env::temp_dir().join(format!(
            "sidecars-prometheus-{}-{}",
            std::process::id(),
            crate::unique()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let targets: Vec<String> = scrape_targets.iter().map(|t| format!("'{t}'")).collect();
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sidecars\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        if let Some(rules) = rules {
            std::fs::write(dir.join("rules.yml"), rules).unwrap();
            config.push_str(&format!(
                "rule_files:\n  - {}\n",
                dir.join("rules.yml").display()
            ));
        }
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let addr = crate::free_loopback_addr();
        let daemon = crate::Daemon::start_command(
            Command::new("prometheus")
                .arg(format!(
                    "--config.file={}",
                    dir.join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--log.level=warn"),
            false,
        );
        let prometheus = Prometheus { daemon, addr, dir };
        crate::wait_until("prometheus to answer", Duration::from_secs(30), || {
            crate::http(&prometheus.addr, "GET", "/-/ready").is_ok_and(|(s, _, _)| s == 200)
        });
        Some(prometheus)
    }

    /// The value of an instant query's first result, if any.
    pub fn query(&self, promql: &str) -> Option<f64> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let (status, _, body) = crate::http(&self.addr, "GET", &path).ok()?;
        if status != 200 {
            return None;
        }
        let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
        doc.pointer("/data/result/0/value/1")?
            .as_str()?
            .parse()
            .ok()
    }

    /// Waits (30 s at most) until `promql` has a value satisfying `want`.
    pub fn wait_for(&self, promql: &str, want: impl Fn(f64) -> bool) -> f64 {
        let mut last = None;
        crate::wait_until(
            &format!("prometheus to see {promql}"),
            Duration::from_secs(30),
            || {
                last = self.query(promql);
                last.is_some_and(&want)
            },
        );
        last.unwrap()
    }

    /// The alerts Prometheus holds now: (alertname, target or instance,
    /// state: "pending" or "firing").
    pub fn alerts(&self) -> Vec<(String, String, String)> {
        let Ok((200, _, body)) = crate::http(&self.addr, "GET", "/api/v1/alerts") else {
            return Vec::new();
        };
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        doc.pointer("/data/alerts")
            .and_then(|a| a.as_array())
            .map(|alerts| {
                alerts
                    .iter()
                    .map(|a| {
                        let labels = &a["labels"];
                        let on = match labels.get("target") {
                            Some(target) => text(target),
                            None => text(&labels["instance"]),
                        };
                        (text(&labels["alertname"]), on, text(&a["state"]))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Unix time (seconds) of the latest evaluation of every rule group,
    /// the earliest of them; None before each group has run once.
    pub fn rules_evaluated_at(&self) -> Option<f64> {
        let (status, _, body) = crate::http(&self.addr, "GET", "/api/v1/rules").ok()?;
        if status != 200 {
            return None;
        }
        let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
        let groups = doc.pointer("/data/groups")?.as_array()?;
        let mut earliest: Option<f64> = None;
        for group in groups {
            let at = group["lastEvaluation"].as_str()?;
            let seconds = common::civil::parse_utc(at)? as f64;
            earliest = Some(earliest.map_or(seconds, |e: f64| e.min(seconds)));
        }
        earliest.filter(|_| !groups.is_empty())
    }

    pub fn pid(&self) -> i32 {
        self.daemon.pid()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.daemon.child.kill();
        let _ = self.daemon.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
