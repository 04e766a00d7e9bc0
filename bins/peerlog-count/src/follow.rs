//! Following one log, exactly under rotation: every line that reached a
//! file, the current log or a rotated copy, is counted once.
//!
//! - Each poll resolves PATH inside the peer's root (`in_root`) and reads
//!   only the bytes appended since the last one (cost proportional to new
//!   bytes, not to the file's size).
//! - Rename rotation (logrotate's `create`, a retargeted symlink, a removed
//!   file): the old file is kept open and read while it is still written,
//!   until it has been quiet for `--rotate-wait` (an app reopens its log when
//!   it gets to it); a deleted one is read to its end and closed at once.
//!   Several generations may be open, and a generation that was created and
//!   renamed away between two polls is found in the directory and read too.
//! - Truncation (copytruncate), told by the size, or by a fingerprint of the
//!   first bytes when the file grew past the old offset or was rewritten:
//!   the copy is found in the log's directory (its first bytes and the bytes
//!   before the offset match what was read) and read on from the offset, then
//!   the log from its start. No copy found is counted as unrecovered.

use crate::count::{Counter, OpenLine};
use crate::in_root::{FileId, Problem, Root};
use crate::mapped;
use common::log;
use std::collections::VecDeque;
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// One read's size. Over 1 GiB in the page cache (2 cores), 128 KiB and
/// 256 KiB reads cost the kernel the same per byte, 32 KiB 5% more; 128 KiB
/// keeps the follower's resident set small when it reads a large append.
const READ_BUFFER: usize = 128 * 1024;
/// Unread bytes from which the file is mapped: a catch-up. An interval's
/// usual append is read with `pread` as before, so the follow path and its
/// resident set stay as they were; mapping pays off over megabytes.
const MAP_FROM: u64 = 4 << 20;
/// Bytes kept of a file's head, and of what was read last, to know it again.
const FINGERPRINT: usize = 64;
/// Rotated generations read at once; past this the oldest is closed.
const MAX_ROTATED: usize = 8;
/// Entries of the log's directory looked at for a copy or a generation.
const MAX_DIR_ENTRIES: usize = 4096;
/// Files closed lately, so that a directory scan never reads one twice.
const REMEMBERED: usize = 64;
/// Names of compressed generations: never read as text.
const COMPRESSED: [&[u8]; 7] = [b".gz", b".xz", b".bz2", b".zst", b".lz4", b".Z", b".zip"];

pub struct Follower {
    current: Option<Open>,
    /// Renamed or removed generations, read until quiet for `rotate_wait`.
    rotated: Vec<Rotated>,
    /// Files read and closed, or copies read from: never read twice.
    finished: VecDeque<Done>,
    pub counter: Counter,
    pub rotations: u64,
    pub truncations: u64,
    pub unrecovered: u64,
    rotate_wait: Duration,
    /// `--from-end`: the first file seen is counted from its end.
    skip_existing: bool,
    /// When PATH was last resolved: a generation born after it was missed.
    last_poll: Option<SystemTime>,
    unrecovered_said: bool,
    buf: Vec<u8>,
}

struct Open {
    file: File,
    id: FileId,
    offset: u64,
    /// The file's first bytes, up to FINGERPRINT, as read.
    head: Vec<u8>,
    /// The last bytes read, up to FINGERPRINT, ending at `offset`.
    tail: Vec<u8>,
    line: OpenLine,
}

struct Rotated {
    open: Open,
    quiet_since: Instant,
}

/// A file closed, known again by its identity and its first bytes (an
/// inode is soon reused once logrotate deletes the oldest generation).
struct Done {
    id: FileId,
    head: Vec<u8>,
    offset: u64,
}

impl Open {
    fn new(file: File, id: FileId) -> Open {
        Open {
            file,
            id,
            offset: 0,
            head: Vec::new(),
            tail: Vec::new(),
            line: OpenLine::default(),
        }
    }

