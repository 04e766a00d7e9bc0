//! latency-exporter: Prometheus metrics of synthetic HTTP probes of the main
//! container, with the blackbox exporter's metric names, and an app's own
//! JSON stats reformatted as gauges.

mod board;
mod families;
mod options;
mod probe;
mod probing;

/// The metric families `/metrics` writes, for the tests that hold scrapes to them.
pub use families::FAMILIES;

use board::Board;
use common::cli::Program;
use common::log;
use common::server::{Metrics, MetricsEndpoint};
use common::shutdown::Shutdown;
use net::client::Client;
use options::Probing;
use probe::Prober;
use std::sync::Arc;

const PROGRAM: Program = Program {
    name: "latency-exporter",
    help: options::HELP,
};

const INDEX: &str = "latency-exporter: Prometheus metrics of synthetic HTTP probes.\n\n/metrics  the metrics\n/healthz  liveness\n";

/// The program, from its command line to its exit.
pub fn main() {
    let options = PROGRAM.parse(options::parse);
    common::log::configure(options.log);
    let shutdown = Shutdown::install();
    let bound = PROGRAM.bind("--listen", &options.listen);
    let prober = Arc::new(Prober {
        headers: options.headers,
        client: Client::new(
            concat!("latency-exporter/", env!("CARGO_PKG_VERSION")),
            options.follow_redirects,
        )
        .with_tls(options.tls),
        max_body: options.max_body,
        json_gauges: options.json_gauges.clone(),
        cel_gauges: options.cel_gauges.clone(),
    });
    let board = Arc::new(
        Board::new(options.targets, options.json_gauges, &options.buckets)
            .with_cel_gauges(options.cel_gauges),
    );
    let (mode, source) = match options.probing {
        Probing::Every(interval) => {
            probing::every(interval, options.timeout, &board, &prober, &shutdown);
            let render = board.clone();
            (
                common::duration::format(interval),
                Metrics::Render(Box::new(move || render.render())),
            )
        }
        Probing::OnScrape => (
            "scrape".to_string(),
            Metrics::Shared(probing::on_scrape(board.clone(), prober, options.timeout)),
        ),
    };
    let endpoint = MetricsEndpoint {
        index: INDEX,
        source,
    };
    let targets = board.targets.len();
    PROGRAM.serve(
        bound,
        Arc::new(endpoint),
        &[("targets", &targets), ("interval", &mode)],
    );
    let signal = shutdown.wait();
    board.flush_logs();
    log::info("stopping", &[("signal", &signal)]);
}
