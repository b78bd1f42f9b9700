//! The SQL side of `churnlake calibrate` (contract §6): the observations and their labels
//! (sql/marts/calibration_observations.sql), the features read from the customer rows of
//! the observation and lead dates, and the tables the results become. The fitting itself
//! is `crate::learn`; which dates are built and what is published is the pipeline's.

use super::catalog::date_table;
use crate::config::Pipeline;
use crate::engine::EngineContext;
use crate::engine::{self, WriteOrder, warehouse::Warehouse};
use crate::learn::{Calibrated, Observations};
use crate::marts::{Error, Result};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const OBSERVATIONS_SQL: &str = include_str!("../../sql/marts/calibration_observations.sql");

/// The tables calibrate writes, rewritten whole by each run, with their grain.
pub const CALIBRATION_TABLES: [(&str, &[&str]); 3] = [
    ("metric_cohorts", &["model_version", "feature", "decile"]),
    (
        "model_evaluation",
        &["model_name", "model_version", "split"],
    ),
    (
        "model_features",
        &["model_name", "model_version", "feature"],
    ),
];

/// A feature of the regression: what it is called and its SQL over a customer_daily row.
#[derive(Debug, Clone)]
pub struct Feature {
    pub name: String,
    pub sql: String,
    /// The current model's weight when the feature is one of its components.
    pub component_weight: Option<f64>,
}

/// The features `[calibration] features` names: a health component (its metric), a metric
/// (`m_<name>` or `<name>`), or a customer_daily column; none named, every component of
/// the current model.
pub fn features(pipeline: &Pipeline) -> Result<Vec<Feature>> {
    let Some(model) = &pipeline.health else {
        return Err(Error::Model(
            "calibrate needs a [health] section (the current model)".into(),
        ));
    };
    let weight = |c: &crate::config::Component| (!model.is_logistic()).then(|| c.weight());
    let component = |name: &str| {
        model
            .components
            .iter()
            .find(|c| c.name == name)
            .map(|c| Feature {
                name: c.name.clone(),
                sql: c.metric.clone(),
                component_weight: weight(c),
            })
    };
    if pipeline.calibration.features.is_empty() {
        return Ok(model
            .components
            .iter()
            .filter_map(|c| component(&c.name))
            .collect());
    }
    let mut features = Vec::new();
    for name in &pipeline.calibration.features {
        let metric = pipeline
            .metrics
            .iter()
            .find(|m| m.column() == *name || m.name == *name);
        let feature = match (component(name), metric) {
            (Some(feature), _) => feature,
            (None, Some(metric)) => Feature {
                name: metric.column(),
                sql: metric.column(),
                component_weight: None,
            },
            (None, None) => Feature {
                name: name.clone(),
                sql: name.clone(),
                component_weight: None,
            },
        };
        if features.iter().any(|f: &Feature| f.name == feature.name) {
            return Err(Error::Model(format!(
                "[calibration] features names `{}` twice",
                feature.name
            )));
        }
        features.push(feature);
    }
    Ok(features)
}

/// One observation's label.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub account_id: String,
    pub observation_day: i32,
    pub churned: bool,
    /// A churner's lead day: `lead_days` before its churn day.
    pub lead_day: Option<i32>,
}

/// The observations on `observation_days` and their labels, from the staged contract lines.
pub async fn labels(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    observation_days: &[i32],
    boundaries: &[i32],
    horizon_days: u32,
    lead_days: u32,
) -> Result<Vec<Label>> {
    let ctx = engine::session();
    crate::staging::register_staged(&ctx, warehouse).await?;
    ctx.register_table(
        "observation_dates",
        Arc::new(day_table("observation_day", observation_days)?),
    )
    .context("observation_dates")?;
    ctx.register_table(
        "month_boundaries",
        Arc::new(date_table("boundary", boundaries)?),
    )
    .context("month_boundaries")?;
    let sql = OBSERVATIONS_SQL
        .replace(
            "${min_tenure_days}",
            &pipeline.calibration.min_tenure_days.to_string(),
        )
        .replace("${horizon_days}", &horizon_days.to_string())
        .replace("${lead_days}", &lead_days.to_string());
    let batches = engine::query(&ctx, &sql).await?;
    let mut labels = Vec::new();
    for batch in &batches {
        let accounts = text(batch, 0)?;
        let days = integers(batch, 1)?;
        let churned = batch.column(2).as_boolean().clone();
        let leads = integers(batch, 4)?;
        for row in 0..batch.num_rows() {
            labels.push(Label {
                account_id: accounts.value(row).to_string(),
                observation_day: days.value(row),
                churned: churned.value(row),
                lead_day: leads.is_valid(row).then(|| leads.value(row)),
            });
        }
    }
    Ok(labels)
}

