//! Evaluation, as cel-spec defines it: errors are values until they must
//! be looked at (`false && error` is false, in either order); arithmetic
//! on ints and uints is checked; and every step is paid for from a budget,
//! so that a comprehension over a hostile answer stops with "cost limit
//! exceeded" instead of running past the check's timeout.

use crate::parse::{Expr, Func, Macro, Node, Op};
use crate::regex::Regex;
use crate::time;
use crate::value::{compare, equal, shown, TypeName, Value};
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// Kubernetes' per-expression budget (`PerCallLimit`, 1,000,000), in our
/// units: one per node evaluated and per comprehension iteration, one per
/// 8 bytes of string made, one per list element made, and a regex match's
/// steps over 256.
pub const DEFAULT_BUDGET: u64 = 1_000_000;

#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    /// What went wrong, in one line: `divide by zero`, `no such key: "x"`.
    Failed(String),
    /// The budget ran out: the evaluation stopped, whatever it was doing.
    CostLimit(u64),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Failed(why) => f.write_str(why),
            EvalError::CostLimit(budget) => write!(f, "cost limit exceeded (budget {budget})"),
        }
    }
}

impl std::error::Error for EvalError {}

type Result<T> = std::result::Result<T, EvalError>;

fn fail<T>(why: impl Into<String>) -> Result<T> {
    Err(EvalError::Failed(why.into()))
}

fn no_overload<T>(name: &str, args: &[&Value]) -> Result<T> {
    let types: Vec<&str> = args.iter().map(|v| v.type_name().name()).collect();
    fail(format!(
        "no matching overload for '{name}' applied to ({})",
        types.join(", ")
    ))
}

pub struct Evaluator<'v, 'n> {
    variables: &'v [(&'v str, std::result::Result<Value, String>)],
    /// Comprehension variables, innermost last.
    locals: Vec<(&'n str, Value)>,
    spent: u64,
    budget: u64,
}

