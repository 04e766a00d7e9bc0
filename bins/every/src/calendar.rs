//! `--cron`: waits on the wall clock for the next time a cron expression
//! matches. The next time is computed from the last one handled, and the
//! wall clock re-read after every wake (at most a second apart), so a clock
//! stepped back never runs a time twice, and a clock stepped forward (or a
//! suspended VM) never drops one silently: the times it passed are counted
//! and the latest runs once, late.

use crate::cron::{next_after, Expr, Zone};
use common::shutdown::Shutdown;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The wall clock, or a fake one in tests.
pub trait WallClock {
    /// Nanoseconds since the Unix epoch.
    fn now(&self) -> i128;
    /// Sleeps for `duration` (on the monotonic clock) or until a stop
    /// request; true when stopping.
    fn sleep(&self, duration: Duration, shutdown: &Shutdown) -> bool;
}

pub struct System;

impl WallClock for System {
    fn now(&self) -> i128 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        }
    }

    fn sleep(&self, duration: Duration, shutdown: &Shutdown) -> bool {
        shutdown.sleep_until(std::time::Instant::now() + duration)
    }
}

/// A time to run now.
#[derive(Debug, PartialEq)]
pub struct Due {
    /// The scheduled time (Unix seconds) this run is for.
    pub scheduled: i64,
    /// Times that passed while the previous run was in flight.
    pub overran: u64,
    /// Times that passed while the process was not waiting on them (the
    /// clock stepped forward, or it was suspended): the latest runs now.
    pub missed: u64,
    /// How long after its scheduled time this run starts.
    pub late: Duration,
}

const NANOS: i128 = 1_000_000_000;
/// Re-read the wall clock at least this often while waiting.
const RECHECK: Duration = Duration::from_secs(1);
/// Counting passed times one by one stops here (a clock years ahead).
const COUNT_LIMIT: u64 = 100_000;

pub struct Calendar<C: WallClock = System> {
    clock: C,
    expr: Expr,
    zone: Zone,
    /// The next scheduled time, Unix seconds.
    next: i64,
    /// Whether a time was handed out (so the next wait may skip some).
    ran: bool,
}

impl Calendar<System> {
    pub fn new(expr: Expr, zone: Zone) -> Calendar {
        Calendar::with_clock(System, expr, zone)
    }
}

impl<C: WallClock> Calendar<C> {
    pub fn with_clock(clock: C, expr: Expr, zone: Zone) -> Self {
        let now = clock.now().div_euclid(NANOS) as i64;
        // The first run is the first matching time after start.
        let next = next_after(&expr, &zone, now).unwrap_or(i64::MAX);
        Calendar {
            clock,
            expr,
            zone,
            next,
            ran: false,
        }
    }

    /// The next scheduled time, Unix seconds.
    pub fn next(&self) -> i64 {
        self.next
    }

    /// Seconds from the next scheduled time to the one after it: the
    /// interval an alert counts in (`every_interval_seconds`).
    pub fn gap(&self) -> i64 {
        self.after(self.next).saturating_sub(self.next)
    }

    fn after(&self, time: i64) -> i64 {
        next_after(&self.expr, &self.zone, time).unwrap_or(i64::MAX)
    }

    /// Moves past the times at or before `now` (seconds); returns the last
    /// one passed and how many were passed.
    fn pass_until(&mut self, now: i64) -> (i64, u64) {
        let (mut last, mut passed) = (self.next, 0);
        while self.next <= now {
            last = self.next;
            passed += 1;
            if passed == COUNT_LIMIT {
                self.next = self.after(now);
                break;
            }
            self.next = self.after(self.next);
        }
        (last, passed)
    }

