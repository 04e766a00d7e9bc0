//! peerlog-count: real files appended, rotated and truncated while it
//! follows; discovery on a fake process table and on a real chroot'ed peer.
//!
//! One module per part of the binary: counting, discovery, the peer's
//! root, rotation, by field, publishing; the helpers they share are here.

mod by_field;
mod counting;
mod discovery;
mod in_root;
mod publish;
mod rotation;

use sidecars_tests::prom::{assert_promtool_clean, scrape, wait_for_sample};
use sidecars_tests::rng::Rng;
use sidecars_tests::target::{Reply, Target};
use sidecars_tests::{field, get, is_root, run, tempdir, wait_until, Daemon, Ran};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub(super) fn metrics(daemon: &Daemon) -> BTreeMap<String, f64> {
    scrape(&daemon.addr).1
}

pub(super) fn wait_metric(daemon: &Daemon, key: &str, want: f64) -> BTreeMap<String, f64> {
    wait_for_sample(&daemon.addr, key, |v| v == want)
}

/// The file opened for appending, as a writer that keeps it open would.
pub(super) fn appender(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

pub(super) fn append(path: &Path, text: &str) {
    appender(path).write_all(text.as_bytes()).unwrap();
}

/// Follows DIR/app.log through `--root DIR`, with `args` before the path.
pub(super) fn follow_log(dir: &Path, args: &[&str]) -> Daemon {
    let root = dir.to_str().unwrap();
    let mut all = vec!["--root", root];
    all.extend_from_slice(args);
    all.push("/app.log");
    follow(&all)
}

pub(super) fn follow(args: &[&str]) -> Daemon {
    let mut all = vec!["--interval", "20ms"];
    all.extend_from_slice(args);
    Daemon::listening("peerlog-count", &all)
}

/// Writes `count` lines of random lengths (empty ones, and some longer than
/// the read buffer) and returns (lines, lines with ERR, lines with slow).
pub(super) fn write_lines(file: &mut File, rng: &mut Rng, count: usize) -> (u64, u64, u64) {
    let (mut errs, mut slows) = (0, 0);
    let mut text = Vec::new();
    for _ in 0..count {
        let len = match rng.below(20) {
            0 => 0,
            1 => 200_000 + rng.below(200_000) as usize,
            _ => rng.below(200) as usize,
        };
        let mut line: Vec<u8> = (0..len)
            .map(|_| b"abcdefgh ."[rng.below(10) as usize])
            .collect();
        if rng.below(4) == 0 {
            let at = rng.below(line.len() as u64 + 1) as usize;
            line.splice(at..at, b"ERR".iter().copied());
        }
        if rng.below(5) == 0 {
            line.extend_from_slice(b" slow");
        }
        errs += u64::from(memchr_find(&line, b"ERR"));
        slows += u64::from(memchr_find(&line, b"slow"));
        text.extend_from_slice(&line);
        text.push(b'\n');
    }
    // Write in random pieces so lines straddle the follower's reads.
    let mut rest = &text[..];
    while !rest.is_empty() {
        let n = (1 + rng.below(70_000) as usize).min(rest.len());
        file.write_all(&rest[..n]).unwrap();
        rest = &rest[n..];
    }
    (count as u64, errs, slows)
}

pub(super) fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub(super) fn exact_counts(seed: u64) {
    let mut rng = Rng::new(seed);
    let dir = tempdir(&format!("exact-{seed}"));
    let log = dir.join("app.log");
    let mut file = File::create(&log).unwrap();
    let follower = follow_log(&dir, &["--match", "err=ERR", "--match", "slow=slow"]);
    let (mut lines, mut errs, mut slows) = (0u64, 0u64, 0u64);
    let (mut rotations, mut truncations) = (0.0, 0.0);
    for round in 0..12 {
        let count = 20 + rng.below(200) as usize;
        let (l, e, s) = write_lines(&mut file, &mut rng, count);
        lines += l;
        errs += e;
        slows += s;
        match rng.below(3) {
            0 => {
                // logrotate's create: rename, then a new file. The old one is drained.
                std::fs::rename(&log, dir.join(format!("app.log.{round}"))).unwrap();
                file = File::create(&log).unwrap();
                rotations += 1.0;
                wait_metric(&follower, "peerlog_rotations_total", rotations);
            }
            1 => {
                // copytruncate: what was in the file before it is counted.
                wait_metric(&follower, "peerlog_lines_total", lines as f64);
                file.set_len(0).unwrap();
                file = OpenOptions::new().append(true).open(&log).unwrap();
                truncations += 1.0;
                if rng.below(2) == 0 {
                    // Grow past the old offset before the next read: only the
                    // fingerprint of the first bytes tells.
                    let (l, e, s) = write_lines(&mut file, &mut rng, 400);
                    lines += l;
                    errs += e;
                    slows += s;
                }
                wait_metric(&follower, "peerlog_truncations_total", truncations);
            }
            _ => {}
        }
    }
    let values = wait_metric(&follower, "peerlog_lines_total", lines as f64);
    assert_eq!(
        values["peerlog_matched_lines_total{match=\"err\"}"], errs as f64,
        "seed {seed}"
    );
    assert_eq!(
        values["peerlog_matched_lines_total{match=\"slow\"}"], slows as f64,
        "seed {seed}"
    );
    assert_eq!(values["peerlog_rotations_total"], rotations, "seed {seed}");
    assert_eq!(
        values["peerlog_truncations_total"], truncations,
        "seed {seed}"
    );
    // A line of 400 KB must not have grown memory.
    let rss = follower.rss_kib();
    assert!(rss < 8 * 1024, "resident set {rss} KiB");
}

/// A fake process table: a directory per PID whose `root` is a symlink.
pub(super) struct FakeProc {
    pub(super) dir: PathBuf,
}

impl FakeProc {
    pub(super) fn new(name: &str) -> FakeProc {
        let dir = tempdir(name).join("proc");
        std::fs::create_dir_all(&dir).unwrap();
        FakeProc { dir }
    }

    pub(super) fn add(&self, pid: u32, root: &Path, comm: &str) {
        let entry = self.dir.join(pid.to_string());
        std::fs::create_dir_all(&entry).unwrap();
        symlink(root, entry.join("root")).unwrap();
        std::fs::write(entry.join("comm"), format!("{comm}\n")).unwrap();
    }

    /// Gives PID a start time in its `stat`, as the kernel writes it.
    pub(super) fn started(&self, pid: u32, comm: &str, ticks: u64) {
        let stat = format!("{pid} ({comm}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {ticks} 0 0\n");
        std::fs::write(self.dir.join(pid.to_string()).join("stat"), stat).unwrap();
    }

    pub(super) fn remove(&self, pid: u32) {
        std::fs::remove_dir_all(self.dir.join(pid.to_string())).unwrap();
    }
}

/// A container's root directory, with the log when `lines` is Some.
pub(super) fn container_root(name: &str, lines: Option<&str>) -> PathBuf {
    let root = tempdir(name);
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    if let Some(lines) = lines {
        std::fs::write(root.join("var/log/app.log"), lines).unwrap();
    }
    root
}

#[test]
fn sigterm_stops_it_at_once_with_status_0() {
    let dir = tempdir("sigterm");
    let mut follower = Daemon::start(
        "peerlog-count",
        &[
            "--listen",
            "127.0.0.1:0",
            "--root",
            dir.to_str().unwrap(),
            "/app.log",
        ],
    );
    follower.signal(libc::SIGTERM);
    let (code, took) = follower.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert!(took < Duration::from_millis(100), "took {took:?}");
}

/// `--once` on a log that is not there: exit 1 and its reason on stderr,
/// and nothing on stdout, where a pipeline would take zeros for counts.
#[test]
fn once_on_a_missing_log_prints_no_counts() {
    let dir = tempdir("once-missing");
    let ran = once(
        "openat2",
        &["--root", dir.to_str().unwrap(), "/missing.log"],
    );
    assert_eq!((ran.code, ran.stdout.as_str()), (1, ""), "{}", ran.stderr);
    assert!(ran.stderr.contains("missing.log"), "{}", ran.stderr);
}

#[test]
fn bad_usage_exits_2_with_a_clear_line() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "PATH missing"),
        (
            &["--peer", "x", "/a"],
            "--peer: 'x' is not auto, a PID or comm:NAME",
        ),
        (&["--peer", "comm:", "/a"], "--peer:"),
        (
            &["--match", "nope", "/a"],
            "--match: 'nope' is not NAME=TEXT",
        ),
        (
            &["--match", "a=x", "--match", "a=y", "/a"],
            "--match: 'a' is given twice",
        ),
        (
            &["--interval", "0", "/a"],
            "--interval: must be greater than zero",
        ),
        (&["--post", "ftp://x", "/a"], "--post:"),
        (&["--root", "/", "--peer", "1", "/a"], "--root:"),
        (&["/a", "/b"], "unexpected argument"),
        (&["--zzz", "/a"], "'--zzz'"),
    ];
    sidecars_tests::assert_usage_errors("peerlog-count", cases);
    sidecars_tests::assert_help_and_version("peerlog-count");
}

