//! Random valid configurations of each side-car, each started against live
//! local targets and asked on every endpoint it serves: no panic, no exit
//! but the documented ones, a promtool-clean `/metrics`. Closes the class of
//! the crash a `tcp://` target beside a `--json-gauge` once caused: no test
//! had combined the two. A failing case prints its seed and command line;
//! `SIDECARS_SEED=N` replays it.

use sidecars_tests::prom::assert_promtool_clean;
use sidecars_tests::rng::Rng;
use sidecars_tests::target::{Reply, Target};
use sidecars_tests::{get, http, run, tempdir, wait_until, Daemon};
use std::path::Path;
use std::time::{Duration, Instant};

/// Configurations per side-car and run; with the seed in the output, a
/// failure of any of them can be replayed.
const CASES: usize = 10;

/// The app: JSON that conditions and gauges read, a failing path, a slow
/// one, a redirect and a body over a small cap.
fn app() -> Target {
    Target::start(|hit| {
        match hit.path.as_str() {
        "/json" => Reply::ok(r#"{"value":5,"queue":{"depth":3},"name":"app"}"#),
        "/down" => Reply::status(503, "down"),
        "/slow" => Reply::delayed(Duration::from_millis(300), r#"{"value":1}"#),
        "/redirect" => Reply::Raw(
            b"HTTP/1.1 302 Found\r\nLocation: /json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_vec(),
        ),
        "/big" => Reply::Huge(200 * 1024),
        "/text" => Reply::ok("not json, but ok"),
        _ => Reply::status(404, "no"),
    }
    })
}

/// An address nothing listens on (refused).
fn refused() -> String {
    sidecars_tests::free_loopback_addr()
}

fn case_label(program: &str, seed: u64, case: usize, args: &[String]) -> String {
    format!("{program} seed {seed} case {case}: {args:?}")
}

/// Asks every endpoint of a running side-car, checks the answers and the
/// metrics, then stops it with SIGTERM. `may_exit`: it may have ended by
/// itself (`--count`, `--max-failures`) with 0 or 1.
fn exercise(
    daemon: &mut Daemon,
    label: &str,
    endpoints: &[(&str, &[u16])],
    may_exit: bool,
    first_results_in: impl Fn(&str) -> bool,
) {
    // Until the first results are in (bounded: a slow target is no failure).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !may_exit && Instant::now() < deadline {
        match http(&daemon.addr, "GET", endpoints[0].0) {
            Ok((_, _, body)) if first_results_in(&body) => break,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut asked: Vec<(&str, &str, &[u16])> = vec![
        ("GET", "/no-such-path", &[404]),
        ("POST", endpoints[0].0, &[405]),
    ];
    for (path, statuses) in endpoints {
        asked.push(("GET", path, statuses));
        asked.push(("HEAD", path, statuses));
    }
    for (method, path, statuses) in asked {
        match http(&daemon.addr, method, path) {
            Ok((status, _, body)) => {
                assert!(
                    statuses.contains(&status),
                    "{label}: {method} {path} answered {status}, want one of {statuses:?}: {body}"
                );
                if path == "/metrics" && method == "GET" {
                    assert_promtool_clean(&body);
                }
            }
            // Ended by itself (--count, --max-failures): checked below.
            Err(_) if may_exit => {}
            Err(e) => panic!("{label}: {method} {path}: {e}; log: {:#?}", daemon.log()),
        }
    }
    let running = daemon.child.try_wait().unwrap().is_none();
    assert!(
        running || may_exit,
        "{label}: exited by itself; log: {:#?}",
        daemon.log()
    );
    daemon.signal(libc::SIGTERM);
    let mut status = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while status.is_none() && Instant::now() < deadline {
        status = daemon.child.try_wait().unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let code = status
        .unwrap_or_else(|| {
            panic!(
                "{label}: still running 5 s after SIGTERM; log: {:#?}",
                daemon.log()
            )
        })
        .code()
        .unwrap_or(-1);
    daemon.finish_collecting(Duration::from_secs(2));
    let allowed: &[i32] = if may_exit { &[0, 1] } else { &[0] };
    assert!(
        allowed.contains(&code),
        "{label}: exit {code}, want {allowed:?}; log: {:#?}",
        daemon.log()
    );
    assert_clean_log(label, &daemon.log());
}

fn assert_clean_log(label: &str, log: &[String]) {
    assert!(
        !log.iter()
            .any(|l| l.contains("panicked") || l.contains("internal error")),
        "{label}: {log:#?}"
    );
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `--status`, `--contains`, `--json`, `--header` after an http target.
fn conditions(rng: &mut Rng, out: &mut Vec<String>) {
    let all: [&[&str]; 7] = [
        &["--status", "200,204"],
        &["--status", "503"],
        &["--contains", "value"],
        &["--json", "/value == 5"],
        &["--json", "/queue/depth < 10"],
        &["--json", "/name != \"x\""],
        &["--header", "X-Probe: yes"],
    ];
    for _ in 0..rng.below(3) {
        out.extend(args(rng.pick(&all)));
    }
}

fn http_path(rng: &mut Rng) -> &'static str {
    rng.pick(&["/json", "/down", "/slow", "/redirect", "/big", "/text"])
}

#[test]
fn latency_exporter_takes_any_valid_configuration() {
    let (mut rng, seed) = Rng::from_env("latency_exporter_takes_any_valid_configuration");
    let app = app();
    for case in 0..CASES {
        let mut a = args(&["--listen", "127.0.0.1:0"]);
        if rng.chance(30) {
            a.extend(args(&["--header", "X-All: 1"]));
        }
        let targets = 1 + rng.below(4);
        for i in 0..targets {
            let kind = rng.below(4);
            let url = match kind {
                0 | 1 => app.url(http_path(&mut rng)),
                2 => format!("tcp://{}", app.addr),
                _ => match rng.below(2) {
                    0 => format!("tcp://{}", refused()),
                    _ => format!("http://{}/", refused()),
                },
            };
            a.push("--target".into());
            // A URL may come twice; a target's name may not.
            a.push(if rng.chance(70) || a.contains(&url) {
                format!("t{i}={url}")
            } else {
                url.clone()
            });
            if !url.starts_with("tcp://") {
                conditions(&mut rng, &mut a);
            }
        }
        for (name, pointer) in [("app_queue_depth", "/queue/depth"), ("app_value", "/value")] {
            if rng.chance(50) {
                a.extend(args(&["--json-gauge", &format!("{name}={pointer}")]));
            }
        }
        a.extend(args(&[
            "--interval",
            rng.pick(&["50ms", "200ms", "scrape"]),
        ]));
        a.extend(args(&["--timeout", rng.pick(&["200ms", "1s"])]));
        if rng.chance(40) {
            a.extend(args(&["--max-body", rng.pick(&["64Ki", "1Mi", "100000"])]));
        }
        if rng.chance(40) {
            a.push("--follow-redirects".into());
        }
        if rng.chance(30) {
            a.extend(args(&["--buckets", "0.001,0.01,0.1,1"]));
        }
        let label = case_label("latency-exporter", seed, case, &a);
        let mut daemon = Daemon::start("latency-exporter", &strs(&a));
        exercise(
            &mut daemon,
            &label,
            &[("/metrics", &[200]), ("/healthz", &[200]), ("/", &[200])],
            false,
            |metrics| metrics.matches("probe_success{").count() as u64 >= targets,
        );
    }
}

#[test]
fn ready_check_takes_any_valid_configuration() {
    let (mut rng, seed) = Rng::from_env("ready_check_takes_any_valid_configuration");
    let app = app();
    let dir = tempdir("configs-ready");
    let heartbeat = dir.join("heartbeat");
    std::fs::write(&heartbeat, "x").unwrap();
    for case in 0..CASES {
        let mut a = Vec::new();
        for _ in 0..1 + rng.below(3) {
            match rng.below(5) {
                0 | 1 => {
                    a.extend(args(&["--http", &app.url(http_path(&mut rng))]));
                    conditions(&mut rng, &mut a);
                }
                2 => a.extend(args(&["--http", &format!("http://{}/", refused())])),
                3 => a.extend(args(&["--tcp", &rng.pick(&[app.addr.clone(), refused()])])),
                _ => {
                    let path = rng.pick(&[heartbeat.clone(), dir.join("absent")]).clone();
                    a.extend(args(&["--file", &path.display().to_string()]));
                    if rng.chance(50) {
                        a.extend(args(&["--max-age", "1h"]));
                    }
                }
            }
        }
        a.extend(args(&["--timeout", rng.pick(&["200ms", "1s"])]));
        if rng.chance(40) {
            a.extend(args(&["--max-body", rng.pick(&["64Ki", "1Mi", "100000"])]));
        }
        if rng.chance(40) {
            a.push("--follow-redirects".into());
        }
        if rng.chance(50) {
            // The exec probe: one run, 0 or 1, a line per check.
            if rng.chance(50) {
                a.push("--quiet".into());
            }
            let label = case_label("ready-check", seed, case, &a);
            let ran = run("ready-check", &strs(&a));
            assert!(
                ran.code == 0 || ran.code == 1,
                "{label}: exit {}: {}",
                ran.code,
                ran.stderr
            );
            assert_clean_log(&label, &[ran.stderr]);
            continue;
        }
        a.extend(args(&["--serve", "127.0.0.1:0"]));
        if rng.chance(50) {
            a.extend(args(&["--cache", rng.pick(&["0", "100ms", "1s"])]));
        }
        let label = case_label("ready-check", seed, case, &a);
        let mut daemon = Daemon::start("ready-check", &strs(&a));
        exercise(
            &mut daemon,
            &label,
            &[
                ("/ready", &[200, 503]),
                ("/live", &[200]),
                ("/", &[200, 503]),
            ],
            false,
            |_| true,
        );
    }
}

#[test]
fn every_takes_any_valid_configuration() {
    let (mut rng, seed) = Rng::from_env("every_takes_any_valid_configuration");
    let app = app();
    for case in 0..CASES {
        let mut a = Vec::new();
        let cron = rng.chance(25);
        if cron {
            a.extend(args(&["--cron", "* * * * * *"]));
        } else {
            a.push(rng.pick(&["100ms", "250ms"]).to_string());
        }
        a.extend(args(&["--listen", "127.0.0.1:0"]));
        let ends = rng.chance(40);
        if ends {
            match rng.below(2) {
                0 => a.extend(args(&["--count", &(1 + rng.below(3)).to_string()])),
                _ => a.extend(args(&["--max-failures", &(1 + rng.below(3)).to_string()])),
            }
        }
        // Both only mean something on an interval.
        if !cron && rng.chance(30) {
            a.extend(args(&["--jitter", "50ms"]));
        }
        if !cron && rng.chance(20) {
            a.push("--delay-first".into());
        }
        if rng.chance(40) {
            a.extend(args(&["--timeout", rng.pick(&["100ms", "2s"])]));
        }
        if rng.chance(50) {
            if rng.chance(40) {
                a.extend(args(&[
                    "-X",
                    "POST",
                    "-d",
                    "{}",
                    "-H",
                    "Content-Type: application/json",
                ]));
            }
            a.push(
                rng.pick(&[
                    app.url("/json"),
                    app.url("/down"),
                    app.url("/slow"),
                    format!("http://{}/", refused()),
                ])
                .clone(),
            );
        } else {
            a.push("--".into());
            a.extend(args(rng.pick(&[
                &["/bin/true"][..],
                &["/bin/false"],
                &["/bin/sleep", "0.3"],
            ])));
        }
        let label = case_label("every", seed, case, &a);
        let mut daemon = Daemon::start("every", &strs(&a));
        exercise(
            &mut daemon,
            &label,
            &[("/metrics", &[200]), ("/healthz", &[200]), ("/", &[200])],
            ends,
            |metrics| metrics.contains("every_runs_total{"),
        );
    }
}

#[test]
fn peerlog_count_takes_any_valid_configuration() {
    let (mut rng, seed) = Rng::from_env("peerlog_count_takes_any_valid_configuration");
    let app = app();
    for case in 0..CASES {
        let root = tempdir("configs-peerlog");
        let log = root.join("app.log");
        let write = |path: &Path, rng: &mut Rng| {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            for i in 0..rng.below(200) {
                let line = match rng.below(4) {
                    0 => format!(
                        "{{\"level\":\"{}\",\"n\":{i}}}\n",
                        rng.pick(&["info", "error"])
                    ),
                    1 => format!(
                        "ts=1 level=warn status={} msg=\"x y\"\n",
                        rng.pick(&[200, 404, 500])
                    ),
                    2 => format!(
                        "127.0.0.1 - - [t] \"GET / HTTP/1.1\" {} 5\n",
                        rng.pick(&[200, 404])
                    ),
                    _ => String::from_utf8_lossy(&rng.bytes(40)).replace('\n', " ") + "\n",
                };
                file.write_all(line.as_bytes()).unwrap();
            }
        };
        if rng.chance(85) {
            write(&log, &mut rng);
        }
        let mut a = args(&["--root", &root.display().to_string()]);
        for (name, text) in [("errors", "error"), ("not_found", " 404 ")] {
            if rng.chance(40) {
                a.extend(args(&["--match", &format!("{name}={text}")]));
            }
        }
        for (name, field) in [
            ("level", "json:/level"),
            ("status", "logfmt:status"),
            ("code", "word:9"),
        ] {
            if rng.chance(40) {
                a.extend(args(&["--by", &format!("{name}={field}")]));
            }
        }
        if rng.chance(30) {
            a.extend(args(&["--max-values", &(1 + rng.below(4)).to_string()]));
        }
        if rng.chance(20) {
            a.push("--from-end".into());
        }
        a.extend(args(&[
            "--interval",
            rng.pick(&["50ms", "200ms"]),
            "--rotate-wait",
            "100ms",
        ]));
        if rng.chance(50) {
            a.push("--once".into());
            a.push("/app.log".into());
            let label = case_label("peerlog-count", seed, case, &a);
            let ran = run("peerlog-count", &strs(&a));
            let want = if log.exists() { 0 } else { 1 };
            assert_eq!(ran.code, want, "{label}: {}", ran.stderr);
            if want == 0 {
                serde_json::from_str::<serde_json::Value>(&ran.stdout)
                    .unwrap_or_else(|e| panic!("{label}: {e}: {}", ran.stdout));
            }
            assert_clean_log(&label, &[ran.stderr]);
            continue;
        }
        a.extend(args(&["--listen", "127.0.0.1:0"]));
        if rng.chance(30) {
            a.extend(args(&["--post", &app.url("/json")]));
        }
        a.push("/app.log".into());
        let label = case_label("peerlog-count", seed, case, &a);
        let mut daemon = Daemon::start("peerlog-count", &strs(&a));
        // The log grows, is rotated by rename and grows again.
        write(&log, &mut rng);
        if rng.chance(50) && log.exists() {
            std::fs::rename(&log, root.join("app.log.1")).unwrap();
            write(&log, &mut rng);
        }
        let addr = daemon.addr.clone();
        wait_until(&format!("{label}: metrics"), Duration::from_secs(5), || {
            get(&addr, "/metrics").1.contains("peerlog_up")
        });
        exercise(
            &mut daemon,
            &label,
            &[("/metrics", &[200]), ("/healthz", &[200]), ("/", &[200])],
            false,
            |_| true,
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}

#[test]
fn sweep_takes_any_valid_configuration() {
    let (mut rng, seed) = Rng::from_env("sweep_takes_any_valid_configuration");
    for case in 0..CASES {
        let dir = tempdir("configs-sweep");
        for i in 0..rng.below(60) {
            let path = dir.join(format!("{}/f{i}", rng.pick(&["a", "a/b", "c", "keep"])));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            // Drawn in this order, so that a seed replays as before.
            let contents = vec![b'x'; rng.below(20_000) as usize];
            let age = Duration::from_secs(rng.below(200_000));
            sidecars_tests::write_aged(&path, contents, age);
        }
        let mut a = vec![dir.display().to_string()];
        let by_age = rng.chance(60);
        if by_age {
            a.extend(args(&["--older-than", rng.pick(&["1h", "1d", "30s"])]));
        }
        if !by_age || rng.chance(50) {
            a.extend(args(&["--max-size", rng.pick(&["64Ki", "200Ki", "1Mi"])]));
            if rng.chance(30) {
                a.extend(args(&["--low-water", "32Ki"]));
            }
        }
        if rng.chance(40) {
            a.extend(args(&[
                "--exclude",
                rng.pick(&["keep/**", "**/f1*", "*", "a/?/f[0-3]"]),
            ]));
        }
        if by_age && rng.chance(40) {
            a.push("--remove-empty-dirs".into());
        }
        if rng.chance(30) {
            a.push("--dry-run".into());
        }
        if rng.chance(20) {
            a.extend(args(&["--age-by", "atime"]));
        }
        if rng.chance(20) {
            a.extend(args(&["--max-rate", "1000"]));
        }
        if rng.chance(40) {
            a.push("--once".into());
            let label = case_label("sweep", seed, case, &a);
            let ran = run("sweep", &strs(&a));
            assert_eq!(ran.code, 0, "{label}: {}", ran.stderr);
            assert!(
                ran.stderr.contains("msg=pass") || ran.stderr.contains("msg=\"dry run"),
                "{label}: {}",
                ran.stderr
            );
            assert_clean_log(&label, &[ran.stderr]);
            continue;
        }
        a.extend(args(&[
            "--listen",
            "127.0.0.1:0",
            "--interval",
            rng.pick(&["50ms", "1s"]),
        ]));
        let label = case_label("sweep", seed, case, &a);
        let mut daemon = Daemon::start("sweep", &strs(&a));
        exercise(
            &mut daemon,
            &label,
            &[("/metrics", &[200]), ("/healthz", &[200]), ("/", &[200])],
            false,
            |metrics| metrics.contains("sweep_last_pass_timestamp_seconds"),
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A panic in any thread (here a worker, as a scrape's was) ends the whole
/// process with one log line and status 70, never a half-dead server or a
/// bare SIGABRT.
#[test]
fn a_panic_in_a_thread_exits_70_with_one_line() {
    let ran = run("panics-in-a-thread", &[]);
    assert_eq!(ran.code, 70, "{}", ran.stderr);
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    for want in [
        "level=error",
        "msg=\"internal error (a bug): exiting so that the container is restarted\"",
        "thread=worker",
        "panic=\"index out of bounds",
        "exit=70",
    ] {
        assert!(lines[0].contains(want), "{want}: {}", lines[0]);
    }
}
