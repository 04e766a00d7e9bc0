//! every: the schedule is measured where it lands, at a real target that
//! records when each request arrived; programs are real child processes.

use sidecars_tests::prom::{assert_promtool_clean, samples};
use sidecars_tests::target::{Hit, Reply, Target};
use sidecars_tests::{get, run, tempdir, wait_until, Daemon};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TOLERANCE: Duration = Duration::from_millis(10);

/// How many runs of a timing test a stall of the machine may delay. CI once
/// saw run 22 arrive 44 ms late on a two-core machine, the 21 before it on
/// their slots: a stall, not the schedule. Drift moves every run after it,
/// so it cannot hide in a few.
const STALLS_ALLOWED: usize = 3;

/// Each run's start, as the target saw it, less k * interval: the same
/// instant for every run of a drift-free schedule. In milliseconds from the
/// earliest, sorted by k.
fn offsets_ms(hits: &[Hit], interval: Duration) -> Vec<f64> {
    let shifted: Vec<Instant> = hits
        .iter()
        .enumerate()
        .map(|(k, hit)| hit.at - interval * k as u32)
        .collect();
    let earliest = *shifted.iter().min().unwrap();
    shifted
        .iter()
        .map(|at| (*at - earliest).as_secs_f64() * 1e3)
        .collect()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted[sorted.len() / 2]
}

/// Each run on its slot: within TOLERANCE of the schedule's median offset,
/// except at most STALLS_ALLOWED runs that are late (never early) by less
/// than an interval. And no drift: the first ten runs and the last ten sit
/// on the same offset.
fn assert_on_schedule(hits: &[Hit], runs: usize, interval: Duration) {
    assert_eq!(hits.len(), runs);
    let offsets = offsets_ms(hits, interval);
    let slot = median(&offsets);
    let tolerance = TOLERANCE.as_secs_f64() * 1e3;
    let off: Vec<(usize, f64)> = offsets
        .iter()
        .map(|offset| offset - slot)
        .enumerate()
        .filter(|(_, error)| error.abs() >= tolerance)
        .collect();
    for &(k, error) in &off {
        assert!(
            error > 0.0,
            "run {k} is {:.1} ms early: {offsets:.1?}",
            -error
        );
        assert!(
            error < interval.as_secs_f64() * 1e3,
            "run {k} is {error:.1} ms late: {offsets:.1?}"
        );
    }
    assert!(
        off.len() <= STALLS_ALLOWED,
        "{} runs off their slots by {:.1?} ms: {offsets:.1?}",
        off.len(),
        off.iter().map(|(_, e)| *e).collect::<Vec<_>>()
    );
    let drift = median(&offsets[runs - 10..]) - median(&offsets[..10]);
    assert!(
        drift.abs() < tolerance / 2.0,
        "the schedule drifted {drift:.1} ms over {runs} runs: {offsets:.1?}"
    );
}

