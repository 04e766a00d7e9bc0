//! The contract between the socket loop and a program: the `Handler` it
//! serves, and `Later`, through which an answer that takes time is sent from
//! another thread (dropped unsent, it answers 500).

use super::wire::{self, Request, Response};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

/// What a program serves.
pub trait Handler: Send + Sync + 'static {
    /// The paths answered; any other gets 404, any method but GET and HEAD 405.
    fn paths(&self) -> &[&'static str];
    /// Called on the socket thread, so it must not block: return the answer,
    /// or take `defer.later()`, return None, and answer from another thread.
    fn handle(&self, request: &Request, defer: &mut Defer) -> Option<Response>;
}

/// Where a handler takes its `Later` when it cannot answer at once.
pub struct Defer(pub(super) Option<Later>);

impl Defer {
    pub fn later(&mut self) -> Later {
        self.0.take().expect("a request is deferred once")
    }
}

/// A promise to answer one request from any thread. Dropped unsent, it
/// answers 500, so no client waits forever on a handler's mistake.
pub struct Later {
    pub(super) id: u64,
    pub(super) head_only: bool,
    pub(super) keep_alive: bool,
    pub(super) done: Option<Arc<Done>>,
}

impl Later {
    pub fn send(mut self, response: Response) {
        self.deliver(&response);
    }

    fn deliver(&mut self, response: &Response) {
        let Some(done) = self.done.take() else { return };
        let bytes = wire::encode(response, self.head_only, self.keep_alive);
        done.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((self.id, bytes, self.keep_alive));
        // SAFETY: writing one byte from a valid buffer to our own pipe.
        unsafe { libc::write(done.wake.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    }
}

impl Drop for Later {
    fn drop(&mut self) {
        if self.done.is_some() {
            self.deliver(&Response::text(500, "no answer\n"));
        }
    }
}

/// Answers sent through `Later`, waiting for the socket thread to write them.
pub(super) struct Done {
    pub(super) answers: Mutex<Vec<(u64, Vec<u8>, bool)>>,
    pub(super) wake: OwnedFd,
}
