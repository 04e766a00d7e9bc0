//! A time zone read from a TZif file (RFC 8536, what /usr/share/zoneinfo
//! holds): its transitions, and past the last one the POSIX TZ rule of its
//! footer (`CET-1CEST,M3.5.0,M10.5.0/3`). No zone database is linked in:
//! the scratch image has none, and a Pod mounts the one it wants.

use common::civil::{days_in_month, days_of, weekday, DAY};

/// Why `--tz` gives no zone: the one line every says at start.
#[derive(Debug, Clone, PartialEq)]
pub enum ZoneError {
    NotAName(String),
    Unreadable {
        path: String,
        why: common::file::FileError,
    },
    NotTzif {
        path: String,
        why: TzifError,
    },
}

impl std::fmt::Display for ZoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZoneError::NotAName(name) => {
                write!(f, "{name:?} is not a zone name such as Europe/Berlin")
            }
            ZoneError::Unreadable { path, why } => write!(
                f,
                "cannot read {path}: {why} (mount the zone file into the container, e.g. from the node's /usr/share/zoneinfo)"
            ),
            ZoneError::NotTzif { path, why } => write!(f, "{path} is not a TZif zone file: {why}"),
        }
    }
}

impl std::error::Error for ZoneError {}

/// Why the bytes of a zone file are not a TZif zone (RFC 8536).
#[derive(Debug, Clone, PartialEq)]
pub enum TzifError {
    ShortHeader,
    NoMagic,
    Truncated,
    BadTypeIndex,
    NoTypes,
    FooterNotText,
    Footer { text: String, why: RuleError },
}

impl std::fmt::Display for TzifError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TzifError::ShortHeader => f.write_str("shorter than its header"),
            TzifError::NoMagic => f.write_str("no TZif magic"),
            TzifError::Truncated => f.write_str("truncated"),
            TzifError::BadTypeIndex => f.write_str("bad type index"),
            TzifError::NoTypes => f.write_str("no local time types"),
            TzifError::FooterNotText => f.write_str("footer is not text"),
            TzifError::Footer { text, why } => write!(f, "footer {text:?}: {why}"),
        }
    }
}

/// Why a footer's POSIX TZ rule is not one.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleError {
    NoStartEnd,
    UnclosedAngle,
    ShortAbbreviation,
    BadTime(String),
    BadDateRule(String),
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleError::NoStartEnd => f.write_str("want start,end"),
            RuleError::UnclosedAngle => f.write_str("unclosed <"),
            RuleError::ShortAbbreviation => {
                f.write_str("a zone abbreviation is shorter than 3 letters")
            }
            RuleError::BadTime(text) => write!(f, "bad time {text:?}"),
            RuleError::BadDateRule(text) => write!(f, "bad date rule {text:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Transition instants (UTC seconds), ascending, with the UTC offset
    /// (seconds east) in effect from each.
    transitions: Vec<(i64, i32)>,
    /// The offset before the first transition.
    initial: i32,
    /// Past the last transition.
    rule: Option<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    std_offset: i32,
    dst: Option<Dst>,
}

#[derive(Debug, Clone, PartialEq)]
struct Dst {
    offset: i32,
    start: (DateRule, i32),
    end: (DateRule, i32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum DateRule {
    /// Jn: day n of 1-365, February 29th never counted.
    Julian(u32),
    /// n: day n of 0-365, February 29th counted.
    Zero(u32),
    /// Mm.w.d: weekday d of week w (5 = the last) of month m.
    Month(u32, u32, u32),
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            transitions: Vec::new(),
            initial: 0,
            rule: None,
        }
    }