    /// False when the first bytes are no longer those read there: the file
    /// was truncated and rewritten, or replaced in place.
    fn head_holds(&self) -> std::io::Result<bool> {
        Ok(self.head.is_empty() || starts_with(&self.file, &self.head)?)
    }
}

impl Follower {
    pub fn new(counter: Counter, from_end: bool, rotate_wait: Duration) -> Follower {
        Follower {
            current: None,
            rotated: Vec::new(),
            finished: VecDeque::new(),
            counter,
            rotations: 0,
            truncations: 0,
            unrecovered: 0,
            rotate_wait,
            skip_existing: from_end,
            last_poll: None,
            unrecovered_said: false,
            buf: vec![0; READ_BUFFER],
        }
    }

    /// Reads what was appended to the log at `path` inside `root`, and to
    /// the generations still open; Err says why the log itself could not be
    /// read (absent, not a regular file, ...).
    pub fn poll(&mut self, root: &Root, path: &Path) -> Result<(), Problem> {
        let now = SystemTime::now();
        let result = self.poll_current(root, path);
        self.poll_rotated(Some((root, path)));
        self.last_poll = Some(now);
        result
    }

    /// Reads the rotated generations; `log` is None when there is no root
    /// to look for a copy in (the peer is gone).
    pub fn poll_rotated(&mut self, log: Option<(&Root, &Path)>) {
        let now = Instant::now();
        let mut still_open = self.rotated.len();
        for mut rotated in std::mem::take(&mut self.rotated) {
            let read = self.read_on(log, &mut rotated.open);
            if read.as_ref().is_ok_and(|&n| n > 0) {
                rotated.quiet_since = now;
            }
            let deleted = rotated
                .open
                .file
                .metadata()
                .map_or(true, |m| m.nlink() == 0);
            let quiet = now.duration_since(rotated.quiet_since) >= self.rotate_wait;
            if read.is_err() || deleted || quiet || still_open > MAX_ROTATED {
                still_open -= 1;
                self.remember(rotated.open.id, rotated.open.head, rotated.open.offset);
            } else {
                self.rotated.push(rotated);
            }
        }
    }

    /// Reads `open` on from its offset. A file cut since the last read
    /// (copytruncate, told by its size or its first bytes) is first read on
    /// in its copy, then from its start.
    fn read_on(&mut self, log: Option<(&Root, &Path)>, open: &mut Open) -> std::io::Result<u64> {
        let size = open.file.metadata()?.len();
        if size < open.offset || !open.head_holds()? {
            self.truncations += 1;
            self.recover_from_copy(log, open);
            open.offset = 0;
            open.head.clear();
            open.tail.clear();
            open.line = OpenLine::default();
        }
        read_new(&mut self.counter, &mut self.buf, open)
    }

    fn poll_current(&mut self, root: &Root, path: &Path) -> Result<(), Problem> {
        let located = match root.locate(path) {
            Ok(located) => located,
            Err(problem) => {
                // Gone (deleted, renamed and not yet re-created, replaced by
                // something unreadable): read on in what it was.
                if let Some(old) = self.current.take() {
                    self.rotations += 1;
                    self.retire(root, path, old);
                }
                return Err(problem);
            }
        };
        if let Some(mut open) = self.current.take() {
            if open.id == located.id {
                if open.offset == 0 && located.size > 0 {
                    // Nothing read of it yet: written, copied and cut since
                    // the last poll (copytruncate), only its copy tells.
                    let copies = self.read_missed_generations(root, path, open.id);
                    self.truncations += u64::from(copies > 0);
                }
                let read = self.read_on(Some((root, path)), &mut open);
                self.current = Some(open);
                return read.map(drop).map_err(Problem::Io);
            }
            self.rotations += 1;
            self.retire(root, path, open);
        }
        // A generation still open comes back (renamed back, a symlink
        // retargeted back): go on where it was.
        let open = match self.rotated.iter().position(|r| r.open.id == located.id) {
            Some(index) => self.rotated.remove(index).open,
            None => {
                let file = root.open_for_reading(&located)?;
                let mut open = Open::new(file, located.id);
                // A file closed earlier is back (renamed back after
                // --rotate-wait): on from where it was, nothing twice.
                if let Some(offset) = self.finished_at(located.id, &open.file) {
                    open.offset = offset.min(located.size);
                    open.head = read_head(&open.file, located.size)?;
                } else if std::mem::take(&mut self.skip_existing) {
                    open.offset = located.size;
                    open.head = read_head(&open.file, located.size)?;
                } else {
                    // Each one found was a rotation between two polls.
                    self.rotations += self.read_missed_generations(root, path, open.id);
                }
                open
            }
        };
        let open = self.current.insert(open);
        read_new(&mut self.counter, &mut self.buf, open)
            .map(drop)
            .map_err(Problem::Io)
    }

