//! What `--version` and `*_build_info` say about the build: the commit of
//! the checkout (from git, never from the clock, so that two checkouts of
//! one commit still build the same bytes), the target and rustc's version.
//!
//! The commit is 40 hex digits, with `-dirty` when tracked files differ
//! from it, or `unknown` outside git; `SIDECARS_REVISION` overrides it (a
//! build from a source archive that knows its commit).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SIDECARS_REVISION");
    let revision = match std::env::var("SIDECARS_REVISION") {
        Ok(given) if !given.is_empty() => given,
        _ => git_revision().unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=SIDECARS_REVISION={revision}");
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=SIDECARS_TARGET={target}");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    // "rustc 1.83.0 (90b35a623 2024-11-26)" -> "1.83.0"
    let rustc_version = output_text(Command::new(rustc).arg("--version"))
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SIDECARS_RUSTC_VERSION={rustc_version}");
}

fn git(args: &[&str]) -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = Command::new("git");
    // No index refresh: a build must not write into .git (and so rerun).
    command
        .args(args)
        .current_dir(root)
        .env("GIT_OPTIONAL_LOCKS", "0");
    output_text(&mut command)
}

fn output_text(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn git_revision() -> Option<String> {
    let commit = git(&["rev-parse", "--verify", "HEAD"])?;
    // Run again when HEAD moves, the branch's commit changes, or the
    // index does (a commit, an add, a checkout).
    let git_dir = git(&["rev-parse", "--absolute-git-dir"])?;
    let git_dir = Path::new(&git_dir);
    for file in ["HEAD", "index", "packed-refs"] {
        if git_dir.join(file).exists() {
            println!("cargo:rerun-if-changed={}", git_dir.join(file).display());
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if git_dir.join(&branch).exists() {
            println!("cargo:rerun-if-changed={}", git_dir.join(branch).display());
        }
    }
    // And when any tracked file changes, so that -dirty is never stale
    // (a docs edit makes a tree as dirty as a code edit).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in git(&["ls-files"])?.lines() {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let changes = git(&["status", "--porcelain", "--untracked-files=no"])?;
    Some(match changes.is_empty() {
        true => commit,
        false => format!("{commit}-dirty"),
    })
}
