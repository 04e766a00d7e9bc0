//! Rotation: renames, copytruncate, the real logrotate; nothing lost,
//! nothing counted twice.

use super::*;

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
        sidecars_tests::output_ok(
            Command::new(logrotate)
                .arg("-f")
                .arg("-s")
                .arg(&state)
                .arg(conf),
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
