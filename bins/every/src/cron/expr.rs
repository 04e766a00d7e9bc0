//! A cron expression: 5 fields (minute hour day-of-month month day-of-week)
//! or 6 with a leading seconds field; numbers, names (`JAN`, `MON`), `*`,
//! ranges, lists and steps; `@hourly` and the other macros. Each field is a
//! bit set; errors name the field and the reason.

/// One field's allowed values as bits (bit n = value n).
pub type Bits = u64;

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub seconds: Bits,
    pub minutes: Bits,
    pub hours: Bits,
    pub days_of_month: Bits,
    pub months: Bits,
    /// 0 = Sunday .. 6 = Saturday (7 is folded into 0).
    pub days_of_week: Bits,
    /// Vixie cron's rule: when both day fields are restricted (neither
    /// starts with `*`), a day matches if either does.
    pub either_day: bool,
    /// Minute and hour are plain numbers or lists of them: a time of day.
    /// Such a job runs once per day across a daylight-saving change.
    pub fixed_time: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

/// Days in each month of a leap year: what a day-of-month can ever reach.
const LONGEST_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, String> {
        let text = text.trim();
        let expanded = match text.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(format!(
                    "unknown macro {text}: use @yearly, @monthly, @weekly, @daily or @hourly"
                ))
            }
            _ => text,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (second, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "{n} fields: want 5 (minute hour day-of-month month day-of-week) or 6 (a seconds field first)"
                ))
            }
        };
        let mut days_of_week = parse_field(rest[4], &DAY_OF_WEEK)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week | 1) & !(1 << 7);
        }
        let fixed = |f: &str| !f.contains(['*', '-', '/']);
        let expr = Expr {
            seconds: parse_field(second, &SECOND)?,
            minutes: parse_field(rest[0], &MINUTE)?,
            hours: parse_field(rest[1], &HOUR)?,
            days_of_month: parse_field(rest[2], &DAY_OF_MONTH)?,
            months: parse_field(rest[3], &MONTH)?,
            days_of_week,
            either_day: !rest[2].starts_with('*') && !rest[4].starts_with('*'),
            fixed_time: fixed(rest[0]) && fixed(rest[1]),
        };
        expr.check_reachable(rest[2], rest[3])?;
        Ok(expr)
    }

    /// Whether the day (its day of month, month 1-12 and weekday 0-6) matches.
    pub fn day_matches(&self, day: u32, month: u32, weekday: u32) -> bool {
        if self.months & (1 << month) == 0 {
            return false;
        }
        let by_date = self.days_of_month & (1 << day) != 0;
        let by_weekday = self.days_of_week & (1 << weekday) != 0;
        if self.either_day {
            by_date || by_weekday
        } else {
            by_date && by_weekday
        }
    }

    /// `0 0 30 2 *` would sleep forever: refuse a day-of-month that no
    /// chosen month has (when the weekday does not decide instead).
    fn check_reachable(&self, day_text: &str, month_text: &str) -> Result<(), String> {
        if self.either_day {
            return Ok(());
        }
        let reachable = (1..=12).any(|month| {
            self.months & (1 << month) != 0
                && (1..=LONGEST_MONTH[month as usize - 1])
                    .any(|d| self.days_of_month & (1 << d) != 0)
        });
        if reachable {
            Ok(())
        } else {
            Err(format!(
                "day-of-month {day_text} never occurs in month {month_text}: the job would never run"
            ))
        }
    }
}

fn parse_field(text: &str, field: &Field) -> Result<Bits, String> {
    let mut bits = 0;
    for part in text.split(',') {
        bits |= parse_part(part, field).map_err(|e| format!("{}: {e}", field.name))?;
    }
    Ok(bits)
}

