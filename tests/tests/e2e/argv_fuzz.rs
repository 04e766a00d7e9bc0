//! Random command lines, thousands per binary: arrangements of its own flags
//! with junk values. Each process exits 0, 1 or 2 within a second, or is
//! still running then (serving, scheduling, following); it never panics and
//! never dies by a signal. Every address and URL among the values is on
//! loopback, and no value names a program that would do anything.

use sidecars_tests::bin;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const RUNS_PER_BINARY: usize = 1500;
const AT_ONCE: usize = 12;

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

/// Each binary's own flags; values are drawn from JUNK.
fn flags(binary: &str) -> &'static [&'static str] {
    match binary {
        "ready-check" => &[
            "--http",
            "--tcp",
            "--file",
            "--status",
            "--header",
            "--contains",
            "--json",
            "--max-age",
            "--timeout",
            "--max-body",
            "--follow-redirects",
            "--serve",
            "--cache",
            "--quiet",
            "-q",
            "--help",
            "--version",
            "--nope",
        ],
        "latency-exporter" => &[
            "--listen",
            "--target",
            "--interval",
            "--timeout",
            "--header",
            "--json-gauge",
            "--buckets",
            "--max-body",
            "--help",
            "--version",
            "--nope",
        ],
        "every" => &[
            "--timeout",
            "--jitter",
            "--delay-first",
            "--count",
            "--max-failures",
            "--listen",
            "--method",
            "-X",
            "--header",
            "-H",
            "--data",
            "-d",
            "--help",
            "--version",
            "--",
            "--nope",
        ],
        _ => &[
            "--peer",
            "--root",
            "--proc",
            "--interval",
            "--rotate-wait",
            "--match",
            "--from-end",
            "--listen",
            "--post",
            "--once",
            "--help",
            "--version",
            "--nope",
        ],
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn arrangement(binary: &str, rng: &mut Rng) -> Vec<String> {
    let own = flags(binary);
    let mut args = Vec::new();
    // every reads INTERVAL first; give it one most of the time.
    if binary == "every" && rng.below(4) > 0 {
        args.push(JUNK[rng.below(JUNK.len())].to_string());
    }
    for _ in 0..rng.below(7) {
        if rng.below(3) > 0 {
            args.push(own[rng.below(own.len())].to_string());
        }
        args.push(JUNK[rng.below(JUNK.len())].to_string());
    }
    args
}

/// How one run ended, when it did not end as it must.
fn misbehaved(binary: &str, args: &[String]) -> Option<String> {
    let mut child = Command::new(bin(binary))
        .args(args)
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

fn fuzz(binary: &'static str, seed: u64) {
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in 0..AT_ONCE {
            let (next, failures) = (&next, &failures);
            scope.spawn(move || {
                let mut rng = Rng(seed ^ (worker as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                while next.fetch_add(1, Ordering::Relaxed) < RUNS_PER_BINARY {
                    let args = arrangement(binary, &mut rng);
                    if let Some(why) = misbehaved(binary, &args) {
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
        "{} of {RUNS_PER_BINARY}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ready_check_survives_random_command_lines() {
    fuzz("ready-check", 0x5eed_0001);
}

#[test]
fn latency_exporter_survives_random_command_lines() {
    fuzz("latency-exporter", 0x5eed_0002);
}

#[test]
fn every_survives_random_command_lines() {
    fuzz("every", 0x5eed_0003);
}

#[test]
fn peerlog_count_survives_random_command_lines() {
    fuzz("peerlog-count", 0x5eed_0004);
}
