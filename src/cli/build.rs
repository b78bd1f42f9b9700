//! `churnlake build`: the customer table, health scores and playbook actions for a date.

use super::GlobalArgs;
use crate::config::Pipeline;
use crate::error::{Error, Result};
use crate::ingest::convert::date_to_days;
use crate::marts::{self, BuildOutcome};
use crate::publish::{self, runlog::Run};
use crate::report;
use chrono::NaiveDate;
use clap::Args;

/// Build customer_daily, health_scores and playbook_actions as of a date.
///
/// Reads the staged tables (run `churnlake ingest` first). Every row for the date depends
/// only on inputs visible at the end of that day in the pipeline timezone. Re-running a date
/// replaces its partitions.
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
    let pipeline = global.load_pipeline()?;
    marts::check_expressions(&pipeline).await?;
    let (run, result) = run_build(&pipeline, args.as_of).await;
    let outcome = result?;
    report::print_build(&pipeline, &run, &outcome).await
}

/// Builds, publishes the date's partitions on success, and records the run.
pub async fn run_build(pipeline: &Pipeline, as_of: NaiveDate) -> (Run, Result<BuildOutcome>) {
    let mut run = Run::start("build", &pipeline.name, &pipeline.warehouse);
    run.as_of = Some((date_to_days(as_of), date_to_days(as_of)));
    let mut result = marts::build(pipeline, &[as_of], &run.work_dir()).await;
    if let Ok(outcome) = &result {
        let published = publish_partitions(pipeline, &run, outcome);
        if let Err(e) = published {
            result = Err(e);
        }
    }
    let tables: Vec<(String, u64)> = match &result {
        Ok(outcome) => outcome
            .tables
            .iter()
            .chain(&outcome.whole_tables)
            .cloned()
            .collect(),
        Err(_) => Vec::new(),
    };
    let status = result.as_ref().map(|_| ()).map_err(clone_error);
    let logged = run.record(&[], &tables, None, &status);
    let cleaned = publish::clean_work(&pipeline.warehouse, &run.id);
    if result.is_ok()
        && let Err(e) = logged.and(cleaned)
    {
        result = Err(e);
    }
    (run, result)
}

fn publish_partitions(pipeline: &Pipeline, run: &Run, outcome: &BuildOutcome) -> Result<()> {
    for (table, _) in &outcome.tables {
        for date in &outcome.dates {
            let partition = format!("as_of_date={date}");
            let staged = outcome.tables_dir.join(table).join(&partition);
            if !staged.exists() {
                std::fs::create_dir_all(&staged).map_err(|e| Error::io(&staged, e))?;
            }
            publish::replace_table(
                &pipeline.warehouse,
                &format!("{table}/{partition}"),
                &staged,
                &run.id,
            )?;
        }
    }
    for (table, _) in &outcome.whole_tables {
        let staged = outcome.tables_dir.join(table);
        publish::replace_table(&pipeline.warehouse, table, &staged, &run.id)?;
    }
    for (table, schema) in &outcome.schemas {
        publish::ensure_readable(&pipeline.warehouse.join(table), schema, Some("as_of_date"))?;
    }
    Ok(())
}

/// The run log keeps a failed run's message; errors are not `Clone`, so keep their text and code.
fn clone_error(e: &Error) -> Error {
    match e {
        Error::Config { file, problems } => Error::Config {
            file: file.clone(),
            problems: problems.clone(),
        },
        Error::Usage(m) => Error::Usage(m.clone()),
        Error::DataCheck(m) => Error::DataCheck(m.clone()),
        Error::NoInput(m) => Error::NoInput(m.clone()),
        Error::Io { path, message } => Error::Io {
            path: path.clone(),
            message: message.clone(),
        },
        Error::Engine { context, source } => Error::Io {
            path: context.into(),
            message: source.to_string(),
        },
    }
}
