//! Dates as days since 1970-01-01 (Arrow's `Date32`), the unit every as-of comparison uses,
//! and the few calendar steps the marts take on them. No I/O.

use chrono::{DateTime, Datelike, NaiveDate};
use chrono_tz::Tz;
use std::collections::BTreeSet;

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Days since 1970-01-01 of a date.
pub fn date_to_days(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// The date `days` after 1970-01-01.
pub fn days_to_date(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAYS_FROM_CE).expect("date in range")
}

/// The calendar date of a UTC instant in `tz`, as days since the epoch.
pub fn local_date(micros: i64, tz: Tz) -> i32 {
    let utc = DateTime::from_timestamp_micros(micros).expect("timestamp in range");
    date_to_days(utc.with_timezone(&tz).date_naive())
}

/// The first day of the month of a day.
pub fn month_start_of(day: i32) -> NaiveDate {
    days_to_date(day).with_day(1).expect("day 1 exists")
}

/// First days of the months from `first`'s month through the last one on or before `last`.
pub fn month_starts(first: NaiveDate, last: NaiveDate) -> Vec<i32> {
    let mut month = first.with_day(1).expect("day 1 exists");
    let mut starts = Vec::new();
    while month <= last {
        starts.push(date_to_days(month));
        month = month
            .checked_add_months(chrono::Months::new(1))
            .expect("a representable month");
    }
    starts
}

/// `date 'YYYY-MM-DD', …` for SQL.
pub fn sql_date_list(days: &BTreeSet<i32>) -> String {
    days.iter()
        .map(|d| format!("date '{}'", days_to_date(*d)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A list of dates for messages: all of a few, or the first and last of many.
pub fn describe_dates(dates: &[NaiveDate]) -> String {
    match dates {
        [] => "no date".into(),
        [one] => one.to_string(),
        [first, .., last] if dates.len() > 3 => {
            format!("{} dates from {first} to {last}", dates.len())
        }
        _ => dates
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_starts_run_from_the_first_dates_month_through_the_last() {
        let day = |t: &str| t.parse::<NaiveDate>().unwrap();
        let starts: Vec<String> = month_starts(day("2025-11-30"), day("2026-02-01"))
            .into_iter()
            .map(|d| days_to_date(d).to_string())
            .collect();
        assert_eq!(
            starts,
            ["2025-11-01", "2025-12-01", "2026-01-01", "2026-02-01"]
        );
        assert_eq!(date_to_days(day("1970-01-02")), 1);
    }
}
