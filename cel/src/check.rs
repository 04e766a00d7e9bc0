//! The type check at start: what cel-spec's checker refuses (`1 == 1u`,
//! `'a' + 1`, `true ? 1 : 'x'`, an undeclared name) is refused here too, so
//! that an expression the reference would not run never passes a check.
//! JSON values are `dyn`, whose operations are checked when evaluated.

use crate::parse::{Expr, Func, Macro, Node, Op};
use crate::value::{TypeName, Value};
use crate::{lex, CompileError};
use std::fmt;

/// A static type: what a variable is declared as.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Dyn,
    /// The element type of an empty list or map literal: takes whatever it
    /// meets (`[1] + []` is a list(int)), where dyn stays dyn.
    Free,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Timestamp,
    Duration,
    Type,
    List(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Dyn | Ty::Free => f.write_str("dyn"),
            Ty::Null => f.write_str("null_type"),
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Uint => f.write_str("uint"),
            Ty::Double => f.write_str("double"),
            Ty::String => f.write_str("string"),
            Ty::Timestamp => f.write_str("google.protobuf.Timestamp"),
            Ty::Duration => f.write_str("google.protobuf.Duration"),
            Ty::Type => f.write_str("type"),
            Ty::List(e) => write!(f, "list({e})"),
            Ty::Map(k, v) => write!(f, "map({k}, {v})"),
        }
    }
}

/// Whether a value of `b` may stand where `a` is wanted, `dyn` standing
/// for anything, at any depth.
fn assignable(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Dyn | Ty::Free, _) | (_, Ty::Dyn | Ty::Free) => true,
        (Ty::List(x), Ty::List(y)) => assignable(x, y),
        (Ty::Map(k1, v1), Ty::Map(k2, v2)) => assignable(k1, k2) && assignable(v1, v2),
        _ => a == b,
    }
}

/// The type of a list of values of `a` and `b`: theirs if equal, else dyn.
fn join(a: &Ty, b: &Ty) -> Ty {
    match (a, b) {
        _ if a == b => a.clone(),
        (Ty::Free, other) | (other, Ty::Free) => other.clone(),
        (Ty::List(x), Ty::List(y)) if assignable(x, y) => Ty::List(Box::new(join(x, y))),
        (Ty::Map(k1, v1), Ty::Map(k2, v2)) if assignable(k1, k2) && assignable(v1, v2) => {
            Ty::Map(Box::new(join(k1, k2)), Box::new(join(v1, v2)))
        }
        _ => Ty::Dyn,
    }
}

fn of_value(value: &Value) -> Ty {
    match value {
        Value::Null => Ty::Null,
        Value::Bool(_) => Ty::Bool,
        Value::Int(_) => Ty::Int,
        Value::Uint(_) => Ty::Uint,
        Value::Double(_) => Ty::Double,
        Value::String(_) => Ty::String,
        Value::Timestamp(_) => Ty::Timestamp,
        Value::Duration(_) => Ty::Duration,
        Value::Type(_) => Ty::Type,
        Value::List(_) => Ty::List(Box::new(Ty::Dyn)),
        Value::Map(_) => Ty::Map(Box::new(Ty::Dyn), Box::new(Ty::Dyn)),
    }
}

pub struct CheckError {
    at: usize,
    message: String,
}

impl CheckError {
    pub fn at(self, source: &str) -> CompileError {
        lex::error(source, self.at, self.message)
    }
}

pub fn check(root: &Node, variables: &[(&str, Ty)]) -> Result<Ty, CheckError> {
    let mut scope: Vec<(String, Ty)> = variables
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    ty(root, &mut scope)
}

fn no_overload(node: &Node, name: &str, args: &[Ty]) -> CheckError {
    let args: Vec<String> = args.iter().map(Ty::to_string).collect();
    CheckError {
        at: node.span.0,
        message: format!(
            "found no matching overload for '{name}' applied to '({})'",
            args.join(", ")
        ),
    }
}

/// Resolves among simple overloads: the result of every candidate the
/// arguments fit, or dyn where they disagree. The tables are constants
/// (`&[...]`): built at run time they cost the executables 4 KB.
fn resolve(
    node: &Node,
    name: &str,
    args: &[Ty],
    overloads: &[(&[Ty], Ty)],
) -> Result<Ty, CheckError> {
    let mut result: Option<Ty> = None;
    // A type parameter (an empty list's element) is bound by the first
    // overload that takes it, as the reference's checker binds it: `v / v`
    // over `[]` is an int, not dyn.
    let binds = args.contains(&Ty::Free);
    for (params, out) in overloads {
        if binds
            && params.len() == args.len()
            && params.iter().zip(args).all(|(p, a)| assignable(p, a))
        {
            return Ok(out.clone());
        }
        if params.len() == args.len() && params.iter().zip(args).all(|(p, a)| assignable(p, a)) {
            result = Some(match result {
                None => out.clone(),
                Some(r) => join(&r, out),
            });
        }
    }
    result.ok_or_else(|| no_overload(node, name, args))
}

