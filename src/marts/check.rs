//! Checking the pipeline file's SQL expressions (maturity and touch rules, health metrics,
//! playbook conditions and messages) against the columns each may name, by planning the
//! marts over empty staged tables. Every failing expression is returned, not the first.

use super::build::empty_prior_health;
use super::catalog::{as_of_table, customer_daily_sql};
use super::expressions;
use super::window_figures::window_figures_sql;
use super::{health, last_active, sweep};
use crate::config::Pipeline;
use crate::contract::SourceKind;
use crate::engine;
use crate::engine::EngineContext;
use crate::ingest::shape::raw_tables;
use crate::marts::Result;
use crate::staging::models::STAGING_MODELS;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A session holding empty staged tables, for planning marts without data.
pub(super) async fn planning_session(metrics: &[crate::config::Metric]) -> Result<SessionContext> {
    let ctx = engine::session();
    super::register_functions(&ctx);
    for kind in SourceKind::ALL {
        for table in raw_tables(kind) {
            let schema = crate::base::table_file::schema_of(&table.all_columns());
            let empty = MemTable::try_new(schema, vec![vec![]]).context("empty raw table")?;
            ctx.register_table(format!("raw_{}_files", table.name), Arc::new(empty))
                .context("empty raw table")?;
        }
    }
    crate::staging::register_raw_views(&ctx, &[]).await?;
    for model in STAGING_MODELS {
        let sql = model
            .sql()
            .replace("${reporting_currency}", "USD")
            .replace("${identities}", "stg_identities");
        let df = ctx
            .sql(&sql)
            .await
            .context(format!("planning {}", model.name))?;
        ctx.register_table(model.name, df.into_view())
            .context(format!("planning {}", model.name))?;
    }
    ctx.register_table("as_of_dates", Arc::new(as_of_table(&BTreeSet::new())?))
        .context("as_of_dates")?;
    ctx.register_table("prior_health", Arc::new(empty_prior_health()?))
        .context("prior_health")?;
    last_active::register_empty(&ctx)?;
    let sweep = ctx
        .sql(&window_figures_sql(metrics, 0, 0))
        .await
        .context("planning window_figures")?;
    let figures = engine::BatchStep::schema(&sweep::RunningSums::new(sweep.schema().as_arrow())?);
    let empty = MemTable::try_new(figures, vec![vec![]]).context("planning window_figures")?;
    ctx.register_table("window_figures", Arc::new(empty))
        .context("planning window_figures")?;
    Ok(ctx)
}

