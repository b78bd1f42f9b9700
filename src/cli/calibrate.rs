//! `churnlake calibrate`: fit the health model to churn history.

use super::GlobalArgs;
use super::output;
use crate::base::error::FromFile;
use crate::pipeline;
use crate::pipeline::{Error, Result};
use crate::report;
use chrono::NaiveDate;
use clap::Args;
use std::path::PathBuf;

/// Fit a health model to churn history, check it on later dates, and write it as a new
/// model version for review.
///
/// Observes the accounts active on each month start from --from through --to (those with
/// [calibration] min_tenure_days of tenure), labels each churned when it is inactive
/// [retention] health_horizon_days later, and fits an L2-regularised logistic regression on
/// the [calibration] features (default: the current model's components): trained on the
/// earlier dates, tested on the later ones. Prints the churn rate by decile of every feature
/// (the metric cohorts) and both models' AUC, lift and surprise-churn rate; publishes the
/// metric_cohorts, model_evaluation and model_features tables. No score changes until the
/// new model (--write-model) replaces [health] in the pipeline file.
///
/// Examples:
///   churnlake calibrate --from 2025-01-01 --to 2026-06-01
///   churnlake calibrate --from 2025-01-01 --to 2026-06-01 --write-model health-v2.toml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CalibrateArgs {
    /// The first month start to observe (YYYY-MM-DD).
    #[arg(long)]
    pub from: NaiveDate,
    /// The last date a month start observed may fall on.
    #[arg(long)]
    pub to: NaiveDate,
    /// Write the new model's [health] section to this file.
    #[arg(long)]
    pub write_model: Option<PathBuf>,
    /// Also write the observations (account, date, split, churned, each feature raw and
    /// standardised) as Parquet into this directory, to check the fit with other tools.
    #[arg(long)]
    pub observations_out: Option<PathBuf>,
}

pub async fn execute(global: &GlobalArgs, args: CalibrateArgs) -> Result<()> {
    let pipeline = global.load_pipeline().await?;
    let command = format!("churnlake calibrate --from {} --to {}", args.from, args.to);
    let outcome = pipeline::run_calibrate(
        &pipeline,
        args.from,
        args.to,
        &command,
        args.observations_out.as_deref(),
    )
    .await?;
    if let Some(path) = &args.write_model {
        std::fs::write(path, &outcome.fragment).map_err(|e| Error::io(path, e))?;
    }
    if output::is_text() {
        report::print_calibration(&outcome, args.write_model.as_deref());
    }
    Ok(())
}
