//! When a cron expression next matches, in a time zone, as Vixie cron and
//! cronie treat daylight saving:
//!
//! - A job whose minute and hour are fixed (`30 2 * * *`) runs once per
//!   day: a time skipped by a jump forward runs at the jump; a time that
//!   happens twice runs the first time only.
//! - A job with a wildcard, range or step in its minute or hour runs at
//!   every real instant whose local time matches: none in a skipped hour,
//!   both passes through a repeated one.

use super::expr::{Bits, Expr};
use super::zone::Zone;
use common::civil::{date_of, weekday, DAY};

/// How far ahead to look: long enough for February 29th across 2100.
const HORIZON_DAYS: i64 = 9 * 366;

/// The first instant (UTC seconds) after `after` at which `expr` is due.
pub fn next_after(expr: &Expr, zone: &Zone, after: i64) -> Option<i64> {
    if expr.fixed_time {
        next_fixed(expr, zone, after)
    } else {
        next_every_instant(expr, zone, after)
    }
}

/// Walks the stretches of constant offset: within one, local and UTC time
/// move together, so the first local match is the first instant.
fn next_every_instant(expr: &Expr, zone: &Zone, after: i64) -> Option<i64> {
    let mut from = after + 1;
    let limit = after + HORIZON_DAYS * DAY;
    while from < limit {
        let offset = i64::from(zone.offset_at(from));
        let change = zone.next_change(from).map(|(at, _)| at);
        let end = change.unwrap_or(limit).min(limit);
        if let Some(local) = next_local(expr, from + offset, end + offset) {
            return Some(local - offset);
        }
        from = end;
    }
    None
}

/// Walks local times in order; each maps to its first instant, or to the
/// jump that skipped it.
fn next_fixed(expr: &Expr, zone: &Zone, after: i64) -> Option<i64> {
    let mut local = after + i64::from(zone.offset_at(after)) + 1;
    let limit = local + HORIZON_DAYS * DAY;
    while let Some(candidate) = next_local(expr, local, limit) {
        let instant = first_instant(zone, candidate);
        if instant > after {
            return Some(instant);
        }
        local = candidate + 1;
    }
    None
}

/// The first instant whose local time is `local`; for a local time that a
/// jump forward skipped, the instant of the jump.
fn first_instant(zone: &Zone, local: i64) -> i64 {
    // Offsets are within a day of UTC: start from the earliest instant that
    // could show `local`, and follow the changes from there.
    let mut at = local - DAY;
    loop {
        let offset = i64::from(zone.offset_at(at));
        let change = zone.next_change(at);
        let candidate = local - offset;
        match change {
            Some((change_at, _)) if candidate >= change_at => {
                // Not in this stretch; but if the next stretch already
                // starts past `local`, the jump skipped it.
                let next_offset = i64::from(zone.offset_at(change_at));
                if change_at + next_offset > local {
                    return change_at;
                }
                at = change_at;
            }
            _ if candidate >= at => return candidate,
            _ => return at, // cannot happen for offsets within a day
        }
    }
}

/// The first local time (seconds since the epoch, as if UTC) in
/// [from, before) that matches.
fn next_local(expr: &Expr, from: i64, before: i64) -> Option<i64> {
    let first_day = from.div_euclid(DAY);
    let last_day = (before - 1).div_euclid(DAY);
    for day in first_day..=last_day {
        let (_, month, date) = date_of(day);
        if !expr.day_matches(date, month, weekday(day)) {
            continue;
        }
        let earliest = if day == first_day {
            from.rem_euclid(DAY)
        } else {
            0
        };
        if let Some(tod) = time_of_day(expr, earliest) {
            let local = day * DAY + tod;
            return (local < before).then_some(local);
        }
    }
    None
}

/// The first matching second of the day at or after `earliest`.
fn time_of_day(expr: &Expr, earliest: i64) -> Option<i64> {
    let (h0, m0, s0) = (earliest / 3600, earliest / 60 % 60, earliest % 60);
    for h in set_from(expr.hours, h0) {
        let m_start = if h == h0 { m0 } else { 0 };
        for m in set_from(expr.minutes, m_start) {
            let s_start = if h == h0 && m == m0 { s0 } else { 0 };
            if let Some(s) = set_from(expr.seconds, s_start).next() {
                return Some(h * 3600 + m * 60 + s);
            }
        }
    }
    None
}

