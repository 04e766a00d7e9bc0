//! The Prometheus text exposition format 0.0.4, written by every exporter of
//! the workspace: each family with HELP and TYPE, label values and HELP
//! escaped, `+Inf`/`-Inf`/`NaN` spelled as Prometheus parses them, and
//! histograms with cumulative buckets whose `le="+Inf"` equals `_count`.

use std::fmt::Write as _;

#[derive(Clone, Copy)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// A label set: pairs of name and (unescaped) value.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

#[derive(Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn new() -> Writer {
        Writer {
            out: String::with_capacity(4096),
        }
    }

    /// Continues after text already rendered (complete families only), with
    /// room for what follows: one allocation a scrape, not a clone and then
    /// a doubling (musl maps and unmaps them afresh each time).
    pub fn after(rendered: &str) -> Writer {
        let mut out = String::with_capacity(rendered.len() + 4096);
        out.push_str(rendered);
        Writer { out }
    }

    /// Starts a family: its HELP and TYPE lines. Write all its samples next.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = write!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    pub fn sample(&mut self, name: &str, labels: Labels, value: f64) {
        self.out.push_str(name);
        push_labels(&mut self.out, labels, None);
        self.out.push(' ');
        push_value(&mut self.out, value);
        self.out.push('\n');
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The `_bucket`, `_sum` and `_count` samples of one histogram.
    pub fn histogram(&mut self, name: &str, labels: Labels, histogram: &Histogram) {
        let mut cumulative = 0;
        let bucket = format!("{name}_bucket");
        for (i, count) in histogram.counts.iter().enumerate() {
            cumulative += count;
            let le = match histogram.bounds.get(i) {
                Some(bound) => format_value(*bound),
                None => "+Inf".to_string(),
            };
            self.out.push_str(&bucket);
            push_labels(&mut self.out, labels, Some(&le));
            let _ = writeln!(self.out, " {cumulative}");
        }
        self.sample(&format!("{name}_sum"), labels, histogram.sum);
        self.sample(&format!("{name}_count"), labels, histogram.count as f64);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn push_labels(out: &mut String, labels: Labels, le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let all = labels.iter().copied().chain(le.map(|le| ("le", le)));
    for (i, (name, value)) in all.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

fn push_value(out: &mut String, value: f64) {
    out.push_str(&format_value(value));
}

/// A sample value as Prometheus parses it.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's shortest round-trip form: 0.0005, 12, 1e-7.
        format!("{value}")
    }
}

/// True for a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Observations counted into fixed buckets.
#[derive(Clone, Debug)]
pub struct Histogram {
    bounds: Vec<f64>,
    /// Per bucket, not cumulative; the last is the `+Inf` bucket.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// `bounds` must be sorted ascending and finite (see `parse_buckets`).
    pub fn new(bounds: Vec<f64>) -> Histogram {
        let counts = vec![0; bounds.len() + 1];
        Histogram {
            bounds,
            counts,
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        self.counts[bucket] += 1;
        self.sum += value;
        self.count += 1;
    }
}

/// Parses `--buckets 0.001,0.005,0.01`: ascending, finite, at least one.
pub fn parse_buckets(text: &str) -> Result<Vec<f64>, String> {
    let mut bounds = Vec::new();
    for part in text.split(',') {
        let bound: f64 = part
            .trim()
            .parse()
            .ok()
            .filter(|b: &f64| b.is_finite())
            .ok_or_else(|| format!("'{part}' is not a number of seconds"))?;
        if bounds.last().is_some_and(|last| *last >= bound) {
            return Err(format!("'{text}' is not in ascending order"));
        }
        bounds.push(bound);
    }
    Ok(bounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// Reverses the exposition format's label-value escapes.
    fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match (c, c == '\\') {
                (_, true) => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                },
                (c, false) => out.push(c),
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Label values from targets (quotes, backslashes, newlines, bytes
        /// that were not UTF-8 and came through lossily) stay inside their
        /// quotes, on one line, and read back as they were.
        #[test]
        fn any_label_value_is_escaped(text in any::<String>(), bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            let lossy = String::from_utf8_lossy(&bytes).into_owned();
            for value in [text.as_str(), lossy.as_str(), "a\"b\\c\nd"] {
                let mut w = Writer::new();
                w.family("m", Kind::Gauge, "help");
                w.sample("m", &[("label", value)], 1.0);
                let out = w.finish();
                let lines: Vec<&str> = out.split('\n').filter(|l| !l.is_empty()).collect();
                prop_assert_eq!(lines.len(), 3, "{:?}", out);
                let line = lines[2];
                let inner = line.strip_prefix("m{label=\"").and_then(|l| l.strip_suffix("\"} 1"));
                prop_assert!(inner.is_some(), "{:?}", line);
                let inner = inner.unwrap();
                // No quote ends the value early: every quote inside is escaped.
                let unescaped_quote = inner.char_indices().any(|(i, c)| {
                    c == '"' && inner[..i].chars().rev().take_while(|&b| b == '\\').count() % 2 == 0
                });
                prop_assert!(!unescaped_quote, "{:?}", line);
                prop_assert_eq!(unescape(inner), value);
            }
        }
    }

    #[test]
    fn families_samples_and_escaping() {
        let mut w = Writer::new();
        w.family(
            "probe_success",
            Kind::Gauge,
            "Whether the probe\nsucceeded \\ or not",
        );
        w.sample("probe_success", &[("target", "a\"b\\c\nd")], 1.0);
        w.single("up_total", Kind::Counter, "Ups.", 12.0);
        assert_eq!(
            w.finish(),
            "# HELP probe_success Whether the probe\\nsucceeded \\\\ or not\n\
             # TYPE probe_success gauge\n\
             probe_success{target=\"a\\\"b\\\\c\\nd\"} 1\n\
             # HELP up_total Ups.\n# TYPE up_total counter\nup_total 12\n"
        );
    }

    #[test]
    fn special_values() {
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(0.0005), "0.0005");
        assert_eq!(format_value(1e-7), "0.0000001");
        assert_eq!(format_value(-3.0), "-3");
    }

    #[test]
    fn histograms_are_cumulative_and_inf_equals_count() {
        let mut h = Histogram::new(vec![0.001, 0.01, 0.1]);
        for v in [0.0005, 0.001, 0.005, 0.05, 0.5, 7.0] {
            h.observe(v);
        }
        let mut w = Writer::new();
        w.histogram("lat_seconds", &[("target", "x")], &h);
        let text = w.finish();
        assert!(
            text.contains("lat_seconds_bucket{target=\"x\",le=\"0.001\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("lat_seconds_bucket{target=\"x\",le=\"0.01\"} 3\n"));
        assert!(text.contains("lat_seconds_bucket{target=\"x\",le=\"0.1\"} 4\n"));
        assert!(text.contains("lat_seconds_bucket{target=\"x\",le=\"+Inf\"} 6\n"));
        assert!(text.contains("lat_seconds_count{target=\"x\"} 6\n"));
        assert!(text.contains("lat_seconds_sum{target=\"x\"} 7.5565\n"));
    }

    #[test]
    fn names_and_buckets() {
        assert!(is_metric_name("app_queue_depth"));
        assert!(is_metric_name(":a1"));
        assert!(!is_metric_name("1abc"));
        assert!(!is_metric_name("a-b"));
        assert!(!is_metric_name(""));
        assert_eq!(parse_buckets("0.001, 0.01,1"), Ok(vec![0.001, 0.01, 1.0]));
        assert!(parse_buckets("0.1,0.01").is_err());
        assert!(parse_buckets("a").is_err());
        assert!(parse_buckets("inf").is_err());
    }
}