#[test]
#[ignore = "timing to 10 ms: run alone, after the rest (scripts/test does)"]
fn sixty_runs_land_on_their_slots_despite_a_20ms_target() {
    let target = Target::start(|_| Reply::delayed(Duration::from_millis(20), "ok"));
    let ran = run("every", &["50ms", "--count", "60", &target.url("/flush")]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_on_schedule(&target.hits(), 60, Duration::from_millis(50));
}

#[test]
#[ignore = "timing to 10 ms: run alone, after the rest (scripts/test does)"]
fn a_target_whose_time_varies_from_0_to_40ms_does_not_shift_the_schedule() {
    let n = Arc::new(AtomicUsize::new(0));
    let counter = n.clone();
    let target = Target::start(move |_| {
        let k = counter.fetch_add(1, Ordering::SeqCst) as u64;
        Reply::delayed(Duration::from_millis((k * 17) % 41), "ok")
    });
    let ran = run("every", &["50ms", "--count", "60", &target.url("/flush")]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_on_schedule(&target.hits(), 60, Duration::from_millis(50));
}

#[test]
fn a_slow_run_never_overlaps_and_missed_ticks_are_counted() {
    let target = Target::start(|_| Reply::delayed(Duration::from_millis(150), "ok"));
    let mut every = Daemon::start(
        "every",
        &[
            "50ms",
            "--timeout",
            "1s",
            "--listen",
            "127.0.0.1:0",
            &target.url("/"),
        ],
    );
    wait_until("5 runs", Duration::from_secs(10), || target.answered() >= 5);
    let (_, text) = get(&every.addr, "/metrics");
    assert_promtool_clean(&text);
    let values = samples(&text);
    assert_eq!(target.max_in_flight(), 1, "two runs were in flight at once");
    let runs = values["every_runs_total{result=\"success\"}"];
    assert!(runs >= 4.0, "{text}");
    // Each 150 ms run spans two more 50 ms ticks.
    assert!(
        values["every_skipped_total"] >= 2.0 * (runs - 1.0),
        "{text}"
    );
    assert_eq!(
        values["every_run_duration_seconds_count"],
        runs + values["every_runs_total{result=\"failure\"}"]
    );
    assert!(values.contains_key("every_last_success_timestamp_seconds"));
    assert!(values.contains_key("process_resident_memory_bytes"));
    // A 150 ms run ends just past the third tick after its own: three skipped.
    let line = every.wait_log("msg=\"skipped ticks\" skipped=3");
    assert!(line.contains("previous run still in flight"), "{line}");
}

/// Stopped (SIGSTOP) for several intervals with nothing in flight: the
/// ticks it slept through are skipped once, and said to be for that reason.
#[test]
fn ticks_missed_while_suspended_are_skipped_and_said_so() {
    let target = Target::start(|_| Reply::ok("ok"));
    let mut every = Daemon::start(
        "every",
        &["300ms", "--listen", "127.0.0.1:0", &target.url("/")],
    );
    // Stopped just after a run is done, with 300 ms before the next: not
    // mid-run (a run suspended in flight is rightly said "still in flight").
    every.wait_log("msg=run run=2 ");
    every.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(1950)); // the suspension under test
    let before = target.answered();
    every.signal(libc::SIGCONT);
    // On a busy machine a run may also overrun its slot: that skip says
    // "still in flight"; the one under test is the suspension's.
    let line = every.wait_log("did not get to run");
    let skipped: u64 = sidecars_tests::field(&line, "skipped")
        .unwrap()
        .parse()
        .unwrap();
    assert!((5..=8).contains(&skipped), "{line}");
    // One run for the missed slots, not a burst of them.
    wait_until("the next run", Duration::from_secs(5), || {
        target.answered() >= before + 2
    });
    assert!(target.max_in_flight() == 1);
}

#[test]
fn program_runs_judge_exit_codes_and_pass_stdout_through() {
    let ok = run(
        "every",
        &[
            "100ms",
            "--count",
            "2",
            "--passthrough-logs",
            "--",
            "echo",
            "hello from the program",
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(
        ok.stdout,
        "hello from the program\nhello from the program\n"
    );
    assert!(
        ok.stderr.contains("result=success exit_code=0"),
        "{}",
        ok.stderr
    );
    let failing = run(
        "every",
        &["100ms", "--count", "1", "--", "sh", "-c", "exit 3"],
    );
    assert_eq!(failing.code, 1);
    assert!(
        failing.stderr.contains("result=failure exit_code=3"),
        "{}",
        failing.stderr
    );
    let missing = run(
        "every",
        &["100ms", "--count", "1", "--", "/no/such/program"],
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("cannot start /no/such/program"),
        "{}",
        missing.stderr
    );
}

/// The PID the program wrote, once it has.
fn pid_in(path: &std::path::Path) -> i32 {
    let mut pid = 0;
    wait_until("the program's pid file", Duration::from_secs(5), || {
        pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        pid > 0
    });
    pid
}

fn is_gone(pid: i32) -> bool {
    // Reaped: no /proc entry at all (a zombie still has one, in state Z).
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_program_that_outlives_the_timeout_is_killed_and_reaped() {
    let dir = tempdir("timeout");
    let pidfile = dir.join("pid");
    let script = format!("echo $$ > {}; exec sleep 30", pidfile.display());
    let mut every = Daemon::start(
        "every",
        &["10s", "--timeout", "200ms", "--", "sh", "-c", &script],
    );
    let pid = pid_in(&pidfile);
    let line = every.wait_log("msg=run run=1");
    assert!(
        line.contains("error=\"timed out after 200ms, ended by SIGTERM\""),
        "{line}"
    );
    wait_until(
        "the killed program to be reaped",
        Duration::from_secs(2),
        || is_gone(pid),
    );
}

#[test]
fn a_program_that_ignores_sigterm_is_sigkilled_a_second_later() {
    let dir = tempdir("ignores");
    let pidfile = dir.join("pid");
    let script = format!(
        "trap '' TERM; echo $$ > {}; while :; do sleep 0.05; done",
        pidfile.display()
    );
    let mut every = Daemon::start(
        "every",
        &["10s", "--timeout", "200ms", "--", "sh", "-c", &script],
    );
    let pid = pid_in(&pidfile);
    // The run began a moment before its PID file was written.
    let started = Instant::now();
    let line = every.wait_log("msg=run run=1");
    let took = started.elapsed();
    assert!(line.contains("ended by SIGKILL"), "{line}");
    assert!(
        took >= Duration::from_millis(1100) && took < Duration::from_millis(2000),
        "{took:?}"
    );
    wait_until(
        "the killed program to be reaped",
        Duration::from_secs(2),
        || is_gone(pid),
    );
}

#[test]
fn count_stops_after_n_runs() {
    let target = Target::start(|_| Reply::ok("ok"));
    let ran = run("every", &["20ms", "--count", "5", &target.url("/")]);
    assert_eq!(ran.code, 0);
    assert_eq!(target.hit_count(), 5);
    let failing = Target::start(|_| Reply::status(500, "no"));
    let ran = run("every", &["20ms", "--count", "2", &failing.url("/")]);
    assert_eq!(ran.code, 1, "the last run's status");
    assert!(
        ran.stderr.contains("result=failure status=500"),
        "{}",
        ran.stderr
    );
}

/// Failures folded in the log are said at exit, whichever way it comes:
/// the log's `repeated=` and its first line add up to every failure.
#[test]
fn failures_folded_in_the_log_are_said_at_exit() {
    let said = |stderr: &str| -> u64 {
        stderr
            .lines()
            .filter(|l| l.contains("msg=run") && l.contains("result=failure"))
            .map(|l| {
                1 + sidecars_tests::field(l, "repeated").map_or(0, |n| n.parse::<u64>().unwrap())
            })
            .sum()
    };
    let ran = run("every", &["20ms", "--count", "4", "--", "/bin/false"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(said(&ran.stderr), 4, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("run=4 ") && ran.stderr.contains(" repeated=2"),
        "{}",
        ran.stderr
    );
    let ran = run(
        "every",
        &["20ms", "--max-failures", "3", "--", "/bin/false"],
    );
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(said(&ran.stderr), 3, "{}", ran.stderr);
    // By SIGTERM: as many as the metrics counted.
    let mut every = Daemon::listening("every", &["20ms", "--", "/bin/false"]);
    let addr = every.addr.clone();
    wait_until("five failures", Duration::from_secs(10), || {
        samples(&get(&addr, "/metrics").1)
            .get("every_runs_total{result=\"failure\"}")
            .is_some_and(|n| *n >= 5.0)
    });
    every.signal(libc::SIGTERM);
    assert_eq!(every.wait_exit(Duration::from_secs(5)).0, 0);
    let log = every.log().join("\n");
    let stopped = log
        .lines()
        .position(|l| l.contains("msg=stopping"))
        .expect("stopping");
    let before: String = log.lines().take(stopped).collect::<Vec<_>>().join("\n");
    assert!(said(&before) >= 5, "{log}");
}

#[test]
fn max_failures_counts_failures_in_a_row_and_a_success_resets_it() {
    // Runs 1, 2 fail, 3 succeeds, 4, 5, 6 fail: exit 1 after the sixth.
    let n = Arc::new(AtomicUsize::new(0));
    let counter = n.clone();
    let target = Target::start(move |_| {
        let k = counter.fetch_add(1, Ordering::SeqCst) + 1;
        if k == 3 {
            Reply::ok("ok")
        } else {
            Reply::status(503, "no")
        }
    });
    let ran = run("every", &["20ms", "--max-failures", "3", &target.url("/")]);
    assert_eq!(ran.code, 1);
    assert_eq!(target.hit_count(), 6);
    assert!(
        ran.stderr
            .contains("msg=\"too many failures in a row\" failures=3"),
        "{}",
        ran.stderr
    );
}

#[test]
#[ignore = "timing to 10 ms: run alone, after the rest (scripts/test does)"]
fn jitter_delays_each_tick_within_its_bound() {
    let target = Target::start(|_| Reply::ok("ok"));
    let interval = Duration::from_millis(60);
    let ran = run(
        "every",
        &[
            "60ms",
            "--jitter",
            "40ms",
            "--count",
            "25",
            &target.url("/"),
        ],
    );
    assert_eq!(ran.code, 0);
    // hit_k - k*interval = start + jitter_k (+ a little latency): spread
    // over the jitter's 40 ms, save a run a stall delayed (STALLS_ALLOWED).
    let mut offsets = offsets_ms(&target.hits(), interval);
    offsets.sort_by(|a, b| a.total_cmp(b));
    let bound = 40.0 + TOLERANCE.as_secs_f64() * 1e3;
    let beyond = offsets.iter().filter(|offset| **offset >= bound).count();
    assert!(
        beyond <= STALLS_ALLOWED,
        "{beyond} runs beyond the 40 ms jitter: {offsets:.1?}"
    );
    let spread = offsets[offsets.len() - 1 - beyond];
    assert!(
        spread > 15.0,
        "jitter spread only {spread:.1} ms: not random"
    );
}

#[test]
fn delay_first_waits_one_interval_before_the_first_run() {
    let target = Target::start(|_| Reply::ok("ok"));
    let started = Instant::now();
    let ran = run("every", &["300ms", "--count", "1", &target.url("/")]);
    assert_eq!(ran.code, 0);
    assert!(
        target.hits()[0].at - started < Duration::from_millis(150),
        "runs at once by default"
    );
    let target = Target::start(|_| Reply::ok("ok"));
    let started = Instant::now();
    let ran = run(
        "every",
        &["300ms", "--delay-first", "--count", "1", &target.url("/")],
    );
    assert_eq!(ran.code, 0);
    assert!(target.hits()[0].at - started >= Duration::from_millis(300));
}

#[test]
fn only_the_status_counts_even_with_a_body_over_the_cap() {
    let target = Target::start(|_| Reply::Huge(3 << 20));
    let ran = run("every", &["1s", "--count", "1", &target.url("/")]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("result=success status=200"),
        "{}",
        ran.stderr
    );
}

#[test]
fn method_headers_and_data_are_sent() {
    let target = Target::start(|_| Reply::ok("ok"));
    let ran = run(
        "every",
        &[
            "1s",
            "--count",
            "1",
            "--method",
            "put",
            "--header",
            "X-Job: flush",
            "--data",
            "{\"all\":true}",
            &target.url("/jobs"),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let hit = &target.hits()[0];
    assert_eq!((hit.method.as_str(), hit.path.as_str()), ("PUT", "/jobs"));
    assert!(hit.head.to_lowercase().contains("x-job: flush"));
    assert_eq!(hit.body, b"{\"all\":true}");
}

#[test]
fn sigterm_while_idle_exits_0_at_once() {
    let target = Target::start(|_| Reply::ok("ok"));
    let mut every = Daemon::start("every", &["10s", &target.url("/")]);
    every.wait_log("msg=run run=1");
    every.signal(libc::SIGTERM);
    let (code, took) = every.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert!(took < Duration::from_millis(100), "took {took:?}");
}

#[test]
fn sigterm_during_a_slow_run_lets_the_request_complete_then_exits_0() {
    let target = Target::start(|_| Reply::delayed(Duration::from_millis(500), "ok"));
    let mut every = Daemon::start("every", &["10s", &target.url("/")]);
    wait_until("the request to arrive", Duration::from_secs(5), || {
        target.hit_count() == 1
    });
    every.signal(libc::SIGTERM);
    let (code, _) = every.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert_eq!(target.answered(), 1, "the run in flight was cut short");
    assert_eq!(target.hit_count(), 1, "a new run started after SIGTERM");
    let line = every.wait_log("msg=run run=1 result=success status=200");
    assert!(
        line.contains(" start=20") && line.contains(" duration="),
        "{line}"
    );
}

/// As PID 1, orphans re-parented to `every` are reaped, not left as zombies.
#[test]
fn as_pid_1_orphans_are_reaped() {
    let dir = tempdir("orphans");
    let orphan_pids = dir.join("orphans");
    // The program leaves a background child behind and exits: the child is
    // re-parented to PID 1, which is every.
    let script = format!("sleep 0.1 & echo $! >> {}; exit 0", orphan_pids.display());
    let args = ["200ms", "--", "sh", "-c", &script];
    let Some((mut unshare, every_pid)) = sidecars_tests::start_as_pid_1("every", &args, false)
    else {
        return sidecars_tests::skip(
            "as_pid_1_orphans_are_reaped",
            "needs root and unshare for a PID namespace",
        );
    };
    unshare.wait_log("msg=run run=3");
    let orphans = std::fs::read_to_string(&orphan_pids)
        .unwrap()
        .lines()
        .count();
    assert!(orphans >= 3, "{orphans} orphans left behind");
    let zombie_children = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("status")).ok())
            .filter(|s| {
                s.lines().any(|l| l == format!("PPid:\t{every_pid}")) && s.contains("State:\tZ")
            })
            .count()
    };
    // Orphans die every 200 ms; whenever one is a zombie, it is reaped
    // within 50 ms. Checked over three more runs.
    let until = Instant::now() + Duration::from_millis(600);
    while Instant::now() < until {
        wait_until(
            "a zombie orphan to be reaped",
            Duration::from_millis(50),
            || zombie_children() == 0,
        );
    }
    unshare.signal(libc::SIGTERM);
}

#[test]
fn bad_usage_exits_2_with_a_clear_line() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "INTERVAL missing"),
        (
            &["0", "http://127.0.0.1:1/"],
            "INTERVAL: must be greater than zero",
        ),
        (
            &["soon", "http://127.0.0.1:1/"],
            "INTERVAL: 'soon' is not a duration",
        ),
        (&["1s"], "nothing to run"),
        (
            &["1s", "ftp://x/"],
            "URL: 'ftp://x/' is not an http:// or https:// URL",
        ),
        (&["1s", "--bogus", "http://x/"], "'--bogus'"),
        (
            &["1s", "--count", "0", "http://x/"],
            "--count: must be at least 1",
        ),
        (
            &["1s", "--count", "many", "http://x/"],
            "--count: 'many' is not a valid number",
        ),
        (
            &["1s", "--jitter", "2s", "http://x/"],
            "--jitter: must be shorter than INTERVAL",
        ),
        (&["1s", "--"], "--: no PROGRAM after --"),
        (&["1s", "http://x/", "--", "true"], "not both"),
        (&["1s", "--data", "x", "--", "true"], "apply to a URL"),
        (&["1s", "--listen", "nowhere", "http://x/"], "--listen:"),
        (
            &["--cron", "* * * * 8", "http://x/"],
            "--cron: day-of-week: 8 is out of range 0-7",
        ),
        (
            &["--cron", "0 0 30 2 *", "http://x/"],
            "--cron: day-of-month 30 never occurs in month 2",
        ),
        (
            &["--cron", "@daily", "--tz", "Atlantis/Capital", "http://x/"],
            "--tz: cannot read /usr/share/zoneinfo/Atlantis/Capital",
        ),
        (
            &["--cron", "@daily", "--delay-first", "http://x/"],
            "--delay-first: has no meaning with --cron",
        ),
    ];
    sidecars_tests::assert_usage_errors("every", cases);
    sidecars_tests::assert_help_and_version("every");
}

/// A `--tz` that names no zone file (a FIFO, /dev/zero, a directory, a
/// file too large to be one) is one line and exit 2 at once: no hang on the
/// FIFO, no memory without end from /dev/zero.
#[test]
fn a_tz_file_of_the_wrong_kind_is_refused_at_once() {
    let dir = tempdir("tz-files");
    let fifo = dir.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let big = dir.join("big");
    std::fs::write(&big, vec![b'T'; 1 << 20]).unwrap();
    let (fifo, big, dir_text) = (
        fifo.to_str().unwrap().to_string(),
        big.to_str().unwrap().to_string(),
        dir.to_str().unwrap().to_string(),
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["--cron", "@daily", "--tz", &fifo, "http://x/"],
            "is a FIFO (named pipe), not a regular file",
        ),
        (
            &["--cron", "@daily", "--tz", "/dev/zero", "http://x/"],
            "is a device, not a regular file",
        ),
        (
            &["--cron", "@daily", "--tz", &dir_text, "http://x/"],
            "is a directory, not a regular file",
        ),
        (
            &["--cron", "@daily", "--tz", &big, "http://x/"],
            "is 1048576 bytes, more than the 65536",
        ),
    ];
    for (args, _) in cases {
        let ran = run("every", args);
        assert!(
            ran.elapsed < Duration::from_secs(2),
            "{args:?} took {:?}",
            ran.elapsed
        );
        assert!(
            ran.max_rss_kib < 16 * 1024,
            "{args:?}: peak RSS {} KiB",
            ran.max_rss_kib
        );
    }
    sidecars_tests::assert_usage_errors("every", cases);
}

/// Ten failed runs in a row: the first is said, the nine like it folded
/// (the metrics count them), and the recovery is said once with the count.
#[test]
fn a_run_of_like_failures_is_logged_once_and_the_recovery_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let target = Target::start(move |_| match seen.fetch_add(1, Ordering::SeqCst) {
        0..10 => Reply::status(500, "no"),
        _ => Reply::ok("ok"),
    });
    let mut every = Daemon::start(
        "every",
        &["20ms", "--listen", "127.0.0.1:0", &target.url("/")],
    );
    let line = every.wait_log("msg=recovered");
    assert!(line.contains("failures=10"), "{line}");
    let failed = every
        .log()
        .iter()
        .filter(|l| l.contains("result=failure"))
        .count();
    assert_eq!(failed, 1, "{:?}", every.log());
    let (_, text) = get(&every.addr, "/metrics");
    assert_eq!(samples(&text)["every_runs_total{result=\"failure\"}"], 10.0);
}