/// The types `<` orders: each with itself (cel-cpp's checker has no
/// cross-type numeric overloads; its runtime compares across them).
const ORDERED: &[(&[Ty], Ty)] = &[
    (&[Ty::Int, Ty::Int], Ty::Bool),
    (&[Ty::Uint, Ty::Uint], Ty::Bool),
    (&[Ty::Double, Ty::Double], Ty::Bool),
    (&[Ty::String, Ty::String], Ty::Bool),
    (&[Ty::Bool, Ty::Bool], Ty::Bool),
    (&[Ty::Timestamp, Ty::Timestamp], Ty::Bool),
    (&[Ty::Duration, Ty::Duration], Ty::Bool),
];

fn ty(node: &Node, scope: &mut Vec<(String, Ty)>) -> Result<Ty, CheckError> {
    Ok(match &node.expr {
        Expr::Literal(value) => of_value(value),
        Expr::Ident(name) => {
            if let Some((_, t)) = scope.iter().rev().find(|(n, _)| n == name) {
                t.clone()
            } else if TypeName::named(name).is_some() {
                Ty::Type
            } else {
                return Err(CheckError {
                    at: node.span.0,
                    message: format!("undeclared reference to '{name}'"),
                });
            }
        }
        Expr::Select(operand, field) | Expr::Has(operand, field) => {
            let t = ty(operand, scope)?;
            let value = match &t {
                Ty::Dyn | Ty::Free => Ty::Dyn,
                Ty::Map(k, v) if assignable(k, &Ty::String) => (**v).clone(),
                other => {
                    return Err(CheckError {
                        at: node.span.0,
                        message: format!("type '{other}' has no field '{field}'"),
                    })
                }
            };
            if matches!(node.expr, Expr::Has(..)) {
                Ty::Bool
            } else {
                value
            }
        }
        Expr::Index(operand, index) => {
            let (t, i) = (ty(operand, scope)?, ty(index, scope)?);
            match (&t, &i) {
                // The reference types `dyn[...]` by the overloads
                // `list(A)[int] -> A` and `map(K, V)[K] -> V`. An int (or
                // dyn) index matches both: dyn. Any other matches the map's
                // alone: a type parameter, which its first use binds
                // (`[body['a']] + ['x']` is a list(string)).
                (Ty::Dyn | Ty::Free, Ty::Int | Ty::Dyn | Ty::Free) => Ty::Dyn,
                (Ty::Dyn | Ty::Free, _) => Ty::Free,
                (Ty::List(e), Ty::Int | Ty::Uint | Ty::Dyn | Ty::Free) => (**e).clone(),
                (Ty::Map(k, v), _) if assignable(k, &i) => (**v).clone(),
                _ => return Err(no_overload(node, "_[_]", &[t, i])),
            }
        }
        Expr::Call(func, args) => {
            let types = args
                .iter()
                .map(|a| ty(a, scope))
                .collect::<Result<Vec<_>, _>>()?;
            call(node, *func, &types)?
        }
        Expr::MatchesLiteral(text, _) => {
            let t = ty(text, scope)?;
            resolve(
                node,
                "matches",
                &[t],
                const { &[(&[Ty::String], Ty::Bool)] },
            )?
        }
        Expr::List(items) => {
            let mut element: Option<Ty> = None;
            for item in items {
                let t = ty(item, scope)?;
                element = Some(match element {
                    None => t,
                    Some(e) => join(&e, &t),
                });
            }
            Ty::List(Box::new(element.unwrap_or(Ty::Free)))
        }
        Expr::Map(entries) => {
            let (mut key, mut value): (Option<Ty>, Option<Ty>) = (None, None);
            for (k, v) in entries {
                let (kt, vt) = (ty(k, scope)?, ty(v, scope)?);
                if !matches!(
                    kt,
                    Ty::Int | Ty::Uint | Ty::Bool | Ty::String | Ty::Dyn | Ty::Free
                ) {
                    return Err(CheckError {
                        at: k.span.0,
                        message: format!("a map key must be int, uint, bool or string, not {kt}"),
                    });
                }
                key = Some(key.map_or(kt.clone(), |e| join(&e, &kt)));
                value = Some(value.map_or(vt.clone(), |e| join(&e, &vt)));
            }
            Ty::Map(
                Box::new(key.unwrap_or(Ty::Free)),
                Box::new(value.unwrap_or(Ty::Free)),
            )
        }
        Expr::Binary(op, left, right) => {
            let (a, b) = (ty(left, scope)?, ty(right, scope)?);
            binary(node, *op, a, b)?
        }
        Expr::And(left, right) | Expr::Or(left, right) => {
            let (a, b) = (ty(left, scope)?, ty(right, scope)?);
            let name = if matches!(node.expr, Expr::And(..)) {
                "_&&_"
            } else {
                "_||_"
            };
            resolve(
                node,
                name,
                &[a, b],
                const { &[(&[Ty::Bool, Ty::Bool], Ty::Bool)] },
            )?
        }
        Expr::Not(operand) => {
            let t = ty(operand, scope)?;
            resolve(node, "!_", &[t], const { &[(&[Ty::Bool], Ty::Bool)] })?
        }
        Expr::Neg(operand) => {
            let t = ty(operand, scope)?;
            resolve(
                node,
                "-_",
                &[t],
                const { &[(&[Ty::Int], Ty::Int), (&[Ty::Double], Ty::Double)] },
            )?
        }
        Expr::Cond(condition, then, otherwise) => {
            let (c, t, o) = (
                ty(condition, scope)?,
                ty(then, scope)?,
                ty(otherwise, scope)?,
            );
            if !assignable(&Ty::Bool, &c) || !assignable(&t, &o) {
                return Err(no_overload(node, "_?_:_", &[c, t, o]));
            }
            join(&t, &o)
        }
        Expr::Comprehension {
            kind,
            var,
            range,
            test,
            transform,
        } => {
            let r = ty(range, scope)?;
            let element = match &r {
                Ty::Dyn | Ty::Free => Ty::Dyn,
                Ty::List(e) => (**e).clone(),
                Ty::Map(k, _) => (**k).clone(),
                other => {
                    return Err(CheckError {
                        at: range.span.0,
                        message: format!("a macro ranges over a list or a map, not {other}"),
                    })
                }
            };
            scope.push((var.clone(), element.clone()));
            let result = (|| {
                if let Some(test) = test {
                    let t = ty(test, scope)?;
                    if !assignable(&Ty::Bool, &t) {
                        return Err(CheckError {
                            at: test.span.0,
                            message: format!("the macro's condition is {t}, not bool"),
                        });
                    }
                }
                let out = match transform {
                    Some(transform) => Some(ty(transform, scope)?),
                    None => None,
                };
                Ok(match kind {
                    Macro::All | Macro::Exists | Macro::ExistsOne => Ty::Bool,
                    Macro::Filter => Ty::List(Box::new(element)),
                    Macro::Map => Ty::List(Box::new(out.unwrap_or(Ty::Dyn))),
                })
            })();
            scope.pop();
            result?
        }
    })
}

