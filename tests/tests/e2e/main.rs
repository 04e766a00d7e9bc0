//! The end-to-end tests: the built binaries against real sockets, files,
//! processes and images. One test binary with a module per area, so the
//! suite links once; what they run is built on demand (`sidecars_tests::bin`).

mod alerts;
mod argv_fuzz;
mod cel;
mod configs;
mod conventions;
mod docs;
mod every;
mod examples;
mod faults;
mod hostile_servers;
mod image;
mod latency_accuracy;
mod latency_exporter;
mod peerlog_count;
mod pod;
mod ready_check;
mod release;
mod reproducible;
mod soak;
mod sweep;
mod tls;
