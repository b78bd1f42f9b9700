//! `churnlake validate`: check a pipeline file and report every problem at once.

use super::GlobalArgs;
use crate::pipeline::Result;
use clap::Args;

/// Check the pipeline file: keys, kinds, mappings, globs, CSV headers, and every SQL
/// expression (maturity and touch rules, health metrics, playbook conditions and messages).
///
/// Every problem is listed with its line and what to do; the exit code is 2 when there is
/// any.
///
/// Examples:
///   churnlake validate
///   churnlake validate --pipeline pipelines/prod.toml --data-root /data/exports
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ValidateArgs {}

pub async fn execute(global: &GlobalArgs, _args: ValidateArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    println!(
        "{}: pipeline `{}` is valid ({} sources, timezone {}, reporting currency {})",
        pipeline.file.display(),
        pipeline.name,
        pipeline.sources.len(),
        pipeline.timezone,
        pipeline.reporting_currency
    );
    for source in &pipeline.sources {
        println!(
            "  {:<12} {:<10} {} file(s) matching {}",
            source.name,
            source.kind,
            source.files.len(),
            source.path
        );
    }
    Ok(())
}
