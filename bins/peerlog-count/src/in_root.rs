//! Opening the log inside the peer's root, the way the main container itself
//! sees it. The peer is foreign ground: its absolute symlinks and `..` must
//! resolve within its root, never in ours, and nothing it points at may make
//! us read our own files or block. So:
//!
//! - `openat2(root, PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` resolves
//!   in the kernel; where a kernel (ENOSYS) or a seccomp profile (ENOSYS,
//!   EPERM) refuses openat2, a walk of one component at a time (`O_PATH |
//!   O_NOFOLLOW`, `readlinkat`, at most 40 links) keeps the same guarantees.
//! - Resolution opens `O_PATH` only: a FIFO or a device is never opened, just
//!   named. Only a regular file is then opened for reading (`O_NONBLOCK |
//!   O_NOCTTY`), and checked to be the very file resolved.
//! - Links to the app's standard output (`/dev/stdout`, `/proc/self/fd/1`)
//!   are told apart by their text, and files of /proc and /sys are refused:
//!   in a shared PID namespace the peer's /proc shows our own process too.

use std::collections::VecDeque;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Links followed in one resolution before giving up, as the kernel does.
const MAX_LINKS: usize = 40;

/// Set to `walk` to resolve one component at a time even where openat2
/// works: how the tests exercise the fallback on every run.
pub const RESOLVE_ENV: &str = "PEERLOG_COUNT_RESOLVE";

/// A file's identity: device and inode.
pub type FileId = (u64, u64);

/// Why the log could not be opened. `Display` is the one line a user reads.
#[derive(Debug)]
pub enum Problem {
    Absent,
    Denied,
    /// Not a regular file: what it is instead ("a FIFO (named pipe)", ...).
    NotRegular(&'static str),
    /// A link to the app's standard output or error, with the link's text.
    StandardOutput(String),
    /// A file of /proc or /sys: through it the peer could name ours.
    PseudoFile,
    /// A link of /proc (`/proc/self/root`, `/proc/1/fd/3`), with its text.
    MagicLink(String),
    TooManyLinks,
    Io(io::Error),
}

impl Problem {
    /// Whether PATH is there in the root, though it cannot be read as a log:
    /// such a root still "holds PATH" for discovery, so its message is given.
    pub fn is_there(&self) -> bool {
        !matches!(self, Problem::Absent | Problem::Denied | Problem::Io(_))
    }

