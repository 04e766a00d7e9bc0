//! One run of the job: an HTTP request (success: a 2xx answer meeting its
//! `--cel` expressions) or a
//! program (success: exit 0), each bounded by the timeout.

use crate::options::Job;
use crate::program;
use net::client::{Client, Request};
use net::error::FetchError;
use std::time::Duration;

/// One run: (success, (log key, value)).
pub fn run_once(
    job: &Job,
    timeout: Duration,
    client: &Client,
    reaper: &program::Reaper,
    run: u64,
) -> (bool, (&'static str, String)) {
    match job {
        Job::Http {
            url,
            method,
            headers,
            data,
            cel,
        } => {
            let request = Request {
                method,
                headers,
                body: data.as_deref().map(str::as_bytes),
                // Read the answer (up to the cap) so the connection closes
                // cleanly rather than with a reset; only its status counts.
                max_body: Some(net::client::DEFAULT_MAX_BODY),
                ..Request::get(url, timeout)
            };
            let reply = match client.fetch(&request) {
                Ok(reply) => reply,
                // Past the cap: the status still counts, and a --cel
                // expression fails, as it cannot read the whole answer.
                Err(FetchError::BodyTooLarge { status, .. }) if cel.is_empty() => {
                    return ((200..300).contains(&status), ("status", status.to_string()))
                }
                Err(e) => return (false, ("error", e.to_string())),
            };
            let status = reply.status;
            if !(200..300).contains(&status) {
                return (false, ("status", status.to_string()));
            }
            // A job endpoint that answers 200 {"ok": false} failed.
            let variables = net::condition::cel_answer(status, &reply.headers, &reply.body);
            if let Err(failure) = net::condition::judge_cel(cel, &variables) {
                return (false, ("error", failure.to_string()));
            }
            (true, ("status", status.to_string()))
        }
        Job::Program(argv) => {
            let run = reaper.run(argv, timeout, run);
            let (key, ended) = match run.ended {
                program::Ended::Exited(code) => ("exit_code", code.to_string()),
                program::Ended::Signalled(signal) => ("signal", program::signal_name(signal)),
                program::Ended::NotStarted(why) => return (false, ("error", why)),
            };
            if run.timed_out {
                let how = if key == "exit_code" {
                    format!("exit code {ended}")
                } else {
                    ended
                };
                let why = format!(
                    "timed out after {}, ended by {how}",
                    common::duration::format(timeout)
                );
                return (false, ("error", why));
            }
            (matches!(run.ended, program::Ended::Exited(0)), (key, ended))
        }
    }
}
