//! sweep's command line: the help text, the options and their parsing,
//! side by side.

use crate::glob::Glob;
use common::cli::{self, usage, Stop};
use common::flag::Flag;
use common::server::ListenAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const HELP: &str = concat!(
    "\
sweep: garbage-collect the files the main container leaves in a shared volume.

Usage: sweep DIR [--older-than DURATION] [--max-size SIZE] [OPTIONS]

Deletes regular files and symlinks (the links, never what they point to)
under DIR, walking it by file descriptor: a symlink is never followed, a
mount or another filesystem inside DIR is never entered, FIFOs, sockets and
devices are never opened, DIR itself is never deleted. At least one of:

  --older-than DURATION  delete what was not modified within DURATION
  --age-by mtime|atime   the timestamp that ages a file (default mtime;
                         atime is unreliable under noatime and relatime)
  --max-size SIZE        keep DIR's usage at or below SIZE, counted as the
                         kubelet counts an emptyDir (st_blocks * 512, hard
                         links once, this filesystem only): over it, delete
                         oldest first down to --low-water
  --low-water SIZE       where a size pass stops (default 90% of --max-size)

  --exclude GLOB         never delete what matches GLOB, a path relative to
                         DIR: * and ? within a name, [...], ** across
                         directories (repeatable); still counted in usage.
                         As in .gitignore: no '/' matches at any depth
                         ('*.lock' is '**/*.lock'), a final '/' matches a
                         directory and all below it ('tmp/'); 'a/**' is what
                         is below DIR/a. An absolute pattern is refused, and
                         one that matches nothing is said by --dry-run
  --remove-empty-dirs    also delete a directory left empty, when its own
                         age (before this pass) is past --older-than
  --interval DURATION    a pass at start, then one every DURATION (default 1m)
  --once                 one pass, then exit
  --dry-run              delete nothing; log what a pass would delete
  --max-rate N           delete at most N files a second (default: no cap)
  --listen ADDR          serve /metrics: sweep_deleted_files_total{reason},
                         sweep_deleted_bytes_total{reason}, sweep_tree_bytes,
                         sweep_tree_files, sweep_oldest_file_timestamp_seconds,
                         sweep_skipped_total{reason}, sweep_pass_duration_seconds,
                         sweep_last_pass_timestamp_seconds, process_*; /healthz
",
    common::log_help!(),
    "  -h, --help, -V, --version

A file its writer holds a lock on (flock, POSIX or OFD, as /proc/locks
shows) is skipped. Deleting a file still open frees no space until the
last process closes it.

Durations: 250ms, 1.5s, 1m30s, 1h, 1d (units ns us ms s m h d), or a bare
number of seconds. Sizes as Kubernetes writes a sizeLimit: 65536, 900Mi,
1.5Gi, 1G (10^9), 1e9; or 900MiB.
Exit status: 0 done (or stopped by SIGTERM), 1 --once could not read DIR,
2 bad usage, 70 an internal error.

Examples:
  sweep /cache --older-than 1h --listen :9103
  sweep /cache --max-size 900Mi --exclude '**/*.lock' --interval 30s
  sweep /tmp/uploads --older-than 1d --remove-empty-dirs --once --dry-run
  every --cron '0 3 * * *' --timeout 1h -- sweep /cache --older-than 7d --once
"
);

/// Each flag of sweep, declared once (see `common::flag`). With the shared
/// lists, [`ALL_FLAGS`] is the parser's list, and its test holds `HELP` and
/// `docs/sweep.md` to it.
pub const FLAGS: &[Flag] = &[
    Flag::new("older-than", &["1h"]),
    Flag::new("age-by", &["atime"]),
    Flag::new("max-size", &["900Mi"]),
    Flag::new("low-water", &["800Mi", "--max-size", "900Mi"]),
    Flag::new("exclude", &["**/*.lock"]),
    Flag::switch("remove-empty-dirs"),
    Flag::new("interval", &["30s"]),
    Flag::switch("once"),
    Flag::switch("dry-run"),
    Flag::new("max-rate", &["100"]),
    Flag::new("listen", &[":9103"]),
];