/// Seconds since the epoch, as f64, of an Instant, by a reference pair.
fn wall_time(at: Instant, reference: (Instant, SystemTime)) -> f64 {
    let since_epoch = reference
        .1
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    since_epoch + (at - reference.0).as_secs_f64()
}

/// A seconds-field cron schedule: each request reaches the target within
/// its even second of the wall clock, never before it, two seconds apart;
/// the log names the scheduled time of each run. The bound here is one a
/// busy machine meets (a run 53 ms late was seen beside two test suites
/// and two busy loops); the tight one runs alone, below.
#[test]
fn a_seconds_cron_schedule_lands_on_the_wall_clock() {
    seconds_cron_lands_within(0.9);
}

#[test]
#[ignore = "timing to 50 ms: run alone, after the rest (scripts/test does)"]
fn a_seconds_cron_schedule_lands_within_50ms_of_its_second() {
    seconds_cron_lands_within(0.05);
}

/// Four runs of `*/2 * * * * *`, each at most `late` seconds after its even
/// second, and `late` apart from two seconds.
fn seconds_cron_lands_within(late: f64) {
    let target = Target::start(|_| Reply::ok("ok"));
    let reference = (Instant::now(), SystemTime::now());
    let mut every = Daemon::start(
        "every",
        &["--cron", "*/2 * * * * *", "--count", "4", &target.url("/")],
    );
    let (code, _) = every.wait_exit(Duration::from_secs(15));
    assert_eq!(code, 0, "{:?}", every.log());
    let hits = target.hits();
    assert_eq!(hits.len(), 4);
    let times: Vec<f64> = hits.iter().map(|h| wall_time(h.at, reference)).collect();
    for (k, t) in times.iter().enumerate() {
        let past_the_second = t - (t / 2.0).floor() * 2.0;
        assert!(
            past_the_second < late,
            "run {k} reached the target {past_the_second:.4}s after its even second"
        );
        if k > 0 {
            assert!((t - times[k - 1] - 2.0).abs() < late, "{times:?}");
        }
    }
    let scheduled: Vec<String> = every
        .log()
        .iter()
        .filter(|l| l.contains("msg=run "))
        .map(|l| sidecars_tests::field(l, "scheduled").unwrap().to_string())
        .collect();
    assert_eq!(scheduled.len(), 4);
    for s in &scheduled {
        let second: u32 = s[17..19].parse().unwrap();
        assert_eq!(second % 2, 0, "{s}");
    }
}

