//! The CEL engine against the reference: cel-expr-python (the cel-expr
//! project's runtime over Google's cel-cpp; `scripts/setup` installs it).
//! Random expressions from a grammar over random JSON bodies, thousands per
//! run, the seed printed: the value must be equal, or both sides must fail.
//! Where the reference refuses an expression at compile time (its type
//! check), ours must refuse it at start, fail, or give something other than
//! `true`: it never passes a check the reference would not run.

use cel::{Program, Value};
use serde_json::{json, Value as Json};
use sidecars_tests::rng::Rng;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const NOW_SECONDS: i64 = 1_800_000_000;

fn bindings(body: &Json) -> Vec<(&'static str, Result<Value, String>)> {
    vec![
        ("body", Ok(Value::from_json(body))),
        ("status", Ok(Value::Int(200))),
        (
            "headers",
            Ok(Value::Map(std::sync::Arc::new(vec![(
                Value::string("x-version"),
                Value::string("2.1"),
            )]))),
        ),
        (
            "now",
            Ok(Value::Timestamp(i128::from(NOW_SECONDS) * 1_000_000_000)),
        ),
    ]
}

/// The reference, or None (and the test skips) when it is not installed.
struct Reference {
    child: std::process::Child,
    answers: BufReader<std::process::ChildStdout>,
}

impl Reference {
    fn start() -> Option<Reference> {
        let script = sidecars_tests::repo_root().join("tests/oracles/cel_reference.py");
        let probe = Command::new("python3")
            .args(["-c", "import cel_expr_python"])
            .status();
        if !probe.is_ok_and(|s| s.success()) {
            return None;
        }
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the reference");
        let answers = BufReader::new(child.stdout.take().expect("its stdout"));
        Some(Reference { child, answers })
    }

