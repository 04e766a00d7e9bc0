//! The `latency-exporter` executable. Its wiring is lib.rs's `main`, so the image's one
//! executable (multicall/) runs the very same program under this name.

fn main() {
    latency_exporter::main()
}
