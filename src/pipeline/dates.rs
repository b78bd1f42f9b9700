//! Which dates a command builds: the dates with input (exit 99 when none has any), and for
//! each pass the dates it computes (each requested date, the dates 7 and 30 days before it,
//! and with the whole tables every month boundary and the surprise lead before it) and the
//! scores it reuses.

use crate::base::days::{date_to_days, days_to_date, month_starts};
use crate::config::Pipeline;
use crate::engine::{self, warehouse::Warehouse};
use crate::marts::{PassDates, PassKind};
use crate::pipeline::{Error, Result};
use chrono::{Months, NaiveDate};
use datafusion::prelude::SessionContext;
use std::collections::BTreeSet;

/// Plans the dates of a build's passes over the staged tables of one warehouse, registered
/// once for the whole plan.
pub struct Planner {
    ctx: SessionContext,
    /// Accounts with a contract line: what a sweep's dates are bounded by.
    accounts: u64,
}

impl Planner {
    /// A planner over the warehouse's published staged tables; a usage error (exit 2) when
    /// nothing has been ingested yet.
    pub async fn open(warehouse: &Warehouse) -> Result<Planner> {
        if !warehouse.exists("stg_handoffs").await? {
            return Err(Error::Usage(format!(
                "no staged tables in {}; run `churnlake ingest` first",
                warehouse.location
            )));
        }
        let ctx = engine::session();
        crate::staging::register_staged(&ctx, warehouse).await?;
        let accounts =
            engine::query_count(&ctx, "select count(distinct account_id) from stg_handoffs")
                .await?;
        Ok(Planner { ctx, accounts })
    }

    /// The most dates one sweep of window figures takes under the pipeline's memory limit.
    pub fn dates_per_sweep(&self, pipeline: &Pipeline) -> usize {
        crate::marts::dates_per_sweep(pipeline.memory_limit, self.accounts)
    }

    /// The dates a pass over `requested` reads, split into those it computes and those it
    /// reuses from `reusable` (published, see `marts::history`, or computed by an earlier
    /// pass), and the month boundaries of its whole tables (none without them). It reads
    /// each date, the dates 7 and 30 days before it (for the health deltas), and for
    /// health_cohorts every month start and each start minus the surprise lead (point in
    /// time, like any other date). Requested dates are always computed.
    pub async fn pass(
        &self,
        pipeline: &Pipeline,
        requested: &[NaiveDate],
        kind: PassKind,
        reusable: &BTreeSet<i32>,
    ) -> Result<PassDates> {
        let days: BTreeSet<i32> = requested.iter().map(|d| date_to_days(*d)).collect();
        let mut earlier = BTreeSet::new();
        if kind != PassKind::ScoresOnly {
            for day in &days {
                earlier.insert(day - 7);
                earlier.insert(day - 30);
            }
        }
        let last = *days.iter().next_back().expect("at least one date");
        let first = first_start(&self.ctx, last).await?;
        let boundaries = if kind == PassKind::DatesAndWholeTables {
            // From the boundary before the first one with an active account: when the first
            // line starts on a month's first day, the month before it ends there and holds
            // the history's first new MRR (contract §5).
            month_starts(days_to_date(first - 1), days_to_date(last))
        } else {
            Vec::new()
        };
        for boundary in &boundaries {
            earlier.insert(*boundary);
            earlier.insert(boundary - pipeline.retention.surprise_lead_days as i32);
        }
        // Before the first contract line there is no account to score: such a date needs no
        // computing (nor a sweep of the history from 29 days before it).
        earlier.retain(|day| *day >= first);
        let (reused, computed): (BTreeSet<i32>, BTreeSet<i32>) = earlier
            .difference(&days)
            .copied()
            .partition(|day| reusable.contains(day));
        Ok(PassDates {
            requested: requested.to_vec(),
            kind,
            computed: computed.union(&days).copied().collect(),
            reused,
            boundaries,
            per_sweep: self.dates_per_sweep(pipeline),
        })
    }

    /// Every date the passes compute (dates, with what each computes), in order, each pass
    /// reusing the scores of `reusable` and of the passes before it.
    pub async fn computed_dates(
        &self,
        pipeline: &Pipeline,
        passes: &[(&[NaiveDate], PassKind)],
        reusable: &BTreeSet<i32>,
    ) -> Result<BTreeSet<i32>> {
        let mut all_dates = BTreeSet::new();
        let mut known = reusable.clone();
        for (dates, kind) in passes {
            let computed = self.pass(pipeline, dates, *kind, &known).await?.computed;
            known.extend(&computed);
            all_dates.extend(computed);
        }
        Ok(all_dates)
    }
}

