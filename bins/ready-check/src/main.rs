//! ready-check: is the main container ready? An `exec` probe command (run the
//! checks once, exit 0 or 1) and, with `--serve`, an `httpGet` probe target.

mod check;
mod json_condition;
mod options;
mod serve;

use check::Budget;
use common::cli::{Program, EXIT_FAILURE};
use common::client::Client;
use common::log;
use std::io::Write;
use std::sync::Arc;

const PROGRAM: Program = Program {
    name: "ready-check",
    version: env!("CARGO_PKG_VERSION"),
    help: HELP,
};

const HELP: &str = "\
ready-check: readiness checks for a Kubernetes Pod; all must pass.

Usage: ready-check [GLOBAL] CHECK [MODIFIERS] [CHECK [MODIFIERS]]...

Checks (each followed by the modifiers that apply to it):
  --http URL                 GET URL; passes on status 200-399, as the kubelet judges
      --status CODE[,CODE]   require one of these statuses instead
      --header 'Name: value' send this header (repeatable)
      --contains TEXT        the body must contain TEXT (repeatable)
      --json 'POINTER OP VALUE'
                             the body is JSON and the value at the RFC 6901
                             POINTER compares true with the JSON literal VALUE;
                             OP is == != < <= > >= (repeatable)
  --tcp HOST:PORT            a TCP connection is accepted
  --file PATH                the file exists
      --max-age DURATION     and was modified within DURATION (heartbeat files)

Global:
  --timeout DURATION   budget for each check (default 1s); checks run in parallel
  --max-body SIZE      read at most this much of a body (default 1MiB)
  --follow-redirects   follow HTTP redirects (default: a 3xx passes as it is)
  --serve ADDR         stay up and answer GET /ready and / (200 ok, or 503 and
                       the reasons) and GET /live; ADDR is :PORT, HOST:PORT or
                       [V6]:PORT
  --cache DURATION     with --serve, reuse a result for this long (default 0:
                       concurrent probes still share one run)
  -q, --quiet          print nothing on success
  -h, --help           print this help
  -V, --version        print the version

Durations: 250ms, 2s, 1m30s, or a bare number of seconds.
Exit status: 0 all checks passed, 1 a check failed, 2 bad usage.

Examples:
  ready-check --http http://127.0.0.1:8080/known-value --json '/value == 5'
  ready-check --http http://127.0.0.1:8080/healthz --status 200 --tcp 127.0.0.1:5432
  ready-check --file /tmp/heartbeat --max-age 30s --quiet
  ready-check --serve :8081 --cache 1s --http http://127.0.0.1:8080/healthz
";

fn main() {
    let options = PROGRAM.parse(options::parse);
    let client = Client::new(
        concat!("ready-check/", env!("CARGO_PKG_VERSION")),
        options.follow_redirects,
    );
    let budget = Budget {
        timeout: options.timeout,
        max_body: options.max_body,
    };
    match options.serve {
        Some(addr) => serve(&addr, options.checks, client, budget, options.cache),
        None => std::process::exit(once(&options.checks, &client, &budget, options.quiet)),
    }
}

/// Exec probe: one line per check on stdout, exit 0 when all pass.
fn once(checks: &[check::Check], client: &Client, budget: &Budget, quiet: bool) -> i32 {
    let results = check::run_all(checks, client, budget);
    let all_ok = results.iter().all(Result::is_ok);
    let mut out = String::new();
    for (check, result) in checks.iter().zip(&results) {
        match result {
            Ok(()) if !quiet => out.push_str(&format!("ok {}\n", check.label())),
            Ok(()) => {}
            Err(reason) => out.push_str(&format!("FAIL {}: {reason}\n", check.label())),
        }
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    if all_ok {
        0
    } else {
        EXIT_FAILURE
    }
}

fn serve(
    addr: &str,
    checks: Vec<check::Check>,
    client: Client,
    budget: Budget,
    cache: std::time::Duration,
) {
    let shutdown = common::shutdown::Shutdown::install();
    let count = checks.len();
    let readiness = Arc::new(serve::Readiness::start(checks, client, budget, cache));
    let local = common::server::start(addr, readiness)
        .unwrap_or_else(|e| PROGRAM.config_exit(&format!("--serve: {e}")));
    log::info("serving", &[("addr", &local), ("checks", &count)]);
    let signal = shutdown.wait();
    log::info("stopping", &[("signal", &signal)]);
}
