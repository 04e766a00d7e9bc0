//! peerlog-count: real files appended, rotated and truncated while it
//! follows; discovery on a fake process table and on a real chroot'ed peer.

use sidecars_tests::prom::{assert_promtool_clean, scrape, wait_for_sample};
use sidecars_tests::target::{Reply, Target};
use sidecars_tests::{field, get, is_root, run, tempdir, wait_until, Daemon, Ran};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn metrics(daemon: &Daemon) -> BTreeMap<String, f64> {
    scrape(&daemon.addr).1
}

fn wait_metric(daemon: &Daemon, key: &str, want: f64) -> BTreeMap<String, f64> {
    wait_for_sample(&daemon.addr, key, |v| v == want)
}

/// The file opened for appending, as a writer that keeps it open would.
fn appender(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

fn append(path: &Path, text: &str) {
    appender(path).write_all(text.as_bytes()).unwrap();
}

/// Follows DIR/app.log through `--root DIR`, with `args` before the path.
fn follow_log(dir: &Path, args: &[&str]) -> Daemon {
    let root = dir.to_str().unwrap();
    let mut all = vec!["--root", root];
    all.extend_from_slice(args);
    all.push("/app.log");
    follow(&all)
}

fn follow(args: &[&str]) -> Daemon {
    let mut all = vec!["--interval", "20ms"];
    all.extend_from_slice(args);
    Daemon::listening("peerlog-count", &all)
}

#[test]
fn counts_lines_and_matches_and_a_partial_line_only_when_its_newline_arrives() {
    let dir = tempdir("partial");
    let log = dir.join("var/log/app.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    append(&log, "GET / 200\nGET /x 500 ERROR\n");
    let follower = follow(&[
        "--root",
        dir.to_str().unwrap(),
        "--match",
        "errors=ERROR",
        "/var/log/app.log",
    ]);
    wait_metric(&follower, "peerlog_lines_total", 2.0);
    append(&log, "GET /y 500 ERR");
    wait_metric(&follower, "peerlog_bytes_total", 41.0);
    let values = metrics(&follower);
    assert_eq!(
        values["peerlog_lines_total"], 2.0,
        "a line without its newline counted"
    );
    assert_eq!(values["peerlog_matched_lines_total{match=\"errors\"}"], 1.0);
    append(&log, "OR\n");
    let values = wait_metric(&follower, "peerlog_lines_total", 3.0);
    // ERR|OR straddled two reads: still one matching line.
    assert_eq!(values["peerlog_matched_lines_total{match=\"errors\"}"], 2.0);
    assert_eq!(values["peerlog_up"], 1.0);
    assert_promtool_clean(&get(&follower.addr, "/metrics").1);
}

#[test]
fn a_file_that_is_absent_appears_disappears_and_appears_again() {
    let dir = tempdir("absent");
    let log = dir.join("app.log");
    let follower = follow_log(&dir, &[]);
    let values = wait_metric(&follower, "peerlog_up", 0.0);
    assert_eq!(values["peerlog_lines_total"], 0.0);
    append(&log, "one\ntwo\n");
    wait_metric(&follower, "peerlog_lines_total", 2.0);
    assert_eq!(metrics(&follower)["peerlog_up"], 1.0);
    std::fs::remove_file(&log).unwrap();
    wait_metric(&follower, "peerlog_up", 0.0);
    append(&log, "three\n");
    let values = wait_metric(&follower, "peerlog_lines_total", 3.0);
    assert_eq!(values["peerlog_up"], 1.0);
}

#[test]
fn from_end_counts_only_what_is_appended() {
    let dir = tempdir("from-end");
    let log = dir.join("app.log");
    append(&log, "old\nold\nold\n");
    let follower = follow_log(&dir, &["--from-end"]);
    wait_metric(&follower, "peerlog_up", 1.0);
    append(&log, "new\n");
    let values = wait_metric(&follower, "peerlog_lines_total", 1.0);
    assert_eq!(values["peerlog_bytes_total"], 4.0);
}

/// A deterministic generator, so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes `count` lines of random lengths (empty ones, and some longer than
/// the read buffer) and returns (lines, lines with ERR, lines with slow).
fn write_lines(file: &mut File, rng: &mut Rng, count: usize) -> (u64, u64, u64) {
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

fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn exact_counts_through_rotations_and_truncations_for_several_seeds() {
    for seed in [1u64, 0xdead_beef, 42_4242, 7_777_777] {
        exact_counts(seed);
    }
}

fn exact_counts(seed: u64) {
    let mut rng = Rng(seed);
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

/// The file's start was rewritten in place and it grew past the old offset,
/// without ever being shorter: only the fingerprint of the first bytes tells.
#[test]
fn a_rewritten_start_is_caught_by_the_fingerprint() {
    use std::os::unix::fs::FileExt;
    let dir = tempdir("fingerprint");
    let log = dir.join("app.log");
    append(&log, "first line\nfirst line\nfirst line\n");
    let follower = follow_log(&dir, &[]);
    wait_metric(&follower, "peerlog_lines_total", 3.0);
    let file = OpenOptions::new().write(true).open(&log).unwrap();
    file.write_all_at("other\n".repeat(100).as_bytes(), 0)
        .unwrap();
    let values = wait_metric(&follower, "peerlog_lines_total", 103.0);
    assert_eq!(values["peerlog_truncations_total"], 1.0);
}

#[test]
fn a_100_mb_line_without_newline_does_not_grow_memory() {
    let dir = tempdir("long-line");
    let log = dir.join("app.log");
    let follower = follow_log(&dir, &["--match", "x=needle"]);
    let mut file = File::create(&log).unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..100 {
        file.write_all(&block).unwrap();
    }
    wait_metric(&follower, "peerlog_bytes_total", (100u64 << 20) as f64);
    let rss = follower.rss_kib();
    assert!(rss < 8 * 1024, "resident set {rss} KiB after a 100 MB line");
    file.write_all(b"needle\n").unwrap();
    let values = wait_metric(&follower, "peerlog_lines_total", 1.0);
    assert_eq!(values["peerlog_matched_lines_total{match=\"x\"}"], 1.0);
}

/// A fake process table: a directory per PID whose `root` is a symlink.
struct FakeProc {
    dir: PathBuf,
}

impl FakeProc {
    fn new(name: &str) -> FakeProc {
        let dir = tempdir(name).join("proc");
        std::fs::create_dir_all(&dir).unwrap();
        FakeProc { dir }
    }

    fn add(&self, pid: u32, root: &Path, comm: &str) {
        let entry = self.dir.join(pid.to_string());
        std::fs::create_dir_all(&entry).unwrap();
        symlink(root, entry.join("root")).unwrap();
        std::fs::write(entry.join("comm"), format!("{comm}\n")).unwrap();
    }

    /// Gives PID a start time in its `stat`, as the kernel writes it.
    fn started(&self, pid: u32, comm: &str, ticks: u64) {
        let stat = format!("{pid} ({comm}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {ticks} 0 0\n");
        std::fs::write(self.dir.join(pid.to_string()).join("stat"), stat).unwrap();
    }

    fn remove(&self, pid: u32) {
        std::fs::remove_dir_all(self.dir.join(pid.to_string())).unwrap();
    }
}

/// A container's root directory, with the log when `lines` is Some.
fn container_root(name: &str, lines: Option<&str>) -> PathBuf {
    let root = tempdir(name);
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    if let Some(lines) = lines {
        std::fs::write(root.join("var/log/app.log"), lines).unwrap();
    }
    root
}

#[test]
fn discovery_waits_for_the_peer_never_picks_the_pause_root_and_follows_a_restart() {
    let proc = FakeProc::new("discover");
    let pause = container_root("pause", None);
    proc.add(1, &pause, "pause");
    let follower = follow(&["--proc", proc.dir.to_str().unwrap(), "/var/log/app.log"]);
    let values = wait_metric(&follower, "peerlog_up", 0.0);
    assert!(
        !values.contains_key("peerlog_peer_pid"),
        "picked the pause container"
    );
    let app = container_root("app", Some("a\nb\n"));
    proc.add(7, &app, "app");
    proc.add(8, &app, "app-worker"); // the same container: one root
    wait_metric(&follower, "peerlog_lines_total", 2.0);
    assert_eq!(metrics(&follower)["peerlog_peer_pid"], 7.0);
    // The container restarts: PID 7 is gone, PID 12 has a fresh root.
    proc.remove(7);
    proc.remove(8);
    let restarted = container_root("app-restarted", Some("c\nd\ne\n"));
    proc.add(12, &restarted, "app");
    let values = wait_metric(&follower, "peerlog_lines_total", 5.0);
    assert_eq!(values["peerlog_peer_pid"], 12.0);
}

#[test]
fn two_candidate_roots_fail_naming_them_until_peer_picks_one() {
    let proc = FakeProc::new("ambiguous");
    proc.add(1, &container_root("pause-a", None), "pause");
    proc.add(20, &container_root("nginx", Some("n\n")), "nginx");
    proc.add(30, &container_root("app-a", Some("a\nb\n")), "app");
    let proc_dir = proc.dir.to_str().unwrap();
    let ran = run(
        "peerlog-count",
        &["--once", "--proc", proc_dir, "/var/log/app.log"],
    );
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("20 (nginx), 30 (app)") && ran.stderr.contains("--peer"),
        "{}",
        ran.stderr
    );
    let ran = run(
        "peerlog-count",
        &[
            "--once",
            "--proc",
            proc_dir,
            "--peer",
            "comm:app",
            "/var/log/app.log",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        ran.stdout,
        "{\"lines\":2,\"matches\":{},\"path\":\"/var/log/app.log\"}\n"
    );
    let ran = run(
        "peerlog-count",
        &[
            "--once",
            "--proc",
            proc_dir,
            "--peer",
            "20",
            "/var/log/app.log",
        ],
    );
    assert_eq!(ran.code, 0);
    assert!(ran.stdout.contains("\"lines\":1"), "{}", ran.stdout);
}

#[test]
fn post_sends_the_totals_and_a_receiver_that_was_down_gets_them_later() {
    let dir = tempdir("post");
    let log = dir.join("app.log");
    append(&log, "x ERROR\ny\n");
    let receiver_addr = sidecars_tests::free_loopback_addr();
    let url = format!("http://{receiver_addr}/stats");
    let mut follower = follow_log(&dir, &["--match", "errors=ERROR", "--post", &url]);
    follower.wait_log("msg=\"post failed; the next one carries the totals\"");
    append(&log, "z ERROR\n");
    let receiver = Target::start_on(&receiver_addr, |_| Reply::ok("thanks"));
    wait_until("a post with 3 lines", Duration::from_secs(10), || {
        receiver
            .hits()
            .iter()
            .any(|h| h.body == b"{\"lines\":3,\"matches\":{\"errors\":2},\"path\":\"/app.log\"}")
    });
    let hit = &receiver.hits()[0];
    assert_eq!(hit.method, "POST");
    assert!(hit
        .head
        .to_lowercase()
        .contains("content-type: application/json"));
    let doc: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
    assert!(
        doc["lines"].is_u64() && doc["matches"].is_object() && doc["path"] == "/app.log",
        "{doc}"
    );
    follower.wait_log("msg=\"post succeeded again\"");
}

/// As root: a real process chroot'ed into its own root directory, found
/// through the real /proc by its root, not by being first.
#[test]
fn finds_a_real_chrooted_peer_through_proc() {
    let static_stand_in = sidecars_tests::static_bin("stand-in");
    if !is_root() || !static_stand_in.exists() {
        sidecars_tests::skip(
            "finds_a_real_chrooted_peer_through_proc",
            "needs root and the static stand-in (scripts/build-release)",
        );
        return;
    }
    let root = tempdir("chroot");
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    std::fs::copy(&static_stand_in, root.join("stand-in")).unwrap();
    let name = format!("/var/log/sidecars-test-{}.log", std::process::id());
    let peer = Daemon::start_command(
        std::process::Command::new("chroot").arg(&root).args([
            "/stand-in",
            "--listen",
            "127.0.0.1:0",
            "--log",
            &name,
        ]),
        true,
    );
    let follower = follow(&[&name]);
    let values = wait_metric(&follower, "peerlog_up", 1.0);
    // chroot execs the stand-in in place: the peer is that very process.
    assert_eq!(values["peerlog_peer_pid"], f64::from(peer.pid() as u32));
    for _ in 0..7 {
        get(&peer.addr, "/known-value");
    }
    wait_metric(&follower, "peerlog_lines_total", 7.0);
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

/// Without the app's UID (or root with SYS_PTRACE), /proc/PID/root cannot be
/// read: said once, naming the fix, not taken for "no such file".
#[test]
fn a_root_it_may_not_read_is_reported_once_with_the_fix() {
    let static_stand_in = sidecars_tests::static_bin("stand-in");
    let tools = ["chroot", "setpriv"].iter().all(|t| {
        std::process::Command::new(t)
            .arg("--version")
            .output()
            .is_ok()
    });
    if !is_root() || !tools || !static_stand_in.exists() {
        return sidecars_tests::skip(
            "a_root_it_may_not_read_is_reported_once_with_the_fix",
            "needs root, chroot, setpriv and the static stand-in",
        );
    }
    let root = tempdir("denied");
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    std::fs::copy(&static_stand_in, root.join("stand-in")).unwrap();
    std::process::Command::new("chown")
        .args(["-R", "101:101"])
        .arg(root.join("var/log"))
        .status()
        .unwrap();
    let name = format!("/var/log/sidecars-denied-{}.log", std::process::id());
    let _app = Daemon::start_command(
        std::process::Command::new("chroot")
            .args(["--userspec=101:101"])
            .arg(&root)
            .args(["/stand-in", "--listen", "127.0.0.1:0", "--log", &name]),
        true,
    );
    // Another unprivileged user than the app's.
    let plc = static_stand_in.with_file_name("peerlog-count");
    let mut follower = Daemon::start_command(
        std::process::Command::new("setpriv")
            .args([
                "--reuid=102",
                "--regid=102",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(&plc)
            .args(["--listen", "127.0.0.1:0", "--interval", "50ms", &name]),
        true,
    );
    let line = follower.wait_log("permission denied reading /proc/PID/root");
    assert!(
        line.contains("main container's UID") && line.contains("SYS_PTRACE"),
        "{line}"
    );
    // The PIDs it could not read are named (a few: a whole host has many).
    assert!(
        field(&line, "pids").is_some_and(|pids| !pids.is_empty()),
        "{line}"
    );
    assert_eq!(metrics(&follower)["peerlog_up"], 0.0);
    // Let it go round a few more times, each an interval's sleep and wake-up
    // of its main thread, still denied.
    let wakeups = || sidecars_tests::proc_status_value(follower.pid(), "voluntary_ctxt_switches:");
    let before = wakeups();
    wait_until("three more intervals", Duration::from_secs(5), || {
        wakeups() >= before + 3
    });
    // A peer it may read (its own UID) appears: found, after rounds in
    // which the app's root was denied again, and said no more.
    let readable = tempdir("readable");
    std::fs::create_dir_all(readable.join("var/log")).unwrap();
    std::fs::copy(&static_stand_in, readable.join("stand-in")).unwrap();
    std::process::Command::new("chown")
        .args(["-R", "102:102"])
        .arg(readable.join("var/log"))
        .status()
        .unwrap();
    let _peer = Daemon::start_command(
        std::process::Command::new("chroot")
            .args(["--userspec=102:102"])
            .arg(&readable)
            .args(["/stand-in", "--listen", "127.0.0.1:0", "--log", &name]),
        true,
    );
    follower.wait_log("msg=\"peer found\"");
    wait_metric(&follower, "peerlog_up", 1.0);
    let said = follower
        .log()
        .iter()
        .filter(|l| l.contains("permission denied"))
        .count();
    assert_eq!(said, 1, "{:?}", follower.log());
}

// The main container's filesystem is foreign ground: its links resolve
// inside its root, never in ours, and what is not a regular file is named.

/// Both ways of resolving inside the root: openat2 where the kernel has it,
/// and the walk of one component at a time that stands in where it is refused.
const RESOLUTIONS: [&str; 2] = ["openat2", "walk"];

fn peerlog_command(resolution: &str) -> Command {
    let mut command = Command::new(sidecars_tests::bin("peerlog-count"));
    if resolution == "walk" {
        command.env("PEERLOG_COUNT_RESOLVE", "walk");
    }
    command
}

fn once(resolution: &str, args: &[&str]) -> Ran {
    let mut command = peerlog_command(resolution);
    command.arg("--once").args(args);
    sidecars_tests::run_command(&mut command)
}

fn lines_of(ran: &Ran) -> u64 {
    let doc: serde_json::Value = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("{e}: {:?} {:?}", ran.stdout, ran.stderr));
    doc["lines"].as_u64().unwrap()
}

/// A peer's root with its own /etc/passwd (one line), its log behind an
/// absolute symlink, links that try to climb out, and special files.
fn foreign_root() -> PathBuf {
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

#[test]
fn links_in_the_peer_root_resolve_inside_it_never_in_ours() {
    let ours = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .count();
    assert_ne!(
        ours, 1,
        "this machine's /etc/passwd must differ from the peer's"
    );
    let root = foreign_root();
    let root = root.to_str().unwrap();
    for resolution in RESOLUTIONS {
        for (path, lines) in [
            ("/var/log/app/current.log", 2),
            ("/var/log/app/passwd.log", 1),
            ("/var/log/app/climb.log", 1),
            ("/../../../var/log/app/current.log", 2),
        ] {
            let ran = once(resolution, &["--root", root, path]);
            assert_eq!(
                (ran.code, lines_of(&ran)),
                (0, lines),
                "{resolution} {path}: {}",
                ran.stderr
            );
        }
        // No /proc in that root: the link leads nowhere, and never to ours.
        let ran = once(resolution, &["--root", root, "/var/log/app/self-root.log"]);
        assert_eq!(
            (ran.code, lines_of(&ran)),
            (1, 0),
            "{resolution}: {}",
            ran.stderr
        );
    }
}

#[test]
fn a_fifo_a_socket_a_directory_and_standard_output_are_named_at_once() {
    let root = foreign_root();
    let root = root.to_str().unwrap();
    for resolution in RESOLUTIONS {
        for (path, says) in [
            (
                "/var/log/app/fifo.log",
                "is a FIFO (named pipe), not a regular file",
            ),
            ("/var/log/app/socket.log", "is a socket, not a regular file"),
            ("/var/log/app/dir.log", "is a directory, not a regular file"),
            (
                "/var/log/app/stdout.log",
                "links to /dev/stdout: the app writes this log to its standard output",
            ),
        ] {
            let ran = once(resolution, &["--root", root, path]);
            assert_eq!(ran.code, 1, "{resolution} {path}: {}", ran.stderr);
            assert!(
                ran.elapsed < Duration::from_secs(1),
                "{path} took {:?}",
                ran.elapsed
            );
            let said: Vec<&str> = ran.stderr.lines().collect();
            assert_eq!(said.len(), 1, "{said:?}");
            assert!(
                said[0].contains(says) && said[0].contains(path),
                "{resolution}: {said:?}"
            );
        }
    }
}

#[test]
fn sigterm_while_the_log_is_a_fifo_stops_it_within_a_second() {
    let root = foreign_root();
    let mut follower = Daemon::start(
        "peerlog-count",
        &[
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "20ms",
            "--root",
            root.to_str().unwrap(),
            "/var/log/app/fifo.log",
        ],
    );
    follower.wait_log("cannot follow the log");
    // Several intervals go by, each refusing the FIFO again, said once.
    let wakeups = || sidecars_tests::proc_status_value(follower.pid(), "voluntary_ctxt_switches:");
    let before = wakeups();
    wait_until("five more intervals", Duration::from_secs(5), || {
        wakeups() >= before + 5
    });
    assert_eq!(metrics(&follower)["peerlog_up"], 0.0);
    follower.signal(libc::SIGTERM);
    let (code, took) = follower.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // Said once when it began, and the folded rest once at exit.
    let said: Vec<String> = follower
        .log()
        .into_iter()
        .filter(|l| l.contains("FIFO"))
        .collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[1].contains(" repeated="), "{said:?}");
}

#[test]
fn a_retargeted_symlink_drains_the_old_target_and_reads_the_new_one_from_its_start() {
    for resolution in RESOLUTIONS {
        let dir = tempdir("retarget");
        append(&dir.join("app-d1.log"), "1\n2\n3\n");
        symlink("app-d1.log", dir.join("app.log")).unwrap();
        let mut command = peerlog_command(resolution);
        command.args([
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "20ms",
            "--root",
            dir.to_str().unwrap(),
            "/app.log",
        ]);
        let follower = Daemon::start_command(&mut command, true);
        wait_metric(&follower, "peerlog_lines_total", 3.0);
        append(&dir.join("app-d1.log"), "4\n");
        append(&dir.join("app-d2.log"), "5\n6\n");
        // `ln -sfn app-d2.log app.log`: a new link renamed over the old one.
        symlink("app-d2.log", dir.join("app.log.new")).unwrap();
        std::fs::rename(dir.join("app.log.new"), dir.join("app.log")).unwrap();
        let values = wait_metric(&follower, "peerlog_lines_total", 6.0);
        assert_eq!(values["peerlog_rotations_total"], 1.0, "{resolution}");
        append(&dir.join("app-d2.log"), "7\n");
        let values = wait_metric(&follower, "peerlog_lines_total", 7.0);
        assert_eq!(values["peerlog_bytes_total"], 14.0, "{resolution}");
    }
}

#[test]
fn a_reused_pid_is_a_new_discovery_never_a_silent_switch() {
    let proc = FakeProc::new("pid-reuse");
    proc.add(1, &container_root("pause-r", None), "pause");
    let app = container_root("app-r", Some("a\nb\n"));
    proc.add(7, &app, "app (x) y");
    proc.started(7, "app (x) y", 100);
    let mut follower = follow(&["--proc", proc.dir.to_str().unwrap(), "/var/log/app.log"]);
    wait_metric(&follower, "peerlog_lines_total", 2.0);
    follower.wait_log("msg=\"peer found\" pid=7");
    // PID 7 is now another process (started later), in the same root.
    proc.started(7, "app (x) y", 200);
    follower.wait_log("msg=\"peer gone; discovering again\" pid=7");
    wait_until("a second discovery", Duration::from_secs(10), || {
        follower
            .log()
            .iter()
            .filter(|l| l.contains("msg=\"peer found\" pid=7"))
            .count()
            == 2
    });
    append(&app.join("var/log/app.log"), "c\n");
    // The same file: nothing counted twice.
    wait_metric(&follower, "peerlog_lines_total", 3.0);
}

#[test]
fn crlf_lines_and_a_nul_filled_head_after_copytruncate_count_exactly() {
    let dir = tempdir("crlf-nul");
    let log = dir.join("app.log");
    // A writer that keeps its offset (no O_APPEND), as many apps open logs.
    let mut writer = File::create(&log).unwrap();
    writer
        .write_all(b"GET / 200\r\nGET /x 500\r\nhalf")
        .unwrap();
    let follower = follow_log(&dir, &["--match", "e500= 500\r"]);
    let values = wait_metric(&follower, "peerlog_lines_total", 2.0);
    assert_eq!(values["peerlog_matched_lines_total{match=\"e500\"}"], 1.0);
    writer.write_all(b" line\r\n").unwrap();
    wait_metric(&follower, "peerlog_lines_total", 3.0);
    // copytruncate: the file is cut to 0, the writer writes on at its offset,
    // so the head is a run of NULs, then its next lines.
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    writer.write_all(b"GET /y 500\r\nGET /z 200\r\n").unwrap();
    let values = wait_metric(&follower, "peerlog_lines_total", 5.0);
    assert_eq!(values["peerlog_truncations_total"], 1.0);
    assert_eq!(values["peerlog_matched_lines_total{match=\"e500\"}"], 2.0);
    let head = std::fs::read(&log).unwrap();
    assert!(
        head.starts_with(&[0; 16]),
        "no NUL head: the test did not do what it says"
    );
}

#[test]
fn a_rename_a_create_and_an_append_inside_one_interval_lose_nothing() {
    let dir = tempdir("one-interval");
    let log = dir.join("app.log");
    append(&log, "1\n2\n3\n");
    let follower = Daemon::listening(
        "peerlog-count",
        &[
            "--interval",
            "500ms",
            "--root",
            dir.to_str().unwrap(),
            "/app.log",
        ],
    );
    wait_metric(&follower, "peerlog_lines_total", 3.0);
    // All of it well inside the next 500 ms.
    append(&log, "4\n5\n");
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&log, "6\n7\n8\n9\n");
    let values = wait_metric(&follower, "peerlog_lines_total", 9.0);
    assert_eq!(values["peerlog_rotations_total"], 1.0);
}

/// As root: the peer is a chroot'ed stand-in, PID 1 of a PID namespace of
/// its own with its own /proc inside its root, found through the real /proc.
/// Its links resolve in its root; links through its /proc are refused.
#[test]
fn a_real_peer_root_resolves_its_own_links_and_refuses_its_proc() {
    let static_stand_in = sidecars_tests::static_bin("stand-in");
    let unshare = Command::new("unshare").arg("--version").output().is_ok();
    if !is_root() || !unshare || !static_stand_in.exists() {
        return sidecars_tests::skip(
            "a_real_peer_root_resolves_its_own_links_and_refuses_its_proc",
            "needs root, unshare and the static stand-in (scripts/build-release)",
        );
    }
    let root = tempdir("foreign-peer");
    let logs = format!("/var/log/sidecars-foreign-{}", std::process::id());
    let in_root = |p: &str| root.join(p.trim_start_matches('/'));
    std::fs::create_dir_all(in_root(&logs)).unwrap();
    std::fs::create_dir_all(in_root("/proc")).unwrap();
    std::fs::create_dir_all(in_root("/etc")).unwrap();
    std::fs::write(in_root("/etc/passwd"), "theirs\n").unwrap();
    std::fs::copy(&static_stand_in, in_root("/stand-in")).unwrap();
    for (target, name) in [
        (format!("{logs}/app.log"), "current.log"),
        ("/etc/passwd".into(), "passwd.log"),
        ("/proc/1/root/etc/hostname".into(), "escape.log"),
        ("/proc/1/environ".into(), "environ.log"),
        ("/dev/stdout".into(), "stdout.log"),
    ] {
        symlink(target, in_root(&format!("{logs}/{name}"))).unwrap();
    }
    let proc_in_root = format!("--mount-proc={}", in_root("/proc").display());
    let peer = Daemon::start_command(
        Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", &proc_in_root, "chroot"])
            .arg(&root)
            .args([
                "/stand-in",
                "--listen",
                "127.0.0.1:0",
                "--log",
                &format!("{logs}/app.log"),
            ]),
        true,
    );
    for _ in 0..3 {
        get(&peer.addr, "/known-value");
    }
    for resolution in RESOLUTIONS {
        let path = |name: &str| format!("{logs}/{name}");
        let ran = once(resolution, &[&path("current.log")]);
        assert_eq!(
            (ran.code, lines_of(&ran)),
            (0, 3),
            "{resolution}: {}",
            ran.stderr
        );
        let ran = once(resolution, &[&path("passwd.log")]);
        assert_eq!(
            (ran.code, lines_of(&ran)),
            (0, 1),
            "{resolution}: {}",
            ran.stderr
        );
        for (name, says) in [
            ("escape.log", "goes through a link of /proc"),
            ("environ.log", "is a file of /proc or /sys"),
            ("stdout.log", "standard output"),
        ] {
            let ran = once(resolution, &[&path(name)]);
            assert_eq!(ran.code, 1, "{resolution} {name}: {}", ran.stderr);
            assert!(
                ran.stderr.contains(says),
                "{resolution} {name}: {}",
                ran.stderr
            );
        }
    }
}

/// In a container whose seccomp profile refuses openat2 (ENOSYS as newer
/// engines answer, EPERM as older ones did), the walk takes over, says so
/// once, and keeps every guarantee: the peer's links resolve in its root,
/// never in the side-car's own filesystem.
#[test]
fn a_seccomp_profile_that_refuses_openat2_falls_back_to_the_walk() {
    use sidecars_tests::docker::{docker, sidecars_image, unavailable};
    if let Some(why) = unavailable() {
        return sidecars_tests::skip(
            "a_seccomp_profile_that_refuses_openat2_falls_back_to_the_walk",
            &why,
        );
    }
    let root = foreign_root();
    // Would name the side-car's own binary, were the link resolved in its root.
    symlink(
        "/usr/local/bin/peerlog-count",
        root.join("var/log/app/binary.log"),
    )
    .unwrap();
    let mount = format!("{}:/peer:ro", root.display());
    for (errno, says) in [
        (libc::ENOSYS, "Function not implemented"),
        (libc::EPERM, "Operation not permitted"),
    ] {
        let profile = tempdir("seccomp").join("no-openat2.json");
        std::fs::write(
            &profile,
            format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["openat2"],"action":"SCMP_ACT_ERRNO","errnoRet":{errno}}}]}}"#),
        )
        .unwrap();
        let seccomp = format!("seccomp={}", profile.display());
        let in_container = |path: &str| {
            let out = docker(&[
                "run",
                "--rm",
                "--security-opt",
                &seccomp,
                "-v",
                &mount,
                &sidecars_image(),
                "peerlog-count",
                "--once",
                "--root",
                "/peer",
                path,
            ]);
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (code, stdout, stderr) = in_container("/var/log/app/passwd.log");
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stdout.contains("\"lines\":1"), "{stdout}");
        assert!(
            stderr.contains("openat2 refused; resolving paths one component at a time")
                && stderr.contains(says),
            "errno {errno}: {stderr}"
        );
        let (code, stdout, _) = in_container("/var/log/app/current.log");
        assert_eq!(
            (code, stdout.contains("\"lines\":2")),
            (Some(0), true),
            "{stdout}"
        );
        let (code, stdout, stderr) = in_container("/var/log/app/binary.log");
        assert_eq!(
            (code, stdout.contains("\"lines\":0")),
            (Some(1), true),
            "{stdout} {stderr}"
        );
        let (code, _, stderr) = in_container("/var/log/app/stdout.log");
        assert_eq!(code, Some(1));
        assert!(stderr.contains("standard output"), "{stderr}");
    }
}

