//! One pass over DIR: by age, deleting what is older than `--older-than`;
//! by size, when the usage is over `--max-size`, deleting oldest first
//! down to `--low-water`. Memory does not grow with the number of files:
//! the first walk counts the usage and builds a histogram of deletable
//! bytes by age (about 2,200 buckets, each 1% of age wide); the cut-off
//! bucket is found in it; a second walk deletes what is older than the
//! cut-off and, of the cut-off bucket itself, only as much as is still
//! needed, so a pass frees what it must and at most one file more.

use crate::locks::Locked;
use crate::options::{AgeBy, Options};
use crate::walk::{Dir, Kind, Meta};
use common::shutdown::Shutdown;
use std::collections::HashSet;
use std::ffi::CStr;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Levels below DIR walked at most: open directories (file descriptors)
/// are bounded by it; what is deeper is skipped and said once a pass.
pub const MAX_DEPTH: usize = 128;
/// Inodes with several links remembered, to count each once (16 bytes
/// each); past this, further links are counted again: usage is then
/// over-stated, so a size pass may delete a little early, never late.
pub const MAX_LINKED_INODES: usize = 65_536;
/// Paths kept for the log of a pass (`--dry-run`'s first few).
const PATHS_SHOWN: usize = 5;
/// Entries between two looks at the stop request.
const STOP_CHECK_EVERY: u32 = 256;
/// Age buckets: bucket k holds ages in [1.01^k - 1, 1.01^(k+1) - 1) seconds.
const AGE_BUCKETS: usize = 2_200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    Locked,
    Excluded,
    OtherFilesystem,
    SpecialFile,
    Permission,
    Depth,
    Changed,
}

impl Skip {
    pub const ALL: [Skip; 7] = [
        Skip::Locked,
        Skip::Excluded,
        Skip::OtherFilesystem,
        Skip::SpecialFile,
        Skip::Permission,
        Skip::Depth,
        Skip::Changed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Skip::Locked => "locked",
            Skip::Excluded => "excluded",
            Skip::OtherFilesystem => "other_filesystem",
            Skip::SpecialFile => "special_file",
            Skip::Permission => "permission",
            Skip::Depth => "depth",
            Skip::Changed => "changed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Age,
    Size,
}

/// What one pass did (or, with `--dry-run`, would do).
#[derive(Debug, Default)]
pub struct Report {
    pub scanned: u64,
    /// Files and symlinks deleted, by age and by size.
    pub deleted: [u64; 2],
    pub freed: [u64; 2],
    pub dirs_removed: u64,
    /// Usage and files after the pass, as the kubelet would count them.
    pub usage: u64,
    pub files: u64,
    pub oldest: Option<i64>,
    pub skipped: std::collections::BTreeMap<Skip, u64>,
    /// The first paths deleted (or that would be), for the log.
    pub paths: Vec<String>,
    /// Problems worth a line: (what, first path, how many).
    pub problems: Vec<(&'static str, String, u64)>,
    pub hard_link_table_full: bool,
    pub stopped: bool,
    pub took: Duration,
    /// Entries each `--exclude` matched, by its place on the command line.
    pub exclude_hits: Vec<u64>,
}

impl Report {
    /// The `--exclude` patterns that matched no entry in this pass.
    pub fn unmatched<'a>(&self, excludes: &'a [crate::glob::Glob]) -> Vec<&'a str> {
        excludes
            .iter()
            .enumerate()
            .filter(|(at, _)| self.exclude_hits.get(*at).copied().unwrap_or(0) == 0)
            .map(|(_, glob)| glob.text())
            .collect()
    }

    fn skip(&mut self, why: Skip) {
        *self.skipped.entry(why).or_default() += 1;
    }

    fn problem(&mut self, what: &'static str, path: &[u8]) {
        match self.problems.iter_mut().find(|(w, _, _)| *w == what) {
            Some((_, _, n)) => *n += 1,
            None => self.problems.push((what, shown(path), 1)),
        }
    }
}

/// A path for a log line: relative to DIR, any bytes kept visible.
pub fn shown(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// What the walk does with each deletable file it meets.
enum Mode {
    /// Age deletions, and the histogram of what survives.
    Survey { histogram: Vec<u64> },
    /// Size deletions: older than the cut-off bucket, and of it `budget`.
    Cut {
        bucket: usize,
        budget: u64,
        taken: u64,
        need: u64,
    },
}

struct Walk<'a> {
    config: &'a Options,
    shutdown: &'a Shutdown,
    locks: &'a Locked,
    now: i64,
    root_dev: (u32, u32),
    root_mnt: Option<u64>,
    linked: HashSet<(u32, u32, u64)>,
    report: Report,
    mode: Mode,
    entries: u32,
    next_deletion: Instant,
}