fn binary(node: &Node, op: Op, a: Ty, b: Ty) -> Result<Ty, CheckError> {
    let args = [a, b];
    let [a, b] = &args;
    Ok(match op {
        Op::Eq | Op::Ne => {
            if !assignable(a, b) {
                return Err(no_overload(node, op.name(), &args));
            }
            Ty::Bool
        }
        Op::Lt | Op::Le | Op::Gt | Op::Ge => resolve(node, op.name(), &args, ORDERED)?,
        Op::In => match b {
            Ty::Dyn | Ty::Free => Ty::Bool,
            Ty::List(e) | Ty::Map(e, _) if assignable(e, a) => Ty::Bool,
            _ => return Err(no_overload(node, op.name(), &args)),
        },
        Op::Add => match (a, b) {
            (Ty::List(x), Ty::List(y)) if assignable(x, y) => Ty::List(Box::new(join(x, y))),
            // The one overload with a list on one side wants a list on the other.
            (Ty::List(_), Ty::Dyn) => a.clone(),
            (Ty::Dyn, Ty::List(_)) => b.clone(),
            (Ty::List(_), Ty::Free) => a.clone(),
            (Ty::Free, Ty::List(_)) => b.clone(),
            _ => resolve(
                node,
                op.name(),
                &args,
                const {
                    &[
                        (&[Ty::Int, Ty::Int], Ty::Int),
                        (&[Ty::Uint, Ty::Uint], Ty::Uint),
                        (&[Ty::Double, Ty::Double], Ty::Double),
                        (&[Ty::String, Ty::String], Ty::String),
                        (&[Ty::Timestamp, Ty::Duration], Ty::Timestamp),
                        (&[Ty::Duration, Ty::Timestamp], Ty::Timestamp),
                        (&[Ty::Duration, Ty::Duration], Ty::Duration),
                    ]
                },
            )?,
        },
        Op::Sub => resolve(
            node,
            op.name(),
            &args,
            const {
                &[
                    (&[Ty::Int, Ty::Int], Ty::Int),
                    (&[Ty::Uint, Ty::Uint], Ty::Uint),
                    (&[Ty::Double, Ty::Double], Ty::Double),
                    (&[Ty::Timestamp, Ty::Timestamp], Ty::Duration),
                    (&[Ty::Timestamp, Ty::Duration], Ty::Timestamp),
                    (&[Ty::Duration, Ty::Duration], Ty::Duration),
                ]
            },
        )?,
        Op::Mul | Op::Div => resolve(
            node,
            op.name(),
            &args,
            const {
                &[
                    (&[Ty::Int, Ty::Int], Ty::Int),
                    (&[Ty::Uint, Ty::Uint], Ty::Uint),
                    (&[Ty::Double, Ty::Double], Ty::Double),
                ]
            },
        )?,
        Op::Rem => resolve(
            node,
            op.name(),
            &args,
            const {
                &[
                    (&[Ty::Int, Ty::Int], Ty::Int),
                    (&[Ty::Uint, Ty::Uint], Ty::Uint),
                ]
            },
        )?,
    })
}

