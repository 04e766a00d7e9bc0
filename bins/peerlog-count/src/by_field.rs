//! `--by NAME=FIELD`: lines counted by the value of one field, the way
//! people read logs (requests by status, lines by level). FIELD is
//! `json:POINTER` (JSON lines), `logfmt:KEY` or `word:N` (awk's `$N`). A
//! line without the field counts under "", so the values add up to the
//! lines; at most `--max-values` distinct values per NAME, later ones under
//! "other". Only a line's first 64 KiB are looked at.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The part of a line a field is looked for in.
pub const LINE_PREFIX: usize = 64 * 1024;
/// Values are cut to this many bytes.
pub const MAX_VALUE: usize = 128;
pub const OTHER: &str = "other";

#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// The pointer's tokens, unescaped.
    Json(Vec<String>),
    Logfmt(String),
    Word(usize),
}

impl Field {
    /// `json:POINTER`, `logfmt:KEY` or `word:N`.
    pub fn parse(text: &str) -> Result<Field, String> {
        let form = "want json:POINTER, logfmt:KEY or word:N";
        let (kind, arg) = text
            .split_once(':')
            .ok_or_else(|| format!("'{text}': {form}"))?;
        match kind {
            "json" if arg.is_empty() || arg.starts_with('/') => {
                Ok(Field::Json(crate::json_pointer::tokens(arg)))
            }
            "json" => Err(format!(
                "'{arg}' is not a JSON pointer (it starts with /, e.g. json:/level)"
            )),
            "logfmt" if !arg.is_empty() && !arg.contains([' ', '=', '"']) => {
                Ok(Field::Logfmt(arg.to_string()))
            }
            "logfmt" => Err(format!("'{arg}' is not a logfmt key")),
            "word" => match arg.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Field::Word(n)),
                _ => Err(format!(
                    "'{arg}' is not a field number (1 is the first, as awk's $1)"
                )),
            },
            _ => Err(format!("'{text}': {form}")),
        }
    }

    /// The field's value in `line` (no newline), as a reader writes it;
    /// None when the line has no such field.
    fn value<'a>(&self, line: &'a [u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
        use std::borrow::Cow;
        match self {
            Field::Word(n) => word(line, *n).map(Cow::Borrowed),
            Field::Logfmt(key) => logfmt(line, key.as_bytes()),
            Field::Json(tokens) => crate::json_pointer::value_at(line, tokens).map(Cow::Owned),
        }
    }
}

/// awk's `$n` with the default field separator: runs of blanks.
fn word(line: &[u8], n: usize) -> Option<&[u8]> {
    let mut i = 0;
    let mut field = 0;
    loop {
        while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
            i += 1;
        }
        if i == line.len() {
            return None;
        }
        let start = i;
        i = next_blank(line, i);
        field += 1;
        if field == n {
            return Some(&line[start..i]);
        }
    }
}

/// The index of the first space or tab at or after `from` (or the end),
/// eight bytes at a time: the per-line loop of `--by word:N`, which the
/// size-optimised build would otherwise run a byte at a time.
fn next_blank(line: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut i = from;
    while let Some(bytes) = line.get(i..i + 8) {
        let x = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        // The lowest flagged byte is a real match (higher ones may not be).
        let found =
            zero_byte(x ^ (ONES * u64::from(b' '))) | zero_byte(x ^ (ONES * u64::from(b'\t')));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < line.len() && line[i] != b' ' && line[i] != b'\t' {
        i += 1;
    }
    i
}

/// The value of `key` in a logfmt line: `key=value` or `key="a \"b\" c"`.
fn logfmt<'a>(line: &'a [u8], key: &[u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
    use std::borrow::Cow;
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i] == b' ' {
            i += 1;
        }
        let key_start = i;
        while i < line.len() && line[i] != b'=' && line[i] != b' ' {
            i += 1;
        }
        let this_key = &line[key_start..i];
        if i >= line.len() || line[i] == b' ' {
            continue; // a bare key
        }
        i += 1; // '='
        let value: Cow<[u8]> = if line.get(i) == Some(&b'"') {
            i += 1;
            let mut value = Vec::new();
            let mut escaped = false;
            while i < line.len() {
                let b = line[i];
                i += 1;
                match (escaped, b) {
                    (false, b'\\') => escaped = true,
                    (false, b'"') => break,
                    (true, b'n') => {
                        value.push(b'\n');
                        escaped = false
                    }
                    (_, b) => {
                        value.push(b);
                        escaped = false
                    }
                }
            }
            Cow::Owned(value)
        } else {
            let start = i;
            while i < line.len() && line[i] != b' ' {
                i += 1;
            }
            Cow::Borrowed(&line[start..i])
        };
        if this_key == key {
            return Some(value);
        }
    }
    None
}

