//! A whole Pod, for real, two ways. On the Docker engine: a pause-like first
//! container holds the namespaces and is PID 1, the stand-in app runs in its
//! own scratch image writing its log in its own filesystem, and the
//! side-cars join it with the users and capabilities the manifests set,
//! reached through ports published on 127.0.0.1. Without an engine (and as
//! well, when root): a new PID namespace whose PID 1 is the pause, the
//! stand-in chroot'ed into its own root directory, the side-cars entered
//! into the namespace with nsenter. Either way a real Prometheus scrapes
//! them, and every container stops on SIGTERM with status 0 within 1 s.

use sidecars_tests::docker::{
    docker, docker_ok, sidecars_image, stand_in_image, unavailable, Container,
};
use sidecars_tests::prom::{scrape, wait_for_sample};
use sidecars_tests::prometheus::Prometheus;
use sidecars_tests::{get, is_root, only_child, skip, tempdir, wait_until, Daemon};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the Pod's parts answer, as seen from the test.
struct Addrs {
    app: String,
    ready: String,
    latency: String,
    every: String,
    peerlog: String,
    /// A second peerlog-count, following the log through an absolute
    /// symlink of the app's image (`/var/log/current.log`).
    peerlog_link: String,
}

/// Everything the Pod must show while it runs (`app_url` as the side-cars
/// reach the app; `peerlog_log` reads peerlog-count's log so far). Returns
/// with the load makers still running.
fn check_running_pod(
    addrs: &Addrs,
    started: Instant,
    app_url: &str,
    peerlog_log: impl Fn() -> String,
) {
    // ready-check passes, then fails when the app turns unready, and back.
    wait_until("ready-check to answer 200", Duration::from_secs(10), || {
        sidecars_tests::http(&addrs.ready, "GET", "/ready").is_ok_and(|(s, _, _)| s == 200)
    });
    get(&addrs.app, "/set?value=4");
    let (status, body) = get(&addrs.ready, "/ready");
    assert_eq!(
        (status, body),
        (503, format!("FAIL {app_url}: /value is 4, want == 5\n"))
    );
    get(&addrs.app, "/set?value=5");
    assert_eq!(get(&addrs.ready, "/ready").0, 200);

    // peerlog-count found the app by its root, not the namespace's PID 1.
    wait_until(
        "peerlog-count to find the app",
        Duration::from_secs(10),
        || peerlog_log().contains("msg=\"peer found\""),
    );
    let found = peerlog_log();
    assert!(found.contains("comm=stand-in"), "{found}");
    let peer_pid = wait_for_sample(&addrs.peerlog, "peerlog_up", |v| v == 1.0)["peerlog_peer_pid"];
    assert!(peer_pid > 1.0, "picked PID {peer_pid}");

    // A real Prometheus sees the probe, the runs and the line count.
    match Prometheus::start(&[&addrs.latency, &addrs.every, &addrs.peerlog]) {
        Some(prometheus) => {
            prometheus.wait_for("probe_success{target=\"app\"}", |v| v == 1.0);
            prometheus.wait_for("peerlog_lines_total", |v| v > 0.0);
            prometheus.wait_for("sum(every_runs_total)", |v| v > 0.0);
        }
        None => skip("the Pod's Prometheus part", "prometheus is not installed"),
    }

    // every keeps its schedule: each 200 ms tick since it started is a run,
    // or (on a busy machine) a skipped tick, counted.
    let runs = wait_for_sample(&addrs.every, "every_runs_total{result=\"success\"}", |v| {
        v >= 10.0
    });
    let elapsed = started.elapsed().as_secs_f64();
    let done = runs["every_runs_total{result=\"success\"}"];
    let ticks = done + runs["every_skipped_total"];
    assert!(
        ticks <= elapsed / 0.2 + 1.0 && ticks >= elapsed / 0.2 - 10.0,
        "{done} runs and {} skipped in {elapsed:.1}s at 200ms",
        runs["every_skipped_total"]
    );
}