    /// The old current file joins the generations read until quiet.
    fn retire(&mut self, root: &Root, path: &Path, mut open: Open) {
        // What it has now is read at once (it may also have been cut
        // before it was renamed); later appends in poll_rotated.
        let _ = self.read_on(Some((root, path)), &mut open);
        self.rotated.push(Rotated {
            open,
            quiet_since: Instant::now(),
        });
    }

    fn remember(&mut self, id: FileId, head: Vec<u8>, offset: u64) {
        if self.finished.len() == REMEMBERED {
            self.finished.pop_front();
        }
        self.finished.push_back(Done { id, head, offset });
    }

    /// Where a file closed earlier was read up to, if `file` is that file.
    fn finished_at(&self, id: FileId, file: &File) -> Option<u64> {
        let done = self.finished.iter().rev().find(|d| d.id == id)?;
        let same = !done.head.is_empty() && starts_with(file, &done.head).ok()?;
        same.then_some(done.offset)
    }

    fn known(&self, id: FileId, file: &File) -> bool {
        self.current.as_ref().is_some_and(|o| o.id == id)
            || self.rotated.iter().any(|r| r.open.id == id)
            || self.finished_at(id, file).is_some()
    }

    /// copytruncate: the copy continues what `open` read up to its offset
    /// (its first bytes and the bytes before the offset are the same): read
    /// it from there to its end, with `open`'s unfinished line. A copy
    /// shorter than the offset (made before the last read) has nothing new.
    fn recover_from_copy(&mut self, log: Option<(&Root, &Path)>, open: &mut Open) {
        let mut older_copy = None;
        let head = open.head.clone();
        let dir = log.and_then(|(root, path)| root.dir_of(path).ok());
        let found = dir.and_then(|dir| {
            dir.names(MAX_DIR_ENTRIES).into_iter().find_map(|name| {
                let (file, id, size) = dir.open_file(&name)?;
                if id == open.id || open.head.is_empty() || !starts_with(&file, &open.head).ok()? {
                    return None;
                }
                if size < open.offset {
                    older_copy = Some((id, size));
                    return None;
                }
                let at = open.offset - open.tail.len() as u64;
                matches_at(&file, &open.tail, at)
                    .ok()?
                    .then_some((file, id))
            })
        });
        if let Some((file, id)) = found {
            let mut copy = Open {
                file,
                id,
                offset: open.offset,
                head: std::mem::take(&mut open.head),
                tail: Vec::new(),
                line: std::mem::take(&mut open.line),
            };
            let _ = read_new(&mut self.counter, &mut self.buf, &mut copy);
            self.remember(id, copy.head, copy.offset);
            return;
        }
        if let Some((id, size)) = older_copy {
            self.remember(id, head, size);
            return;
        }
        self.unrecovered += 1;
        if !self.unrecovered_said {
            log::warn(
                "log truncated and its copy not found: lines written since the last read may be lost",
                &[(
                    "advice",
                    &"with copytruncate, use logrotate's delaycompress so that the copy stays readable for one cycle",
                )],
            );
            self.unrecovered_said = true;
        }
    }

