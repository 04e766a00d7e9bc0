//! One probe of one target: what came back and how long it took, from
//! connection start to the last body byte.

use common::client::{Client, FetchError, Request};
use common::condition::{Conditions, DefaultStatus};
use std::time::Duration;

pub struct Target {
    /// The `target` label: the NAME given, or the URL.
    pub name: String,
    pub url: String,
    /// `--status`, `--header`, `--contains`, `--json` given after it.
    pub conditions: Conditions,
}

#[derive(Clone)]
pub struct JsonGauge {
    pub name: String,
    pub pointer: String,
}

pub struct Probe {
    pub success: bool,
    pub duration: f64,
    /// 0 when no response arrived, as in the blackbox exporter.
    pub status: u16,
    pub body_bytes: usize,
    /// Per `--json-gauge`, the number found (None: missing or not a number).
    pub gauges: Vec<Option<f64>>,
    pub error: Option<String>,
    /// A condition of the target (`--status`, `--contains`, `--json`) failed.
    pub failed_condition: bool,
}

pub struct Prober {
    pub client: Client,
    pub headers: Vec<(String, String)>,
    pub max_body: u64,
    pub json_gauges: Vec<JsonGauge>,
}

impl Prober {
    pub fn probe(&self, target: &Target, timeout: Duration) -> Probe {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .chain(&target.conditions.headers)
            .cloned()
            .collect();
        let request = Request {
            headers: &headers,
            max_body: Some(self.max_body),
            ..Request::get(&target.url, timeout)
        };
        let started = std::time::Instant::now();
        let mut probe = Probe {
            success: false,
            duration: 0.0,
            status: 0,
            body_bytes: 0,
            gauges: vec![None; self.json_gauges.len()],
            error: None,
            failed_condition: false,
        };
        match self.client.fetch(&request) {
            Ok(reply) => {
                probe.duration = reply.elapsed.as_secs_f64();
                probe.status = reply.status;
                probe.body_bytes = reply.body.len();
                // As the blackbox exporter's http_2xx module judges, unless
                // --status says; then the target's conditions on the body.
                let conditions = &target.conditions;
                let judged = conditions
                    .judge_status(reply.status, DefaultStatus::Success)
                    .map_err(|e| (e, !conditions.statuses.is_empty()))
                    .and_then(|()| conditions.judge_body(&reply.body).map_err(|e| (e, true)));
                probe.success = judged.is_ok();
                if let Err((error, by_condition)) = judged {
                    probe.error = Some(error);
                    probe.failed_condition = by_condition;
                }
                if !self.json_gauges.is_empty() {
                    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&reply.body) {
                        for (slot, gauge) in probe.gauges.iter_mut().zip(&self.json_gauges) {
                            *slot = doc
                                .pointer(&gauge.pointer)
                                .and_then(serde_json::Value::as_f64);
                        }
                    }
                }
            }
            Err(e) => {
                probe.duration = started.elapsed().as_secs_f64();
                if let FetchError::BodyTooLarge { status, .. } = e {
                    probe.status = status;
                }
                probe.error = Some(e.to_string());
            }
        }
        probe
    }
}