    /// Reads `--tz`: a path, or a name under /usr/share/zoneinfo.
    pub fn load(name: &str) -> Result<Zone, ZoneError> {
        let path = if name.starts_with('/') {
            name.to_string()
        } else if name.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(ZoneError::NotAName(name.to_string()));
        } else {
            format!("/usr/share/zoneinfo/{name}")
        };
        // The largest zone of tzdata is under 20 KiB; a FIFO, a device or a
        // huge file named by mistake is one line, not a hang or an OOM.
        const MAX_ZONE_FILE: u64 = 64 * 1024;
        let bytes = common::file::read_regular(std::path::Path::new(&path), MAX_ZONE_FILE)
            .map_err(|why| ZoneError::Unreadable {
                path: path.clone(),
                why,
            })?;
        Zone::parse(&bytes).map_err(|why| ZoneError::NotTzif { path, why })
    }

    pub fn parse(bytes: &[u8]) -> Result<Zone, TzifError> {
        let header = Header::read(bytes, 0)?;
        // Version 2 and later repeat the data with 64-bit times after the
        // 32-bit block, then a footer with the POSIX rule.
        let (header, start, time_size) = if header.version >= b'2' {
            let second = header.block_len(4);
            (Header::read(bytes, second)?, second + 44, 8)
        } else {
            (header, 44, 4)
        };
        let mut at = start;
        let take = |at: &mut usize, n: usize| -> Result<&[u8], TzifError> {
            let slice = bytes.get(*at..*at + n).ok_or(TzifError::Truncated)?;
            *at += n;
            Ok(slice)
        };
        let times = take(&mut at, header.timecnt * time_size)?;
        let indices = take(&mut at, header.timecnt)?;
        let types = take(&mut at, header.typecnt * 6)?;
        let offset_of = |index: usize| -> Result<i32, TzifError> {
            let t = types
                .get(index * 6..index * 6 + 4)
                .ok_or(TzifError::BadTypeIndex)?;
            Ok(i32::from_be_bytes(t.try_into().unwrap()))
        };
        let mut transitions = Vec::with_capacity(header.timecnt);
        for i in 0..header.timecnt {
            let raw = &times[i * time_size..(i + 1) * time_size];
            let instant = if time_size == 8 {
                i64::from_be_bytes(raw.try_into().unwrap())
            } else {
                i64::from(i32::from_be_bytes(raw.try_into().unwrap()))
            };
            transitions.push((instant, offset_of(usize::from(indices[i]))?));
        }
        if header.typecnt == 0 {
            return Err(TzifError::NoTypes);
        }
        let rule = if header.version >= b'2' {
            let footer_start = start - 44 + header.block_len(8);
            let footer = bytes.get(footer_start..).unwrap_or_default();
            let text = footer
                .strip_prefix(b"\n")
                .and_then(|f| f.split(|&b| b == b'\n').next())
                .unwrap_or_default();
            let text = std::str::from_utf8(text).map_err(|_| TzifError::FooterNotText)?;
            if text.is_empty() {
                None
            } else {
                Some(Rule::parse(text).map_err(|why| TzifError::Footer {
                    text: text.to_string(),
                    why,
                })?)
            }
        } else {
            None
        };
        Ok(Zone {
            transitions,
            initial: offset_of(0)?,
            rule,
        })
    }

    /// The UTC offset (seconds east) at `instant`.
    pub fn offset_at(&self, instant: i64) -> i32 {
        let past_table = self.transitions.last().is_none_or(|&(t, _)| instant >= t);
        if let (true, Some(rule)) = (past_table, &self.rule) {
            return rule.offset_at(instant);
        }
        match self.transitions.partition_point(|&(t, _)| t <= instant) {
            0 => self.initial,
            n => self.transitions[n - 1].1,
        }
    }

    /// The first instant after `instant` at which the offset changes, and
    /// the new offset; None if it never does again (within ten years).
    pub fn next_change(&self, instant: i64) -> Option<(i64, i32)> {
        let now = self.offset_at(instant);
        let n = self.transitions.partition_point(|&(t, _)| t <= instant);
        if let Some(&(t, offset)) = self.transitions[n..].iter().find(|&&(_, o)| o != now) {
            return Some((t, offset));
        }
        let rule = self.rule.as_ref()?;
        let from = self
            .transitions
            .last()
            .map_or(instant, |&(t, _)| t.max(instant));
        rule.next_change(from, now)
    }
}

struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl Header {
    fn read(bytes: &[u8], at: usize) -> Result<Header, TzifError> {
        let h = bytes.get(at..at + 44).ok_or(TzifError::ShortHeader)?;
        if &h[..4] != b"TZif" {
            return Err(TzifError::NoMagic);
        }
        let count =
            |i: usize| u32::from_be_bytes(h[20 + i * 4..24 + i * 4].try_into().unwrap()) as usize;
        Ok(Header {
            version: h[4],
            isutcnt: count(0),
            isstdcnt: count(1),
            leapcnt: count(2),
            timecnt: count(3),
            typecnt: count(4),
            charcnt: count(5),
        })
    }

    /// The length of the header and data block, with times of `time_size` bytes.
    fn block_len(&self, time_size: usize) -> usize {
        44 + self.timecnt * time_size
            + self.timecnt
            + self.typecnt * 6
            + self.charcnt
            + self.leapcnt * (time_size + 4)
            + self.isstdcnt
            + self.isutcnt
    }
}

