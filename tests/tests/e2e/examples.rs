//! The manifests in examples/: valid against the Kubernetes schema, and every
//! side-car command in them parses and works against a stand-in.

use serde_json::Value;
use sidecars_tests::prom::wait_for_sample;
use sidecars_tests::{get, run, skip, tempdir, Daemon};
use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "examples missing in {}", dir.display());
    files
}

/// Every YAML document of a file, as JSON (through Python's yaml, which the
/// schema validator brings).
fn documents(path: &Path) -> Option<Vec<Value>> {
    let out = Command::new("python3")
        .args(["-c", "import sys, yaml, json; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))"])
        .arg(path)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn pod_spec(doc: &Value) -> Option<&Value> {
    doc.pointer("/spec/template/spec")
}

#[test]
fn every_manifest_validates_against_the_kubernetes_schema() {
    if Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(
            "every_manifest_validates_against_the_kubernetes_schema",
            "kubernetes-validate is not installed (pip install kubernetes-validate)",
        );
        return;
    }
    // The lowest version the manifests need (native side-cars: 1.29), and
    // the newest kubernetes-validate knows.
    for version in ["1.29.0", "1.37.0"] {
        for file in examples() {
            let docs = documents(&file).expect("YAML");
            if docs
                .iter()
                .all(|d| d["apiVersion"] == "monitoring.coreos.com/v1")
            {
                continue; // a CRD: checked against the Deployments below
            }
            let out = Command::new("kubernetes-validate")
                .args(["--strict", "-k", version])
                .arg(&file)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && said.contains("passed") && !said.contains("WARN"),
                "{}: {said}",
                file.display()
            );
        }
    }
}

#[test]
fn the_podmonitor_selects_the_deployments_and_their_ports() {
    let Some(docs) = examples()
        .iter()
        .map(|f| documents(f))
        .collect::<Option<Vec<_>>>()
    else {
        skip(
            "the_podmonitor_selects_the_deployments_and_their_ports",
            "python3 with yaml is not installed",
        );
        return;
    };
    let docs: Vec<Value> = docs.into_iter().flatten().collect();
    let monitor = docs
        .iter()
        .find(|d| d["kind"] == "PodMonitor")
        .expect("a PodMonitor");
    // Every Deployment is selected (matchLabels and matchExpressions' In),
    // and each has every port the PodMonitor scrapes.
    let selector = &monitor["spec"]["selector"];
    let selects = |labels: &Value| {
        let by_labels = selector["matchLabels"]
            .as_object()
            .is_none_or(|want| want.iter().all(|(k, v)| labels[k] == *v));
        let by_expressions = selector["matchExpressions"].as_array().is_none_or(|all| {
            all.iter().all(|e| {
                assert_eq!(e["operator"], "In", "only In is evaluated here: {e}");
                e["values"]
                    .as_array()
                    .unwrap()
                    .contains(&labels[e["key"].as_str().unwrap()])
            })
        });
        by_labels && by_expressions
    };
    let deployments: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Deployment").collect();
    assert!(deployments.len() >= 2, "{}", deployments.len());
    for deployment in deployments {
        let name = deployment["metadata"]["name"].as_str().unwrap_or("?");
        assert!(
            selects(&deployment["spec"]["template"]["metadata"]["labels"]),
            "the PodMonitor does not select Deployment {name}"
        );
        let spec = pod_spec(deployment).unwrap();
        let ports: Vec<String> = ["initContainers", "containers"]
            .iter()
            .flat_map(|k| spec[k].as_array().unwrap())
            .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        for endpoint in monitor["spec"]["podMetricsEndpoints"].as_array().unwrap() {
            let port = endpoint["port"].as_str().unwrap();
            assert!(
                ports.iter().any(|p| p == port),
                "PodMonitor port {port} is not in Deployment {name}: {ports:?}"
            );
        }
    }
    assert!(
        monitor["metadata"]["labels"]["release"].is_string(),
        "the label operator installs select PodMonitors by"
    );
}

