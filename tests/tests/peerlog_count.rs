//! peerlog-count: real files appended, rotated and truncated while it
//! follows; discovery on a fake process table and on a real chroot'ed peer.

use sidecars_tests::prom::{assert_promtool_clean, scrape, wait_for_sample};
use sidecars_tests::target::{Reply, Target};
use sidecars_tests::{field, get, is_root, run, tempdir, wait_until, Daemon};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn metrics(daemon: &Daemon) -> BTreeMap<String, f64> {
    scrape(&daemon.addr).1
}

fn wait_metric(daemon: &Daemon, key: &str, want: f64) -> BTreeMap<String, f64> {
    wait_for_sample(&daemon.addr, key, |v| v == want)
}

fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
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
    let static_stand_in = sidecars_tests::bin("stand-in")
        .parent()
        .and_then(|debug| debug.parent())
        .map(|target| target.join("x86_64-unknown-linux-musl/release/stand-in"))
        .unwrap();
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
    let static_stand_in = sidecars_tests::bin("stand-in")
        .parent()
        .and_then(|debug| debug.parent())
        .map(|target| target.join("x86_64-unknown-linux-musl/release/stand-in"))
        .unwrap();
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
