//! ready-check, as the kubelet uses it: an exec probe (exit code and one line
//! per check) and an httpGet target (`--serve`).

use sidecars_tests::target::{Reply, Target};
use sidecars_tests::{get, hostile, run, tempdir, wait_until, Daemon};
use std::time::{Duration, Instant};

fn known_value(value: i64) -> Target {
    Target::start(move |_| {
        Reply::ok(&format!(
            "{{\"value\": {value}, \"queue\": {{\"depth\": 12}}, \"status\": \"ok\"}}"
        ))
    })
}

#[test]
fn a_passing_check_prints_ok_and_exits_0() {
    let target = known_value(5);
    let url = target.url("/known-value");
    let ran = run("ready-check", &["--http", &url, "--json", "/value == 5"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, format!("ok {url}\n"));
    assert_eq!(ran.stderr, "");
}

#[test]
fn quiet_prints_nothing_on_success_but_still_prints_failures() {
    let target = known_value(5);
    let url = target.url("/");
    let ran = run("ready-check", &["--quiet", "--http", &url]);
    assert_eq!((ran.code, ran.stdout.as_str()), (0, ""));
    let ran = run(
        "ready-check",
        &["-q", "--http", &url, "--json", "/value == 4"],
    );
    assert_eq!(ran.code, 1);
    assert_eq!(ran.stdout, format!("FAIL {url}: /value is 5, want == 4\n"));
}

#[test]
fn every_json_operator_compares_numbers_as_numbers() {
    let target = Target::start(|_| {
        Reply::ok(r#"{"value": 5.0, "queue": {"depth": 12}, "status": "ok", "up": true}"#)
    });
    let url = target.url("/");
    let passing = [
        "/value == 5",
        "/value != 4",
        "/queue/depth < 100",
        "/queue/depth <= 12",
        "/queue/depth > 11",
        "/queue/depth >= 12",
        "/status == \"ok\"",
        "/up == true",
    ];
    for condition in passing {
        let ran = run("ready-check", &["--http", &url, "--json", condition]);
        assert_eq!(ran.code, 0, "{condition}: {}", ran.stdout);
    }
    let failing = [
        ("/value != 5", "/value is 5.0, want != 5"),
        ("/queue/depth < 12", "/queue/depth is 12, want < 12"),
        ("/queue/depth <= 11", "/queue/depth is 12, want <= 11"),
        ("/queue/depth > 12", "/queue/depth is 12, want > 12"),
        ("/queue/depth >= 13", "/queue/depth is 12, want >= 13"),
        (
            "/status == \"degraded\"",
            "/status is \"ok\", want == \"degraded\"",
        ),
    ];
    for (condition, message) in failing {
        let ran = run("ready-check", &["--http", &url, "--json", condition]);
        assert_eq!(ran.code, 1, "{condition}");
        assert_eq!(ran.stdout, format!("FAIL {url}: {message}\n"));
    }
}

/// One message per failure cause: the kubelet shows it in the Pod's events.
#[test]
fn every_failure_cause_has_its_own_message() {
    let json = known_value(4);
    let text = Target::start(|_| Reply::ok("hello"));
    let unavailable = Target::start(|_| Reply::status(503, "down"));
    let big_head = Target::start(|_| {
        let padding = "a".repeat(20 * 1024);
        Reply::Raw(
            format!("HTTP/1.1 200 OK\r\nX-Padding: {padding}\r\nContent-Length: 2\r\n\r\nok")
                .into_bytes(),
        )
    });
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let dir = tempdir("causes");
    let stale = dir.join("stale");
    sidecars_tests::write_aged(&stale, "x", Duration::from_secs(120));
    let missing = dir.join("missing");

    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--http".into(), format!("http://{refused}/")],
            format!("FAIL http://{refused}/: connection refused"),
        ),
        (
            vec!["--tcp".into(), refused.clone()],
            format!("FAIL tcp {refused}: connection refused"),
        ),
        (
            vec!["--http".into(), unavailable.url("/")],
            format!("FAIL {}: status 503, want 200-399", unavailable.url("/")),
        ),
        (
            vec!["--http".into(), big_head.url("/")],
            format!(
                "FAIL {}: response head larger than 16 KiB",
                big_head.url("/")
            ),
        ),
        (
            vec![
                "--http".into(),
                json.url("/"),
                "--status".into(),
                "201,204".into(),
            ],
            format!("FAIL {}: status 200, want 201 or 204", json.url("/")),
        ),
        (
            vec![
                "--http".into(),
                text.url("/"),
                "--json".into(),
                "/value == 5".into(),
            ],
            format!(
                "FAIL {}: body is not JSON (expected value at line 1 column 1)",
                text.url("/")
            ),
        ),
        (
            vec![
                "--http".into(),
                json.url("/"),
                "--json".into(),
                "/nothing == 5".into(),
            ],
            format!("FAIL {}: /nothing missing", json.url("/")),
        ),
        (
            vec![
                "--http".into(),
                json.url("/"),
                "--json".into(),
                "/value == 5".into(),
            ],
            format!("FAIL {}: /value is 4, want == 5", json.url("/")),
        ),
        (
            vec![
                "--http".into(),
                text.url("/"),
                "--contains".into(),
                "ready".into(),
            ],
            format!("FAIL {}: body does not contain \"ready\"", text.url("/")),
        ),
        (
            vec!["--file".into(), missing.display().to_string()],
            format!("FAIL file {}: no such file", missing.display()),
        ),
        (
            vec![
                "--file".into(),
                stale.display().to_string(),
                "--max-age".into(),
                "1m".into(),
            ],
            format!("FAIL file {}: stale: modified 2m", stale.display()),
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = run("ready-check", &args);
        assert_eq!(ran.code, 1, "{args:?}");
        assert!(
            ran.stdout.starts_with(&want),
            "{args:?}: got {:?}, want {want:?}",
            ran.stdout
        );
        assert!(!ran.stdout.contains("panicked") && !ran.stderr.contains("panicked"));
    }
}

#[test]
fn a_fresh_heartbeat_file_passes() {
    let dir = tempdir("heartbeat");
    let beat = dir.join("beat");
    std::fs::write(&beat, "").unwrap();
    let ran = run(
        "ready-check",
        &["--file", beat.to_str().unwrap(), "--max-age", "30s"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    assert_eq!(ran.stdout, format!("ok file {}\n", beat.display()));
}

#[test]
fn several_checks_print_a_line_each_and_all_must_pass() {
    let good = known_value(5);
    let bad = known_value(4);
    let ran = run(
        "ready-check",
        &[
            "--http",
            &good.url("/"),
            "--json",
            "/value == 5",
            "--http",
            &bad.url("/"),
            "--json",
            "/value == 5",
            "--tcp",
            &good.addr,
        ],
    );
    assert_eq!(ran.code, 1);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], format!("ok {}", good.url("/")));
    assert!(lines[1].starts_with(&format!("FAIL {}", bad.url("/"))));
    assert_eq!(lines[2], format!("ok tcp {}", good.addr));
}

#[test]
fn headers_are_sent_and_redirects_are_not_followed() {
    let target = Target::start(|hit| {
        if hit.path == "/moved" {
            sidecars_tests::target::Reply::status(302, "")
        } else {
            Reply::ok("{}")
        }
    });
    let ran = run(
        "ready-check",
        &[
            "--http",
            &target.url("/h"),
            "--header",
            "X-Probe: yes please",
        ],
    );
    assert_eq!(ran.code, 0);
    assert!(
        target.hits()[0]
            .head
            .to_lowercase()
            .contains("x-probe: yes please"),
        "{}",
        target.hits()[0].head
    );
    // A 3xx passes as it is (as the kubelet treats a redirect off-host), unfollowed.
    let ran = run("ready-check", &["--http", &target.url("/moved")]);
    assert_eq!(ran.code, 0);
    assert_eq!(target.hit_count(), 2);
}

#[test]
fn a_target_that_never_answers_fails_within_the_timeout() {
    let target = Target::start(|_| Reply::Hang);
    let ran = run(
        "ready-check",
        &["--timeout", "300ms", "--http", &target.url("/")],
    );
    assert_eq!(ran.code, 1);
    assert_eq!(
        ran.stdout,
        format!("FAIL {}: timed out after 300ms\n", target.url("/"))
    );
    assert!(
        ran.elapsed < Duration::from_millis(400),
        "took {:?}",
        ran.elapsed
    );
}

#[test]
fn checks_run_in_parallel_within_one_timeout() {
    let target = Target::start(|_| Reply::Hang);
    let url = target.url("/");
    let ran = run(
        "ready-check",
        &[
            "--timeout",
            "300ms",
            "--http",
            &url,
            "--http",
            &url,
            "--http",
            &url,
        ],
    );
    assert_eq!(ran.code, 1);
    assert_eq!(ran.stdout.lines().count(), 3);
    assert!(
        ran.elapsed < Duration::from_millis(400),
        "took {:?}",
        ran.elapsed
    );
}

#[test]
fn a_body_past_max_body_fails_every_http_check_and_is_never_read_whole() {
    let target = Target::start(|hit| match hit.path.as_str() {
        "/2mb" => Reply::Huge(2 << 20),
        _ => Reply::Huge(50 << 20),
    });
    // One rule, with or without a body condition: read up to the cap, then
    // fail saying so.
    for (path, conditions) in [
        ("/", &[][..]),
        ("/", &["--contains", "ready"][..]),
        ("/2mb", &[][..]),
    ] {
        let url = target.url(path);
        let mut args = vec!["--http", url.as_str()];
        args.extend_from_slice(conditions);
        let ran = run("ready-check", &args);
        assert_eq!(ran.code, 1, "{args:?}: {}", ran.stdout);
        assert_eq!(
            ran.stdout,
            format!("FAIL {url}: body larger than 1048576 bytes (raise --max-body)\n")
        );
        assert!(
            ran.max_rss_kib < 12 * 1024,
            "{args:?}: peak RSS {} KiB",
            ran.max_rss_kib
        );
    }
    // Within a raised cap, it passes.
    let url = target.url("/2mb");
    let ran = run("ready-check", &["--http", &url, "--max-body", "4Mi"]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
}

#[test]
fn bad_usage_exits_2_with_one_line_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "no check given"),
        (&["--bogus"], "'--bogus'"),
        (
            &["--timout", "1s"],
            "invalid option '--timout': did you mean '--timeout'?",
        ),
        (&["--htp", "http://x/"], "did you mean '--http'?"),
        (
            &["--timeout", "5x", "--tcp", "127.0.0.1:1"],
            "--timeout: '5x' is not a duration",
        ),
        (
            &["--timeout", "0", "--tcp", "127.0.0.1:1"],
            "--timeout: must be greater than zero",
        ),
        (&["--timeout"], "--timeout"),
        (&["--status", "200"], "--status: must follow --http URL"),
        (
            &["--max-age", "1s", "--tcp", "127.0.0.1:1"],
            "--max-age: must follow --file PATH",
        ),
        (
            &["--http", "ftp://x/"],
            "--http: 'ftp://x/' is not an http:// or https:// URL",
        ),
        (&["--http", "http://x/", "--json", "/value = 5"], "--json:"),
        (
            &["--http", "http://x/", "--json", "/value < \"a\""],
            "--json:",
        ),
        (
            &["--http", "http://x/", "--status", "999"],
            "--status: '999' is not an HTTP status code",
        ),
        (
            &["--http", "http://x/", "--header", "nocolon"],
            "--header: 'nocolon' is not 'Name: value'",
        ),
        (&["--tcp", "nohost"], "--tcp: 'nohost' is not HOST:PORT"),
        (
            &["--cache", "1s", "--tcp", "127.0.0.1:1"],
            "--cache: only applies with --serve",
        ),
        (&["--serve", "nonsense", "--tcp", "127.0.0.1:1"], "--serve:"),
        (&["stray"], "unexpected argument"),
        // The TLS files are read at start: a typo is a usage error.
        (
            &[
                "--cert",
                "/nonexistent.crt",
                "--http",
                "https://127.0.0.1:1/",
            ],
            "--cert: needs --key FILE",
        ),
        (
            &[
                "--ca-file",
                "/nonexistent/ca.crt",
                "--http",
                "https://127.0.0.1:1/",
            ],
            "--ca-file /nonexistent/ca.crt: No such file or directory",
        ),
        (
            &["--ca-file", "/dev/null", "--http", "https://127.0.0.1:1/"],
            "--ca-file /dev/null: is a device, not a regular file",
        ),
        (
            &["--http", "https://127.0.0.1:1/", "--cert-valid-for", "0s"],
            "--cert-valid-for: must be greater than zero",
        ),
        (
            &["--file", "/x", "--cert-valid-for", "1d"],
            "--cert-valid-for: must follow --http URL or --tcp HOST:PORT",
        ),
        (
            &["--tcp", "http://127.0.0.1:18080"],
            "--tcp: 'http://127.0.0.1:18080' is a URL: give HOST:PORT (127.0.0.1:18080), or check the URL with --http http://127.0.0.1:18080",
        ),
    ];
    sidecars_tests::assert_usage_errors("ready-check", cases);
    sidecars_tests::assert_help_and_version("ready-check");
}