/// After the load makers stopped: the app saw every flush, and peerlog-count
/// counted exactly the lines of the now quiet log.
fn check_quiet_pod(addrs: &Addrs, runs_before_stop: f64, read_log: impl Fn() -> Vec<u8>) {
    let stats = get(&addrs.app, "/stats").1;
    let flushes: f64 = stats
        .split("\"flushes\": ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        flushes >= runs_before_stop,
        "the app saw {flushes} flushes of {runs_before_stop} runs"
    );
    // The /stats request above was logged too: read the log after it.
    let log = read_log();
    let lines = log.iter().filter(|&&b| b == b'\n').count() as f64;
    assert!(lines > 20.0);
    for peerlog in [&addrs.peerlog, &addrs.peerlog_link] {
        wait_for_sample(peerlog, "peerlog_lines_total", |v| v == lines);
        assert_eq!(scrape(peerlog).1["peerlog_bytes_total"], log.len() as f64);
    }
}

fn every_runs(addrs: &Addrs) -> f64 {
    scrape(&addrs.every).1["every_runs_total{result=\"success\"}"]
}

#[test]
fn a_whole_pod_on_docker_runs_and_stops_cleanly() {
    if let Some(why) = unavailable() {
        return skip("a_whole_pod_on_docker_runs_and_stops_cleanly", &why);
    }
    let image = sidecars_image();
    // The pause container: `every` with nothing due for a year is PID 1,
    // reaps orphans and stops on SIGTERM, which is all a pause does.
    let publish =
        ["8080", "8081", "9100", "9101", "9102", "9103", "9104"].map(|p| format!("127.0.0.1::{p}"));
    let mut args: Vec<&str> = publish.iter().flat_map(|p| ["-p", p.as_str()]).collect();
    args.extend([
        image.as_str(),
        "every",
        "8760h",
        "--delay-first",
        "--",
        "pause",
    ]);
    let pause = Container::run("pause", &args);
    pause.wait_log("msg=scheduled");
    let namespaces = format!("container:{}", pause.name);
    let joined = |user: &str, rest: &[&str]| -> Vec<String> {
        let locked = [
            "--read-only",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
        ];
        let join = [
            "--network",
            &namespaces,
            "--pid",
            &namespaces,
            "--user",
            user,
        ];
        join.iter()
            .chain(&locked)
            .chain(rest)
            .map(|s| s.to_string())
            .collect()
    };
    let run = |name: &str, args: Vec<String>| {
        Container::run(name, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // The exec probe's emptyDir (world-writable, as Kubernetes makes one),
    // filled by an init container of the sidecars image as the manifest does.
    let probe_dir = sidecars_tests::tempdir("pod-probe");
    std::fs::set_permissions(
        &probe_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let probe_volume = format!("{}:/probe", probe_dir.display());
    let copied = docker_ok(&[
        "run",
        "--rm",
        "--user",
        "65532:65532",
        "--read-only",
        "--cap-drop",
        "ALL",
        "-v",
        &probe_volume,
        &image,
        "ready-check",
        "--copy-to",
        "/probe",
    ]);
    assert_eq!(copied.trim(), "copied to /probe/ready-check");
    // The cache emptyDir the app writes and sweep keeps: some of it old.
    let cache_dir = sidecars_tests::tempdir("pod-cache");
    for i in 0..10 {
        let path = cache_dir.join(format!("old-{i}"));
        sidecars_tests::write_aged(
            &path,
            vec![b'c'; 5000],
            std::time::Duration::from_secs(7200),
        );
    }
    std::fs::write(cache_dir.join("young"), b"c").unwrap();
    // As the app writes under the Pod's fsGroup with umask 002: its group
    // (101) may write, so sweep needs the group, not the app's UID.
    std::fs::create_dir(cache_dir.join("sub")).unwrap();
    sidecars_tests::write_aged(
        &cache_dir.join("sub/old"),
        vec![b'c'; 5000],
        std::time::Duration::from_secs(7200),
    );
    let owned = std::process::Command::new("chown")
        .args(["-R", "101:101"])
        .arg(&cache_dir)
        .status();
    assert!(owned.is_ok_and(|s| s.success()));
    let group_writable = std::process::Command::new("chmod")
        .args(["-R", "g+w,o-w"])
        .arg(&cache_dir)
        .status();
    assert!(group_writable.is_ok_and(|s| s.success()));
    let cache_volume = format!("{}:/var/cache/app", cache_dir.display());
    // The app: read-only root, its log on a writable tmpfs (the manifests'
    // emptyDir), the probe volume read-only.
    let probe_mount = format!("{probe_volume}:ro");
    let app = run(
        "app",
        joined(
            "101:101",
            &[
                "--tmpfs",
                "/var/log/app:uid=101,gid=101,mode=0755",
                "-v",
                &probe_mount,
                "-v",
                &cache_volume,
                &stand_in_image(),
            ],
        ),
    );
    let started = Instant::now();
    let app_url = "http://127.0.0.1:8080/known-value";
    let ready = run(
        "ready-check",
        joined(
            "65532:65532",
            &[
                &image,
                "ready-check",
                "--serve",
                ":8081",
                "--http",
                app_url,
                "--json",
                "/value == 5",
            ],
        ),
    );
    let latency = run(
        "latency-exporter",
        joined(
            "65532:65532",
            &[
                &image,
                "latency-exporter",
                "--listen",
                ":9100",
                "--interval",
                "500ms",
                "--target",
                &format!("app={app_url}"),
            ],
        ),
    );
    let every = run(
        "every",
        joined(
            "65532:65532",
            &[
                &image,
                "every",
                "200ms",
                "--listen",
                ":9101",
                "http://127.0.0.1:8080/flush_queues",
            ],
        ),
    );
    // The app's UID, so that its /proc/PID/root is ours to read.
    let peerlog = run(
        "peerlog-count",
        joined(
            "101:101",
            &[
                &image,
                "peerlog-count",
                "--listen",
                ":9102",
                "--interval",
                "200ms",
                "/var/log/app/app.log",
            ],
        ),
    );
    let peerlog_link = run(
        "peerlog-count-link",
        joined(
            "101:101",
            &[
                &image,
                "peerlog-count",
                "--listen",
                ":9103",
                "--interval",
                "200ms",
                "/var/log/current.log",
            ],
        ),
    );

    // sweep as its own UID with the app's group, as the manifests run it
    // (fsGroup 101): the same UID could read the app's /proc/PID/environ.
    let sweep = run(
        "sweep",
        joined(
            "65532:65532",
            &[
                "--group-add",
                "101",
                "-v",
                &cache_volume,
                &image,
                "sweep",
                "/var/cache/app",
                "--older-than",
                "1h",
                "--interval",
                "200ms",
                "--listen",
                ":9104",
            ],
        ),
    );
    let addrs = Addrs {
        app: pause.published(8080),
        ready: pause.published(8081),
        latency: pause.published(9100),
        every: pause.published(9101),
        peerlog: pause.published(9102),
        peerlog_link: pause.published(9103),
    };
    check_running_pod(&addrs, started, app_url, || peerlog.logs());
    let swept = wait_for_sample(
        &pause.published(9104),
        "sweep_deleted_files_total{reason=\"age\"}",
        |v| v == 11.0,
    );
    // sub/old went too: deleted through the group's write permission.
    assert_eq!(swept["sweep_tree_files"], 1.0);
    let mut left: Vec<String> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["sub", "young"]);
    assert_eq!(std::fs::read_dir(cache_dir.join("sub")).unwrap().count(), 0);
    // The exec probe, as the kubelet runs it: in the app container, from
    // the copy, as the app's user.
    let exec_probe = |value: u32| {
        get(&addrs.app, &format!("/set?value={value}"));
        docker(&[
            "exec",
            &app.name,
            "/probe/ready-check",
            "--timeout",
            "800ms",
            "--http",
            app_url,
            "--json",
            "/value == 5",
        ])
    };
    let failing = exec_probe(4);
    assert_eq!(failing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&failing.stdout),
        format!("FAIL {app_url}: /value is 4, want == 5\n")
    );
    let passing = exec_probe(5);
    assert_eq!(passing.status.code(), Some(0), "{passing:?}");
    let runs = every_runs(&addrs);
    // Side-cars stop first, as the kubelet does, the pause container last.
    stop_cleanly(&[&every, &latency, &ready, &sweep]);
    let app_pid = app.host_pid();
    check_quiet_pod(&addrs, runs, || {
        std::fs::read(format!("/proc/{app_pid}/root/var/log/app/app.log")).unwrap()
    });
    stop_cleanly(&[&peerlog, &peerlog_link, &app, &pause]);
}

/// SIGTERM each in turn: each must exit 0 within a second.
fn stop_cleanly(containers: &[&Container]) {
    for container in containers {
        let (code, took) = container.stop();
        assert_eq!(
            code,
            0,
            "{} exited {code}: {}",
            container.name,
            container.logs()
        );
        assert!(
            took < Duration::from_secs(1),
            "{} took {took:?} to stop",
            container.name
        );
    }
}

/// A process in the Pod's namespaces: `nsenter` and the program it forked.
struct InPod {
    nsenter: Daemon,
    pid: i32,
}

impl InPod {
    /// Enters the PID and mount namespaces of `pause` (so /proc is the
    /// Pod's), then execs `argv`.
    fn start(pause: i32, user: Option<&str>, argv: &[&str]) -> InPod {
        let mut command = Command::new("nsenter");
        command.args(["--target", &pause.to_string(), "--pid", "--mount"]);
        if let Some(user) = user {
            command.args(["--setuid", user, "--setgid", user]);
        }
        command.arg("--").args(argv);
        let nsenter = Daemon::start_command(
            &mut command,
            argv.contains(&"--listen") || argv.contains(&"--serve"),
        );
        let pid = only_child(nsenter.pid());
        InPod { nsenter, pid }
    }

    /// SIGTERM to the program: it must exit 0 within a second.
    fn stop(&mut self, name: &str) {
        let started = Instant::now();
        // SAFETY: signalling a process this test started.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let (code, _) = self.nsenter.wait_exit(Duration::from_secs(5));
        let took = started.elapsed();
        assert_eq!(code, 0, "{name} exited {code}: {:?}", self.nsenter.log());
        assert!(
            took < Duration::from_secs(1),
            "{name} took {took:?} to stop"
        );
    }
}

/// Whether the PID-namespace Pod can be stood up here; else says why.
fn pid_namespace_pod_possible(test: &str) -> bool {
    let tools = ["unshare", "nsenter", "chroot"]
        .iter()
        .all(|t| Command::new(t).arg("--version").output().is_ok());
    if !is_root() || !tools || !sidecars_tests::static_bin("stand-in").exists() {
        skip(
            test,
            "needs root, unshare, nsenter, chroot and the static binaries (scripts/build-release)",
        );
        return false;
    }
    true
}

/// The pause: PID 1 of a new PID namespace with its own /proc (every,
/// sleeping), and its PID as seen from here.
fn start_pause(every: &str) -> (Daemon, i32) {
    let mut pause = Daemon::start_command(
        Command::new("unshare").args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            every,
            "8760h",
            "--delay-first",
            "--",
            "pause",
        ]),
        false,
    );
    pause.wait_log("msg=scheduled");
    let pid = only_child(pause.pid());
    (pause, pid)
}

