//! Counting: lines and matches as they are appended, exactly, at any
//! line length.

use super::*;

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

#[test]
fn exact_counts_through_rotations_and_truncations_for_several_seeds() {
    for seed in [1u64, 0xdead_beef, 42_4242, 7_777_777] {
        exact_counts(seed);
    }
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

#[test]
fn crlf_lines_and_a_nul_filled_head_after_copytruncate_count_exactly() {
    let dir = tempdir("crlf-nul");
    let log = dir.join("app.log");
    // A writer that keeps its offset (no O_APPEND), as many apps open logs.
    let mut writer = File::create(&log).unwrap();
    writer
        .write_all(b"GET / 200\r\nGET /x 500\r\nhalf")
        .unwrap();
    let follower = follow_log(&dir, &["--match", "e500= 500\r"]);
    let values = wait_metric(&follower, "peerlog_lines_total", 2.0);
    assert_eq!(values["peerlog_matched_lines_total{match=\"e500\"}"], 1.0);
    writer.write_all(b" line\r\n").unwrap();
    wait_metric(&follower, "peerlog_lines_total", 3.0);
    // copytruncate: the file is cut to 0, the writer writes on at its offset,
    // so the head is a run of NULs, then its next lines.
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    writer.write_all(b"GET /y 500\r\nGET /z 200\r\n").unwrap();
    let values = wait_metric(&follower, "peerlog_lines_total", 5.0);
    assert_eq!(values["peerlog_truncations_total"], 1.0);
    assert_eq!(values["peerlog_matched_lines_total{match=\"e500\"}"], 2.0);
    let head = std::fs::read(&log).unwrap();
    assert!(
        head.starts_with(&[0; 16]),
        "no NUL head: the test did not do what it says"
    );
}
