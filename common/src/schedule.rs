//! The toolbox's headline promise, once: a fixed-rate schedule on the
//! monotonic clock that never drifts and never overlaps itself. Tick k is
//! due at start + k*interval (plus a random jitter below its bound), however
//! long each run takes; ticks whose slot passed while a run was in flight,
//! or while the process did not get to run (suspended, starved), are
//! skipped and reported, never bunched up.

use crate::shutdown::Shutdown;
use std::time::{Duration, Instant};

/// Where the schedule reads the time and sleeps: the real monotonic clock,
/// or a fake one in tests.
pub trait Clock {
    fn now(&self) -> Instant;
    /// Sleeps until `deadline` or a stop request; true when stopping.
    fn sleep_until(&self, deadline: Instant, shutdown: &Shutdown) -> bool;
}

/// The monotonic clock, sleeping on the shutdown flag so a stop wakes it.
pub struct Monotonic;

impl Clock for Monotonic {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant, shutdown: &Shutdown) -> bool {
        shutdown.sleep_until(deadline)
    }
}

/// A tick to run now.
#[derive(Debug, PartialEq)]
pub struct Tick {
    /// k: the tick's slot is start + k*interval.
    pub number: u64,
    /// Ticks skipped because the previous run was still in flight.
    pub overran: u64,
    /// Ticks skipped because the process woke late (suspended or starved).
    pub woke_late: u64,
}

pub struct Schedule<C: Clock = Monotonic> {
    clock: C,
    start: Instant,
    interval: Duration,
    jitter: Duration,
    next: u64,
    /// Whether a tick was handed out (so the next wait may skip some).
    ran: bool,
    rng: Jitter,
}

impl Schedule<Monotonic> {
    /// Starts now; the first tick is at once, or one interval on with `delay_first`.
    pub fn new(interval: Duration, jitter: Duration, delay_first: bool) -> Schedule {
        Schedule::with_clock(Monotonic, interval, jitter, delay_first)
    }
}

impl<C: Clock> Schedule<C> {
    pub fn with_clock(clock: C, interval: Duration, jitter: Duration, delay_first: bool) -> Self {
        assert!(!interval.is_zero(), "a schedule needs an interval");
        Schedule {
            start: clock.now(),
            clock,
            interval,
            jitter,
            next: u64::from(delay_first),
            ran: false,
            rng: Jitter::new(),
        }
    }

    /// Sleeps until the next tick is due and returns it; None on a stop
    /// request. Call it when the previous run is over.
    pub fn wait(&mut self, shutdown: &Shutdown) -> Option<Tick> {
        // Slots that passed while the last run was in flight are skipped.
        let mut overran = 0;
        if self.ran {
            let due = self.first_slot_not_before(self.clock.now());
            overran = due.saturating_sub(self.next);
            self.next = self.next.max(due);
        }
        let slot = self.slot(self.next);
        let jitter = self.rng.up_to(self.jitter);
        if self.clock.sleep_until(slot + jitter, shutdown) {
            return None;
        }
        // Woke a whole interval or more after the slot: those ticks passed
        // while the process could not run. Run the latest one, once.
        let latest = self.last_slot_not_after(self.clock.now());
        let woke_late = latest.saturating_sub(self.next);
        let number = self.next + woke_late;
        self.next = number + 1;
        self.ran = true;
        Some(Tick {
            number,
            overran,
            woke_late,
        })
    }

    /// When the next tick is due (before its jitter).
    pub fn next_due(&self) -> Instant {
        self.slot(self.next)
    }

    /// start + tick*interval, in whole nanoseconds: no rounding to drift.
    fn slot(&self, tick: u64) -> Instant {
        let nanos = self.interval.as_nanos() * u128::from(tick);
        self.start
            + Duration::new(
                (nanos / 1_000_000_000) as u64,
                (nanos % 1_000_000_000) as u32,
            )
    }

    /// The first tick whose slot is at or after `now` (rounding up).
    fn first_slot_not_before(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_nanos();
        elapsed.div_ceil(self.interval.as_nanos()) as u64
    }

    /// The last tick whose slot is at or before `now`.
    fn last_slot_not_after(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_nanos();
        (elapsed / self.interval.as_nanos()) as u64
    }
}

