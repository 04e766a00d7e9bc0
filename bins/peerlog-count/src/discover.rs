//! Finding the main container's filesystem. With `shareProcessNamespace`,
//! every container's processes are in one process table, and
//! `/proc/PID/root` is each one's root directory. The peer is a process
//! whose root is not ours (by device and inode) and in which PATH exists;
//! the pause container (PID 1) has no log, so it is never picked.

use crate::in_root::{FileId, Problem, Root};
use common::log::{self, Outage};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Which process to follow (`--peer`).
#[derive(Clone, Debug)]
pub enum PeerChoice {
    Auto,
    Pid(u32),
    Comm(String),
}

pub struct Peer {
    pub pid: u32,
    /// The process's start time (`/proc/PID/stat`): with the PID, its
    /// identity, so that a reused PID is a new discovery, not a silent switch.
    pub started: Option<u64>,
    pub comm: String,
    /// `PROC/PID/root`, held open; the log is resolved inside it.
    pub root: Root,
    pub root_dir: PathBuf,
}

pub enum Found {
    One(Peer),
    /// Nothing yet; `denied` lists PIDs whose root we may not read, with
    /// their command; `others` counts the foreign roots we could read.
    None {
        denied: Vec<(u32, String)>,
        others: usize,
    },
    /// Several distinct roots have PATH: the user must pick one.
    Ambiguous(Vec<Peer>),
}

/// Scans `proc` for the process whose root holds `path`: PATH resolves
/// inside that root, or is there as something that is not a log (a FIFO, a
/// link to standard output), so that its message can be given.
pub fn discover(proc: &Path, path: &Path, choice: &PeerChoice) -> Found {
    let ours = Root::open(Path::new("/")).ok().map(|root| root.id);
    let mut denied = Vec::new();
    let mut others = 0;
    // Candidates by root: several processes of one container share a root.
    let mut roots: BTreeMap<FileId, Peer> = BTreeMap::new();
    for pid in pids(proc) {
        if let PeerChoice::Pid(wanted) = choice {
            if pid != *wanted {
                continue;
            }
        }
        let root_dir = proc.join(pid.to_string()).join("root");
        let root = match Root::open(&root_dir) {
            Ok(root) => root,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                denied.push((pid, comm(proc, pid)));
                continue;
            }
            Err(_) => continue, // exited meanwhile, or a kernel thread
        };
        if Some(root.id) == ours || roots.contains_key(&root.id) {
            continue;
        }
        others += 1;
        let comm = comm(proc, pid);
        if let PeerChoice::Comm(wanted) = choice {
            if comm != *wanted {
                continue;
            }
        }
        match root.locate(path) {
            Ok(_) => {}
            Err(problem) if problem.is_there() => {}
            Err(Problem::Denied) => {
                denied.push((pid, comm.clone()));
                continue;
            }
            Err(_) => continue,
        }
        let peer = Peer {
            pid,
            started: start_time(proc, pid),
            comm,
            root,
            root_dir,
        };
        roots.insert(peer.root.id, peer);
    }
    let mut peers: Vec<Peer> = roots.into_values().collect();
    match peers.len() {
        0 => Found::None { denied, others },
        1 => Found::One(peers.remove(0)),
        _ => {
            peers.sort_by_key(|p| p.pid);
            Found::Ambiguous(peers)
        }
    }
}

/// True while `peer` is the same process (PID and start time) with the same
/// root: not exited, not restarted, its PID not reused.
pub fn still_there(proc: &Path, peer: &Peer) -> bool {
    use std::os::unix::fs::MetadataExt;
    start_time(proc, peer.pid) == peer.started
        && std::fs::metadata(&peer.root_dir).is_ok_and(|m| (m.dev(), m.ino()) == peer.root.id)
}

/// Field 22 of `/proc/PID/stat`, after the command, which may hold spaces
/// and parentheses.
fn start_time(proc: &Path, pid: u32) -> Option<u64> {
    start_time_in(&std::fs::read(proc.join(pid.to_string()).join("stat")).ok()?)
}

