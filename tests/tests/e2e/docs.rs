//! The user's reference in `docs/` and each binary's `--help` name the same
//! flags, so neither can drift from the other; the README links only to
//! files inside the repository.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use sidecars_tests::flags_in as flags;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn every_flag_in_help_is_in_the_page_and_every_flag_in_the_page_in_help() {
    for program in sidecars_tests::sidecars() {
        let program = program.as_str();
        let help = sidecars_tests::help_flags(program);
        let page_path = repo().join("docs").join(format!("{program}.md"));
        let page = flags(&std::fs::read_to_string(&page_path).unwrap());
        let missing: Vec<_> = help.difference(&page).collect();
        let unknown: Vec<_> = page.difference(&help).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "{program}: in --help, not in {}: {missing:?}; in the page, not in --help: {unknown:?}",
            page_path.display()
        );
        assert!(
            help.contains("--help") && help.len() > 5,
            "{program}: {help:?}"
        );
    }
}

#[test]
fn the_flag_reader_finds_long_and_short_flags_only() {
    let found =
        flags("`-X`, `--method METHOD` ready-check 2026-11-24 --json '/a == -1' a-b -- prog --own");
    let want: BTreeSet<String> = ["-X", "--method", "--json"].map(String::from).into();
    assert_eq!(found, want);
}

/// Markdown links `](target)` in the README, docs/ and examples/ point at
/// files that exist in the repository, or at the web; never outside it.
#[test]
fn links_stay_inside_the_repository() {
    let mut pages = vec![repo().join("README.md"), repo().join("examples/README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        pages.push(entry.unwrap().path());
    }
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
        {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with('#')
            {
                continue;
            }
            let file = page
                .parent()
                .unwrap()
                .join(target.split('#').next().unwrap());
            let inside = file
                .canonicalize()
                .is_ok_and(|f| f.starts_with(repo().canonicalize().unwrap()));
            assert!(
                inside,
                "{}: link to {target} leaves the repository or is broken",
                page.display()
            );
        }
    }
}

/// Every peer a benchmark script runs (`$peers/...`) is a file of the
/// repository (a `.gitignore` once hid one).
#[test]
fn the_benchmark_peers_are_in_the_repository() {
    let mut named = 0;
    for entry in std::fs::read_dir(repo().join("scripts")).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("bench-")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for rest in text.split("$peers/").skip(1) {
            let file: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "_./-".contains(*c))
                .collect();
            named += 1;
            let tracked = Command::new("git")
                .args(["ls-files", "--error-unmatch"])
                .arg(format!("bench/peers/{file}"))
                .current_dir(repo())
                .output()
                .map(|o| o.status.success());
            assert!(
                repo().join("bench/peers").join(&file).is_file() && tracked.unwrap_or(true),
                "{} runs $peers/{file}, which is not a tracked file of bench/peers/",
                path.display()
            );
        }
    }
    assert!(named >= 5, "only {named} peers named");
}

/// No build output is tracked: no path under a `target/` (or `dist/`)
/// directory, and nothing `.gitignore` ignores.
#[test]
fn no_build_output_is_tracked() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(repo())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let Some(tracked) = git(&["ls-files"]) else {
        return sidecars_tests::skip("no_build_output_is_tracked", "not a git checkout");
    };
    let built: Vec<&str> = tracked
        .lines()
        .filter(|path| {
            path.split('/')
                .any(|part| part == "target" || part == "dist")
        })
        .collect();
    assert!(built.is_empty(), "build output is tracked: {built:?}");
    let ignored =
        git(&["ls-files", "--cached", "--ignored", "--exclude-standard"]).unwrap_or_default();
    assert!(ignored.trim().is_empty(), "tracked but ignored: {ignored}");
}

