//! The marts' catalog: every table the marts write with its model file, grain and partition;
//! the customer table's SQL with the pipeline's rules filled in; the fingerprint of what
//! decides a date's rows; and the checks and registrations every pass shares.

use crate::config::Pipeline;
use crate::engine::EngineContext;
use crate::engine::{self, WriteOrder, warehouse::Warehouse};
use crate::marts::{Error, Result};
use crate::staging::models::STAGING_MODELS;
use datafusion::arrow::array::{Date32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

const CUSTOMER_DAILY_SQL: &str = include_str!("../../sql/marts/customer_daily.sql");

/// The windowed figures of customer_daily (usage, help site, tickets), computed for any set
/// of dates in one sweep over the history (a backfill computes them once for all its passes).
pub(super) const WINDOW_FIGURES_SQL: &str = include_str!("../../sql/marts/window_figures.sql");

/// A table rewritten whole by every build (contract §5): its model file and grain.
pub struct WholeTable {
    pub name: &'static str,
    pub sql: &'static str,
    pub grain: &'static [&'static str],
}

/// In dependency order: each model may read the `<name>_all` tables before it.
pub const WHOLE_TABLES: [WholeTable; 5] = [
    WholeTable {
        name: "mrr_monthly",
        sql: include_str!("../../sql/marts/mrr_monthly.sql"),
        grain: &["account_id", "month"],
    },
    WholeTable {
        name: "retention_monthly",
        sql: include_str!("../../sql/marts/retention_monthly.sql"),
        grain: &["month", "segment"],
    },
    WholeTable {
        name: "retention_forecast",
        sql: include_str!("../../sql/marts/retention_forecast.sql"),
        grain: &["month"],
    },
    WholeTable {
        name: "churn_cohorts",
        sql: include_str!("../../sql/marts/churn_cohorts.sql"),
        grain: &["cohort_month", "months_since_start"],
    },
    WholeTable {
        name: "health_cohorts",
        sql: include_str!("../../sql/marts/health_cohorts.sql"),
        grain: &["observation_date", "band"],
    },
];

/// A mart table with its grain; all are partitioned by `as_of_date`.
pub struct MartTable {
    pub name: &'static str,
    pub grain: &'static [&'static str],
}

pub const MART_TABLES: [MartTable; 3] = [
    MartTable {
        name: "customer_daily",
        grain: &["account_id", "as_of_date"],
    },
    MartTable {
        name: "health_scores",
        grain: &["account_id", "as_of_date"],
    },
    MartTable {
        name: "playbook_actions",
        grain: &["account_id", "as_of_date", "rule_id"],
    },
];

/// The SQL of customer_daily with the pipeline's lifecycle thresholds and rules filled in.
pub(super) fn customer_daily_sql(pipeline: &Pipeline) -> String {
    let maturity = if pipeline.maturity.is_empty() {
        "0".to_string()
    } else {
        let arms: Vec<String> = pipeline
            .maturity
            .iter()
            .map(|r| format!("when ({}) then {}", r.when, r.level))
            .collect();
        format!("case {} else 0 end", arms.join(" "))
    };
    let touch = if pipeline.touch.is_empty() {
        "cast(null as varchar)".to_string()
    } else {
        let arms: Vec<String> = pipeline
            .touch
            .iter()
            .map(|r| format!("when ({}) then '{}'", r.when, r.model))
            .collect();
        format!("case {} end", arms.join(" "))
    };
    let mut sql = CUSTOMER_DAILY_SQL.to_string();
    for (placeholder, piece) in super::metrics::customer_daily_pieces(&pipeline.metrics) {
        sql = sql.replace(placeholder, &piece);
    }
    sql.replace(
        "${onboarding_days}",
        &pipeline.lifecycle.onboarding_days.to_string(),
    )
    .replace(
        "${renewal_window_days}",
        &pipeline.lifecycle.renewal_window_days.to_string(),
    )
    .replace("${maturity_level}", &maturity)
    .replace("${touch_model}", &touch)
}

/// Hash of everything that decides a date's customer_daily and health rows from the raw
/// files: churnlake's version, the SQL of the staging models and of these marts, and the
/// pipeline settings they read. Published scores of another fingerprint are never reused.
pub fn model_fingerprint(pipeline: &Pipeline) -> String {
    use std::hash::Hasher;
    let mut hasher = twox_hash::XxHash3_64::default();
    let mut add = |text: &str| {
        hasher.write(text.as_bytes());
        hasher.write_u8(0);
    };
    add(env!("CARGO_PKG_VERSION"));
    add(&pipeline.timezone.to_string());
    add(&pipeline.reporting_currency);
    for model in STAGING_MODELS {
        add(&model.sql());
    }
    add(&customer_daily_sql(pipeline));
    add(&super::window_figures::window_figures_sql(
        &pipeline.metrics,
        0,
        0,
    ));
    if let Some(model) = &pipeline.health {
        add(&super::health::scored_sql(model));
        add(&super::health::health_sql(model));
    }
    format!("{:016x}", hasher.finish())
}

pub(super) fn as_of_table(dates: &BTreeSet<i32>) -> Result<MemTable> {
    date_table("as_of_date", &dates.iter().copied().collect::<Vec<_>>())
}

/// A one-column table of dates (days since the epoch).
pub(super) fn date_table(column: &str, days: &[i32]) -> Result<MemTable> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        column,
        DataType::Date32,
        false,
    )]));
    let values = Date32Array::from(days.to_vec());
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).context(column.to_string())?;
    Ok(MemTable::try_new(schema, vec![vec![batch]]).context(column.to_string())?)
}

/// Fails when `<table>_all` (restricted by `filter`) repeats a key of its grain.
pub(super) async fn check_grain(
    ctx: &SessionContext,
    table: &str,
    grain: &[&str],
    filter: &str,
) -> Result<()> {
    let key = grain.join(", ");
    let repeated = engine::query_count(
        ctx,
        &format!(
            "select count(*) from (select {key} from {table}_all {filter} group by {key} having count(*) > 1)"
        ),
    )
    .await?;
    if repeated > 0 {
        return Err(Error::Check(format!(
            "{table} is not unique on ({key}): {repeated} keys repeat"
        )));
    }
    Ok(())
}

pub(super) async fn write_and_register(
    ctx: &SessionContext,
    df: datafusion::prelude::DataFrame,
    name: &str,
    dir: &Path,
) -> Result<()> {
    let path = dir.join(name);
    engine::write_table(df, name, &path, Some("as_of_date"), WriteOrder::AsItComes).await?;
    let partition = Some(("as_of_date", DataType::Date32));
    engine::register_table(ctx, &format!("{name}_all"), &path, partition).await?;
    Ok(())
}

/// Registers the published mart tables of a warehouse, skipping those not built yet.
pub async fn register_marts(ctx: &SessionContext, warehouse: &Warehouse) -> Result<()> {
    warehouse.register_with(ctx);
    let whole = WHOLE_TABLES.iter().map(|t| t.name);
    let calibration = super::calibration::CALIBRATION_TABLES
        .iter()
        .map(|(t, _)| *t);
    for table in whole.chain(calibration) {
        engine::register_published(ctx, warehouse, table, None).await?;
    }
    for table in &MART_TABLES {
        let partition = Some(("as_of_date", DataType::Date32));
        engine::register_published(ctx, warehouse, table.name, partition).await?;
    }
    Ok(())
}
