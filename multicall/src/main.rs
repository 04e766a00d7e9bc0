//! sidecars: every side-car in one executable, each run by the name it is
//! called by (argv[0]), as busybox and uutils' multicall `coreutils` do.
//! The image holds this one file and a symlink to it under each side-car's
//! name: the TLS stack, std and common are in it once, not five times, which
//! takes the image from 7.6 MB to 1.7 MB. The release tarballs keep one
//! executable per side-car, for copying one into an image of your own.

use common::cli::EXIT_USAGE;
use std::path::Path;

/// Each side-car's name and main: the crates of bins/ (a test holds them equal).
const SIDECARS: [(&str, fn()); 5] = [
    ("every", every::main),
    ("latency-exporter", latency_exporter::main),
    ("peerlog-count", peerlog_count::main),
    ("ready-check", ready_check::main),
    ("sweep", sweep::main),
];

fn main() {
    let called = std::env::args_os().next().unwrap_or_default();
    let name = Path::new(&called).file_name().unwrap_or_default();
    match SIDECARS.iter().find(|(sidecar, _)| name == *sidecar) {
        Some((_, main)) => main(),
        None => {
            let names: Vec<&str> = SIDECARS.iter().map(|(name, _)| *name).collect();
            eprintln!(
                "sidecars: called as {:?}, which names no side-car; run it by one of its names, {} (the image links each in /usr/local/bin)",
                called,
                names.join(", ")
            );
            std::process::exit(EXIT_USAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SIDECARS;

    #[test]
    fn it_runs_every_side_car_of_bins_and_nothing_else() {
        let names: Vec<&str> = SIDECARS.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, sidecars_tests::sidecars());
    }
}