    fn from_errno(errno: i32) -> Problem {
        match errno {
            libc::ENOENT | libc::ENOTDIR => Problem::Absent,
            libc::EACCES | libc::EPERM => Problem::Denied,
            libc::ELOOP => Problem::TooManyLinks,
            _ => Problem::Io(io::Error::from_raw_os_error(errno)),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Problem::Absent => write!(f, "no such file"),
            Problem::Denied => write!(f, "permission denied"),
            Problem::NotRegular(kind) => write!(
                f,
                "is {kind}, not a regular file: peerlog-count follows regular files only"
            ),
            Problem::StandardOutput(text) => write!(
                f,
                "links to {text}: the app writes this log to its standard output, which the node's logging collects (kubectl logs); peerlog-count cannot read it"
            ),
            Problem::PseudoFile => write!(
                f,
                "is a file of /proc or /sys, not a log: refused, since through it the app could point peerlog-count at its own files"
            ),
            Problem::MagicLink(text) => write!(
                f,
                "goes through a link of /proc ({text}): refused, since it could point peerlog-count at its own files"
            ),
            Problem::TooManyLinks => write!(
                f,
                "too many levels of symbolic links ({MAX_LINKS} at most)"
            ),
            Problem::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The peer's root directory (or `--root DIR`), held open.
pub struct Root {
    fd: OwnedFd,
    pub id: FileId,
    /// Resolve by the walk whatever the kernel offers (the tests' switch).
    walk: bool,
}

/// The log, resolved inside the root and known to be a regular file; not
/// yet opened for reading (most intervals find the file already open).
pub struct Located {
    pub id: FileId,
    pub size: u64,
    /// The `O_PATH` descriptor resolution ended on.
    found: OwnedFd,
    /// How to open it for reading without resolving anew in our own root.
    reopen: Reopen,
}

enum Reopen {
    /// openat2 again, with the same resolution.
    InRoot(CString),
    /// The walk's last directory and the file's name in it.
    At(OwnedFd, CString),
}

/// Whether openat2 was refused once: then the walk is used from there on.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

impl Root {
    /// Opens `dir` (following its links: `/proc/PID/root` is one, by design).
    pub fn open(dir: &Path) -> io::Result<Root> {
        let path = cstring(dir.as_os_str())?;
        // SAFETY: a NUL-terminated path; the fd returned is ours to own.
        let fd = cvt(unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: open returned a fresh descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let id = id_of(&stat(fd.as_fd())?);
        Ok(Root {
            fd,
            id,
            walk: walk_forced(),
        })
    }

    /// Resolves `path` (as the main container sees it) inside this root to
    /// a regular file.
    pub fn locate(&self, path: &Path) -> Result<Located, Problem> {
        let (found, reopen) = self.resolve(path)?;
        let (id, size) = classify(found.as_fd())?;
        Ok(Located {
            id,
            size,
            found,
            reopen,
        })
    }

    /// The directory that holds `path`, open for listing: where logrotate
    /// leaves its copies and renamed generations.
    pub fn dir_of(&self, path: &Path) -> Result<Dir, Problem> {
        let parent = path.parent().unwrap_or(Path::new("/"));
        let (found, _) = self.resolve(parent)?;
        if is_pseudo_fs(found.as_fd()) {
            return Err(Problem::PseudoFile);
        }
        let fd = openat(found.as_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY)
            .map_err(Problem::from_errno)?;
        Ok(Dir { fd })
    }

    /// An `O_PATH` descriptor of what `path` names inside the root, and how
    /// to open it again for reading.
    fn resolve(&self, path: &Path) -> Result<(OwnedFd, Reopen), Problem> {
        let relative = cstring(relative(path)).map_err(Problem::Io)?;
        if self.walk || NO_OPENAT2.load(Ordering::Relaxed) {
            return self.walk(path);
        }
        match self.openat2(&relative, libc::O_PATH) {
            Ok(fd) => Ok((fd, Reopen::InRoot(relative))),
            Err(errno) if errno == libc::ENOSYS || errno == libc::EPERM => {
                if !NO_OPENAT2.swap(true, Ordering::Relaxed) {
                    common::log::info(
                        "openat2 refused; resolving paths one component at a time",
                        &[("error", &io::Error::from_raw_os_error(errno))],
                    );
                }
                self.walk(path)
            }
            // The kernel says only "no" or "loop": the walk tells a link to
            // standard output or a /proc link apart, with its text.
            Err(libc::ENOENT | libc::ENOTDIR | libc::ELOOP) => match self.walk(path) {
                Err(problem) => Err(problem),
                Ok(_) => Err(Problem::Absent), // changed in between: next interval
            },
            Err(errno) => Err(Problem::from_errno(errno)),
        }
    }

    /// Opens what `locate` found, for reading; checks it is still that file.
    /// Files of /proc and /sys are refused here, once per file rather than
    /// once per interval.
    pub fn open_for_reading(&self, located: &Located) -> Result<File, Problem> {
        if is_pseudo_fs(located.found.as_fd()) {
            return Err(Problem::PseudoFile);
        }
        let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
        let fd = match &located.reopen {
            Reopen::InRoot(relative) => self.openat2(relative, flags),
            Reopen::At(dir, name) => openat(dir.as_fd(), name, flags | libc::O_NOFOLLOW),
        }
        .map_err(Problem::from_errno)?;
        let meta = stat(fd.as_fd()).map_err(Problem::Io)?;
        if meta.st_mode & libc::S_IFMT != libc::S_IFREG || id_of(&meta) != located.id {
            // Replaced between the two opens; the next interval looks again.
            return Err(Problem::Absent);
        }
        Ok(File::from(fd))
    }

    fn openat2(&self, relative: &CStr, flags: i32) -> Result<OwnedFd, i32> {
        // SAFETY: open_how is plain data; zero is "no mode".
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (flags | libc::O_CLOEXEC) as u64;
        how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
        // RESOLVE_IN_ROOT answers EAGAIN when a rename raced a `..`: retry.
        for _ in 0..8 {
            // SAFETY: `how` and the path outlive the call; the size is exact.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    self.fd.as_raw_fd(),
                    relative.as_ptr(),
                    &how as *const libc::open_how,
                    std::mem::size_of::<libc::open_how>(),
                )
            };
            if fd >= 0 {
                // SAFETY: openat2 returned a fresh descriptor.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
            }
            match io::Error::last_os_error().raw_os_error().unwrap_or(0) {
                libc::EAGAIN | libc::EINTR => continue,
                errno => return Err(errno),
            }
        }
        Err(libc::EAGAIN)
    }

    /// One component at a time, with a stack of open directories: `..`
    /// pops (never above the root), an absolute link restarts at the root.
    fn walk(&self, path: &Path) -> Result<(OwnedFd, Reopen), Problem> {
        let mut dirs: Vec<(OwnedFd, CString)> = Vec::new();
        let mut pending: VecDeque<OsString> = components(path.as_os_str());
        let mut links = 0;
        while let Some(name) = pending.pop_front() {
            match name.as_bytes() {
                b"" | b"." => continue,
                b".." => {
                    dirs.pop();
                    continue;
                }
                _ => {}
            }
            let name = cstring(&name).map_err(Problem::Io)?;
            let dir = dirs.last().map_or(self.fd.as_fd(), |(d, _)| d.as_fd());
            let fd =
                openat(dir, &name, libc::O_PATH | libc::O_NOFOLLOW).map_err(Problem::from_errno)?;
            let meta = stat(fd.as_fd()).map_err(Problem::Io)?;
            match meta.st_mode & libc::S_IFMT {
                libc::S_IFLNK => {
                    let text = readlink(fd.as_fd()).map_err(Problem::Io)?;
                    check_link(fd.as_fd(), &text)?;
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Problem::TooManyLinks);
                    }
                    if text.as_bytes().starts_with(b"/") {
                        dirs.clear();
                    }
                    for part in components(&text).into_iter().rev() {
                        pending.push_front(part);
                    }
                }
                libc::S_IFDIR => dirs.push((fd, name)),
                _ if !pending.is_empty() => return Err(Problem::Absent), // ENOTDIR
                _ => {
                    let parent = match dirs.pop() {
                        Some((dir, _)) => dir,
                        None => self.fd.try_clone().map_err(Problem::Io)?,
                    };
                    return Ok((fd, Reopen::At(parent, name)));
                }
            }
        }
        // Ended on a directory (or the root itself).
        match dirs.pop() {
            Some((dir, name)) => {
                let parent = match dirs.pop() {
                    Some((parent, _)) => parent,
                    None => self.fd.try_clone().map_err(Problem::Io)?,
                };
                Ok((dir, Reopen::At(parent, name)))
            }
            None => {
                let root = self.fd.try_clone().map_err(Problem::Io)?;
                let again = self.fd.try_clone().map_err(Problem::Io)?;
                Ok((root, Reopen::At(again, c".".into())))
            }
        }
    }
}

/// A directory inside the peer's root, open for listing.
pub struct Dir {
    fd: OwnedFd,
}

impl Dir {
    /// The names of its entries, `.` and `..` left out, at most `limit`.
    pub fn names(&self, limit: usize) -> Vec<CString> {
        let mut names = Vec::new();
        let Ok(fd) = self.fd.try_clone() else {
            return names;
        };
        // SAFETY: fdopendir takes the duplicate, closedir releases it; each
        // entry's name is copied out before the next readdir.
        unsafe {
            let dirp = libc::fdopendir(fd.as_raw_fd());
            if dirp.is_null() {
                return names;
            }
            std::mem::forget(fd); // closedir closes it
            libc::rewinddir(dirp);
            while names.len() < limit {
                let entry = libc::readdir(dirp);
                if entry.is_null() {
                    break;
                }
                let name = CStr::from_ptr((*entry).d_name.as_ptr());
                if name != c"." && name != c".." {
                    names.push(name.to_owned());
                }
            }
            libc::closedir(dirp);
        }
        names
    }

