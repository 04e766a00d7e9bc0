//! `--serve`: answer the kubelet's httpGet probe. Concurrent requests share
//! the check in flight, and `--cache` reuses a result for a while, so a burst
//! of probes (or a hostile client) cannot multiply the load on the target.

use crate::check::{self, Budget, Check};
use common::client::Client;
use common::log;
use common::server::{Handler, Request, Response};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub struct Readiness {
    checks: Vec<Check>,
    client: Client,
    budget: Budget,
    cache: Duration,
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Default)]
struct State {
    last: Option<(Instant, Arc<Outcome>)>,
    running: bool,
    /// Bumped when a run finishes, so waiters know theirs is in.
    runs: u64,
}

struct Outcome {
    ready: bool,
    body: String,
}

impl Readiness {
    pub fn new(checks: Vec<Check>, client: Client, budget: Budget, cache: Duration) -> Readiness {
        Readiness {
            checks,
            client,
            budget,
            cache,
            state: Mutex::default(),
            finished: Condvar::new(),
        }
    }

    /// The result of a fresh enough run: cached, in flight, or started now.
    fn outcome(&self) -> Arc<Outcome> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, outcome)) = &state.last {
            if !self.cache.is_zero() && at.elapsed() < self.cache {
                return outcome.clone();
            }
        }
        if state.running {
            let waiting_for = state.runs + 1;
            while state.runs < waiting_for {
                state = self.finished.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if let Some((_, outcome)) = &state.last {
                return outcome.clone();
            }
        }
        state.running = true;
        let previous = state.last.as_ref().map(|(_, o)| o.ready);
        drop(state);

        let outcome = Arc::new(self.run());
        if previous != Some(outcome.ready) {
            if outcome.ready {
                log::info("ready", &[]);
            } else {
                log::warn("not ready", &[("reasons", &outcome.body.trim_end().replace('\n', "; "))]);
            }
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.last = Some((Instant::now(), outcome.clone()));
        state.running = false;
        state.runs += 1;
        self.finished.notify_all();
        outcome
    }

    fn run(&self) -> Outcome {
        let results = check::run_all(&self.checks, &self.client, &self.budget);
        let mut body = String::new();
        for (check, result) in self.checks.iter().zip(&results) {
            if let Err(reason) = result {
                body.push_str(&format!("FAIL {}: {reason}\n", check.label()));
            }
        }
        let ready = body.is_empty();
        if ready {
            body.push_str("ok\n");
        }
        Outcome { ready, body }
    }
}

impl Handler for Readiness {
    fn paths(&self) -> &[&'static str] {
        &["/", "/ready", "/live"]
    }

    fn blocks(&self, path: &str) -> bool {
        path != "/live"
    }

    fn handle(&self, request: &Request) -> Response {
        if request.path == "/live" {
            return Response::text(200, "ok\n");
        }
        let outcome = self.outcome();
        Response::text(if outcome.ready { 200 } else { 503 }, outcome.body.clone())
    }
}
