//! peerlog-count's command line: the help text, the options and their
//! parsing, side by side.

use crate::by_field::Field;
use crate::discover::PeerChoice;
use common::cli::{self, usage, Stop};
use common::flag::Flag;
use common::server::ListenAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const HELP: &str = concat!(
    "\
peerlog-count: follow the main container's log and count its lines.

Usage: peerlog-count [OPTIONS] PATH

PATH is the log as the main container sees it (e.g. /var/log/app.log). With
shareProcessNamespace, the main container is the process whose root is not
ours and holds PATH. PATH is resolved inside that root as the main container
sees it: its absolute symlinks stay inside it, links to /proc are refused,
and only a regular file is read (a FIFO, a device or a link to the app's
standard output is named as such).

  --peer auto|PID|comm:NAME   which process (default auto: the one root that
                              holds PATH; several are an error naming them)
  --wait-for-peer DURATION
                      while no process has PATH, say once that it waits (info),
                      and only after this long that a process it may not read
                      could be the app (default 30s: a Pod's native side-cars
                      start before the app, beside others it may not read;
                      --once does not wait)
  --root DIR          resolve PATH inside DIR, no discovery (a shared volume)
  --proc DIR          the process table to scan (default /proc)
  --interval DURATION read what was appended this often (default 10s)
  --rotate-wait DURATION
                      keep reading a renamed (rotated) log until it has been
                      quiet this long, as the app reopens its log when it gets
                      to it (default 5s); a deleted one is closed at once
  --match NAME=TEXT   also count lines containing TEXT (repeatable)
  --by NAME=FIELD     also count lines by the value of FIELD: json:POINTER (JSON
                      lines), logfmt:KEY, or word:N (awk's $N); a line without it
                      counts under \"\"; with --match, only matching lines (repeatable)
  --by-every-line     --by counts every line, also with --match
  --max-values N      distinct values kept per --by (default 100); later ones
                      count under \"other\"
  --from-end          start counting at the file's end (default: its start)
  --listen ADDR       serve /metrics: peerlog_lines_total, peerlog_matched_lines_total{match},
                      peerlog_bytes_total, peerlog_rotations_total,
                      peerlog_truncations_total, peerlog_truncations_unrecovered_total,
                      peerlog_up, peerlog_peer_pid, peerlog_lines_by_total{by,value},
                      peerlog_values_dropped_total{by}
  --post URL          POST {\"path\", \"lines\", \"matches\", \"by\"} as JSON each interval
  --once              read once, print the counts as JSON, exit (1 and nothing
                      on stdout if the log is absent or cannot be read, with
                      the reason on stderr); not with --listen
",
    common::log_help!(),
    "  -h, --help, -V, --version

Reading another container's /proc/PID/root needs its UID, or root with the
SYS_PTRACE capability.

Examples:
  peerlog-count --listen :9102 --match errors=ERROR --match slow='took=' /var/log/app.log
  peerlog-count --once --root /srv/shared /logs/app.log
  peerlog-count --listen :9102 --by status=word:9 /var/log/app/access.log
  peerlog-count --peer comm:nginx --interval 30s --post http://127.0.0.1:8080/log-stats /var/log/app/access.log
"
);

/// Each flag of peerlog-count, declared once (see `common::flag`). With the shared
/// lists, [`ALL_FLAGS`] is the parser's list, and its test holds `HELP` and
/// `docs/peerlog-count.md` to it.
pub const FLAGS: &[Flag] = &[
    Flag::new("peer", &["comm:app"]),
    Flag::new("wait-for-peer", &["10s"]),
    Flag::new("root", &["/mnt/app"]),
    Flag::new("proc", &["/host/proc"]),
    Flag::new("interval", &["5s"]),
    Flag::new("rotate-wait", &["2s"]),
    Flag::new("match", &["errors=ERROR"]),
    Flag::new("by", &["level=json:/level"]),
    Flag::new("by-every-line", &["--by", "level=json:/level"]),
    Flag::new("max-values", &["50"]),
    Flag::switch("from-end"),
    Flag::new("listen", &[":9102"]),
    Flag::new("post", &["http://127.0.0.1:8080/counts"]),
    Flag::switch("once"),
];

/// The spellings the parser takes, made from the lists at compile time.
const PARSED: [common::flag::Spelling; common::flag::count(ALL_FLAGS)] =
    common::flag::spelled(ALL_FLAGS);

pub const ALL_FLAGS: &[&[Flag]] = &[FLAGS, common::log::FLAGS, common::flag::STANDARD];

pub struct Options {
    /// `--log-format`, `--log-level`.
    pub log: common::log::LogOptions,
    pub path: PathBuf,
    pub peer: PeerChoice,
    pub root: Option<PathBuf>,
    pub proc: PathBuf,
    pub interval: Duration,
    pub rotate_wait: Duration,
    /// `--wait-for-peer`: how long no peer is waiting, not a problem.
    pub wait_for_peer: Duration,
    pub matches: Vec<(String, String)>,
    /// `--by NAME=FIELD`, in order.
    pub by: Vec<(String, Field)>,
    pub max_values: usize,
    pub from_end: bool,
    /// `--by` counts every line, not only those a `--match` matches.
    pub by_every_line: bool,
    pub listen: Option<ListenAddr>,
    pub post: Option<String>,
    pub once: bool,
}

pub fn parse(mut parser: lexopt::Parser) -> Result<Options, Stop> {
    use lexopt::prelude::*;
    let mut path = None;
    let mut options = Options {
        log: common::log::LogOptions::default(),
        path: PathBuf::new(),
        peer: PeerChoice::Auto,
        root: None,
        proc: PathBuf::from("/proc"),
        interval: Duration::from_secs(10),
        rotate_wait: Duration::from_secs(5),
        wait_for_peer: Duration::from_secs(30),
        matches: Vec::new(),
        by: Vec::new(),
        max_values: 100,
        by_every_line: false,
        from_end: false,
        listen: None,
        post: None,
        once: false,
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
            Long("peer") => {
                let text = cli::text(&mut parser, "--peer")?;
                options.peer = match text.as_str() {
                    "auto" => PeerChoice::Auto,
                    _ => match (text.strip_prefix("comm:"), text.parse::<u32>()) {
                        (Some(name), _) if !name.is_empty() => PeerChoice::Comm(name.to_string()),
                        (None, Ok(pid)) if pid > 0 => PeerChoice::Pid(pid),
                        _ => {
                            return Err(usage(
                                "--peer",
                                format!("'{text}' is not auto, a PID or comm:NAME"),
                            ))
                        }
                    },
                };
            }
            Long("root") => options.root = Some(parser.value()?.into()),
            Long("proc") => options.proc = parser.value()?.into(),
            Long("interval") => {
                options.interval = cli::positive_duration(&mut parser, "--interval")?
            }
            Long("wait-for-peer") => {
                options.wait_for_peer = cli::duration(&mut parser, "--wait-for-peer")?
            }
            Long("rotate-wait") => {
                options.rotate_wait = cli::duration(&mut parser, "--rotate-wait")?
            }
            Long("match") => {
                let text = cli::text(&mut parser, "--match")?;
                let (name, needle) = text
                    .split_once('=')
                    .filter(|(name, needle)| !name.is_empty() && !needle.is_empty())
                    .ok_or_else(|| usage("--match", format!("'{text}' is not NAME=TEXT")))?;
                if options.matches.iter().any(|(n, _)| n == name) {
                    return Err(usage("--match", format!("'{name}' is given twice")));
                }
                options.matches.push((name.to_string(), needle.to_string()));
            }
            Long("by") => {
                let text = cli::text(&mut parser, "--by")?;
                let (name, field) = text
                    .split_once('=')
                    .filter(|(name, _)| !name.is_empty())
                    .ok_or_else(|| usage("--by", format!("'{text}' is not NAME=FIELD")))?;
                let field = Field::parse(field).map_err(|e| usage("--by", e))?;
                if options.by.iter().any(|(n, _)| n == name) {
                    return Err(usage("--by", format!("'{name}' is given twice")));
                }
                options.by.push((name.to_string(), field));
            }
            Long("max-values") => {
                options.max_values = cli::number(&mut parser, "--max-values")?;
                if options.max_values == 0 {
                    return Err(usage("--max-values", "must be at least 1"));
                }
            }
            Long("from-end") => options.from_end = true,
            Long("by-every-line") => options.by_every_line = true,
            Long("listen") => options.listen = Some(cli::listen_addr(&mut parser, "--listen")?),
            Long("post") => {
                let url = cli::text(&mut parser, "--post")?;
                net::client::check_url(&url).map_err(|e| usage("--post", e))?;
                options.post = Some(url);
            }
            Long("once") => options.once = true,
            Value(value) if path.is_none() => path = Some(PathBuf::from(value)),
            Value(value) => {
                return Err(Stop::Usage(format!(
                    "unexpected argument {:?}: give one PATH",
                    value.to_string_lossy()
                )))
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    options.path = path
        .ok_or_else(|| Stop::Usage("PATH missing: the log as the main container sees it".into()))?;
    if options.by_every_line && options.by.is_empty() {
        return Err(usage("--by-every-line", "applies to --by NAME=FIELD"));
    }
    if options.once && options.listen.is_some() {
        return Err(usage(
            "--listen",
            "cannot go with --once, which reads once and exits: drop one",
        ));
    }
    if options.root.is_some() && !matches!(options.peer, PeerChoice::Auto) {
        return Err(usage(
            "--root",
            "resolves PATH inside DIR without discovery: it cannot go with --peer",
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
            include_str!("../../../docs/peerlog-count.md"),
            &[],
            &["/var/log/app.log"],
            parse,
        );
    }

    use proptest::prelude::*;

    fn parsed(args: &[&str]) -> Result<Options, Stop> {
        cli::parse_args(args, parse)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Any --match text: NAME=TEXT with both parts, or a one-line refusal.
        #[test]
        fn any_match_spec_is_taken_or_refused_clearly(spec in any::<String>()) {
            match parsed(&["--match", &spec, "/a"]) {
                Ok(options) => {
                    let (name, text) = &options.matches[0];
                    prop_assert_eq!(format!("{name}={text}"), spec);
                    prop_assert!(!name.is_empty() && !text.is_empty());
                }
                Err(stop) => {
                    let text = cli::usage_error(Err::<(), _>(stop));
                    prop_assert!(text.starts_with("--match: ") && !text.contains('\n'), "{}", text);
                }
            }
        }

        /// Any --peer text likewise.
        #[test]
        fn any_peer_choice_is_taken_or_refused_clearly(spec in any::<String>()) {
            if let Err(stop) = parsed(&["--peer", &spec, "/a"]) {
                prop_assert!(cli::usage_error(Err::<(), _>(stop)).starts_with("--peer: "));
            }
        }
    }

    fn refused(args: &[&str]) -> String {
        cli::usage_error(parsed(args))
    }

    #[test]
    fn peers_matches_and_waits() {
        let options = parsed(&[
            "--peer",
            "comm:nginx",
            "--match",
            "errors= 500 ",
            "--rotate-wait",
            "2s",
            "--interval",
            "1s",
            "--listen",
            "127.0.0.1:9102",
            "/var/log/app/access.log",
        ])
        .unwrap();
        assert!(matches!(options.peer, PeerChoice::Comm(ref n) if n == "nginx"));
        assert_eq!(
            options.matches,
            [("errors".to_string(), " 500 ".to_string())]
        );
        assert_eq!(
            (options.rotate_wait, options.interval),
            (Duration::from_secs(2), Duration::from_secs(1))
        );
        assert!(matches!(
            parsed(&["--peer", "7", "/a"]).unwrap().peer,
            PeerChoice::Pid(7)
        ));
        let defaults = parsed(&["/a"]).unwrap();
        assert_eq!(
            (defaults.rotate_wait, defaults.interval),
            (Duration::from_secs(5), Duration::from_secs(10))
        );
    }

    #[test]
    fn bad_usage_names_the_flag() {
        assert!(refused(&["--peer", "0", "/a"]).starts_with("--peer: '0' is not auto"));
        assert!(refused(&["--root", "/", "--peer", "1", "/a"]).starts_with("--root:"));
        assert!(refused(&["--listen", ":http", "/a"]).starts_with("--listen: ':http' is not :PORT"));
        assert!(refused(&["--match", "a=x", "--match", "a=y", "/a"]).contains("'a' is given twice"));
        assert!(refused(&["--interval", "0", "/a"]).contains("greater than zero"));
        assert!(refused(&[]).starts_with("PATH missing"));
        // It would bind the port, say it serves, and exit.
        assert!(refused(&["--once", "--listen", ":9102", "/a"])
            .starts_with("--listen: cannot go with --once"));
        assert!(refused(&["--post", "127.0.0.1:8080/x", "/a"]).contains("add http://"));
    }
}