/// Splits `dates` into those with input and those without (see [`input_window`]); fails
/// with exit code 99 when no date has input.
pub async fn dates_with_input(
    planner: &Planner,
    dates: &[NaiveDate],
) -> Result<(Vec<NaiveDate>, Vec<NaiveDate>)> {
    let (first, latest) = input_window(&planner.ctx).await?;
    let (with, without): (Vec<NaiveDate>, Vec<NaiveDate>) = dates
        .iter()
        .partition(|d| first.is_some_and(|f| f <= **d) && latest.is_none_or(|l| **d <= l));
    if with.is_empty() {
        let describe = |d: Option<NaiveDate>| d.map_or("none".to_string(), |d| d.to_string());
        return Err(Error::NoInput(format!(
            "nothing to build for {}: the first contract line starts {} and the latest \
             event, page view or ticket is dated {} (a date's data has landed once a later \
             or same-day row exists)",
            crate::base::days::describe_dates(&without),
            describe(first),
            describe(latest)
        )));
    }
    Ok((with, without))
}

/// The dates with input: from the first contract line's start through the latest dated
/// event, page view or ticket. A date after it has no data yet (exit code 99). A book with
/// no dated activity at all (contracts only) has no upper bound.
async fn input_window(ctx: &SessionContext) -> Result<(Option<NaiveDate>, Option<NaiveDate>)> {
    let first = engine::query_count(
        ctx,
        "select coalesce(min(cast(start_date as int)), -1000000) from stg_handoffs",
    )
    .await?;
    let mut latest: Option<i64> = None;
    for (table, column) in [
        ("stg_events", "event_date"),
        ("stg_pageviews", "event_date"),
        ("stg_tickets", "created_date"),
    ] {
        if ctx.table_exist(table).unwrap_or(false) {
            let day = engine::query_count(
                ctx,
                &format!("select coalesce(max(cast({column} as int)), -1000000) from {table}"),
            )
            .await? as i64;
            if day > 0 {
                latest = Some(latest.map_or(day, |l| l.max(day)));
            }
        }
    }
    // query_count clamps negatives to 0; no row maps to day 0 (1970-01-01), never a real date.
    let to_date = |day: i64| (day > 0).then(|| days_to_date(day as i32));
    Ok((to_date(first as i64), latest.and_then(to_date)))
}

/// The first contract line's start on or before `last` (days since the epoch); `last`
/// when there is none.
async fn first_start(ctx: &SessionContext, last: i32) -> Result<i32> {
    let first = engine::query_count(
        ctx,
        &format!(
            "select coalesce(min(cast(start_date as int)), {last}) from stg_handoffs \
             where cast(start_date as int) <= {last}"
        ),
    )
    .await?;
    Ok(first as i32)
}

/// The step between the dates of a backfill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Every {
    Day,
    Week,
    Month,
}

/// The dates from `from` through `to` at the given step.
pub fn schedule(from: NaiveDate, to: NaiveDate, every: Every) -> Result<Vec<NaiveDate>> {
    if from > to {
        return Err(Error::Usage(format!(
            "--from {from} is after --to {to}; give the earlier date first"
        )));
    }
    let mut dates = Vec::new();
    let mut step = 0u32;
    loop {
        let date = match every {
            Every::Day => from + chrono::Days::new(step as u64),
            Every::Week => from + chrono::Days::new(7 * step as u64),
            Every::Month => from.checked_add_months(Months::new(step)).ok_or_else(|| {
                Error::Usage(format!("{from} plus {step} months is out of range"))
            })?,
        };
        if date > to {
            break;
        }
        dates.push(date);
        step += 1;
    }
    Ok(dates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn schedules_days_weeks_and_months() {
        assert_eq!(
            schedule(day("2026-01-30"), day("2026-02-02"), Every::Day)
                .unwrap()
                .len(),
            4
        );
        assert_eq!(
            schedule(day("2026-01-01"), day("2026-01-15"), Every::Week).unwrap(),
            vec![day("2026-01-01"), day("2026-01-08"), day("2026-01-15")]
        );
        assert_eq!(
            schedule(day("2026-01-31"), day("2026-04-30"), Every::Month).unwrap(),
            vec![
                day("2026-01-31"),
                day("2026-02-28"),
                day("2026-03-31"),
                day("2026-04-30")
            ]
        );
        let reversed = schedule(day("2026-02-01"), day("2026-01-01"), Every::Day);
        assert!(reversed.unwrap_err().to_string().contains("is after --to"));
    }
}
