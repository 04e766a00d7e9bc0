//! Helpers for the end-to-end tests: run the built binaries, wait on
//! conditions with deadlines, and stand up real targets on 127.0.0.1.

pub mod docker;
pub mod hostile;
pub mod hostile_servers;
pub mod logs;
pub mod prom;
pub mod prometheus;
pub mod rng;
pub mod target;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The workspace's target directory, where this test executable was built.
pub fn target_dir() -> PathBuf {
    let mut dir = std::env::current_exe().expect("current exe");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.pop(); // the profile's directory
    dir
}

pub use common::cli::flags_in;

/// The flags `program --help` lists.
pub fn help_flags(program: &str) -> std::collections::BTreeSet<String> {
    let out = Command::new(bin(program))
        .arg("--help")
        .output()
        .expect("--help");
    assert!(out.status.success(), "{program} --help");
    flags_in(&String::from_utf8_lossy(&out.stdout))
}

/// The shipped side-cars: the crates in `bins/`, sorted, as
/// `scripts/sidecars` lists them. The one list; every test takes it here.
pub fn sidecars() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("bins"))
        .expect("bins/")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            path.join("Cargo.toml")
                .is_file()
                .then(|| path.file_name()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no side-car crate in bins/");
    names
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Runs `command` in the repository, once per distinct call.
fn run_once(
    cell: &'static std::sync::OnceLock<Result<(), String>>,
    command: impl FnOnce() -> Command,
) -> Result<(), String> {
    cell.get_or_init(|| {
        let out = command()
            .current_dir(repo_root())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    })
    .clone()
}

/// A workspace binary (debug build), built on first use, so that `cargo
/// test` on a fresh clone needs no step before it.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let cargo = || {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--workspace", "--bins"]);
        cargo
    };
    if let Err(e) = run_once(&BUILT, cargo) {
        panic!("cargo build --workspace --bins failed: {e}");
    }
    target_dir().join("debug").join(name)
}

/// A static (musl, release) binary, as a chroot'ed peer needs: built on
/// first use where the musl target is installed. Callers skip when it is
/// not there.
pub fn static_bin(name: &str) -> PathBuf {
    const TARGET: &str = "x86_64-unknown-linux-musl";
    static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    // Through the release script, so that its flags (and so its build
    // cache) are the ones of the images.
    let _ = run_once(&BUILT, || {
        let mut script = Command::new(repo_root().join("scripts/build-release"));
        script.arg(TARGET);
        script
    });
    target_dir().join(TARGET).join("release").join(name)
}

/// Makes closing `stream` send a reset (RST) rather than a FIN: SO_LINGER
/// with a zero timeout.
pub fn reset_on_close(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket, and a plain struct of the size given.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt SO_LINGER");
}

/// A copy of the executable at `path` in a world-readable directory of its
/// own, for a test that runs it as another user: the checkout may sit
/// where that user cannot enter (a 0700 home such as /root, any `mktemp -d`).
pub fn reachable_copy(path: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir("reachable");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.join(path.file_name().expect("an executable's name"));
    std::fs::copy(path, &copy).unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// Polls `condition` until it holds or `timeout` passes, then panics naming `what`.
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What a finished run left behind.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// Peak resident set in KiB, the program's own (-1 if unknown).
    pub max_rss_kib: i64,
}

/// Runs a tool a test needs (git, tar, qemu, a script) to completion and
/// returns its output; when it fails, the test fails with its command
/// line, its exit status and what it printed.
pub fn output_ok(command: &mut Command) -> std::process::Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a workspace binary to completion (killed after 30 s).
pub fn run(name: &str, args: &[&str]) -> Ran {
    run_command(Command::new(bin(name)).args(args))
}

