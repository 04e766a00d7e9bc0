//! The built scratch image: small, the four static binaries and nothing
//! else, each one working from inside it as UID 65532.

use sidecars_tests::docker::{docker, docker_ok, sidecars_image, unavailable, Container};
use sidecars_tests::prom::wait_for_sample;
use sidecars_tests::{get, proc_status_value, skip, tempdir, Daemon};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const BINARIES: [&str; 4] = ["ready-check", "latency-exporter", "every", "peerlog-count"];

#[test]
fn the_image_is_small_and_holds_only_the_four_static_binaries() {
    if let Some(why) = unavailable() {
        return skip(
            "the_image_is_small_and_holds_only_the_four_static_binaries",
            &why,
        );
    }
    let image = sidecars_image();
    let size: u64 = docker_ok(&["image", "inspect", "-f", "{{.Size}}", &image])
        .trim()
        .parse()
        .unwrap();
    eprintln!("{image}: {size} bytes");
    assert!(size < 4 * 1024 * 1024, "image is {size} bytes");

    // What the image really holds: the files of its layers.
    let dir = tempdir("image");
    let saved = dir.join("image.tar");
    docker_ok(&["save", "-o", saved.to_str().unwrap(), &image]);
    untar(&saved, &dir);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let mut entries = BTreeSet::new();
    for layer in manifest[0]["Layers"].as_array().unwrap() {
        let layer = dir.join(layer.as_str().unwrap());
        let listing = Command::new("tar").arg("-tf").arg(&layer).output().unwrap();
        for line in String::from_utf8_lossy(&listing.stdout).lines() {
            entries.insert(
                line.trim_start_matches("./")
                    .trim_end_matches('/')
                    .to_string(),
            );
        }
        untar(&layer, &rootfs);
    }
    entries.remove("");
    let mut expected: BTreeSet<String> = ["usr", "usr/local", "usr/local/bin"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    expected.extend(BINARIES.iter().map(|b| format!("usr/local/bin/{b}")));
    assert_eq!(
        entries, expected,
        "the image holds more or less than the four binaries"
    );
    assert!(!rootfs.join("bin/sh").exists());

    let config = docker_ok(&["image", "inspect", "-f", "{{json .Config}}", &image]);
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["User"], "65532:65532");
    assert!(
        config["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "PATH=/usr/local/bin"),
        "{config}"
    );
    for label in ["title", "description", "source", "version", "licenses"] {
        let key = format!("org.opencontainers.image.{label}");
        assert!(
            config["Labels"][&key]
                .as_str()
                .is_some_and(|v| !v.is_empty()),
            "label {key} missing"
        );
    }
    assert_eq!(
        config["Labels"]["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );

    if Command::new("readelf").arg("--version").output().is_err() {
        return skip(
            "static linking check",
            "readelf (binutils) is not installed",
        );
    }
    for binary in BINARIES {
        let path = rootfs.join("usr/local/bin").join(binary);
        let headers = readelf(&["-lW"], &path);
        assert!(
            !headers.contains("INTERP"),
            "{binary} asks for an interpreter"
        );
        let dynamic = readelf(&["-dW"], &path);
        assert!(
            !dynamic.contains("(NEEDED)"),
            "{binary} needs shared libraries:\n{dynamic}"
        );
    }
}

fn untar(archive: &Path, into: &Path) {
    let status = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success());
}

fn readelf(args: &[&str], path: &Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn each_binary_works_inside_the_image_as_uid_65532() {
    if let Some(why) = unavailable() {
        return skip("each_binary_works_inside_the_image_as_uid_65532", &why);
    }
    let image = sidecars_image();
    for binary in BINARIES {
        let version = docker_ok(&["run", "--rm", &image, binary, "--version"]);
        assert_eq!(
            version.trim(),
            format!("{binary} {}", env!("CARGO_PKG_VERSION"))
        );
    }
    let app = Daemon::start("stand-in", &["--listen", "127.0.0.1:0"]);
    let url = format!("http://{}/known-value", app.addr);

    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        &image,
        "ready-check",
        "--http",
        &url,
        "--json",
        "/value == 5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("ok {url}\n"));

    let flush = format!("http://{}/flush_queues", app.addr);
    docker_ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        &image,
        "every",
        "100ms",
        "--count",
        "2",
        &flush,
    ]);
    assert!(get(&app.addr, "/stats").1.contains("\"flushes\": 2"));

    let logs = tempdir("image-logs");
    std::fs::write(logs.join("app.log"), "a\nb\nc\n").unwrap();
    let mount = format!("{}:/logs:ro", logs.display());
    let counted = docker_ok(&[
        "run",
        "--rm",
        "-v",
        &mount,
        &image,
        "peerlog-count",
        "--once",
        "--root",
        "/logs",
        "/app.log",
    ]);
    assert_eq!(
        counted.trim(),
        "{\"lines\":3,\"matches\":{},\"path\":\"/app.log\"}"
    );

    let exporter = Container::run(
        "exporter",
        &[
            "--network",
            "host",
            &image,
            "latency-exporter",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "100ms",
            "--target",
            &format!("app={url}"),
        ],
    );
    let line = exporter.wait_log("msg=serving");
    let addr = sidecars_tests::field(&line, "addr").unwrap().to_string();
    wait_for_sample(&addr, "probe_success{target=\"app\"}", |v| v == 1.0);
    let status = std::fs::read_to_string(format!("/proc/{}/status", exporter.host_pid())).unwrap();
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t65532\t")),
        "{status}"
    );
    assert!(proc_status_value(exporter.host_pid(), "VmRSS:") < 4096);
}

#[test]
fn the_arm64_binaries_run_under_qemu() {
    let qemu = "qemu-aarch64-static";
    if Command::new(qemu).arg("--version").output().is_err() {
        return skip(
            "the_arm64_binaries_run_under_qemu",
            "qemu-user-static is not installed",
        );
    }
    let dir = sidecars_tests::target_dir().join("aarch64-unknown-linux-musl/release");
    if !dir.join("every").exists() {
        return skip(
            "the_arm64_binaries_run_under_qemu",
            "no arm64 build (scripts/build-release aarch64-unknown-linux-musl)",
        );
    }
    for binary in BINARIES {
        let out = Command::new(qemu)
            .arg(dir.join(binary))
            .arg("--version")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{binary}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{binary} {}", env!("CARGO_PKG_VERSION"))
        );
        assert!(readelf(&["-hW"], &dir.join(binary)).contains("AArch64"));
    }
}
