//! `churnlake ingest`: read new and changed source files into the staged tables, publishing
//! them only when every check passes, and log the run either way.

use super::GlobalArgs;
use super::output;
use crate::pipeline;
use crate::pipeline::Result;
use crate::report;
use clap::Args;

/// Ingest every source into typed, deduplicated stg_* tables.
///
/// Only files new or changed since the last ingest are read (the manifest in
/// <warehouse>/_state); --full-refresh reads everything again. Rejected rows go to the
/// `quarantine` table; `data_quality` and `runs` record the run. A source over its bad-row
/// limits, or an unreadable file, fails the run (exit 1 or 3) and leaves the published tables
/// as they were.
///
/// Examples:
///   churnlake ingest
///   churnlake ingest --full-refresh
///   churnlake ingest --data-root fixtures --warehouse /tmp/wh
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct IngestArgs {
    /// Read every file again and rebuild the manifest, ignoring what earlier runs ingested.
    #[arg(long)]
    pub full_refresh: bool,
}

pub async fn execute(global: &GlobalArgs, args: IngestArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let (run_id, outcome) = pipeline::run_ingest(&pipeline, args.full_refresh).await?;
    if output::is_text() {
        report::print_ingest(&run_id, &outcome, &pipeline);
    }
    outcome.result
}