/// A one-column table of day numbers.
fn day_table(column: &str, days: &[i32]) -> Result<MemTable> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        column,
        DataType::Int32,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int32Array::from(days.to_vec()))],
    )
    .context(column.to_string())?;
    Ok(MemTable::try_new(schema, vec![vec![batch]]).context(column.to_string())?)
}

fn text(batch: &RecordBatch, column: usize) -> Result<StringArray> {
    let values = cast(batch.column(column), &DataType::Utf8).context("calibration")?;
    Ok(values.as_string::<i32>().clone())
}

fn integers(batch: &RecordBatch, column: usize) -> Result<Int32Array> {
    let values = cast(batch.column(column), &DataType::Int32).context("calibration")?;
    Ok(values.as_primitive::<Int32Type>().clone())
}

fn doubles(batch: &RecordBatch, column: usize) -> Result<Float64Array> {
    let values = cast(batch.column(column), &DataType::Float64).context("calibration")?;
    Ok(values.as_primitive::<Float64Type>().clone())
}

/// The observations with their features, read from the customer rows and scores the
/// build passes wrote under `tables_dirs` for the observation and lead dates.
pub async fn observations(
    tables_dirs: &[PathBuf],
    labels: &[Label],
    features: &[Feature],
) -> Result<Observations> {
    let ctx = engine::session();
    super::register_functions(&ctx);
    for table in ["customer_daily", "health_scores"] {
        let mut parts = Vec::new();
        for (pass, dir) in tables_dirs.iter().enumerate() {
            let name = format!("{table}_{pass}");
            let partition = Some(("as_of_date", DataType::Date32));
            engine::register_table(&ctx, &name, &dir.join(table), partition).await?;
            parts.push(format!("select * from {name}"));
        }
        let all = ctx
            .sql(&parts.join(" union all "))
            .await
            .context(table.to_string())?;
        ctx.register_table(format!("{table}_all"), all.into_view())
            .context(table.to_string())?;
    }
    register_labels(&ctx, labels)?;
    let customer = ctx
        .table("customer_daily_all")
        .await
        .context("customer_daily")?;
    let columns: Vec<String> = customer
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    for feature in features {
        if let Err(why) = super::expressions::check(
            &feature.sql,
            &Arc::new(customer.schema().as_arrow().clone()),
            false,
        )
        .await
        {
            return Err(Error::Model(format!(
                "[calibration] feature `{}` is not a component, a metric or a customer_daily \
                 column ({why}); customer_daily has {}",
                feature.name,
                columns.join(", ")
            )));
        }
    }
    let values: String = features
        .iter()
        .enumerate()
        .map(|(i, f)| format!(", cast(({}) as double) as f_{i}", f.sql))
        .collect();
    let at = |alias: &str| -> String {
        (0..features.len())
            .map(|i| format!(", {alias}.f_{i} as {alias}_{i}"))
            .collect()
    };
    let sql = format!(
        "with features as (
            select account_id, cast(as_of_date as int) as day{values}
            from customer_daily_all
        ),
        scores as (
            select account_id, cast(as_of_date as int) as day, score, band
            from health_scores_all
        )
        select observed.observation_day, observed.churned, observed.lead_day,
            current.score, lead_score.band as lead_band, lead.account_id is not null as has_lead
            {now}{then}, observed.account_id
        from observed
        join features as now
            on now.account_id = observed.account_id and now.day = observed.observation_day
        left join scores as current
            on current.account_id = observed.account_id and current.day = observed.observation_day
        left join features as lead
            on lead.account_id = observed.account_id and lead.day = observed.lead_day
        left join scores as lead_score
            on lead_score.account_id = observed.account_id and lead_score.day = observed.lead_day
        order by observed.observation_day, observed.account_id",
        now = at("now"),
        then = at("lead"),
    );
    let batches = engine::query(&ctx, &sql).await?;
    let mut obs = Observations {
        features: vec![Vec::new(); features.len()],
        lead_features: vec![Vec::new(); features.len()],
        ..Default::default()
    };
    let option = |array: &Float64Array, row: usize| {
        (array.is_valid(row) && array.value(row).is_finite()).then(|| array.value(row))
    };
    for batch in &batches {
        let days = integers(batch, 0)?;
        let churned = batch.column(1).as_boolean().clone();
        let scores = doubles(batch, 3)?;
        let bands = text(batch, 4)?;
        let has_lead: BooleanArray = batch.column(5).as_boolean().clone();
        let now: Vec<Float64Array> = (0..features.len())
            .map(|i| doubles(batch, 6 + i))
            .collect::<Result<_>>()?;
        let lead: Vec<Float64Array> = (0..features.len())
            .map(|i| doubles(batch, 6 + features.len() + i))
            .collect::<Result<_>>()?;
        let accounts = text(batch, 6 + 2 * features.len())?;
        for row in 0..batch.num_rows() {
            obs.accounts.push(accounts.value(row).to_string());
            obs.days.push(days.value(row));
            obs.churned.push(churned.value(row));
            obs.current_score.push(option(&scores, row));
            obs.lead_band
                .push(bands.is_valid(row).then(|| bands.value(row).to_string()));
            obs.has_lead.push(has_lead.value(row));
            for (i, values) in now.iter().enumerate() {
                obs.features[i].push(option(values, row));
            }
            for (i, values) in lead.iter().enumerate() {
                obs.lead_features[i].push(option(values, row));
            }
        }
    }
    Ok(obs)
}