// The main container's filesystem is foreign ground: its links resolve
// inside its root, never in ours, and what is not a regular file is named.

/// Both ways of resolving inside the root: openat2 where the kernel has it,
/// and the walk of one component at a time that stands in where it is refused.
pub(super) const RESOLUTIONS: [&str; 2] = ["openat2", "walk"];

pub(super) fn peerlog_command(resolution: &str) -> Command {
    let mut command = Command::new(sidecars_tests::bin("peerlog-count"));
    if resolution == "walk" {
        command.env("PEERLOG_COUNT_RESOLVE", "walk");
    }
    command
}

pub(super) fn once(resolution: &str, args: &[&str]) -> Ran {
    let mut command = peerlog_command(resolution);
    command.arg("--once").args(args);
    sidecars_tests::run_command(&mut command)
}

pub(super) fn lines_of(ran: &Ran) -> u64 {
    let doc: serde_json::Value = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("{e}: {:?} {:?}", ran.stdout, ran.stderr));
    doc["lines"].as_u64().unwrap()
}

/// A peer's root with its own /etc/passwd (one line), its log behind an
/// absolute symlink, links that try to climb out, and special files.
pub(super) fn foreign_root() -> PathBuf {
    let root = tempdir("foreign");
    let app = root.join("var/log/app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), "theirs\n").unwrap();
    std::fs::write(app.join("app-2026.log"), "one\ntwo\n").unwrap();
    for (target, name) in [
        ("/var/log/app/app-2026.log", "current.log"),
        ("/etc/passwd", "passwd.log"),
        ("../../../../../../../../../../etc/passwd", "climb.log"),
        ("/proc/self/root/etc/passwd", "self-root.log"),
        ("/dev/stdout", "stdout.log"),
    ] {
        symlink(target, app.join(name)).unwrap();
    }
    let fifo =
        std::ffi::CString::new(app.join("fifo.log").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    drop(std::os::unix::net::UnixListener::bind(app.join("socket.log")).unwrap());
    std::fs::create_dir(app.join("dir.log")).unwrap();
    root
}

// Exact under rotation: every line that reached a file, the current log or
// a rotated copy, is counted once.

/// Follows DIR/app.log at a slow `interval`, so that a test can do several
/// file operations well inside one interval.
pub(super) fn follow_slowly(dir: &Path, interval: &str, extra: &[&str]) -> Daemon {
    let mut args = vec!["--interval", interval, "--root", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push("/app.log");
    Daemon::listening("peerlog-count", &args)
}

/// copytruncate by hand: copy, then cut the log to 0.
pub(super) fn copytruncate(log: &Path, copy: &Path) {
    std::fs::copy(log, copy).unwrap();
    OpenOptions::new()
        .write(true)
        .open(log)
        .unwrap()
        .set_len(0)
        .unwrap();
}

/// The descriptors a process holds on files whose name contains `name`.
pub(super) fn holds(pid: i32, name: &str) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .any(|target| target.to_string_lossy().contains(name))
}

// --by NAME=FIELD: lines counted by the value of a field. Each log is
// generated here, with the value of each line known as it is written, so
// the expected counts do not come from the parser under test.

/// `--once` with `args` over DIR/app.log: the "by" object of its JSON.
pub(super) fn by_once(dir: &Path, args: &[&str]) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut all = vec!["--once", "--root", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push("/app.log");
    let ran = run("peerlog-count", &all);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let json: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    serde_json::from_value(json["by"].clone()).unwrap()
}

pub(super) fn tally(values: &[String]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for v in values {
        *counts.entry(v.clone()).or_insert(0) += 1;
    }
    counts
}
