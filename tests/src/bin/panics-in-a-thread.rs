//! A program on the side-cars' conventions whose worker thread panics, as a
//! scrape thread once did: the e2e test checks the whole process then exits
//! 70 with one log line (common::cli's panic hook), not a half-dead server.

use common::cli::Program;

const PROGRAM: Program = Program {
    name: "panics-in-a-thread",
    help: "panics-in-a-thread: for the tests\n",
};

fn main() {
    PROGRAM.parse(|mut parser| Ok(parser.next()?.is_none()));
    let empty: Vec<u32> = Vec::new();
    let worker = std::thread::Builder::new()
        .name("worker".into())
        .spawn(move || empty[std::hint::black_box(0)])
        .expect("a thread");
    let _ = worker.join();
    // Not reached: the hook ended the process.
    std::thread::sleep(std::time::Duration::from_secs(10));
}