#[test]
fn serve_turns_503_with_the_reasons_and_back_to_200() {
    let mut main = Daemon::start("stand-in", &["--listen", "127.0.0.1:0"]);
    let url = format!("http://{}/known-value", main.addr);
    let mut probe = Daemon::start(
        "ready-check",
        &[
            "--serve",
            "127.0.0.1:0",
            "--http",
            &url,
            "--json",
            "/value == 5",
        ],
    );
    assert_eq!(get(&probe.addr, "/ready"), (200, "ok\n".into()));
    assert_eq!(get(&probe.addr, "/"), (200, "ok\n".into()));
    get(&main.addr, "/set?value=4");
    assert_eq!(
        get(&probe.addr, "/ready"),
        (503, format!("FAIL {url}: /value is 4, want == 5\n"))
    );
    assert_eq!(get(&probe.addr, "/live"), (200, "ok\n".into()));
    probe.wait_log("msg=\"not ready\"");
    get(&main.addr, "/set?value=5");
    assert_eq!(get(&probe.addr, "/ready").0, 200);
    let (status, head, body) = sidecars_tests::http(&probe.addr, "HEAD", "/ready").unwrap();
    assert_eq!((status, body.as_str()), (200, ""));
    assert!(head.contains("Content-Length: 3"), "{head}");
    assert_eq!(
        sidecars_tests::http(&probe.addr, "POST", "/ready")
            .unwrap()
            .0,
        405
    );
    assert_eq!(get(&probe.addr, "/metrics").0, 404);
    main.wait_log("msg=serving");
}