    /// Sleeps until the next scheduled time and returns it; None on a stop
    /// request. Call it when the previous run is over.
    pub fn wait(&mut self, shutdown: &Shutdown) -> Option<Due> {
        let mut overran = 0;
        if self.ran {
            let now = self.clock.now().div_euclid(NANOS) as i64;
            overran = self.pass_until(now).1;
        }
        loop {
            let now = self.clock.now();
            let due = i128::from(self.next) * NANOS;
            if now >= due {
                break;
            }
            let wait = Duration::from_nanos((due - now).min(RECHECK.as_nanos() as i128) as u64);
            if self.clock.sleep(wait, shutdown) {
                return None;
            }
        }
        let now = self.clock.now();
        let (scheduled, passed) = self.pass_until(now.div_euclid(NANOS) as i64);
        self.ran = true;
        let late = (now - i128::from(scheduled) * NANOS).max(0);
        Some(Due {
            scheduled,
            overran,
            missed: passed - 1,
            late: Duration::from_nanos(late as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    /// A wall clock that moves only when slept on, or when a test steps it.
    struct Fake {
        now: Cell<i128>,
        /// Steps applied at given sleep counts: (after N sleeps, by nanos).
        steps: RefCell<Vec<(u32, i128)>>,
        sleeps: Cell<u32>,
    }

    impl WallClock for &Fake {
        fn now(&self) -> i128 {
            self.now.get()
        }
        fn sleep(&self, duration: Duration, _: &Shutdown) -> bool {
            self.sleeps.set(self.sleeps.get() + 1);
            self.now.set(self.now.get() + duration.as_nanos() as i128);
            for (at, by) in self.steps.borrow().iter() {
                if *at == self.sleeps.get() {
                    self.now.set(self.now.get() + by);
                }
            }
            false
        }
    }

    fn fake(start_secs: i64) -> Fake {
        Fake {
            now: Cell::new(i128::from(start_secs) * NANOS + 250_000_000),
            steps: RefCell::new(Vec::new()),
            sleeps: Cell::new(0),
        }
    }

    const T0: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z, a whole minute

    fn every_minute(clock: &Fake) -> Calendar<&Fake> {
        Calendar::with_clock(clock, Expr::parse("* * * * *").unwrap(), Zone::utc())
    }

    #[test]
    fn each_time_runs_once_and_on_time() {
        let clock = fake(T0);
        let mut calendar = every_minute(&clock);
        let shutdown = Shutdown::new();
        for k in 1..=3 {
            let due = calendar.wait(&shutdown).unwrap();
            assert_eq!(
                due,
                Due {
                    scheduled: T0 + 60 * k,
                    overran: 0,
                    missed: 0,
                    late: Duration::ZERO
                }
            );
        }
    }

    #[test]
    fn a_clock_stepped_back_never_runs_a_time_twice() {
        let clock = fake(T0);
        let mut calendar = every_minute(&clock);
        let shutdown = Shutdown::new();
        assert_eq!(calendar.wait(&shutdown).unwrap().scheduled, T0 + 60);
        // Right after that run, the clock goes back 150 s.
        clock.now.set(clock.now.get() - 150 * NANOS);
        let due = calendar.wait(&shutdown).unwrap();
        assert_eq!((due.scheduled, due.missed, due.overran), (T0 + 120, 0, 0));
        assert_eq!(due.late, Duration::ZERO);
    }

    #[test]
    fn a_clock_stepped_forward_counts_the_passed_times_and_runs_the_latest_once() {
        let clock = fake(T0);
        let mut calendar = every_minute(&clock);
        let shutdown = Shutdown::new();
        calendar.wait(&shutdown).unwrap();
        // During the next wait the clock jumps 5 minutes and 10 seconds.
        let sleeps = clock.sleeps.get();
        clock.steps.borrow_mut().push((sleeps + 3, 310 * NANOS));
        let due = calendar.wait(&shutdown).unwrap();
        assert_eq!(due.missed, 4, "{due:?}");
        assert_eq!(due.scheduled, T0 + 60 * 6);
        assert!(due.late >= Duration::from_secs(10) && due.late < Duration::from_secs(60));
        // And then on time again.
        let due = calendar.wait(&shutdown).unwrap();
        assert_eq!(
            (due.scheduled, due.missed, due.late),
            (T0 + 60 * 7, 0, Duration::ZERO)
        );
    }

    #[test]
    fn times_passed_during_a_long_run_are_skipped_not_run() {
        let clock = fake(T0);
        let mut calendar = every_minute(&clock);
        let shutdown = Shutdown::new();
        calendar.wait(&shutdown).unwrap();
        clock.now.set(clock.now.get() + 150 * NANOS); // the run takes 150 s
        let due = calendar.wait(&shutdown).unwrap();
        assert_eq!((due.scheduled, due.overran, due.missed), (T0 + 240, 2, 0));
    }

    #[test]
    fn a_clock_years_ahead_does_not_count_forever() {
        let clock = fake(T0);
        let mut calendar =
            Calendar::with_clock(&clock, Expr::parse("* * * * * *").unwrap(), Zone::utc());
        let shutdown = Shutdown::new();
        calendar.wait(&shutdown).unwrap();
        clock.now.set(clock.now.get() + 3 * 365 * 86_400 * NANOS);
        let due = calendar.wait(&shutdown).unwrap();
        assert!(due.overran >= COUNT_LIMIT - 1);
        assert!(calendar.next() > due.scheduled);
    }
}
