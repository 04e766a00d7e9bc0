//! CEL, the Common Expression Language of Kubernetes' validation rules and
//! of blackbox_exporter's `fail_if_body_json_matches_cel`: the subset that
//! checks and gauges need (docs/cel.md lists it), with cel-spec's meanings.
//!
//! An expression is parsed and type-checked once, at start ([`Program::compile`]):
//! a syntax error, a type error the reference would refuse (`1 == 1u`) and a
//! feature outside the subset are refused there, with a column. Evaluation
//! ([`Program::eval`]) is bounded by a cost budget in the manner of
//! Kubernetes' (each step and each comprehension iteration costs, and so do
//! big strings and lists), and parsing by a depth limit, so that no answer a
//! server sends can make a check run past its timeout or its memory.

mod check;
mod eval;
mod lex;
mod parse;
mod regex;
mod time;
mod value;

pub use check::Ty;
pub use eval::{EvalError, DEFAULT_BUDGET};
pub use value::format_double;
pub use value::{same_as_tagged, Value};

use std::fmt;

/// A parsed and checked expression, ready to evaluate many times.
#[derive(Debug)]
pub struct Program {
    source: String,
    root: parse::Node,
}

/// Why an expression was refused at start: one line, with the column
/// (1-based, in characters) where the problem is.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for CompileError {}

/// The longest expression taken: far above any check, far below memory.
pub const MAX_SOURCE: usize = 16 * 1024;