#[test]
fn concurrent_probes_share_one_check_in_flight() {
    let target = Target::start(|_| Reply::delayed(Duration::from_millis(200), "{}"));
    let probe = Daemon::start(
        "ready-check",
        &["--serve", "127.0.0.1:0", "--http", &target.url("/")],
    );
    let clients: Vec<_> = (0..100)
        .map(|_| {
            let addr = probe.addr.clone();
            std::thread::spawn(move || get(&addr, "/ready").0)
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), 200);
    }
    let hits = target.hit_count();
    assert!(
        (1..=2).contains(&hits),
        "100 concurrent probes caused {hits} target hits"
    );
}

#[test]
fn cache_reuses_a_result_for_its_duration() {
    let target = known_value(5);
    let probe = Daemon::start(
        "ready-check",
        &[
            "--serve",
            "127.0.0.1:0",
            "--cache",
            "10s",
            "--http",
            &target.url("/"),
        ],
    );
    for _ in 0..20 {
        assert_eq!(get(&probe.addr, "/ready").0, 200);
    }
    assert_eq!(target.hit_count(), 1);
}

#[test]
fn serve_withstands_hostile_clients() {
    let target = known_value(5);
    let probe = Daemon::start(
        "ready-check",
        &["--serve", "127.0.0.1:0", "--http", &target.url("/")],
    );
    hostile::withstands_all(&probe.addr, "/ready", probe.pid(), 16 * 1024);
}