/// Runs one pass over DIR; Err when DIR itself cannot be opened.
pub fn pass(root: &Path, config: &Options, shutdown: &Shutdown) -> Result<Report, String> {
    let started = Instant::now();
    let mut dir =
        Dir::open_root(root).map_err(|e| format!("cannot open {}: {e}", root.display()))?;
    let meta = dir
        .meta()
        .map_err(|e| format!("cannot stat {}: {e}", root.display()))?;
    let (locks, locks_unknown) = match Locked::read() {
        Ok(locks) => (locks, None),
        Err(e) => (Locked::default(), Some(format!("/proc/locks {e}"))),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut walk = Walk {
        config,
        shutdown,
        locks: &locks,
        now,
        root_dev: meta.dev,
        root_mnt: meta.mnt_id,
        linked: HashSet::new(),
        report: Report::default(),
        mode: Mode::Survey {
            histogram: vec![0; AGE_BUCKETS],
        },
        entries: 0,
        next_deletion: Instant::now(),
    };
    if let Some(e) = locks_unknown {
        walk.report.problem(
            "cannot tell which files are locked (all are taken as unlocked)",
            e.as_bytes(),
        );
    }
    walk.report.usage = meta.bytes;
    let mut path = Vec::with_capacity(256);
    walk.dir(&mut dir, &mut path, 0, false);
    // Over the cap: a second walk, deleting oldest first down to the low mark.
    if let (Some(max), false) = (config.max_size, walk.report.stopped) {
        if walk.report.usage > max {
            let need = walk.report.usage - config.low_water;
            let Mode::Survey { histogram } = &walk.mode else {
                unreachable!("the first walk surveys")
            };
            let (bucket, budget) = cut_off(histogram, need);
            walk.mode = Mode::Cut {
                bucket,
                budget,
                taken: 0,
                need,
            };
            let usage = walk.report.usage;
            let (files, oldest) = (walk.report.files, walk.report.oldest);
            walk.report.files = 0;
            walk.report.oldest = None;
            let mut dir =
                Dir::open_root(root).map_err(|e| format!("cannot open {}: {e}", root.display()))?;
            walk.dir(&mut dir, &mut path, 0, false);
            // The usage was counted by the first walk; the second only frees.
            walk.report.usage = usage.saturating_sub(walk.report.freed[1]);
            if walk.report.stopped {
                walk.report.files = files;
                walk.report.oldest = oldest;
            }
        }
    }
    let mut report = walk.report;
    report.hard_link_table_full = walk.linked.len() >= MAX_LINKED_INODES;
    report.took = started.elapsed();
    Ok(report)
}

/// The oldest bucket whose bytes, with all older ones', reach `need`, and
/// how much of that bucket itself is needed.
fn cut_off(histogram: &[u64], need: u64) -> (usize, u64) {
    let mut older = 0u64;
    for (bucket, &bytes) in histogram.iter().enumerate().rev() {
        if older + bytes >= need {
            return (bucket, need - older);
        }
        older += bytes;
    }
    // Not enough deletable: everything deletable goes.
    (0, u64::MAX)
}

fn bucket_of(age: i64) -> usize {
    if age <= 0 {
        return 0;
    }
    let k = ((age as f64 + 1.0).ln() / 1.01f64.ln()) as usize;
    k.min(AGE_BUCKETS - 1)
}

impl Walk<'_> {
    fn stopping(&mut self) -> bool {
        self.entries += 1;
        // STOP_CHECK_EVERY is a power of two.
        if self.entries & (STOP_CHECK_EVERY - 1) == 0 && self.shutdown.requested() {
            self.report.stopped = true;
        }
        self.report.stopped
    }

    fn survey(&self) -> bool {
        matches!(self.mode, Mode::Survey { .. })
    }

    /// Walks `dir` (at `path` under DIR, `depth` levels down); returns
    /// whether it is empty when done with it.
    fn dir(&mut self, dir: &mut Dir, path: &mut Vec<u8>, depth: usize, excluded: bool) -> bool {
        let mut left = 0u64;
        while let Some(next) = dir.next_name() {
            if self.stopping() {
                return false;
            }
            let name = match next {
                Ok(name) => name,
                Err(e) => {
                    self.unreadable(path, &e);
                    return false;
                }
            };
            let at = path.len();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(name.to_bytes());
            if !self.entry(dir, &name, path, depth, excluded) {
                left += 1;
            }
            path.truncate(at);
        }
        left == 0
    }

    fn unreadable(&mut self, path: &[u8], e: &io::Error) {
        self.report
            .skip(if e.kind() == io::ErrorKind::PermissionDenied {
                Skip::Permission
            } else {
                Skip::Changed
            });
        let shown: &[u8] = if path.is_empty() { b"." } else { path };
        self.report.problem(
            if e.kind() == io::ErrorKind::PermissionDenied {
                "cannot read a directory: permission denied (run as the app's UID, or give the volume an fsGroup with group rwx)"
            } else {
                "cannot read a directory"
            },
            shown,
        );
    }

    /// One entry; returns whether it is gone after this pass.
    fn entry(
        &mut self,
        dir: &Dir,
        name: &CStr,
        path: &mut Vec<u8>,
        depth: usize,
        excluded_above: bool,
    ) -> bool {
        let meta = match dir.meta_of(name) {
            Ok(meta) => meta,
            // Deleted by the app meanwhile: no error, and gone.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return true,
            Err(e) => {
                self.unreadable(path, &e);
                return false;
            }
        };
        if self.survey() {
            self.report.scanned += 1;
        }
        if meta.dev != self.root_dev {
            self.report.skip(Skip::OtherFilesystem);
            return false;
        }
        // Every pattern is tried, also below an excluded directory, so that
        // one which matches nothing can be said.
        let is_dir = matches!(meta.kind, Kind::Dir);
        let mut excluded = excluded_above;
        for (at, glob) in self.config.excludes.iter().enumerate() {
            if glob.matches(path, is_dir) {
                excluded = true;
                if self.survey() {
                    let hits = &mut self.report.exclude_hits;
                    hits.resize(hits.len().max(at + 1), 0);
                    hits[at] += 1;
                }
            }
        }
        let other_mount = matches!((meta.mnt_id, self.root_mnt), (Some(a), Some(b)) if a != b);
        if self.survey() {
            self.count_usage(&meta);
        }
        if other_mount {
            // A bind mount of this filesystem: never entered, never touched.
            self.report.skip(Skip::OtherFilesystem);
            return false;
        }
        match meta.kind {
            Kind::Special => {
                if self.survey() {
                    self.report.skip(Skip::SpecialFile);
                }
                false
            }
            Kind::Dir => self.subdir(dir, name, &meta, path, depth, excluded),
            Kind::File | Kind::Symlink => self.file(dir, name, &meta, path, excluded),
        }
    }

    fn count_usage(&mut self, meta: &Meta) {
        if meta.kind != Kind::Dir && meta.nlink > 1 {
            let key = (meta.dev.0, meta.dev.1, meta.ino);
            if self.linked.contains(&key) {
                return;
            }
            if self.linked.len() < MAX_LINKED_INODES {
                self.linked.insert(key);
            }
        }
        self.report.usage += meta.bytes;
    }

    fn subdir(
        &mut self,
        parent: &Dir,
        name: &CStr,
        meta: &Meta,
        path: &mut Vec<u8>,
        depth: usize,
        excluded: bool,
    ) -> bool {
        if depth + 1 > MAX_DEPTH {
            if self.survey() {
                self.report.skip(Skip::Depth);
                self.report
                    .problem("deeper than 128 levels: not walked", path);
            }
            return false;
        }
        let mut child = match parent.open_child(name, meta) {
            Ok(child) => child,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return true,
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                if self.survey() {
                    self.unreadable(path, &e);
                }
                return false;
            }
            // Swapped for a symlink (ELOOP, ENOTDIR) or another directory.
            Err(_) => {
                self.report.skip(Skip::Changed);
                return false;
            }
        };
        let empty = self.dir(&mut child, path, depth + 1, excluded);
        drop(child);
        let old = self
            .config
            .older_than
            .is_some_and(|older| self.now - meta.mtime > older.as_secs() as i64);
        if !(empty
            && old
            && self.config.remove_empty_dirs
            && !excluded
            && self.survey()
            && !self.report.stopped)
        {
            return false;
        }
        if self.config.dry_run {
            self.report.dirs_removed += 1;
            return true;
        }
        match parent.rmdir(name) {
            Ok(()) => {
                self.report.dirs_removed += 1;
                true
            }
            // Not empty any more (the app wrote into it), or gone: fine.
            Err(_) => false,
        }
    }

    fn file(&mut self, dir: &Dir, name: &CStr, meta: &Meta, path: &[u8], excluded: bool) -> bool {
        let stamp = match self.config.age_by {
            AgeBy::Mtime => meta.mtime,
            AgeBy::Atime => meta.atime,
        };
        let age = self.now - stamp;
        // Unlinking one name of several frees nothing.
        let frees = if meta.nlink <= 1 { meta.bytes } else { 0 };
        let survey = self.survey();
        let keep = |walk: &mut Walk, why: Option<Skip>| {
            if let Some(why) = why {
                if survey {
                    walk.report.skip(why);
                }
            }
            walk.report.files += 1;
            walk.report.oldest = Some(walk.report.oldest.map_or(stamp, |o| o.min(stamp)));
            false
        };
        if excluded {
            return keep(self, Some(Skip::Excluded));
        }
        if meta.kind == Kind::File && self.locks.holds(meta.dev, meta.ino) {
            return keep(self, Some(Skip::Locked));
        }
        let aged_out = self
            .config
            .older_than
            .is_some_and(|older| age > older.as_secs() as i64);
        if aged_out && !survey {
            // The first walk deleted it (or, in a dry run, would have).
            return true;
        }
        let reason = match &mut self.mode {
            Mode::Survey { histogram } => {
                if aged_out {
                    Some(Reason::Age)
                } else {
                    histogram[bucket_of(age)] += frees;
                    None
                }
            }
            Mode::Cut {
                bucket,
                budget,
                taken,
                need,
            } => {
                let b = bucket_of(age);
                let freed = self.report.freed[1];
                if frees == 0 || freed >= *need {
                    None
                } else if b > *bucket {
                    Some(Reason::Size)
                } else if b == *bucket && *taken < *budget {
                    *taken += frees;
                    Some(Reason::Size)
                } else {
                    None
                }
            }
        };
        let Some(reason) = reason else {
            return keep(self, None);
        };
        if !self.config.dry_run {
            if let Some(rate) = self.config.max_rate {
                if self.shutdown.sleep_until(self.next_deletion) {
                    self.report.stopped = true;
                    return keep(self, None);
                }
                self.next_deletion =
                    self.next_deletion.max(Instant::now()) + Duration::from_secs(1) / rate;
            }
            match dir.unlink(name) {
                Ok(()) => {}
                // The app deleted it first: not ours, and gone.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return true,
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EACCES | libc::EPERM | libc::EROFS)
                    ) =>
                {
                    self.report.problem(
                        "cannot delete: permission denied (run as the app's UID, or give the volume an fsGroup with group rwx and the app a umask that keeps it)",
                        path,
                    );
                    return keep(self, Some(Skip::Permission));
                }
                Err(_) => return keep(self, Some(Skip::Changed)),
            }
        }
        let i = match reason {
            Reason::Age => 0,
            Reason::Size => 1,
        };
        self.report.deleted[i] += 1;
        self.report.freed[i] += frees;
        if common::log::enabled(common::log::Level::Debug) {
            let what = if self.config.dry_run {
                "would delete"
            } else {
                "deleted"
            };
            let reason = ["age", "size"][i];
            common::log::debug(
                what,
                &[
                    ("path", &shown(path)),
                    ("reason", &reason),
                    ("bytes", &frees),
                    ("age", &age),
                ],
            );
        }
        if survey {
            // Deleted in the first walk: not part of the usage after it.
            self.report.usage = self.report.usage.saturating_sub(frees);
        }
        if self.report.paths.len() < PATHS_SHOWN {
            self.report.paths.push(shown(path));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_with_age_by_one_per_cent() {
        assert_eq!(bucket_of(-5), 0);
        assert_eq!(bucket_of(0), 0);
        assert!(bucket_of(3600) < bucket_of(3700));
        assert_eq!(bucket_of(i64::MAX), AGE_BUCKETS - 1);
        // 100 years still fits.
        assert!(bucket_of(100 * 365 * 86_400) < AGE_BUCKETS - 1);
    }

    #[test]
    fn the_cut_off_takes_the_oldest_first_and_only_what_is_needed() {
        let mut h = vec![0u64; AGE_BUCKETS];
        h[10] = 100;
        h[20] = 50;
        h[30] = 30;
        assert_eq!(cut_off(&h, 20), (30, 20));
        assert_eq!(cut_off(&h, 30), (30, 30));
        assert_eq!(cut_off(&h, 60), (20, 30));
        assert_eq!(cut_off(&h, 180), (10, 100));
        assert_eq!(cut_off(&h, 1000), (0, u64::MAX));
    }
}
