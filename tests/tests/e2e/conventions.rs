//! What operators look for in every side-car: JSON or logfmt logs that a
//! real consumer reads, log levels, and which build runs (`--version`,
//! `*_build_info`). Every stderr line of every run in the suite is also
//! checked in its format by the harness (`sidecars_tests::logs`).

use sidecars_tests::logs::parse_line;
use sidecars_tests::prom::{scrape_checked, wait_for_sample};
use sidecars_tests::{get, repo_root, run, sidecars, tempdir, Daemon};
use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::Duration;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo_root())
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Starts each side-car that serves /metrics, listening on loopback, with
/// `extra` arguments; what each needs to run is made here.
fn each_exporter(extra: &[&str]) -> Vec<(String, &'static str, Daemon)> {
    let dir = tempdir("conventions");
    std::fs::write(dir.join("app.log"), "one\ntwo\n").unwrap();
    let dir_text = dir.display().to_string();
    let with = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(extra);
        all.iter().map(|a| a.to_string()).collect::<Vec<String>>()
    };
    let runs: Vec<(&str, &'static str, Vec<String>)> = vec![
        (
            "latency-exporter",
            "latency_exporter",
            with(&["--target", "tcp://127.0.0.1:9", "--interval", "1h"]),
        ),
        ("every", "every", with(&["1h", "--", "true"])),
        (
            "peerlog-count",
            "peerlog",
            with(&["--root", &dir_text, "/app.log"]),
        ),
        (
            "sweep",
            "sweep",
            with(&[&dir_text, "--older-than", "100d", "--dry-run"]),
        ),
    ];
    runs.into_iter()
        .map(|(name, prefix, args)| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            (name.to_string(), prefix, Daemon::listening(name, &args))
        })
        .collect()
}

#[test]
fn version_and_build_info_name_the_commit_of_this_checkout() {
    let head = git(&["rev-parse", "--verify", "HEAD"]);
    let clean = git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| s.is_empty());
    for name in sidecars() {
        let ran = run(&name, &["--version"]);
        assert_eq!(ran.code, 0, "{name}: {}", ran.stderr);
        let lines: Vec<&str> = ran.stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{name}: {}", ran.stdout);
        assert_eq!(
            lines[0],
            format!("{name} {}", env!("CARGO_PKG_VERSION")),
            "the first line stays NAME VERSION"
        );
        let commit = lines[1].strip_prefix("commit: ").expect("commit: line");
        match &head {
            // The commit of the checkout built from, 12 hex digits; -dirty
            // only when tracked files differ from it.
            Some(head) => {
                assert_eq!(&commit[..12], &head[..12], "{name}: {}", ran.stdout);
                assert!(matches!(&commit[12..], "" | "-dirty"), "{commit}");
                if clean == Some(true) {
                    assert_eq!(commit.len(), 12, "{name} says dirty in a clean tree");
                }
            }
            None => assert_eq!(commit, "unknown"),
        }
        let target = lines[2].strip_prefix("target: ").expect("target: line");
        assert!(target.contains("-linux-"), "{target}");
        let rustc = lines[3].strip_prefix("rustc: ").expect("rustc: line");
        assert!(rustc.starts_with("1."), "{rustc}");
    }

    // The same build in /metrics, with the full commit, as blackbox does.
    for (name, prefix, daemon) in each_exporter(&[]) {
        let (_, series) = scrape_checked(&daemon.addr);
        let info: Vec<&String> = series
            .keys()
            .filter(|k| k.starts_with(&format!("{prefix}_build_info{{")))
            .collect();
        assert_eq!(info.len(), 1, "{name}: {info:?}");
        assert_eq!(series[info[0]], 1.0);
        let revision = match &head {
            Some(head) => head.clone(),
            None => "unknown".into(),
        };
        assert!(
            info[0].contains(&format!("revision=\"{revision}"))
                && info[0].contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))
                && info[0].contains("rustversion=\"1.")
                && info[0].contains("target=\""),
            "{name}: {}",
            info[0]
        );
        let version = run(&name, &["--version"]).stdout;
        let short = version
            .lines()
            .nth(1)
            .unwrap()
            .trim_start_matches("commit: ");
        let dirty = short.ends_with("-dirty");
        assert_eq!(info[0].contains("-dirty\""), dirty, "{name}: {}", info[0]);
    }
}