#[test]
fn sigterm_stops_serve_at_once_with_status_0() {
    let target = known_value(5);
    let mut probe = Daemon::start(
        "ready-check",
        &["--serve", "127.0.0.1:0", "--http", &target.url("/")],
    );
    probe.signal(libc::SIGTERM);
    let (code, took) = probe.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert!(took < Duration::from_millis(100), "took {took:?}");
    probe.wait_log("msg=stopping signal=SIGTERM");
}

/// As PID 1 the kernel ignores signals without a handler: the program must
/// take SIGTERM itself.
#[test]
fn sigterm_stops_serve_as_pid_1() {
    let target = known_value(5);
    let url = target.url("/");
    let args = ["--serve", "127.0.0.1:0", "--http", &url];
    let Some((mut unshare, pid)) = sidecars_tests::start_as_pid_1("ready-check", &args, true)
    else {
        return sidecars_tests::skip(
            "sigterm_stops_serve_as_pid_1",
            "needs root and unshare for a PID namespace",
        );
    };
    let started = Instant::now();
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let (code, _) = unshare.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "took {:?}",
        started.elapsed()
    );
}

/// Probes that hang up while waiting for a slow check must not make the
/// server spin: it keeps their slots, unpolled, until the check answers.
#[test]
fn probes_that_hang_up_while_waiting_cost_no_cpu() {
    let target = Target::start(|_| Reply::delayed(Duration::from_millis(800), "{}"));
    let probe = Daemon::start(
        "ready-check",
        &[
            "--serve",
            "127.0.0.1:0",
            "--timeout",
            "2s",
            "--http",
            &target.url("/"),
        ],
    );
    let before = sidecars_tests::cpu_time(probe.pid());
    for _ in 0..20 {
        use std::io::Write;
        let mut client = std::net::TcpStream::connect(&probe.addr).unwrap();
        client
            .write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        // Gone before the answer, with a reset (linger 0): the socket then
        // reports POLLHUP|POLLERR whatever events are asked for.
        sidecars_tests::reset_on_close(&client);
    }
    wait_until(
        "the check to reach the target",
        Duration::from_secs(5),
        || target.hit_count() == 1,
    );
    wait_until("the slow check to finish", Duration::from_secs(5), || {
        target.answered() == 1
    });
    let used = sidecars_tests::cpu_time(probe.pid()) - before;
    assert!(
        used < Duration::from_millis(50),
        "the server used {used:?} of CPU while waiting"
    );
    assert_eq!(get(&probe.addr, "/live").0, 200);
}