fn register_labels(ctx: &SessionContext, labels: &[Label]) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("observation_day", DataType::Int32, false),
        Field::new("churned", DataType::Boolean, false),
        Field::new("lead_day", DataType::Int32, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            labels.iter().map(|l| l.account_id.as_str()),
        )),
        Arc::new(Int32Array::from_iter_values(
            labels.iter().map(|l| l.observation_day),
        )),
        Arc::new(BooleanArray::from(
            labels.iter().map(|l| l.churned).collect::<Vec<_>>(),
        )),
        Arc::new(Int32Array::from(
            labels.iter().map(|l| l.lead_day).collect::<Vec<_>>(),
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).context("observations")?;
    let table = MemTable::try_new(schema, vec![vec![batch]]).context("observations")?;
    ctx.register_table("observed", Arc::new(table))
        .context("observations")?;
    Ok(())
}

/// The names of the current model and the new one, for the tables' `model_name` and
/// `model_version` columns.
pub struct ModelNames {
    pub name: String,
    pub current_version: u32,
    pub new_version: u32,
}

/// Writes `metric_cohorts`, `model_evaluation` and `model_features` under `dir`; returns the
/// rows of each.
pub async fn write_tables(
    calibrated: &Calibrated,
    features: &[Feature],
    names: &ModelNames,
    dir: &Path,
) -> Result<Vec<(String, u64)>> {
    let ctx = engine::session();
    let mut written = Vec::new();
    for (table, batch) in [
        (
            "metric_cohorts",
            cohorts_batch(calibrated, features, names)?,
        ),
        ("model_evaluation", evaluation_batch(calibrated, names)?),
        (
            "model_features",
            features_batch(calibrated, features, names)?,
        ),
    ] {
        let df = ctx.read_batch(batch).context(table.to_string())?;
        let rows =
            engine::write_table(df, table, &dir.join(table), None, WriteOrder::AsItComes).await?;
        written.push((table.to_string(), rows));
    }
    Ok(written)
}

