//! Publishing the counts: Prometheus metrics with `--listen`, a JSON POST
//! with `--post`, the same JSON on stdout with `--once`.

use crate::families::*;
use crate::follow::Follower;
use common::log;
use common::process_metrics::ProcessMetrics;
use common::prom::Writer;
use net::client::{Client, Request};
use net::error::FetchError;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One `--by`: its name, (value, lines) pairs, and the lines sent to "other".
#[derive(Clone)]
pub struct ByTotals {
    pub name: String,
    pub counts: Vec<(String, u64)>,
    pub dropped: u64,
}

/// The counts as of the last interval.
#[derive(Clone)]
pub struct Totals {
    pub lines: u64,
    pub bytes: u64,
    pub matches: Vec<(String, u64)>,
    pub by: Vec<ByTotals>,
    pub rotations: u64,
    pub truncations: u64,
    pub unrecovered: u64,
    pub up: bool,
    pub peer_pid: Option<u32>,
}

impl Totals {
    pub fn new(matches: &[(String, String)]) -> Totals {
        Totals {
            lines: 0,
            bytes: 0,
            matches: matches.iter().map(|(name, _)| (name.clone(), 0)).collect(),
            by: Vec::new(),
            rotations: 0,
            truncations: 0,
            unrecovered: 0,
            up: false,
            peer_pid: None,
        }
    }

    pub fn update(&mut self, follower: &Follower, up: bool, peer_pid: Option<u32>) {
        let counter = &follower.counter;
        self.lines = counter.lines;
        self.bytes = counter.bytes;
        for (total, pattern) in self.matches.iter_mut().zip(&counter.patterns) {
            total.1 = pattern.lines;
        }
        self.by = counter
            .by
            .iter()
            .map(|by| ByTotals {
                name: by.name.clone(),
                counts: by.counts(),
                dropped: by.dropped,
            })
            .collect();
        self.rotations = follower.rotations;
        self.truncations = follower.truncations;
        self.unrecovered = follower.unrecovered;
        self.up = up;
        self.peer_pid = peer_pid;
    }
}

pub fn json(path: &Path, totals: &Totals) -> String {
    let matches: serde_json::Map<String, serde_json::Value> = totals
        .matches
        .iter()
        .map(|(name, n)| (name.clone(), (*n).into()))
        .collect();
    let mut value = serde_json::json!({ "path": path.to_string_lossy(), "lines": totals.lines, "matches": matches });
    if !totals.by.is_empty() {
        let by: serde_json::Map<String, serde_json::Value> = totals
            .by
            .iter()
            .map(|by| {
                let values: serde_json::Map<String, serde_json::Value> = by
                    .counts
                    .iter()
                    .map(|(v, n)| (v.clone(), (*n).into()))
                    .collect();
                (by.name.clone(), values.into())
            })
            .collect();
        value["by"] = by.into();
    }
    value.to_string()
}

pub struct Metrics {
    totals: Arc<Mutex<Totals>>,
    process: ProcessMetrics,
}

impl Metrics {
    pub fn new(totals: Arc<Mutex<Totals>>) -> Metrics {
        Metrics {
            totals,
            process: ProcessMetrics::new(),
        }
    }

    pub fn render(&self) -> String {
        let t = self
            .totals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut w = Writer::new();
        w.single(&LINES, t.lines as f64);
        w.family(&MATCHED);
        for (name, n) in &t.matches {
            w.sample(&MATCHED, &[("match", name)], *n as f64);
        }
        w.family(&LINES_BY);
        for by in &t.by {
            for (value, n) in &by.counts {
                w.sample(&LINES_BY, &[("by", &by.name), ("value", value)], *n as f64);
            }
        }
        w.family(&VALUES_DROPPED);
        for by in &t.by {
            w.sample(&VALUES_DROPPED, &[("by", &by.name)], by.dropped as f64);
        }
        w.single(&BYTES, t.bytes as f64);
        w.single(&ROTATIONS, t.rotations as f64);
        w.single(&TRUNCATIONS, t.truncations as f64);
        w.single(&UNRECOVERED, t.unrecovered as f64);
        w.single(&UP, f64::from(u8::from(t.up)));
        w.family(&PEER_PID);
        if let Some(pid) = t.peer_pid {
            w.sample(&PEER_PID, &[], f64::from(pid));
        }
        self.process.write(&mut w);
        common::build_info::write(&mut w, &BUILD_INFO);
        w.finish()
    }
}

/// `--post URL`: the totals as JSON each interval; a failure is logged (a
/// long run of them folded, as every outage) and the next interval's post
/// carries the totals anyway.
pub struct Poster {
    client: Client,
    url: String,
    path: std::path::PathBuf,
    headers: Vec<(String, String)>,
    failing: std::cell::RefCell<log::Outage>,
}

impl Poster {
    pub fn new(url: &str, path: &Path) -> Poster {
        Poster {
            client: Client::new(concat!("peerlog-count/", env!("CARGO_PKG_VERSION")), 0),
            url: url.to_string(),
            path: path.to_path_buf(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            failing: std::cell::RefCell::new(log::Outage::new()),
        }
    }

    pub fn post(&self, totals: &Totals) {
        let body = json(&self.path, totals);
        let request = Request {
            method: "POST",
            headers: &self.headers,
            body: Some(body.as_bytes()),
            // The answer is read, so a receiver that breaks HTTP is a failed
            // post and the connection closes cleanly; only its status is used.
            max_body: Some(64 * 1024),
            ..Request::get(&self.url, Duration::from_secs(5))
        };
        let failure = match self.client.fetch(&request) {
            Ok(reply) if (200..300).contains(&reply.status) => None,
            Ok(reply) => Some(format!("status {}", reply.status)),
            // As for every: the status is the receiver's word, its body is not.
            Err(FetchError::BodyTooLarge { status, .. }) if (200..300).contains(&status) => None,
            Err(e) => Some(e.to_string()),
        };
        let mut failing = self.failing.borrow_mut();
        match failure {
            Some(error) => failing.failed(
                "post failed; the next one carries the totals",
                &[("url", &self.url)],
                ("error", &error),
            ),
            None => {
                log::debug("posted", &[("url", &self.url), ("lines", &totals.lines)]);
                failing.succeeded("post succeeded again", &[("url", &self.url)])
            }
        }
    }

    /// Says the failures folded since their last line: at exit.
    pub fn flush_log(&self) {
        self.failing.borrow_mut().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_table_is_the_declared_families() {
        common::prom::check_docs(FAMILIES, include_str!("../../../docs/peerlog-count.md"));
    }

    #[test]
    fn a_scrape_writes_declared_families_only() {
        let mut totals = Totals::new(&[("errors".into(), "ERROR".into())]);
        totals.by.push(ByTotals {
            name: "level".into(),
            counts: vec![("info".into(), 3)],
            dropped: 1,
        });
        totals.peer_pid = Some(7);
        let text = Metrics::new(Arc::new(Mutex::new(totals))).render();
        assert_eq!(
            common::prom::check_scrape(FAMILIES, &text, &|_| false),
            Ok(())
        );
        let none: &[&str] = &[];
        assert_eq!(common::prom::unwritten(FAMILIES, &text), none);
    }
}