    /// A regular file of this directory, opened for reading without
    /// following a link; None for anything else.
    pub fn open_file(&self, name: &CStr) -> Option<(File, FileId, u64)> {
        // SAFETY: stat is plain data that fstatat fills.
        let mut meta: libc::stat = unsafe { std::mem::zeroed() };
        let ok = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                &mut meta,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        } == 0;
        if !ok || meta.st_mode & libc::S_IFMT != libc::S_IFREG {
            return None;
        }
        let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW;
        let fd = openat(self.fd.as_fd(), name, flags).ok()?;
        let opened = stat(fd.as_fd()).ok()?;
        (opened.st_mode & libc::S_IFMT == libc::S_IFREG && id_of(&opened) == id_of(&meta))
            .then(|| (File::from(fd), id_of(&opened), opened.st_size as u64))
    }
}

fn walk_forced() -> bool {
    std::env::var_os(RESOLVE_ENV).is_some_and(|v| v == "walk")
}

/// A regular file gives its identity and size; anything else says what it is.
fn classify(fd: BorrowedFd) -> Result<(FileId, u64), Problem> {
    let meta = stat(fd).map_err(Problem::Io)?;
    let kind = match meta.st_mode & libc::S_IFMT {
        libc::S_IFREG => return Ok((id_of(&meta), meta.st_size as u64)),
        libc::S_IFIFO => "a FIFO (named pipe)",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFDIR => "a directory",
        _ => "not a file",
    };
    Err(Problem::NotRegular(kind))
}