/// Writes the observations as a table under `dir` (one Parquet file): account_id,
/// observation_date, split, churned, then each feature raw (`<name>`) and standardised as
/// the model takes it (`<name>_z`) — for checking the fit with other tools.
pub async fn write_observations(
    obs: &Observations,
    calibrated: &Calibrated,
    features: &[Feature],
    dir: &Path,
) -> Result<u64> {
    let test: std::collections::BTreeSet<i32> = calibrated.test_dates.iter().copied().collect();
    let mut fields = vec![
        ("account_id".to_string(), DataType::Utf8),
        ("observation_date".to_string(), DataType::Date32),
        ("split".to_string(), DataType::Utf8),
        ("churned".to_string(), DataType::Boolean),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        strings(obs.accounts.iter().map(String::as_str)),
        Arc::new(datafusion::arrow::array::Date32Array::from(
            obs.days.clone(),
        )),
        strings(
            obs.days
                .iter()
                .map(|d| if test.contains(d) { "test" } else { "train" }),
        ),
        Arc::new(BooleanArray::from(obs.churned.clone())),
    ];
    for (i, feature) in features.iter().enumerate() {
        let transform = &calibrated.model.transforms[i];
        fields.push((feature.name.clone(), DataType::Float64));
        columns.push(float(obs.features[i].iter().copied()));
        fields.push((format!("{}_z", feature.name), DataType::Float64));
        columns.push(float(
            obs.features[i].iter().map(|v| Some(transform.apply(*v))),
        ));
    }
    let batch = batch(
        fields
            .iter()
            .map(|(n, t)| (n.as_str(), t.clone()))
            .collect(),
        columns,
    )?;
    let ctx = engine::session();
    let df = ctx.read_batch(batch).context("observations")?;
    Ok(engine::write_table(df, "observations", dir, None, WriteOrder::AsItComes).await?)
}

fn float(values: impl IntoIterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(values.into_iter().collect::<Vec<_>>()))
}

fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn counts(values: impl IntoIterator<Item = usize>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(
        values.into_iter().map(|v| v as i64),
    ))
}

fn batch(fields: Vec<(&str, DataType)>, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    let schema = Schema::new(
        fields
            .into_iter()
            .map(|(name, kind)| Field::new(name, kind, true))
            .collect::<Vec<_>>(),
    );
    Ok(RecordBatch::try_new(Arc::new(schema), columns).context("calibration tables")?)
}

/// The cohorts, under the version of the model they were computed for.
fn cohorts_batch(
    calibrated: &Calibrated,
    features: &[Feature],
    names: &ModelNames,
) -> Result<RecordBatch> {
    let rows: Vec<(&Feature, &crate::learn::evaluate::Cohort)> = features
        .iter()
        .zip(&calibrated.cohorts)
        .flat_map(|(f, cohorts)| cohorts.iter().map(move |c| (f, c)))
        .collect();
    batch(
        vec![
            ("model_version", DataType::Int64),
            ("feature", DataType::Utf8),
            ("decile", DataType::Int32),
            ("observations", DataType::Int64),
            ("churners", DataType::Int64),
            ("churn_rate", DataType::Float64),
            ("min_value", DataType::Float64),
            ("max_value", DataType::Float64),
            ("mean_value", DataType::Float64),
        ],
        vec![
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|_| i64::from(names.new_version)),
            )),
            strings(rows.iter().map(|(f, _)| f.name.as_str())),
            Arc::new(Int32Array::from(
                rows.iter()
                    .map(|(_, c)| c.decile.map(|d| d as i32))
                    .collect::<Vec<_>>(),
            )),
            counts(rows.iter().map(|(_, c)| c.observations)),
            counts(rows.iter().map(|(_, c)| c.churners)),
            float(rows.iter().map(|(_, c)| Some(c.churn_rate()))),
            float(rows.iter().map(|(_, c)| c.min_value)),
            float(rows.iter().map(|(_, c)| c.max_value)),
            float(rows.iter().map(|(_, c)| c.mean_value)),
        ],
    )
}

/// The model version (Int64, as `health_scores.model_version`).
fn version_of(names: &ModelNames, model: &str) -> i64 {
    if model == "current" {
        names.current_version.into()
    } else {
        names.new_version.into()
    }
}

