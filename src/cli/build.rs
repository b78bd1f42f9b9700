//! `churnlake build`: the marts for a date.

use super::GlobalArgs;
use super::output;
use crate::pipeline;
use crate::pipeline::Result;
use crate::report;
use chrono::NaiveDate;
use clap::Args;

/// Build customer_daily, health_scores, playbook_actions and the retention tables as of a
/// date.
///
/// Reads the staged tables (run `churnlake ingest` first). Every row for the date depends
/// only on inputs visible at the end of that day in the pipeline timezone. Re-running a date
/// replaces its partitions. Exit code 99 when the date has no input yet.
///
/// Examples:
///   churnlake build --as-of 2026-10-31
///   churnlake build --as-of 2026-10-31 --warehouse /tmp/wh
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct BuildArgs {
    /// The date (YYYY-MM-DD): end of that day in the pipeline timezone.
    #[arg(long)]
    pub as_of: NaiveDate,
}

pub async fn execute(global: &GlobalArgs, args: BuildArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let (run_id, outcome) = pipeline::run_build(&pipeline, &[args.as_of], "build").await?;
    if output::is_text() {
        report::print_build(&pipeline, &run_id, &outcome).await?;
    }
    Ok(())
}
