//! Following one log file: each poll reads only the bytes appended since the
//! last (cost proportional to new bytes, not to the file's size), and copes
//! with rotation by rename+create (the old file is drained first), with
//! truncation (copytruncate), with a truncated file that grew past the old
//! offset between two polls and with a new file reusing the old inode (both
//! caught by a fingerprint of the first bytes, as log shippers keep), and
//! with the file being absent.

use crate::count::Counter;
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
    id: (u64, u64),
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

    /// Reads what was appended to `path`; Ok(false) while it does not exist.
    pub fn poll(&mut self, path: &Path) -> std::io::Result<bool> {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) => {
                // Gone (deleted, or renamed and not yet re-created): finish the old one.
                if let Some(old) = self.open.take() {
                    self.drain(old)?;
                    self.rotations += 1;
                }
                return if e.kind() == ErrorKind::NotFound {
                    Ok(false)
                } else {
                    Err(e)
                };
            }
        };
        let id = (meta.dev(), meta.ino());
        match self.open.take() {
            Some(mut open) if open.id == id => {
                if meta.len() < open.offset || !self.fingerprint_holds(&open)? {
                    self.truncations += 1;
                    open.offset = 0;
                    open.fingerprint.clear();
                    self.counter.abandon_open_line();
                }
                let result = self.read_new(&mut open);
                self.open = Some(open);
                result?;
            }
            Some(old) => {
                self.drain(old)?;
                self.rotations += 1;
                self.start(path, false)?;
            }
            None => {
                let skip = std::mem::take(&mut self.skip_existing);
                self.start(path, skip)?;
            }
        }
        Ok(true)
    }

    fn start(&mut self, path: &Path, from_end: bool) -> std::io::Result<()> {
        let file = File::open(path)?;
        // The identity of what we opened, not of what stat saw a moment ago.
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