/// The start time of a `/proc/PID/stat` text; the command is the peer's to
/// choose, so anything may stand between the parentheses.
fn start_time_in(stat: &[u8]) -> Option<u64> {
    let after_comm = &stat[stat.iter().rposition(|&b| b == b')')? + 1..];
    std::str::from_utf8(after_comm)
        .ok()?
        .split_ascii_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Where the log is read: a fixed `--root`, or the peer that discovery
/// found; and what was last said about it, so that each state is logged
/// once, not each interval.
pub struct Source {
    fixed: Option<Root>,
    proc: PathBuf,
    path: PathBuf,
    choice: PeerChoice,
    pub peer: Option<Peer>,
    /// The PIDs whose root we may not read, folded as an outage.
    denied: Outage,
    /// `--wait-for-peer`, and since when no peer has been found (None
    /// while there is one), and whether the wait was said.
    wait_for_peer: Duration,
    waiting_since: Option<Instant>,
    said_waiting: bool,
    /// The log missing or unreadable, folded as an outage.
    outage: Outage,
}

impl Source {
    pub fn new(fixed: Option<Root>, proc: &Path, path: &Path, choice: &PeerChoice) -> Source {
        Source {
            fixed,
            proc: proc.to_path_buf(),
            path: path.to_path_buf(),
            choice: choice.clone(),
            peer: None,
            denied: Outage::new(),
            outage: Outage::new(),
            wait_for_peer: Duration::from_secs(30),
            waiting_since: None,
            said_waiting: false,
        }
    }

    pub fn waiting_for_peer(mut self, wait: Duration) -> Source {
        self.wait_for_peer = wait;
        self
    }

    /// No peer yet, and not for longer than `--wait-for-peer`: waiting, as
    /// at every Pod start, where native side-cars come before the app.
    fn waiting(&self) -> bool {
        self.fixed.is_none()
            && self.peer.is_none()
            && self
                .waiting_since
                .is_none_or(|since| since.elapsed() < self.wait_for_peer)
    }

    /// Of the processes whose root we may not read, those that could be
    /// the one `--peer` asks for: the named PID or command; with `auto`,
    /// any, but only while no other container's root could be read (one
    /// that could, without the log, points at the log, not at permissions).
    fn could_be_the_peer(&self, denied: Vec<(u32, String)>, others: usize) -> Vec<u32> {
        denied
            .into_iter()
            .filter(|(pid, comm)| match &self.choice {
                PeerChoice::Pid(wanted) => pid == wanted,
                PeerChoice::Comm(wanted) => comm == wanted,
                PeerChoice::Auto => others == 0,
            })
            .map(|(pid, _)| pid)
            .collect()
    }

    /// The root to read PATH in: `--root`, or the current peer's, discovering
    /// one when there is none or it is gone. Err lists the candidates when
    /// several roots hold PATH.
    pub fn root(&mut self) -> Result<Option<&Root>, String> {
        if self.fixed.is_some() {
            return Ok(self.fixed.as_ref());
        }
        if let Some(peer) = &self.peer {
            if !still_there(&self.proc, peer) {
                log::warn(
                    "peer gone; discovering again",
                    &[("pid", &peer.pid), ("comm", &peer.comm)],
                );
                self.peer = None;
            }
        }
        if self.peer.is_none() {
            match discover(&self.proc, &self.path, &self.choice) {
                Found::One(peer) => {
                    self.waiting_since = None;
                    self.said_waiting = false;
                    log::info(
                        "peer found",
                        &[
                            ("pid", &peer.pid),
                            ("comm", &peer.comm),
                            ("root", &peer.root_dir.display()),
                        ],
                    );
                    self.peer = Some(peer);
                }
                Found::Ambiguous(peers) => {
                    let list: Vec<String> = peers
                        .iter()
                        .map(|p| format!("{} ({})", p.pid, p.comm))
                        .collect();
                    return Err(list.join(", "));
                }
                Found::None { denied, others } => {
                    self.waiting_since.get_or_insert_with(Instant::now);
                    let unreadable = denied.len();
                    let suspects = self.could_be_the_peer(denied, others);
                    if self.waiting() {
                        if !self.said_waiting {
                            self.said_waiting = true;
                            let peer = match &self.choice {
                                PeerChoice::Auto => "auto".to_string(),
                                PeerChoice::Pid(pid) => pid.to_string(),
                                PeerChoice::Comm(name) => format!("comm:{name}"),
                            };
                            let wait = common::duration::format(self.wait_for_peer);
                            log::info(
                                "waiting for the app: no process has the log yet",
                                &[
                                    ("path", &self.path.display()),
                                    ("peer", &peer),
                                    ("unreadable", &unreadable),
                                    ("wait_for_peer", &wait),
                                ],
                            );
                        }
                    } else if !suspects.is_empty() {
                        self.report_denied(&suspects);
                    } else {
                        self.denied.succeeded("roots readable again", &[]);
                    }
                }
            }
        }
        Ok(self.peer.as_ref().map(|peer| &peer.root))
    }

    pub fn peer_pid(&self) -> Option<u32> {
        self.peer.as_ref().map(|p| p.pid)
    }

    fn report_denied(&mut self, denied: &[u32]) {
        // A Pod's table is short; a whole host's is not: name a few.
        let mut pids: Vec<String> = denied.iter().take(10).map(u32::to_string).collect();
        if denied.len() > 10 {
            pids.push(format!("and {} more", denied.len() - 10));
        }
        // The PIDs come and go; the problem is the same one.
        let pids = pids.join(",");
        self.denied.say(
            log::Level::Error,
            "permission denied reading /proc/PID/root: run as the main container's UID, or as root with the SYS_PTRACE capability",
            &[("pids", &pids)],
            "permission denied",
        );
    }

    /// Says the failures folded since their last line: at exit.
    pub fn flush_log(&mut self) {
        self.denied.flush();
        self.outage.flush();
    }

    /// Logs how this interval went: a problem (the log missing or
    /// unreadable, with the reason) when it starts or changes and at most
    /// once a minute while it lasts, and its end once.
    pub fn note(&mut self, read: &Result<(), Problem>) {
        // Waiting for the app is said once, at info, by `root`.
        if read.is_err() && self.waiting() {
            return;
        }
        let path = self.path.display();
        match read {
            Ok(()) => self.outage.succeeded("log found", &[("path", &path)]),
            Err(problem) => {
                let reason = problem.to_string();
                let msg = match problem {
                    Problem::Absent => "log not found",
                    _ => "cannot follow the log",
                };
                let peer = if self.fixed.is_none() && self.peer.is_none() {
                    "none yet"
                } else {
                    "found"
                };
                self.outage.failed(
                    msg,
                    &[("path", &path), ("peer", &peer)],
                    ("reason", &reason),
                );
            }
        }
    }
}

/// Numeric entries of the process table, ascending.
fn pids(proc: &Path) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir(proc)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

fn comm(proc: &Path, pid: u32) -> String {
    std::fs::read_to_string(proc.join(pid.to_string()).join("comm"))
        .map(|c| c.trim_end().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// A command of any bytes, parentheses and spaces included, and the
        /// start time is still field 22; arbitrary bytes are read or refused.
        #[test]
        fn the_start_time_is_found_whatever_the_command(
            comm in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20),
            started in proptest::prelude::any::<u64>(),
            junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let fields: Vec<String> = (3..22).map(|n| n.to_string()).collect();
            let stat = [
                &b"42 ("[..],
                &comm,
                format!(") S {} {started} 1 2\n", fields[1..].join(" ")).as_bytes(),
            ]
            .concat();
            proptest::prop_assert_eq!(start_time_in(&stat), Some(started));
            let _ = start_time_in(&junk);
        }
    }

    /// A fake process table: PID -> (root directory, comm).
    fn fake_proc(name: &str, entries: &[(u32, &Path, &str)]) -> PathBuf {
        let proc =
            std::env::temp_dir().join(format!("peerlog-discover-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&proc);
        for (pid, root, comm) in entries {
            let dir = proc.join(pid.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            symlink(root, dir.join("root")).unwrap();
            std::fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
        }
        proc
    }

    fn container(name: &str, with_log: bool) -> PathBuf {
        let root = std::env::temp_dir().join(format!("peerlog-root-{}-{name}", std::process::id()));
        std::fs::create_dir_all(root.join("var/log")).unwrap();
        if with_log {
            std::fs::write(root.join("var/log/app.log"), "x\n").unwrap();
        }
        root
    }

    #[test]
    fn the_start_time_is_read_after_a_command_with_spaces_and_parentheses() {
        let proc = fake_proc("stat", &[(9, Path::new("/"), "x")]);
        let stat = "9 (a) b (c) S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0\n";
        std::fs::write(proc.join("9/stat"), stat).unwrap();
        assert_eq!(start_time(&proc, 9), Some(123456));
        assert_eq!(start_time(&proc, 10), None);
        assert!(start_time(Path::new("/proc"), std::process::id()).is_some());
    }

    #[test]
    fn the_pause_root_and_our_own_root_are_never_picked() {
        let pause = container("pause", false);
        let app = container("app", true);
        let proc = fake_proc(
            "one",
            &[
                (1, &pause, "pause"),
                (7, Path::new("/"), "peerlog-count"),
                (12, &app, "app"),
                (13, &app, "worker"),
            ],
        );
        match discover(&proc, Path::new("/var/log/app.log"), &PeerChoice::Auto) {
            Found::One(peer) => assert_eq!((peer.pid, peer.comm.as_str()), (12, "app")),
            _ => panic!("not one peer"),
        }
    }

    #[test]
    fn no_peer_yet_and_two_candidates() {
        let pause = container("pause2", false);
        let proc = fake_proc("none", &[(1, &pause, "pause")]);
        assert!(matches!(
            discover(&proc, Path::new("/var/log/app.log"), &PeerChoice::Auto),
            Found::None { denied, .. } if denied.is_empty()
        ));
        let a = container("a", true);
        let b = container("b", true);
        let proc = fake_proc(
            "two",
            &[(1, &pause, "pause"), (20, &a, "nginx"), (30, &b, "app")],
        );
        match discover(&proc, Path::new("/var/log/app.log"), &PeerChoice::Auto) {
            Found::Ambiguous(peers) => {
                assert_eq!(peers.iter().map(|p| p.pid).collect::<Vec<_>>(), [20, 30])
            }
            _ => panic!("not ambiguous"),
        }
        let by_comm = discover(
            &proc,
            Path::new("/var/log/app.log"),
            &PeerChoice::Comm("app".into()),
        );
        assert!(matches!(by_comm, Found::One(ref p) if p.pid == 30));
        let by_pid = discover(&proc, Path::new("/var/log/app.log"), &PeerChoice::Pid(20));
        assert!(matches!(by_pid, Found::One(ref p) if p.pid == 20));
    }
}