/// A post to a receiver that accepts and never answers (its timeout is 5 s)
/// does not hold a SIGTERM up: the stop is bounded at one second.
#[test]
fn sigterm_during_a_post_that_never_gets_an_answer_stops_it_within_a_second() {
    let dir = tempdir("post-hang");
    append(&dir.join("app.log"), "x\n");
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/stats", receiver.local_addr().unwrap());
    let mut follower = follow_log(&dir, &["--post", &url]);
    // The post is in flight once its connection is taken; nothing answers it.
    let (_held, _) = receiver.accept().unwrap();
    follower.signal(libc::SIGTERM);
    let (code, took) = follower.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

// Exact under rotation: every line that reached a file, the current log or
// a rotated copy, is counted once.

/// Follows DIR/app.log at a slow `interval`, so that a test can do several
/// file operations well inside one interval.
fn follow_slowly(dir: &Path, interval: &str, extra: &[&str]) -> Daemon {
    let mut args = vec!["--interval", interval, "--root", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push("/app.log");
    Daemon::listening("peerlog-count", &args)
}

/// copytruncate by hand: copy, then cut the log to 0.
fn copytruncate(log: &Path, copy: &Path) {
    std::fs::copy(log, copy).unwrap();
    OpenOptions::new()
        .write(true)
        .open(log)
        .unwrap()
        .set_len(0)
        .unwrap();
}

#[test]
fn copytruncate_right_after_an_unread_append_reads_the_rest_from_the_copy() {
    let dir = tempdir("copytruncate");
    let log = dir.join("app.log");
    append(&log, "1\n2\n3\n");
    let follower = follow_slowly(&dir, "500ms", &[]);
    wait_metric(&follower, "peerlog_lines_total", 3.0);
    // Inside one interval: an append not yet read, the copy, the cut, more.
    append(&log, "4\n5 unfinished");
    append(&log, " line\n");
    copytruncate(&log, &dir.join("app.log.1"));
    append(&log, "6\n");
    let values = wait_metric(&follower, "peerlog_lines_total", 6.0);
    assert_eq!(values["peerlog_truncations_total"], 1.0);
    assert_eq!(values["peerlog_truncations_unrecovered_total"], 0.0);
    assert_eq!(values["peerlog_bytes_total"], (6 + 14 + 6 + 2) as f64);
}

#[test]
fn a_copy_compressed_or_removed_before_it_was_read_is_counted_unrecovered_and_said_once() {
    let dir = tempdir("unrecovered");
    let log = dir.join("app.log");
    append(&log, "1\n2\n3\n");
    let mut follower = follow_slowly(&dir, "300ms", &[]);
    wait_metric(&follower, "peerlog_lines_total", 3.0);
    for round in 0..2 {
        append(&log, "lost\nlost\n");
        // compress right away: what logrotate does without delaycompress.
        copytruncate(&log, &dir.join("app.log.1"));
        std::fs::remove_file(dir.join("app.log.1")).unwrap();
        std::fs::write(dir.join(format!("app.log.{round}.gz")), b"\x1f\x8b...").unwrap();
        append(&log, &format!("kept {round} and more\n"));
        wait_metric(
            &follower,
            "peerlog_truncations_unrecovered_total",
            f64::from(round + 1),
        );
    }
    let values = wait_metric(&follower, "peerlog_lines_total", 5.0);
    assert_eq!(values["peerlog_truncations_total"], 2.0);
    let line = follower.wait_log("copy not found");
    assert!(line.contains("delaycompress"), "{line}");
    let said = follower
        .log()
        .iter()
        .filter(|l| l.contains("copy not found"))
        .count();
    assert_eq!(said, 1);
}

/// The descriptors a process holds on files whose name contains `name`.
fn holds(pid: i32, name: &str) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .any(|target| target.to_string_lossy().contains(name))
}

#[test]
fn a_writer_that_keeps_appending_to_the_renamed_file_loses_nothing() {
    let dir = tempdir("late-reopen");
    let log = dir.join("app.log");
    let mut writer = appender(&log);
    writer.write_all(b"1\n2\n3\n4\n5\n").unwrap();
    let follower = follow_slowly(&dir, "50ms", &["--rotate-wait", "1s"]);
    wait_metric(&follower, "peerlog_lines_total", 5.0);
    // logrotate's `create`: renamed, a new file made; the app has not
    // reopened and writes on to the renamed file for two seconds.
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&log, "new 1\n");
    for i in 0..20 {
        writer.write_all(format!("late {i}\n").as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let values = wait_metric(&follower, "peerlog_lines_total", 26.0);
    assert_eq!(values["peerlog_rotations_total"], 1.0);
    assert!(
        holds(follower.pid(), "app.log.1"),
        "closed while still written"
    );
    // Quiet for --rotate-wait: closed.
    wait_until("the renamed file closed", Duration::from_secs(5), || {
        !holds(follower.pid(), "app.log.1")
    });
}

#[test]
fn a_renamed_file_that_is_deleted_is_read_to_its_end_and_closed_at_once() {
    let dir = tempdir("deleted");
    let log = dir.join("app.log");
    let mut writer = appender(&log);
    writer.write_all(b"1\n").unwrap();
    let follower = follow_slowly(&dir, "50ms", &["--rotate-wait", "1h"]);
    wait_metric(&follower, "peerlog_lines_total", 1.0);
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    wait_metric(&follower, "peerlog_rotations_total", 1.0);
    writer.write_all(b"2\n3\n").unwrap();
    std::fs::remove_file(dir.join("app.log.1")).unwrap();
    wait_metric(&follower, "peerlog_lines_total", 3.0);
    // Not kept for an hour: its disk space is freed.
    wait_until("the deleted file closed", Duration::from_secs(2), || {
        !holds(follower.pid(), "app.log.1")
    });
}

#[test]
fn two_renames_inside_one_interval_lose_nothing() {
    let dir = tempdir("two-renames");
    let log = dir.join("app.log");
    append(&log, "1\n2\n3\n");
    let follower = follow_slowly(&dir, "500ms", &[]);
    wait_metric(&follower, "peerlog_lines_total", 3.0);
    // Two logrotate `create` runs well inside one interval; the middle
    // generation is never at app.log when peerlog-count looks.
    append(&log, "4\n");
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&log, "5\n6\n");
    std::fs::rename(dir.join("app.log.1"), dir.join("app.log.2")).unwrap();
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&log, "7\n");
    let values = wait_metric(&follower, "peerlog_lines_total", 7.0);
    assert_eq!(values["peerlog_bytes_total"], 14.0);
}

