//! scripts/release ships every side-car of `bins/`: in both platforms'
//! tarballs, each at most 1.5 MB, with an SBOM per binary and platform, all
//! in SHA256SUMS. A side-car left out of a list fails here, not silently in
//! a release.

use sidecars_tests::{output_ok, repo_root, sidecars, skip};
use std::process::Command;

#[test]
#[ignore = "runs scripts/release: the images again and cargo-cyclonedx; scripts/test runs it alone"]
fn every_side_car_is_in_both_release_tarballs_and_has_its_sboms() {
    if Command::new("buildah").arg("--version").output().is_err() {
        return skip(
            "every_side_car_is_in_both_release_tarballs_and_has_its_sboms",
            "no buildah (scripts/setup installs it): scripts/release needs it",
        );
    }
    let repo = repo_root();
    output_ok(
        Command::new(repo.join("scripts/release"))
            .current_dir(&repo)
            .env_remove("CARGO_TARGET_DIR"),
    );
    let version = env!("CARGO_PKG_VERSION");
    let dist = repo.join("dist");
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    for (arch, target) in [
        ("amd64", "x86_64-unknown-linux-musl"),
        ("arm64", "aarch64-unknown-linux-musl"),
    ] {
        let tarball = format!("sidecars-{version}-linux-{arch}.tar.gz");
        let listed = output_ok(Command::new("tar").arg("-tvzf").arg(dist.join(&tarball)));
        let listing = String::from_utf8_lossy(&listed.stdout).into_owned();
        assert!(
            sums.contains(&format!("  {tarball}\n")),
            "SHA256SUMS lacks {tarball}"
        );
        for sidecar in sidecars() {
            // `-rwxr-xr-x 0/0 1495264 1980-01-01 00:00 DIR/NAME`
            let path = format!("sidecars-{version}-linux-{arch}/{sidecar}");
            let size: u64 = listing
                .lines()
                .map(|line| line.split_whitespace().collect::<Vec<_>>())
                .find(|fields| fields.last() == Some(&path.as_str()))
                .and_then(|fields| fields.get(2)?.parse().ok())
                .unwrap_or_else(|| panic!("{tarball} lacks {sidecar}: {listing}"));
            // Issue 21's goal is 1.5 MB with TLS: every one is under
            // 1,500,000 bytes today. The bound is the benchmarks' 1.5 MiB,
            // so that a toolchain's few KB do not fail CI while a lost size
            // setting (each is 60 to 230 KB) does.
            assert!(
                size <= 1_572_864,
                "{sidecar} for {arch} is {size} bytes, over 1.5 MiB"
            );
            let sbom = format!("sbom/{sidecar}-{target}.cdx.json");
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dist.join(&sbom)).unwrap_or_default())
                    .unwrap_or_else(|e| panic!("{sbom}: {e}"));
            assert_eq!(doc["bomFormat"], "CycloneDX", "{sbom}");
            assert!(
                doc["components"].as_array().is_some_and(|c| !c.is_empty()),
                "{sbom} lists no crate"
            );
            assert!(
                sums.contains(&format!("  {sbom}\n")),
                "SHA256SUMS lacks {sbom}"
            );
        }
    }
    for archive in [
        format!("sidecars-{version}.oci.tar"),
        format!("sidecars-stand-in-{version}.oci.tar"),
    ] {
        assert!(
            sums.contains(&format!("  {archive}\n")),
            "SHA256SUMS lacks {archive}"
        );
    }
}
