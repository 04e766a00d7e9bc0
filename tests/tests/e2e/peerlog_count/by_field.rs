//! Counting by field: word, logfmt and JSON values, the cap, and the same
//! counts through rotation.

use super::*;

#[test]
fn by_word_counts_combined_format_lines_by_status_as_awk_would() {
    let dir = tempdir("by-word");
    let mut rng = Rng::new(7);
    let (mut text, mut statuses) = (String::new(), Vec::new());
    let agents = [
        "curl/8.5",
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
        "kube-probe/1.33",
    ];
    for i in 0..5000 {
        if i % 97 == 0 {
            text.push_str("garbage\n"); // no 9th field
            statuses.push(String::new());
            continue;
        }
        let status = ["200", "301", "404", "500", "503"][rng.below(5) as usize];
        let agent = agents[rng.below(3) as usize];
        text.push_str(&format!(
            "10.0.{}.{} - - [25/Nov/2026:10:{:02}:00 +0000] \"GET /p/{i} HTTP/1.1\" {status} {} \"-\" \"{agent}\"\n",
            i % 7, i % 250, i % 60, rng.below(5000)
        ));
        statuses.push(status.to_string());
    }
    append(&dir.join("app.log"), &text);
    let by = by_once(&dir, &["--by", "status=word:9"]);
    assert_eq!(by["status"], tally(&statuses));
}

#[test]
fn by_logfmt_reads_quoted_values_with_spaces_and_equals_signs() {
    let dir = tempdir("by-logfmt");
    let mut rng = Rng::new(11);
    let (mut text, mut levels, mut msgs) = (String::new(), Vec::new(), Vec::new());
    for i in 0..3000 {
        let level = ["info", "warn", "error", "debug"][rng.below(4) as usize];
        let msg = format!("a=b {i} \\\"q\\\" x=y");
        if i % 50 == 0 {
            text.push_str(&format!("ts={i} msg=\"{msg}\"\n")); // no level
            levels.push(String::new());
        } else {
            text.push_str(&format!("ts={i} level={level} msg=\"{msg}\" k=v\n"));
            levels.push(level.to_string());
        }
        msgs.push(format!("a=b {i} \"q\" x=y"));
    }
    append(&dir.join("app.log"), &text);
    let by = by_once(
        &dir,
        &[
            "--by",
            "level=logfmt:level",
            "--by",
            "msg=logfmt:msg",
            "--max-values",
            "5000",
        ],
    );
    assert_eq!(by["level"], tally(&levels));
    assert_eq!(
        by["msg"],
        tally(&msgs),
        "quoted values lose their quotes and escapes"
    );
}

#[test]
fn by_json_decodes_strings_keeps_numbers_as_text_and_puts_malformed_lines_under_empty() {
    let dir = tempdir("by-json");
    let mut rng = Rng::new(13);
    let (mut text, mut levels, mut statuses) = (String::new(), Vec::new(), Vec::new());
    for i in 0..3000 {
        if i % 41 == 0 {
            text.push_str("{\"level\": \"info\", broken\n");
            levels.push(String::new());
            statuses.push(String::new());
            continue;
        }
        let level = ["info", "warn", "error"][rng.below(3) as usize];
        let status = [200, 404, 500][rng.below(3) as usize];
        text.push_str(&format!(
            "{{\"level\":\"{level}\",\"http\":{{\"status\":{status}}},\"i\":{i}}}\n"
        ));
        levels.push(level.to_string());
        statuses.push(status.to_string());
    }
    append(&dir.join("app.log"), &text);
    let by = by_once(
        &dir,
        &[
            "--by",
            "level=json:/level",
            "--by",
            "status=json:/http/status",
        ],
    );
    assert_eq!(by["level"], tally(&levels));
    assert_eq!(by["status"], tally(&statuses));
}

#[test]
fn by_with_a_cap_sends_later_values_to_other_and_with_match_counts_matching_lines_only() {
    let dir = tempdir("by-cap");
    let mut text = String::new();
    let mut expected_cap = BTreeMap::new();
    let mut expected_match = BTreeMap::new();
    let mut first_seen: Vec<String> = Vec::new();
    for i in 0..2000u64 {
        let user = format!("u{}", (i * 7919) % 10);
        let error = i % 3 == 0;
        text.push_str(&format!(
            "{} user={user}\n",
            if error { "ERROR" } else { "ok" }
        ));
        if !first_seen.contains(&user) && first_seen.len() < 3 {
            first_seen.push(user.clone());
        }
        let key = if first_seen.contains(&user) {
            user.clone()
        } else {
            "other".into()
        };
        *expected_cap.entry(key).or_insert(0) += 1;
        if error {
            *expected_match.entry(user).or_insert(0) += 1;
        }
    }
    append(&dir.join("app.log"), &text);
    let by = by_once(&dir, &["--by", "user=logfmt:user", "--max-values", "3"]);
    assert_eq!(by["user"], expected_cap);
    let by = by_once(&dir, &["--match", "e=ERROR", "--by", "user=logfmt:user"]);
    assert_eq!(by["user"], expected_match);
}

/// Following, through a rename and a copytruncate: the counts by value stay
/// exact, the metrics add up to the line count, and a cap is reported.
#[test]
fn by_field_counting_stays_exact_through_rotation_and_truncation() {
    let dir = tempdir("by-rotation");
    let log = dir.join("app.log");
    let follower = follow_slowly(
        &dir,
        "50ms",
        &[
            "--by",
            "level=logfmt:level",
            "--by",
            "n=word:2",
            "--max-values",
            "4",
        ],
    );
    let mut levels = Vec::new();
    let mut write = |from: u32, to: u32| {
        let mut text = String::new();
        for i in from..to {
            let level = ["info", "warn", "error"][(i % 3) as usize];
            text.push_str(&format!("level={level} {i}\n"));
            levels.push(level.to_string());
        }
        append(&log, &text);
    };
    write(0, 300);
    wait_metric(&follower, "peerlog_lines_total", 300.0);
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    write(300, 600);
    wait_metric(&follower, "peerlog_lines_total", 600.0);
    write(600, 700);
    copytruncate(&log, &dir.join("app.log.2"));
    write(700, 800);
    let values = wait_metric(&follower, "peerlog_lines_total", 800.0);
    let (text, _) = scrape(&follower.addr);
    assert_promtool_clean(&text);
    for (level, n) in tally(&levels) {
        assert_eq!(
            values[&format!("peerlog_lines_by_total{{by=\"level\",value=\"{level}\"}}")],
            n as f64,
            "{text}"
        );
    }
    // word:2 is the line number: 4 distinct kept, 796 lines in "other".
    assert_eq!(values["peerlog_values_dropped_total{by=\"n\"}"], 796.0);
    assert_eq!(
        values["peerlog_lines_by_total{by=\"n\",value=\"other\"}"],
        796.0
    );
    assert_eq!(values["peerlog_truncations_total"], 1.0);
}
