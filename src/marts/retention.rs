//! The tables rewritten whole by every build (contract §5): `mrr_monthly`, `retention_monthly`,
//! `retention_forecast`, `churn_cohorts` and `health_cohorts` as complete at the as-of date,
//! from the boundary snapshots of the contract lines, with the retention equation checked
//! for every month and segment.

use super::build::PRIOR_HEALTH_COLUMNS;
use super::catalog::{WHOLE_TABLES, check_grain, date_table};
use crate::config::Pipeline;
use crate::engine::EngineContext;
use crate::engine::{self, WriteOrder};
use crate::marts::{Error, Result};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use std::path::Path;
use std::sync::Arc;

/// MRR of every account at every month start (`month_boundaries`), read by the retention
/// models that work on boundary snapshots.
pub(super) const BOUNDARY_SNAPSHOTS_SQL: &str =
    include_str!("../../sql/marts/boundary_snapshots.sql");

/// The variables of the whole tables' SQL: the as-of date and the `[retention]` settings.
pub(super) fn retention_vars(pipeline: &Pipeline, as_of: NaiveDate) -> Vec<(&'static str, String)> {
    let settings = &pipeline.retention;
    vec![
        ("as_of", as_of.to_string()),
        ("gross_margin", format!("{:?}", settings.gross_margin)),
        (
            "trailing_months",
            settings.forecast_trailing_months.to_string(),
        ),
        ("forecast_months", settings.forecast_months.to_string()),
        ("horizon_days", settings.health_horizon_days.to_string()),
        ("lead_days", settings.surprise_lead_days.to_string()),
        (
            "every_months",
            settings.health_observation_months.to_string(),
        ),
    ]
}

/// `mrr_monthly` and `retention_monthly` from the lines visible at `as_of`, with the
/// retention equation checked for every month and segment.
pub(super) async fn build_retention(
    ctx: &SessionContext,
    pipeline: &Pipeline,
    as_of: NaiveDate,
    boundaries: &[i32],
    dir: &Path,
) -> Result<Vec<(String, u64)>> {
    ctx.register_table(
        "month_boundaries",
        Arc::new(date_table("boundary", boundaries)?),
    )
    .context("month_boundaries")?;
    let snapshots =
        engine::run_model(ctx, "boundary_snapshots", BOUNDARY_SNAPSHOTS_SQL, &[]).await?;
    ctx.register_table("boundary_snapshots", snapshots.into_view())
        .context("boundary_snapshots")?;
    let cohort_health = ctx
        .sql(&format!(
            "select {PRIOR_HEALTH_COLUMNS} from health_scores_all \
             union all select {PRIOR_HEALTH_COLUMNS} from prior_health"
        ))
        .await
        .context("cohort_health")?;
    ctx.register_table("cohort_health", cohort_health.into_view())
        .context("cohort_health")?;
    let values = retention_vars(pipeline, as_of);
    let vars: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut written = Vec::new();
    for table in &WHOLE_TABLES {
        let df = engine::run_model(ctx, table.name, table.sql, &vars).await?;
        let path = dir.join(table.name);
        let rows = engine::write_table(df, table.name, &path, None, WriteOrder::Sort).await?;
        engine::register_table(ctx, &format!("{}_all", table.name), &path, None).await?;
        written.push((table.name.to_string(), rows));
    }

    let broken = engine::query(
        ctx,
        "select cast(month as varchar), segment from retention_monthly_all \
         where mrr_end <> mrr_start + new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr - churned_mrr \
         order by 1, 2 limit 5",
    )
    .await?;
    if let Some(row) = engine::string_rows(&broken).first() {
        return Err(Error::Check(format!(
            "the retention equation does not hold for month {} segment {}",
            row[0], row[1]
        )));
    }
    for table in &WHOLE_TABLES {
        check_grain(ctx, table.name, table.grain, "").await?;
    }
    Ok(written)
}