/// Refuses what a link may not lead to: the app's standard streams (said as
/// such) and links of /proc, which are the peer's view of *our* process too.
fn check_link(link: BorrowedFd, text: &OsStr) -> Result<(), Problem> {
    let shown = || text.to_string_lossy().into_owned();
    if is_standard_stream(text.as_bytes()) {
        return Err(Problem::StandardOutput(shown()));
    }
    if is_pseudo_fs(link) {
        return Err(Problem::MagicLink(shown()));
    }
    Ok(())
}

/// `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`,
/// `/proc/thread-self/fd/N`, `/proc/PID/fd/N`: what images link their logs
/// to so that the container runtime collects them.
fn is_standard_stream(text: &[u8]) -> bool {
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if matches!(text, b"/dev/stdout" | b"/dev/stderr") {
        return true;
    }
    if let Some(n) = text.strip_prefix(b"/dev/fd/") {
        return digits(n);
    }
    let Some(rest) = text.strip_prefix(b"/proc/") else {
        return false;
    };
    let Some(slash) = rest.iter().position(|&b| b == b'/') else {
        return false;
    };
    let (who, fd) = rest.split_at(slash);
    (who == b"self" || who == b"thread-self" || digits(who))
        && fd.strip_prefix(b"/fd/").is_some_and(digits)
}

// f_type and the magic numbers are i64 on one libc, u32 or u64 on another.
#[allow(clippy::unnecessary_cast)]
fn is_pseudo_fs(fd: BorrowedFd) -> bool {
    // SAFETY: statfs is plain data that fstatfs fills.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut fs) } != 0 {
        return false;
    }
    let magic = fs.f_type as i64;
    magic == libc::PROC_SUPER_MAGIC as i64 || magic == libc::SYSFS_MAGIC as i64
}

fn relative(path: &Path) -> &OsStr {
    let bytes = path.as_os_str().as_bytes();
    let start = bytes.iter().position(|&b| b != b'/').unwrap_or(bytes.len());
    let rest = OsStr::from_bytes(&bytes[start..]);
    if rest.is_empty() {
        OsStr::new(".")
    } else {
        rest
    }
}

fn components(path: &OsStr) -> VecDeque<OsString> {
    path.as_bytes()
        .split(|&b| b == b'/')
        .filter(|part| !part.is_empty())
        .map(|part| OsString::from_vec(part.to_vec()))
        .collect()
}

fn cstring(text: &OsStr) -> io::Result<CString> {
    CString::new(text.as_bytes()).map_err(|_| io::Error::other("a path with a NUL byte"))
}

fn openat(dir: BorrowedFd, name: &CStr, flags: i32) -> Result<OwnedFd, i32> {
    loop {
        // SAFETY: a NUL-terminated name relative to a descriptor we hold.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: openat returned a fresh descriptor.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        match io::Error::last_os_error().raw_os_error().unwrap_or(0) {
            libc::EINTR => continue,
            errno => return Err(errno),
        }
    }
}

fn stat(fd: BorrowedFd) -> io::Result<libc::stat> {
    // SAFETY: stat is plain data that fstat fills.
    let mut meta: libc::stat = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), &mut meta) })?;
    Ok(meta)
}

fn id_of(meta: &libc::stat) -> FileId {
    (meta.st_dev, meta.st_ino)
}

