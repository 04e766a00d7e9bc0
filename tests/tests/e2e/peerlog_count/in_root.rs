//! The peer's root: PATH resolved inside it as the app sees it, links kept
//! inside, FIFOs, sockets, directories and standard output named.

use super::*;

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
            (ran.code, ran.stdout.as_str()),
            (1, ""),
            "{resolution}: {}",
            ran.stderr
        );
        assert!(
            ran.stderr.contains("log not found"),
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
        assert_eq!((code, stdout.as_str()), (Some(1), ""), "{stderr}");
        let (code, _, stderr) = in_container("/var/log/app/stdout.log");
        assert_eq!(code, Some(1));
        assert!(stderr.contains("standard output"), "{stderr}");
    }
}
