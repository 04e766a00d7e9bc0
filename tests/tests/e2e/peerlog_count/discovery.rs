//! Discovery: the peer found through a process table (a fake one, and a
//! real chroot'ed process), never the pause container, again after a restart.

use super::*;

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
    // --once does not wait for a peer: no process has the log, it says so.
    let ran = run(
        "peerlog-count",
        &[
            "--once",
            "--proc",
            proc_dir,
            "--peer",
            "comm:none",
            "/var/log/app.log",
        ],
    );
    assert_eq!((ran.code, ran.stdout.as_str()), (1, ""), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("msg=\"log not found\""),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("waiting"), "{}", ran.stderr);
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
            // No wait for the peer: a process it may not read is named at once.
            .args([
                "--listen",
                "127.0.0.1:0",
                "--interval",
                "50ms",
                "--wait-for-peer",
                "0s",
                &name,
            ]),
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
