//! Clean stop on SIGTERM and SIGINT, also as PID 1 (where the kernel ignores
//! signals that have no handler). Every signal a program waits for is
//! blocked in one call before any thread starts, so every thread inherits
//! the mask, and each is taken with `sigwait` by the one thread it is for:
//! the stop signals by the signal thread here, SIGCHLD by whoever holds the
//! `ChildSignals` that only that same call hands out. No async-signal-safety
//! concerns, and sleepers wake at once.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// A shared "stop now" flag that sleeping threads can wait on.
#[derive(Clone)]
pub struct Shutdown {
    state: Arc<(Mutex<Option<&'static str>>, Condvar)>,
}

impl Shutdown {
    /// Blocks SIGTERM and SIGINT and starts the thread that waits for them.
    /// Call it first in `main`, before any other thread exists.
    pub fn install() -> Shutdown {
        block(&[libc::SIGTERM, libc::SIGINT]);
        Shutdown::start_signal_thread()
    }

    /// As `install`, for a program that reaps children: SIGCHLD is blocked in
    /// the same call, and its stream handed to the reaper.
    pub fn install_reaping() -> (Shutdown, ChildSignals) {
        block(&[libc::SIGTERM, libc::SIGINT, libc::SIGCHLD]);
        (Shutdown::start_signal_thread(), ChildSignals(()))
    }

    fn start_signal_thread() -> Shutdown {
        let shutdown = Shutdown::new();
        let set = stop_signals();
        let handle = shutdown.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .stack_size(64 * 1024)
            .spawn(move || loop {
                let mut signal = 0;
                // SAFETY: `set` is initialised; sigwait writes one int.
                if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                    handle.request(if signal == libc::SIGINT {
                        "SIGINT"
                    } else {
                        "SIGTERM"
                    });
                }
            })
            .expect("spawn signal thread");
        shutdown
    }

    /// A flag with no signal handling, for tests and for programs that stop on
    /// their own.
    pub fn new() -> Shutdown {
        Shutdown {
            state: Arc::new((Mutex::new(None), Condvar::new())),
        }
    }

    /// Sets the flag and wakes every waiter; `reason` is kept for the log.
    pub fn request(&self, reason: &'static str) {
        let (lock, cvar) = &*self.state;
        let mut stop = lock.lock().unwrap_or_else(|e| e.into_inner());
        stop.get_or_insert(reason);
        cvar.notify_all();
    }

    /// Why the stop was requested, if it was.
    pub fn reason(&self) -> Option<&'static str> {
        *self.state.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn requested(&self) -> bool {
        self.reason().is_some()
    }

    /// Sleeps until `deadline` or a stop request; true when stopping.
    pub fn sleep_until(&self, deadline: Instant) -> bool {
        let (lock, cvar) = &*self.state;
        let mut stop = lock.lock().unwrap_or_else(|e| e.into_inner());
        while stop.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stop = cvar
                .wait_timeout(stop, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Bounds the stop: `grace` after a stop is requested, the process exits
    /// with status 0 wherever it is (a request in flight to a peer that
    /// never answers, a long read). For programs that promise to stop within
    /// a bound; what they counted is lost no more than by any exit.
    pub fn exit_within(&self, grace: std::time::Duration) {
        let handle = self.clone();
        std::thread::Builder::new()
            .name("stop-bound".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let reason = handle.wait();
                std::thread::sleep(grace);
                crate::log::warn(
                    "still busy after the stop signal; exiting now",
                    &[
                        ("signal", &reason),
                        ("grace", &crate::duration::format(grace)),
                    ],
                );
                std::process::exit(0);
            })
            .expect("spawn stop-bound thread");
    }

    /// Blocks until a stop is requested; returns its reason.
    pub fn wait(&self) -> &'static str {
        let (lock, cvar) = &*self.state;
        let mut stop = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(reason) = *stop {
                return reason;
            }
            stop = cvar.wait(stop).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

/// SIGCHLD, blocked in every thread: the holder takes each with `wait`.
/// Only `Shutdown::install_reaping` makes one, after blocking it.
pub struct ChildSignals(());

impl ChildSignals {
    /// Blocks until a child changed state (one or more: they coalesce).
    pub fn wait(&self) {
        let set = signal_set(&[libc::SIGCHLD]);
        let mut signal = 0;
        // SAFETY: `set` is initialised; sigwait writes one int.
        unsafe { libc::sigwait(&set, &mut signal) };
    }
}

fn block(signals: &[libc::c_int]) {
    let set = signal_set(signals);
    // SAFETY: plain libc call on a sigset we own.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

fn stop_signals() -> libc::sigset_t {
    signal_set(&[libc::SIGTERM, libc::SIGINT])
}

/// A signal set holding `signals`, for sigwait and masks.
pub fn signal_set(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset writes to it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in signals {
            libc::sigaddset(&mut set, *signal);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_request_wakes_a_sleeper_at_once() {
        let shutdown = Shutdown::new();
        let sleeper = shutdown.clone();
        let started = Instant::now();
        let thread = std::thread::spawn(move || {
            sleeper.sleep_until(Instant::now() + Duration::from_secs(30))
        });
        shutdown.request("test");
        assert!(thread.join().unwrap());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(shutdown.reason(), Some("test"));
    }

    #[test]
    fn a_sleep_without_request_runs_out() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.sleep_until(Instant::now() + Duration::from_millis(10)));
    }
}