/// A client that sends a body with its request (up to 1 MiB) without
/// waiting for `100 Continue`, and slowly: it reads the whole answer, and
/// may send the rest of its body after it without being reset, for the
/// server drains what it does not use before it closes. (A server that
/// closed with the body unread would reset the client's next write.)
#[test]
fn a_request_body_up_to_1_mib_is_drained_after_the_answer() {
    use std::io::{Read, Write};
    let dir = tempdir("drain");
    std::fs::write(dir.join("beat"), "x").unwrap();
    let beat = dir.join("beat").to_string_lossy().into_owned();
    let probe = Daemon::start("ready-check", &["--serve", "127.0.0.1:0", "--file", &beat]);
    for (method, status) in [("POST", "405"), ("GET", "200")] {
        let size = 1usize << 20;
        let mut stream = std::net::TcpStream::connect(&probe.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let head = format!("{method} /ready HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&[b'b'; 1024]).unwrap();
        // The answer, whole, up to the server's end of it.
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status}")),
            "{method}: {text}"
        );
        // The rest of the body, as a slow client sends it: never reset.
        let mut sent = 1024;
        while sent < size {
            let piece = (64 << 10).min(size - sent);
            let wrote = stream.write_all(&vec![b'b'; piece]);
            assert!(
                wrote.is_ok(),
                "{method}: reset after {sent} bytes: {wrote:?}"
            );
            sent += piece;
            std::thread::sleep(Duration::from_millis(10)); // the client's pace
        }
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(stream.read(&mut [0u8; 16]).unwrap(), 0, "a clean close");
    }
}