impl Rule {
    /// `STDoffset[DST[offset][,start[/time],end[/time]]]`
    fn parse(text: &str) -> Result<Rule, RuleError> {
        let mut rest = text;
        designation(&mut rest)?;
        let std_offset = -posix_offset(&mut rest)?;
        if rest.is_empty() {
            return Ok(Rule {
                std_offset,
                dst: None,
            });
        }
        designation(&mut rest)?;
        let offset = if rest.starts_with(',') || rest.is_empty() {
            std_offset + 3600
        } else {
            -posix_offset(&mut rest)?
        };
        // No rule given: the US rule, as POSIX leaves it to the system.
        let rules = rest.strip_prefix(',').unwrap_or(if rest.is_empty() {
            "M3.2.0,M11.1.0"
        } else {
            rest
        });
        let (start, end) = rules.split_once(',').ok_or(RuleError::NoStartEnd)?;
        Ok(Rule {
            std_offset,
            dst: Some(Dst {
                offset,
                start: date_rule(start)?,
                end: date_rule(end)?,
            }),
        })
    }

    fn offset_at(&self, instant: i64) -> i32 {
        let Some(dst) = &self.dst else {
            return self.std_offset;
        };
        // Instants come from a file: saturate at the ends of time.
        let local = instant.saturating_add(i64::from(self.std_offset));
        let year = common::civil::date_of(local.div_euclid(DAY)).0;
        // Look at the changes of the year before, this one and the next:
        // the latest one not after `instant` decides.
        let mut offset = self.std_offset;
        let mut latest = i64::MIN;
        for y in year - 1..=year + 1 {
            for (at, to) in self.changes(dst, y) {
                if at <= instant && at > latest {
                    latest = at;
                    offset = to;
                }
            }
        }
        offset
    }

    /// The year's two changes: (instant, offset from then).
    fn changes(&self, dst: &Dst, year: i64) -> [(i64, i32); 2] {
        // The start is given in standard time, the end in daylight time.
        let start = local_instant(year, dst.start).saturating_sub(i64::from(self.std_offset));
        let end = local_instant(year, dst.end).saturating_sub(i64::from(dst.offset));
        [(start, dst.offset), (end, self.std_offset)]
    }

    fn next_change(&self, instant: i64, now: i32) -> Option<(i64, i32)> {
        let dst = self.dst.as_ref()?;
        let year = common::civil::date_of(instant.div_euclid(DAY)).0;
        let mut all: Vec<(i64, i32)> = (year - 1..=year + 10)
            .flat_map(|y| self.changes(dst, y))
            .collect();
        all.sort();
        let mut current = now;
        for (at, to) in all {
            if at > instant && to != current {
                return Some((at, to));
            }
            if at <= instant {
                current = to;
            }
        }
        None
    }
}

/// Seconds since the epoch of the local time a date rule names in `year`.
fn local_instant(year: i64, (rule, time): (DateRule, i32)) -> i64 {
    let day = match rule {
        DateRule::Julian(n) => {
            let leap_shift = i64::from(n >= 60 && common::civil::is_leap(year));
            days_of(year, 1, 1) + i64::from(n) - 1 + leap_shift
        }
        DateRule::Zero(n) => days_of(year, 1, 1) + i64::from(n),
        DateRule::Month(month, week, wday) => {
            let first = days_of(year, month, 1);
            let shift = (wday + 7 - weekday(first)) % 7;
            let mut day = first + i64::from(shift) + 7 * (i64::from(week) - 1);
            let last = first + i64::from(days_in_month(year, month)) - 1;
            while day > last {
                day -= 7;
            }
            day
        }
    };
    day.saturating_mul(DAY).saturating_add(i64::from(time))
}

fn designation(rest: &mut &str) -> Result<(), RuleError> {
    let end = if let Some(quoted) = rest.strip_prefix('<') {
        quoted.find('>').ok_or(RuleError::UnclosedAngle)? + 2
    } else {
        rest.find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len())
    };
    if end < 3 {
        return Err(RuleError::ShortAbbreviation);
    }
    *rest = &rest[end..];
    Ok(())
}

/// `[+-]hh[:mm[:ss]]` as seconds (POSIX sign: positive is west).
fn posix_offset(rest: &mut &str) -> Result<i32, RuleError> {
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '+' || c == '-'))
        .unwrap_or(rest.len());
    let text = &rest[..end];
    *rest = &rest[end..];
    hms(text)
}

