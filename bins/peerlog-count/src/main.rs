//! peerlog-count: find the main container's filesystem through
//! /proc/PID/root (with `shareProcessNamespace`), follow its log, and count
//! lines and matching lines, never losing one already counted.

mod count;
mod discover;
mod follow;
mod in_root;
mod publish;

use common::cli::{self, usage, Program, Stop, EXIT_FAILURE};
use common::log;
use common::server::MetricsEndpoint;
use common::shutdown::Shutdown;
use discover::{PeerChoice, Source};
use follow::Follower;
use in_root::{Problem, Root};
use publish::Totals;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PROGRAM: Program = Program {
    name: "peerlog-count",
    version: env!("CARGO_PKG_VERSION"),
    help: HELP,
};

const HELP: &str = "\
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
  --root DIR          resolve PATH inside DIR, no discovery (a shared volume)
  --proc DIR          the process table to scan (default /proc)
  --interval DURATION read what was appended this often (default 10s)
  --rotate-wait DURATION
                      keep reading a renamed (rotated) log until it has been
                      quiet this long, as the app reopens its log when it gets
                      to it (default 5s); a deleted one is closed at once
  --match NAME=TEXT   also count lines containing TEXT (repeatable)
  --from-end          start counting at the file's end (default: its start)
  --listen ADDR       serve /metrics: peerlog_lines_total, peerlog_matched_lines_total{match},
                      peerlog_bytes_total, peerlog_rotations_total,
                      peerlog_truncations_total, peerlog_truncations_unrecovered_total,
                      peerlog_up, peerlog_peer_pid
  --post URL          POST {\"path\", \"lines\", \"matches\"} as JSON each interval
  --once              read once, print the counts as JSON, exit (1 if the log is
                      absent or cannot be read, with the reason on stderr)
  -h, --help, -V, --version

Reading another container's /proc/PID/root needs its UID, or root with the
SYS_PTRACE capability.

Examples:
  peerlog-count --listen :9102 --match errors=ERROR --match slow='took=' /var/log/app.log
  peerlog-count --once --root /srv/shared /logs/app.log
  peerlog-count --peer comm:nginx --interval 30s --post http://127.0.0.1:8080/log-stats /var/log/nginx/access.log
";

struct Options {
    path: PathBuf,
    peer: PeerChoice,
    root: Option<PathBuf>,
    proc: PathBuf,
    interval: Duration,
    rotate_wait: Duration,
    matches: Vec<(String, String)>,
    from_end: bool,
    listen: Option<String>,
    post: Option<String>,
    once: bool,
}

fn parse(mut parser: lexopt::Parser) -> Result<Options, Stop> {
    use lexopt::prelude::*;
    let mut path = None;
    let mut options = Options {
        path: PathBuf::new(),
        peer: PeerChoice::Auto,
        root: None,
        proc: PathBuf::from("/proc"),
        interval: Duration::from_secs(10),
        rotate_wait: Duration::from_secs(5),
        matches: Vec::new(),
        from_end: false,
        listen: None,
        post: None,
        once: false,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Err(Stop::Help),
            Short('V') | Long("version") => return Err(Stop::Version),
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
            Long("from-end") => options.from_end = true,
            Long("listen") => options.listen = Some(cli::text(&mut parser, "--listen")?),
            Long("post") => {
                let url = cli::text(&mut parser, "--post")?;
                common::client::check_url(&url).map_err(|e| usage("--post", e))?;
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
    if options.root.is_some() && !matches!(options.peer, PeerChoice::Auto) {
        return Err(usage(
            "--root",
            "resolves PATH inside DIR without discovery: it cannot go with --peer",
        ));
    }
    Ok(options)
}

fn main() {
    let options = PROGRAM.parse(parse);
    let shutdown = Shutdown::install();
    // Whatever is in flight (a post to a receiver that never answers, a
    // read of a huge append), SIGTERM ends it within a second.
    shutdown.exit_within(Duration::from_millis(900));
    let totals = Arc::new(Mutex::new(Totals::new(&options.matches)));
    if let Some(listen) = &options.listen {
        let metrics = publish::Metrics::new(totals.clone());
        let endpoint = MetricsEndpoint {
            index: "peerlog-count: /metrics, /healthz\n",
            render: move || metrics.render(),
        };
        let addr = common::server::start(listen, Arc::new(endpoint))
            .unwrap_or_else(|e| PROGRAM.config_exit(&format!("--listen: {e}")));
        log::info("serving", &[("addr", &addr)]);
    }
    std::process::exit(follow_forever(&options, &totals, &shutdown));
}

/// The main loop, at a fixed rate; returns the exit status.
fn follow_forever(options: &Options, totals: &Mutex<Totals>, shutdown: &Shutdown) -> i32 {
    let fixed = options.root.as_ref().map(|dir| {
        Root::open(dir)
            .unwrap_or_else(|e| PROGRAM.config_exit(&format!("--root {}: {e}", dir.display())))
    });
    let mut source = Source::new(fixed, &options.proc, &options.path, &options.peer);
    let mut follower = Follower::new(
        count::Counter::new(&options.matches),
        options.from_end,
        options.rotate_wait,
    );
    let poster = options
        .post
        .as_ref()
        .map(|url| publish::Poster::new(url, &options.path));
    let start = Instant::now();
    let mut tick: u32 = 0;
    loop {
        let read = match source.root() {
            Ok(Some(root)) => follower.poll(root, &options.path),
            Ok(None) => {
                follower.poll_rotated();
                Err(Problem::Absent)
            }
            Err(candidates) => {
                log::error(
                    "several containers have this file",
                    &[("candidates", &candidates)],
                );
                eprintln!("peerlog-count: {} is in several containers' roots: {candidates}; pick one with --peer PID or --peer comm:NAME", options.path.display());
                return cli::EXIT_USAGE;
            }
        };
        source.note(&read);
        let up = read.is_ok();
        let snapshot = {
            let mut totals = totals.lock().unwrap_or_else(|e| e.into_inner());
            totals.update(&follower, up, source.peer_pid());
            totals.clone()
        };
        if options.once {
            println!("{}", publish::json(&options.path, &snapshot));
            return if up { 0 } else { EXIT_FAILURE };
        }
        if let Some(poster) = &poster {
            poster.post(&snapshot);
        }
        tick += 1;
        if shutdown.sleep_until(start + options.interval * tick) {
            log::info(
                "stopping",
                &[("signal", &shutdown.reason().unwrap_or("signal"))],
            );
            return 0;
        }
        // A slow interval (a huge append) skips slots rather than bunching up.
        let due = (start.elapsed().as_secs_f64() / options.interval.as_secs_f64()) as u32;
        tick = tick.max(due);
    }
}
