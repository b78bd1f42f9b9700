//! The generated history's calendar: its span of days, months with their working days, and
//! the instants of a day that events are stamped with. No randomness, no file format.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime};

/// Milliseconds in a day and an hour.
pub(super) const DAY_MS: u32 = 86_400_000;
pub(super) const HOUR_MS: u32 = 3_600_000;

/// The days the generated history covers, both ends included.
#[derive(Clone, Copy, Debug)]
pub(super) struct History {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// From this day on, sources with monthly files write one file per day instead, so a
    /// benchmark can land the newest days one at a time. Draws nothing: the rows are the same.
    pub daily_files_from: Option<NaiveDate>,
}

impl History {
    /// `None` when the first day would fall outside chrono's calendar.
    pub fn ending_on(last_day: NaiveDate, days: u32) -> Option<Self> {
        let first_day = last_day.checked_sub_days(Days::new(u64::from(days.max(1)) - 1))?;
        Some(Self {
            first_day,
            last_day,
            daily_files_from: None,
        })
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        days_through(self.first_day, self.last_day)
    }

    pub fn len_days(&self) -> i64 {
        (self.last_day - self.first_day).num_days() + 1
    }

    /// The day `fraction` of the way through the history (0 = first day, 1 = last day).
    pub fn day_at(&self, fraction: f64) -> NaiveDate {
        let offset = ((self.len_days() - 1) as f64 * fraction.clamp(0.0, 1.0)).round();
        self.first_day + Days::new(offset as u64)
    }

    /// How far through the history `day` is, 0 to 1.
    pub fn progress(&self, day: NaiveDate) -> f64 {
        let elapsed = (day - self.first_day).num_days() as f64;
        (elapsed / (self.len_days() - 1).max(1) as f64).clamp(0.0, 1.0)
    }

    /// Midnight after the last day: nothing generated happens at or after it.
    pub fn end_instant(&self) -> NaiveDateTime {
        (self.last_day + Days::new(1)).and_time(NaiveTime::MIN)
    }

    /// The calendar months the history touches, the first and last clipped to it; from
    /// `daily_files_from` on, one period per day.
    pub fn months(&self) -> Vec<Month> {
        let mut months = Vec::new();
        let mut first_day = self.first_day;
        while first_day <= self.last_day {
            let daily = self.daily_files_from.is_some_and(|from| from <= first_day);
            let next_start = if daily {
                first_day + Days::new(1)
            } else {
                let month_end = first_day
                    .with_day(1)
                    .and_then(|start| start.checked_add_months(Months::new(1)))
                    .expect("history months stay inside chrono's calendar");
                match self.daily_files_from {
                    Some(from) if from < month_end => from,
                    _ => month_end,
                }
            };
            let last_day = (next_start - Days::new(1)).min(self.last_day);
            let previous: Option<&Month> = months.last();
            let opens_calendar_month = previous.is_none_or(|p| {
                (p.first_day.year(), p.first_day.month()) != (first_day.year(), first_day.month())
            });
            let calendar = match previous {
                None => 0,
                Some(p) if opens_calendar_month => p.calendar + 1,
                Some(p) => p.calendar,
            };
            months.push(Month {
                index: months.len(),
                calendar,
                opens_calendar_month,
                first_day,
                last_day,
                daily,
            });
            first_day = next_start;
        }
        months
    }
}

pub(super) fn days_through(first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    first.iter_days().take_while(move |day| *day <= last)
}

/// One calendar month of the history (sources with monthly files write one file per month),
/// or one day of it once daily files start.
pub(super) struct Month {
    /// Position in the history, 0 for the first month.
    pub index: usize,
    /// Position of its calendar month in the history (differs from `index` once daily
    /// files start).
    pub calendar: usize,
    /// Whether this is the first file of its calendar month.
    pub opens_calendar_month: bool,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub daily: bool,
}

impl Month {
    /// `YYYY-MM`, as in monthly file names; `YYYY-MM-DD` for a daily file.
    pub fn label(&self) -> String {
        if self.daily {
            return self.first_day.to_string();
        }
        format!("{:04}-{:02}", self.first_day.year(), self.first_day.month())
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        days_through(self.first_day, self.last_day)
    }
}

/// Whether `day` is the last day of its calendar month.
pub(super) fn ends_calendar_month(day: NaiveDate) -> bool {
    (day + Days::new(1)).month() != day.month()
}

/// The instant `ms` milliseconds into `day` (UTC).
pub(super) fn moment(day: NaiveDate, ms: u32) -> NaiveDateTime {
    let time = NaiveTime::from_num_seconds_from_midnight_opt(ms / 1000, (ms % 1000) * 1_000_000)
        .expect("a moment is always inside its day");
    day.and_time(time)
}

pub(super) fn add_years(day: NaiveDate, years: u32) -> NaiveDate {
    day.checked_add_months(Months::new(12 * years))
        .expect("contract dates stay inside chrono's calendar")
}

pub(super) fn days_before(day: NaiveDate, days: u64) -> NaiveDate {
    day - Days::new(days)
}

pub(super) fn sub_years(day: NaiveDate, years: u32) -> NaiveDate {
    day.checked_sub_months(Months::new(12 * years))
        .expect("contract dates stay inside chrono's calendar")
}