/// A run longer than the cron period: the times it spans are skipped and
/// counted, never run at once after it.
#[test]
fn a_cron_run_never_overlaps_the_next_time() {
    let target = Target::start(|_| Reply::delayed(Duration::from_millis(1500), "ok"));
    let mut every = Daemon::start(
        "every",
        &[
            "--cron",
            "* * * * * *",
            "--timeout",
            "5s",
            "--listen",
            "127.0.0.1:0",
            &target.url("/"),
        ],
    );
    wait_until("3 runs", Duration::from_secs(15), || target.answered() >= 3);
    assert_eq!(target.max_in_flight(), 1);
    let line = every.wait_log("msg=\"skipped ticks\"");
    assert!(line.contains("previous run still in flight"), "{line}");
    let values = samples(&get(&every.addr, "/metrics").1);
    assert!(values["every_skipped_total"] >= 2.0, "{values:?}");
    let next = values["every_next_run_timestamp_seconds"];
    assert_eq!(next.fract(), 0.0, "a cron time is a whole second: {next}");
    let scheduled = values["every_last_run_scheduled_timestamp_seconds"];
    assert!(next > scheduled, "{values:?}");
}

/// Waiting for a time months away, with the zone of Berlin: the next run is
/// a Berlin midnight; SIGTERM ends the wait at once with status 0.
#[test]
fn sigterm_while_waiting_for_a_cron_time_exits_0_at_once() {
    if !std::path::Path::new("/usr/share/zoneinfo/Europe/Berlin").exists() {
        return sidecars_tests::skip(
            "sigterm_while_waiting_for_a_cron_time_exits_0_at_once",
            "no /usr/share/zoneinfo (Debian package tzdata)",
        );
    }
    let mut every = Daemon::start(
        "every",
        &[
            "--cron",
            "0 0 1 JAN *",
            "--tz",
            "Europe/Berlin",
            "--listen",
            "127.0.0.1:0",
            "http://127.0.0.1:1/",
        ],
    );
    let line = every.wait_log("msg=scheduled");
    assert!(
        line.contains("T23:00:00Z"),
        "Berlin's midnight on January 1st is 23:00 UTC: {line}"
    );
    let next = samples(&get(&every.addr, "/metrics").1)["every_next_run_timestamp_seconds"];
    assert_eq!(next as i64 % 86_400, 23 * 3600);
    every.signal(libc::SIGTERM);
    let (code, took) = every.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert!(took < Duration::from_millis(100), "took {took:?}");
}

