//! Finding the main container's filesystem. With `shareProcessNamespace`,
//! every container's processes are in one process table, and
//! `/proc/PID/root` is each one's root directory. The peer is a process
//! whose root is not ours (by device and inode) and in which PATH exists;
//! the pause container (PID 1) has no log, so it is never picked.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Which process to follow (`--peer`).
#[derive(Clone, Debug)]
pub enum PeerChoice {
    Auto,
    Pid(u32),
    Comm(String),
}

/// A root directory's identity.
pub type RootId = (u64, u64);

#[derive(Clone, Debug, PartialEq)]
pub struct Peer {
    pub pid: u32,
    pub comm: String,
    pub root: RootId,
    /// `PROC/PID/root`, through which the log is read.
    pub root_dir: PathBuf,
}

#[derive(Debug, PartialEq)]
pub enum Found {
    One(Peer),
    /// Nothing yet; `denied` lists PIDs whose root we may not read.
    None {
        denied: Vec<u32>,
    },
    /// Several distinct roots have PATH: the user must pick one.
    Ambiguous(Vec<Peer>),
}

pub fn root_id(dir: &Path) -> Option<RootId> {
    let meta = std::fs::metadata(dir).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Scans `proc` for the process whose root holds `path`.
pub fn discover(proc: &Path, path: &Path, choice: &PeerChoice) -> Found {
    let ours = root_id(Path::new("/"));
    let relative = path.strip_prefix("/").unwrap_or(path);
    let mut denied = Vec::new();
    // Candidates by root: several processes of one container share a root.
    let mut roots: BTreeMap<RootId, Peer> = BTreeMap::new();
    for pid in pids(proc) {
        if let PeerChoice::Pid(wanted) = choice {
            if pid != *wanted {
                continue;
            }
        }
        let root_dir = proc.join(pid.to_string()).join("root");
        let root = match std::fs::metadata(&root_dir) {
            Ok(meta) => (meta.dev(), meta.ino()),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                denied.push(pid);
                continue;
            }
            Err(_) => continue, // exited meanwhile, or a kernel thread
        };
        if Some(root) == ours || roots.contains_key(&root) {
            continue;
        }
        let comm = comm(proc, pid);
        if let PeerChoice::Comm(wanted) = choice {
            if comm != *wanted {
                continue;
            }
        }
        if root_dir.join(relative).exists() {
            roots.insert(
                root,
                Peer {
                    pid,
                    comm,
                    root,
                    root_dir,
                },
            );
        }
    }
    let mut peers: Vec<Peer> = roots.into_values().collect();
    match peers.len() {
        0 => Found::None { denied },
        1 => Found::One(peers.remove(0)),
        _ => {
            peers.sort_by_key(|p| p.pid);
            Found::Ambiguous(peers)
        }
    }
}

/// True while `peer` still runs with the same root (not restarted).
pub fn still_there(peer: &Peer) -> bool {
    root_id(&peer.root_dir) == Some(peer.root)
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
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_peer_yet_and_two_candidates() {
        let pause = container("pause2", false);
        let proc = fake_proc("none", &[(1, &pause, "pause")]);
        assert_eq!(
            discover(&proc, Path::new("/var/log/app.log"), &PeerChoice::Auto),
            Found::None { denied: vec![] }
        );
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
            other => panic!("{other:?}"),
        }
        let by_comm = discover(
            &proc,
            Path::new("/var/log/app.log"),
            &PeerChoice::Comm("app".into()),
        );
        assert!(
            matches!(by_comm, Found::One(ref p) if p.pid == 30),
            "{by_comm:?}"
        );
        let by_pid = discover(&proc, Path::new("/var/log/app.log"), &PeerChoice::Pid(20));
        assert!(
            matches!(by_pid, Found::One(ref p) if p.pid == 20),
            "{by_pid:?}"
        );
    }
}
