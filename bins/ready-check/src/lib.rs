//! ready-check: is the main container ready? An `exec` probe command (run the
//! checks once, exit 0 or 1) and, with `--serve`, an `httpGet` probe target.

mod check;
mod copy_to;
mod options;
mod serve;

use check::Budget;
use common::cli::{Fatal, Program, EXIT_FAILURE};
use common::log;
use net::client::Client;
use std::io::Write;
use std::sync::Arc;

const PROGRAM: Program = Program {
    name: "ready-check",
    help: options::HELP,
};

/// The program, from its command line to its exit.
pub fn main() {
    let options = PROGRAM.parse(options::parse);
    common::log::configure(options.log);
    if let Some(dir) = &options.copy_to {
        match copy_to::copy_to(dir) {
            Ok(target) => println!("copied to {}", target.display()),
            Err(e) => PROGRAM.fail(Fatal::config(e.to_string())),
        }
        return;
    }
    let client = Client::new(
        concat!("ready-check/", env!("CARGO_PKG_VERSION")),
        options.follow_redirects,
    )
    .with_tls(options.tls);
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
    addr: &common::server::ListenAddr,
    checks: Vec<check::Check>,
    client: Client,
    budget: Budget,
    cache: std::time::Duration,
) {
    let shutdown = common::shutdown::Shutdown::install();
    let bound = PROGRAM.bind("--serve", addr);
    let count = checks.len();
    let readiness = Arc::new(serve::Readiness::start(checks, client, budget, cache));
    PROGRAM.serve(bound, readiness, &[("checks", &count)]);
    let signal = shutdown.wait();
    log::info("stopping", &[("signal", &signal)]);
}