/// Names a peer may give a file: a control character, an escape sequence,
/// bytes that are not UTF-8, a quote, an equals sign, a newline.
fn odd_names() -> Vec<Vec<u8>> {
    vec![
        b"esc-\x1b[31m-red".to_vec(),
        b"latin1-\xe9t\xe9".to_vec(),
        b"quote-\"-and-=".to_vec(),
        b"new\nline".to_vec(),
        b"tab\tand\x7fdel".to_vec(),
        b"back\\slash".to_vec(),
    ]
}

#[test]
fn json_logs_of_odd_peer_input_are_read_by_jq_line_by_line() {
    let dir = tempdir("json-odd-names");
    for name in odd_names() {
        let path = dir.join(std::ffi::OsStr::from_bytes(&name));
        sidecars_tests::write_aged(&path, b"x", Duration::from_secs(7200));
    }
    let dir_text = dir.display().to_string();
    for format in ["json", "logfmt"] {
        // The harness checks each stderr line in its format (run()).
        let ran = run(
            "sweep",
            &[
                &dir_text,
                "--older-than",
                "1h",
                "--once",
                "--dry-run",
                "--log-format",
                format,
                "--log-level",
                "debug",
            ],
        );
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        let lines: Vec<&str> = ran.stderr.lines().collect();
        // One "would delete" line a file, then the pass.
        assert_eq!(lines.len(), odd_names().len() + 1, "{}", ran.stderr);
        let mut paths = BTreeSet::new();
        for line in &lines {
            let pairs = parse_line(line, format == "json").unwrap();
            if pairs["msg"] == "would delete" {
                paths.insert(pairs["path"].clone());
            }
        }
        // Non-UTF-8 bytes as U+FFFD, everything else as it was.
        let want: BTreeSet<String> = odd_names()
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        assert_eq!(paths, want);
        if format == "json" {
            assert_eq!(jq_reads(&ran.stderr), lines.len());
        }
    }
    // Nothing was deleted: a dry run.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), odd_names().len());
}

/// jq, as an operator pipes the log: every line is JSON (`-e`: and none
/// is null or false); returns how many values it read.
fn jq_reads(lines: &str) -> usize {
    let mut jq = Command::new("jq")
        .args(["-e", "-c", "."])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jq (scripts/setup installs it)");
    jq.stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = jq.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "jq: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn a_reason_with_controls_and_bytes_not_utf8_is_one_valid_line_in_each_format() {
    // A program name is the user's, but its bytes reach the reason as the
    // peer's would: an escape sequence and a byte that is not UTF-8.
    let odd = std::ffi::OsStr::from_bytes(b"/no/such/\x1b[31m\xffprog").to_os_string();
    for format in ["json", "logfmt"] {
        let mut command = Command::new(sidecars_tests::bin("every"));
        command
            .args(["1s", "--count", "1", "--log-format", format, "--"])
            .arg(&odd);
        // The harness checks each stderr line in its format.
        let ran = sidecars_tests::run_command(&mut command);
        assert_eq!(ran.code, 1, "{}", ran.stderr);
        let failed = ran
            .stderr
            .lines()
            .map(|l| parse_line(l, format == "json").unwrap())
            .find(|l| l.get("result").is_some_and(|r| r == "failure"))
            .expect("the failed run's line");
        assert_eq!(
            failed["error"],
            "cannot start /no/such/\u{1b}[31m\u{fffd}prog: No such file or directory (os error 2)"
        );
        if format == "json" {
            assert_eq!(jq_reads(&ran.stderr), ran.stderr.lines().count());
        }
    }
}

#[test]
fn a_failure_after_start_is_a_log_line_in_the_chosen_format() {
    let missing = tempdir("fatal-json").join("no-such-dir");
    let missing = missing.display().to_string();
    let ran = run(
        "sweep",
        &[&missing, "--older-than", "1h", "--log-format", "json"],
    );
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", ran.stderr);
    let pairs = parse_line(lines[0], true).unwrap();
    assert_eq!(pairs["level"], "error");
    assert!(pairs["msg"].contains("no-such-dir"), "{}", lines[0]);
    assert_eq!(pairs["exit"], "2");
    // A usage error after --log-format json: JSON too (see
    // usage_errors_after_log_format_json_are_one_json_line); before it, plain.
    let ran = run("sweep", &[&missing, "--older", "--log-format", "json"]);
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.starts_with("sweep: "), "{}", ran.stderr);
}

