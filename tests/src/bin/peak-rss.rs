//! peak-rss PROGRAM [ARG]...: runs PROGRAM, writes its peak resident set in
//! KiB (from wait4) to the file named by PEAK_RSS_OUT, and exits as it did.
//!
//! Why: Linux carries a child's pre-exec high-water mark into its rusage,
//! so a program forked from a large test process reports that process's
//! resident set. Forked from this small one, the figure is the program's.

use std::os::unix::process::CommandExt;
use std::process::Command;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: peak-rss PROGRAM [ARG]...");
        std::process::exit(2);
    };
    let out = std::env::var_os("PEAK_RSS_OUT");
    let mut command = Command::new(program);
    command.args(rest).env_remove("PEAK_RSS_OUT");
    // SAFETY: prctl is async-signal-safe; the program dies with us.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = command.spawn().unwrap_or_else(|e| {
        eprintln!("peak-rss: cannot start {}: {e}", program.to_string_lossy());
        std::process::exit(127);
    });
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    if let Some(out) = out {
        let _ = std::fs::write(out, usage.ru_maxrss.to_string());
    }
    if libc::WIFSIGNALED(status) {
        // SAFETY: die by the same signal, with its default action.
        unsafe {
            libc::signal(libc::WTERMSIG(status), libc::SIG_DFL);
            libc::raise(libc::WTERMSIG(status));
        }
    }
    std::process::exit(libc::WEXITSTATUS(status));
}
