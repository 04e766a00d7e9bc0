//! CEL's tokens (cel-spec's langdef.md, "Syntax"): numbers, strings with
//! their escapes and raw and triple-quoted forms, identifiers, operators.

use crate::CompileError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Int(i128),
    Uint(u64),
    Double(f64),
    Str(String),
    Ident(String),
    /// An operator or punctuation: `==`, `(`, `?`, ...
    Op(&'static str),
    End,
}

/// A token and where it starts and ends (byte offsets).
#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// Words CEL reserves: refused as identifiers, as cel-spec says.
const RESERVED: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

const OPERATORS: &[&str] = &[
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", ".", ",",
    "(", ")", "[", "]", "{", "}",
];

/// The column (1-based, in characters) of byte offset `at`.
pub fn column(source: &str, at: usize) -> usize {
    source[..at.min(source.len())].chars().count() + 1
}

pub fn error(source: &str, at: usize, message: impl Into<String>) -> CompileError {
    CompileError {
        column: column(source, at),
        message: message.into(),
    }
}

pub fn tokens(source: &str) -> Result<Vec<Token>, CompileError> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if source[i..].starts_with("//") {
            i = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
            continue;
        }
        let start = i;
        let tok = if c.is_ascii_digit()
            || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (tok, end) = number(source, i)?;
            i = end;
            tok
        } else if c == b'"' || c == b'\'' {
            let (text, end) = string(source, i, false)?;
            i = end;
            Tok::Str(text)
        } else if (c == b'r' || c == b'R') && matches!(bytes.get(i + 1), Some(b'"' | b'\'')) {
            let (text, end) = string(source, i + 1, true)?;
            i = end;
            Tok::Str(text)
        } else if (c == b'b' || c == b'B')
            && (matches!(bytes.get(i + 1), Some(b'"' | b'\''))
                || (matches!(bytes.get(i + 1), Some(b'r' | b'R'))
                    && matches!(bytes.get(i + 2), Some(b'"' | b'\''))))
        {
            return Err(error(
                source,
                i,
                "bytes literals are outside the CEL subset sidecars supports",
            ));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let end = source[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(bytes.len(), |n| i + n);
            let word = &source[i..end];
            if RESERVED.contains(&word) {
                return Err(error(source, i, format!("'{word}' is a reserved word")));
            }
            i = end;
            Tok::Ident(word.to_string())
        } else if let Some(op) = OPERATORS.iter().find(|op| source[i..].starts_with(**op)) {
            i += op.len();
            Tok::Op(op)
        } else {
            let found = source[i..].chars().next().unwrap_or('?');
            return Err(error(source, i, format!("unexpected character {found:?}")));
        };
        out.push(Token { tok, start, end: i });
    }
    out.push(Token {
        tok: Tok::End,
        start: source.len(),
        end: source.len(),
    });
    Ok(out)
}

fn number(source: &str, start: usize) -> Result<(Tok, usize), CompileError> {
    let bytes = source.as_bytes();
    let digits_from = |mut i: usize, radix: u32| {
        while i < bytes.len() && (bytes[i] as char).is_digit(radix) {
            i += 1;
        }
        i
    };
    if source[start..].starts_with("0x") || source[start..].starts_with("0X") {
        let end = digits_from(start + 2, 16);
        let text = &source[start + 2..end];
        let value = u64::from_str_radix(text, 16).ok();
        return integer(source, start, end, value.map(i128::from));
    }
    let mut i = digits_from(start, 10);
    let mut float = false;
    if bytes.get(i) == Some(&b'.') {
        // `1.` is no number in CEL (nor is `1.e3`): digits must follow.
        if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            return Err(error(source, i + 1, "a digit must follow '.' in a number"));
        }
        float = true;
        i = digits_from(i + 1, 10);
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if !bytes.get(j).is_some_and(u8::is_ascii_digit) {
            return Err(error(source, j, "a digit must follow the exponent"));
        }
        float = true;
        i = digits_from(j, 10);
    }
    let text = &source[start..i];
    if float {
        let value: f64 = text
            .parse()
            .map_err(|_| error(source, start, "invalid double literal"))?;
        return Ok((Tok::Double(value), i));
    }
    integer(source, start, i, text.parse::<u64>().ok().map(i128::from))
}

/// An integer literal and its optional `u` suffix. The sign is the
/// parser's: `-9223372036854775808` is valid, so the magnitude is kept wide.
fn integer(
    source: &str,
    start: usize,
    end: usize,
    value: Option<i128>,
) -> Result<(Tok, usize), CompileError> {
    let bytes = source.as_bytes();
    if matches!(bytes.get(end), Some(b'u' | b'U')) {
        let value = value
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| error(source, start, "invalid uint literal"))?;
        return Ok((Tok::Uint(value), end + 1));
    }
    let value = value
        .filter(|v| *v <= i64::MAX as i128 + 1)
        .ok_or_else(|| error(source, start, "invalid int literal"))?;
    Ok((Tok::Int(value), end))
}

/// A quoted string at `start` (its first quote); raw strings take no escapes.
fn string(source: &str, start: usize, raw: bool) -> Result<(String, usize), CompileError> {
    let rest = &source[start..];
    let quote = &rest[..1];
    let triple = rest.starts_with(&quote.repeat(3));
    let close = if triple {
        quote.repeat(3)
    } else {
        quote.to_string()
    };
    let mut i = start + close.len();
    let mut out = String::new();
    loop {
        let Some(c) = source[i..].chars().next() else {
            return Err(error(source, start, "string literal is not closed"));
        };
        if source[i..].starts_with(&close) {
            return Ok((out, i + close.len()));
        }
        if !triple && (c == '\n' || c == '\r') {
            return Err(error(
                source,
                i,
                "newline in a string literal (use \\n or triple quotes)",
            ));
        }
        if c == '\\' && !raw {
            let (ch, len) = escape(source, i)?;
            out.push(ch);
            i += len;
            continue;
        }
        out.push(c);
        i += c.len_utf8();
    }
}

/// The escape at `at` (its backslash): the character and the bytes it took.
fn escape(source: &str, at: usize) -> Result<(char, usize), CompileError> {
    let bytes = source.as_bytes();
    let bad = |message: &str| error(source, at, message.to_string());
    let Some(&kind) = bytes.get(at + 1) else {
        return Err(bad("escape at the end of the expression"));
    };
    let simple = match kind {
        b'a' => Some('\x07'),
        b'b' => Some('\x08'),
        b'f' => Some('\x0c'),
        b'n' => Some('\n'),
        b'r' => Some('\r'),
        b't' => Some('\t'),
        b'v' => Some('\x0b'),
        b'\\' => Some('\\'),
        b'\'' => Some('\''),
        b'"' => Some('"'),
        b'`' => Some('`'),
        b'?' => Some('?'),
        _ => None,
    };
    if let Some(ch) = simple {
        return Ok((ch, 2));
    }
    let (radix, len, skip) = match kind {
        b'x' | b'X' => (16, 2, 2),
        b'u' => (16, 4, 2),
        b'U' => (16, 8, 2),
        b'0'..=b'3' => (8, 3, 1),
        _ => return Err(bad("invalid escape sequence")),
    };
    let digits = source
        .get(at + skip..at + skip + len)
        .ok_or_else(|| bad("escape sequence too short"))?;
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(bad("invalid escape sequence"));
    }
    let code = u32::from_str_radix(digits, radix).map_err(|_| bad("invalid escape sequence"))?;
    let ch = char::from_u32(code).ok_or_else(|| bad("escape is not a Unicode scalar value"))?;
    Ok((ch, skip + len))
}
