//! Every client side-car against the catalogue of hostile servers
//! (`sidecars_tests::hostile_servers`): ready-check as an exec probe and
//! under `--serve`, every, latency-exporter and peerlog-count's `--post`.
//! Each case is a clean failure with its one-line reason, inside the
//! timeout: never exit 70, never a signal, never a hang.

use sidecars_tests::hostile_servers::{self, Case, CASES};
use sidecars_tests::prom::scrape;
use sidecars_tests::{get, run, tempdir, wait_until, Daemon};
use std::time::Duration;

/// The 1 s timeout every side-car gets here, and the bound on a whole run:
/// start-up and scheduling on a busy machine on top of it.
const TIMEOUT: &str = "1s";
const WITHIN: Duration = Duration::from_secs(5);

/// `check` for each case, all at once, each in its own thread.
fn each_case(check: impl Fn(&Case) + Sync) {
    std::thread::scope(|scope| {
        let check = &check;
        let runs: Vec<_> = CASES
            .iter()
            .map(|case| (case.name, scope.spawn(move || check(case))))
            .collect();
        let failed: Vec<&str> = runs
            .into_iter()
            .filter_map(|(name, run)| run.join().is_err().then_some(name))
            .collect();
        assert!(failed.is_empty(), "failed cases: {failed:?}");
    });
}

#[test]
fn ready_check_fails_each_hostile_answer_with_its_reason() {
    let target = hostile_servers::start();
    each_case(|case| {
        let url = target.url(&format!("/{}", case.name));
        let ran = run(
            "ready-check",
            &["--timeout", TIMEOUT, "--follow-redirects", "--http", &url],
        );
        let said = format!("{}{}", ran.stdout, ran.stderr);
        assert_eq!(ran.code, 1, "{}: {said}", case.name);
        assert!(
            ran.elapsed < WITHIN,
            "{}: took {:?}",
            case.name,
            ran.elapsed
        );
        let line = format!("FAIL {url}: {}", case.reason);
        assert!(
            said.contains(&line),
            "{}: want {line:?} in {said:?}",
            case.name
        );
    });
}

#[test]
fn ready_check_serve_answers_503_to_each_hostile_answer_and_stays_up() {
    let target = hostile_servers::start();
    each_case(|case| {
        let url = target.url(&format!("/{}", case.name));
        let probe = Daemon::start(
            "ready-check",
            &[
                "--serve",
                "127.0.0.1:0",
                "--timeout",
                TIMEOUT,
                "--follow-redirects",
                "--http",
                &url,
            ],
        );
        for _ in 0..2 {
            let started = std::time::Instant::now();
            let (status, body) = get(&probe.addr, "/ready");
            assert_eq!(status, 503, "{}: {body}", case.name);
            assert!(body.contains(case.reason), "{}: {body}", case.name);
            assert!(started.elapsed() < WITHIN, "{}", case.name);
        }
        assert_eq!(get(&probe.addr, "/").0, 503, "{}", case.name);
    });
}

#[test]
fn every_fails_the_run_of_each_hostile_answer() {
    let target = hostile_servers::start();
    each_case(|case| {
        let url = target.url(&format!("/{}", case.name));
        let ran = run("every", &["1s", "--count", "1", "--timeout", TIMEOUT, &url]);
        assert!(
            ran.elapsed < WITHIN,
            "{}: took {:?}",
            case.name,
            ran.elapsed
        );
        // Only the status counts for every: a 2xx whose body runs past the
        // cap is a success, and anything else here a failed run.
        let (code, result) = match case.over_cap_after_2xx {
            true => (0, "result=success"),
            false => (1, "result=failure"),
        };
        assert_eq!(ran.code, code, "{}: {}", case.name, ran.stderr);
        assert!(ran.stderr.contains(result), "{}: {}", case.name, ran.stderr);
        // every does not follow redirects: a 3xx is the answer.
        if !case.name.starts_with("redirect") && !case.over_cap_after_2xx {
            let reason = case.reason.replace('"', "\\\"");
            assert!(
                ran.stderr.contains(&reason),
                "{}: {}",
                case.name,
                ran.stderr
            );
        }
    });
}

#[test]
fn latency_exporter_probes_each_hostile_target_as_failed_and_the_good_one_as_up() {
    let target = hostile_servers::start();
    let good = target.url("/good");
    let specs: Vec<String> = CASES
        .iter()
        .map(|case| format!("{}={}", case.name, target.url(&format!("/{}", case.name))))
        .chain([format!("good={good}")])
        .collect();
    let mut args = vec![
        "--interval",
        "300ms",
        "--timeout",
        TIMEOUT,
        "--follow-redirects",
    ];
    for spec in &specs {
        args.extend(["--target", spec.as_str()]);
    }
    let mut exporter = Daemon::listening("latency-exporter", &args);
    for case in CASES {
        let line = exporter.wait_log(&format!("target={} ", case.name));
        let reason = case.reason.replace('"', "\\\"");
        assert!(line.contains(&reason), "{}: {line}", case.name);
    }
    // Every target probed at least once since: the slowest case's timeout.
    let mut values = Default::default();
    wait_until("a sample of every target", WITHIN, || {
        values = scrape(&exporter.addr).1;
        CASES
            .iter()
            .all(|case| values.contains_key(&format!("probe_success{{target=\"{}\"}}", case.name)))
    });
    assert_eq!(values["probe_success{target=\"good\"}"], 1.0);
    for case in CASES {
        let key = |name: &str| format!("{name}{{target=\"{}\"}}", case.name);
        assert_eq!(values[&key("probe_success")], 0.0, "{}", case.name);
        assert!(
            values[&key("probe_duration_seconds")] < 1.5,
            "{}",
            case.name
        );
    }
    // Still alive and still probing the good target.
    let before = values["probe_duration_seconds{target=\"good\"}"];
    wait_until("a new probe of the good target", WITHIN, || {
        scrape(&exporter.addr).1["probe_duration_seconds{target=\"good\"}"] != before
    });
}

#[test]
fn peerlog_count_post_fails_on_each_hostile_receiver_and_goes_on() {
    let target = hostile_servers::start();
    each_case(|case| {
        let dir = tempdir(&format!("hostile-post-{}", case.name));
        std::fs::write(dir.join("app.log"), "a line\n").unwrap();
        let url = target.url(&format!("/{}", case.name));
        let mut follower = Daemon::listening(
            "peerlog-count",
            &[
                "--interval",
                "200ms",
                "--root",
                dir.to_str().unwrap(),
                "--post",
                &url,
                "/app.log",
            ],
        );
        if case.over_cap_after_2xx {
            // As for every, a 2xx is the receiver's word: two posts, no failure.
            wait_until("two posts", WITHIN, || {
                target
                    .hits()
                    .iter()
                    .filter(|h| h.path == format!("/{}", case.name))
                    .count()
                    >= 2
            });
            let log = follower.log().join("\n");
            assert!(!log.contains("post failed"), "{}: {log}", case.name);
        } else if !case.name.starts_with("redirect") {
            let line = follower.wait_log("post failed");
            // Its posts time out at 5 s, not at the 1 s of the others.
            let reason = case
                .reason
                .replace("after 1s", "after 5s")
                .replace('"', "\\\"");
            assert!(line.contains(&reason), "{}: {line}", case.name);
        } else {
            follower.wait_log("post failed");
        }
        // Still running: it answers a signal with a clean exit.
        follower.signal(libc::SIGTERM);
        let (code, _) = follower.wait_exit(Duration::from_secs(10));
        assert_eq!(code, 0, "{}", case.name);
    });
}