/// Runs `command` to completion (killed after 30 s), through `peak-rss` so
/// that its peak resident set is its own (see src/bin/peak-rss.rs).
pub fn run_command(command: &mut Command) -> Ran {
    let measured = tempdir("peak-rss").join("kib");
    let mut wrapped = Command::new(bin("peak-rss"));
    wrapped
        .arg(command.get_program())
        .args(command.get_args())
        .env("PEAK_RSS_OUT", &measured);
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        wrapped.current_dir(dir);
    }
    let started = Instant::now();
    let mut child = spawn_piped(&mut wrapped);
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let (status, _) = wait4_with_deadline(&mut child, Duration::from_secs(30));
    let elapsed = started.elapsed();
    let max_rss_kib = std::fs::read_to_string(&measured)
        .ok()
        .and_then(|kib| kib.trim().parse().ok())
        .unwrap_or(-1);
    let ran = Ran {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        elapsed,
        max_rss_kib,
    };
    if let Some(name) = side_car(command) {
        let lines: Vec<String> = ran.stderr.lines().map(str::to_owned).collect();
        logs::check_stderr(&name, &args_of(command), &lines);
    }
    ran
}

/// The side-car a command runs, if it runs one of ours directly: its
/// stderr is then checked line by line (see `logs`).
fn side_car(command: &Command) -> Option<String> {
    let program = std::path::Path::new(command.get_program());
    let name = program.file_name()?.to_str()?;
    (program.starts_with(target_dir()) && sidecars().iter().any(|s| s == name))
        .then(|| name.to_string())
}