#[test]
fn a_copytruncate_then_a_rename_inside_one_interval_lose_nothing() {
    let dir = tempdir("copy-then-rename");
    let log = dir.join("app.log");
    append(&log, "1\n2\n3\n");
    let follower = follow_slowly(&dir, "1s", &[]);
    wait_metric(&follower, "peerlog_lines_total", 3.0);
    // logrotate `copytruncate`, then `create`, both before the next poll:
    // the file followed was cut and renamed; its copy is app.log.2.
    append(&log, "4\n");
    copytruncate(&log, &dir.join("app.log.1"));
    append(&log, "5\n6\n");
    std::fs::rename(dir.join("app.log.1"), dir.join("app.log.2")).unwrap();
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&log, "7\n");
    let values = wait_for_sample(&follower.addr, "peerlog_bytes_total", |v| v >= 14.0);
    assert_eq!(values["peerlog_bytes_total"], 14.0, "{values:?}");
    assert_eq!(values["peerlog_lines_total"], 7.0);
    assert_eq!(values["peerlog_truncations_total"], 1.0);
    assert_eq!(values["peerlog_rotations_total"], 1.0);
    assert_eq!(values["peerlog_truncations_unrecovered_total"], 0.0);
}

#[test]
fn a_new_log_written_and_copytruncated_before_it_was_read_loses_nothing() {
    let dir = tempdir("new-then-copy");
    let log = dir.join("app.log");
    append(&log, "1\n");
    let follower = follow_slowly(&dir, "1s", &[]);
    wait_metric(&follower, "peerlog_lines_total", 1.0);
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&log, "");
    wait_metric(&follower, "peerlog_rotations_total", 1.0);
    // The new, empty log is followed; before the next poll it is written,
    // copied and cut: nothing of it was read, so only the copy tells.
    append(&log, "2\n3\n");
    std::fs::rename(dir.join("app.log.1"), dir.join("app.log.2")).unwrap();
    copytruncate(&log, &dir.join("app.log.1"));
    append(&log, "4\n");
    let values = wait_for_sample(&follower.addr, "peerlog_bytes_total", |v| v >= 8.0);
    assert_eq!(values["peerlog_bytes_total"], 8.0, "{values:?}");
    assert_eq!(values["peerlog_lines_total"], 4.0);
    assert_eq!(values["peerlog_truncations_total"], 1.0);
    assert_eq!(values["peerlog_truncations_unrecovered_total"], 0.0);
}