/// A small xorshift generator for jitter: no crate needed for spreading ticks.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Jitter((nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)) | 1)
    }

    /// Uniform in [0, max).
    fn up_to(&mut self, max: Duration) -> Duration {
        if max.is_zero() {
            return Duration::ZERO;
        }
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        max.mul_f64((self.0 >> 11) as f64 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Time moves only when the schedule sleeps, or when a test says so.
    struct FakeClock {
        now: Cell<Instant>,
    }

    impl FakeClock {
        fn new() -> FakeClock {
            FakeClock {
                now: Cell::new(Instant::now()),
            }
        }
    }

    impl Clock for &FakeClock {
        fn now(&self) -> Instant {
            self.now.get()
        }

        fn sleep_until(&self, deadline: Instant, shutdown: &Shutdown) -> bool {
            if shutdown.requested() {
                return true;
            }
            self.now.set(self.now.get().max(deadline));
            false
        }
    }

    fn advance(clock: &FakeClock, by: Duration) {
        clock.now.set(clock.now.get() + by);
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn ten_thousand_ticks_land_on_their_slots_without_drift() {
        let clock = FakeClock::new();
        let start = clock.now.get();
        let interval = Duration::from_millis(7);
        let mut schedule = Schedule::with_clock(&clock, interval, Duration::ZERO, false);
        let shutdown = Shutdown::new();
        for k in 0..10_000u64 {
            let tick = schedule.wait(&shutdown).unwrap();
            assert_eq!((tick.number, tick.overran, tick.woke_late), (k, 0, 0));
            assert_eq!(clock.now.get() - start, interval * k as u32, "tick {k}");
            // Each run takes most of an interval: the next slot is kept anyway.
            advance(&clock, Duration::from_millis(6));
        }
    }

    #[test]
    fn a_run_of_two_and_a_half_intervals_skips_exactly_two_ticks() {
        let clock = FakeClock::new();
        let start = clock.now.get();
        let mut schedule = Schedule::with_clock(&clock, SECOND, Duration::ZERO, false);
        let shutdown = Shutdown::new();
        assert_eq!(schedule.wait(&shutdown).unwrap().number, 0);
        advance(&clock, SECOND * 5 / 2);
        let tick = schedule.wait(&shutdown).unwrap();
        assert_eq!((tick.number, tick.overran, tick.woke_late), (3, 2, 0));
        assert_eq!(clock.now.get() - start, SECOND * 3);
        // A run of exactly one interval skips nothing: the next slot is now.
        advance(&clock, SECOND);
        assert_eq!(
            schedule.wait(&shutdown).unwrap(),
            Tick {
                number: 4,
                overran: 0,
                woke_late: 0
            }
        );
    }

    #[test]
    fn waking_late_skips_the_passed_ticks_as_late_not_as_in_flight() {
        /// Sleeps past its deadline once, as a suspended process does.
        struct Suspended<'a>(&'a FakeClock, Cell<bool>);
        impl Clock for Suspended<'_> {
            fn now(&self) -> Instant {
                self.0.now()
            }
            fn sleep_until(&self, deadline: Instant, shutdown: &Shutdown) -> bool {
                let late = if self.1.replace(false) {
                    SECOND * 5
                } else {
                    Duration::ZERO
                };
                (&self.0).sleep_until(deadline + late, shutdown)
            }
        }
        let clock = FakeClock::new();
        let mut schedule = Schedule::with_clock(
            Suspended(&clock, Cell::new(false)),
            SECOND,
            Duration::ZERO,
            false,
        );
        let shutdown = Shutdown::new();
        assert_eq!(schedule.wait(&shutdown).unwrap().number, 0);
        schedule.clock.1.set(true);
        let tick = schedule.wait(&shutdown).unwrap();
        assert_eq!((tick.number, tick.overran, tick.woke_late), (6, 0, 5));
        assert_eq!(schedule.wait(&shutdown).unwrap().number, 7);
    }

    #[test]
    fn jitter_stays_within_its_bound_and_delay_first_waits_one_interval() {
        let clock = FakeClock::new();
        let start = clock.now.get();
        let jitter = Duration::from_millis(300);
        let mut schedule = Schedule::with_clock(&clock, SECOND, jitter, true);
        let shutdown = Shutdown::new();
        let mut spread = Vec::new();
        for k in 1..=2000u32 {
            let tick = schedule.wait(&shutdown).unwrap();
            assert_eq!(tick.number, u64::from(k));
            let late = clock.now.get() - start - SECOND * k;
            assert!(late < jitter, "tick {k} {late:?}");
            spread.push(late);
        }
        // Spread over the whole bound, not bunched at one end.
        let below_half = spread.iter().filter(|l| **l < jitter / 2).count();
        assert!((800..1200).contains(&below_half), "{below_half}");
    }

    #[test]
    fn a_stop_request_ends_the_wait() {
        let clock = FakeClock::new();
        let mut schedule = Schedule::with_clock(&clock, SECOND, Duration::ZERO, false);
        let shutdown = Shutdown::new();
        shutdown.request("test");
        assert_eq!(schedule.wait(&shutdown), None);
    }
}
