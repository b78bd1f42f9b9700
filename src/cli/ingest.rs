//! `churnlake ingest`: read every source into the staged tables, publishing them only when
//! every check passes, and log the run either way.

use super::GlobalArgs;
use crate::config::Pipeline;
use crate::error::Result;
use crate::ingest::{self, IngestOutcome};
use crate::publish::{self, runlog::Run};
use crate::report;
use clap::Args;

/// Ingest every source into typed, deduplicated stg_* tables.
///
/// Rejected rows go to the `quarantine` table; `data_quality` and `runs` record the run.
/// A source over its bad-row limits, or an unreadable file, fails the run (exit 1 or 3) and
/// leaves the published tables as they were.
///
/// Examples:
///   churnlake ingest
///   churnlake ingest --data-root fixtures --warehouse /tmp/wh
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct IngestArgs {}

pub async fn execute(global: &GlobalArgs, _args: IngestArgs) -> Result<()> {
    let pipeline = global.load_pipeline()?;
    let (run, outcome) = run_ingest(&pipeline).await;
    report::print_ingest(&run, &outcome, &pipeline);
    outcome.result
}

/// Ingests, publishes on success, records the run; the outcome's result is the run's.
pub async fn run_ingest(pipeline: &Pipeline) -> (Run, IngestOutcome) {
    let run = Run::start("ingest", &pipeline.name, &pipeline.warehouse);
    let mut outcome = ingest::ingest(pipeline, &run.work_dir()).await;
    if outcome.result.is_ok() {
        outcome.result = outcome.tables.iter().try_for_each(|(name, _)| {
            let staged = outcome.tables_dir.join(name);
            publish::replace_table(&pipeline.warehouse, name, &staged, &run.id)
        });
    }
    let published: &[(String, u64)] = if outcome.result.is_ok() {
        &outcome.tables
    } else {
        &[]
    };
    let logged = run.record(
        &outcome.sources,
        published,
        Some(&outcome.quarantine_file),
        &outcome.result,
    );
    let cleaned = publish::clean_work(&pipeline.warehouse, &run.id);
    if outcome.result.is_ok() {
        outcome.result = logged.and(cleaned);
    } else if let Err(e) = logged {
        eprintln!("warning: the run log could not be written: {e}");
    }
    (run, outcome)
}