/// The real logrotate, ten times under load: `create` with the app reopening
/// at once or 400 ms late, and `copytruncate`. peerlog-count's total is the
/// number of lines in all the files at the end.
#[test]
fn exact_under_the_real_logrotate_with_a_writer_under_load() {
    let logrotate = ["logrotate", "/usr/sbin/logrotate"]
        .into_iter()
        .find(|l| Command::new(l).arg("--version").output().is_ok());
    let curl = Command::new("curl").arg("--version").output().is_ok();
    let (Some(logrotate), true) = (logrotate, curl) else {
        return sidecars_tests::skip(
            "exact_under_the_real_logrotate_with_a_writer_under_load",
            "needs logrotate and curl (scripts/setup installs them)",
        );
    };
    let dir = tempdir("logrotate");
    let log = dir.join("app.log");
    let app = Daemon::start(
        "stand-in",
        &[
            "--listen",
            "127.0.0.1:0",
            "--log",
            log.to_str().unwrap(),
            "--flood",
            "4MiB",
        ],
    );
    let follower = follow_slowly(&dir, "100ms", &["--rotate-wait", "2s"]);
    let config = |name: &str, body: &str| {
        let path = dir.join(name);
        let text = format!(
            "{} {{\n  rotate 30\n  missingok\n  nocompress\n{body}}}\n",
            log.display()
        );
        std::fs::write(&path, text).unwrap();
        path
    };
    let reopen = |delay: u32| {
        config(
            &format!("create-{delay}.conf"),
            &format!(
                "  create\n  postrotate\n    curl -s 'http://{}/reopen?delay_ms={delay}' >/dev/null\n  endscript\n",
                app.addr
            ),
        )
    };
    let (create, create_late, copy) = (
        reopen(0),
        reopen(400),
        config("copytruncate.conf", "  copytruncate\n"),
    );
    let state = dir.join("logrotate.state");
    let plan = [
        &create,
        &create_late,
        &copy,
        &create,
        &create_late,
        &copy,
        &create,
        &create_late,
        &copy,
        &create_late,
    ];
    for conf in plan {
        wait_until("the app to write", Duration::from_secs(5), || {
            std::fs::metadata(&log).is_ok_and(|m| m.len() > 1 << 20)
        });
        let out = Command::new(logrotate)
            .arg("-f")
            .arg("-s")
            .arg(&state)
            .arg(conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "logrotate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    wait_until(
        "the app to write after the last rotation",
        Duration::from_secs(5),
        || std::fs::metadata(&log).is_ok_and(|m| m.len() > 1 << 20),
    );
    drop(app); // killed: every line it wrote is in a file, or was lost by logrotate itself
    let (mut in_files, mut files) = (0u64, 0);
    let mut seqs = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("app.log") {
            files += 1;
            for line in String::from_utf8_lossy(&std::fs::read(&path).unwrap()).lines() {
                in_files += 1;
                let seq = line.split(' ').find_map(|f| f.strip_prefix("seq="));
                if let Some(seq) = seq.and_then(|s| s.parse::<u64>().ok()) {
                    assert!(seqs.insert(seq), "line {seq} is in two files");
                }
            }
        }
    }
    assert_eq!(files, 11, "the current log and ten rotated files");
    assert!(in_files > 100_000, "only {in_files} lines: not under load");
    // copytruncate itself loses the lines written between its copy and its
    // cut; they reached the log, and were counted if read before the cut.
    let lost_by_logrotate = seqs.last().unwrap() - seqs.len() as u64;
    // The poll that closes the last renamed file, quiet for --rotate-wait
    // since the app died, read the current log first: the count is final.
    wait_until("the renamed files closed", Duration::from_secs(20), || {
        !holds(follower.pid(), "app.log.")
    });
    let values = metrics(&follower);
    let lines = values["peerlog_lines_total"];
    eprintln!(
        "logrotate: counted {lines}, in the files {in_files}, lost by logrotate {lost_by_logrotate}, {values:?}"
    );
    assert!(
        lines >= in_files as f64 && lines <= (in_files + lost_by_logrotate) as f64,
        "counted {lines}, in the files {in_files}, lost by logrotate {lost_by_logrotate}\n\
         {values:?}\n{:?}",
        follower.log()
    );
    // Seven `create` and three `copytruncate`; a follower kept from the CPU
    // may see two in one poll, and a copytruncate of a file it never saw
    // is found as a generation (a rotation): every one is seen as one kind.
    let (rotations, truncations) = (
        values["peerlog_rotations_total"],
        values["peerlog_truncations_total"],
    );
    assert_eq!(rotations + truncations, 10.0, "{values:?}");
    assert!(rotations >= 7.0 && truncations <= 3.0, "{values:?}");
    assert_eq!(values["peerlog_truncations_unrecovered_total"], 0.0);
}