fn evaluation_batch(calibrated: &Calibrated, names: &ModelNames) -> Result<RecordBatch> {
    let rows = &calibrated.evaluations;
    let dates = |split: &str| {
        if split == "train" {
            &calibrated.train_dates
        } else {
            &calibrated.test_dates
        }
    };
    batch(
        vec![
            ("model_name", DataType::Utf8),
            ("model_version", DataType::Int64),
            ("model", DataType::Utf8),
            ("split", DataType::Utf8),
            ("first_date", DataType::Date32),
            ("last_date", DataType::Date32),
            ("observations", DataType::Int64),
            ("churners", DataType::Int64),
            ("auc", DataType::Float64),
            ("log_loss", DataType::Float64),
            ("brier", DataType::Float64),
            ("lift_top_decile", DataType::Float64),
            ("surprise_churn_rate", DataType::Float64),
            ("green_share", DataType::Float64),
            ("penalty", DataType::Float64),
        ],
        vec![
            strings(rows.iter().map(|_| names.name.as_str())),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|e| version_of(names, e.model)),
            )),
            strings(rows.iter().map(|e| e.model)),
            strings(rows.iter().map(|e| e.split)),
            Arc::new(datafusion::arrow::array::Date32Array::from_iter_values(
                rows.iter().map(|e| dates(e.split)[0]),
            )),
            Arc::new(datafusion::arrow::array::Date32Array::from_iter_values(
                rows.iter().map(|e| *dates(e.split).last().expect("a date")),
            )),
            counts(rows.iter().map(|e| e.observations)),
            counts(rows.iter().map(|e| e.churners)),
            float(rows.iter().map(|e| e.auc)),
            float(rows.iter().map(|e| e.log_loss)),
            float(rows.iter().map(|e| e.brier)),
            float(rows.iter().map(|e| e.lift_top_decile)),
            float(rows.iter().map(|e| e.surprise_churn_rate)),
            float(rows.iter().map(|e| e.green_share)),
            float(
                rows.iter()
                    .map(|e| (e.model == "calibrated").then_some(calibrated.model.penalty)),
            ),
        ],
    )
}

fn features_batch(
    calibrated: &Calibrated,
    features: &[Feature],
    names: &ModelNames,
) -> Result<RecordBatch> {
    let rows = &calibrated.weights;
    let transforms = &calibrated.model.transforms;
    let calibrated_only =
        |w: &crate::learn::FeatureWeight, value: f64| (w.model == "calibrated").then_some(value);
    batch(
        vec![
            ("model_name", DataType::Utf8),
            ("model_version", DataType::Int64),
            ("model", DataType::Utf8),
            ("feature", DataType::Utf8),
            ("metric", DataType::Utf8),
            ("transform", DataType::Utf8),
            ("mean", DataType::Float64),
            ("std", DataType::Float64),
            ("missing", DataType::Int64),
            ("coefficient", DataType::Float64),
            ("weight_share", DataType::Float64),
            ("auc_alone", DataType::Float64),
        ],
        vec![
            strings(rows.iter().map(|_| names.name.as_str())),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|w| version_of(names, w.model)),
            )),
            strings(rows.iter().map(|w| w.model)),
            strings(rows.iter().map(|w| features[w.feature].name.as_str())),
            strings(rows.iter().map(|w| features[w.feature].sql.as_str())),
            strings(rows.iter().map(|w| {
                if w.model != "calibrated" {
                    ""
                } else if transforms[w.feature].log {
                    "log"
                } else {
                    "none"
                }
            })),
            float(
                rows.iter()
                    .map(|w| calibrated_only(w, transforms[w.feature].mean)),
            ),
            float(
                rows.iter()
                    .map(|w| calibrated_only(w, transforms[w.feature].std)),
            ),
            counts(rows.iter().map(|w| transforms[w.feature].missing)),
            float(rows.iter().map(|w| w.coefficient)),
            float(rows.iter().map(|w| Some(w.weight_share))),
            float(rows.iter().map(|w| w.auc_alone)),
        ],
    )
}