/// One list element: `*`, `N`, `A-B`, each optionally `/STEP`; `N/STEP`
/// runs from N to the field's end.
fn parse_part(part: &str, field: &Field) -> Result<Bits, String> {
    if part.is_empty() {
        return Err("an empty list element".into());
    }
    let (range, step) = match part.split_once('/') {
        Some((range, step)) => {
            let step: u32 = step
                .parse()
                .map_err(|_| format!("step {step:?} is not a number"))?;
            if step == 0 || step > field.max {
                return Err(format!("step {step} is out of range 1-{}", field.max));
            }
            (range, step)
        }
        None => (part, 1),
    };
    let (low, high) = if range == "*" || range == "?" {
        (field.min, field.max)
    } else if let Some((a, b)) = range.split_once('-') {
        let (a, b) = (value(a, field)?, value(b, field)?);
        if a > b {
            return Err(format!("range {range} runs backwards"));
        }
        (a, b)
    } else {
        let a = value(range, field)?;
        (
            a,
            if step > 1 || part.contains('/') {
                field.max
            } else {
                a
            },
        )
    };
    let mut bits = 0;
    for v in (low..=high).step_by(step as usize) {
        bits |= 1 << v;
    }
    Ok(bits)
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    if let Some(index) = field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
    {
        return Ok(index as u32 + if field.min == 1 { 1 } else { 0 });
    }
    let n: u32 = text.parse().map_err(|_| {
        if field.names.is_empty() {
            format!("{text:?} is not a number")
        } else {
            format!(
                "{text:?} is not a number or a name ({}-{})",
                field.names[0],
                field.names[field.names.len() - 1]
            )
        }
    })?;
    if n < field.min || n > field.max {
        return Err(format!("{n} is out of range {}-{}", field.min, field.max));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(values: &[u32]) -> Bits {
        values.iter().fold(0, |b, v| b | 1 << v)
    }

    #[test]
    fn five_fields_run_at_second_zero_and_six_have_seconds_first() {
        let e = Expr::parse("*/15 9-17 * * MON-FRI").unwrap();
        assert_eq!(e.seconds, 1);
        assert_eq!(e.minutes, bits(&[0, 15, 30, 45]));
        assert_eq!(e.hours, bits(&(9..=17).collect::<Vec<_>>()));
        assert_eq!(e.days_of_week, bits(&[1, 2, 3, 4, 5]));
        assert!(!e.either_day && !e.fixed_time);
        let e = Expr::parse("*/2 * * * * *").unwrap();
        assert_eq!(e.seconds, bits(&(0..60).step_by(2).collect::<Vec<_>>()));
    }

    #[test]
    fn names_lists_steps_and_sunday_as_7() {
        let e = Expr::parse("0 0,12 1-31/10 jan,Jul sun,7,SAT").unwrap();
        assert_eq!(e.hours, bits(&[0, 12]));
        assert_eq!(e.days_of_month, bits(&[1, 11, 21, 31]));
        assert_eq!(e.months, bits(&[1, 7]));
        assert_eq!(e.days_of_week, bits(&[0, 6]));
        assert!(e.either_day && e.fixed_time);
        assert_eq!(
            Expr::parse("5/20 * * * *").unwrap().minutes,
            bits(&[5, 25, 45])
        );
    }

    #[test]
    fn macros_are_their_five_fields() {
        for (m, fields) in [
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@hourly", "0 * * * *"),
        ] {
            assert_eq!(Expr::parse(m), Expr::parse(fields), "{m}");
        }
    }

    #[test]
    fn each_error_names_the_field_and_the_reason() {
        for (text, error) in [
            ("* * * * 8", "day-of-week: 8 is out of range 0-7"),
            ("60 * * * *", "minute: 60 is out of range 0-59"),
            ("* 24 * * *", "hour: 24 is out of range 0-23"),
            ("* * 0 * *", "day-of-month: 0 is out of range 1-31"),
            ("* * * 13 *", "month: 13 is out of range 1-12"),
            (
                "* * * FOO *",
                "month: \"FOO\" is not a number or a name (JAN-DEC)",
            ),
            ("*/0 * * * *", "minute: step 0 is out of range 1-59"),
            ("5-1 * * * *", "minute: range 5-1 runs backwards"),
            ("1,,2 * * * *", "minute: an empty list element"),
            ("* * * *", "4 fields: want 5"),
            ("@reboot", "unknown macro @reboot"),
            ("0 0 30 2 *", "day-of-month 30 never occurs in month 2"),
            ("0 0 31 4,6,9,11 *", "day-of-month 31 never occurs"),
        ] {
            let got = Expr::parse(text).unwrap_err();
            assert!(got.starts_with(error), "{text}: {got}");
        }
        // February 29th exists (in leap years), and a weekday rescues the 30th.
        assert!(Expr::parse("0 0 29 2 *").is_ok());
        assert!(Expr::parse("0 0 30 2 MON").is_ok());
    }

    #[test]
    fn vixie_day_rule_either_when_both_are_restricted() {
        // The 13th, or any Friday.
        let e = Expr::parse("0 0 13 * FRI").unwrap();
        assert!(e.day_matches(13, 5, 2));
        assert!(e.day_matches(14, 5, 5));
        assert!(!e.day_matches(14, 5, 4));
        // A star in either field: both must hold (the star always does).
        let e = Expr::parse("0 0 * * FRI").unwrap();
        assert!(!e.day_matches(13, 5, 2) && e.day_matches(14, 5, 5));
        let e = Expr::parse("0 0 */2 * FRI").unwrap();
        assert!(!e.either_day && !e.day_matches(3, 5, 2) && e.day_matches(3, 5, 5));
    }
}