#[test]
fn a_file_closed_after_rotate_wait_that_comes_back_is_not_counted_twice() {
    let dir = tempdir("comes-back");
    append(&dir.join("blue.log"), "b1\nb2\nb3\n");
    append(&dir.join("green.log"), "g1\n");
    let retarget = |to: &str| {
        symlink(to, dir.join("app.log.new")).unwrap();
        std::fs::rename(dir.join("app.log.new"), dir.join("app.log")).unwrap();
    };
    retarget("blue.log");
    let follower = follow_slowly(&dir, "20ms", &["--rotate-wait", "100ms"]);
    wait_metric(&follower, "peerlog_lines_total", 3.0);
    retarget("green.log");
    wait_metric(&follower, "peerlog_lines_total", 4.0);
    wait_until("blue.log closed", Duration::from_secs(5), || {
        !holds(follower.pid(), "blue.log")
    });
    // Blue-green: back to blue, which goes on from where it was read to.
    append(&dir.join("blue.log"), "b4\n");
    retarget("blue.log");
    let values = wait_metric(&follower, "peerlog_rotations_total", 2.0);
    assert_eq!(values["peerlog_lines_total"], 5.0);
}

#[test]
fn a_log_absent_for_many_intervals_is_said_once_and_its_return_once() {
    let dir = tempdir("quiet-absent");
    let mut follower = follow_log(&dir, &[]);
    follower.wait_log("msg=\"log not found\"");
    let wakeups = || sidecars_tests::proc_status_value(follower.pid(), "voluntary_ctxt_switches:");
    let before = wakeups();
    wait_until("ten more intervals", Duration::from_secs(5), || {
        wakeups() >= before + 10
    });
    append(&dir.join("app.log"), "here\n");
    let line = follower.wait_log("msg=\"log found\"");
    assert!(
        line.contains("outage=") && line.contains("failures="),
        "{line}"
    );
    let said = follower
        .log()
        .iter()
        .filter(|l| l.contains("log not found"))
        .count();
    assert_eq!(said, 1, "{:?}", follower.log());
}

