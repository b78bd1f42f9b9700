//! `churnlake run` (the nightly job: ingest what is new, then build the date) and
//! `churnlake backfill` (many dates, up to 31 per pass).

use super::GlobalArgs;
use super::output;
use crate::pipeline::Result;
use crate::pipeline::{self, Every, IngestOutcome, schedule};
use crate::report;
use chrono::NaiveDate;
use clap::Args;

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
    let print_ingest = |run_id: &str, ingested: &IngestOutcome| {
        if output::is_text() {
            report::print_ingest(run_id, ingested, &pipeline);
        }
    };
    let (run_id, built) =
        pipeline::run(&pipeline, args.as_of, args.full_refresh, print_ingest).await?;
    if output::is_text() {
        report::print_build(&pipeline, &run_id, &built).await?;
    }
    Ok(())
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
    let (run_id, outcome) = pipeline::run_build(&pipeline, &dates, "backfill").await?;
    if output::is_text() {
        report::print_build(&pipeline, &run_id, &outcome).await?;
    }
    Ok(())
}
