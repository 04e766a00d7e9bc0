//! CEL's values, its equality (heterogeneous: `1 == 1.0` at run time) and
//! its ordering (numbers across int, uint and double, as cel-spec says).

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// `==` on values is structural (`Int(1) != Double(1.0)`), for tests;
/// CEL's own equality is [`equal`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(Arc<str>),
    List(Arc<Vec<Value>>),
    /// Entries in their order (a JSON object's, or a literal's).
    Map(Arc<Vec<(Value, Value)>>),
    /// Nanoseconds since the Unix epoch, within years 1 to 9999.
    Timestamp(i128),
    /// Nanoseconds, within cel-spec's range of about 10,000 years.
    Duration(i128),
    Type(TypeName),
}

/// What `type(x)` gives, and what `int`, `string`, ... name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeName {
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    List,
    Map,
    Timestamp,
    Duration,
    Type,
}

impl TypeName {
    pub fn named(name: &str) -> Option<TypeName> {
        Some(match name {
            "null_type" => TypeName::Null,
            "bool" => TypeName::Bool,
            "int" => TypeName::Int,
            "uint" => TypeName::Uint,
            "double" => TypeName::Double,
            "string" => TypeName::String,
            "list" => TypeName::List,
            "map" => TypeName::Map,
            "type" => TypeName::Type,
            "google.protobuf.Timestamp" => TypeName::Timestamp,
            "google.protobuf.Duration" => TypeName::Duration,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            TypeName::Null => "null_type",
            TypeName::Bool => "bool",
            TypeName::Int => "int",
            TypeName::Uint => "uint",
            TypeName::Double => "double",
            TypeName::String => "string",
            TypeName::List => "list",
            TypeName::Map => "map",
            TypeName::Timestamp => "google.protobuf.Timestamp",
            TypeName::Duration => "google.protobuf.Duration",
            TypeName::Type => "type",
        }
    }
}

impl Value {
    pub fn string(text: impl Into<Arc<str>>) -> Value {
        Value::String(text.into())
    }

    pub fn type_name(&self) -> TypeName {
        match self {
            Value::Null => TypeName::Null,
            Value::Bool(_) => TypeName::Bool,
            Value::Int(_) => TypeName::Int,
            Value::Uint(_) => TypeName::Uint,
            Value::Double(_) => TypeName::Double,
            Value::String(_) => TypeName::String,
            Value::List(_) => TypeName::List,
            Value::Map(_) => TypeName::Map,
            Value::Timestamp(_) => TypeName::Timestamp,
            Value::Duration(_) => TypeName::Duration,
            Value::Type(_) => TypeName::Type,
        }
    }

    /// A JSON document as CEL sees it: numbers are doubles (CEL's JSON
    /// mapping, and what blackbox's cel-go sees), objects are maps from
    /// strings.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::string(s.as_str()),
            serde_json::Value::Array(items) => {
                Value::List(Arc::new(items.iter().map(Value::from_json).collect()))
            }
            serde_json::Value::Object(entries) => Value::Map(Arc::new(
                entries
                    .iter()
                    .map(|(k, v)| (Value::string(k.as_str()), Value::from_json(v)))
                    .collect(),
            )),
        }
    }

    /// The value a map holds under `key`, with numeric keys equal across
    /// types (`{1: 'a'}[dyn(1u)]`), as equality says.
    pub fn map_get<'a>(entries: &'a [(Value, Value)], key: &Value) -> Option<&'a Value> {
        entries.iter().find(|(k, _)| equal(k, key)).map(|(_, v)| v)
    }
}

/// A number of any of the three kinds, compared exactly (no rounding of a
/// big int to a double).
fn compare_numbers(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Uint(x), Value::Uint(y)) => Some(x.cmp(y)),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
        (Value::Int(x), Value::Uint(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (Value::Uint(_), Value::Int(_)) => compare_numbers(b, a).map(Ordering::reverse),
        (Value::Int(x), Value::Double(y)) => compare_wide(i128::from(*x), *y),
        (Value::Uint(x), Value::Double(y)) => compare_wide(i128::from(*x), *y),
        (Value::Double(_), Value::Int(_) | Value::Uint(_)) => {
            compare_numbers(b, a).map(Ordering::reverse)
        }
        _ => None,
    }
}

/// An integer against a double, exactly.
fn compare_wide(x: i128, y: f64) -> Option<Ordering> {
    if y.is_nan() {
        return None;
    }
    // Every i64 and u64 lies strictly inside ±2^65, where doubles are exact
    // integers beyond 2^53: compare the integer parts, then the fraction.
    if y >= 3.6893488147419103e19 {
        return Some(Ordering::Less);
    }
    if y <= -3.6893488147419103e19 {
        return Some(Ordering::Greater);
    }
    let whole = y.trunc();
    match x.cmp(&(whole as i128)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(y - whole)),
        other => Some(other),
    }
}

/// cel-spec's equality: values of different types are unequal, except
/// numbers, which are equal by value; NaN equals nothing.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Timestamp(x), Value::Timestamp(y)) => x == y,
        (Value::Duration(x), Value::Duration(y)) => x == y,
        (Value::Type(x), Value::Type(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| equal(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| Value::map_get(y, k).is_some_and(|w| equal(v, w)))
        }
        _ => compare_numbers(a, b) == Some(Ordering::Equal),
    }
}

/// The order of `<`: numbers across kinds, strings (by code point), bools,
/// timestamps, durations. None for NaN; Err for types with no order.
pub fn compare(a: &Value, b: &Value) -> Result<Option<Ordering>, ()> {
    Ok(match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
        (
            Value::Int(_) | Value::Uint(_) | Value::Double(_),
            Value::Int(_) | Value::Uint(_) | Value::Double(_),
        ) => compare_numbers(a, b),
        _ => return Err(()),
    })
}

impl fmt::Display for Value {
    /// CEL's own notation, for failure lines: `"up"`, `3.0`, `[1, 2]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}u"),
            Value::Double(d) if d.fract() == 0.0 && d.abs() < 1e15 => write!(f, "{d}.0"),
            Value::Double(d) => f.write_str(&crate::eval::format_double(*d)),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    write!(f, "{}{item}", if i == 0 { "" } else { ", " })?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    write!(f, "{}{k}: {v}", if i == 0 { "" } else { ", " })?;
                }
                f.write_str("}")
            }
            Value::Timestamp(t) => write!(f, "timestamp({:?})", crate::time::format_timestamp(*t)),
            Value::Duration(d) => write!(f, "duration({:?})", crate::time::format_duration(*d)),
            Value::Type(t) => f.write_str(t.name()),
        }
    }
}