/// Checks every SQL expression of the pipeline file against the columns it may name: each
/// failing one as (expression text, problem), for the pipeline file's problem list.
pub async fn expression_problems(pipeline: &Pipeline) -> Result<Vec<(String, String)>> {
    let mut problems = metric_problems(pipeline).await?;
    if !problems.is_empty() {
        return Ok(problems);
    }
    let ctx = planning_session(&pipeline.metrics).await?;
    let mut bare = pipeline.clone();
    bare.maturity.clear();
    bare.touch.clear();
    let customer = ctx
        .sql(&customer_daily_sql(&bare))
        .await
        .context("planning customer_daily")?;
    let customer_schema: SchemaRef = Arc::new(customer.schema().as_arrow().clone());
    let rule_row = expressions::without(&customer_schema, &["maturity_level", "touch_model"]);
    let mut checks: Vec<ExpressionCheck> = Vec::new();
    for rule in &pipeline.maturity {
        checks.push(ExpressionCheck::new(
            &rule.when,
            &rule_row,
            true,
            format!("maturity level {}", rule.level),
        ));
    }
    for rule in &pipeline.touch {
        checks.push(ExpressionCheck::new(
            &rule.when,
            &rule_row,
            true,
            format!("touch model {}", rule.model),
        ));
    }
    if let Some(model) = &pipeline.health
        && !pipeline.calibration.features.is_empty()
    {
        // Components are checked below; a metric or column feature is checked here.
        let features = super::calibration::features(pipeline)?;
        for feature in features
            .iter()
            .filter(|f| !model.components.iter().any(|c| c.name == f.name))
        {
            let what = format!("[calibration] feature `{}`", feature.name);
            checks.push(ExpressionCheck::new(
                &feature.sql,
                &customer_schema,
                false,
                what,
            ));
        }
    }
    if let Some(model) = &pipeline.health {
        for component in &model.components {
            let what = format!("health component `{}`", component.name);
            checks.push(ExpressionCheck::new(
                &component.metric,
                &customer_schema,
                false,
                what,
            ));
        }
    }
    problems.extend(run_checks(checks).await);
    let Some(model) = &pipeline.health else {
        return Ok(problems);
    };
    if !problems.is_empty() {
        // Playbook rules see health columns, which exist only once the metrics plan; their
        // syntax can be checked regardless.
        for rule in &pipeline.playbook {
            if let Err(e) = expressions::parse(&rule.when) {
                problems.push((
                    rule.when.clone(),
                    format!("playbook rule `{}`: {e}", rule.id),
                ));
            }
        }
    } else {
        // The health row's columns exist only once the metrics plan.
        ctx.register_table("customer_daily_all", customer.into_view())
            .context("planning health")?;
        let scored = ctx
            .sql(&health::scored_sql(model))
            .await
            .map_err(|e| crate::engine::Error::query("planning health_scores", e))?;
        ctx.register_table("health_scored", scored.into_view())
            .context("planning health")?;
        let health = ctx
            .sql(&health::health_sql(model))
            .await
            .map_err(|e| crate::engine::Error::query("planning health_scores", e))?;
        let subject = subject_schema(&customer_schema, health.schema().as_arrow());
        let mut checks = Vec::new();
        for rule in &pipeline.playbook {
            checks.push(ExpressionCheck::new(
                &rule.when,
                &subject,
                true,
                format!("playbook rule `{}`", rule.id),
            ));
            match expressions::placeholders(&rule.message) {
                Ok(names) => {
                    for name in names {
                        let what = format!("message of playbook rule `{}`", rule.id);
                        checks.push(ExpressionCheck::new(&name, &subject, false, what));
                    }
                }
                Err(e) => problems.push((rule.message.clone(), e)),
            }
        }
        problems.extend(run_checks(checks).await);
    }
    Ok(problems)
}

/// The metrics' `where` conditions, checked against the event row they filter: the columns
/// of `stg_events`.
async fn metric_problems(pipeline: &Pipeline) -> Result<Vec<(String, String)>> {
    let ctx = planning_session(&[]).await?;
    let events = ctx
        .table("stg_events")
        .await
        .context("planning stg_events")?;
    let row: SchemaRef = Arc::new(events.schema().as_arrow().clone());
    let mut checks = Vec::new();
    for metric in &pipeline.metrics {
        if let crate::config::Definition::Events(measure) = &metric.definition
            && let Some(condition) = &measure.condition
        {
            let what = format!("`where` of metric `{}`", metric.name);
            checks.push(ExpressionCheck::new(condition, &row, true, what));
        }
    }
    Ok(run_checks(checks).await)
}

/// One expression to check, and what it is for the message.
struct ExpressionCheck {
    text: String,
    row: SchemaRef,
    boolean: bool,
    what: String,
}

impl ExpressionCheck {
    fn new(text: &str, row: &SchemaRef, boolean: bool, what: String) -> Self {
        ExpressionCheck {
            text: text.to_string(),
            row: row.clone(),
            boolean,
            what,
        }
    }
}

/// (expression text, problem) for every failing check.
async fn run_checks(checks: Vec<ExpressionCheck>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for check in checks {
        if let Err(e) = expressions::check(&check.text, &check.row, check.boolean).await {
            problems.push((check.text, format!("{}: {e}", check.what)));
        }
    }
    problems
}

/// The columns a playbook rule sees: the customer row, then the health row's own columns.
pub(super) fn subject_schema(customer: &Schema, health: &Schema) -> SchemaRef {
    let mut fields: Vec<Arc<Field>> = customer.fields().iter().cloned().collect();
    for field in health.fields() {
        if customer.field_with_name(field.name()).is_err() {
            fields.push(field.clone());
        }
    }
    Arc::new(Schema::new(fields))
}