/// A job endpoint that answers 200 with {"ok": false} failed: --cel
/// judges the answer beside the 2xx rule, and the log line says why.
#[test]
fn a_200_answer_that_cel_finds_false_is_a_failed_run() {
    let check = "body.ok && body.moved >= 0.0";
    let once = |job: &str| run("every", &["100ms", "--count", "1", "--cel", check, job]);
    let failing = Target::start(|_| Reply::ok(r#"{"ok": false, "moved": 0}"#));
    let ran = once(&failing.url("/job"));
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let said = format!("--cel '{check}' is false: body.ok is false");
    assert!(ran.stderr.contains(&said), "{}", ran.stderr);
    let passing = Target::start(|_| Reply::ok(r#"{"ok": true, "moved": 3}"#));
    let ran = once(&passing.url("/job"));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let ran = run(
        "every",
        &[
            "100ms",
            "--count",
            "1",
            "--cel",
            "body.ok",
            "--",
            "/bin/true",
        ],
    );
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("--cel apply to a URL, not a program"),
        "{}",
        ran.stderr
    );
}

/// The `output` lines of every's stderr: (stream, line, split), each
/// line parsed in its format.
fn output_lines(stderr: &str, json: bool) -> Vec<(String, String, bool)> {
    stderr
        .lines()
        .map(|line| sidecars_tests::logs::parse_line(line, json).unwrap())
        .filter(|fields| fields["msg"] == "output")
        .map(|f| {
            (
                f["stream"].clone(),
                f["line"].clone(),
                f.contains_key("split"),
            )
        })
        .collect()
}

/// Each line a program writes is a log line of every's, in either format,
/// that `jq -e .` reads: a last line without its newline, bytes that are not
/// UTF-8 (U+FFFD), a NUL, and a 40,000-byte line split in 16 KiB parts.
#[test]
fn a_programs_output_is_log_lines_in_both_formats() {
    let script = "printf 'one\\r\\n'; head -c 40000 /dev/zero | tr '\\0' x; \
                  printf '\\nlast'; printf '\\377junk\\000\\n' >&2";
    for json in [false, true] {
        let mut args = vec!["100ms", "--count", "1"];
        if json {
            args.extend(["--log-format", "json"]);
        }
        args.extend(["--", "sh", "-c", script]);
        let ran = run("every", &args);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert_eq!(ran.stdout, "", "the program's output is not passed through");
        let lines = output_lines(&ran.stderr, json);
        let stdout: Vec<_> = lines.iter().filter(|(s, _, _)| s == "stdout").collect();
        let x = |n: usize| "x".repeat(n);
        let want = [
            ("one".to_string(), false),
            (x(16384), true),
            (x(16384), true),
            (x(40000 - 2 * 16384), false),
            ("last".to_string(), false),
        ];
        let got: Vec<(String, bool)> = stdout.iter().map(|(_, l, s)| (l.clone(), *s)).collect();
        assert_eq!(got, want, "json={json}");
        let stderr: Vec<_> = lines.iter().filter(|(s, _, _)| s == "stderr").collect();
        assert_eq!(stderr.len(), 1, "{lines:?}");
        assert_eq!(stderr[0].1, "\u{fffd}junk\u{0}");
        if json {
            let mut jq = std::process::Command::new("jq");
            jq.args(["-e", "."])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null());
            let Ok(mut jq) = jq.spawn() else {
                sidecars_tests::skip("a_programs_output_is_log_lines (jq)", "jq is not installed");
                continue;
            };
            use std::io::Write;
            jq.stdin
                .take()
                .unwrap()
                .write_all(ran.stderr.as_bytes())
                .unwrap();
            assert!(
                jq.wait().unwrap().success(),
                "jq -e . refused a line:\n{}",
                ran.stderr
            );
        }
    }
}

/// 10 MB written as fast as the program can: every line arrives, in order.
#[test]
fn ten_megabytes_of_output_lose_no_line() {
    let line = "7".repeat(999);
    let script = format!("yes {line} | head -n 10000");
    let ran = run(
        "every",
        &[
            "1s",
            "--count",
            "1",
            "--timeout",
            "20s",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(ran.code, 0, "{}", &ran.stderr[..ran.stderr.len().min(2000)]);
    let lines = output_lines(&ran.stderr, false);
    assert_eq!(lines.len(), 10_000);
    assert!(lines
        .iter()
        .all(|(stream, l, split)| stream == "stdout" && *l == line && !split));
}

/// A process the program leaves behind keeps the pipe open: the runs go on
/// on schedule, and its later output is still read.
#[test]
fn a_grandchild_holding_the_pipe_does_not_hold_up_the_next_run() {
    let ran = run(
        "every",
        &[
            "300ms",
            "--count",
            "3",
            "--",
            "sh",
            "-c",
            "(sleep 0.5; echo late; sleep 6) & echo started",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    // Each grandchild holds the pipe 6.5 s: waiting for it would take 19 s.
    assert!(
        ran.elapsed < Duration::from_secs(8),
        "took {:?}",
        ran.elapsed
    );
    assert!(!ran.stderr.contains("skipped ticks"), "{}", ran.stderr);
    let lines = output_lines(&ran.stderr, false);
    let said = |text: &str| lines.iter().filter(|(_, l, _)| l == text).count();
    assert_eq!(said("started"), 3, "{}", ran.stderr);
    // The last run's grandchild writes after every's last run: read at exit.
    assert_eq!(said("late"), 3, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("msg=\"output still open after the run\""),
        "{}",
        ran.stderr
    );
}

/// SIGTERM mid-run: the run ends, and every line it wrote is logged before
/// every exits.
#[test]
fn sigterm_mid_run_loses_no_output_line() {
    let mut every = Daemon::start(
        "every",
        &[
            "10s",
            "--",
            "sh",
            "-c",
            "seq 1 5000; sleep 1; seq 5001 6000",
        ],
    );
    every.wait_log("line=5000");
    every.signal(libc::SIGTERM);
    let (code, _) = every.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0);
    let numbers: Vec<String> = every
        .log()
        .iter()
        .filter_map(|l| sidecars_tests::logs::parse_line(l, false).ok())
        .filter(|f| f["msg"] == "output")
        .map(|f| f["line"].clone())
        .collect();
    let want: Vec<String> = (1..=6000).map(|n| n.to_string()).collect();
    assert_eq!(numbers, want);
}
