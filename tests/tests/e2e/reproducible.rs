//! The same commit builds the same bytes: scripts/build-image, run in this
//! checkout and in a clone of it in another directory (another target
//! directory, nothing shared but the toolchain and the cargo registry),
//! gives bit-identical binaries for both platforms and a bit-identical OCI
//! archive, so the same image digests.

use sidecars_tests::{output_ok, repo_root, skip, tempdir};
use std::path::Path;
use std::process::Command;

const TARGETS: [&str; 2] = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"];

fn build_image(checkout: &Path, epoch: &str) {
    output_ok(
        Command::new(checkout.join("scripts/build-image"))
            .current_dir(checkout)
            .env("SOURCE_DATE_EPOCH", epoch)
            .env_remove("CARGO_TARGET_DIR"),
    );
}

fn sha256(path: &Path) -> String {
    let out = output_ok(Command::new("sha256sum").arg(path));
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

/// Builds everything twice, about a minute and a half on 2 cores: run alone.
#[test]
#[ignore = "builds every binary and image again; scripts/test runs it alone"]
fn two_checkouts_of_one_commit_build_the_same_binaries_and_image_digests() {
    let repo = repo_root().canonicalize().unwrap();
    let tools = ["buildah", "skopeo", "git"]
        .iter()
        .all(|t| Command::new(t).arg("--version").output().is_ok());
    let epoch = Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(&repo)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let (true, Some(epoch)) = (tools, epoch) else {
        return skip(
            "two_checkouts_of_one_commit_build_the_same_binaries_and_image_digests",
            "needs buildah, skopeo (scripts/setup installs them) and a git checkout",
        );
    };
    // The other checkout: a clone (the same commit, which the binaries name
    // in --version and *_build_info), then the same files as here,
    // committed or not, so that it is as clean or as dirty as this one.
    let other_dir = tempdir("other-checkout");
    let other = other_dir.join("sidecars");
    output_ok(
        Command::new("git")
            .args(["clone", "--quiet", "--no-hardlinks"])
            .arg(&repo)
            .arg(&other),
    );
    let files = output_ok(
        Command::new("git")
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .current_dir(&repo),
    );
    for file in files.stdout.split(|&b| b == 0).filter(|f| !f.is_empty()) {
        let file = Path::new(std::str::from_utf8(file).unwrap());
        if !repo.join(file).exists() {
            // Deleted here, not yet committed: deleted there too.
            let _ = std::fs::remove_file(other.join(file));
            continue;
        }
        std::fs::create_dir_all(other.join(file).parent().unwrap()).unwrap();
        std::fs::copy(repo.join(file), other.join(file)).unwrap();
    }
    build_image(&repo, &epoch);
    build_image(&other, &epoch);

    let mut differ = Vec::new();
    let archive = format!("dist/sidecars-{}.oci.tar", env!("CARGO_PKG_VERSION"));
    let mut compared = vec![archive.clone()];
    for target in TARGETS {
        compared.extend(
            sidecars_tests::sidecars()
                .iter()
                .chain([&"sidecars".to_string()])
                .map(|b| format!("target/{target}/release/{b}")),
        );
    }
    for path in &compared {
        let (here, there) = (sha256(&repo.join(path)), sha256(&other.join(path)));
        eprintln!(
            "{path}: {here} {}",
            if here == there { "same" } else { "DIFFERS" }
        );
        if here != there {
            differ.push(path);
        }
    }
    assert!(differ.is_empty(), "not reproducible: {differ:?}");
    // Paths of this machine are mapped away (the checkout, the cargo home).
    let cargo_home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    for path in &compared[1..] {
        let bytes = std::fs::read(repo.join(path)).unwrap();
        for local in [repo.to_str().unwrap(), cargo_home.as_str()] {
            assert!(
                !bytes.windows(local.len()).any(|w| w == local.as_bytes()),
                "{path} names {local}"
            );
        }
    }
    // Its target directory is large: gone once it has said the same.
    let _ = std::fs::remove_dir_all(&other_dir);
}