/// `[+-]hh[:mm[:ss]]`, hours at most 167 (RFC 8536 3.3.1), minutes and
/// seconds at most 59: so no sum of them can overflow.
fn hms(text: &str) -> Result<i32, RuleError> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => (-1, d),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let bad = || RuleError::BadTime(text.to_string());
    let mut seconds = 0;
    for (i, part) in digits.split(':').enumerate() {
        let (unit, max) = *[(3600, 167), (60, 59), (1, 59)].get(i).ok_or_else(bad)?;
        let n: i32 = part.parse().map_err(|_| bad())?;
        if !(0..=max).contains(&n) {
            return Err(bad());
        }
        seconds += n * unit;
    }
    Ok(sign * seconds)
}

fn date_rule(text: &str) -> Result<(DateRule, i32), RuleError> {
    let bad = || RuleError::BadDateRule(text.to_string());
    let (date, time) = match text.split_once('/') {
        Some((d, t)) => (d, hms(t)?),
        None => (text, 7200),
    };
    let number = |s: &str| s.parse::<u32>().map_err(|_| bad());
    // POSIX's ranges: Jn 1-365, n 0-365, Mm.w.d with m 1-12, w 1-5, d 0-6.
    let within = |n: u32, range: std::ops::RangeInclusive<u32>| {
        range.contains(&n).then_some(n).ok_or_else(bad)
    };
    let rule = if let Some(n) = date.strip_prefix('J') {
        DateRule::Julian(within(number(n)?, 1..=365)?)
    } else if let Some(m) = date.strip_prefix('M') {
        let parts: Vec<&str> = m.split('.').collect();
        let [month, week, day] = parts[..] else {
            return Err(bad());
        };
        DateRule::Month(
            within(number(month)?, 1..=12)?,
            within(number(week)?, 1..=5)?,
            within(number(day)?, 0..=6)?,
        )
    } else {
        DateRule::Zero(within(number(date)?, 0..=365)?)
    };
    Ok((rule, time))
}

#[cfg(test)]
pub mod tests_support {
    use super::Zone;

