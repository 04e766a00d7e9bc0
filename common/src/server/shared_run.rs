//! One run shared by every request that wants it: requests that arrive while
//! a run is in flight wait for that run and get its result, an optional
//! cache time reuses a result, and a request whose deadline the run in
//! flight cannot meet is answered at once from the last result. So a burst
//! of probes or scrapes (or a hostile client) cannot multiply the load on
//! the main container, and waiting costs no thread: each waiter is a `Later`.

use super::handler::Later;
use super::wire::Response;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub struct SharedRun<T> {
    cache: Duration,
    respond: fn(&T) -> Response,
    state: Arc<(Mutex<State<T>>, Condvar)>,
}

struct State<T> {
    last: Option<(Instant, Arc<T>)>,
    /// Requests waiting for the run in flight (or about to start).
    waiting: Vec<Later>,
    /// The tightest deadline among them, which bounds the next run.
    deadline: Option<Instant>,
    /// When the run in flight will be over at the latest.
    in_flight_until: Option<Instant>,
}

impl<T: Send + Sync + 'static> SharedRun<T> {
    /// Starts the thread that runs `run` whenever requests wait. `run` gets
    /// the time it may take: `longest`, or less when a waiter's deadline is
    /// nearer. `respond` turns a result into each waiter's answer.
    pub fn start(
        name: &str,
        longest: Duration,
        cache: Duration,
        mut run: impl FnMut(Duration) -> T + Send + 'static,
        respond: fn(&T) -> Response,
    ) -> SharedRun<T> {
        let state = Arc::new((
            Mutex::new(State {
                last: None,
                waiting: Vec::new(),
                deadline: None,
                in_flight_until: None,
            }),
            Condvar::new(),
        ));
        let shared = state.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || loop {
                let (lock, asked) = &*shared;
                let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                while guard.waiting.is_empty() {
                    guard = asked.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
                let now = Instant::now();
                let budget = guard
                    .deadline
                    .take()
                    .map_or(longest, |d| d.saturating_duration_since(now).min(longest));
                guard.in_flight_until = Some(now + budget);
                drop(guard);
                // Requests arriving during the run join `waiting` and share it.
                let result = Arc::new(run(budget));
                let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                guard.last = Some((Instant::now(), result.clone()));
                guard.in_flight_until = None;
                let waiting = std::mem::take(&mut guard.waiting);
                drop(guard);
                let response = respond(&result);
                for later in waiting {
                    later.send(response.clone());
                }
            })
            .expect("spawn a shared-run thread");
        SharedRun {
            cache,
            respond,
            state,
        }
    }

    /// Answers `later` from the cache, or once the next run is done; a
    /// `deadline` the run in flight cannot meet gets the last result now.
    pub fn ask(&self, later: Later, deadline: Option<Instant>) {
        let (lock, asked) = &*self.state;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, result)) = &state.last {
            let fresh = !self.cache.is_zero() && at.elapsed() < self.cache;
            let too_late =
                matches!((deadline, state.in_flight_until), (Some(d), Some(until)) if until > d);
            if fresh || too_late {
                let response = (self.respond)(result);
                drop(state);
                later.send(response);
                return;
            }
        }
        state.waiting.push(later);
        if let Some(deadline) = deadline {
            state.deadline = Some(state.deadline.map_or(deadline, |d| d.min(deadline)));
        }
        asked.notify_one();
    }
}
