//! A session for specifying the marts' SQL in `.slt` files beside the models (DataFusion's
//! habit): every input of the models is an empty table, with the schema the pipeline gives
//! it, that a spec fills with `insert into`; every model is a view over them, planned with
//! the pipeline's rules, as of [`SPEC_AS_OF`] for the whole tables and over the sweep
//! [`SPEC_SWEEP`] for `window_figures`. The specs run in `tests/sqllogictests.rs`.
//!
//! Inputs: the published `stg_*` tables, `as_of_dates`, `month_boundaries`, `window_figures`
//! (the figures the sweep gives), `last_active_months` and `cohort_health`. Views:
//! `customer_daily`, `window_figure_changes` (window_figures.sql: the sweep's rows),
//! `boundary_snapshots` and every whole table with its `<name>_all`.

use super::build::PRIOR_HEALTH_COLUMNS;
use super::catalog::{WHOLE_TABLES, customer_daily_sql};
use super::check::planning_session;
use super::retention::{BOUNDARY_SNAPSHOTS_SQL, retention_vars};
use super::window_figures::window_figures_sql;
use crate::base::days::date_to_days;
use crate::config::Pipeline;
use crate::engine::{self, EngineContext};
use crate::marts::Result;
use crate::staging::models::STAGING_MODELS;
use chrono::NaiveDate;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// The as-of date of the whole tables' views.
pub const SPEC_AS_OF: &str = "2026-06-30";

/// The first and last date `window_figure_changes` sweeps (its `as_of_dates` lie between).
pub const SPEC_SWEEP: (&str, &str) = ("2026-01-01", "2026-06-30");

/// The spec session for `pipeline` (see the module documentation).
pub async fn spec_session(pipeline: &Pipeline) -> Result<SessionContext> {
    let planning = planning_session(&pipeline.metrics).await?;
    let ctx = engine::session();
    super::register_functions(&ctx);
    let mut inputs: Vec<(String, SchemaRef)> = Vec::new();
    for model in STAGING_MODELS.iter().filter(|m| m.published) {
        let table = planning.table(model.name).await.context(model.name)?;
        inputs.push((
            model.name.to_string(),
            Arc::new(table.schema().as_arrow().clone()),
        ));
    }
    for name in ["window_figures", "last_active_months"] {
        let table = planning.table(name).await.context(name)?;
        inputs.push((
            name.to_string(),
            Arc::new(table.schema().as_arrow().clone()),
        ));
    }
    let date = |name: &str| Arc::new(Schema::new(vec![Field::new(name, DataType::Date32, false)]));
    inputs.push(("as_of_dates".into(), date("as_of_date")));
    inputs.push(("month_boundaries".into(), date("boundary")));
    let health = planning
        .sql(&format!("select {PRIOR_HEALTH_COLUMNS} from prior_health"))
        .await
        .context("cohort_health")?;
    inputs.push((
        "cohort_health".into(),
        Arc::new(health.schema().as_arrow().clone()),
    ));
    for (name, schema) in inputs {
        let table = MemTable::try_new(schema, vec![vec![]]).context(name.clone())?;
        ctx.register_table(name.as_str(), Arc::new(table))
            .context(name)?;
    }
    let day = |text: &str| date_to_days(text.parse::<NaiveDate>().expect("a spec date"));
    let as_of: NaiveDate = SPEC_AS_OF.parse().expect("a spec date");
    let values = retention_vars(pipeline, as_of);
    let vars: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut views = vec![
        ("customer_daily".to_string(), customer_daily_sql(pipeline)),
        (
            "window_figure_changes".to_string(),
            window_figures_sql(&pipeline.metrics, day(SPEC_SWEEP.0), day(SPEC_SWEEP.1)),
        ),
        (
            "boundary_snapshots".to_string(),
            BOUNDARY_SNAPSHOTS_SQL.to_string(),
        ),
    ];
    for table in &WHOLE_TABLES {
        views.push((table.name.to_string(), table.sql.to_string()));
    }
    for (name, sql) in views {
        let view = engine::run_model(&ctx, &name, &sql, &vars).await?;
        ctx.register_table(name.as_str(), view.into_view())
            .context(name.clone())?;
        if WHOLE_TABLES.iter().any(|t| t.name == name) {
            let all = ctx
                .sql(&format!("select * from {name}"))
                .await
                .context(name.clone())?;
            ctx.register_table(format!("{name}_all"), all.into_view())
                .context(name)?;
        }
    }
    Ok(ctx)
}
