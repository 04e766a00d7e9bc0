//! `--serve`: answer the kubelet's httpGet probe. Probes that arrive while a
//! run is in flight share it, and `--cache` reuses a result for a while
//! (common's `SharedRun`), so a burst of probes (or a hostile client) cannot
//! multiply the load on the target. Waiting probes cost no thread.

use crate::check::{self, Budget, Check};
use common::log;
use common::server::{Defer, Handler, Request, Response, SharedRun};
use net::client::Client;
use std::time::Duration;

pub struct Readiness {
    run: SharedRun<Outcome>,
}

struct Outcome {
    ready: bool,
    body: String,
}

impl Readiness {
    /// Starts the thread that runs the checks whenever probes are waiting.
    pub fn start(checks: Vec<Check>, client: Client, budget: Budget, cache: Duration) -> Readiness {
        let mut previous: Option<bool> = None;
        let timeout = budget.timeout;
        let run = move |_: Duration| {
            let outcome = run(&checks, &client, &budget);
            if log::enabled(log::Level::Debug) {
                log::debug(
                    "checked",
                    &[
                        ("ready", &outcome.ready),
                        ("result", &outcome.body.trim_end().replace('\n', "; ")),
                    ],
                );
            }
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
            outcome
        };
        Readiness {
            run: SharedRun::start("checks", timeout, cache, run, |outcome| {
                Response::text(if outcome.ready { 200 } else { 503 }, outcome.body.clone())
            }),
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
        self.run.ask(defer.later(), None);
        None
    }
}
