//! `churnlake calibrate`: the plan of a calibration (contract §6). It picks the observation
//! dates (month starts in the range whose horizon has landed), labels them from the staged
//! contract lines, builds the customer rows and current scores of the observation and lead
//! dates (as any build would, point in time), hands the observations to `learn`, and
//! publishes `metric_cohorts`, `model_evaluation` and `model_features` under the
//! warehouse lock. The new model is a pipeline-file fragment for the user to review; no
//! table of scores changes until they commit it and build.

use super::dates::{Planner, dates_with_input};
use super::operation::{Operation, RunLog};
use super::results::Step;
use crate::base::days::{date_to_days, days_to_date, month_starts};
use crate::config::{HealthModel, Pipeline};
use crate::learn::{self, Calibrated, Settings};
use crate::marts::calibration::{self, Feature, ModelNames};
use crate::marts::{self, PassDates, PassKind, history::KnownScores};
use crate::pipeline::{Error, Result};
use crate::publish::Publication;
use chrono::NaiveDate;
use std::collections::BTreeSet;
use std::path::Path;

/// Observation and lead dates scored in one pass (as a build's passes).
const DATES_PER_PASS: usize = 31;

/// What a calibration found.
pub struct CalibrateOutcome {
    pub run_id: String,
    pub observation_dates: Vec<NaiveDate>,
    /// Month starts in the range whose horizon has not landed yet.
    pub unlabelled: Vec<NaiveDate>,
    pub features: Vec<Feature>,
    pub calibrated: Calibrated,
    pub names: ModelNames,
    /// The new model as a pipeline-file fragment.
    pub fragment: String,
    pub tables: Vec<(String, u64)>,
}

/// Calibrates on the month starts from `from` through `to`, publishes the three tables and
/// the run log; `command` is the command line that asked (written into the fragment).
/// `observations_out` receives the observations and their features as a Parquet table.
pub async fn run_calibrate(
    pipeline: &Pipeline,
    from: NaiveDate,
    to: NaiveDate,
    command: &str,
    observations_out: Option<&Path>,
) -> Result<CalibrateOutcome> {
    let mut op = Operation::begin(pipeline, "calibrate").await?;
    let run_id = op.run.id.clone();
    let calibrated = calibrate_step(pipeline, &mut op, from, to, command, observations_out).await;
    let (outcome, publication, result) = match calibrated {
        Ok((outcome, publication)) => (Some(outcome), publication, Ok(())),
        Err(e) => (None, Publication::new(&run_id), Err(e)),
    };
    let tables = outcome
        .as_ref()
        .map(|o| o.tables.clone())
        .unwrap_or_default();
    let log = RunLog {
        tables: &tables,
        ..Default::default()
    };
    op.finish(publication, log, result).await?;
    Ok(outcome.expect("a successful calibration has an outcome"))
}