/// The text of the symlink an `O_PATH | O_NOFOLLOW` descriptor holds.
fn readlink(link: BorrowedFd) -> io::Result<OsString> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: the buffer is as long as we say; "" names the link itself.
    let n = unsafe {
        libc::readlinkat(
            link.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    buf.truncate(cvt(n as i32)? as usize);
    Ok(OsString::from_vec(buf))
}

fn cvt(result: i32) -> io::Result<i32> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    /// A peer's root: the log behind an absolute symlink, links that try to
    /// climb out, and special files; beside it, a file that must never be read.
    fn peer_root(name: &str) -> PathBuf {
        let base =
            std::env::temp_dir().join(format!("peerlog-in-root-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("var/log/app")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(base.join("secret"), "ours\n").unwrap();
        std::fs::write(root.join("etc/passwd"), "theirs\n").unwrap();
        std::fs::write(root.join("var/log/app/app-2026.log"), "a\nb\n").unwrap();
        let link = |target: &str, name: &str| symlink(target, root.join(name)).unwrap();
        link("/var/log/app/app-2026.log", "var/log/app/current.log");
        link("/etc/passwd", "var/log/app/passwd.log");
        link("../../../../../../../../secret", "var/log/app/climb.log");
        link("/../../secret", "var/log/app/absolute-climb.log");
        link("/dev/stdout", "var/log/app/stdout.log");
        link("/proc/self/fd/2", "var/log/app/stderr.log");
        link("loop-b", "var/log/app/loop-a");
        link("loop-a", "var/log/app/loop-b");
        link("app", "var/log/app-dir");
        root
    }

    fn read(root: &Root, path: &str) -> Result<String, Problem> {
        let located = root.locate(Path::new(path))?;
        let mut text = String::new();
        root.open_for_reading(&located)?
            .read_to_string(&mut text)
            .unwrap();
        Ok(text)
    }

    fn both_ways(name: &str, test: impl Fn(&Root)) {
        let mut root = Root::open(&peer_root(name)).unwrap();
        test(&root);
        root.walk = true;
        test(&root);
    }

    #[test]
    fn links_resolve_inside_the_root_and_never_climb_out() {
        both_ways("links", |root| {
            assert_eq!(read(root, "/var/log/app/current.log").unwrap(), "a\nb\n");
            assert_eq!(read(root, "/var/log/app/passwd.log").unwrap(), "theirs\n");
            for climb in [
                "/var/log/app/climb.log",
                "/var/log/app/absolute-climb.log",
                "/../secret",
            ] {
                assert!(matches!(read(root, climb), Err(Problem::Absent)), "{climb}");
            }
            assert_eq!(
                read(root, "/var/log/app-dir/../app/app-2026.log").unwrap(),
                "a\nb\n"
            );
        });
    }

    #[test]
    fn special_files_and_standard_streams_say_what_they_are() {
        both_ways("special", |root| {
            let problem = |path: &str| read(root, path).unwrap_err().to_string();
            assert!(problem("/var/log/app/stdout.log").contains("links to /dev/stdout"));
            assert!(problem("/var/log/app/stdout.log").contains("standard output"));
            assert!(problem("/var/log/app/stderr.log").contains("/proc/self/fd/2"));
            assert!(problem("/var/log/app").contains("a directory"));
            assert!(problem("/var/log/app/loop-a").contains("too many levels"));
            assert!(matches!(read(root, "/nope/x"), Err(Problem::Absent)));
            assert!(matches!(read(root, "/etc/passwd/x"), Err(Problem::Absent)));
        });
    }

    /// In a shared PID namespace the peer's /proc shows our own process: no
    /// path through it is read, whichever way it is resolved.
    #[test]
    fn our_own_files_under_proc_are_refused() {
        let mut root = Root::open(Path::new("/")).unwrap();
        for walk in [false, true] {
            root.walk = walk;
            let environ = read(&root, "/proc/self/environ").unwrap_err();
            assert!(
                matches!(environ, Problem::PseudoFile | Problem::MagicLink(_)),
                "{environ:?}"
            );
            for path in ["/proc/self/root/etc/passwd", "/proc/thread-self/cwd/x"] {
                let problem = read(&root, path).unwrap_err();
                assert!(
                    matches!(problem, Problem::MagicLink(_)),
                    "{walk} {path}: {problem:?}"
                );
            }
            let problem = read(&root, &format!("/proc/{}/status", std::process::id())).unwrap_err();
            assert!(matches!(problem, Problem::PseudoFile), "{problem:?}");
        }
    }

    #[test]
    fn standard_stream_links_are_recognised_by_their_text() {
        for yes in [
            "/dev/stdout",
            "/dev/stderr",
            "/dev/fd/1",
            "/proc/self/fd/1",
            "/proc/thread-self/fd/2",
            "/proc/1/fd/1",
        ] {
            assert!(is_standard_stream(yes.as_bytes()), "{yes}");
        }
        for no in [
            "/dev/null",
            "/proc/self/root",
            "/proc/self/fd/",
            "/proc/x/fd/1",
            "stdout",
            "/dev/fd/x",
        ] {
            assert!(!is_standard_stream(no.as_bytes()), "{no}");
        }
    }
}
