//! The pipeline: what a command does, in which order, and what it publishes when.
//!
//! It loads the pipeline file whole (its shape, sources, CSV headers and expressions, every
//! problem in one list), takes the warehouse lock and repairs what a crashed run left
//! ([`operation`]), plans the dates and passes of a build ([`dates`], [`build`]), runs the
//! ingest and staging ([`ingest`]), and assembles each step's publication from what the
//! layers below wrote; only `publish` makes it visible. The command line calls this API;
//! so do the tests and benchmarks.

pub mod error;
pub use error::{Error, Result};
pub mod build;
pub mod calibrate;
pub mod catalog;
pub mod compact;
pub mod dates;
pub mod ingest;
pub mod operation;
pub mod results;

pub use build::{all_tables, build_step, run_build};
pub use calibrate::{CalibrateOutcome, run_calibrate};
pub use compact::{CompactOutcome, run_compact};
pub use dates::{Every, schedule};
pub use ingest::{IngestOutcome, ingest_step, logged_sources, run_ingest};

use crate::config::{self, Overrides, Pipeline};
use crate::marts::BuildOutcome;
use crate::publish::Publication;
use chrono::NaiveDate;
use operation::{Operation, RunLog};

/// The pipeline file checked whole: every problem of its shape, sources, CSV headers and
/// expressions in one list (exit code 2), or the pipeline ready to run.
pub async fn load(file: &std::path::Path, overrides: &Overrides) -> Result<Pipeline> {
    let mut draft = config::read(file, overrides)?;
    if let Some(pipeline) = &draft.pipeline {
        for (source, problem) in crate::ingest::headers::problems(pipeline) {
            draft.problems.at_source(&source, problem);
        }
        for (text, problem) in crate::marts::expression_problems(pipeline).await? {
            draft.problems.at_text(&text, problem);
        }
    }
    Ok(draft.finish()?)
}

/// The scheduler's command: ingest what is new, then build `as_of`, under one lock and one
/// run id. `on_ingested` sees the ingest before the build starts. What was ingested stays
/// published when the date has no input (exit 99) or the build fails.
pub async fn run(
    pipeline: &Pipeline,
    as_of: NaiveDate,
    full_refresh: bool,
    on_ingested: impl FnOnce(&str, &IngestOutcome),
) -> Result<(String, BuildOutcome)> {
    let mut op = Operation::begin(pipeline, "run").await?;
    let run_id = op.run.id.clone();
    let mut ingested = ingest_step(pipeline, &mut op, full_refresh).await;
    on_ingested(&run_id, &ingested);
    let ingest_result = std::mem::replace(&mut ingested.result, Ok(()));
    let mut tables = ingested.tables.clone();
    let (built, publication, result) = match ingest_result {
        Err(e) => (None, Publication::new(&run_id), Err(e)),
        Ok(()) => match build_step(pipeline, &mut op, &[as_of]).await {
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
    Ok((run_id, built.expect("a successful run has built")))
}