fn args_of(command: &Command) -> Vec<String> {
    command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Spawns with no stdin and both outputs piped to us.
fn spawn_piped(command: &mut Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

fn wait4_with_deadline(child: &mut Child, timeout: Duration) -> (ExitStatus, i64) {
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + timeout;
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data that wait4 fills.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = unsafe { libc::wait4(child.id() as i32, &mut status, libc::WNOHANG, &mut usage) };
        if pid > 0 {
            return (ExitStatus::from_raw(status), usage.ru_maxrss);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A long-running workspace binary, killed when dropped. Its stderr lines
/// are collected so tests can wait for a log event.
pub struct Daemon {
    pub child: Child,
    /// The command line, for failures that name it.
    pub command: String,
    log: Arc<Mutex<Vec<String>>>,
    /// The threads collecting stdout and stderr, done at the pipes' end.
    collectors: Vec<std::thread::JoinHandle<()>>,
    /// The address it listens on, if it listens.
    pub addr: String,
    /// The side-car it is, with its arguments, when its stderr is checked.
    checked: Option<(String, Vec<String>)>,
}

impl Daemon {
    /// Starts `name` and, when it listens, waits until it does.
    pub fn start(name: &str, args: &[&str]) -> Daemon {
        Daemon::start_command(
            Command::new(bin(name)).args(args),
            args.iter().any(|a| *a == "--listen" || *a == "--serve"),
        )
    }

    /// Starts `name` listening on a free loopback port, with `args` after.
    pub fn listening(name: &str, args: &[&str]) -> Daemon {
        let mut all = vec!["--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Daemon::start(name, &all)
    }

    pub fn start_command(command: &mut Command, listens: bool) -> Daemon {
        let line = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let checked = side_car(command).map(|name| (name, args_of(command)));
        let mut child = spawn_piped(command);
        let log = Arc::new(Mutex::new(Vec::new()));
        let collectors = vec![
            collect_lines(child.stderr.take().unwrap(), log.clone(), ""),
            collect_lines(child.stdout.take().unwrap(), log.clone(), "stdout: "),
        ];
        let mut daemon = Daemon {
            child,
            command: line,
            log,
            collectors,
            addr: String::new(),
            checked,
        };
        if listens {
            daemon.addr = daemon.wait_listening();
        }
        daemon
    }

    /// Waits (10 s at most) until the program, or a process under it (as
    /// under unshare), has a listening TCP socket, and returns its address.
    /// Read from /proc, not from the log: whatever the log's format and
    /// level, and an address is never taken from another program's line.
    fn wait_listening(&mut self) -> String {
        self.wait_for("listening", |daemon| {
            listening_addr(daemon.pid()).or_else(|| daemon.serving_addr())
        })
    }

    /// The address of a `serving` line, logfmt or JSON: a program that
    /// has already exited (as `every --max-failures 1` may) has no socket
    /// left in /proc to read it from.
    fn serving_addr(&self) -> Option<String> {
        self.log.lock().unwrap().iter().find_map(|line| {
            let line = logs::parse_line(line, line.starts_with('{')).ok()?;
            (line["msg"] == "serving").then(|| line.get("addr").cloned())?
        })
    }

    /// Waits (10 s at most) until `found` finds something. If the program
    /// exits first, or the time runs out, the failure names the program,
    /// its command line, its exit status and its whole log (the collectors
    /// are let finish first, so no line is cut off).
    fn wait_for<T>(&mut self, what: &str, found: impl Fn(&Daemon) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(value) = found(self) {
                return value;
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() >= deadline {
                if exited.is_some() {
                    // Written just before the exit and not collected yet:
                    // read the pipes to their end, and look once more.
                    self.finish_collecting(Duration::from_secs(2));
                    if let Some(value) = found(self) {
                        return value;
                    }
                }
                panic!(
                    "{} before {what}\n  command: {}\n  log:\n{}",
                    match exited {
                        Some(status) => format!("exited with {status}"),
                        None => "still running after 10 s".to_string(),
                    },
                    self.command,
                    self.log()
                        .iter()
                        .map(|l| format!("    {l}\n"))
                        .collect::<String>()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The log so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (10 s at most) for a log line containing `needle` and returns
    /// it; fails as `wait_for` says.
    pub fn wait_log(&mut self, needle: &str) -> String {
        self.wait_for(&format!("logging {needle:?}"), |daemon| {
            daemon
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
                .cloned()
        })
    }

    /// Waits (up to `timeout`) for the collectors to read the pipes to
    /// their end, after the program exited.
    pub fn finish_collecting(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.collectors.iter().any(|c| !c.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Waits for exit; returns the exit code and how long it took. The log
    /// is whole afterwards: the collectors have read the pipes to the end.
    pub fn wait_exit(&mut self, timeout: Duration) -> (i32, Duration) {
        let started = Instant::now();
        let (status, _) = wait4_with_deadline(&mut self.child, timeout);
        let took = started.elapsed();
        self.finish_collecting(Duration::from_secs(2));
        (status.code().unwrap_or(-1), took)
    }

    /// Current resident set in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        proc_status_value(self.pid(), "VmRSS:")
    }
}

/// Appends each line read from `pipe` to `sink`, on a thread of its own.
fn collect_lines(
    pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<String>>>,
    prefix: &'static str,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        // Lossy: a line of any bytes is kept, not the rest of the log lost.
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            let text = String::from_utf8_lossy(&line);
            sink.lock()
                .unwrap()
                .push(format!("{prefix}{}", text.trim_end_matches('\n')));
            line.clear();
        }
    })
}

/// Starts a workspace binary as PID 1 of a new PID namespace (`unshare`),
/// where the kernel ignores signals the program does not handle itself.
/// Returns the `unshare` process and the program's PID, or None when this
/// machine cannot (not root, or no unshare).
pub fn start_as_pid_1(name: &str, args: &[&str], listens: bool) -> Option<(Daemon, i32)> {
    if !is_root() || Command::new("unshare").arg("--version").output().is_err() {
        return None;
    }
    let unshare = Daemon::start_command(
        Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child"])
            .arg(bin(name))
            .args(args),
        listens,
    );
    // The program is unshare's only child.
    let pid = only_child(unshare.pid());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.trim_end().ends_with("\t1")),
        "not PID 1: {status}"
    );
    Some((unshare, pid))
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let (Some((name, args)), false) = (self.checked.take(), std::thread::panicking()) {
            self.finish_collecting(Duration::from_secs(2));
            let stderr: Vec<String> = self
                .log()
                .into_iter()
                .filter(|l| !l.starts_with("stdout: "))
                .collect();
            logs::check_stderr(&name, &args, &stderr);
        }
    }
}

/// The address of a listening TCP socket of `pid` or of a process under
/// it, from /proc/PID/fd and /proc/PID/net/tcp{,6}.
pub fn listening_addr(pid: i32) -> Option<String> {
    let mut pids = vec![pid];
    let mut i = 0;
    while i < pids.len() && i < 16 {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", pids[i]))
            .unwrap_or_default();
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok()),
        );
        i += 1;
    }
    pids.into_iter().find_map(listening_addr_of)
}

fn listening_addr_of(pid: i32) -> Option<String> {
    let sockets: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .filter_map(|entry| {
            let link = std::fs::read_link(entry.ok()?.path()).ok()?;
            let link = link.to_str()?;
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for row in text.lines().skip(1) {
            let cols: Vec<&str> = row.split_whitespace().collect();
            // local_address, st (0A: LISTEN), inode
            if cols.len() > 9 && cols[3] == "0A" && sockets.iter().any(|s| s == cols[9]) {
                return decode_proc_addr(cols[1]);
            }
        }
    }
    None
}

/// /proc/net/tcp's `0100007F:1F90` (or tcp6's 32 hex digits) as
/// `127.0.0.1:8080` (or `[::1]:8080`): each 4-byte word little-endian.
fn decode_proc_addr(text: &str) -> Option<String> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::new();
    for word in 0..ip.len() / 8 {
        let value = u32::from_str_radix(&ip[word * 8..word * 8 + 8], 16).ok()?;
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    Some(match bytes.len() {
        4 => format!(
            "{}:{port}",
            std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
        ),
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            format!("[{}]:{port}", std::net::Ipv6Addr::from(octets))
        }
        _ => return None,
    })
}

/// A number from /proc/PID/status, e.g. `VmRSS:` (in KiB) or
/// `voluntary_ctxt_switches:`; 0 when absent.
pub fn proc_status_value(pid: i32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The value of `key=` in a logfmt line (unquoted values only).
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// A plain HTTP/1.1 exchange with a fresh connection: (status, headers, body).
pub fn http(addr: &str, method: &str, path: &str) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let head = text
        .split_once("\r\n\r\n")
        .map_or(text.as_str(), |(head, _)| head);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // The body as its framing gives it: Go's servers (blackbox, Prometheus)
    // answer a large body chunked. A broken answer keeps its raw rest, for
    // the tests that look at broken answers.
    let body = match net::answer::read(net::answer::FromRead(&raw[..]), method == "HEAD", u64::MAX)
    {
        Ok((_, body)) => String::from_utf8_lossy(&body).into_owned(),
        Err(_) => text
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
            .to_string(),
    };
    Ok((status, head.to_string(), body))
}

/// GET `path` and return (status, body); panics on a connection error.
pub fn get(addr: &str, path: &str) -> (u16, String) {
    let (status, _, body) =
        http(addr, "GET", path).unwrap_or_else(|e| panic!("GET {addr}{path}: {e}"));
    (status, body)
}

/// True when this process can create namespaces and chroot (root).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A number unique within this test process, for temporary names.
pub fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A fresh temporary directory for one test.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sidecars-test-{}-{}-{name}",
        std::process::id(),
        unique()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `contents` to `path` and dates its mtime `age` ago: a file the
/// app left behind long since, for sweep and `--file --max-age`.
pub fn write_aged(path: &std::path::Path, contents: impl AsRef<[u8]>, age: Duration) {
    std::fs::write(path, contents).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - age)
        .unwrap();
}

/// A loopback address that no other socket on this machine will take, for
/// a program that cannot report the port it bound (ours log it: prefer port
/// 0), one restarted on the same address, or a target that must refuse.
///
/// A port handed out by binding port 0 and closing is in the ephemeral range,
/// where any connect or bind of another test (or another checkout's suite)
/// may take it before the program binds it: that made the whole-Pod test
/// flaky under load. So: a random address of 127.0.0.0/8 other than
/// 127.0.0.1 (connects to loopback take 127.0.0.1 as their source), and a
/// port below the kernel's ephemeral range (never handed out by the kernel;
/// our tests bind no wildcard address on fixed ports). Checked free by
/// binding it once.
pub fn free_loopback_addr() -> String {
    let ephemeral_low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.max(10_001));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ unique().wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut rng = rng::Rng::new(seed);
    for _ in 0..200 {
        let addr = format!(
            "127.{}.{}.{}:{}",
            1 + rng.below(254),
            rng.below(256),
            1 + rng.below(254),
            low + rng.below(u64::from(high - low)) as u16
        );
        if std::net::TcpListener::bind(&addr).is_ok() {
            return addr;
        }
    }
    panic!("no free loopback address below the ephemeral port range {ephemeral_low}");
}

