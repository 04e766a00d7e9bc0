//! sidecars: every side-car in one executable, each run by the name it is
//! called by (argv[0]), as busybox and uutils' multicall `coreutils` do.
//! The image holds this one file and a symlink to it under each side-car's
//! name: the TLS stack, std and common are in it once, not five times, which
//! takes the image from 7.6 MB to 1.7 MB. The release tarballs keep one
//! executable per side-car, for copying one into an image of your own.
//! As busybox, it also takes the side-car's name as its first argument:
//! `sidecars ready-check --http URL`.

use common::cli::EXIT_USAGE;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;

// `SIDECARS`: each side-car's name and main, generated from bins/ by build.rs.
include!(concat!(env!("OUT_DIR"), "/sidecars.rs"));

fn main() {
    let mut args = std::env::args_os();
    let called = args.next().unwrap_or_default();
    let name = Path::new(&called).file_name().unwrap_or_default();
    if let Some((_, main)) = SIDECARS.iter().find(|(sidecar, _)| name == *sidecar) {
        return main();
    }
    let rest: Vec<OsString> = args.collect();
    let names: Vec<&str> = SIDECARS.iter().map(|(name, _)| *name).collect();
    match rest.first().and_then(|first| first.to_str()) {
        Some(first) if names.contains(&first) => run_as(first, &rest[1..]),
        Some("-h" | "--help") => print!("{}", help(&names)),
        Some("-V" | "--version") => print!("{}", common::build_info::version_text("sidecars")),
        Some(other) => usage(&format!(
            "'{other}' names no side-car; give one of {} first, or run it by that name",
            names.join(", ")
        )),
        None => usage(&format!(
            "give a side-car's name first ({}), or run it by that name",
            names.join(", ")
        )),
    }
}

/// Runs the side-car `name` with `args`, as if called by that name: the
/// same process (its PID, as PID 1 too), argv[0] the name.
fn run_as(name: &str, args: &[OsString]) {
    let this = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let error = std::process::Command::new(this)
        .arg0(name)
        .args(args)
        .exec();
    eprintln!("sidecars: cannot run {name}: {error}");
    std::process::exit(EXIT_USAGE);
}

fn usage(why: &str) {
    eprintln!("sidecars: {why}");
    eprintln!("Try 'sidecars --help' for more information.");
    std::process::exit(EXIT_USAGE);
}

fn help(names: &[&str]) -> String {
    format!(
        "sidecars {}: every side-car in one executable.

Usage: NAME [ARG]...            called by a side-car's name (the image links each)
       sidecars NAME [ARG]...   the side-car's name first, as busybox takes it
       sidecars --help | --version

Side-cars: {}
Each one's own help: sidecars NAME --help

Examples:
  sidecars ready-check --http http://127.0.0.1:8080/healthz
  sidecars every 5m -- /app/bin/cleanup
",
        common::build_info::VERSION,
        names.join(", ")
    )
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
