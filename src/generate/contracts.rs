//! An account's contract lines: deal numbers, terms by plan and segment, and the book of
//! lines a persona's story (renewals, expansions, churn, return) writes over the history.

use super::calendar::*;
use super::sample::{day_between, pick_weighted};
use super::world::*;
use chrono::{Days, NaiveDate};
use rand::Rng;

/// Share of accounts whose contract is a chain of 12-month lines rather than one open-ended line.
const RENEWING_SHARE: f64 = 0.35;
/// Share of new accounts that adopt slowly (low usage ceiling, long ramp).
const SLOW_ADOPTER_SHARE: f64 = 0.35;

#[derive(Default)]
pub(super) struct DealNumbers {
    issued: u32,
}

impl DealNumbers {
    fn next(&mut self) -> String {
        self.issued += 1;
        format!("D-{}", 100_000 + self.issued)
    }
}

/// What a contract line sells.
#[derive(Clone, Copy, Debug)]
pub(super) struct Terms {
    pub(super) seats: u32,
    plan: Plan,
    discount_pct: i64,
}

impl Terms {
    pub(super) fn draw(rng: &mut impl Rng, segment: Segment) -> Self {
        let (seats, plan) = match segment {
            Segment::Smb => (
                rng.random_range(3..=15),
                pick_weighted(rng, &[(Plan::Starter, 0.6), (Plan::Growth, 0.4)]),
            ),
            Segment::MidMarket => (
                rng.random_range(15..=60),
                pick_weighted(rng, &[(Plan::Growth, 0.5), (Plan::Business, 0.5)]),
            ),
            Segment::Enterprise => (rng.random_range(60..=250), Plan::Enterprise),
        };
        Self {
            seats,
            plan,
            discount_pct: 5 * rng.random_range(0..=4),
        }
    }

    /// Seats × list price less the discount; yen at about 150 per dollar, to the nearest 10 yen.
    fn mrr_minor(&self, currency: Currency) -> i64 {
        let hundredths =
            self.plan.list_price_usd_per_seat() * i64::from(self.seats) * (100 - self.discount_pct);
        match currency {
            // `hundredths` is the dollar amount × 100, which is cents.
            Currency::Usd => hundredths,
            Currency::Jpy => (hundredths * 150 + 500) / 1000 * 10,
        }
    }

    /// An expander's replacement line: 40–100% more seats, sometimes on a higher plan.
    fn upgraded(&self, rng: &mut impl Rng) -> Self {
        let seats = (f64::from(self.seats) * rng.random_range(1.4..2.0)).round() as u32;
        let plan = if rng.random_bool(0.4) {
            self.plan.next_tier()
        } else {
            self.plan
        };
        Self {
            seats,
            plan,
            ..*self
        }
    }

    /// An expander's add-on line: extra seats on the same plan next to the original line.
    fn add_on(&self, rng: &mut impl Rng) -> Self {
        let seats = ((f64::from(self.seats) * rng.random_range(0.4..1.0)).round() as u32).max(1);
        Self { seats, ..*self }
    }
}

/// Collects an account's contract lines, issuing deal ids.
pub(super) struct LineBook<'a> {
    pub(super) currency: Currency,
    pub(super) deals: &'a mut DealNumbers,
    pub(super) lines: Vec<ContractLine>,
}

impl LineBook<'_> {
    fn line(&mut self, start: NaiveDate, end: Option<NaiveDate>, terms: &Terms) {
        self.lines.push(ContractLine {
            deal_id: self.deals.next(),
            start,
            end,
            plan: terms.plan,
            seats: terms.seats,
            mrr_minor: terms.mrr_minor(self.currency),
        });
    }

    /// `years` back-to-back 12-month lines from `start`; returns the day the last one ends.
    fn yearly_lines(&mut self, start: NaiveDate, years: u32, terms: &Terms) -> NaiveDate {
        for year in 0..years {
            self.line(
                add_years(start, year),
                Some(add_years(start, year + 1)),
                terms,
            );
        }
        add_years(start, years)
    }

    /// 12-month lines renewed back to back from `start` until one is in force on `through`.
    fn renew_through(&mut self, start: NaiveDate, through: NaiveDate, terms: &Terms) {
        let mut year = 0;
        loop {
            let end = add_years(start, year + 1);
            self.line(add_years(start, year), Some(end), terms);
            if end > through {
                return;
            }
            year += 1;
        }
    }

    /// Ends the latest line early, on `end` (replaced by an upgrade).
    fn cut_last(&mut self, end: NaiveDate) {
        if let Some(line) = self.lines.last_mut() {
            line.end = Some(end);
        }
    }
}

/// Draws the persona's contract lines and the dates that define it.
pub(super) fn contract(
    rng: &mut impl Rng,
    history: &History,
    book: &mut LineBook<'_>,
    persona: Persona,
    terms: &Terms,
) -> Lifecycle {
    let last = history.last_day;
    let renewing = rng.random_bool(RENEWING_SHARE);
    match persona {
        Persona::Steady => {
            let first_start = days_before(history.first_day, rng.random_range(30..=1100));
            if renewing {
                book.renew_through(first_start, last, terms);
            } else {
                book.line(first_start, None, terms);
            }
            Lifecycle::Steady
        }
        Persona::Churner => {
            let churn_target = day_between(rng, history.day_at(0.6), days_before(last, 14));
            let years = rng.random_range(1..=3);
            let churn_on = book.yearly_lines(sub_years(churn_target, years), years, terms);
            Lifecycle::Churner { churn_on }
        }
        Persona::Expander => {
            let upgrade_on = day_between(rng, history.day_at(0.5), days_before(last, 21));
            let first_start = days_before(history.first_day, rng.random_range(60..=900));
            if rng.random_bool(0.5) {
                // Follow-on: the old contract is cut short and replaced by a bigger one.
                let bigger = terms.upgraded(rng);
                if renewing {
                    book.renew_through(first_start, days_before(upgrade_on, 1), terms);
                    book.cut_last(upgrade_on);
                    book.renew_through(upgrade_on, last, &bigger);
                } else {
                    book.line(first_start, Some(upgrade_on), terms);
                    book.line(upgrade_on, None, &bigger);
                }
            } else {
                // Overlapping add-on: the original contract runs on and extra seats join it.
                if renewing {
                    book.renew_through(first_start, last, terms);
                } else {
                    book.line(first_start, None, terms);
                }
                book.line(upgrade_on, None, &terms.add_on(rng));
            }
            Lifecycle::Expander { upgrade_on }
        }
        Persona::New => {
            let earliest = days_before(last, 59).max(history.first_day);
            let started_on = day_between(rng, earliest, days_before(last, 7));
            if renewing {
                book.yearly_lines(started_on, 1, terms);
            } else {
                book.line(started_on, None, terms);
            }
            let slow_adopter = rng.random_bool(SLOW_ADOPTER_SHARE);
            Lifecycle::New {
                started_on,
                slow_adopter,
            }
        }
        Persona::Reactivator => {
            let return_target = day_between(rng, history.day_at(0.5), days_before(last, 21));
            let lapse_days = rng.random_range(70..=120);
            let years = rng.random_range(1..=2);
            let first_start = sub_years(days_before(return_target, lapse_days), years);
            let lapsed_on = book.yearly_lines(first_start, years, terms);
            let returned_on = lapsed_on + Days::new(lapse_days);
            if renewing {
                book.renew_through(returned_on, last, terms);
            } else {
                book.line(returned_on, None, terms);
            }
            Lifecycle::Reactivator {
                lapsed_on,
                returned_on,
            }
        }
    }
}