impl Program {
    /// Parses and type-checks `source` with `variables` declared.
    pub fn compile(source: &str, variables: &[(&str, Ty)]) -> Result<Program, CompileError> {
        if source.len() > MAX_SOURCE {
            return Err(CompileError {
                column: 1,
                message: format!("longer than {MAX_SOURCE} bytes"),
            });
        }
        let root = parse::parse(source)?;
        check::check(&root, variables).map_err(|e| e.at(source))?;
        Ok(Program {
            source: source.to_string(),
            root,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates with `variables` bound (a variable bound to `Err` fails
    /// where it is read, as `body` does when the answer is not JSON), at
    /// most `budget` cost units.
    pub fn eval(
        &self,
        variables: &[(&str, Result<Value, String>)],
        budget: u64,
    ) -> Result<Value, EvalError> {
        eval::Evaluator::new(variables, budget).eval(&self.root)
    }

    /// Where the expression is a conjunction (`a && b && ...`) that came
    /// out false, the first conjunct that is false, in its source words:
    /// what a failure line names. None when it is not a conjunction or no
    /// one conjunct tells.
    pub fn false_part(
        &self,
        variables: &[(&str, Result<Value, String>)],
        budget: u64,
    ) -> Option<&str> {
        let mut parts = Vec::new();
        parse::conjuncts(&self.root, &mut parts);
        if parts.len() < 2 {
            return None;
        }
        let mut evaluator = eval::Evaluator::new(variables, budget);
        parts
            .into_iter()
            .find_map(|part| match evaluator.eval(part) {
                Ok(Value::Bool(false)) => Some(&self.source[part.span.0..part.span.1]),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn body_vars(body: Value) -> Vec<(&'static str, Result<Value, String>)> {
        vec![("body", Ok(body))]
    }

    fn compile(source: &str) -> Result<Program, CompileError> {
        Program::compile(source, &[("body", Ty::Dyn)])
    }

    /// Type parameters as the reference binds them (the differential test
    /// found each): `dyn['k']` is the map overload's value type, bound by
    /// its first use; `dyn[0]` matches the list's and the map's, so dyn; an
    /// empty list's element is bound by the first overload that takes it.
    #[test]
    fn type_parameters_bind_as_the_references_checker_binds_them() {
        assert!(compile("([body['a']] + (['a', 'b'] + [])).all(v, -1 < v)").is_err());
        assert!(compile("[body['a'], 'x'][0] < 1").is_err());
        assert!(compile("true in [['a', 'b'], body.a[2], []]").is_ok());
        assert!(compile("([body.a] + ['a']).all(v, -1 < v)").is_ok());
        assert!(compile("[].all(v, double(1) == v / v)").is_err());
    }

    #[test]
    fn a_quadratic_comprehension_over_a_big_answer_stops_at_the_budget() {
        // About 1 MiB of JSON: [0,1,2,...].
        let items: Vec<String> = (0..150_000).map(|i| i.to_string()).collect();
        let json: serde_json::Value =
            serde_json::from_str(&format!("{{\"a\": [{}]}}", items.join(","))).unwrap();
        assert!(serde_json::to_string(&json).unwrap().len() > 900_000);
        let body = body_vars(Value::from_json(&json));
        // The example decides at its first pair (0 != 0 is false):
        // `all` stops there, as cel-spec's macros do, without the budget.
        let program = compile("body.a.all(x, body.a.all(y, x != y))").unwrap();
        assert_eq!(program.eval(&body, DEFAULT_BUDGET), Ok(Value::Bool(false)));
        // One that must visit every pair (150,000^2) meets the budget.
        let program = compile("body.a.all(x, body.a.all(y, x != y || x == y))").unwrap();
        let result = program.eval(&body, DEFAULT_BUDGET);
        assert_eq!(result, Err(EvalError::CostLimit(DEFAULT_BUDGET)));
        assert_eq!(
            result.unwrap_err().to_string(),
            "cost limit exceeded (budget 1000000)"
        );
    }

    #[test]
    fn doubling_a_string_stops_at_the_budget_not_at_memory() {
        // 8^4 concatenations of 256 KiB each: 1 GiB if nothing stopped it.
        let source = "[1,2,3,4,5,6,7,8].map(a, [1,2,3,4,5,6,7,8].map(b, [1,2,3,4,5,6,7,8].map(c, [1,2,3,4,5,6,7,8].map(d, body + body + body + body))))";
        let program = compile(source).unwrap();
        let big = Value::string("x".repeat(64 * 1024));
        assert_eq!(
            program.eval(&body_vars(big), DEFAULT_BUDGET),
            Err(EvalError::CostLimit(DEFAULT_BUDGET))
        );
    }

    #[test]
    fn syntax_errors_name_the_column_and_what_was_expected() {
        let cases = [
            ("body.status == ", "column 16: expected an operand, found the end"),
            ("body.a ==== 1", "column 10: expected an operand, found '=='"),
            ("1 +", "column 4: expected an operand, found the end"),
            ("body.x(1)", "column 6: the function 'x' is outside the CEL subset sidecars supports (docs/cel.md lists it)"),
            ("'abc", "column 1: string literal is not closed"),
            ("1 == 1u", "column 1: found no matching overload for '_==_' applied to '(int, uint)'"),
            ("x > 1", "column 1: undeclared reference to 'x'"),
            ("b'abc'", "column 1: bytes literals are outside the CEL subset sidecars supports"),
            ("body.a.sort()", "column 8: the function 'sort' is outside the CEL subset sidecars supports (docs/cel.md lists it)"),
            ("'x'.matches('(')", "column 13: invalid regular expression: a missing ')' in \"(\""),
        ];
        for (source, want) in cases {
            assert_eq!(
                compile(source).map(|_| ()).unwrap_err().to_string(),
                want,
                "{source}"
            );
        }
    }

    #[test]
    fn nesting_is_limited_at_parse() {
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        let error = compile(&deep).map(|_| ()).unwrap_err();
        assert!(error.message.contains("deeper than 64"), "{error}");
        let deep = format!("{}true", "!".repeat(100_001));
        assert!(compile(&deep).is_err(), "longer than MAX_SOURCE");
        let fine = format!("{}1{}", "(".repeat(32), ")".repeat(32));
        assert!(
            compile(&fine).is_ok(),
            "cel-spec's parse.textproto nests 32"
        );
        // A chain is as tall a tree as a nesting: checking, evaluating and
        // dropping it recurse, so it is refused too, before it is built.
        let chain = vec!["1"; 7000].join("+");
        let error = compile(&chain).map(|_| ()).unwrap_err();
        assert!(error.message.contains("deeper than 64"), "{error}");
        let chain = vec!["body"; 4000].join(".a.");
        assert!(compile(&chain).is_err());
        let fine = vec!["1"; 60].join(" + ");
        assert_eq!(
            compile(&fine).unwrap().eval(&[], DEFAULT_BUDGET),
            Ok(Value::Int(60))
        );
    }

    #[test]
    fn errors_are_absorbed_by_and_and_or_in_either_order() {
        let vars = body_vars(Value::Null);
        for (source, want) in [
            ("false && 1/0 == 1", false),
            ("1/0 == 1 && false", false),
            ("true || 1/0 == 1", true),
            ("1/0 == 1 || true", true),
        ] {
            assert_eq!(
                compile(source).unwrap().eval(&vars, DEFAULT_BUDGET),
                Ok(Value::Bool(want)),
                "{source}"
            );
        }
        let failed = compile("1/0 == 1 && true")
            .unwrap()
            .eval(&vars, DEFAULT_BUDGET);
        assert_eq!(failed, Err(EvalError::Failed("divide by zero".into())));
    }

    /// An answer's megabyte never becomes a megabyte-long failure line.
    #[test]
    fn failure_lines_quote_an_answers_text_short() {
        let long = "é".repeat(512 * 1024);
        let body = serde_json::json!({"s": long, "m": {}, "a": vec![long.clone(); 3]});
        let vars = body_vars(Value::from_json(&body));
        for source in [
            "int(body.s)",
            "body.m[body.s]",
            "timestamp(body.s) < now",
            "body.s.matches(body.s)",
            "{body.a: 1}",
        ] {
            let program =
                Program::compile(source, &[("body", Ty::Dyn), ("now", Ty::Timestamp)]).unwrap();
            let vars = [vars[0].clone(), ("now", Ok(Value::Timestamp(0)))];
            let said = program.eval(&vars, DEFAULT_BUDGET).unwrap_err().to_string();
            assert!(
                said.len() < 400,
                "{source}: {} bytes: {}",
                said.len(),
                &said[..200]
            );
        }
    }

    #[test]
    fn the_false_part_of_a_conjunction_is_named() {
        let program = compile("body.status == 'up' && body.errors < 3.0 && body.ready").unwrap();
        let body = serde_json::json!({"status": "up", "errors": 5, "ready": true});
        let vars = body_vars(Value::from_json(&body));
        assert_eq!(
            program.false_part(&vars, DEFAULT_BUDGET),
            Some("body.errors < 3.0")
        );
    }

    /// cel-spec's own conformance tests (cel/conformance/cases.jsonl, derived
    /// by cel/conformance/derive.py from tests/simple/testdata/*.textproto
    /// of google/cel-spec, the files it names): each case either gives the
    /// expected value or error, or is refused at start. Never another value.
    #[test]
    fn cel_specs_conformance_cases_pass_or_are_refused_at_start() {
        let (mut passed, mut refused, mut differ) = (0, Vec::new(), Vec::new());
        let cases = include_str!("../conformance/cases.jsonl");
        for line in cases.lines() {
            let case: serde_json::Value = serde_json::from_str(line).unwrap();
            let expr = case["expr"].as_str().unwrap();
            let want = &case["want"];
            let label = format!(
                "{} {}: {expr}",
                case["file"].as_str().unwrap(),
                case["name"].as_str().unwrap()
            );
            let program = match Program::compile(expr, &[]) {
                Ok(program) => program,
                Err(e) => {
                    refused.push(format!("{label} -- {e}"));
                    continue;
                }
            };
            let got = program.eval(&[], DEFAULT_BUDGET);
            let agree = match (&got, want[0].as_str()) {
                (Err(_), Some("error")) => true,
                (Ok(value), _) => same_as_tagged(value, want),
                _ => false,
            };
            if agree {
                passed += 1;
            } else {
                differ.push(format!("{label} -- want {want}, got {got:?}"));
            }
        }
        let total = cases.lines().count();
        eprintln!(
            "cel-spec conformance: {passed} of {total} pass, {} refused at start",
            refused.len()
        );
        for r in &refused {
            eprintln!("  refused: {r}");
        }
        assert!(
            differ.is_empty(),
            "{} cases differ:\n{}",
            differ.len(),
            differ.join("\n")
        );
        assert!(passed * 10 >= total * 7, "only {passed} of {total} pass");
    }

    proptest! {
        /// Expressions are the user's, but a pattern may come from an answer
        /// (`x.matches(body.re)`): both parsers meet arbitrary text.
        #[test]
        fn any_text_compiles_or_is_refused_without_a_panic(source in "\\PC{0,80}") {
            let _ = compile(&source);
        }

        #[test]
        fn any_grammar_like_text_is_handled(source in "[a-z0-9.()\\[\\]{}!<>=&|?:+*/%,' \"-]{0,60}") {
            if let Ok(program) = compile(&source) {
                let _ = program.eval(&body_vars(Value::Null), 10_000);
            }
        }

        #[test]
        fn any_pattern_compiles_or_is_refused_and_runs_on_any_text(pattern in "\\PC{0,30}", text in "\\PC{0,60}") {
            if let Ok(regex) = regex::Regex::new(&pattern) {
                let _ = regex.is_match(&text);
            }
        }
    }
}