#[test]
fn warn_shows_no_info_line_and_debug_adds_lines_but_changes_no_metric() {
    let refused = sidecars_tests::free_loopback_addr();
    let target = format!("--target=down=tcp://{refused}");
    let up = Daemon::start("stand-in", &["--listen", "127.0.0.1:0"]);
    let up_target = format!("--target=up=http://{}/", up.addr);
    let at = |level: &str, format: &str| {
        Daemon::listening(
            "latency-exporter",
            &[
                &target,
                &up_target,
                "--interval",
                "50ms",
                "--log-level",
                level,
                "--log-format",
                format,
            ],
        )
    };
    // The harness found each address whatever the format and level.
    let mut runs = vec![
        ("info", at("info", "logfmt")),
        ("warn", at("warn", "json")),
        ("debug", at("debug", "json")),
    ];
    let mut series = Vec::new();
    for (_, daemon) in &runs {
        wait_for_sample(
            &daemon.addr,
            "probe_total{target=\"down\",result=\"failure\"}",
            |n| n >= 3.0,
        );
        series.push(scrape_checked(&daemon.addr).1);
    }
    for (_, daemon) in &runs {
        // /healthz answers whatever the level.
        assert_eq!(get(&daemon.addr, "/healthz").0, 200);
    }
    for (level, daemon) in &mut runs {
        daemon.signal(libc::SIGTERM);
        daemon.wait_exit(Duration::from_secs(5));
        let json = *level != "info";
        let lines: Vec<_> = daemon
            .log()
            .into_iter()
            .map(|l| parse_line(&l, json).unwrap())
            .collect();
        let levels: BTreeSet<&str> = lines.iter().map(|l| l["level"].as_str()).collect();
        let has = |msg: &str| lines.iter().any(|l| l["msg"] == msg);
        match *level {
            "info" => {
                assert!(has("serving") && has("probe failed") && !has("probe"));
                assert!(!levels.contains("debug"), "{levels:?}");
            }
            "warn" => {
                // Every warning kept, no info line (not even serving).
                assert!(has("probe failed"));
                assert_eq!(levels, BTreeSet::from(["warn"]), "{lines:?}");
            }
            _ => {
                assert!(has("serving") && has("probe failed"));
                let probes: Vec<_> = lines.iter().filter(|l| l["msg"] == "probe").collect();
                assert!(probes
                    .iter()
                    .any(|l| l["target"] == "up" && l["success"] == "true"));
                assert!(probes
                    .iter()
                    .any(|l| l["target"] == "down" && l["success"] == "false"));
            }
        }
    }
    // The same series in each (values of time aside): the level is the
    // log's business only.
    let shape = |s: &std::collections::BTreeMap<String, f64>| -> BTreeSet<String> {
        s.keys().cloned().collect()
    };
    assert_eq!(shape(&series[0]), shape(&series[1]));
    assert_eq!(shape(&series[0]), shape(&series[2]));
    for s in &series {
        assert_eq!(s["probe_success{target=\"up\"}"], 1.0);
        assert_eq!(s["probe_success{target=\"down\"}"], 0.0);
    }
}

#[test]
fn a_log_of_any_bytes_under_an_odd_name_is_followed_with_valid_json_lines() {
    let dir = tempdir("json-any-bytes");
    let name = b"app-\x1b[31m-\xff.log";
    let log = dir.join(std::ffi::OsStr::from_bytes(name));
    std::fs::write(
        &log,
        b"user=\xff\xfe level=error \x1b[2J\nuser=bob\x07 ok\n",
    )
    .unwrap();
    let mut path = b"/".to_vec();
    path.extend_from_slice(name);
    let mut command = Command::new(sidecars_tests::bin("peerlog-count"));
    command
        .args(["--listen", "127.0.0.1:0", "--interval", "50ms"])
        .args(["--by", "user=logfmt:user", "--match", "errors=level=error"])
        .args(["--log-format", "json", "--log-level", "debug", "--root"])
        .arg(&dir)
        .arg(std::ffi::OsStr::from_bytes(&path));
    // The harness checks every stderr line as JSON when it is dropped.
    let mut daemon = Daemon::start_command(&mut command, true);
    wait_for_sample(&daemon.addr, "peerlog_lines_total", |n| n == 2.0);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"user=\xc3\x28 \x00\x7f level=error\n")
        .unwrap();
    let series = wait_for_sample(&daemon.addr, "peerlog_lines_total", |n| n == 3.0);
    assert_eq!(series["peerlog_matched_lines_total{match=\"errors\"}"], 2.0);
    scrape_checked(&daemon.addr);
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(5)).0, 0);
    let stderr: String = daemon.log().iter().map(|l| format!("{l}\n")).collect();
    let reads: Vec<_> = stderr
        .lines()
        .map(|l| parse_line(l, true).unwrap())
        .filter(|l| l["msg"] == "read")
        .collect();
    assert!(reads.iter().any(|l| l["lines"] == "3"), "{stderr}");
    assert!(
        reads
            .iter()
            .all(|l| l["path"] == String::from_utf8_lossy(&path)),
        "{stderr}"
    );
    assert_eq!(jq_reads(&stderr), stderr.lines().count());
}

