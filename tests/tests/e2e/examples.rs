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

/// kubernetes-validate --strict accepts `file` for Kubernetes `version`,
/// with no warning; `shown` is printed beside its complaint.
fn validates(file: &Path, version: &str, shown: &str) {
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "-k", version])
        .arg(file)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.contains("passed") && !said.contains("WARN"),
        "{}: {said}\n{shown}",
        file.display()
    );
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
            validates(&file, version, "");
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

/// `kubectl kustomize DIR` (kubectl carries kustomize), as YAML text; None
/// when kubectl is not installed.
fn kustomize(dir: &Path) -> Option<String> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

fn kustomize_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/kustomize")
}

/// Renders a kustomization and returns its one Deployment, validated
/// against the schemas as the hand-written examples are.
fn rendered_deployment(dir: &Path, test: &str) -> Option<Value> {
    let Some(text) = kustomize(dir) else {
        skip(test, "kubectl (which carries kustomize) is not installed");
        return None;
    };
    let file = tempdir("kustomized").join("rendered.yaml");
    std::fs::write(&file, &text).unwrap();
    let Some(docs) = documents(&file) else {
        skip(test, "python3 with yaml is not installed");
        return None;
    };
    if Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .is_ok()
    {
        for version in ["1.29.0", "1.37.0"] {
            validates(&file, version, &text);
        }
    } else {
        skip(
            test,
            "kubernetes-validate is not installed: rendered, not validated",
        );
    }
    assert_eq!(
        docs.len(),
        1,
        "one Deployment, the values never rendered:\n{text}"
    );
    assert_eq!(docs[0]["kind"], "Deployment");
    Some(docs.into_iter().next().unwrap())
}

/// The example overlay adds two side-cars to the plain app with components,
/// and renders the hand-written Deployment wherever the two overlap: each
/// side-car it adds, the app container with its probe wired, and every
/// other field of the Pod. Only the side-cars it does not add differ.
#[test]
fn the_kustomize_overlay_renders_the_hand_written_deployment() {
    let test = "the_kustomize_overlay_renders_the_hand_written_deployment";
    let Some(rendered) = rendered_deployment(&kustomize_dir().join("overlay"), test) else {
        return;
    };
    let by_hand = documents(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/deployment-httpget-probe.yaml"),
    )
    .unwrap()
    .remove(0);
    assert_eq!(rendered["metadata"], by_hand["metadata"]);
    assert_eq!(
        rendered["spec"]["template"]["metadata"],
        by_hand["spec"]["template"]["metadata"]
    );
    let (ours, theirs) = (pod_spec(&rendered).unwrap(), pod_spec(&by_hand).unwrap());
    let mut added = Vec::new();
    for (key, value) in ours.as_object().unwrap() {
        if key != "initContainers" {
            assert_eq!(value, &theirs[key], "the Pod's {key}");
            continue;
        }
        for container in value.as_array().unwrap() {
            let name = container["name"].as_str().unwrap();
            let same = theirs["initContainers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .unwrap_or_else(|| panic!("{name} is not in the hand-written Deployment"));
            assert_eq!(container, same, "the side-car {name}");
            added.push(name.to_string());
        }
    }
    added.sort();
    assert_eq!(added, ["ready-check", "sweep"]);
    // What the overlay leaves out: peerlog-count's shared process namespace.
    let missing: Vec<&String> = theirs
        .as_object()
        .unwrap()
        .keys()
        .filter(|key| ours.get(key.as_str()).is_none())
        .collect();
    assert_eq!(missing, ["shareProcessNamespace"]);
}

/// Each component alone, on the plain app, renders a Deployment that
/// validates, with its side-car and what it needs.
#[test]
fn each_kustomize_component_renders_alone() {
    let test = "each_kustomize_component_renders_alone";
    let components = std::fs::read_dir(kustomize_dir().join("components")).unwrap();
    let mut names: Vec<String> = components
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let sidecars = sidecars_tests::sidecars();
    assert_eq!(names, sidecars, "a component per side-car");
    let values = std::fs::read_to_string(kustomize_dir().join("overlay/values.yaml")).unwrap()
        + "  latency-exporter-target: app=http://127.0.0.1:8080/known-value\n"
        + "  every-interval: 60s\n  every-url: http://127.0.0.1:8080/flush_queues\n"
        + "  peerlog-path: /var/log/app/app.log\n";
    for name in names {
        let dir = tempdir(&format!("kustomize-{name}"));
        std::fs::write(dir.join("values.yaml"), &values).unwrap();
        // kustomize takes no absolute path: from the temporary directory up
        // to / and down again.
        let up = "../".repeat(dir.canonicalize().unwrap().components().count() - 1);
        let from_root = |path: PathBuf| {
            let path = path.canonicalize().unwrap();
            format!("{up}{}", path.strip_prefix("/").unwrap().display())
        };
        let app = from_root(kustomize_dir().join("app"));
        let component = from_root(kustomize_dir().join("components").join(&name));
        std::fs::write(
            dir.join("kustomization.yaml"),
            format!("resources:\n  - {app}\n  - values.yaml\ncomponents:\n  - {component}\n"),
        )
        .unwrap();
        let Some(rendered) = rendered_deployment(&dir, test) else {
            return;
        };
        let spec = pod_spec(&rendered).unwrap();
        let added = spec["initContainers"].as_array().unwrap();
        assert_eq!(added.len(), 1, "{name}");
        assert_eq!(added[0]["name"], name.as_str());
        assert_eq!(
            added[0]["restartPolicy"], "Always",
            "{name}: a native side-car"
        );
        let command = added[0]["command"].as_array().unwrap();
        assert_eq!(command[0], name.as_str());
        assert!(
            command
                .iter()
                .all(|a| a.as_str().unwrap().chars().any(|c| !c.is_ascii_uppercase())),
            "{name}: a placeholder left in {command:?}"
        );
        assert_eq!(
            spec.get("shareProcessNamespace").is_some(),
            name == "peerlog-count",
            "{name}"
        );
    }
}