impl<'v, 'n> Evaluator<'v, 'n> {
    pub fn new(
        variables: &'v [(&'v str, std::result::Result<Value, String>)],
        budget: u64,
    ) -> Self {
        Evaluator {
            variables,
            locals: Vec::new(),
            spent: 0,
            budget,
        }
    }

    fn spend(&mut self, cost: u64) -> Result<()> {
        self.spent = self.spent.saturating_add(cost);
        if self.spent > self.budget {
            return Err(EvalError::CostLimit(self.budget));
        }
        Ok(())
    }

    pub fn eval(&mut self, node: &'n Node) -> Result<Value> {
        self.spend(1)?;
        match &node.expr {
            Expr::Literal(value) => Ok(value.clone()),
            Expr::Ident(name) => self.ident(name),
            Expr::Select(operand, field) => {
                let operand = self.eval(operand)?;
                match &operand {
                    Value::Map(entries) => {
                        match Value::map_get(entries, &Value::string(field.as_str())) {
                            Some(v) => Ok(v.clone()),
                            None => fail(format!("no such key: {field:?}")),
                        }
                    }
                    other => fail(format!(
                        "{} has no field '{field}'",
                        other.type_name().name()
                    )),
                }
            }
            Expr::Has(operand, field) => match self.eval(operand)? {
                Value::Map(entries) => Ok(Value::Bool(
                    Value::map_get(&entries, &Value::string(field.as_str())).is_some(),
                )),
                other => fail(format!(
                    "has() on {}, which has no fields",
                    other.type_name().name()
                )),
            },
            Expr::Index(operand, index) => {
                let (operand, index) = (self.eval(operand)?, self.eval(index)?);
                self.index(&operand, &index)
            }
            Expr::Call(func, args) => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(self.eval(arg)?);
                }
                self.call(*func, &values)
            }
            Expr::MatchesLiteral(text, regex) => {
                let text = self.eval(text)?;
                self.matches(&text, regex)
            }
            Expr::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item)?);
                }
                Ok(Value::List(Arc::new(out)))
            }
            Expr::Map(entries) => {
                let mut out: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let key = self.eval(key)?;
                    if !matches!(
                        key,
                        Value::Int(_) | Value::Uint(_) | Value::Bool(_) | Value::String(_)
                    ) {
                        return fail(format!(
                            "a map key must be int, uint, bool or string, not {}",
                            key.type_name().name()
                        ));
                    }
                    let value = self.eval(value)?;
                    if Value::map_get(&out, &key).is_some() {
                        return fail(format!("duplicate key in map: {key}"));
                    }
                    out.push((key, value));
                }
                Ok(Value::Map(Arc::new(out)))
            }
            Expr::Binary(op, left, right) => {
                let (a, b) = (self.eval(left)?, self.eval(right)?);
                self.binary(*op, &a, &b)
            }
            Expr::And(left, right) => self.logic(left, right, false),
            Expr::Or(left, right) => self.logic(left, right, true),
            Expr::Not(operand) => match self.eval(operand)? {
                Value::Bool(b) => Ok(Value::Bool(!b)),
                other => no_overload("!_", &[&other]),
            },
            Expr::Neg(operand) => match self.eval(operand)? {
                Value::Int(i) => i
                    .checked_neg()
                    .map(Value::Int)
                    .map_or_else(|| fail("integer overflow"), Ok),
                Value::Double(d) => Ok(Value::Double(-d)),
                other => no_overload("-_", &[&other]),
            },
            Expr::Cond(condition, then, otherwise) => match self.eval(condition)? {
                Value::Bool(true) => self.eval(then),
                Value::Bool(false) => self.eval(otherwise),
                other => no_overload("_?_:_", &[&other]),
            },
            Expr::Comprehension {
                kind,
                var,
                range,
                test,
                transform,
            } => {
                let range = self.eval(range)?;
                self.comprehension(*kind, var, &range, test.as_deref(), transform.as_deref())
            }
        }
    }

    fn ident(&self, name: &str) -> Result<Value> {
        if let Some((_, value)) = self.locals.iter().rev().find(|(n, _)| *n == name) {
            return Ok(value.clone());
        }
        if let Some((_, value)) = self.variables.iter().find(|(n, _)| *n == name) {
            return value.clone().map_err(EvalError::Failed);
        }
        match TypeName::named(name) {
            Some(t) => Ok(Value::Type(t)),
            None => fail(format!("undeclared reference to '{name}'")),
        }
    }

    /// `&&` (`or` false) and `||` (`or` true), commutative over errors: the
    /// deciding value wins over an error on either side.
    fn logic(&mut self, left: &'n Node, right: &'n Node, or: bool) -> Result<Value> {
        let decided = Value::Bool(or);
        let first = self.eval(left);
        if matches!(&first, Ok(Value::Bool(b)) if *b == or) {
            return Ok(decided);
        }
        if let Err(EvalError::CostLimit(_)) = first {
            return first;
        }
        let second = self.eval(right);
        if matches!(&second, Ok(Value::Bool(b)) if *b == or) {
            return Ok(decided);
        }
        let name = if or { "_||_" } else { "_&&_" };
        match (first, second) {
            (_, Err(e @ EvalError::CostLimit(_))) => Err(e),
            (Ok(Value::Bool(_)), Ok(Value::Bool(_))) => Ok(Value::Bool(!or)),
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(a), Ok(b)) => no_overload(name, &[&a, &b]),
        }
    }

    fn comprehension(
        &mut self,
        kind: Macro,
        var: &'n str,
        range: &Value,
        test: Option<&'n Node>,
        transform: Option<&'n Node>,
    ) -> Result<Value> {
        let items: Vec<Value> = match range {
            Value::List(items) => items.to_vec(),
            Value::Map(entries) => entries.iter().map(|(k, _)| k.clone()).collect(),
            other => {
                return fail(format!(
                    "a macro ranges over a list or a map, not {}",
                    other.type_name().name()
                ))
            }
        };
        // all and exists keep an error and go on: a later deciding value wins.
        let mut verdict: Result<bool> = Ok(kind == Macro::All);
        let mut count = 0u64;
        let mut out = Vec::new();
        for item in items {
            self.spend(1)?;
            self.locals.push((var, item.clone()));
            let step = self.step(
                kind,
                test,
                transform,
                &item,
                &mut verdict,
                &mut count,
                &mut out,
            );
            self.locals.pop();
            match step {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(e),
            }
        }
        match kind {
            Macro::All | Macro::Exists => verdict.map(Value::Bool),
            Macro::ExistsOne => Ok(Value::Bool(count == 1)),
            Macro::Map | Macro::Filter => Ok(Value::List(Arc::new(out))),
        }
    }

    /// One iteration; Ok(false) when the result is decided.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        kind: Macro,
        test: Option<&'n Node>,
        transform: Option<&'n Node>,
        item: &Value,
        verdict: &mut Result<bool>,
        count: &mut u64,
        out: &mut Vec<Value>,
    ) -> Result<bool> {
        let passed = match test {
            Some(test) => match self.eval(test) {
                Ok(Value::Bool(b)) => Ok(b),
                Ok(other) => no_overload("_&&_", &[&other]),
                Err(e @ EvalError::CostLimit(_)) => return Err(e),
                Err(e) => Err(e),
            },
            None => Ok(true),
        };
        match kind {
            Macro::All | Macro::Exists => {
                let decider = kind == Macro::Exists;
                match passed {
                    Ok(b) if b == decider => {
                        *verdict = Ok(decider);
                        return Ok(false);
                    }
                    Ok(_) => {}
                    Err(e) => *verdict = Err(e),
                }
            }
            Macro::ExistsOne => {
                if passed? {
                    *count += 1;
                }
            }
            Macro::Filter => {
                if passed? {
                    self.spend(1)?;
                    out.push(item.clone());
                }
            }
            Macro::Map => {
                if passed? {
                    let value = match transform {
                        Some(transform) => self.eval(transform)?,
                        None => item.clone(),
                    };
                    self.spend(1)?;
                    out.push(value);
                }
            }
        }
        Ok(true)
    }

    fn index(&mut self, operand: &Value, index: &Value) -> Result<Value> {
        match operand {
            Value::List(items) => {
                let at: Option<i128> = match index {
                    Value::Int(i) => Some(i128::from(*i)),
                    Value::Uint(u) => Some(i128::from(*u)),
                    Value::Double(d) if d.fract() == 0.0 && d.abs() < 9.2e18 => Some(*d as i128),
                    _ => None,
                };
                let Some(at) = at else {
                    return no_overload("_[_]", &[operand, index]);
                };
                match usize::try_from(at).ok().and_then(|i| items.get(i)) {
                    Some(v) => Ok(v.clone()),
                    // Said as the index given: a wide integer would cost its own printer.
                    None => fail(format!("index {index} out of range (size {})", items.len())),
                }
            }
            Value::Map(entries) if is_key(index) => match Value::map_get(entries, index) {
                Some(v) => Ok(v.clone()),
                None => fail(format!("no such key: {index}")),
            },
            _ => no_overload("_[_]", &[operand, index]),
        }
    }

    fn matches(&mut self, text: &Value, regex: &Regex) -> Result<Value> {
        let Value::String(text) = text else {
            return no_overload("matches", &[text]);
        };
        self.spend(regex.work(text) / 256 + 1)?;
        Ok(Value::Bool(regex.is_match(text)))
    }

    fn string_made(&mut self, text: String) -> Result<Value> {
        self.spend(text.len() as u64 / 8)?;
        Ok(Value::string(text))
    }

    fn call(&mut self, func: Func, args: &[Value]) -> Result<Value> {
        let name = func.name();
        let refs: Vec<&Value> = args.iter().collect();
        match (func, args) {
            (Func::Size, [Value::String(s)]) => {
                self.spend(s.len() as u64 / 64)?;
                Ok(Value::Int(s.chars().count() as i64))
            }
            (Func::Size, [Value::List(items)]) => Ok(Value::Int(items.len() as i64)),
            (Func::Size, [Value::Map(entries)]) => Ok(Value::Int(entries.len() as i64)),
            (
                Func::Contains | Func::StartsWith | Func::EndsWith,
                [Value::String(s), Value::String(part)],
            ) => {
                self.spend(s.len() as u64 / 64)?;
                Ok(Value::Bool(match func {
                    Func::Contains => s.contains(&**part),
                    Func::StartsWith => s.starts_with(&**part),
                    _ => s.ends_with(&**part),
                }))
            }
            (Func::Matches, [text, Value::String(pattern)]) => {
                self.spend(pattern.len() as u64)?;
                let regex = Regex::new(pattern).map_err(|why| {
                    EvalError::Failed(format!("invalid regular expression: {why}"))
                })?;
                self.matches(text, &regex)
            }
            (Func::Int, [v]) => int(v),
            (Func::Uint, [v]) => uint(v),
            (Func::Double, [v]) => match v {
                Value::Int(i) => Ok(Value::Double(*i as f64)),
                Value::Uint(u) => Ok(Value::Double(*u as f64)),
                Value::Double(d) => Ok(Value::Double(*d)),
                Value::String(s) => s
                    .trim_ascii()
                    .parse()
                    .map(Value::Double)
                    .or_else(|_| fail(format!("cannot convert {} to double", shown(s)))),
                _ => no_overload(name, &refs),
            },
            (Func::String, [v]) => match v {
                Value::Int(i) => Ok(Value::string(i.to_string())),
                Value::Uint(u) => Ok(Value::string(u.to_string())),
                Value::Double(d) => Ok(Value::string(crate::value::format_double(*d))),
                Value::String(s) => Ok(Value::String(s.clone())),
                Value::Bool(b) => Ok(Value::string(b.to_string())),
                Value::Timestamp(t) => Ok(Value::string(time::format_timestamp(*t))),
                Value::Duration(d) => Ok(Value::string(time::format_duration(*d))),
                _ => no_overload(name, &refs),
            },
            (Func::Bool, [v]) => match v {
                Value::Bool(b) => Ok(Value::Bool(*b)),
                Value::String(s) => match &**s {
                    "1" | "t" | "true" | "TRUE" | "True" => Ok(Value::Bool(true)),
                    "0" | "f" | "false" | "FALSE" | "False" => Ok(Value::Bool(false)),
                    _ => fail(format!("cannot convert {} to bool", shown(s))),
                },
                _ => no_overload(name, &refs),
            },
            (Func::Type, [v]) => Ok(Value::Type(v.type_name())),
            (Func::Dyn, [v]) => Ok(v.clone()),
            (Func::Duration, [v]) => match v {
                Value::Duration(d) => Ok(Value::Duration(*d)),
                Value::String(s) => time::parse_duration(s).map(Value::Duration).map_or_else(
                    || {
                        fail(format!(
                            "invalid duration {} (write it as 1h30m, 1.5s, 300ms)",
                            shown(s)
                        ))
                    },
                    Ok,
                ),
                _ => no_overload(name, &refs),
            },
            (Func::Timestamp, [v]) => match v {
                Value::Timestamp(t) => Ok(Value::Timestamp(*t)),
                Value::String(s) => time::parse_timestamp(s).map(Value::Timestamp).map_or_else(
                    || {
                        fail(format!(
                            "invalid timestamp {} (write it in RFC 3339: 2024-01-01T00:00:00Z)",
                            shown(s)
                        ))
                    },
                    Ok,
                ),
                Value::Int(seconds) => {
                    time::timestamp_in_range(i128::from(*seconds) * 1_000_000_000)
                        .map(Value::Timestamp)
                        .map_or_else(|| fail("timestamp overflow"), Ok)
                }
                _ => no_overload(name, &refs),
            },
            _ => no_overload(name, &refs),
        }
    }

    fn binary(&mut self, op: Op, a: &Value, b: &Value) -> Result<Value> {
        let name = op.name();
        let ordered = |want: &[Ordering]| match compare(a, b) {
            Ok(order) => Ok(Value::Bool(order.is_some_and(|o| want.contains(&o)))),
            Err(()) => no_overload(name, &[a, b]),
        };
        let overflow = |what: &str| fail(format!("{what} overflow"));
        match op {
            Op::Eq => Ok(Value::Bool(equal(a, b))),
            Op::Ne => Ok(Value::Bool(!equal(a, b))),
            Op::Lt => ordered(&[Ordering::Less]),
            Op::Le => ordered(&[Ordering::Less, Ordering::Equal]),
            Op::Gt => ordered(&[Ordering::Greater]),
            Op::Ge => ordered(&[Ordering::Greater, Ordering::Equal]),
            Op::In => match b {
                Value::List(items) => {
                    self.spend(items.len() as u64 / 8)?;
                    Ok(Value::Bool(items.iter().any(|item| equal(a, item))))
                }
                Value::Map(entries) if is_key(a) => {
                    Ok(Value::Bool(Value::map_get(entries, a).is_some()))
                }
                _ => no_overload(name, &[a, b]),
            },
            Op::Add => match (a, b) {
                (Value::Int(x), Value::Int(y)) => x
                    .checked_add(*y)
                    .map(Value::Int)
                    .map_or_else(|| overflow("integer"), Ok),
                (Value::Uint(x), Value::Uint(y)) => x
                    .checked_add(*y)
                    .map(Value::Uint)
                    .map_or_else(|| overflow("unsigned integer"), Ok),
                (Value::Double(x), Value::Double(y)) => Ok(Value::Double(x + y)),
                (Value::String(x), Value::String(y)) => {
                    let mut joined = String::with_capacity(x.len() + y.len());
                    self.spend((x.len() + y.len()) as u64 / 8)?;
                    joined.push_str(x);
                    joined.push_str(y);
                    self.string_made(joined)
                }
                (Value::List(x), Value::List(y)) => {
                    self.spend((x.len() + y.len()) as u64)?;
                    Ok(Value::List(Arc::new(
                        x.iter().chain(y.iter()).cloned().collect(),
                    )))
                }
                (Value::Timestamp(t), Value::Duration(d))
                | (Value::Duration(d), Value::Timestamp(t)) => time::timestamp_in_range(t + d)
                    .map(Value::Timestamp)
                    .map_or_else(|| overflow("timestamp"), Ok),
                (Value::Duration(x), Value::Duration(y)) => time::duration_sum_in_range(x + y)
                    .map(Value::Duration)
                    .map_or_else(|| overflow("duration"), Ok),
                _ => no_overload(name, &[a, b]),
            },
            Op::Sub => match (a, b) {
                (Value::Int(x), Value::Int(y)) => x
                    .checked_sub(*y)
                    .map(Value::Int)
                    .map_or_else(|| overflow("integer"), Ok),
                (Value::Uint(x), Value::Uint(y)) => x
                    .checked_sub(*y)
                    .map(Value::Uint)
                    .map_or_else(|| overflow("unsigned integer"), Ok),
                (Value::Double(x), Value::Double(y)) => Ok(Value::Double(x - y)),
                (Value::Timestamp(x), Value::Timestamp(y)) => time::duration_sum_in_range(x - y)
                    .map(Value::Duration)
                    .map_or_else(|| overflow("duration"), Ok),
                (Value::Timestamp(t), Value::Duration(d)) => time::timestamp_in_range(t - d)
                    .map(Value::Timestamp)
                    .map_or_else(|| overflow("timestamp"), Ok),
                (Value::Duration(x), Value::Duration(y)) => time::duration_sum_in_range(x - y)
                    .map(Value::Duration)
                    .map_or_else(|| overflow("duration"), Ok),
                _ => no_overload(name, &[a, b]),
            },
            Op::Mul => match (a, b) {
                (Value::Int(x), Value::Int(y)) => x
                    .checked_mul(*y)
                    .map(Value::Int)
                    .map_or_else(|| overflow("integer"), Ok),
                (Value::Uint(x), Value::Uint(y)) => x
                    .checked_mul(*y)
                    .map(Value::Uint)
                    .map_or_else(|| overflow("unsigned integer"), Ok),
                (Value::Double(x), Value::Double(y)) => Ok(Value::Double(x * y)),
                _ => no_overload(name, &[a, b]),
            },
            Op::Div | Op::Rem => {
                let zero = if op == Op::Div {
                    "divide by zero"
                } else {
                    "modulus by zero"
                };
                match (a, b) {
                    (Value::Int(_), Value::Int(0)) | (Value::Uint(_), Value::Uint(0)) => fail(zero),
                    (Value::Int(x), Value::Int(y)) => {
                        let r = if op == Op::Div {
                            x.checked_div(*y)
                        } else {
                            x.checked_rem(*y)
                        };
                        r.map(Value::Int).map_or_else(|| overflow("integer"), Ok)
                    }
                    (Value::Uint(x), Value::Uint(y)) => {
                        Ok(Value::Uint(if op == Op::Div { x / y } else { x % y }))
                    }
                    (Value::Double(x), Value::Double(y)) if op == Op::Div => {
                        Ok(Value::Double(x / y))
                    }
                    _ => no_overload(name, &[a, b]),
                }
            }
        }
    }
}

