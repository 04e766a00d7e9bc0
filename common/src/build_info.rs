//! Which build runs: `--version`'s lines and the `*_build_info` series,
//! from what common/build.rs found at build time.

use crate::prom::{Family, Kind, Writer};

/// The workspace's version: every binary has the same.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit, 40 hex digits (`-dirty` when tracked files differed from
/// it), or `unknown` outside git.
pub const REVISION: &str = env!("SIDECARS_REVISION");
pub const TARGET: &str = env!("SIDECARS_TARGET");
pub const RUSTC_VERSION: &str = env!("SIDECARS_RUSTC_VERSION");

/// The commit as `--version` names it: 12 hex digits, a fixed length (git's
/// `--short` grows with the repository), then `-dirty` if so.
pub fn short_revision() -> String {
    if REVISION == "unknown" {
        return REVISION.to_string();
    }
    let (commit, dirty) = match REVISION.strip_suffix("-dirty") {
        Some(commit) => (commit, "-dirty"),
        None => (REVISION, ""),
    };
    format!("{}{dirty}", &commit[..commit.len().min(12)])
}

/// `--version`'s text: the first line `NAME VERSION`, as before.
pub fn version_text(name: &str) -> String {
    format!(
        "{name} {VERSION}\ncommit: {}\ntarget: {TARGET}\nrustc: {RUSTC_VERSION}\n",
        short_revision()
    )
}

/// What each binary's `NAME_build_info` family says: declared by the
/// binary (its name is the binary's), as `build_info::family("sweep_build_info")`.
pub const fn family(name: &'static str) -> Family {
    Family::new(
        name,
        Kind::Gauge,
        "A metric with a constant '1' value labeled by version, revision (the commit), rustversion and target from which the binary was built.",
        &["version", "revision", "rustversion", "target"],
    )
}

/// `NAME_build_info{version,revision,rustversion,target} 1`, as
/// blackbox_exporter's `blackbox_exporter_build_info` (full commit).
pub fn write(w: &mut Writer, family: &Family) {
    w.family(family);
    w.sample(
        family,
        &[
            ("version", VERSION),
            ("revision", REVISION),
            ("rustversion", RUSTC_VERSION),
            ("target", TARGET),
        ],
        1.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_names_the_build() {
        let text = version_text("every");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("every {VERSION}"));
        let commit = lines[1].strip_prefix("commit: ").unwrap();
        assert!(
            commit == "unknown"
                || (commit.len() >= 12
                    && commit[..12].bytes().all(|b| b.is_ascii_hexdigit())
                    && matches!(&commit[12..], "" | "-dirty")),
            "{commit}"
        );
        assert_eq!(lines[2], format!("target: {TARGET}"));
        assert!(lines[3].starts_with("rustc: 1."), "{}", lines[3]);
    }
}
