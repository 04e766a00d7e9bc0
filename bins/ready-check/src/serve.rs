//! `--serve`: answer the kubelet's httpGet probe. Probes that arrive while a
//! run is in flight wait for that run and share its result, and `--cache`
//! reuses a result for a while, so a burst of probes (or a hostile client)
//! cannot multiply the load on the target. Waiting probes cost no thread.

use crate::check::{self, Budget, Check};
use common::client::Client;
use common::log;
use common::server::{Defer, Handler, Later, Request, Response};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub struct Readiness {
    cache: Duration,
    state: Arc<(Mutex<State>, Condvar)>,
}

#[derive(Default)]
struct State {
    last: Option<(Instant, Arc<Outcome>)>,
    /// Probes waiting for the run in flight (or about to start).
    waiting: Vec<Later>,
}

struct Outcome {
    ready: bool,
    body: String,
}

impl Outcome {
    fn response(&self) -> Response {
        Response::text(if self.ready { 200 } else { 503 }, self.body.clone())
    }
}

impl Readiness {
    /// Starts the thread that runs the checks whenever probes are waiting.
    pub fn start(checks: Vec<Check>, client: Client, budget: Budget, cache: Duration) -> Readiness {
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = state.clone();
        std::thread::Builder::new()
            .name("checks".into())
            .spawn(move || run_when_asked(&checks, &client, &budget, &shared))
            .expect("spawn the checks thread");
        Readiness { cache, state }
    }
}

fn run_when_asked(
    checks: &[Check],
    client: &Client,
    budget: &Budget,
    state: &(Mutex<State>, Condvar),
) {
    let (lock, asked) = state;
    let mut previous: Option<bool> = None;
    loop {
        let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        while guard.waiting.is_empty() {
            guard = asked.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
        drop(guard);
        // Probes arriving during this run join `waiting` and share its result.
        let outcome = Arc::new(run(checks, client, budget));
        if previous != Some(outcome.ready) {
            if outcome.ready {
                log::info("ready", &[]);
            } else {
                log::warn(
                    "not ready",
                    &[("reasons", &outcome.body.trim_end().replace('\n', "; "))],
                );
            }
            previous = Some(outcome.ready);
        }
        let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        guard.last = Some((Instant::now(), outcome.clone()));
        let waiting = std::mem::take(&mut guard.waiting);
        drop(guard);
        for later in waiting {
            later.send(outcome.response());
        }
    }
}

fn run(checks: &[Check], client: &Client, budget: &Budget) -> Outcome {
    let results = check::run_all(checks, client, budget);
    let mut body = String::new();
    for (check, result) in checks.iter().zip(&results) {
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

impl Handler for Readiness {
    fn paths(&self) -> &[&'static str] {
        &["/", "/ready", "/live"]
    }

    fn handle(&self, request: &Request, defer: &mut Defer) -> Option<Response> {
        if request.path == "/live" {
            return Some(Response::text(200, "ok\n"));
        }
        let (lock, asked) = &*self.state;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, outcome)) = &state.last {
            if !self.cache.is_zero() && at.elapsed() < self.cache {
                return Some(outcome.response());
            }
        }
        state.waiting.push(defer.later());
        asked.notify_one();
        None
    }
}
