//! The standard `process_*` metrics every exporter exposes, read from
//! /proc/self as the Prometheus client libraries do.

use crate::prom::{Family, Kind, Writer};

/// The `process_*` families, as Prometheus's Go client names them.
pub const FAMILIES: &[&Family] = &[
    &CPU_SECONDS,
    &VIRTUAL_MEMORY,
    &RESIDENT_MEMORY,
    &START_TIME,
    &OPEN_FDS,
    &MAX_FDS,
];
const CPU_SECONDS: Family = Family::new(
    "process_cpu_seconds_total",
    Kind::Counter,
    "Total user and system CPU time spent in seconds.",
    &[],
);
const VIRTUAL_MEMORY: Family = Family::new(
    "process_virtual_memory_bytes",
    Kind::Gauge,
    "Virtual memory size in bytes.",
    &[],
);
const RESIDENT_MEMORY: Family = Family::new(
    "process_resident_memory_bytes",
    Kind::Gauge,
    "Resident memory size in bytes.",
    &[],
);
const START_TIME: Family = Family::new(
    "process_start_time_seconds",
    Kind::Gauge,
    "Start time of the process since unix epoch in seconds.",
    &[],
);
const OPEN_FDS: Family = Family::new(
    "process_open_fds",
    Kind::Gauge,
    "Number of open file descriptors.",
    &[],
);
const MAX_FDS: Family = Family::new(
    "process_max_fds",
    Kind::Gauge,
    "Maximum number of open file descriptors.",
    &[],
);

use std::sync::OnceLock;

/// What does not change while the process lives. The start time is read
/// at the first scrape, not at start: a program run without `--listen`
/// never reads /proc for it.
pub struct ProcessMetrics {
    page_size: f64,
    ticks_per_second: f64,
    start_time_seconds: OnceLock<Option<f64>>,
}

impl ProcessMetrics {
    pub fn new() -> ProcessMetrics {
        // SAFETY: sysconf has no preconditions.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        ProcessMetrics {
            page_size: if page > 0 { page as f64 } else { 4096.0 },
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
            start_time_seconds: OnceLock::new(),
        }
    }

    /// Boot time plus the process's start in clock ticks since boot: the
    /// same whenever it is read.
    fn start_time_seconds(&self) -> Option<f64> {
        *self.start_time_seconds.get_or_init(|| {
            let boot: f64 = std::fs::read_to_string("/proc/stat")
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("btime "))?
                .trim()
                .parse()
                .ok()?;
            let started: f64 = stat_fields()?.get(19)?.parse().ok()?;
            Some(boot + started / self.ticks_per_second)
        })
    }

    pub fn write(&self, w: &mut Writer) {
        // getrusage and statm rather than /proc/self/stat: the kernel's
        // stat formatting is the costliest part of a scrape.
        // SAFETY: getrusage writes into the struct we pass.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            w.single(
                &CPU_SECONDS,
                seconds(usage.ru_utime) + seconds(usage.ru_stime),
            );
        }
        if let Some((size, resident)) = statm() {
            w.single(&VIRTUAL_MEMORY, size * self.page_size);
            w.single(&RESIDENT_MEMORY, resident * self.page_size);
        }
        if let Some(start) = self.start_time_seconds() {
            w.single(&START_TIME, start);
        }
        if let Some(open) = open_fds() {
            w.single(&OPEN_FDS, open as f64);
        }
        // SAFETY: getrlimit writes into the struct we pass.
        let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            w.single(&MAX_FDS, limit.rlim_cur as f64);
        }
    }
}

impl Default for ProcessMetrics {
    fn default() -> Self {
        ProcessMetrics::new()
    }
}

/// Virtual and resident size in pages.
fn statm() -> Option<(f64, f64)> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut fields = statm.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some((fields.next()??, fields.next()??))
}

/// Linux 6.2 and later report the count as the size of /proc/self/fd, which
/// is far cheaper than listing it (a scrape costs 45 us less); older kernels
/// report 0, and then the directory is listed.
fn open_fds() -> Option<usize> {
    match std::fs::metadata("/proc/self/fd") {
        Ok(meta) if meta.len() > 0 => Some(meta.len() as usize),
        _ => {
            // The directory handle itself is one of the entries: leave it out.
            Some(
                std::fs::read_dir("/proc/self/fd")
                    .ok()?
                    .count()
                    .saturating_sub(1),
            )
        }
    }
}

/// /proc/self/stat split after the command name (which may hold spaces),
/// so index 0 is the state field (field 3 of proc(5)).
fn stat_fields() -> Option<Vec<String>> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_comm = stat.get(stat.rfind(')')? + 2..)?;
    Some(after_comm.split_whitespace().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let mut w = Writer::new();
        ProcessMetrics::new().write(&mut w);
        let text = w.finish();
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_start_time_seconds ",
            "process_open_fds ",
            "process_max_fds ",
        ] {
            assert!(
                text.contains(&format!("\n{name}")),
                "{name} missing:\n{text}"
            );
        }
        let rss: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(rss > 100_000.0, "{rss}");
    }
}
