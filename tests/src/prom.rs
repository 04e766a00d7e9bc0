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
        None => crate::skip("promtool check", "promtool is not installed"),
    }
}

// Each side-car's families, from the one file that declares them: included
// by path, so that this crate does not wait for (or link) the side-cars'
// own crates. Measured in issue 33's note: the build of the workspace.
#[path = "../../bins/every/src/families.rs"]
mod every;
#[path = "../../bins/latency-exporter/src/families.rs"]
mod latency_exporter;
#[path = "../../bins/peerlog-count/src/families.rs"]
mod peerlog_count;
#[path = "../../bins/sweep/src/families.rs"]
mod sweep;

/// GETs `/metrics` from `addr`, checks the status and the content type, and
/// returns the text and its samples.
pub fn scrape(addr: &str) -> (String, BTreeMap<String, f64>) {
    let (status, head, body) =
        crate::http(addr, "GET", "/metrics").unwrap_or_else(|e| panic!("GET {addr}/metrics: {e}"));
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    if let Err(why) = check_declared(&body) {
        panic!("GET {addr}/metrics: {why}\n---\n{body}");
    }
    let parsed = samples(&body);
    (body, parsed)
}

/// Holds a side-car's scrape (known by its `NAME_build_info`) to the
/// families that side-car declares: none undeclared, none with a label
/// missing or extra. A `--json-gauge` or `--cel-gauge` family is the
/// user's, known by its HELP. Text from no side-car of ours passes.
pub fn check_declared(text: &str) -> Result<(), String> {
    let side_cars: [(&str, &[&[&common::prom::Family]]); 4] = [
        ("every_build_info", every::FAMILIES),
        ("latency_exporter_build_info", latency_exporter::FAMILIES),
        ("peerlog_build_info", peerlog_count::FAMILIES),
        ("sweep_build_info", sweep::FAMILIES),
    ];
    let Some((_, families)) = side_cars
        .iter()
        .find(|(build_info, _)| text.contains(&format!("# TYPE {build_info} gauge")))
    else {
        return Ok(());
    };
    let user_help = [
        " The number at JSON pointer ",
        " CEL over the target's last answer: ",
    ];
    let json_gauges: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# HELP "))
        .filter_map(|rest| user_help.iter().find_map(|help| rest.split_once(help)))
        .map(|(name, _)| name)
        .collect();
    common::prom::check_scrape(families, text, &|name| json_gauges.contains(&name))
}

/// `scrape`, and promtool must find nothing to report.
pub fn scrape_checked(addr: &str) -> (String, BTreeMap<String, f64>) {
    let (text, parsed) = scrape(addr);
    assert_promtool_clean(&text);
    (text, parsed)
}

/// Scrapes (10 s at most) until sample `key` satisfies `want`; returns that scrape.
pub fn wait_for_sample(addr: &str, key: &str, want: impl Fn(f64) -> bool) -> BTreeMap<String, f64> {
    let mut last = BTreeMap::new();
    crate::wait_until(
        &format!("{key} in the scrape"),
        std::time::Duration::from_secs(20),
        || {
            last = scrape(addr).1;
            last.get(key).is_some_and(|v| want(*v))
        },
    );
    last
}

#[cfg(test)]
mod tests {
    /// A scrape is known by its build_info, and held to that side-car's list.
    #[test]
    fn a_scrape_is_held_to_its_side_cars_families() {
        let sweep = "# HELP sweep_build_info x\n# TYPE sweep_build_info gauge\n\
                     sweep_build_info{version=\"1\",revision=\"r\",rustversion=\"1\",target=\"t\"} 1\n";
        assert!(super::check_declared(sweep)
            .unwrap_err()
            .contains("sweep_build_info's HELP"));
        let undeclared = "# TYPE sweep_build_info gauge\n# TYPE sweep_made_up gauge\n";
        assert_eq!(
            super::check_declared(undeclared),
            Err("sweep_made_up is not declared".into())
        );
        assert_eq!(
            super::check_declared("# TYPE other gauge\nother 1\n"),
            Ok(())
        );
    }
}
