//! The check language of ready-check and latency-exporter: the conditions
//! an HTTP answer must meet (`--status`, `--contains`, `--json`) and the
//! headers sent with the request (`--header`), each given after the check
//! or target it modifies. Both programs say a failure in the same words.

use crate::error::{CelOutcome, ConditionFailure};
use crate::json_condition::Condition;
use common::flag::Flag;

/// The modifier flags, without their dashes.
pub const FLAGS: &[Flag] = &[
    Flag::new("status", &["200,204"]),
    Flag::new("header", &["Content-Type: application/json"]),
    Flag::new("contains", &["ok"]),
    Flag::new("json", &["/status == \"up\""]),
    Flag::new("cel", &["body.status == 'up' && status == 200"]),
];
/// Their spellings, for the parser's guards.
pub const SPELLED: [common::flag::Spelling; common::flag::count(&[FLAGS])] =
    common::flag::spelled(&[FLAGS]);

#[derive(Debug, Default, Clone)]
pub struct Conditions {
    pub statuses: Vec<u16>,
    pub headers: Vec<(String, String)>,
    pub contains: Vec<String>,
    pub json: Vec<Condition>,
    /// `--cel` expressions, compiled at start.
    pub cel: Vec<std::sync::Arc<cel::Program>>,
}

/// What a `--cel` expression may read of an HTTP answer.
pub fn cel_variables() -> Vec<(&'static str, cel::Ty)> {
    use cel::Ty;
    vec![
        ("body", Ty::Dyn),
        ("status", Ty::Int),
        (
            "headers",
            Ty::Map(Box::new(Ty::String), Box::new(Ty::String)),
        ),
        ("now", Ty::Timestamp),
    ]
}

/// The time now, as CEL's `now`.
pub fn cel_now() -> cel::Value {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    cel::Value::Timestamp(since.as_nanos() as i128)
}

/// A body as CEL's `body`: its JSON, or the error that reading it gives.
pub fn cel_body(body: &[u8]) -> Result<cel::Value, String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .map(|json| cel::Value::from_json(&json))
        .map_err(|e| format!("body is not JSON ({e})"))
}

/// An HTTP answer as the variables of [`cel_variables`]: repeated headers
/// joined by ", ", as RFC 9110 5.3 allows; `body` an error when the
/// answer is not JSON, failing only the expressions that read it.
pub fn cel_answer(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<(&'static str, Result<cel::Value, String>)> {
    let mut joined: Vec<(cel::Value, cel::Value)> = Vec::new();
    for (name, value) in headers {
        let same = |(n, _): &&mut (cel::Value, cel::Value)| matches!(n, cel::Value::String(s) if **s == **name);
        match joined.iter_mut().find(same) {
            Some((_, cel::Value::String(existing))) => {
                *existing = format!("{existing}, {value}").into();
            }
            _ => joined.push((
                cel::Value::string(name.as_str()),
                cel::Value::string(value.as_str()),
            )),
        }
    }
    vec![
        ("body", cel_body(body)),
        ("status", Ok(cel::Value::Int(i64::from(status)))),
        ("headers", Ok(cel::Value::Map(std::sync::Arc::new(joined)))),
        ("now", Ok(cel_now())),
    ]
}

/// Evaluates each of `programs` with `variables`: the first that is not
/// true, as a failure.
pub fn judge_cel(
    programs: &[std::sync::Arc<cel::Program>],
    variables: &[(&str, Result<cel::Value, String>)],
) -> Result<(), ConditionFailure> {
    for program in programs {
        let outcome = match program.eval(variables, cel::DEFAULT_BUDGET) {
            Ok(cel::Value::Bool(true)) => continue,
            Ok(cel::Value::Bool(false)) => CelOutcome::False(
                program
                    .false_part(variables, cel::DEFAULT_BUDGET)
                    .map(str::to_string),
            ),
            Ok(other) => CelOutcome::NotBool(other.type_name().name()),
            Err(e) => CelOutcome::Error(e.to_string()),
        };
        return Err(ConditionFailure::Cel {
            expression: program.source().to_string(),
            outcome,
        });
    }
    Ok(())
}

/// Which statuses pass when `--status` does not say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultStatus {
    /// 200-399, as the kubelet judges an httpGet probe.
    Kubelet,
    /// 2xx, as the blackbox exporter's http_2xx module.
    Success,
}

impl Conditions {
    /// Adds the modifier `--FLAG VALUE` (FLAG one of [`FLAGS`]).
    pub fn add(&mut self, flag: &str, value: &str) -> Result<(), String> {
        match flag {
            "status" => {
                for code in value.split(',') {
                    let code: u16 = code
                        .trim()
                        .parse()
                        .ok()
                        .filter(|c| (100..600).contains(c))
                        .ok_or_else(|| format!("'{code}' is not an HTTP status code (100-599)"))?;
                    self.statuses.push(code);
                }
            }
            "header" => self
                .headers
                .push(crate::client::parse_header(value).map_err(|e| e.to_string())?),
            "contains" => self.contains.push(value.to_string()),
            "json" => self.json.push(Condition::parse(value)?),
            "cel" => self.cel.push(std::sync::Arc::new(
                cel::Program::compile(value, &cel_variables()).map_err(|e| e.to_string())?,
            )),
            other => return Err(format!("--{other} is not a condition")),
        }
        Ok(())
    }