/// The values of `bits` from `start` upwards.
fn set_from(bits: Bits, start: i64) -> impl Iterator<Item = i64> {
    (start..64).filter(move |&v| bits & (1 << v) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::civil::format_utc;

    fn utc(text: &str) -> i64 {
        common::civil::parse_utc(text).expect("YYYY-MM-DD HH:MM:SS")
    }

    /// The next `count` times of `expr` after `from`, as UTC text.
    fn times(expr: &str, zone: &Zone, from: &str, count: usize) -> Vec<String> {
        let expr = Expr::parse(expr).unwrap();
        let mut at = utc(from);
        (0..count)
            .map(|_| {
                at = next_after(&expr, zone, at).expect("a next time");
                format_utc(at)
            })
            .collect()
    }

    #[test]
    fn utc_table_of_month_ends_leap_years_and_day_rules() {
        let z = Zone::utc();
        for (expr, from, want) in [
            (
                "0 0 31 * *",
                "2026-01-31 00:00:00",
                vec!["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"],
            ),
            (
                "0 12 29 2 *",
                "2025-01-01 00:00:00",
                vec!["2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"],
            ),
            (
                "0 0 29 2 *",
                "2096-03-01 00:00:00",
                vec!["2104-02-29T00:00:00Z"],
            ),
            (
                "0 0 L * *".replace(" L", " 28-31/3").as_str(),
                "2026-02-01 00:00:00",
                vec![
                    "2026-02-28T00:00:00Z",
                    "2026-03-28T00:00:00Z",
                    "2026-03-31T00:00:00Z",
                ],
            ),
            // The 13th or a Friday (Vixie's either-day rule).
            (
                "0 9 13 * FRI",
                "2026-02-10 00:00:00",
                vec![
                    "2026-02-13T09:00:00Z",
                    "2026-02-20T09:00:00Z",
                    "2026-02-27T09:00:00Z",
                    "2026-03-06T09:00:00Z",
                    "2026-03-13T09:00:00Z",
                ],
            ),
            (
                "*/20 * * * * *",
                "2026-12-31 23:59:30",
                vec![
                    "2026-12-31T23:59:40Z",
                    "2027-01-01T00:00:00Z",
                    "2027-01-01T00:00:20Z",
                ],
            ),
            (
                "@weekly",
                "2026-11-25 12:00:00",
                vec!["2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"],
            ),
            (
                "@yearly",
                "2026-11-25 12:00:00",
                vec!["2027-01-01T00:00:00Z"],
            ),
            (
                "30 23 * * 7",
                "2026-11-29 23:30:00",
                vec!["2026-12-06T23:30:00Z"],
            ),
        ] {
            assert_eq!(
                times(expr, &z, from, want.len()),
                want,
                "{expr} after {from}"
            );
        }
    }

    /// Whether `expr` matches the instant `t` seen in `zone`, second by second.
    fn matches_at(expr: &Expr, zone: &Zone, t: i64) -> bool {
        let local = t + i64::from(zone.offset_at(t));
        let (day, tod) = (local.div_euclid(DAY), local.rem_euclid(DAY));
        let (_, month, date) = date_of(day);
        expr.day_matches(date, month, weekday(day))
            && expr.hours & (1 << (tod / 3600)) != 0
            && expr.minutes & (1 << (tod / 60 % 60)) != 0
            && expr.seconds & (1 << (tod % 60)) != 0
    }

    fn any_expr() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        (
            prop::sample::select(vec!["0", "*/15", "7,8,9", "*"]),
            prop::sample::select(vec!["*", "*/7", "0-10/3", "1,30"]),
            prop::sample::select(vec!["*", "*/5", "2", "0-3"]),
            prop::sample::select(vec!["*", "1", "15-20", "*/10", "31"]),
            prop::sample::select(vec!["*", "2", "3-5", "NOV"]),
            prop::sample::select(vec!["*", "MON", "0,6"]),
        )
            .prop_map(|(s, m, h, dom, mon, dow)| format!("{s} {m} {h} {dom} {mon} {dow}"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(40))]

        /// Against a second-by-second scan: the time found matches, and no
        /// instant between the start and it does (UTC, and Berlin across
        /// its changes, for schedules that run at every matching instant).
        #[test]
        fn the_next_time_is_the_first_matching_instant(
            text in any_expr(),
            start in 1_774_000_000i64..1_793_000_000,
            in_berlin in proptest::prelude::any::<bool>(),
        ) {
            let zone = match in_berlin {
                true => match super::super::zone::tests_support::system_zone("Europe/Berlin") {
                    Some(zone) => zone,
                    None => return Ok(()),
                },
                false => Zone::utc(),
            };
            // (`31` in February or November never occurs: refused at parse.)
            let Ok(expr) = Expr::parse(&text) else { return Ok(()) };
            proptest::prop_assume!(!expr.fixed_time || !in_berlin);
            let found = next_after(&expr, &zone, start).unwrap();
            proptest::prop_assert!(found > start);
            proptest::prop_assert!(matches_at(&expr, &zone, found), "{text}: {}", format_utc(found));
            // Scan at most 25 days; a later answer must have none before it.
            let scan_end = found.min(start + 25 * DAY);
            let mut t = start + 1;
            while t < scan_end {
                proptest::prop_assert!(!matches_at(&expr, &zone, t), "{text}: {} matches before {}", format_utc(t), format_utc(found));
                t += 1;
            }
        }
    }

    #[test]
    fn daylight_saving_in_berlin_and_new_york() {
        let (Some(berlin), Some(new_york)) = (
            super::super::zone::tests_support::system_zone("Europe/Berlin"),
            super::super::zone::tests_support::system_zone("America/New_York"),
        ) else {
            return;
        };
        for (zone, expr, from, want) in [
            // Berlin springs forward at 02:00 local (01:00 UTC) on 2026-03-29:
            // 02:30 does not exist; a fixed job runs at the jump, once.
            (
                &berlin,
                "30 2 * * *",
                "2026-03-28 00:00:00",
                vec![
                    "2026-03-28T01:30:00Z",
                    "2026-03-29T01:00:00Z",
                    "2026-03-30T00:30:00Z",
                ],
            ),
            // ... a job on every minute of hour 2 has no instant that day.
            (
                &berlin,
                "*/30 2 * * *",
                "2026-03-28 12:00:00",
                vec!["2026-03-30T00:00:00Z", "2026-03-30T00:30:00Z"],
            ),
            // It falls back at 03:00 local (01:00 UTC) on 2026-10-25: 02:30
            // happens twice; a fixed job runs the first time only ...
            (
                &berlin,
                "30 2 * * *",
                "2026-10-24 12:00:00",
                vec!["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
            ),
            // ... a stepped one at both.
            (
                &berlin,
                "30 */1 * * *",
                "2026-10-25 00:00:00",
                vec![
                    "2026-10-25T00:30:00Z",
                    "2026-10-25T01:30:00Z",
                    "2026-10-25T02:30:00Z",
                ],
            ),
            // Starting inside the second pass: the fixed job waits a day.
            (
                &berlin,
                "45 2 * * *",
                "2026-10-25 01:10:00",
                vec!["2026-10-26T01:45:00Z"],
            ),
            // New York: 2026-03-08 02:00 EST jumps to 03:00 EDT (07:00 UTC).
            (
                &new_york,
                "0 2 * * *",
                "2026-03-07 12:00:00",
                vec!["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"],
            ),
            (
                &new_york,
                "15 1 * * *",
                "2026-10-31 12:00:00",
                vec!["2026-11-01T05:15:00Z", "2026-11-02T06:15:00Z"],
            ),
            (
                &new_york,
                "15 * * * *",
                "2026-11-01 04:00:00",
                vec![
                    "2026-11-01T04:15:00Z",
                    "2026-11-01T05:15:00Z",
                    "2026-11-01T06:15:00Z",
                    "2026-11-01T07:15:00Z",
                ],
            ),
        ] {
            assert_eq!(
                times(expr, zone, from, want.len()),
                want,
                "{expr} after {from}"
            );
        }
    }
}