    /// A zone of Debian's tzdata, or None where it is not installed.
    pub fn system_zone(name: &str) -> Option<Zone> {
        let path = format!("/usr/share/zoneinfo/{name}");
        if !std::path::Path::new(&path).exists() {
            // Said in scripts/test's summary, as the end-to-end skips are.
            let reason = format!("every's zone tests: {path} missing (Debian package tzdata)\n");
            if let Ok(file) = std::env::var("SIDECARS_SKIPPED") {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(file)
                    .unwrap();
                let _ = f.write_all(reason.as_bytes());
            }
            eprint!("skipped: {reason}");
            return None;
        }
        Some(Zone::load(name).unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::system_zone;
    use super::*;

    fn utc(text: &str) -> i64 {
        common::civil::parse_utc(text).expect("YYYY-MM-DD HH:MM:SS")
    }

    #[test]
    fn posix_rules_give_the_offsets_and_changes() {
        let berlin = Rule::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        assert_eq!(berlin.offset_at(utc("2026-03-29 00:59:59")), 3600);
        assert_eq!(berlin.offset_at(utc("2026-03-29 01:00:00")), 7200);
        assert_eq!(berlin.offset_at(utc("2026-10-25 00:59:59")), 7200);
        assert_eq!(berlin.offset_at(utc("2026-10-25 01:00:00")), 3600);
        assert_eq!(
            berlin.next_change(utc("2026-01-01 00:00:00"), 3600),
            Some((utc("2026-03-29 01:00:00"), 7200))
        );
        // Southern hemisphere: daylight time across the new year.
        let sydney = Rule::parse("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap();
        assert_eq!(sydney.offset_at(utc("2026-01-15 00:00:00")), 39600);
        assert_eq!(sydney.offset_at(utc("2026-06-15 00:00:00")), 36000);
        let kolkata = Rule::parse("IST-5:30").unwrap();
        assert_eq!(kolkata.offset_at(0), 19800);
        assert_eq!(Rule::parse("<-03>3").unwrap().offset_at(0), -10800);
        assert!(Rule::parse("X1").is_err());
    }

    #[test]
    fn real_tzif_files_agree_with_their_rules() {
        let (Some(berlin), Some(new_york)) = (
            system_zone("Europe/Berlin"),
            system_zone("America/New_York"),
        ) else {
            return;
        };
        // 2026: Berlin springs forward on March 29th at 01:00 UTC and falls
        // back on October 25th at 01:00 UTC; New York on March 8th at 07:00
        // UTC and November 1st at 06:00 UTC.
        for (zone, instant, before, after) in [
            (&berlin, "2026-03-29 01:00:00", 3600, 7200),
            (&berlin, "2026-10-25 01:00:00", 7200, 3600),
            (&new_york, "2026-03-08 07:00:00", -18000, -14400),
            (&new_york, "2026-11-01 06:00:00", -14400, -18000),
            (&berlin, "1996-10-27 01:00:00", 7200, 3600),
        ] {
            let t = utc(instant);
            assert_eq!(
                (zone.offset_at(t - 1), zone.offset_at(t)),
                (before, after),
                "{instant}"
            );
        }
        assert_eq!(
            berlin.next_change(utc("2026-04-01 00:00:00")),
            Some((utc("2026-10-25 01:00:00"), 3600))
        );
        assert_eq!(Zone::load("Etc/UTC").unwrap().next_change(0), None);
    }

    /// Asks `zone` the two questions the scheduler asks, at instants from
    /// the far past to the far future: an answer, never a panic or a hang.
    fn ask(zone: &Zone, instants: &[i64]) {
        for &t in instants.iter().chain(&[i64::MIN, -1, 0, 1, i64::MAX]) {
            let _ = zone.offset_at(t);
            let _ = zone.next_change(t);
        }
    }

    /// Zone files as tzdata ships them, where it is installed.
    fn real_zone_files() -> Vec<Vec<u8>> {
        [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Sydney",
            "Asia/Kolkata",
            "Etc/UTC",
        ]
        .iter()
        .filter_map(|name| std::fs::read(format!("/usr/share/zoneinfo/{name}")).ok())
        .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1500))]

        #[test]
        fn arbitrary_bytes_are_a_zone_or_an_error(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            instants in proptest::collection::vec(proptest::prelude::any::<i64>(), 0..4),
        ) {
            // With the magic, so the parse gets past the header.
            for bytes in [bytes.clone(), [&b"TZif2"[..], &[0; 15], &bytes].concat()] {
                if let Ok(zone) = Zone::parse(&bytes) {
                    ask(&zone, &instants);
                }
            }
        }

        #[test]
        fn mutated_zone_files_are_a_zone_or_an_error(
            which in 0usize..5,
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>(), 0u8..4), 1..6),
            instants in proptest::collection::vec(proptest::prelude::any::<i64>(), 0..4),
        ) {
            let files = real_zone_files();
            let Some(file) = files.get(which % files.len().max(1)) else { return Ok(()) };
            let mut bytes = file.clone();
            for (at, byte, kind) in edits {
                let len = bytes.len().max(1);
                match kind {
                    0 if !bytes.is_empty() => bytes[at % len] ^= byte.max(1),
                    1 => bytes.insert(at % (bytes.len() + 1), byte),
                    2 if !bytes.is_empty() => drop(bytes.remove(at % len)),
                    _ => bytes.truncate(at % len),
                }
            }
            if let Ok(zone) = Zone::parse(&bytes) {
                ask(&zone, &instants);
            }
        }

        #[test]
        fn any_footer_rule_is_a_rule_or_an_error(
            text in "[A-Z<>+-]{0,6}[0-9:+-]{0,12}([A-Z<>]{0,5}[0-9:+-]{0,8})?(,[MJ]?[0-9.]{0,14}(/[0-9:+-]{0,10})?){0,3}",
            instants in proptest::collection::vec(proptest::prelude::any::<i64>(), 0..4),
        ) {
            if let Ok(rule) = Rule::parse(&text) {
                let zone = Zone { transitions: Vec::new(), initial: 0, rule: Some(rule) };
                ask(&zone, &instants);
            }
        }
    }

    #[test]
    fn a_missing_or_foreign_zone_is_named() {
        let err = Zone::load("Nowhere/City").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read /usr/share/zoneinfo/Nowhere/City"),
            "{err}"
        );
        assert!(matches!(err, ZoneError::Unreadable { .. }));
        assert_eq!(
            Zone::load("../etc/passwd").unwrap_err().to_string(),
            "\"../etc/passwd\" is not a zone name such as Europe/Berlin"
        );
        let mut not_a_zone =
            std::env::temp_dir().join(format!("every-zone-{}", std::process::id()));
        not_a_zone.set_extension("txt");
        std::fs::write(&not_a_zone, "not a zone\n").unwrap();
        let err = Zone::load(not_a_zone.to_str().unwrap()).unwrap_err();
        std::fs::remove_file(&not_a_zone).unwrap();
        assert!(
            matches!(
                err,
                ZoneError::NotTzif {
                    why: TzifError::ShortHeader,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err
            .to_string()
            .ends_with("is not a TZif zone file: shorter than its header"));
    }
}