    fn ask(&mut self, expr: &str, body: &Json) -> Json {
        let stdin = self.child.stdin.as_mut().expect("its stdin");
        let case = json!({"expr": expr, "body": body, "now": NOW_SECONDS, "headers": {"x-version": "2.1"}});
        writeln!(stdin, "{case}").expect("the reference reads");
        let mut line = String::new();
        self.answers
            .read_line(&mut line)
            .expect("the reference answers");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the reference's answer {line:?}: {e}"))
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Random expressions over `body`, `status`, `headers` and `now`, typed
/// loosely so that most evaluate to a value and some meet every error.
struct Grammar {
    rng: Rng,
    /// Comprehension variables in scope.
    vars: Vec<String>,
}

const KEYS: &[&str] = &["a", "o", "s", "n", "t", "z", "x", "missing"];

impl Grammar {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        self.rng.pick(items)
    }

    fn any(&mut self, depth: u32) -> String {
        match self.rng.below(6) {
            0 => self.boolean(depth),
            1 | 2 => self.number(depth),
            3 => self.string(depth),
            4 => self.list(depth),
            _ => self.leaf(),
        }
    }

    fn leaf(&mut self) -> String {
        if !self.vars.is_empty() && self.rng.chance(50) {
            return self.rng.pick(&self.vars);
        }
        match self.rng.below(6) {
            0 => format!("body.{}", self.pick(KEYS)),
            1 => format!("body[{:?}]", self.pick(KEYS)),
            2 => format!("body.a[{}]", self.rng.below(5) as i64 - 1),
            3 => "body.o.k".into(),
            4 => "status".into(),
            _ => "headers['x-version']".into(),
        }
    }

    fn boolean(&mut self, depth: u32) -> String {
        if depth == 0 {
            return self
                .pick(&[
                    "true",
                    "false",
                    "has(body.a)",
                    "has(body.missing)",
                    "body.t",
                ])
                .into();
        }
        let d = depth - 1;
        match self.rng.below(16) {
            0 => format!("{} == {}", self.any(d), self.any(d)),
            1 => format!("{} != {}", self.number(d), self.number(d)),
            2 => {
                let op = self.pick(&["<", "<=", ">", ">="]);
                format!("{} {op} {}", self.number(d), self.number(d))
            }
            3 => format!("{} < {}", self.string(d), self.string(d)),
            4 => format!("!{}", self.boolean(d)),
            5 => format!("({} && {})", self.boolean(d), self.boolean(d)),
            6 => format!("({} || {})", self.boolean(d), self.boolean(d)),
            7 => format!("{} in {}", self.any(d), self.list(d)),
            8 => format!("{:?} in body", self.pick(KEYS)),
            9 => {
                let f = self.pick(&["contains", "startsWith", "endsWith"]);
                format!("{}.{f}({})", self.string(d), self.string(d))
            }
            10 => {
                let re = self.pick(&[
                    "^a",
                    "b$",
                    "[0-9]+",
                    "^(x|y)*$",
                    "(?i)HELLO",
                    ".",
                    "^$",
                    "\\\\d{2,3}",
                    "a|b|c",
                ]);
                format!("{}.matches('{re}')", self.string(d))
            }
            11 => self.macro_call(d, &["all", "exists", "exists_one"]),
            12 => format!(
                "({} ? {} : {})",
                self.boolean(d),
                self.boolean(d),
                self.boolean(d)
            ),
            13 => format!(
                "type({}) == {}",
                self.any(d),
                self.pick(&[
                    "int",
                    "uint",
                    "double",
                    "string",
                    "bool",
                    "list",
                    "map",
                    "null_type"
                ])
            ),
            14 => {
                let unit = self.pick(&[
                    "duration('1h') > duration('59m')",
                    "timestamp('2024-01-01T00:00:00Z') < now",
                    "now - timestamp('2027-01-15T08:00:00Z') < duration('5m')",
                ]);
                unit.into()
            }
            _ => format!("bool({})", self.pick(&["'true'", "'f'", "'yes'", "body.s"])),
        }
    }

    fn macro_call(&mut self, depth: u32, names: &[&str]) -> String {
        let name = self.pick(names);
        let range = self.list(depth);
        let var = format!("v{}", self.vars.len());
        self.vars.push(var.clone());
        let body = match name {
            "map" if self.rng.chance(30) => format!("{}, {}", self.boolean(depth), self.any(depth)),
            "map" => self.any(depth),
            _ => self.boolean(depth),
        };
        self.vars.pop();
        format!("{range}.{name}({var}, {body})")
    }

    fn number(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.chance(25) {
            return match self.rng.below(5) {
                0 => self
                    .pick(&[
                        "0",
                        "1",
                        "-1",
                        "2",
                        "9223372036854775807",
                        "-9223372036854775808",
                        "0x7f",
                    ])
                    .into(),
                1 => self
                    .pick(&["0u", "1u", "18446744073709551615u", "7u"])
                    .into(),
                2 => self
                    .pick(&["0.0", "1.5", "-2.25", "1e300", "2.0", "1e-7", ".5"])
                    .into(),
                _ => self.leaf(),
            };
        }
        let d = depth - 1;
        match self.rng.below(8) {
            0 => {
                let op = self.pick(&["+", "-", "*", "/", "%"]);
                format!("({} {op} {})", self.number(d), self.number(d))
            }
            1 => format!("-{}", self.number(d)),
            2 => format!(
                "size({})",
                self.pick(&["body.a", "body.s", "body", "'héllo'", "[1, 2]", "body.o"])
            ),
            3 => format!("int({})", self.any(d)),
            4 => format!("uint({})", self.any(d)),
            5 => format!("double({})", self.any(d)),
            6 => format!("{}.size()", self.list(d)),
            _ => format!(
                "int(timestamp({}))",
                self.pick(&["'2024-02-29T12:00:00.5+01:00'", "0", "now"])
            ),
        }
    }

    fn string(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.chance(30) {
            return self
                .pick(&[
                    "'abc'",
                    "\"x\\ty\"",
                    "'\\u00e9'",
                    "''",
                    "'hello world'",
                    "r'\\d'",
                    "'2.1'",
                    "body.s",
                    "'12'",
                    "' 7'",
                    "'1e3'",
                    "'-0'",
                ])
                .into();
        }
        let d = depth - 1;
        match self.rng.below(4) {
            0 => format!("({} + {})", self.string(d), self.string(d)),
            1 => format!("string({})", self.any(d)),
            2 => format!(
                "string({})",
                self.pick(&[
                    "duration('1h30m')",
                    "duration('-1.25s')",
                    "timestamp('2024-01-01T00:00:00.120Z')",
                    "now",
                    "1.0",
                    "123456789.0",
                    "0.1",
                    "1e21"
                ])
            ),
            _ => self.leaf(),
        }
    }

    fn list(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.chance(30) {
            return self
                .pick(&[
                    "body.a",
                    "[1, 2, 3]",
                    "[]",
                    "['a', 'b']",
                    "[1.5, 0.0]",
                    "body.o",
                    "{'k': 1, 'j': 2}",
                ])
                .into();
        }
        let d = depth - 1;
        match self.rng.below(4) {
            0 => {
                let n = self.rng.below(4);
                let items: Vec<String> = (0..n).map(|_| self.any(d)).collect();
                format!("[{}]", items.join(", "))
            }
            1 => format!("({} + {})", self.list(d), self.list(d)),
            // map and filter only over lists: the reference's map order is its hash's.
            _ => {
                let name = self.pick(&["map", "filter"]);
                let range = self.pick(&["body.a", "[1, 2, 3]", "['a', 'b', 'c']", "[0.5, -1.0]"]);
                let var = format!("v{}", self.vars.len());
                self.vars.push(var.clone());
                let body = if name == "map" {
                    self.any(d)
                } else {
                    self.boolean(d)
                };
                self.vars.pop();
                format!("{range}.{name}({var}, {body})")
            }
        }
    }
}

fn json_value(rng: &mut Rng, depth: u32) -> Json {
    match rng.below(if depth == 0 { 5 } else { 7 }) {
        0 => Json::Null,
        1 => json!(rng.chance(50)),
        2 => json!(rng.pick(&[0.0, 1.0, -1.0, 2.5, 1e300, 3.0, 9007199254740993.0, 0.1])),
        3 => json!(rng.below(1000) as i64 - 500),
        4 => json!(rng.pick(&["abc", "", "hello", "2.1", "x", "12"])),
        5 => Json::Array(
            (0..rng.below(4))
                .map(|_| json_value(rng, depth - 1))
                .collect(),
        ),
        _ => Json::Object(
            (0..rng.below(3))
                .map(|i| {
                    (
                        ["k", "j", "s"][i as usize].to_string(),
                        json_value(rng, depth - 1),
                    )
                })
                .collect(),
        ),
    }
}

/// A body with the keys the grammar reads mostly of their usual shape.
fn body(rng: &mut Rng) -> Json {
    let mut object = serde_json::Map::new();
    let numbers = (0..rng.below(5))
        .map(|_| json!(rng.pick(&[1.0, 2.0, 3.5, -1.0, 0.0])))
        .collect();
    // Always a list: map() and filter() over a map give the reference's hash order.
    object.insert("a".into(), Json::Array(numbers));
    object.insert(
        "o".into(),
        if rng.chance(90) {
            json!({"k": rng.below(3), "j": "x"})
        } else {
            json_value(rng, 2)
        },
    );
    object.insert(
        "s".into(),
        if rng.chance(90) {
            json!(rng.pick(&["abc", "hello", "2.1", "12"]))
        } else {
            json_value(rng, 1)
        },
    );
    object.insert("n".into(), json_value(rng, 1));
    object.insert(
        "t".into(),
        if rng.chance(90) {
            json!(rng.chance(50))
        } else {
            json_value(rng, 1)
        },
    );
    object.insert("z".into(), Json::Null);
    if rng.chance(50) {
        object.insert("x".into(), json_value(rng, 2));
    }
    Json::Object(object)
}

#[test]
fn random_expressions_agree_with_the_reference() {
    let Some(mut reference) = Reference::start() else {
        sidecars_tests::skip(
            "cel::random_expressions_agree_with_the_reference",
            "cel-expr-python is not installed (pip install cel-expr-python)",
        );
        return;
    };
    let (rng, seed) = Rng::from_env("cel differential");
    let cases: usize = std::env::var("SIDECARS_CEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000);
    let mut grammar = Grammar {
        rng,
        vars: Vec::new(),
    };
    let mut json_rng = Rng::new(seed ^ 0x5eed);
    let (mut values, mut errors, mut refused, mut differ) = (0, 0, 0, Vec::new());
    for _ in 0..cases {
        let depth = 1 + grammar.rng.below(4) as u32;
        let expr = grammar.any(depth);
        let body = body(&mut json_rng);
        let theirs = reference.ask(&expr, &body);
        let ours = Program::compile(&expr, &net::condition::cel_variables())
            .map_err(|e| format!("refused: {e}"))
            .and_then(|p| {
                p.eval(&bindings(&body), cel::DEFAULT_BUDGET)
                    .map_err(|e| format!("failed: {e}"))
            });
        let agree = match theirs[0].as_str() {
            Some("value") => {
                values += 1;
                ours.as_ref()
                    .is_ok_and(|v| cel::same_as_tagged(v, &theirs[1]))
            }
            Some("error") => {
                errors += 1;
                ours.is_err()
            }
            Some("compile_error") => {
                refused += 1;
                !matches!(ours, Ok(Value::Bool(true)))
            }
            _ => false,
        };
        if !agree {
            differ.push(format!(
                "{expr}\n    body: {body}\n    reference: {theirs}\n    ours: {ours:?}"
            ));
        }
    }
    eprintln!("{cases} cases: {values} values, {errors} errors, {refused} refused by the reference's type check");
    assert!(
        differ.is_empty(),
        "{} of {cases} cases differ from the reference (seed {seed}); the first:\n{}",
        differ.len(),
        differ
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A grammar that only made errors would prove nothing.
    assert!(
        values > cases / 3,
        "only {values} of {cases} cases had a value"
    );
}
