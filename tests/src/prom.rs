//! Reading Prometheus text back in tests: samples by name and labels, and
//! `promtool check metrics` when promtool is installed.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// Samples keyed by `name{labels}` exactly as exposed.
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().ok()?,
            };
            Some((key.to_string(), value))
        })
        .collect()
}

/// Runs `promtool check metrics` on `text`; Err with its complaints. None
/// when promtool is not installed (the caller prints that it skipped).
pub fn promtool_check(text: &str) -> Option<Result<(), String>> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(if out.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(said)
    })
}

/// Asserts promtool finds nothing to report, or says it skipped.
pub fn assert_promtool_clean(text: &str) {
    match promtool_check(text) {
        Some(Ok(())) => {}
        Some(Err(said)) => panic!("promtool check metrics: {said}\n---\n{text}"),
        None => eprintln!("SKIPPED promtool check: promtool is not installed"),
    }
}