/// The app's root directory (the static stand-in, its log directory owned
/// by UID 101, a symlink to the log) and the command that runs it there
/// as UID 101 on an address of its own.
fn app_root(stand_in: &str) -> (std::path::PathBuf, Vec<String>) {
    let root = tempdir("pod-root");
    std::fs::create_dir_all(root.join("var/log/app")).unwrap();
    std::fs::copy(stand_in, root.join("stand-in")).unwrap();
    std::os::unix::fs::symlink("/var/log/app/app.log", root.join("var/log/current.log")).unwrap();
    Command::new("chown")
        .args(["-R", "101:101"])
        .arg(root.join("var/log/app"))
        .status()
        .unwrap();
    // A fixed address, so that the app comes back where the side-cars look.
    let app_addr = sidecars_tests::free_loopback_addr();
    let argv = [
        "chroot",
        "--userspec=101:101",
        root.to_str().unwrap(),
        "/stand-in",
        "--listen",
        &app_addr,
        "--log",
        "/var/log/app/app.log",
    ];
    (root.clone(), argv.iter().map(|a| a.to_string()).collect())
}

/// peerlog-count started before the app, as a Pod's native side-car is:
/// it waits at info, with no warning or error, and finds the app when it
/// comes. One that runs as a UID that may not read the app's root names it
/// at error only after `--wait-for-peer`, and names only the app, not the
/// pause or the other side-cars it may not read either.
#[test]
fn peerlog_count_before_the_app_waits_at_info_and_names_only_an_unreadable_app() {
    if !pid_namespace_pod_possible(
        "peerlog_count_before_the_app_waits_at_info_and_names_only_an_unreadable_app",
    ) {
        return;
    }
    let static_bin = |name: &str| {
        sidecars_tests::reachable_copy(&sidecars_tests::static_bin(name))
            .to_string_lossy()
            .into_owned()
    };
    let (every, peerlog_count) = (static_bin("every"), static_bin("peerlog-count"));
    let (mut pause, pause_pid) = start_pause(&every);
    let follow = |user: &str, extra: &[&str]| {
        let mut argv = vec![
            peerlog_count.as_str(),
            "--log-level",
            "debug",
            "--interval",
            "100ms",
        ];
        argv.extend_from_slice(extra);
        argv.push("/var/log/app/app.log");
        InPod::start(pause_pid, Some(user), &argv)
    };
    // As the app's UID, which can read its root; and as the side-cars' UID,
    // which cannot, looking for the app by its command.
    let mut as_app = follow("101", &[]);
    let mut as_other = follow(
        "65532",
        &["--peer", "comm:stand-in", "--wait-for-peer", "1s"],
    );
    for daemon in [&mut as_app, &mut as_other] {
        daemon
            .nsenter
            .wait_log("msg=\"waiting for the app: no process has the log yet\"");
        // Several intervals read, and nothing above info said.
        wait_until("five reads", Duration::from_secs(10), || {
            daemon
                .nsenter
                .log()
                .iter()
                .filter(|l| l.contains("msg=read"))
                .count()
                >= 5
        });
    }
    let loud = |daemon: &InPod| -> Vec<String> {
        daemon
            .nsenter
            .log()
            .into_iter()
            .filter(|l| l.contains("level=warn") || l.contains("level=error"))
            .collect()
    };
    assert_eq!(loud(&as_app), Vec::<String>::new(), "before the app");
    assert_eq!(loud(&as_other), Vec::<String>::new(), "before the app");

    let (_root, app_argv) = app_root(&static_bin("stand-in"));
    let app_argv: Vec<&str> = app_argv.iter().map(String::as_str).collect();
    let mut app = InPod::start(pause_pid, None, &app_argv);
    as_app.nsenter.wait_log("msg=\"peer found\"");
    assert_eq!(loud(&as_app), Vec::<String>::new(), "after the app came");
    let denied = as_other
        .nsenter
        .wait_log("permission denied reading /proc/PID/root");
    assert!(denied.contains("level=error"), "{denied}");
    // Only the app: in the namespace it is PID 2 or more; the pause is 1.
    let pids = sidecars_tests::field(&denied, "pids").unwrap_or_default();
    assert!(!pids.split(',').any(|p| p == "1"), "{denied}");

    as_app.stop("peerlog-count");
    as_other.stop("peerlog-count");
    app.stop("stand-in");
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(pause_pid, libc::SIGTERM) };
    pause.wait_exit(Duration::from_secs(5));
}