/// `--copy-to DIR`: the executable itself, whole, mode 0755, runnable from
/// there; an old copy is replaced at once, nothing is left half-written.
#[test]
fn copy_to_puts_a_runnable_copy_of_itself_in_the_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir("copy-to");
    std::fs::write(dir.join("ready-check"), "an old copy").unwrap();
    let ran = run("ready-check", &["--copy-to", dir.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let copy = dir.join("ready-check");
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(sidecars_tests::bin("ready-check")).unwrap()
    );
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let version = std::process::Command::new(&copy)
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("ready-check "));
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["ready-check"], "a temporary file was left");

    // It cannot run as configured: a fix in the manifest, exit 2.
    let ran = run("ready-check", &["--copy-to", "/nonexistent/probe"]);
    assert_eq!(ran.code, 2);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("--copy-to /nonexistent/probe: cannot write there"),
        "{}",
        ran.stderr
    );
}

/// As an init container of the scratch image (no shell, no cp) fills an
/// emptyDir for the app's exec probe, as the image's non-root user.
#[test]
fn copy_to_works_from_inside_the_scratch_image() {
    use sidecars_tests::docker::{docker, sidecars_image, unavailable};
    if let Some(why) = unavailable() {
        return sidecars_tests::skip("copy_to_works_from_inside_the_scratch_image", &why);
    }
    let dir = tempdir("copy-to-image");
    // An emptyDir is writable by the Pod's users.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let mount = format!("{}:/probe", dir.display());
    let out = docker(&[
        "run",
        "--rm",
        "-v",
        &mount,
        &sidecars_image(),
        "ready-check",
        "--copy-to",
        "/probe",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The copy runs where the app would run it: here, a real check.
    let beat = dir.join("beat");
    std::fs::write(&beat, "x").unwrap();
    let probe = std::process::Command::new(dir.join("ready-check"))
        .args(["--file", beat.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(probe.status.success());
    assert!(String::from_utf8_lossy(&probe.stdout).starts_with("ok "));
}

/// The issue's four sentences that `--json` cannot say, as `--cel` over a
/// real answer with repeated headers; a false conjunction names its part.
#[test]
fn cel_expressions_judge_the_whole_answer_and_name_the_false_part() {
    let synced = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 60;
    let last_sync = common::civil::format_utc(synced as i64);
    let body = format!(
        "{{\"status\": \"degraded\", \"errors\": 2, \"items\": [{{\"ready\": true}}, {{\"ready\": false}}, {{\"ready\": true}}], \"lastSync\": \"{last_sync}\"}}"
    );
    let answer = format!(
        "HTTP/1.1 200 OK\r\nX-Version: 2.1\r\nX-Version: beta\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let target = Target::start(move |_| Reply::Raw(answer.clone().into_bytes()));
    let url = target.url("/status");
    let passing = [
        "body.items.filter(i, i.ready).size() >= 2",
        "body.status == 'serving' || (body.status == 'degraded' && body.errors < 3.0)",
        "now - timestamp(body.lastSync) < duration('5m')",
        "headers['x-version'].startsWith('2.') && headers['x-version'] == '2.1, beta'",
        "status == 200",
    ];
    let mut args = vec!["--http", url.as_str()];
    for expr in &passing {
        args.extend(["--cel", expr]);
    }
    let ran = run("ready-check", &args);
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (0, format!("ok {url}\n").as_str()),
        "{}",
        ran.stderr
    );

    let ran = run(
        "ready-check",
        &[
            "--http",
            &url,
            "--cel",
            "body.items.size() == 3 && body.errors < 2.0 && status == 200",
        ],
    );
    assert_eq!(ran.code, 1);
    assert_eq!(
        ran.stdout,
        format!("FAIL {url}: --cel 'body.items.size() == 3 && body.errors < 2.0 && status == 200' is false: body.errors < 2.0 is false\n")
    );
    let ran = run(
        "ready-check",
        &["--http", &url, "--cel", "body.missing == 1.0"],
    );
    assert_eq!(
        ran.stdout,
        format!("FAIL {url}: --cel 'body.missing == 1.0' failed: no such key: \"missing\"\n")
    );

    let text = Target::start(|_| Reply::ok("plain text"));
    let text_url = text.url("/");
    let ran = run(
        "ready-check",
        &["--http", &text_url, "--cel", "status == 200 && body.ok"],
    );
    assert_eq!(ran.code, 1);
    assert!(
        ran.stdout.starts_with(&format!(
            "FAIL {text_url}: --cel 'status == 200 && body.ok' failed: body is not JSON ("
        )),
        "{}",
        ran.stdout
    );
    // A false answer absorbs the error of the unreadable body, as CEL says.
    let ran = run(
        "ready-check",
        &["--http", &text_url, "--cel", "body.ok || status == 200"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
}

#[test]
fn a_cel_expression_that_does_not_parse_or_type_check_is_refused_at_start() {
    for (expr, said) in [
        (
            "body.status == ",
            "column 16: expected an operand, found the end",
        ),
        (
            "status == 'up'",
            "column 1: found no matching overload for '_==_' applied to '(int, string)'",
        ),
        (
            "body.tags.sort()",
            "column 11: the function 'sort' is outside the CEL subset",
        ),
    ] {
        let ran = run(
            "ready-check",
            &["--http", "http://127.0.0.1:9/", "--cel", expr],
        );
        assert_eq!(ran.code, 2, "{expr}: {}", ran.stderr);
        assert_eq!(ran.stderr.lines().count(), 2, "{}", ran.stderr);
        assert!(ran.stderr.contains(said), "{expr}: {}", ran.stderr);
    }
}

/// `--file PATH --cel`: the file's JSON as body, its mtime as modified; a
/// FIFO is refused, never opened for long.
#[test]
fn cel_after_file_reads_the_files_json_and_its_mtime() {
    let dir = tempdir("ready-check-file-cel");
    let state = dir.join("state.json");
    std::fs::write(&state, r#"{"phase": "serving", "queue": [1, 2]}"#).unwrap();
    let path = state.to_str().unwrap();
    let fresh =
        "body.phase == 'serving' && now - modified < duration('1h') && body.queue.size() == 2";
    let ran = run("ready-check", &["--file", path, "--cel", fresh]);
    assert_eq!(ran.code, 0, "{} {}", ran.stdout, ran.stderr);
    let ran = run(
        "ready-check",
        &["--file", path, "--cel", "body.phase == 'draining'"],
    );
    assert_eq!(ran.code, 1);
    assert_eq!(
        ran.stdout,
        format!("FAIL file {path}: --cel 'body.phase == 'draining'' is false\n")
    );
    let fifo = dir.join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let ran = run(
        "ready-check",
        &["--file", fifo.to_str().unwrap(), "--cel", "body.ok"],
    );
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    assert!(
        ran.stdout.contains("not a regular file") || ran.stdout.contains("a FIFO"),
        "{}",
        ran.stdout
    );
    let ran = run("ready-check", &["--file", path, "--cel", "status == 200"]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("undeclared reference to 'status'"),
        "{}",
        ran.stderr
    );
}
