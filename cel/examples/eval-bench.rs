//! scripts/bench-cel's measure: one expression, compiled once, evaluated
//! N times over one JSON body, as a check does each probe.
//! Usage: eval-bench EXPR BODY.json N  ->  "NS_PER_EVAL RESULT"

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, expr, path, runs] = &args[..] else {
        eprintln!("usage: eval-bench EXPR BODY.json N");
        std::process::exit(2);
    };
    let runs: u32 = runs.parse().expect("N is a number");
    let text = std::fs::read(path).expect("the body file");
    let json: serde_json::Value = serde_json::from_slice(&text).expect("the body is JSON");
    let program = cel::Program::compile(expr, &[("body", cel::Ty::Dyn)]).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let variables = [("body", Ok(cel::Value::from_json(&json)))];
    let mut last = None;
    let started = Instant::now();
    for _ in 0..runs {
        last = Some(program.eval(&variables, cel::DEFAULT_BUDGET));
    }
    let per = started.elapsed().as_nanos() / u128::from(runs.max(1));
    println!("{per} {:?}", last.expect("at least one run"));
}
