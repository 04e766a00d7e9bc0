//! The Prometheus text exposition format 0.0.4, written by every exporter of
//! the workspace: each family with HELP and TYPE, label values and HELP
//! escaped, `+Inf`/`-Inf`/`NaN` spelled as Prometheus parses them, and
//! histograms with cumulative buckets whose `le="+Inf"` equals `_count`.

use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    /// As `# TYPE` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A metric family, declared once: its name, type, HELP, and the labels
/// each of its samples carries, in order. The writer takes `# HELP` and
/// `# TYPE` from it; each binary's list of them (`FAMILIES`) is what its
/// docs table and every scrape in the e2e tests are held to.
#[derive(Debug)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub labels: &'static [&'static str],
}

impl Family {
    pub const fn new(
        name: &'static str,
        kind: Kind,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Family {
        Family {
            name,
            kind,
            help,
            labels,
        }
    }
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

    // The declared-family methods are always inlined: their fields then
    // fold into the call, and no Family is kept in the executable (they
    // hold pointers: data.rel.ro, 6 KB of the multicall binary otherwise).

    /// Starts a declared family: its HELP and TYPE lines. Write all its
    /// samples next.
    #[inline(always)]
    pub fn family(&mut self, family: &Family) {
        self.family_named(family.name, family.kind, family.help);
    }

    /// Starts a family whose name the user chose (`--json-gauge`), so that
    /// no declaration can hold it.
    pub fn family_named(&mut self, name: &str, kind: Kind, help: &str) {
        let help = escape_help(help);
        let kind = kind.as_str();
        let _ = write!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    /// A sample of a declared family, with its declared labels in order.
    #[inline(always)]
    pub fn sample(&mut self, family: &Family, labels: Labels, value: f64) {
        debug_assert_labels(family, labels);
        self.sample_named(family.name, labels, value);
    }

    /// A sample of a family started with `family_named`.
    pub fn sample_named(&mut self, name: &str, labels: Labels, value: f64) {
        self.out.push_str(name);
        push_labels(&mut self.out, labels, None);
        self.out.push(' ');
        push_value(&mut self.out, value);
        self.out.push('\n');
    }

    /// A family with a single unlabelled sample.
    #[inline(always)]
    pub fn single(&mut self, family: &Family, value: f64) {
        self.family(family);
        self.sample(family, &[], value);
    }

    /// The `_bucket`, `_sum` and `_count` samples of one histogram.
    #[inline(always)]
    pub fn histogram(&mut self, family: &Family, labels: Labels, histogram: &Histogram) {
        debug_assert_labels(family, labels);
        self.histogram_named(family.name, labels, histogram);
    }

    fn histogram_named(&mut self, name: &str, labels: Labels, histogram: &Histogram) {
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
        self.sample_named(&format!("{name}_sum"), labels, histogram.sum);
        self.sample_named(&format!("{name}_count"), labels, histogram.count as f64);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// HELP as the text format writes it: backslash and newline escaped. A
/// declared HELP has neither, so a scrape allocates nothing for it.
fn escape_help(help: &str) -> std::borrow::Cow<'_, str> {
    match help.contains(['\\', '\n']) {
        true => help.replace('\\', "\\\\").replace('\n', "\\n").into(),
        false => help.into(),
    }
}

/// In test builds: a sample's labels are its family's, in order.
fn debug_assert_labels(family: &Family, labels: Labels) {
    debug_assert!(
        labels
            .iter()
            .map(|(name, _)| *name)
            .eq(family.labels.iter().copied()),
        "{} declares labels {:?}, and a sample has {:?}",
        family.name,
        family.labels,
        labels
    );
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

/// The test each binary runs on its families: the metric tables of its docs
/// page (`| metric | type | meaning |`, a row `` `name{label,...}` ``) name
/// exactly the declared families, with their types and labels. `process_*`
/// are named in the page, or the page says they are as in latency-exporter.
/// Panics with what differs.
pub fn check_docs(lists: &[&[&Family]], page: &str) {
    use std::collections::BTreeMap;
    // process_metrics' own, by their prefix (prom does not depend on it).
    let process: Vec<&str> = lists
        .iter()
        .flat_map(|list| list.iter())
        .map(|f| f.name)
        .filter(|name| name.starts_with("process_"))
        .collect();
    let declared: BTreeMap<&str, (&str, Vec<&str>)> = lists
        .iter()
        .flat_map(|list| list.iter())
        .filter(|family| !process.contains(&family.name))
        .map(|family| {
            let mut labels = family.labels.to_vec();
            labels.sort_unstable();
            (family.name, (family.kind.as_str(), labels))
        })
        .collect();
    let mut documented = BTreeMap::new();
    let mut in_table = false;
    for line in page.lines() {
        if line.starts_with("| metric | type |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let Some(metric) = cells[0].strip_prefix("| `").filter(|_| in_table) else {
            continue;
        };
        let metric = metric.split('`').next().unwrap_or_default();
        let (name, labels) = match metric.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (metric, ""),
        };
        let mut labels: Vec<&str> = labels
            .split(',')
            .filter_map(|label| label.split('=').next())
            .filter(|label| !label.is_empty())
            .collect();
        labels.sort_unstable();
        let row = (cells.get(1).copied().unwrap_or_default(), labels);
        assert!(
            documented.insert(name, row).is_none(),
            "the docs' metric table has {name} twice"
        );
    }
    let differ: Vec<String> = declared
        .keys()
        .chain(documented.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|name| declared.get(*name) != documented.get(*name))
        .map(|name| {
            format!(
                "{name}: declared {:?}, documented {:?}",
                declared.get(name),
                documented.get(name)
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "the docs' metric table and the declared families differ:\n{}",
        differ.join("\n")
    );
    let as_in_latency_exporter = page.contains("`process_*` as in latency-exporter");
    for name in process {
        assert!(
            as_in_latency_exporter || page.contains(&format!("`{name}`")),
            "the docs page does not name {name}"
        );
    }
}

/// What the e2e tests hold each scrape to: every family in `text` is
/// declared in `lists` (or `user_named`, a `--json-gauge`), with its type
/// and HELP, and every sample has exactly its family's labels. Err says
/// the first that is not.
pub fn check_scrape(
    lists: &[&[&Family]],
    text: &str,
    user_named: &dyn Fn(&str) -> bool,
) -> Result<(), String> {
    let find = |name: &str| {
        lists
            .iter()
            .flat_map(|list| list.iter())
            .find(|family| family.name == name)
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            match find(name) {
                Some(family) if family.kind.as_str() == kind => {}
                Some(family) => {
                    return Err(format!("{name} is a {kind}, declared a {:?}", family.kind))
                }
                None if user_named(name) => {}
                None => return Err(format!("{name} is not declared")),
            }
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some(family) = find(name) {
                let want = escape_help(family.help);
                if help != want {
                    return Err(format!("{name}'s HELP is {help:?}, declared {want:?}"));
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let (name, labels) = sample_labels(line).ok_or(format!("unreadable: {line}"))?;
            let (family_name, labels) = match find(name) {
                Some(_) => (name, labels),
                None => {
                    let base = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|suffix| name.strip_suffix(suffix))
                        .filter(|base| find(base).is_some_and(|f| f.kind == Kind::Histogram));
                    let without_le = labels.into_iter().filter(|l| *l != "le").collect();
                    match base {
                        Some(base) => (base, without_le),
                        None if user_named(name) => continue,
                        None => return Err(format!("{name} is not declared")),
                    }
                }
            };
            let family = find(family_name).expect("found above");
            if labels != family.labels {
                return Err(format!(
                    "{line}: labels {labels:?}, declared {:?}",
                    family.labels
                ));
            }
        }
    }
    Ok(())
}

/// The declared families `text` has no `# TYPE` line for: what a unit test
/// that sets up every state asks to be empty.
pub fn unwritten<'a>(lists: &[&[&'a Family]], text: &str) -> Vec<&'a str> {
    lists
        .iter()
        .flat_map(|list| list.iter())
        .map(|family| family.name)
        .filter(|name| {
            !text.lines().any(|line| {
                line.strip_prefix("# TYPE ")
                    .and_then(|r| r.split(' ').next())
                    == Some(name)
            })
        })
        .collect()
}

/// A sample line's name and label names, in order.
fn sample_labels(line: &str) -> Option<(&str, Vec<&str>)> {
    let end = line.find(['{', ' '])?;
    let name = &line[..end];
    let mut labels = Vec::new();
    if line.as_bytes()[end] == b'{' {
        let mut rest = &line[end + 1..];
        while !rest.starts_with('}') {
            let (label, after) = rest.split_once("=\"")?;
            labels.push(label);
            // The value ends at the first quote not escaped.
            let mut escaped = false;
            let close = after.char_indices().find(|&(_, c)| {
                let ends = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                ends
            })?;
            rest = &after[close.0 + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    Some((name, labels))
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
                w.family_named("m", Kind::Gauge, "help");
                w.sample_named("m", &[("label", value)], 1.0);
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
        const SUCCESS: Family = Family::new(
            "probe_success",
            Kind::Gauge,
            "Whether the probe\nsucceeded \\ or not",
            &["target"],
        );
        const UPS: Family = Family::new("up_total", Kind::Counter, "Ups.", &[]);
        let mut w = Writer::new();
        w.family(&SUCCESS);
        w.sample(&SUCCESS, &[("target", "a\"b\\c\nd")], 1.0);
        w.single(&UPS, 12.0);
        assert_eq!(
            w.finish(),
            "# HELP probe_success Whether the probe\\nsucceeded \\\\ or not\n\
             # TYPE probe_success gauge\n\
             probe_success{target=\"a\\\"b\\\\c\\nd\"} 1\n\
             # HELP up_total Ups.\n# TYPE up_total counter\nup_total 12\n"
        );
    }

    #[test]
    fn scrapes_are_held_to_the_declarations() {
        const SUCCESS: Family = Family::new("probe_success", Kind::Gauge, "Success.", &["target"]);
        const LATENCY: Family =
            Family::new("lat_seconds", Kind::Histogram, "Latency.", &["target"]);
        let lists: &[&[&Family]] = &[&[&SUCCESS, &LATENCY]];
        let mut w = Writer::new();
        w.family(&SUCCESS);
        w.sample(&SUCCESS, &[("target", "a\",b\\")], 1.0);
        w.family(&LATENCY);
        w.histogram(&LATENCY, &[("target", "x")], &Histogram::new(vec![0.1]));
        w.family_named("app_depth", Kind::Gauge, "Depth.");
        w.sample_named("app_depth", &[("target", "x")], 3.0);
        let text = w.finish();
        let gauge = |name: &str| name == "app_depth";
        assert_eq!(check_scrape(lists, &text, &gauge), Ok(()));
        assert_eq!(
            check_scrape(lists, &text, &|_| false),
            Err("app_depth is not declared".into())
        );
        let unlabelled = text.replace("probe_success{target=\"a\\\",b\\\\\"}", "probe_success");
        assert!(check_scrape(lists, &unlabelled, &gauge)
            .unwrap_err()
            .contains("labels []"));
        let other_help = text.replace("Success.", "Other.");
        assert!(check_scrape(lists, &other_help, &gauge)
            .unwrap_err()
            .contains("HELP"));
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
        const LATENCY: Family =
            Family::new("lat_seconds", Kind::Histogram, "Latency.", &["target"]);
        let mut w = Writer::new();
        w.histogram(&LATENCY, &[("target", "x")], &h);
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