/// A multiply-and-shift hash eight bytes at a time: values are short and
/// hashed once a line, where std's SipHash costs more. The keys come from
/// the log; collisions chosen by its writer could at worst slow the
/// counting of the few values the cap allows.
#[derive(Default)]
pub struct Quick(u64);

impl Hasher for Quick {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^= h >> 29;
        }
        self.0 = h;
    }
}

/// Up to this many values, a value is looked up by a scan, not a hash.
const SCAN_BELOW: usize = 16;

/// Byte-wise equality, inlined: values are a few bytes, and a call to
/// memcmp per line costs more than the comparison.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The counts of one `--by`.
pub struct ByField {
    pub name: String,
    field: Field,
    max_values: usize,
    /// Distinct values (cut to MAX_VALUE bytes) and their lines.
    values: Vec<(Vec<u8>, u64)>,
    /// Where each value is in `values`.
    index: HashMap<Vec<u8>, usize, BuildHasherDefault<Quick>>,
    /// The last value's place: a log's lines often repeat it (status 200).
    last: usize,
    /// Lines whose value came after the cap: counted as "other".
    pub dropped: u64,
}

impl ByField {
    pub fn new(name: &str, field: Field, max_values: usize) -> ByField {
        ByField {
            name: name.to_string(),
            field,
            max_values,
            values: Vec::new(),
            index: HashMap::default(),
            last: 0,
            dropped: 0,
        }
    }

    pub fn count(&mut self, line: &[u8]) {
        let value = self.field.value(line);
        let value: &[u8] = value.as_deref().unwrap_or_default();
        let value = &value[..value.len().min(MAX_VALUE)];
        if let Some((last, n)) = self.values.get_mut(self.last) {
            if same(last, value) {
                *n += 1;
                return;
            }
        }
        // A few values (statuses, levels): a scan beats hashing each line.
        let found = if self.values.len() <= SCAN_BELOW {
            self.values.iter().position(|(v, _)| same(v, value))
        } else {
            self.index.get(value).copied()
        };
        if let Some(at) = found {
            self.values[at].1 += 1;
            self.last = at;
        } else if value.is_empty() || self.distinct() < self.max_values {
            self.last = self.values.len();
            self.index.insert(value.to_vec(), self.last);
            self.values.push((value.to_vec(), 1));
        } else {
            self.dropped += 1;
        }
    }

    /// Distinct values counted toward the cap ("" is not: lines without
    /// the field always count under it).
    fn distinct(&self) -> usize {
        self.values.len() - usize::from(self.index.contains_key(&b""[..]))
    }