fn call(node: &Node, func: Func, args: &[Ty]) -> Result<Ty, CheckError> {
    let name = func.name();
    match func {
        Func::Size => match args {
            [Ty::String | Ty::List(_) | Ty::Map(..) | Ty::Dyn | Ty::Free] => Ok(Ty::Int),
            _ => Err(no_overload(node, name, args)),
        },
        Func::Contains | Func::StartsWith | Func::EndsWith | Func::Matches => resolve(
            node,
            name,
            args,
            const { &[(&[Ty::String, Ty::String], Ty::Bool)] },
        ),
        Func::Int => resolve(
            node,
            name,
            args,
            const {
                &[
                    (&[Ty::Int], Ty::Int),
                    (&[Ty::Uint], Ty::Int),
                    (&[Ty::Double], Ty::Int),
                    (&[Ty::String], Ty::Int),
                    (&[Ty::Timestamp], Ty::Int),
                ]
            },
        ),
        Func::Uint => resolve(
            node,
            name,
            args,
            const {
                &[
                    (&[Ty::Int], Ty::Uint),
                    (&[Ty::Uint], Ty::Uint),
                    (&[Ty::Double], Ty::Uint),
                    (&[Ty::String], Ty::Uint),
                ]
            },
        ),
        Func::Double => resolve(
            node,
            name,
            args,
            const {
                &[
                    (&[Ty::Int], Ty::Double),
                    (&[Ty::Uint], Ty::Double),
                    (&[Ty::Double], Ty::Double),
                    (&[Ty::String], Ty::Double),
                ]
            },
        ),
        Func::String => resolve(
            node,
            name,
            args,
            const {
                &[
                    (&[Ty::Int], Ty::String),
                    (&[Ty::Uint], Ty::String),
                    (&[Ty::Double], Ty::String),
                    (&[Ty::String], Ty::String),
                    (&[Ty::Bool], Ty::String),
                    (&[Ty::Timestamp], Ty::String),
                    (&[Ty::Duration], Ty::String),
                ]
            },
        ),
        Func::Bool => resolve(
            node,
            name,
            args,
            const { &[(&[Ty::Bool], Ty::Bool), (&[Ty::String], Ty::Bool)] },
        ),
        Func::Type => Ok(Ty::Type),
        Func::Dyn => Ok(Ty::Dyn),
        Func::Duration => resolve(
            node,
            name,
            args,
            const {
                &[
                    (&[Ty::String], Ty::Duration),
                    (&[Ty::Duration], Ty::Duration),
                ]
            },
        ),
        Func::Timestamp => resolve(
            node,
            name,
            args,
            const {
                &[
                    (&[Ty::String], Ty::Timestamp),
                    (&[Ty::Int], Ty::Timestamp),
                    (&[Ty::Timestamp], Ty::Timestamp),
                ]
            },
        ),
    }
}
