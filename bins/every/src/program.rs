//! Program runs: argv exec'd directly (there is no shell), its output as log
//! lines (`output`) or passed through, SIGTERM at the timeout and SIGKILL a
//! second later, always reaped.
//!
//! One thread reaps every child the moment SIGCHLD arrives, with
//! `waitpid(-1)` rather than through std's `Child`: as PID 1 we inherit
//! orphans, and they must not stay zombies.

use crate::output::Pump;
use common::shutdown::ChildSignals;
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const KILL_GRACE: Duration = Duration::from_secs(1);

/// How a program run ended.
pub enum Ended {
    Exited(i32),
    Signalled(i32),
    /// It could not be started at all.
    NotStarted(String),
}

pub struct ProgramRun {
    pub ended: Ended,
    /// The timeout passed and SIGTERM (then maybe SIGKILL) was sent.
    pub timed_out: bool,
}

/// Exit statuses of reaped children, by PID, until their run collects them.
pub struct Reaper {
    exited: Mutex<HashMap<i32, i32>>,
    changed: Condvar,
    /// Where a program's stdout and stderr go as log lines; None with
    /// `--passthrough-logs`.
    output: Option<Arc<Pump>>,
}

impl Reaper {
    /// Starts the reaping thread, which takes every SIGCHLD.
    pub fn start(children: ChildSignals, output: Option<Arc<Pump>>) -> Arc<Reaper> {
        let reaper = Arc::new(Reaper {
            exited: Mutex::default(),
            changed: Condvar::new(),
            output,
        });
        let shared = reaper.clone();
        std::thread::Builder::new()
            .name("reaper".into())
            .stack_size(64 * 1024)
            .spawn(move || loop {
                children.wait();
                shared.reap();
            })
            .expect("spawn the reaper thread");
        reaper
    }

    fn reap(&self) {
        let mut exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes one int.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            exited.insert(pid, status);
        }
        self.changed.notify_all();
    }

    /// Waits until `pid` has exited or `deadline` passes.
    fn wait(&self, pid: i32, deadline: Option<Instant>) -> Option<i32> {
        let mut exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(status) = exited.remove(&pid) {
                // Whatever else is here is orphans' statuses: nobody wants them.
                exited.clear();
                return Some(status);
            }
            match deadline {
                None => exited = self.changed.wait(exited).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    exited = self
                        .changed
                        .wait_timeout(exited, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    /// Runs `argv` as run number `run`.
    pub fn run(&self, argv: &[OsString], timeout: Duration, run: u64) -> ProgramRun {
        let mut command = Command::new(&argv[0]);
        // Its own process group, so the timeout's signals reach its children too.
        command.args(&argv[1..]).process_group(0);
        if self.output.is_some() {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        // We block SIGTERM, SIGINT and SIGCHLD, and a signal mask survives
        // exec: the program must start with none blocked.
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            let none = common::shutdown::signal_set(&[]);
            command.pre_exec(move || {
                libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                Ok(())
            });
        }
        // Hold the reaper off while spawning: when exec fails, std reaps the
        // failed child itself inside spawn(), and panics if we beat it to it.
        let reaping = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        let spawned = command.spawn();
        drop(reaping);
        let pid = match spawned {
            Ok(mut child) => {
                if let Some(output) = &self.output {
                    let pipes = [
                        (child.stdout.take().map(OwnedFd::from), "stdout"),
                        (child.stderr.take().map(OwnedFd::from), "stderr"),
                    ];
                    for (fd, name) in pipes {
                        if let Some(fd) = fd {
                            output.add(fd, run, name);
                        }
                    }
                }
                child.id() as i32
            }
            Err(e) => {
                let why = format!("cannot start {}: {e}", argv[0].to_string_lossy());
                return ProgramRun {
                    ended: Ended::NotStarted(why),
                    timed_out: false,
                };
            }
        };
        let mut timed_out = false;
        let status = self
            .wait(pid, Some(Instant::now() + timeout))
            .unwrap_or_else(|| {
                timed_out = true;
                signal_group(pid, libc::SIGTERM);
                self.wait(pid, Some(Instant::now() + KILL_GRACE))
                    .unwrap_or_else(|| {
                        signal_group(pid, libc::SIGKILL);
                        self.wait(pid, None).unwrap_or_default()
                    })
            });
        if let Some(output) = &self.output {
            output.run_ended(run);
        }
        let ended = if libc::WIFSIGNALED(status) {
            Ended::Signalled(libc::WTERMSIG(status))
        } else {
            Ended::Exited(libc::WEXITSTATUS(status))
        };
        ProgramRun { ended, timed_out }
    }
}

impl Reaper {
    /// At exit: the output not yet read, read (at most `output::DRAIN`).
    pub fn drain_output(&self) {
        if let Some(output) = &self.output {
            output.drain();
        }
    }
}

fn signal_group(pid: i32, signal: i32) {
    // SAFETY: signalling the process group we created for the child.
    unsafe { libc::kill(-pid, signal) };
}

/// A signal's name for the log.
pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGABRT => "SIGABRT".into(),
        n => format!("signal {n}"),
    }
}
