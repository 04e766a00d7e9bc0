//! Every stderr line a side-car writes is a log line in its format: the
//! harness checks each run and each daemon with these. logfmt is read by
//! the rules of go-logfmt's decoder (what Loki's `| logfmt` and most logfmt
//! parsers follow), JSON by serde_json.

use std::collections::BTreeMap;

/// The format a command line asks for: JSON with `--log-format json` (or
/// `=json`) before any `--` (after it are every's PROGRAM's own words).
pub fn wants_json<S: AsRef<str>>(args: &[S]) -> bool {
    let mut args = args
        .iter()
        .map(AsRef::as_ref)
        .take_while(|a| *a != "--")
        .peekable();
    let mut json = false;
    while let Some(arg) = args.next() {
        if arg == "--log-format" {
            json = args.peek() == Some(&"json");
        } else if let Some(value) = arg.strip_prefix("--log-format=") {
            json = value == "json";
        }
    }
    json
}

/// One logfmt line's pairs, by go-logfmt's rules: keys are runs of bytes
/// above space other than `=` and `"`; a value is empty, a run of such
/// bytes, or a quoted string with JSON's escapes; pairs are separated by
/// spaces. Anything else is an error saying where.
pub fn parse_logfmt(line: &str) -> Result<Vec<(String, String)>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut pairs = Vec::new();
    let mut i = 0;
    let bare = |c: char| c > ' ' && c != '=' && c != '"';
    while i < chars.len() {
        if chars[i] <= ' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && bare(chars[i]) {
            i += 1;
        }
        if i == start {
            return Err(format!(
                "unexpected {:?} at {i} where a key starts",
                chars[i]
            ));
        }
        let key: String = chars[start..i].iter().collect();
        if i == chars.len() || chars[i] == ' ' {
            pairs.push((key, String::new()));
            continue;
        }
        if chars[i] != '=' {
            return Err(format!("unexpected {:?} at {i} in a key", chars[i]));
        }
        i += 1;
        let mut value = String::new();
        if i < chars.len() && chars[i] == '"' {
            i += 1;
            loop {
                let Some(&c) = chars.get(i) else {
                    return Err("unterminated quoted value".into());
                };
                i += 1;
                match c {
                    '"' => break,
                    '\\' => {
                        let escaped = chars.get(i).copied().ok_or("a lone backslash")?;
                        i += 1;
                        value.push(match escaped {
                            '"' => '"',
                            '\\' => '\\',
                            '/' => '/',
                            'b' => '\u{8}',
                            'f' => '\u{c}',
                            'n' => '\n',
                            'r' => '\r',
                            't' => '\t',
                            'u' => {
                                let hex: String =
                                    chars.get(i..i + 4).ok_or("short \\u")?.iter().collect();
                                i += 4;
                                let code = u32::from_str_radix(&hex, 16)
                                    .map_err(|_| format!("bad \\u{hex}"))?;
                                char::from_u32(code).ok_or(format!("bad \\u{hex}"))?
                            }
                            other => return Err(format!("bad escape \\{other}")),
                        });
                    }
                    c if c < ' ' => return Err(format!("control {c:?} inside quotes")),
                    c => value.push(c),
                }
            }
            if i < chars.len() && chars[i] != ' ' {
                return Err(format!("unexpected {:?} after a quoted value", chars[i]));
            }
        } else {
            while i < chars.len() && chars[i] != ' ' {
                if !bare(chars[i]) {
                    return Err(format!("unexpected {:?} at {i} in a value", chars[i]));
                }
                value.push(chars[i]);
                i += 1;
            }
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// One log line's pairs in its format, checked for the toolbox's shape:
/// `ts` (RFC 3339 UTC), `level` (debug, info, warn, error) and `msg` first,
/// and in JSON every value a string.
pub fn parse_line(line: &str, json: bool) -> Result<BTreeMap<String, String>, String> {
    let pairs: Vec<(String, String)> = if json {
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        let object = value.as_object().ok_or("not a JSON object")?;
        if !line.starts_with("{\"ts\":") {
            return Err("ts is not the first key".into());
        }
        let mut pairs = Vec::new();
        for (key, value) in object {
            let text = value
                .as_str()
                .ok_or(format!("{key} is not a string: {value}"))?;
            pairs.push((key.clone(), text.to_string()));
        }
        pairs
    } else {
        let pairs = parse_logfmt(line)?;
        let keys: Vec<&str> = pairs.iter().take(3).map(|(k, _)| k.as_str()).collect();
        if keys != ["ts", "level", "msg"] {
            return Err(format!("the first keys are {keys:?}, not ts, level, msg"));
        }
        pairs
    };
    let map: BTreeMap<String, String> = pairs.into_iter().collect();
    let ts = map.get("ts").ok_or("no ts")?;
    let shape = ts.len() == 24
        && ts.ends_with('Z')
        && ts.as_bytes()[10] == b'T'
        && ts.bytes().filter(u8::is_ascii_digit).count() == 17;
    if !shape {
        return Err(format!("ts {ts:?} is not RFC 3339 UTC with milliseconds"));
    }
    let level = map.get("level").ok_or("no level")?;
    if !["debug", "info", "warn", "error"].contains(&level.as_str()) {
        return Err(format!("level {level:?}"));
    }
    map.get("msg").ok_or("no msg")?;
    Ok(map)
}

/// Checks that every stderr line of `program` (one of the side-cars), run
/// with `args`, is a log line in the format the arguments ask for. A usage
/// error comes before the log is configured: its `NAME: ...` line and the
/// hint may open stderr. every with `--passthrough-logs` passes its
/// PROGRAM's output through: then lines that do not begin as a log line are
/// the program's.
pub fn check_stderr<S: AsRef<str>>(program: &str, args: &[S], lines: &[String]) {
    let json = wants_json(args);
    let passes_output_through =
        program == "every" && args.iter().any(|a| a.as_ref() == "--passthrough-logs");
    let mut lines = lines.iter().peekable();
    if lines
        .peek()
        .is_some_and(|l| l.starts_with(&format!("{program}: ")))
    {
        lines.next();
        if lines.peek().is_some_and(|l| l.starts_with("Try '")) {
            lines.next();
        }
    }
    for line in lines {
        let own = if json {
            line.starts_with("{\"ts\":")
        } else {
            line.starts_with("ts=")
        };
        if passes_output_through && !own {
            continue;
        }
        if let Err(why) = parse_line(line, json) {
            let format = if json { "JSON" } else { "logfmt" };
            panic!("{program}: a stderr line is not {format} ({why}):\n  {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_follows_go_logfmt() {
        let pairs = parse_logfmt(r#"a=1 b="x y\"z\u001b" c= d"#).unwrap();
        assert_eq!(
            pairs,
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y\"z\u{1b}".into()),
                ("c".into(), String::new()),
                ("d".into(), String::new()),
            ]
        );
        // Rust's own escape of a control is not logfmt.
        assert!(parse_logfmt(r#"a="\u{1b}""#).is_err());
        assert!(parse_logfmt("a=b=c").is_err());
        assert!(parse_logfmt(r#"a="open"#).is_err());
        assert!(parse_logfmt(r#"a=x"y"#).is_err());
        assert!(parse_logfmt("=a").is_err());
    }

    #[test]
    fn the_format_follows_the_flag_before_a_double_dash() {
        assert!(wants_json(&["--log-format", "json"]));
        assert!(wants_json(&["--log-format=json", "1s"]));
        assert!(!wants_json(&[
            "--log-format=json",
            "--log-format",
            "logfmt"
        ]));
        assert!(!wants_json(&["1s", "--", "prog", "--log-format", "json"]));
    }

    #[test]
    fn lines_must_have_the_shape() {
        let line = "ts=2026-11-24T19:14:00.123Z level=info msg=serving addr=127.0.0.1:1";
        assert_eq!(parse_line(line, false).unwrap()["addr"], "127.0.0.1:1");
        assert!(parse_line("level=info ts=2026-11-24T19:14:00.123Z msg=x", false).is_err());
        let json = r#"{"ts":"2026-11-24T19:14:00.123Z","level":"warn","msg":"x","n":"1"}"#;
        assert_eq!(parse_line(json, true).unwrap()["n"], "1");
        let number = r#"{"ts":"2026-11-24T19:14:00.123Z","level":"warn","msg":"x","n":1}"#;
        assert!(parse_line(number, true).is_err());
        assert!(parse_line(line, true).is_err());
    }
}