async fn calibrate_step(
    pipeline: &Pipeline,
    op: &mut Operation,
    from: NaiveDate,
    to: NaiveDate,
    command: &str,
    observations_out: Option<&Path>,
) -> Result<(CalibrateOutcome, Publication)> {
    let Some(model) = &pipeline.health else {
        return Err(Error::Usage(format!(
            "{} has no [health] section to calibrate against; copy the one in \
             pipelines/default.toml",
            pipeline.file.display()
        )));
    };
    if from > to {
        return Err(Error::Usage(format!(
            "--from {from} is after --to {to}; give the earlier date first"
        )));
    }
    let started = std::time::Instant::now();
    let settings = &pipeline.calibration;
    let horizon = pipeline.retention.health_horizon_days;
    let lead = pipeline.retention.surprise_lead_days;
    let every = settings.observation_months.max(1) as usize;
    let starts: Vec<i32> = month_starts(from, to)
        .into_iter()
        .filter(|day| days_to_date(*day) >= from)
        .step_by(every)
        .collect();
    if starts.is_empty() {
        return Err(Error::Usage(format!(
            "no month starts from {from} through {to}; calibrate observes on month starts"
        )));
    }
    // An observation is labelled once its horizon has landed: o + horizon has input.
    let planner = Planner::open(&op.warehouse).await?;
    let ends: Vec<NaiveDate> = starts
        .iter()
        .map(|day| days_to_date(day + horizon as i32))
        .collect();
    let landed: BTreeSet<NaiveDate> = match dates_with_input(&planner, &ends).await {
        Ok((with, _)) => with.into_iter().collect(),
        Err(Error::NoInput(_)) => BTreeSet::new(),
        Err(e) => return Err(e),
    };
    let (observed, unlabelled): (Vec<i32>, Vec<i32>) = starts
        .iter()
        .partition(|day| landed.contains(&days_to_date(**day + horizon as i32)));
    if observed.is_empty() {
        return Err(Error::NoInput(format!(
            "no month start from {from} through {to} has its {horizon}-day horizon within \
             the data yet; calibrate needs history whose outcome is known"
        )));
    }
    let last = *observed.last().expect("observed dates");
    let boundaries = month_starts(
        days_to_date(observed[0]),
        days_to_date(last + horizon as i32),
    );
    let labels = calibration::labels(
        pipeline,
        &op.warehouse,
        &observed,
        &boundaries,
        horizon,
        lead,
    )
    .await?;

    // The customer rows and current scores of every observation and lead date.
    let dates: BTreeSet<i32> = observed
        .iter()
        .copied()
        .chain(labels.iter().filter_map(|l| l.lead_day))
        .collect();
    let dates: Vec<NaiveDate> = dates.into_iter().map(days_to_date).collect();
    let per_sweep = planner.dates_per_sweep(pipeline);
    let mut tables_dirs = Vec::new();
    for (pass, chunk) in dates.chunks(DATES_PER_PASS).enumerate() {
        let computed: BTreeSet<i32> = chunk.iter().map(|d| date_to_days(*d)).collect();
        let pass_dates = PassDates {
            requested: chunk.to_vec(),
            kind: PassKind::Dates,
            computed,
            reused: BTreeSet::new(),
            boundaries: Vec::new(),
            per_sweep,
        };
        let work = op.scratch().join(format!("calibrate-pass-{pass}"));
        let known = KnownScores {
            kept: BTreeSet::new(),
            passes: Vec::new(),
        };
        let built = marts::build(pipeline, &op.warehouse, &pass_dates, &work, None, &known).await?;
        tables_dirs.push(built.tables_dir);
    }

    let features = calibration::features(pipeline)?;
    let observations = calibration::observations(&tables_dirs, &labels, &features).await?;
    let fit_settings = Settings {
        test_share: settings.test_share,
        penalties: settings.penalties.clone(),
        skew_threshold: settings.skew_threshold,
        points_per_doubling: model.points_per_doubling,
        green_at: model.green_at,
        yellow_at: model.yellow_at,
    };
    let weights: Vec<Option<f64>> = features.iter().map(|f| f.component_weight).collect();
    let calibrated = learn::calibrate(&observations, &fit_settings, &weights)
        .map_err(|why| Error::Usage(format!("calibration: {why}")))?;
    if let Some(dir) = observations_out {
        calibration::write_observations(&observations, &calibrated, &features, dir).await?;
    }
    let names = ModelNames {
        name: model.name.clone(),
        current_version: model.version,
        new_version: model.version + 1,
    };
    let dir = op.scratch().join("calibration");
    let tables = calibration::write_tables(&calibrated, &features, &names, &dir).await?;
    let mut publication = Publication::new(&op.run.id);
    for (table, _) in &tables {
        publication
            .replace_tree(
                &op.warehouse,
                op.scratch(),
                &format!("calibration/{table}"),
                table,
            )
            .await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    for (table, rows) in &tables {
        op.step(Step::table(table, *rows, seconds));
    }
    let fragment = model_fragment(model, &features, &calibrated, &names, command, horizon);
    let outcome = CalibrateOutcome {
        run_id: op.run.id.clone(),
        observation_dates: observed.iter().map(|d| days_to_date(*d)).collect(),
        unlabelled: unlabelled.iter().map(|d| days_to_date(*d)).collect(),
        features,
        calibrated,
        names,
        fragment,
        tables,
    };
    Ok((outcome, publication))
}

/// A TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The new model as the `[health]` section of a pipeline file.
fn model_fragment(
    current: &HealthModel,
    features: &[Feature],
    calibrated: &Calibrated,
    names: &ModelNames,
    command: &str,
    horizon: u32,
) -> String {
    let model = &calibrated.model;
    let test = |which: &str| {
        calibrated
            .evaluations
            .iter()
            .find(|e| e.model == which && e.split == "test")
            .and_then(|e| e.auc)
            .map_or("-".to_string(), |auc| format!("{auc:.3}"))
    };
    let first = |dates: &[i32]| days_to_date(dates[0]);
    let last = |dates: &[i32]| days_to_date(*dates.last().expect("a date"));
    let mut text = format!(
        "# Calibrated by `{command}`.\n\
         # Trained on the observations of {} to {}, tested on those of {} to {}:\n\
         # test AUC {} (v{} had {}). Replace the [health] section and its\n\
         # [[health.components]] with these lines, review them, commit, then backfill to\n\
         # rebuild the baseline with v{}.\n\
         [health]\n\
         name = {}\n\
         version = {}\n\
         kind = \"logistic\"\n\
         intercept = {:?}\n\
         base_rate = {:?}\n\
         points_per_doubling = {:?}\n\
         horizon_days = {horizon}\n\
         green_at = {:?}\n\
         yellow_at = {:?}\n\
         trend_threshold = {:?}\n\
         reasons = {}\n",
        first(&calibrated.train_dates),
        last(&calibrated.train_dates),
        first(&calibrated.test_dates),
        last(&calibrated.test_dates),
        test("calibrated"),
        names.current_version,
        test("current"),
        names.new_version,
        quoted(&current.name),
        names.new_version,
        model.fit.intercept,
        model.base_rate,
        model.points_per_doubling,
        model.green_at,
        model.yellow_at,
        current.trend_threshold,
        current.reasons,
    );
    for ((feature, transform), coefficient) in features
        .iter()
        .zip(&model.transforms)
        .zip(&model.fit.coefficients)
    {
        text.push_str(&format!(
            "\n[[health.components]]\n\
             name = {}\n\
             metric = {}\n\
             transform = \"{}\"\n\
             mean = {:?}\n\
             std = {:?}\n\
             fill = {:?}\n\
             coefficient = {:?}\n",
            quoted(&feature.name),
            quoted(&feature.sql),
            if transform.log { "log" } else { "none" },
            transform.mean,
            transform.std,
            transform.fill,
            coefficient,
        ));
    }
    text
}
