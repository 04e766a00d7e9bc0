//! Following one log file: each poll reads only the bytes appended since the
//! last (cost proportional to new bytes, not to the file's size), and copes
//! with rotation by rename+create (the old file is drained first), with
//! truncation (copytruncate), with a truncated file that grew past the old
//! offset between two polls and with a new file reusing the old inode (both
//! caught by a fingerprint of the first bytes, as log shippers keep), and
//! with the file being absent. The file is found anew each interval inside
//! the peer's root (`in_root`), so a retargeted symlink counts as a rotation.

use crate::count::Counter;
use crate::in_root::{FileId, Problem, Root};
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

const READ_BUFFER: usize = 128 * 1024;
const FINGERPRINT: usize = 64;

pub struct Follower {
    open: Option<Open>,
    pub counter: Counter,
    pub rotations: u64,
    pub truncations: u64,
    /// `--from-end`: the first file seen is counted from its end.
    skip_existing: bool,
    buf: Vec<u8>,
}

struct Open {
    file: File,
    id: FileId,
    offset: u64,
    /// The file's first bytes, up to FINGERPRINT, as read.
    fingerprint: Vec<u8>,
}

impl Follower {
    pub fn new(counter: Counter, from_end: bool) -> Follower {
        Follower {
            open: None,
            counter,
            rotations: 0,
            truncations: 0,
            skip_existing: from_end,
            buf: vec![0; READ_BUFFER],
        }
    }

    /// Reads what was appended to the log at `path` inside `root`; Err says
    /// why there is nothing to read (absent, not a regular file, ...).
    pub fn poll(&mut self, root: &Root, path: &Path) -> Result<(), Problem> {
        let located = match root.locate(path) {
            Ok(located) => located,
            Err(problem) => {
                // Gone (deleted, renamed and not yet re-created, replaced by
                // something unreadable): finish the old one.
                if let Some(old) = self.open.take() {
                    self.rotations += 1;
                    self.drain(old).map_err(Problem::Io)?;
                }
                return Err(problem);
            }
        };
        match self.open.take() {
            Some(mut open) if open.id == located.id => {
                if located.size < open.offset
                    || !self.fingerprint_holds(&open).map_err(Problem::Io)?
                {
                    self.truncations += 1;
                    open.offset = 0;
                    open.fingerprint.clear();
                    self.counter.abandon_open_line();
                }
                let result = self.read_new(&mut open);
                self.open = Some(open);
                result.map_err(Problem::Io)
            }
            Some(old) => {
                self.rotations += 1;
                self.drain(old).map_err(Problem::Io)?;
                self.start(root.open_for_reading(&located)?, false)
                    .map_err(Problem::Io)
            }
            None => {
                let file = root.open_for_reading(&located)?;
                let skip = std::mem::take(&mut self.skip_existing);
                self.start(file, skip).map_err(Problem::Io)
            }
        }
    }

    fn start(&mut self, file: File, from_end: bool) -> std::io::Result<()> {
        // The identity of what we opened, not of what was resolved a moment ago.
        let meta = file.metadata()?;
        let mut open = Open {
            file,
            id: (meta.dev(), meta.ino()),
            offset: 0,
            fingerprint: Vec::new(),
        };
        if from_end {
            open.offset = meta.len();
            let mut first = vec![0; FINGERPRINT.min(meta.len() as usize)];
            let n = open.file.read_at(&mut first, 0)?;
            first.truncate(n);
            open.fingerprint = first;
        }
        let result = self.read_new(&mut open);
        self.open = Some(open);
        result
    }

    /// False when the first bytes are no longer those we read there: the file
    /// was truncated and rewritten, or replaced in place.
    fn fingerprint_holds(&self, open: &Open) -> std::io::Result<bool> {
        if open.fingerprint.is_empty() {
            return Ok(true);
        }
        let mut now = [0u8; FINGERPRINT];
        let n = open.file.read_at(&mut now[..open.fingerprint.len()], 0)?;
        Ok(now[..n] == open.fingerprint[..])
    }

    fn read_new(&mut self, open: &mut Open) -> std::io::Result<()> {
        loop {
            let n = match open.file.read_at(&mut self.buf, open.offset) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let chunk = &self.buf[..n];
            if (open.offset as usize) < FINGERPRINT
                && open.fingerprint.len() == open.offset as usize
            {
                let take = (FINGERPRINT - open.fingerprint.len()).min(n);
                open.fingerprint.extend_from_slice(&chunk[..take]);
            }
            self.counter.feed(chunk);
            open.offset += n as u64;
        }
    }

    /// Reads a replaced file to its end; its unfinished last line is dropped.
    fn drain(&mut self, mut old: Open) -> std::io::Result<()> {
        let result = self.read_new(&mut old);
        self.counter.abandon_open_line();
        result
    }
}