    /// Generations born since the last poll and already renamed away (two
    /// rotations in one interval), or the copy of a log cut before it was
    /// read, are in the directory under the log's name plus a suffix: read
    /// them whole. Returns how many were found.
    fn read_missed_generations(&mut self, root: &Root, path: &Path, current: FileId) -> u64 {
        let (Some(since), Some(base)) = (self.last_poll, path.file_name()) else {
            return 0;
        };
        // Filesystem timestamps come from a coarse clock: allow for it.
        let since = since - Duration::from_millis(20);
        let Ok(dir) = root.dir_of(path) else {
            return 0;
        };
        let mut found = 0;
        let base = base.as_bytes();
        for name in dir.names(MAX_DIR_ENTRIES) {
            let name_bytes = name.to_bytes();
            if name_bytes.len() <= base.len()
                || !name_bytes.starts_with(base)
                || COMPRESSED.iter().any(|suffix| name_bytes.ends_with(suffix))
            {
                continue;
            }
            let Some((file, id, _)) = dir.open_file(&name) else {
                continue;
            };
            if id == current || self.known(id, &file) || !modified_since(&file, since) {
                continue;
            }
            self.rotated.push(Rotated {
                open: Open::new(file, id),
                quiet_since: Instant::now(),
            });
            found += 1;
        }
        found
    }
}

/// Reads `open` from its offset to the end; returns the bytes read. A
/// large stretch is counted from a mapping, the rest read with `pread`.
fn read_new(counter: &mut Counter, buf: &mut [u8], open: &mut Open) -> std::io::Result<u64> {
    let mut total = count_mapped(counter, open)?;
    loop {
        let n = match open.file.read_at(buf, open.offset) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        take(counter, open, &buf[..n]);
        total += n as u64;
    }
}

/// Counts whole windows of what is unread, when there is at least one, from
/// a mapping; returns the bytes counted. A window the peer cut while it was
/// counted is forgotten, for `pread` to read again. Not with `--by`, whose
/// tables are not copied to undo a window (it is slower than the copy anyway).
fn count_mapped(counter: &mut Counter, open: &mut Open) -> std::io::Result<u64> {
    let mut total = 0;
    let size = open.file.metadata()?.len();
    if size.saturating_sub(open.offset) < MAP_FROM {
        return Ok(0);
    }
    while size.saturating_sub(open.offset) >= mapped::WINDOW as u64 {
        let Some(before) = counter.totals() else {
            break;
        };
        let Ok(window) = mapped::Window::map(&open.file, open.offset, mapped::WINDOW) else {
            break;
        };
        if !count_window(counter, open, &window, before) {
            break;
        }
        total += mapped::WINDOW as u64;
    }
    Ok(total)
}

/// Counts a mapped window; false, with nothing counted, when the file was
/// cut under it. `before` is the counter's totals before it.
fn count_window(
    counter: &mut Counter,
    open: &mut Open,
    window: &mapped::Window,
    before: (u64, u64, Vec<u64>),
) -> bool {
    let (offset, head, tail, line) = (
        open.offset,
        open.head.clone(),
        open.tail.clone(),
        open.line.clone(),
    );
    take(counter, open, window.bytes());
    if window.cut() {
        counter.restore(before);
        (open.offset, open.head, open.tail, open.line) = (offset, head, tail, line);
        return false;
    }
    true
}

/// Counts `chunk`, the bytes at `open`'s offset, and moves on past them.
fn take(counter: &mut Counter, open: &mut Open, chunk: &[u8]) {
    let n = chunk.len();
    if (open.offset as usize) < FINGERPRINT && open.head.len() == open.offset as usize {
        let take = (FINGERPRINT - open.head.len()).min(n);
        open.head.extend_from_slice(&chunk[..take]);
    }
    let keep = n.min(FINGERPRINT);
    let excess = (open.tail.len() + keep).saturating_sub(FINGERPRINT);
    open.tail.drain(..excess);
    open.tail.extend_from_slice(&chunk[n - keep..]);
    counter.feed(&mut open.line, chunk);
    open.offset += n as u64;
}

