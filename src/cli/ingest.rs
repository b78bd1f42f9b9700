//! `churnlake ingest`: read new and changed source files into the staged tables, publishing
//! them only when every check passes, and log the run either way.

use super::GlobalArgs;
use super::operation::{Operation, RunLog};
use super::output::{self, Step};
use crate::config::Pipeline;
use crate::error::Result;
use crate::ingest::{self, IngestOutcome};
use crate::publish::Publication;
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
    let (run_id, outcome) = run_ingest(&pipeline, args.full_refresh).await?;
    if output::is_text() {
        report::print_ingest(&run_id, &outcome, &pipeline);
    }
    outcome.result
}

/// Ingests, publishes on success, records the run; the outcome's result is the run's.
pub async fn run_ingest(
    pipeline: &Pipeline,
    full_refresh: bool,
) -> Result<(String, IngestOutcome)> {
    let mut op = Operation::begin(pipeline, "ingest").await?;
    let mut outcome = ingest_step(pipeline, &mut op, full_refresh).await;
    let run_id = op.run.id.clone();
    let result = std::mem::replace(&mut outcome.result, Ok(()));
    let log = RunLog {
        sources: logged_sources(&outcome),
        tables: &outcome.tables,
        quarantine_file: Some(&outcome.quarantine_file),
    };
    outcome.result = op.finish(Publication::new(&run_id), log, result).await;
    Ok((run_id, outcome))
}

/// Sources for `data_quality`: none when nothing was read (the staged tables did not change).
pub fn logged_sources(outcome: &IngestOutcome) -> &[ingest::SourceReport] {
    if outcome.unchanged {
        &[]
    } else {
        &outcome.sources
    }
}

/// Reads the sources into the operation's scratch directory and, when every check passes,
/// publishes the staged tables, raw files and manifest (one commit).
pub async fn ingest_step(
    pipeline: &Pipeline,
    op: &mut Operation,
    full_refresh: bool,
) -> IngestOutcome {
    let started = std::time::Instant::now();
    let progress = output::progress(0, "reading");
    let mut outcome = ingest::ingest(
        pipeline,
        &op.warehouse,
        op.scratch(),
        full_refresh,
        &progress,
    )
    .await;
    progress.finish_and_clear();
    if outcome.result.is_ok() {
        let mut publication = Publication::new(&op.run.id);
        outcome.result = match outcome
            .publication(&op.warehouse, op.scratch(), &mut publication)
            .await
        {
            Ok(()) => publication.publish(&op.warehouse, op.scratch()).await,
            Err(e) => Err(e),
        };
    }
    for source in &outcome.sources {
        op.step(Step {
            unique_id: format!("source.{}", source.source),
            status: if source.failed { "error" } else { "success" }.into(),
            rows: Some(source.rows_read),
            execution_time: source.read_seconds,
            message: Some(format!(
                "{} files, {} read ({} unchanged); {} loaded, {} quarantined, {} duplicates",
                source.files,
                source.files_read,
                source.files - source.files_read,
                source.rows_loaded,
                source.rows_quarantined,
                source.duplicates
            )),
        });
        output::event(
            "source_read",
            serde_json::json!({
                "source": source.source, "files": source.files, "files_read": source.files_read,
                "rows_read": source.rows_read, "rows_quarantined": source.rows_quarantined,
                "failed": source.failed,
            }),
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    for (table, rows) in &outcome.tables {
        let mut step = Step::table(table, *rows, seconds);
        step.message = outcome.partly_written(table);
        op.step(step);
    }
    output::event(
        "ingest_finished",
        serde_json::json!({
            "unchanged": outcome.unchanged,
            "ok": outcome.result.is_ok(),
            "seconds": seconds,
        }),
    );
    outcome
}