/// Marks a test as skipped for a reason outside the code (no root, a tool
/// missing): printed, and listed by scripts/test at the end of the run.
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIPPED {test}: {reason}");
    if let Some(path) = std::env::var_os("SIDECARS_SKIPPED") {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{test}: {reason}");
        }
    }
}

/// CPU time a process has used so far, all its threads, from schedstat.
pub fn cpu_time(pid: i32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's tasks");
    let nanos: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// Each case (arguments, text) must exit 2 with one line on stderr that
/// contains the text: a usage error names the program, then gives the
/// `--help` hint; a failure after start (a directory missing, a bind
/// failure: no usage mistake) is one log line at level error with
/// `exit=2`. Never a panic.
pub fn assert_usage_errors(program: &str, cases: &[(&[&str], &str)]) {
    let hint = format!("Try '{program} --help' for more information.");
    for (args, want) in cases {
        let ran = run(program, args);
        assert_eq!(ran.code, 2, "{args:?}: {}", ran.stderr);
        let lines: Vec<&str> = ran.stderr.lines().collect();
        let logged = lines.len() == 1
            && logs::parse_line(lines[0], logs::wants_json(args)).is_ok_and(|line| {
                line["level"] == "error" && line["exit"] == "2" && line["msg"].contains(want)
            });
        let usage = lines
            .first()
            .is_some_and(|l| l.starts_with(&format!("{program}: ")) && l.contains(want))
            && (lines.len() == 1 || lines[1..] == [hint.as_str()]);
        assert!(logged || usage, "{args:?}: want {want:?} in {lines:?}");
        assert!(!ran.stderr.contains("panicked"), "{args:?}: {}", ran.stderr);
    }
}

/// `--help` exits 0 with at least two examples; `--version` prints NAME
/// VERSION, then the commit and the rest of the build.
pub fn assert_help_and_version(program: &str) {
    let help = run(program, &["--help"]);
    assert_eq!(help.code, 0);
    assert!(
        help.stdout.matches(&format!("\n  {program} ")).count() >= 2,
        "two examples: {}",
        help.stdout
    );
    let version = run(program, &["--version"]);
    assert_eq!(
        (
            version.code,
            version.stdout.lines().next().unwrap_or_default()
        ),
        (
            0,
            format!("{program} {}", env!("CARGO_PKG_VERSION")).as_str()
        )
    );
    assert!(version.stdout.contains("\ncommit: "), "{}", version.stdout);
}

/// The single child a process forked (as unshare and nsenter do), once it has.
pub fn only_child(pid: i32) -> i32 {
    let children = format!("/proc/{pid}/task/{pid}/children");
    let mut child = 0;
    wait_until("the forked child", Duration::from_secs(5), || {
        child = std::fs::read_to_string(&children)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0);
        child > 0
    });
    child
}

/// Whether `program` runs (`program ARG` can be started).
pub fn installed(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).output().is_ok()
}

/// The real blackbox exporter (Debian's) with `config` (YAML), listening
/// on a loopback address of its own: the exporter and that address; None
/// when it is not installed (scripts/setup installs it).
pub fn start_blackbox(config: &std::path::Path) -> Option<(Daemon, String)> {
    let blackbox = "prometheus-blackbox-exporter";
    if !installed(blackbox, "--version") {
        return None;
    }
    let listen = free_loopback_addr();
    let mut command = Command::new(blackbox);
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address={listen}"));
    let daemon = Daemon::start_command(&mut command, false);
    wait_until("blackbox to listen", Duration::from_secs(10), || {
        http(&listen, "GET", "/").is_ok()
    });
    Some((daemon, listen))
}