fn read_head(file: &File, size: u64) -> Result<Vec<u8>, Problem> {
    let mut head = vec![0; FINGERPRINT.min(size as usize)];
    let n = file.read_at(&mut head, 0).map_err(Problem::Io)?;
    head.truncate(n);
    Ok(head)
}

fn starts_with(file: &File, head: &[u8]) -> std::io::Result<bool> {
    matches_at(file, head, 0)
}

fn matches_at(file: &File, bytes: &[u8], at: u64) -> std::io::Result<bool> {
    let mut now = [0u8; FINGERPRINT];
    let now = &mut now[..bytes.len()];
    let n = file.read_at(now, at)?;
    Ok(n == bytes.len() && now == bytes)
}

fn modified_since(file: &File, since: SystemTime) -> bool {
    file.metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified >= since)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file of lines of every length up to 300 bytes, some with "ERR",
    /// already unlinked; and its line and match counts.
    fn log_file(name: &str, size: usize) -> (File, u64, u64) {
        let path =
            std::env::temp_dir().join(format!("peerlog-follow-{}-{name}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        let (mut bytes, mut lines, mut errors) = (Vec::with_capacity(size), 0, 0);
        while bytes.len() < size {
            let width = lines % 300;
            let mut line = vec![b'a' + (lines % 26) as u8; width as usize];
            if lines % 7 == 0 && width >= 3 {
                line[width as usize - 3..].copy_from_slice(b"ERR");
                errors += 1;
            }
            bytes.extend_from_slice(&line);
            bytes.push(b'\n');
            lines += 1;
        }
        file.write_all(&bytes).unwrap();
        (file, lines, errors)
    }

    fn counter() -> Counter {
        Counter::new(&[("e".to_string(), "ERR".to_string())])
    }

    #[test]
    fn windows_and_reads_together_count_every_line_once() {
        let (file, lines, errors) =
            log_file("whole", MAP_FROM as usize + 3 * mapped::WINDOW + 4321);
        let (mut counter, mut buf) = (counter(), vec![0; READ_BUFFER]);
        let mut open = Open::new(file, (0, 0));
        let read = read_new(&mut counter, &mut buf, &mut open).unwrap();
        assert_eq!(read, open.file.metadata().unwrap().len());
        assert_eq!(open.offset, read);
        assert_eq!((counter.lines, counter.patterns[0].lines), (lines, errors));
        let mut head = vec![0; FINGERPRINT];
        open.file.read_at(&mut head, 0).unwrap();
        assert_eq!(open.head, head);
        let mut tail = vec![0; FINGERPRINT];
        open.file
            .read_at(&mut tail, read - FINGERPRINT as u64)
            .unwrap();
        assert_eq!(open.tail, tail);
    }

    #[test]
    fn a_window_cut_while_it_is_counted_is_forgotten_and_read_again() {
        let (file, _, _) = log_file("cut", 2 * mapped::WINDOW);
        let (mut counter, mut buf) = (counter(), vec![0; READ_BUFFER]);
        let mut open = Open::new(file, (0, 0));
        let window = mapped::Window::map(&open.file, 0, mapped::WINDOW).unwrap();
        open.file.set_len(10_000).unwrap();
        let before = counter.totals().unwrap();
        assert!(!count_window(&mut counter, &mut open, &window, before));
        drop(window);
        assert_eq!(
            (counter.lines, counter.bytes, counter.patterns[0].lines),
            (0, 0, 0)
        );
        assert_eq!((open.offset, open.head.len(), open.tail.len()), (0, 0, 0));
        // What is left of the file is read as it is now.
        let read = read_new(&mut counter, &mut buf, &mut open).unwrap();
        assert_eq!(read, 10_000);
        assert_eq!(counter.bytes, 10_000);
    }
}
