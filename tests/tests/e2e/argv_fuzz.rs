//! Random command lines, thousands per binary: arrangements of its own flags
//! with junk values. Each process exits 0, 1 or 2 within a second, or is
//! still running then (serving, scheduling, following); it never panics and
//! never dies by a signal. Every address and URL among the values is on
//! loopback, and no value names a program that would do anything. Every
//! process runs in an empty directory of its own (sweep with `--dry-run`
//! too), so that `.` among the values names nothing of the repository.

use sidecars_tests::bin;
use sidecars_tests::rng::Rng;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const RUNS_PER_BINARY: usize = 1500;
/// Processes at once per binary (the binaries run side by side).
const AT_ONCE: usize = 4;

/// Values that are wrong in every way a user or a script gets them wrong.
const JUNK: &[&str] = &[
    "",
    " ",
    "x",
    "-",
    "--",
    "-1",
    "0",
    "1",
    "60",
    "0.5",
    "1e309",
    "NaN",
    "99999999999999999999",
    "250ms",
    "1m30s",
    "1h",
    "2s",
    "10ms",
    "scrape",
    ":0",
    ":http",
    "127.0.0.1:0",
    "[::1]:0",
    "[::1]",
    "localhost:0",
    "http://127.0.0.1:1/",
    "http://127.0.0.1:1/x?y=z",
    "https://127.0.0.1:1/",
    "ftp://x",
    "http://",
    "a=b",
    "=",
    "a=",
    "=b",
    "/value == 5",
    "/a < x",
    "/x >=",
    "== 5",
    "/dev/null",
    "/nonexistent/path",
    "/",
    ".",
    "Name: value",
    "Name",
    ": v",
    "200,204",
    "99",
    "1MiB",
    "0B",
    "18446744073709551616",
    "comm:",
    "comm:x",
    "auto",
    "é",
    "\u{7f}",
    "x=/queue/depth",
    "probe_success=/x",
    "e=ERROR",
];

/// Flags of a `--help` never fuzzed, with the reason.
const EXCLUDED: &[(&str, &str)] = &[(
    "--copy-to",
    "copies the executable into whatever directory the junk names",
)];

/// Each binary's own flags, read from its `--help` (so a new flag is
/// fuzzed without anyone adding it here), less the exclusions; plus a flag
/// no binary has, and every's `--`. Values are drawn from JUNK.
fn flags(binary: &str) -> Vec<String> {
    let mut flags: Vec<String> = sidecars_tests::help_flags(binary)
        .into_iter()
        .filter(|flag| EXCLUDED.iter().all(|(excluded, _)| flag != excluded))
        .collect();
    flags.push("--nope".into());
    flags.push("--".into());
    flags
}

fn arrangement(binary: &str, own: &[String], rng: &mut Rng) -> Vec<String> {
    let mut args = Vec::new();
    // every reads INTERVAL first; give it one most of the time.
    if binary == "every" && rng.below(4) > 0 {
        args.push(rng.pick(JUNK).to_string());
    }
    for _ in 0..rng.below(7) {
        if rng.below(3) > 0 {
            args.push(rng.pick(own));
        }
        args.push(rng.pick(JUNK).to_string());
    }
    args
}

/// How one run ended, when it did not end as it must.
fn misbehaved(binary: &str, args: &[String], sandbox: &std::path::Path) -> Option<String> {
    // sweep deletes: never for real here, and `.` is an empty sandbox.
    let dry: &[&str] = if binary == "sweep" {
        &["--dry-run"]
    } else {
        &[]
    };
    let mut child = Command::new(bin(binary))
        .args(dry)
        .args(args)
        .current_dir(sandbox)
        .env("PEERLOG_COUNT_RESOLVE", "openat2")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(1);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let still_running = status.is_none();
    if still_running {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stderr = reader.join().unwrap();
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Some(format!("panicked: {stderr}"));
    }
    match status.map(|s| (s.code(), std::os::unix::process::ExitStatusExt::signal(&s))) {
        None => None, // still serving, scheduling or following after a second
        Some((Some(0..=2), _)) => None,
        Some((code, signal)) => Some(format!("code {code:?} signal {signal:?}: {stderr}")),
    }
}

fn fuzz(binary: &str, seed: u64) {
    let own = flags(binary);
    let sandbox = sidecars_tests::tempdir("argv-fuzz");
    let sandbox = &sandbox;
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in 0..AT_ONCE {
            let (next, failures, own) = (&next, &failures, &own);
            scope.spawn(move || {
                let mut rng =
                    Rng::new(seed ^ (worker as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                while next.fetch_add(1, Ordering::Relaxed) < RUNS_PER_BINARY {
                    let args = arrangement(binary, own, &mut rng);
                    if let Some(why) = misbehaved(binary, &args, sandbox) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{binary} {args:?}: {why}"));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "seed {seed} (SIDECARS_SEED={seed} replays), {} of {RUNS_PER_BINARY}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every side-car, each with its own workers at once.
#[test]
fn every_side_car_survives_random_command_lines() {
    let (_, seed) = Rng::from_env("every_side_car_survives_random_command_lines");
    std::thread::scope(|scope| {
        for (i, binary) in sidecars_tests::sidecars().into_iter().enumerate() {
            scope.spawn(move || fuzz(&binary, seed.wrapping_add(i as u64)));
        }
    });
}

/// The flags come from `--help`: the ones the old hand-kept tables missed
/// are in, and only the exclusions are out.
#[test]
fn the_fuzzed_flags_are_every_flag_of_every_help_but_the_exclusions() {
    let mut all = std::collections::BTreeSet::new();
    for binary in sidecars_tests::sidecars() {
        let fuzzed = flags(&binary);
        for flag in sidecars_tests::help_flags(&binary) {
            let excluded = EXCLUDED.iter().any(|(e, _)| *e == flag);
            assert_eq!(fuzzed.contains(&flag), !excluded, "{binary} {flag}");
            all.insert(flag);
        }
    }
    for flag in [
        "--cron",
        "--tz",
        "--by",
        "--max-values",
        "--status",
        "--contains",
        "--json",
        "--follow-redirects",
    ] {
        assert!(all.contains(flag), "{flag}");
    }
}
