//! The Docker engine, for the tests that run the built images: containers
//! are removed when their guard drops, whatever the test's outcome.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The image tags scripts/build-image makes.
pub fn sidecars_image() -> String {
    format!("sidecars:{}", env!("CARGO_PKG_VERSION"))
}

pub fn stand_in_image() -> String {
    format!("sidecars-stand-in:{}", env!("CARGO_PKG_VERSION"))
}

pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

/// stdout of a docker command that must succeed.
pub fn docker_ok(args: &[&str]) -> String {
    let out = crate::output_ok(Command::new("docker").args(args));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Why the image tests cannot run here, if they cannot.
pub fn unavailable() -> Option<String> {
    let answers = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !answers {
        return Some("no Docker engine answers".into());
    }
    for image in [sidecars_image(), stand_in_image()] {
        if !docker(&["image", "inspect", &image]).status.success() {
            return Some(format!("image {image} is not built (scripts/build-image)"));
        }
    }
    None
}

/// A running container, removed on drop.
pub struct Container {
    pub name: String,
}

impl Container {
    /// `docker run -d --name NAME ARGS...`
    pub fn run(name: &str, args: &[&str]) -> Container {
        let name = format!("sidecars-test-{}-{name}", std::process::id());
        let _ = docker(&["rm", "-f", &name]);
        let mut all = vec!["run", "-d", "--name", &name];
        all.extend_from_slice(args);
        docker_ok(&all);
        Container { name }
    }

    pub fn logs(&self) -> String {
        let out = docker(&["logs", &self.name]);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    /// Waits (10 s at most) for a log line containing `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        let mut found = None;
        crate::wait_until(
            &format!("{needle:?} in {}'s log", self.name),
            Duration::from_secs(10),
            || {
                found = self
                    .logs()
                    .lines()
                    .find(|l| l.contains(needle))
                    .map(str::to_owned);
                found.is_some()
            },
        );
        found.unwrap()
    }

    /// The host address a container port is published on.
    pub fn published(&self, port: u16) -> String {
        docker_ok(&["port", &self.name, &port.to_string()])
            .lines()
            .next()
            .expect("a published port")
            .trim()
            .to_string()
    }

    /// The main process's PID as the host sees it.
    pub fn host_pid(&self) -> i32 {
        docker_ok(&["inspect", "-f", "{{.State.Pid}}", &self.name])
            .trim()
            .parse()
            .unwrap()
    }

    /// `docker stop` (SIGTERM, SIGKILL after 10 s): the exit code and how long it took.
    pub fn stop(&self) -> (i32, Duration) {
        let started = Instant::now();
        docker_ok(&["stop", "-t", "10", &self.name]);
        let took = started.elapsed();
        let code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &self.name])
            .trim()
            .parse()
            .unwrap();
        (code, took)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}