#[test]
fn a_whole_pod_in_a_pid_namespace_runs_and_stops_cleanly() {
    if !pid_namespace_pod_possible("a_whole_pod_in_a_pid_namespace_runs_and_stops_cleanly") {
        return;
    }
    // Copies: the side-cars run as UID 65532, who may not enter the checkout.
    let static_bin = |name: &str| {
        sidecars_tests::reachable_copy(&sidecars_tests::static_bin(name))
            .to_string_lossy()
            .into_owned()
    };
    let every = static_bin("every");
    let (mut pause, pause_pid) = start_pause(&every);
    // The app, chroot'ed into its own root directory, as UID 101.
    let (root, app_argv) = app_root(&static_bin("stand-in"));
    let app_argv: Vec<&str> = app_argv.iter().map(String::as_str).collect();
    let mut app = InPod::start(pause_pid, None, &app_argv);
    let started = Instant::now();
    let app_url = format!("http://{}/known-value", app.nsenter.addr);
    let (ready_check, latency_exporter, peerlog_count) = (
        static_bin("ready-check"),
        static_bin("latency-exporter"),
        static_bin("peerlog-count"),
    );
    let mut ready = InPod::start(
        pause_pid,
        Some("65532"),
        &[
            &ready_check,
            "--serve",
            "127.0.0.1:0",
            "--http",
            &app_url,
            "--json",
            "/value == 5",
        ],
    );
    let mut latency = InPod::start(
        pause_pid,
        Some("65532"),
        &[
            &latency_exporter,
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "500ms",
            "--target",
            &format!("app={app_url}"),
        ],
    );
    let flush = format!("http://{}/flush_queues", app.nsenter.addr);
    let mut runner = InPod::start(
        pause_pid,
        Some("65532"),
        &[&every, "200ms", "--listen", "127.0.0.1:0", &flush],
    );
    // The app's UID; one follows the log, one the image's symlink to it.
    let follow = |path: &str| {
        InPod::start(
            pause_pid,
            Some("101"),
            &[
                &peerlog_count,
                "--listen",
                "127.0.0.1:0",
                "--interval",
                "200ms",
                path,
            ],
        )
    };
    let (mut peerlog, mut peerlog_link) = (
        follow("/var/log/app/app.log"),
        follow("/var/log/current.log"),
    );

    let addrs = Addrs {
        app: app.nsenter.addr.clone(),
        ready: ready.nsenter.addr.clone(),
        latency: latency.nsenter.addr.clone(),
        every: runner.nsenter.addr.clone(),
        peerlog: peerlog.nsenter.addr.clone(),
        peerlog_link: peerlog_link.nsenter.addr.clone(),
    };
    check_running_pod(&addrs, started, &app_url, || {
        peerlog.nsenter.log().join("\n")
    });
    // The app crashes (kill -9) and its container restarts: the side-cars
    // see it go and come back, and peerlog-count follows the new process.
    let peer_before = scrape(&addrs.peerlog).1["peerlog_peer_pid"];
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(app.pid, libc::SIGKILL) };
    app.nsenter.wait_exit(Duration::from_secs(5));
    wait_until("ready-check to answer 503", Duration::from_secs(10), || {
        get(&addrs.ready, "/ready").0 == 503
    });
    wait_for_sample(&addrs.latency, "probe_success{target=\"app\"}", |v| {
        v == 0.0
    });
    app = InPod::start(pause_pid, None, &app_argv);
    wait_until(
        "ready-check to answer 200 again",
        Duration::from_secs(10),
        || get(&addrs.ready, "/ready").0 == 200,
    );
    wait_for_sample(&addrs.latency, "probe_success{target=\"app\"}", |v| {
        v == 1.0
    });
    wait_for_sample(&addrs.peerlog, "peerlog_peer_pid", |v| {
        v != peer_before && v > 1.0
    });
    // The new app counts flushes from zero: compare only the runs since.
    let runs_before_restart = every_runs(&addrs);
    let success = "every_runs_total{result=\"success\"}";
    let runs = wait_for_sample(&addrs.every, success, |v| v >= runs_before_restart + 5.0)[success];
    runner.stop("every");
    latency.stop("latency-exporter");
    ready.stop("ready-check");
    check_quiet_pod(&addrs, runs - runs_before_restart, || {
        std::fs::read(root.join("var/log/app/app.log")).unwrap()
    });
    peerlog.stop("peerlog-count");
    peerlog_link.stop("peerlog-count");
    app.stop("stand-in");
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(pause_pid, libc::SIGTERM) };
    let (code, took) = pause.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(1), "the pause took {took:?}");
}