/// The pages a user reads: the README, CONTRIBUTING, docs/ and the READMEs
/// beside examples and peers.
fn pages() -> Vec<std::path::PathBuf> {
    let mut pages = vec![
        repo().join("README.md"),
        repo().join("CONTRIBUTING.md"),
        repo().join("examples/README.md"),
        repo().join("bench/peers/README.md"),
    ];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        pages.push(entry.unwrap().path());
    }
    pages
}

/// A path of the repository named in prose (`tests/tests/e2e/pod.rs`,
/// `scripts/demo`) exists: files move, and the prose must follow.
#[test]
fn paths_named_in_the_pages_exist() {
    let roots = [
        "tests/",
        "bins/",
        "multicall/",
        "common/",
        "net/",
        "scripts/",
        "docs/",
        "examples/",
        "bench/",
    ];
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (at, _) in text.match_indices('/') {
            let start = text[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "_.-/".contains(c)))
                .map_or(0, |i| i + 1);
            let end = text[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "_.-/*".contains(c)))
                .map_or(text.len(), |i| at + i);
            let path = text[start..end].trim_end_matches(['.', ',', ':']);
            // Each path once (at its first slash), placeholders and globs left out.
            if text[start..at].contains('/')
                || !roots.iter().any(|root| path.starts_with(root))
                || path.contains('*')
                || path.contains("NAME")
            {
                continue;
            }
            assert!(
                repo().join(path).exists(),
                "{} names {path}, which does not exist",
                page.display()
            );
        }
    }
}

/// A Markdown table is one block: a row after a blank line starts a new
/// table only with a header and its `|---|` line, else it renders as text
/// (a paragraph once split the metrics table of docs/latency-exporter.md).
#[test]
fn tables_are_not_split() {
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut fenced = false;
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with("```") {
                fenced = !fenced;
            }
            let starts_block = i == 0 || !lines[i - 1].trim_start().starts_with('|');
            if fenced || !line.trim_start().starts_with('|') || !starts_block {
                continue;
            }
            let separator = lines.get(i + 1).is_some_and(|next| {
                next.trim_start().starts_with('|') && next.chars().all(|c| "|-: ".contains(c))
            });
            assert!(
                separator,
                "{}:{}: a table row with no header above it (a split table?): {line}",
                page.display(),
                i + 1
            );
        }
    }
}

/// Every side-car crate of `bins/` has its reference page, is linked and
/// has a section in the README: a new one cannot ship undocumented.
#[test]
fn every_side_car_has_a_docs_page_and_a_readme_section() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for sidecar in sidecars_tests::sidecars() {
        assert!(
            repo().join("docs").join(format!("{sidecar}.md")).is_file(),
            "docs/{sidecar}.md is missing"
        );
        assert!(
            readme.contains(&format!("\n## {sidecar}\n")),
            "the README has no '## {sidecar}' section"
        );
        assert!(
            readme.contains(&format!("(docs/{sidecar}.md)")),
            "the README does not link docs/{sidecar}.md"
        );
    }
    // And no page for a side-car that is gone.
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let stem = name.trim_end_matches(".md");
        // Pages of a shared part that several side-cars link.
        let shared = ["cel"];
        assert!(
            sidecars_tests::sidecars().iter().any(|s| s == stem) || shared.contains(&stem),
            "docs/{name} names no crate of bins/"
        );
    }
}

/// The scripts that ship side-cars take them from scripts/sidecars, and
/// keep no list of their own that adding a side-car would have to edit.
#[test]
fn the_shipping_scripts_take_the_side_cars_of_bins() {
    let listed = sidecars_tests::sidecars().join(", ");
    for script in ["scripts/build-image", "scripts/release"] {
        let text = std::fs::read_to_string(repo().join(script)).unwrap();
        assert!(
            text.contains("$(scripts/sidecars)"),
            "{script} does not take the side-cars from scripts/sidecars"
        );
        assert!(
            !text.contains(&listed),
            "{script} lists the side-cars itself: take them from scripts/sidecars"
        );
    }
}