/// Sizes read as Kubernetes reads a quantity: kubectl, which carries
/// apimachinery's parser, is the oracle. For random quantities, valid and
/// not, ours accepts what it accepts (but negative sizes) with the same
/// value rounded up to a whole byte, and refuses what it refuses.
#[test]
fn sizes_read_as_kubectl_reads_a_quantity() {
    if !sidecars_tests::installed("kubectl", "version") {
        return sidecars_tests::skip(
            "sizes_read_as_kubectl_reads_a_quantity",
            "kubectl is not installed",
        );
    }
    let dir = tempdir("quantity");
    let pod = dir.join("pod.yaml");
    std::fs::write(
        &pod,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  containers: [{name: c, image: x}]\n",
    )
    .unwrap();
    let (mut rng, _) = sidecars_tests::rng::Rng::from_env("sizes_read_as_kubectl_reads_a_quantity");
    let numbers = [
        "0",
        "1",
        "7",
        "12",
        "1.5",
        ".5",
        "1.",
        "007",
        "123456789",
        "2.25",
        "1.23456789012",
        ".",
        "1.2.3",
        "",
    ];
    let suffixes = [
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E", "e3",
        "E6", "e-3", "e+2", "e0", "GB", "K", "kB", "mi", "Mb", "x", "e", "Kii",
    ];
    let cases: Vec<String> = (0..160)
        .map(|_| {
            let sign = rng.pick(&["", "", "", "+", "-"]);
            format!("{sign}{}{}", rng.pick(&numbers), rng.pick(&suffixes))
        })
        .collect();
    let oracle = |quantity: &str| -> Option<String> {
        let out = Command::new("kubectl")
            .args(["set", "resources", "--local", "-o"])
            .arg("jsonpath={.spec.containers[0].resources.limits.memory}")
            .arg("-f")
            .arg(&pod)
            .arg(format!("--limits=memory={quantity}"))
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let answers: Vec<(String, Option<String>)> = std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|q| (q.clone(), scope.spawn(|| oracle(q))))
            .collect();
        runs.into_iter()
            .map(|(q, run)| (q, run.join().unwrap()))
            .collect()
    });
    let mut accepted = 0;
    for (quantity, canonical) in answers {
        let ours = common::cli::parse_byte_size(&quantity);
        // apimachinery's parser reads a number with no digit ("E", ".",
        // "+", "m") as 0, against its own documented grammar, which wants
        // one: as a size that is a mistake, and we refuse it.
        let number: String = quantity
            .chars()
            .take_while(|c| c.is_ascii_digit() || "+-.".contains(*c))
            .collect();
        if !number.chars().any(|c| c.is_ascii_digit()) {
            assert!(ours.is_err(), "{quantity:?} has no digit, we read {ours:?}");
            continue;
        }
        match canonical {
            None => assert!(
                ours.is_err(),
                "kubectl refuses {quantity:?}, we read {ours:?}"
            ),
            Some(canonical) if canonical.starts_with('-') && canonical != "-0" => {
                assert!(
                    ours.is_err(),
                    "{quantity:?} is negative ({canonical}), we read {ours:?}"
                )
            }
            Some(canonical) => {
                accepted += 1;
                // Kubernetes clamps past 2^63 - 1; we refuse as too large.
                let want = canonical_bytes(&canonical);
                match u64::try_from(want).ok().filter(|&b| b < i64::MAX as u64) {
                    Some(bytes) => assert_eq!(
                        ours,
                        Ok(bytes),
                        "{quantity:?}: kubectl's canonical form is {canonical}"
                    ),
                    None => assert!(
                        ours.as_ref().is_err_and(|e| e.contains("too large")),
                        "{quantity:?} is {canonical}, past 64 bits: we read {ours:?}"
                    ),
                }
            }
        }
    }
    assert!(accepted > 20, "too few valid quantities drawn: {accepted}");
}