    /// (value, lines), sorted by value, with "other" last when any.
    pub fn counts(&self) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = self
            .values
            .iter()
            .map(|(v, n)| (String::from_utf8_lossy(v).into_owned(), *n))
            .collect();
        all.sort();
        if self.dropped > 0 {
            all.push((OTHER.to_string(), self.dropped));
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(field: &str, line: &str) -> Option<String> {
        Field::parse(field)
            .unwrap()
            .value(line.as_bytes())
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    #[test]
    fn words_are_awks_fields() {
        let combined = r#"10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET /a b HTTP/1.1" 404 12 "-" "Mozilla/5.0 (X11; Linux)""#;
        // The request holds a space: awk's $9 moves with it, as here.
        assert_eq!(value("word:9", combined).as_deref(), Some("HTTP/1.1\""));
        let plain =
            r#"10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 12 "-" "curl/8""#;
        assert_eq!(value("word:9", plain).as_deref(), Some("200"));
        assert_eq!(value("word:1", "  \tlead  x").as_deref(), Some("lead"));
        assert_eq!(value("word:3", "a b"), None);
    }

    #[test]
    fn the_next_blank_is_found_at_every_offset() {
        let line = b"abcdefghij\tklmnopqrstuvwxyz0123 45";
        for from in 0..line.len() {
            let want = (from..line.len())
                .find(|&i| line[i] == b' ' || line[i] == b'\t')
                .unwrap_or(line.len());
            assert_eq!(next_blank(line, from), want, "from {from}");
        }
        // Bytes one off a blank (0x1f, 0x21, 0x08, 0x0a, 0xa0) are not blanks.
        assert_eq!(next_blank(b"\x1f\x21\x08\x0a\xa0\xa9\x20", 0), 6);
    }

    #[test]
    fn logfmt_values_lose_their_quotes() {
        let line = r#"ts=1 level=warn msg="a=b \"c\" d" empty= bare key2="x""#;
        assert_eq!(value("logfmt:level", line).as_deref(), Some("warn"));
        assert_eq!(value("logfmt:msg", line).as_deref(), Some(r#"a=b "c" d"#));
        assert_eq!(value("logfmt:empty", line).as_deref(), Some(""));
        assert_eq!(value("logfmt:key2", line).as_deref(), Some("x"));
        assert_eq!(value("logfmt:bare", line), None);
        assert_eq!(value("logfmt:nope", line), None);
    }

    #[test]
    fn json_values_as_a_reader_writes_them() {
        let line = r#"{"level":"info","http":{"status":200,"ok":true},"n":null}"#;
        assert_eq!(value("json:/level", line).as_deref(), Some("info"));
        assert_eq!(value("json:/http/status", line).as_deref(), Some("200"));
        assert_eq!(value("json:/http/ok", line).as_deref(), Some("true"));
        assert_eq!(value("json:/missing", line), None);
        assert_eq!(value("json:/level", "{not json"), None);
    }

    #[test]
    fn the_cap_sends_new_values_to_other_and_long_ones_are_cut() {
        let mut by = ByField::new("w", Field::Word(1), 2);
        for line in ["a", "b", "c", "a", "d", ""] {
            by.count(line.as_bytes());
        }
        let long = "x".repeat(500);
        let mut cut = ByField::new("w", Field::Word(1), 5);
        cut.count(long.as_bytes());
        assert_eq!(
            by.counts(),
            [
                ("".into(), 1),
                ("a".into(), 2),
                ("b".into(), 1),
                ("other".into(), 2)
            ]
        );
        assert_eq!(by.dropped, 2);
        assert_eq!(cut.counts()[0].0.len(), MAX_VALUE);
    }

    #[test]
    fn fields_are_parsed_or_refused_with_the_form() {
        assert_eq!(Field::parse("word:9"), Ok(Field::Word(9)));
        assert_eq!(
            Field::parse("json:/a/b"),
            Ok(Field::Json(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            Field::parse("logfmt:level"),
            Ok(Field::Logfmt("level".into()))
        );
        assert!(Field::parse("word:0")
            .unwrap_err()
            .contains("not a field number"));
        assert!(Field::parse("json:level")
            .unwrap_err()
            .contains("not a JSON pointer"));
        assert!(Field::parse("regex:x")
            .unwrap_err()
            .contains("want json:POINTER"));
    }
}
