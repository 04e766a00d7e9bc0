//! Calendar arithmetic on the proleptic Gregorian calendar (Howard
//! Hinnant's algorithms), without a time zone database (a scratch image has
//! none): days since 1970-01-01 to a date and back, for log timestamps and
//! for every's cron schedules.

pub const DAY: i64 = 86_400;

/// (year, month 1-12, day 1-31) of `days` since 1970-01-01.
pub fn date_of(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a date.
pub fn days_of(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// 0 = Sunday .. 6 = Saturday.
pub fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Seconds since the epoch of `2026-03-29 01:00:00` (UTC), for tables of
/// times in tests; None when the text is not that form.
pub fn parse_utc(text: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (month, day) = (n(5..7)? as u32, n(8..10)? as u32);
    Some(days_of(n(0..4)?, month, day) * DAY + n(11..13)? * 3600 + n(14..16)? * 60 + n(17..19)?)
}

/// `2026-03-29T01:00:00Z`-style text of seconds since the epoch.
pub fn format_utc(seconds: i64) -> String {
    let (year, month, day) = date_of(seconds.div_euclid(DAY));
    let tod = seconds.rem_euclid(DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_across_four_centuries() {
        for days in (-200_000..200_000).step_by(7) {
            let (y, m, d) = date_of(days);
            assert_eq!(days_of(y, m, d), days);
            assert!(d >= 1 && d <= days_in_month(y, m));
        }
        assert_eq!(date_of(0), (1970, 1, 1));
        assert_eq!(weekday(0), 4); // a Thursday
        assert_eq!(date_of(days_of(2024, 2, 29) + 1), (2024, 3, 1));
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(format_utc(1_774_746_000), "2026-03-29T01:00:00Z");
        assert_eq!(parse_utc("2026-03-29 01:00:00"), Some(1_774_746_000));
    }
}