/// The bytes of a quantity as kubectl writes it back (its canonical form,
/// or the input kept as it came: a decimal with a suffix or an exponent),
/// rounded up.
fn canonical_bytes(canonical: &str) -> i128 {
    let bad = || -> ! { panic!("kubectl's canonical {canonical:?}") };
    let split = canonical
        .find(|c: char| !(c.is_ascii_digit() || "+-.".contains(c)))
        .unwrap_or(canonical.len());
    let (number, suffix) = canonical.split_at(split);
    let negative = number.starts_with('-');
    let number = number.trim_start_matches(['+', '-']);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let mantissa: i128 = format!("0{whole}{fraction}")
        .parse()
        .unwrap_or_else(|_| bad());
    let mut power = -(fraction.len() as i32);
    let times: i128 = match suffix {
        "" => 1,
        "n" => {
            power -= 9;
            1
        }
        "u" => {
            power -= 6;
            1
        }
        "m" => {
            power -= 3;
            1
        }
        "k" => 1000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 10i128.pow(12),
        "P" => 10i128.pow(15),
        "E" => 10i128.pow(18),
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        exponent => {
            power += exponent
                .get(1..)
                .and_then(|p| p.parse::<i32>().ok())
                .unwrap_or_else(|| bad());
            1
        }
    };
    let signed = if negative { -mantissa } else { mantissa };
    let scaled = signed.saturating_mul(times);
    match power >= 0 {
        true => scaled.saturating_mul(10i128.pow(power as u32)),
        false => {
            let divide = 10i128.pow(power.unsigned_abs());
            (scaled + divide - 1).div_euclid(divide)
        }
    }
}

/// The one executable by its own name, as busybox: `sidecars NAME ARGS`
/// runs the side-car, `--help` lists them, anything else is a usage error.
#[test]
fn the_multicall_executable_takes_a_side_car_name_first() {
    let help = run("sidecars", &["--help"]);
    assert_eq!(help.code, 0, "{}", help.stderr);
    for name in sidecars() {
        assert!(help.stdout.contains(&name), "{name} not in {}", help.stdout);
    }
    let version = run("sidecars", &["ready-check", "--version"]);
    assert_eq!(version.code, 0, "{}", version.stderr);
    assert!(
        version
            .stdout
            .starts_with(&format!("ready-check {}\n", env!("CARGO_PKG_VERSION"))),
        "{}",
        version.stdout
    );
    // The side-car's own usage errors, under its own name.
    let refused = run(
        "sidecars",
        &["sweep", "/nonexistent-dir", "--older-than", "1h"],
    );
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("DIR /nonexistent-dir"),
        "{}",
        refused.stderr
    );
    for (args, said) in [
        (
            &["nosuch"][..],
            "sidecars: 'nosuch' names no side-car; give one of every, ",
        ),
        (&[][..], "sidecars: give a side-car's name first (every, "),
    ] {
        let ran = run("sidecars", args);
        assert_eq!(ran.code, 2, "{args:?}");
        assert!(ran.stderr.starts_with(said), "{args:?}: {}", ran.stderr);
        assert!(ran
            .stderr
            .ends_with("Try 'sidecars --help' for more information.\n"));
    }
}

/// Once `--log-format json` is read, a usage error is one JSON line with
/// the flag, the message, the hint and exit=2, for a JSON-only pipeline to
/// see why the container exits. An error before it, or in it, stays text.
#[test]
fn usage_errors_after_log_format_json_are_one_json_line() {
    for name in sidecars() {
        let ran = run(&name, &["--log-format", "json", "--no-such-flag"]);
        assert_eq!(ran.code, 2, "{name}: {}", ran.stderr);
        let lines: Vec<&str> = ran.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        let line: serde_json::Value =
            serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{name}: {e}: {}", lines[0]));
        assert_eq!(line["level"], "error", "{line}");
        // Every field a string, as in every log line.
        assert_eq!(line["exit"], "2", "{line}");
        assert_eq!(line["flag"], "--no-such-flag", "{line}");
        assert_eq!(
            line["hint"],
            format!("Try '{name} --help' for more information."),
            "{line}"
        );
        assert!(
            line["msg"].as_str().unwrap().contains("'--no-such-flag'"),
            "{line}"
        );
    }
    let ran = run(
        "sweep",
        &["--log-format", "json", "/tmp", "--older-than", "5min"],
    );
    let line: serde_json::Value = serde_json::from_str(ran.stderr.trim()).unwrap();
    assert_eq!(line["flag"], "--older-than", "{line}");
    assert!(
        line["msg"].as_str().unwrap().contains("did you mean '5m'"),
        "{line}"
    );
    // Before the flag, or in it: plain text, as the docs say.
    for args in [
        &["/tmp", "--older-than", "5min", "--log-format", "json"][..],
        &["--log-format", "yaml", "/tmp", "--older-than", "1h"][..],
    ] {
        let ran = run("sweep", args);
        assert_eq!(ran.code, 2);
        assert!(
            ran.stderr.starts_with("sweep: "),
            "{args:?}: {}",
            ran.stderr
        );
    }
}