    pub fn judge_status(
        &self,
        status: u16,
        default: DefaultStatus,
    ) -> Result<(), ConditionFailure> {
        if self.statuses.is_empty() {
            let (range, want) = match default {
                DefaultStatus::Kubelet => (200..400, "200-399"),
                DefaultStatus::Success => (200..300, "200-299"),
            };
            if range.contains(&status) {
                return Ok(());
            }
            return Err(ConditionFailure::Status {
                got: status,
                want: Err(want),
                given: false,
            });
        }
        if self.statuses.contains(&status) {
            return Ok(());
        }
        Err(ConditionFailure::Status {
            got: status,
            want: Ok(self.statuses.clone()),
            given: true,
        })
    }

    /// `--contains` and `--json`, in the order given.
    /// The `--cel` expressions, over the whole answer.
    pub fn judge_cel(
        &self,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), ConditionFailure> {
        if self.cel.is_empty() {
            return Ok(());
        }
        judge_cel(&self.cel, &cel_answer(status, headers, body))
    }

    pub fn judge_body(&self, body: &[u8]) -> Result<(), ConditionFailure> {
        for text in &self.contains {
            if memchr::memmem::find(body, text.as_bytes()).is_none() {
                return Err(ConditionFailure::NotContained(text.clone()));
            }
        }
        if !self.json.is_empty() {
            let doc: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| ConditionFailure::NotJson(e.to_string()))?;
            for condition in &self.json {
                condition.check(&doc)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_condition_fails_with_its_own_message() {
        let mut c = Conditions::default();
        for (flag, value) in [("contains", "ok"), ("json", "/value == 5")] {
            c.add(flag, value).unwrap();
        }
        assert_eq!(c.judge_body(b"{\"value\": 5, \"s\": \"ok\"}"), Ok(()));
        let said = |judged: Result<(), ConditionFailure>| judged.unwrap_err().to_string();
        assert_eq!(said(c.judge_body(b"nope")), "body does not contain \"ok\"");
        assert!(said(c.judge_body(b"ok, not json")).starts_with("body is not JSON ("));
        assert_eq!(
            said(c.judge_body(b"{\"value\": 4, \"ok\": 1}")),
            "/value is 4, want == 5"
        );
        assert!(c.judge_body(b"nope").unwrap_err().by_condition());
    }

    #[test]
    fn statuses_default_per_program_until_status_says() {
        let mut c = Conditions::default();
        assert_eq!(c.judge_status(302, DefaultStatus::Kubelet), Ok(()));
        let said = |judged: Result<(), ConditionFailure>| judged.unwrap_err().to_string();
        assert_eq!(
            said(c.judge_status(302, DefaultStatus::Success)),
            "status 302, want 200-299"
        );
        assert_eq!(
            said(c.judge_status(503, DefaultStatus::Kubelet)),
            "status 503, want 200-399"
        );
        assert!(!c
            .judge_status(503, DefaultStatus::Kubelet)
            .unwrap_err()
            .by_condition());
        c.add("status", "200,204").unwrap();
        assert_eq!(c.judge_status(204, DefaultStatus::Success), Ok(()));
        assert_eq!(
            said(c.judge_status(302, DefaultStatus::Kubelet)),
            "status 302, want 200 or 204"
        );
        assert!(c
            .judge_status(302, DefaultStatus::Kubelet)
            .unwrap_err()
            .by_condition());
        assert!(c
            .add("status", "99")
            .unwrap_err()
            .contains("not an HTTP status code"));
        assert!(c.add("header", "nocolon").is_err());
        c.add("header", "X-A: b").unwrap();
        assert_eq!(c.headers, [("X-A".to_string(), "b".to_string())]);
    }

    proptest::proptest! {
        /// The answer is outside input: any body and any headers meet the
        /// `--cel` machinery (JSON or not, nested or not, UTF-8 or not),
        /// and each expression gives a verdict, never a panic.
        #[test]
        fn any_answer_gets_a_cel_verdict(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            json in "[\\[\\]{}\":,0-9a-z. -]{0,64}",
            name in "[a-z-]{1,12}",
            value in ".{0,40}",
        ) {
            let mut c = Conditions::default();
            for expr in [
                "body.a.all(x, x.b > 1.0) || body.size() > 2",
                "has(body.x) && body.x.exists(k, k.startsWith('a'))",
                "headers.exists(h, h.matches('^x-')) && status >= 200",
                "string(body) != '' && body.map(k, k).size() >= 0",
            ] {
                c.add("cel", expr).unwrap();
            }
            let headers = [(name.clone(), value.clone()), (name, value)];
            for bytes in [body.as_slice(), json.as_bytes()] {
                let judged = c.judge_cel(200, &headers, bytes);
                if let Err(failure) = judged {
                    proptest::prop_assert!(failure.by_cel());
                    // One line, whatever the answer held: it is a log
                    // field and ready-check's printed reason.
                    let line = failure.to_string();
                    proptest::prop_assert!(!line.contains('\n'), "{}", line);
                }
            }
        }
    }
}