/// What may be looked up in a map: its key types, and doubles (equal to
/// an int or uint key by value).
fn is_key(v: &Value) -> bool {
    matches!(
        v,
        Value::Int(_) | Value::Uint(_) | Value::Bool(_) | Value::String(_) | Value::Double(_)
    )
}

fn int(v: &Value) -> Result<Value> {
    match v {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Uint(u) => i64::try_from(*u)
            .map(Value::Int)
            .or_else(|_| fail("uint out of int range")),
        // Strict bounds, as cel-cpp: 2^63 and -2^63 as doubles are refused.
        Value::Double(d)
            if d.is_finite() && *d > -9.223_372_036_854_776e18 && *d < 9.223_372_036_854_776e18 =>
        {
            Ok(Value::Int(*d as i64))
        }
        Value::Double(_) => fail("double out of int range"),
        Value::String(s) => s
            .trim_ascii()
            .parse()
            .map(Value::Int)
            .or_else(|_| fail(format!("cannot convert {} to int", shown(s)))),
        Value::Timestamp(t) => Ok(Value::Int(t.div_euclid(1_000_000_000) as i64)),
        // cel-cpp's, beyond cel-spec, at run time only (its checker refuses
        // `int(true)`, and so does ours): the reference takes it, so do we.
        Value::Bool(b) => Ok(Value::Int(i64::from(*b))),
        other => no_overload("int", &[other]),
    }
}

fn uint(v: &Value) -> Result<Value> {
    match v {
        Value::Int(i) => u64::try_from(*i)
            .map(Value::Uint)
            .or_else(|_| fail("int out of uint range")),
        Value::Uint(u) => Ok(Value::Uint(*u)),
        Value::Double(d) if d.is_finite() && *d >= 0.0 && *d < 1.8446744073709552e19 => {
            Ok(Value::Uint(*d as u64))
        }
        Value::Double(_) => fail("double out of uint range"),
        Value::String(s) => s
            .trim_ascii()
            .parse()
            .map(Value::Uint)
            .or_else(|_| fail(format!("cannot convert {} to uint", shown(s)))),
        other => no_overload("uint", &[other]),
    }
}

#[cfg(test)]
mod tests {
    use crate::value::format_double;

    #[test]
    fn doubles_print_as_the_reference_prints_them() {
        for (d, want) in [
            (1.5, "1.5"),
            (1e20, "1e+20"),
            (1.0, "1"),
            (-0.0, "-0"),
            (1e-7, "1e-07"),
            (123456789.0, "1.23456789e+08"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e300, "1.5e+300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-1.5e-10, "-1.5e-10"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(format_double(d), want, "{d:?}");
        }
    }
}
