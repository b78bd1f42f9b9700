//! `churnlake history TABLE`: the versions of a Delta table, with the run that wrote each.

use super::GlobalArgs;
use crate::pipeline::Result;
use crate::pipeline::catalog;
use clap::Args;

/// List the versions of a Delta table, newest first: when, what operation, which run and
/// command, rows and files written. Read one with `churnlake query --version N`.
///
/// Examples:
///   churnlake history health_scores
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct HistoryArgs {
    /// The table, e.g. health_scores.
    pub table: String,
}

pub async fn execute(global: &GlobalArgs, args: HistoryArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let versions = catalog::history(&pipeline.warehouse, &args.table).await?;
    println!(
        "{:>7}  {:<20}  {:<9}  {:<9}  {:<30}  {:>12}  {:>7}  {:>7}",
        "version", "committed (UTC)", "operation", "command", "run id", "rows", "+files", "-files"
    );
    let shown = |n: Option<u64>| n.map_or_else(String::new, |n| n.to_string());
    for v in versions {
        let when = v
            .timestamp
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        println!(
            "{:>7}  {:<20}  {:<9}  {:<9}  {:<30}  {:>12}  {:>7}  {:>7}",
            v.version,
            when,
            v.operation,
            v.command.unwrap_or_default(),
            v.run_id.unwrap_or_default(),
            shown(v.rows_written),
            shown(v.files_added),
            shown(v.files_removed),
        );
    }
    Ok(())
}