/// The spellings the parser takes, made from the lists at compile time.
const PARSED: [common::flag::Spelling; common::flag::count(ALL_FLAGS)] =
    common::flag::spelled(ALL_FLAGS);

pub const ALL_FLAGS: &[&[Flag]] = &[FLAGS, common::log::FLAGS, common::flag::STANDARD];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AgeBy {
    Mtime,
    Atime,
}

pub struct Options {
    /// `--log-format`, `--log-level`.
    pub log: common::log::LogOptions,
    pub dir: PathBuf,
    pub older_than: Option<Duration>,
    pub age_by: AgeBy,
    pub max_size: Option<u64>,
    pub low_water: u64,
    pub excludes: Vec<Glob>,
    pub remove_empty_dirs: bool,
    pub interval: Duration,
    pub once: bool,
    pub dry_run: bool,
    pub max_rate: Option<u32>,
    pub listen: Option<ListenAddr>,
}

pub fn parse(mut parser: lexopt::Parser) -> Result<Options, Stop> {
    use lexopt::prelude::*;
    let mut dir: Option<PathBuf> = None;
    let mut low_water = None;
    // Read once DIR is known: a pattern that names DIR is refused with the
    // relative spelling.
    let mut excludes: Vec<String> = Vec::new();
    let mut options = Options {
        log: common::log::LogOptions::default(),
        dir: PathBuf::new(),
        older_than: None,
        age_by: AgeBy::Mtime,
        max_size: None,
        low_water: 0,
        excludes: Vec::new(),
        remove_empty_dirs: false,
        interval: Duration::from_secs(60),
        once: false,
        dry_run: false,
        max_rate: None,
        listen: None,
    };
    while let Some(arg) = parser.next()? {
        common::flag::declared(&arg, &PARSED)?;
        match arg {
            Short('h') | Long("help") => return Err(Stop::Help),
            Short('V') | Long("version") => return Err(Stop::Version),
            Long(flag) if common::flag::has(&common::log::SPELLED, flag) => {
                let flag = flag.to_string();
                cli::log_flag(&mut options.log, &flag, &mut parser)?;
            }
            Long("older-than") => {
                options.older_than = Some(cli::positive_duration(&mut parser, "--older-than")?)
            }
            Long("age-by") => {
                options.age_by = match cli::text(&mut parser, "--age-by")?.as_str() {
                    "mtime" => AgeBy::Mtime,
                    "atime" => AgeBy::Atime,
                    other => {
                        return Err(usage(
                            "--age-by",
                            format!("'{other}' is not mtime or atime"),
                        ))
                    }
                }
            }
            Long("max-size") => options.max_size = Some(cli::byte_size(&mut parser, "--max-size")?),
            Long("low-water") => low_water = Some(cli::byte_size(&mut parser, "--low-water")?),
            Long("exclude") => excludes.push(cli::text(&mut parser, "--exclude")?),
            Long("remove-empty-dirs") => options.remove_empty_dirs = true,
            Long("interval") => {
                options.interval = cli::positive_duration(&mut parser, "--interval")?
            }
            Long("once") => options.once = true,
            Long("dry-run") => options.dry_run = true,
            Long("max-rate") => {
                let rate: u32 = cli::number(&mut parser, "--max-rate")?;
                if rate == 0 {
                    return Err(usage(
                        "--max-rate",
                        "must be at least 1 (leave it out for no cap)",
                    ));
                }
                options.max_rate = Some(rate);
            }
            Long("listen") => options.listen = Some(cli::listen_addr(&mut parser, "--listen")?),
            Value(value) if dir.is_none() => dir = Some(PathBuf::from(value)),
            Value(value) => {
                return Err(Stop::Usage(format!(
                    "unexpected argument {:?}: give one DIR",
                    value.to_string_lossy()
                )))
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    options.dir = dir.ok_or_else(|| Stop::Usage("DIR missing: the directory to sweep".into()))?;
    for text in &excludes {
        let glob = Glob::parse(text, &options.dir).map_err(|e| usage("--exclude", e))?;
        options.excludes.push(glob);
    }
    if options.older_than.is_none() && options.max_size.is_none() {
        return Err(Stop::Usage(
            "nothing to sweep by: give --older-than DURATION, --max-size SIZE, or both".into(),
        ));
    }
    options.low_water = match (options.max_size, low_water) {
        (Some(max), None) => max / 10 * 9,
        (Some(max), Some(low)) if low <= max => low,
        (Some(_), Some(_)) => return Err(usage("--low-water", "must not be above --max-size")),
        (None, Some(_)) => return Err(usage("--low-water", "applies with --max-size")),
        (None, None) => 0,
    };
    if options.remove_empty_dirs && options.older_than.is_none() {
        return Err(usage(
            "--remove-empty-dirs",
            "needs --older-than: an empty directory goes when it is that old",
        ));
    }
    if options.once && options.listen.is_some() {
        return Err(usage(
            "--listen",
            "cannot go with --once, which sweeps once and exits: drop one",
        ));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_docs_and_parser_take_each_declared_flag() {
        common::flag::check(
            ALL_FLAGS,
            HELP,
            include_str!("../../../docs/sweep.md"),
            &["--cron", "--timeout"],
            &["/cache", "--older-than", "1h"],
            parse,
        );
    }

    fn parsed(args: &[&str]) -> Result<Options, Stop> {
        cli::parse_args(args, parse)
    }

    fn refused(args: &[&str]) -> String {
        cli::usage_error(parsed(args))
    }

    #[test]
    fn age_size_and_their_defaults() {
        let o = parsed(&["/cache", "--max-size", "900Mi", "--older-than", "1h"]).unwrap();
        assert_eq!(o.dir, PathBuf::from("/cache"));
        assert_eq!(o.max_size, Some(900 << 20));
        assert_eq!(o.low_water, (900u64 << 20) / 10 * 9);
        assert_eq!(o.older_than, Some(Duration::from_secs(3600)));
        assert_eq!(
            (o.age_by, o.interval, o.once, o.dry_run),
            (AgeBy::Mtime, Duration::from_secs(60), false, false)
        );
        let o = parsed(&[
            "/c",
            "--max-size",
            "1Gi",
            "--low-water",
            "512Mi",
            "--age-by",
            "atime",
        ])
        .unwrap();
        assert_eq!((o.low_water, o.age_by), (512 << 20, AgeBy::Atime));
    }

    #[test]
    fn bad_usage_names_the_flag() {
        assert!(refused(&[]).starts_with("DIR missing"));
        assert!(refused(&["/c"]).starts_with("nothing to sweep by"));
        assert!(refused(&["/c", "--max-size", "1GB"]).starts_with("--max-size: '1GB' is ambiguous"));
        assert!(refused(&["/c", "--max-size", "1Gi", "--low-water", "2Gi"])
            .starts_with("--low-water: must not be above"));
        assert!(refused(&["/c", "--older-than", "1h", "--low-water", "2Gi"])
            .starts_with("--low-water: applies with --max-size"));
        assert!(refused(&["/c", "--older-than", "1h", "--exclude", "[a"])
            .starts_with("--exclude: '[a': a '['"));
        assert!(refused(&["/c", "--older-than", "0"]).contains("greater than zero"));
        assert!(refused(&["/c", "--older-than", "1h", "--age-by", "ctime"])
            .contains("not mtime or atime"));
        assert!(refused(&["/c", "--max-size", "1Gi", "--remove-empty-dirs"])
            .starts_with("--remove-empty-dirs: needs --older-than"));
        assert!(refused(&["/c", "/d", "--older-than", "1h"]).starts_with("unexpected argument"));
        assert!(refused(&["/c", "--older-than", "1h", "--max-rate", "0"])
            .starts_with("--max-rate: must be at least 1"));
        assert!(
            refused(&["/c", "--older-than", "1h", "--once", "--listen", ":9103"])
                .starts_with("--listen: cannot go with --once")
        );
    }
}
