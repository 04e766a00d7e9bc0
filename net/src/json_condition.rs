//! `--json 'POINTER OP VALUE'`: the value at an RFC 6901 pointer compared with
//! a JSON literal. Numbers compare as numbers (`5 == 5.0`); strings, booleans
//! and null only with `==` and `!=`.

use crate::error::ConditionFailure;
use serde_json::Value;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    const ALL: [(&'static str, Op); 6] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    fn symbol(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("?", |(s, _)| s)
    }

    fn orders(self) -> bool {
        !matches!(self, Op::Eq | Op::Ne)
    }
}

#[derive(Debug, Clone)]
pub struct Condition {
    pub pointer: String,
    pub op: Op,
    pub want: Value,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.pointer, self.op.symbol(), self.want)
    }
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let form = "want 'POINTER OP VALUE', e.g. '/value == 5' or '/status == \"ok\"'";
        let text = text.trim();
        let op_at = text
            .find(['=', '!', '<', '>'])
            .ok_or_else(|| format!("'{text}' has no operator (== != < <= > >=); {form}"))?;
        let pointer = text[..op_at].trim();
        let rest = &text[op_at..];
        let (symbol, op) = Op::ALL
            .iter()
            .find(|(symbol, _)| rest.starts_with(symbol))
            .ok_or_else(|| format!("'{text}' has no valid operator (== != < <= > >=); {form}"))?;
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            return Err(format!(
                "'{pointer}' is not a JSON pointer (it must start with '/'); {form}"
            ));
        }
        let literal = rest[symbol.len()..].trim();
        let want: Value = serde_json::from_str(literal).map_err(|_| {
            format!(
                "'{literal}' is not a JSON literal (quote strings: '/status == \"ok\"'); {form}"
            )
        })?;
        if op.orders() && !want.is_number() {
            return Err(format!(
                "'{symbol}' compares numbers only, and {want} is not a number"
            ));
        }
        Ok(Condition {
            pointer: pointer.to_string(),
            op: *op,
            want,
        })
    }

    /// Ok, or what was found instead.
    pub fn check(&self, doc: &Value) -> Result<(), ConditionFailure> {
        let Some(found) = doc.pointer(&self.pointer) else {
            return Err(ConditionFailure::JsonMissing(
                self.display_pointer().to_string(),
            ));
        };
        let holds = match (found.as_f64(), self.want.as_f64()) {
            (Some(a), Some(b)) => match self.op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
            },
            _ => match self.op {
                Op::Eq => *found == self.want,
                Op::Ne => *found != self.want,
                _ => false, // an ordering against a non-number never holds
            },
        };
        if holds {
            Ok(())
        } else {
            Err(ConditionFailure::JsonDiffers {
                pointer: self.display_pointer().to_string(),
                found: found.to_string(),
                op: self.op.symbol(),
                want: self.want.to_string(),
            })
        }
    }

    fn display_pointer(&self) -> &str {
        if self.pointer.is_empty() {
            "the document"
        } else {
            &self.pointer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Any text: a condition, or a refusal in one line; never a panic.
        #[test]
        fn any_condition_text_is_taken_or_refused_in_one_line(text in any::<String>()) {
            if let Err(e) = Condition::parse(&text) {
                prop_assert!(!e.is_empty() && !e.contains('\n'), "{}", e);
            }
        }

        /// Every pointer, operator and JSON literal as documented is taken,
        /// and compared against any JSON document without a panic.
        #[test]
        fn documented_conditions_are_taken_and_judge_any_document(
            pointer in "(/[a-z0-9~_]{0,8}){1,4}",
            op in "(==|!=|<|<=|>|>=)",
            value in prop_oneof![
                any::<i64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| f.to_string()),
                "\"[a-z ]{0,10}\"",
                Just("true".to_string()),
                Just("null".to_string()),
            ],
            doc in any::<i64>().prop_map(|n| json!({"a": n, "b": [n, "x"], "c": {"d": null}})),
        ) {
            let text = format!("{pointer} {op} {value}");
            if let Ok(condition) = Condition::parse(&text) {
                let _ = condition.check(&doc);
            } else {
                // Ordering a string, a boolean or null is refused, said so.
                prop_assert!(matches!(op.as_str(), "<" | "<=" | ">" | ">="), "{}", text);
            }
        }
    }

    fn check(cond: &str, doc: Value) -> Result<(), String> {
        Condition::parse(cond)
            .unwrap()
            .check(&doc)
            .map_err(|failure| failure.to_string())
    }

    #[test]
    fn numbers_compare_as_numbers() {
        assert_eq!(check("/value == 5", json!({"value": 5.0})), Ok(()));
        assert_eq!(check("/value == 5.0", json!({"value": 5})), Ok(()));
        assert_eq!(
            check("/queue/depth < 100", json!({"queue": {"depth": 12}})),
            Ok(())
        );
        assert_eq!(check("/a <= 1", json!({"a": 1})), Ok(()));
        assert_eq!(check("/a >= 1", json!({"a": 1})), Ok(()));
        assert_eq!(check("/a > 1", json!({"a": 2})), Ok(()));
        assert_eq!(check("/a != 1", json!({"a": 2})), Ok(()));
        assert_eq!(check("/value==5", json!({"value": 5})), Ok(()));
    }

    #[test]
    fn failures_say_what_was_found() {
        assert_eq!(
            check("/value == 5", json!({"value": 4})),
            Err("/value is 4, want == 5".into())
        );
        assert_eq!(
            check("/value == 5", json!({})),
            Err("/value missing".into())
        );
        assert_eq!(
            check("/status == \"ok\"", json!({"status": "degraded"})),
            Err("/status is \"degraded\", want == \"ok\"".into())
        );
        assert_eq!(
            check("/a < 10", json!({"a": "x"})),
            Err("/a is \"x\", want < 10".into())
        );
        assert_eq!(
            check("/a > 1", json!({"a": 1})),
            Err("/a is 1, want > 1".into())
        );
    }

    #[test]
    fn strings_booleans_and_arrays() {
        assert_eq!(check("/ok == true", json!({"ok": true})), Ok(()));
        assert_eq!(check("/ok != true", json!({"ok": false})), Ok(()));
        assert_eq!(
            check("/items/0/name == \"a\"", json!({"items": [{"name": "a"}]})),
            Ok(())
        );
        assert_eq!(check("/a~1b == 1", json!({"a/b": 1})), Ok(()));
    }

    #[test]
    fn bad_conditions_are_rejected_with_the_form() {
        for bad in [
            "/value 5",
            "/value == ok",
            "value == 5",
            "/s < \"a\"",
            "/v =! 3",
            "/v == ",
        ] {
            let err = Condition::parse(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
    }
}
