//! `churnlake run` (the nightly job: ingest what is new, then build the date) and
//! `churnlake backfill` (many dates, up to 31 per pass).

use super::GlobalArgs;
use super::build::{all_tables, build_step, run_build};
use super::ingest::{ingest_step, logged_sources};
use super::operation::{Operation, RunLog};
use super::output;
use crate::error::{Error, Result};
use crate::publish::Publication;
use crate::report;
use chrono::{Months, NaiveDate};
use clap::{Args, ValueEnum};

/// Ingest new and changed source files, then build the marts as of a date.
///
/// The command a scheduler runs once per logical date. Exit codes: 0 built; 1 a data check
/// failed; 2 usage or config error; 3 runtime or I/O error (or the warehouse is locked by
/// another run); 99 the date has no input yet (newly ingested data is kept; nothing is
/// built), which a scheduler treats as "skip".
///
/// Examples:
///   churnlake run --as-of 2026-10-31
///   churnlake run --as-of 2026-10-31 --log-format json --run-results run_results.json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// The logical date (YYYY-MM-DD): end of that day in the pipeline timezone.
    #[arg(long)]
    pub as_of: NaiveDate,
    /// Read every source file again instead of only new and changed ones.
    #[arg(long)]
    pub full_refresh: bool,
}

pub async fn execute_run(global: &GlobalArgs, args: RunArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let mut op = Operation::begin(&pipeline, "run").await?;
    let run_id = op.run.id.clone();
    let mut ingested = ingest_step(&pipeline, &mut op, args.full_refresh).await;
    if output::is_text() {
        report::print_ingest(&run_id, &ingested, &pipeline);
    }
    let ingest_result = std::mem::replace(&mut ingested.result, Ok(()));
    let mut tables = ingested.tables.clone();
    let (built, publication, result) = match ingest_result {
        Err(e) => (None, Publication::new(&run_id), Err(e)),
        Ok(()) => match build_step(&pipeline, &mut op, &[args.as_of]).await {
            Ok((outcome, publication)) => {
                tables.extend(all_tables(&outcome));
                (Some(outcome), publication, Ok(()))
            }
            Err(e) => (None, Publication::new(&run_id), Err(e)),
        },
    };
    let log = RunLog {
        sources: logged_sources(&ingested),
        tables: &tables,
        quarantine_file: Some(&ingested.quarantine_file),
    };
    op.finish(publication, log, result).await?;
    if let Some(outcome) = built
        && output::is_text()
    {
        report::print_build(&pipeline, &run_id, &outcome).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Every {
    Day,
    Week,
    Month,
}

/// Build the marts for every date of a range, in passes of up to 31 dates.
///
/// Each date's rows equal what `churnlake build --as-of` that date writes on the same
/// inputs; the dated partitions are replaced, and the whole tables (retention, cohorts) are
/// rebuilt as of the last date. Dates without input are skipped and listed; exit code 99 if
/// none has input. Run `churnlake ingest` first.
///
/// Examples:
///   churnlake backfill --from 2025-11-01 --to 2026-10-31
///   churnlake backfill --from 2025-01-01 --to 2026-10-31 --every month
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct BackfillArgs {
    /// First date (YYYY-MM-DD).
    #[arg(long)]
    pub from: NaiveDate,
    /// Last date, included when the step lands on it.
    #[arg(long)]
    pub to: NaiveDate,
    /// Step between dates: a day, a week (7 days) or a calendar month (same day of month,
    /// clamped to the month's end).
    #[arg(long, value_enum, default_value = "day")]
    pub every: Every,
}

pub async fn execute_backfill(global: &GlobalArgs, args: BackfillArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let dates = schedule(args.from, args.to, args.every)?;
    let (run_id, outcome) = run_build(&pipeline, &dates, "backfill").await?;
    if output::is_text() {
        report::print_build(&pipeline, &run_id, &outcome).await?;
    }
    Ok(())
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