/// Every command of ours in the manifests, with the container it is in.
fn sidecar_commands() -> Vec<(String, Vec<String>)> {
    let mut commands = Vec::new();
    for file in examples() {
        for doc in documents(&file).unwrap_or_default() {
            let Some(spec) = pod_spec(&doc) else { continue };
            for container in ["initContainers", "containers"]
                .iter()
                .flat_map(|k| spec[k].as_array().cloned().unwrap_or_default())
            {
                let name = format!(
                    "{}:{}",
                    file.file_name().unwrap().to_string_lossy(),
                    container["name"].as_str().unwrap()
                );
                let probes = ["readinessProbe", "livenessProbe", "startupProbe"]
                    .map(|p| container.pointer(&format!("/{p}/exec/command")).cloned());
                for command in std::iter::once(container.get("command").cloned())
                    .chain(probes)
                    .flatten()
                {
                    let argv: Vec<String> = command
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect();
                    let program = Path::new(&argv[0])
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .to_string();
                    if sidecars_tests::sidecars().contains(&program) {
                        commands.push((
                            name.clone(),
                            std::iter::once(program)
                                .chain(argv[1..].iter().cloned())
                                .collect(),
                        ));
                    }
                }
            }
        }
    }
    commands
}

#[test]
fn every_sidecar_command_in_the_manifests_runs_against_a_stand_in() {
    let commands = sidecar_commands();
    if commands.is_empty() {
        skip(
            "every_sidecar_command_in_the_manifests_runs_against_a_stand_in",
            "python3 with yaml is not installed",
        );
        return;
    }
    // The app as the manifests expect it, its log where they look for it.
    let root = tempdir("example-app");
    let log = root.join("var/log/app/app.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let app = Daemon::start(
        "stand-in",
        &["--listen", "127.0.0.1:0", "--log", log.to_str().unwrap()],
    );
    get(&app.addr, "/known-value");
    // The exec probe's emptyDir.
    let probe_dir = tempdir("example-probe");
    let mut programs_seen = std::collections::BTreeSet::new();
    for (container, argv) in commands {
        // The Pod's loopback app becomes the stand-in; ports become free ones.
        let mut args: Vec<String> = argv[1..]
            .iter()
            .map(|a| a.replace("127.0.0.1:8080", &app.addr))
            .map(|a| {
                if a == "/probe" {
                    probe_dir.to_str().unwrap().into()
                } else {
                    a
                }
            })
            .map(|a| {
                if a.starts_with(':') && a[1..].parse::<u16>().is_ok() {
                    "127.0.0.1:0".into()
                } else {
                    a
                }
            })
            .collect();
        // Intervals of seconds become 100 ms, so the series come at once.
        for at in 1..args.len() {
            if args[at - 1] == "--interval" {
                args[at] = "100ms".into();
            }
        }
        let program = argv[0].as_str();
        programs_seen.insert(program.to_string());
        if program == "sweep" {
            // The cache emptyDir becomes a directory of the app's root.
            let cache = root.join("var/cache/app");
            std::fs::create_dir_all(&cache).unwrap();
            for a in &mut args {
                if a == "/var/cache/app" {
                    *a = cache.to_str().unwrap().into();
                }
            }
        }
        if program == "peerlog-count" {
            // No shared process namespace here: read the app's root directly.
            args.insert(0, root.to_str().unwrap().into());
            args.insert(0, "--root".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let listens = args.contains(&"--listen") || args.contains(&"--serve");
        if !listens {
            let ran = run(program, &args);
            assert_eq!(
                ran.code, 0,
                "{container}: {argv:?}: {}{}",
                ran.stdout, ran.stderr
            );
            continue;
        }
        let mut daemon = Daemon::start(program, &args);
        match program {
            "ready-check" => assert_eq!(get(&daemon.addr, "/ready").0, 200, "{container}"),
            "latency-exporter" => {
                wait_for_sample(&daemon.addr, "probe_success{target=\"app\"}", |v| v == 1.0);
            }
            "every" => {
                daemon.wait_log("msg=run run=1 result=success");
            }
            "sweep" => {
                wait_for_sample(&daemon.addr, "sweep_tree_files", |v| v >= 0.0);
            }
            "peerlog-count" => {
                wait_for_sample(&daemon.addr, "peerlog_lines_total", |v| v >= 1.0);
                // The series examples/README.md shows, from requests the
                // app logs with their status.
                get(&app.addr, "/status?code=404");
                get(&app.addr, "/known-value");
                if args.contains(&"--by") {
                    for value in ["200", "404"] {
                        wait_for_sample(
                            &daemon.addr,
                            &format!("peerlog_lines_by_total{{by=\"status\",value=\"{value}\"}}"),
                            |v| v >= 1.0,
                        );
                    }
                }
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(
        programs_seen,
        sidecars_tests::sidecars().into_iter().collect(),
        "the manifests use every side-car"
    );
    assert!(
        probe_dir.join("ready-check").is_file(),
        "the exec-probe example's init container copies ready-check"
    );
}