// --by NAME=FIELD: lines counted by the value of a field. Each log is
// generated here, with the value of each line known as it is written, so
// the expected counts do not come from the parser under test.

/// `--once` with `args` over DIR/app.log: the "by" object of its JSON.
fn by_once(dir: &Path, args: &[&str]) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut all = vec!["--once", "--root", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push("/app.log");
    let ran = run("peerlog-count", &all);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let json: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    serde_json::from_value(json["by"].clone()).unwrap()
}

fn tally(values: &[String]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for v in values {
        *counts.entry(v.clone()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn by_word_counts_combined_format_lines_by_status_as_awk_would() {
    let dir = tempdir("by-word");
    let mut rng = Rng(7);
    let (mut text, mut statuses) = (String::new(), Vec::new());
    let agents = [
        "curl/8.5",
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
        "kube-probe/1.33",
    ];
    for i in 0..5000 {
        if i % 97 == 0 {
            text.push_str("garbage\n"); // no 9th field
            statuses.push(String::new());
            continue;
        }
        let status = ["200", "301", "404", "500", "503"][rng.below(5) as usize];
        let agent = agents[rng.below(3) as usize];
        text.push_str(&format!(
            "10.0.{}.{} - - [25/Nov/2026:10:{:02}:00 +0000] \"GET /p/{i} HTTP/1.1\" {status} {} \"-\" \"{agent}\"\n",
            i % 7, i % 250, i % 60, rng.below(5000)
        ));
        statuses.push(status.to_string());
    }
    append(&dir.join("app.log"), &text);
    let by = by_once(&dir, &["--by", "status=word:9"]);
    assert_eq!(by["status"], tally(&statuses));
}

#[test]
fn by_logfmt_reads_quoted_values_with_spaces_and_equals_signs() {
    let dir = tempdir("by-logfmt");
    let mut rng = Rng(11);
    let (mut text, mut levels, mut msgs) = (String::new(), Vec::new(), Vec::new());
    for i in 0..3000 {
        let level = ["info", "warn", "error", "debug"][rng.below(4) as usize];
        let msg = format!("a=b {i} \\\"q\\\" x=y");
        if i % 50 == 0 {
            text.push_str(&format!("ts={i} msg=\"{msg}\"\n")); // no level
            levels.push(String::new());
        } else {
            text.push_str(&format!("ts={i} level={level} msg=\"{msg}\" k=v\n"));
            levels.push(level.to_string());
        }
        msgs.push(format!("a=b {i} \"q\" x=y"));
    }
    append(&dir.join("app.log"), &text);
    let by = by_once(
        &dir,
        &[
            "--by",
            "level=logfmt:level",
            "--by",
            "msg=logfmt:msg",
            "--max-values",
            "5000",
        ],
    );
    assert_eq!(by["level"], tally(&levels));
    assert_eq!(
        by["msg"],
        tally(&msgs),
        "quoted values lose their quotes and escapes"
    );
}

#[test]
fn by_json_decodes_strings_keeps_numbers_as_text_and_puts_malformed_lines_under_empty() {
    let dir = tempdir("by-json");
    let mut rng = Rng(13);
    let (mut text, mut levels, mut statuses) = (String::new(), Vec::new(), Vec::new());
    for i in 0..3000 {
        if i % 41 == 0 {
            text.push_str("{\"level\": \"info\", broken\n");
            levels.push(String::new());
            statuses.push(String::new());
            continue;
        }
        let level = ["info", "warn", "error"][rng.below(3) as usize];
        let status = [200, 404, 500][rng.below(3) as usize];
        text.push_str(&format!(
            "{{\"level\":\"{level}\",\"http\":{{\"status\":{status}}},\"i\":{i}}}\n"
        ));
        levels.push(level.to_string());
        statuses.push(status.to_string());
    }
    append(&dir.join("app.log"), &text);
    let by = by_once(
        &dir,
        &[
            "--by",
            "level=json:/level",
            "--by",
            "status=json:/http/status",
        ],
    );
    assert_eq!(by["level"], tally(&levels));
    assert_eq!(by["status"], tally(&statuses));
}

#[test]
fn by_with_a_cap_sends_later_values_to_other_and_with_match_counts_matching_lines_only() {
    let dir = tempdir("by-cap");
    let mut text = String::new();
    let mut expected_cap = BTreeMap::new();
    let mut expected_match = BTreeMap::new();
    let mut first_seen: Vec<String> = Vec::new();
    for i in 0..2000u64 {
        let user = format!("u{}", (i * 7919) % 10);
        let error = i % 3 == 0;
        text.push_str(&format!(
            "{} user={user}\n",
            if error { "ERROR" } else { "ok" }
        ));
        if !first_seen.contains(&user) && first_seen.len() < 3 {
            first_seen.push(user.clone());
        }
        let key = if first_seen.contains(&user) {
            user.clone()
        } else {
            "other".into()
        };
        *expected_cap.entry(key).or_insert(0) += 1;
        if error {
            *expected_match.entry(user).or_insert(0) += 1;
        }
    }
    append(&dir.join("app.log"), &text);
    let by = by_once(&dir, &["--by", "user=logfmt:user", "--max-values", "3"]);
    assert_eq!(by["user"], expected_cap);
    let by = by_once(&dir, &["--match", "e=ERROR", "--by", "user=logfmt:user"]);
    assert_eq!(by["user"], expected_match);
}

/// Following, through a rename and a copytruncate: the counts by value stay
/// exact, the metrics add up to the line count, and a cap is reported.
#[test]
fn by_field_counting_stays_exact_through_rotation_and_truncation() {
    let dir = tempdir("by-rotation");
    let log = dir.join("app.log");
    let follower = follow_slowly(
        &dir,
        "50ms",
        &[
            "--by",
            "level=logfmt:level",
            "--by",
            "n=word:2",
            "--max-values",
            "4",
        ],
    );
    let mut levels = Vec::new();
    let mut write = |from: u32, to: u32| {
        let mut text = String::new();
        for i in from..to {
            let level = ["info", "warn", "error"][(i % 3) as usize];
            text.push_str(&format!("level={level} {i}\n"));
            levels.push(level.to_string());
        }
        append(&log, &text);
    };
    write(0, 300);
    wait_metric(&follower, "peerlog_lines_total", 300.0);
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    write(300, 600);
    wait_metric(&follower, "peerlog_lines_total", 600.0);
    write(600, 700);
    copytruncate(&log, &dir.join("app.log.2"));
    write(700, 800);
    let values = wait_metric(&follower, "peerlog_lines_total", 800.0);
    let (text, _) = scrape(&follower.addr);
    assert_promtool_clean(&text);
    for (level, n) in tally(&levels) {
        assert_eq!(
            values[&format!("peerlog_lines_by_total{{by=\"level\",value=\"{level}\"}}")],
            n as f64,
            "{text}"
        );
    }
    // word:2 is the line number: 4 distinct kept, 796 lines in "other".
    assert_eq!(values["peerlog_values_dropped_total{by=\"n\"}"], 796.0);
    assert_eq!(
        values["peerlog_lines_by_total{by=\"n\",value=\"other\"}"],
        796.0
    );
    assert_eq!(values["peerlog_truncations_total"], 1.0);
}
