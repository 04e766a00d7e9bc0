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

/// Numbers of any of the three kinds: ints and uints exactly, either
/// against a double as a double.
fn compare_numbers(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Uint(x), Value::Uint(y)) => Some(x.cmp(y)),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
        (Value::Int(x), Value::Uint(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (Value::Uint(_), Value::Int(_)) => compare_numbers(b, a).map(Ordering::reverse),
        // As cel-spec: the integer becomes a double, rounding as it must
        // (`dyn(9223372036854775807) == 9223372036854775808.0` is true).
        (Value::Int(x), Value::Double(y)) => (*x as f64).partial_cmp(y),
        (Value::Uint(x), Value::Double(y)) => (*x as f64).partial_cmp(y),
        (Value::Double(_), Value::Int(_) | Value::Uint(_)) => {
            compare_numbers(b, a).map(Ordering::reverse)
        }
        _ => None,
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

/// How much of an answer's text a failure line quotes: a hostile answer's
/// megabyte of string becomes its first characters and "...".
const SHOWN_CHARS: usize = 64;
/// And of a list or a map, its first items.
const SHOWN_ITEMS: usize = 8;

/// `text` quoted for a failure line, at most SHOWN_CHARS of it.
pub fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
        None => format!("{text:?}"),
    }
}

impl fmt::Display for Value {
    /// CEL's own notation, for failure lines: `"up"`, `3.0`, `[1, 2]`;
    /// long strings, lists and maps shortened (`shown`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}u"),
            Value::Double(d) if d.fract() == 0.0 && d.abs() < 1e15 => write!(f, "{d}.0"),
            Value::Double(d) => f.write_str(&format_double(*d)),
            Value::String(s) => f.write_str(&shown(s)),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().take(SHOWN_ITEMS).enumerate() {
                    write!(f, "{}{item}", if i == 0 { "" } else { ", " })?;
                }
                f.write_str(if items.len() > SHOWN_ITEMS {
                    ", ...]"
                } else {
                    "]"
                })
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().take(SHOWN_ITEMS).enumerate() {
                    write!(f, "{}{k}: {v}", if i == 0 { "" } else { ", " })?;
                }
                f.write_str(if entries.len() > SHOWN_ITEMS {
                    ", ...}"
                } else {
                    "}"
                })
            }
            Value::Timestamp(t) => write!(f, "timestamp({:?})", crate::time::format_timestamp(*t)),
            Value::Duration(d) => write!(f, "duration({:?})", crate::time::format_duration(*d)),
            Value::Type(t) => f.write_str(t.name()),
        }
    }
}

/// Whether a value is a tagged tree as the tests write expected values
/// (`["int", "3"]`, `["list", [...]]`; tests/oracles/cel_reference.py
/// says the form): the differential test's and the conformance tables'
/// one comparison. Maps compare as sets (the reference's order is its
/// hash's); timestamps and durations to the microsecond.
pub fn same_as_tagged(ours: &Value, theirs: &serde_json::Value) -> bool {
    let tag = theirs[0].as_str().unwrap_or("");
    let text = theirs[1].as_str().unwrap_or("");
    match (ours, tag) {
        (Value::Null, "null") => true,
        (Value::Bool(b), "bool") => theirs[1].as_bool() == Some(*b),
        (Value::Int(i), "int") => text.parse::<i64>().ok() == Some(*i),
        (Value::Uint(u), "uint") => text.parse::<u64>().ok() == Some(*u),
        (Value::Double(d), "double") => {
            let theirs: f64 = match text {
                "nan" => f64::NAN,
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                _ => text.parse().unwrap_or(f64::NAN),
            };
            (d.is_nan() && theirs.is_nan()) || *d == theirs
        }
        (Value::String(s), "string") => &**s == text,
        (Value::Type(t), "type") => t.name() == text,
        (Value::Timestamp(t), "timestamp") => {
            theirs[1].as_i64().map(i128::from) == Some(t.div_euclid(1000))
        }
        (Value::Duration(d), "duration") => {
            theirs[1].as_i64().map(i128::from) == Some(d.div_euclid(1000))
        }
        (Value::List(items), "list") => {
            let other = theirs[1].as_array().map(Vec::as_slice).unwrap_or(&[]);
            items.len() == other.len() && items.iter().zip(other).all(|(a, b)| same_as_tagged(a, b))
        }
        (Value::Map(entries), "map") => {
            let other = theirs[1].as_array().map(Vec::as_slice).unwrap_or(&[]);
            entries.len() == other.len()
                && entries.iter().all(|(k, v)| {
                    other
                        .iter()
                        .any(|pair| same_as_tagged(k, &pair[0]) && same_as_tagged(v, &pair[1]))
                })
        }
        _ => false,
    }
}

/// As cel-spec's reference prints a double: the shortest digits that read
/// back the same, in %g's form (an exponent below 1e-4 and from 1e6 up,
/// written `1e+20`, `1e-07`).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        // As printf prints it, sign and all: x86's 0.0 / 0.0 is a NaN with
        // its sign bit set, which cel-cpp prints `-nan`.
        return if d.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{}` is the shortest round-trip digits, never with an
    // exponent (`100000000000000000000`, `0.0000001`): read the digits and
    // the exponent off it. (`{:e}` would link a second float printer.)
    let plain = format!("{}", d.abs());
    let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, ""));
    let all: String = whole.chars().chain(fraction.chars()).collect();
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0');
    let exponent = whole.len() as i32 - 1 - leading as i32;
    let sign = if d < 0.0 { "-" } else { "" };
    if (-4..6).contains(&exponent) {
        return format!("{sign}{}", plain.strip_suffix(".0").unwrap_or(&plain));
    }
    let (first, rest) = digits.split_at(1);
    let dot = if rest.is_empty() { "" } else { "." };
    let exponent_sign = if exponent < 0 { '-' } else { '+' };
    format!(
        "{sign}{first}{dot}{rest}e{exponent_sign}{:02}",
        exponent.abs()
    )
}
