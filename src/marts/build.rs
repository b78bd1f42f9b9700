//! One pass of the marts: `customer_daily`, `health_scores` and `playbook_actions` for the
//! dates a pass computes, and with the last pass the whole tables (see [`super::retention`]).
//!
//! The dates go into an `as_of_dates` table; every model joins its daily facts to it with
//! windows that end at the date, so a row for D never sees a later input (contract §3). Which
//! dates a pass computes and which scores it reuses is the pipeline's plan; what a pass
//! writes goes to its work directory, for the pipeline to publish.

use super::catalog::{
    MART_TABLES, as_of_table, check_grain, customer_daily_sql, write_and_register,
};
use super::check::subject_schema;
use super::history;
use super::retention::build_retention;
use super::window_figures::{
    register_dates_of, register_window_figures, run_scratch, write_window_figures,
};
use super::{health, playbook};
use crate::base::days::{days_to_date, sql_date_list};
use crate::base::error::FromFile;
use crate::config::Pipeline;
use crate::engine::EngineContext;
use crate::engine::{self, WriteOrder, warehouse::Warehouse};
use crate::marts::{Error, Result};
use chrono::NaiveDate;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What one pass of [`build`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassKind {
    /// The dated tables for its dates, with the scores 7 and 30 days before each.
    Dates,
    /// The same, and the whole tables as of its last date (with the scores of every month
    /// boundary).
    DatesAndWholeTables,
    /// Only the scores of its dates, kept in the health history for later passes to read:
    /// a cold build's month boundaries, computed in passes of bounded size instead of all
    /// in the pass that reads them.
    ScoresOnly,
}

/// What a build wrote into its work directory.
pub struct BuildOutcome {
    /// Table → rows written for the requested dates.
    pub tables: Vec<(String, u64)>,
    /// `<dir>/<table>/as_of_date=YYYY-MM-DD/` for each table and requested date.
    pub tables_dir: PathBuf,
    pub dates: Vec<NaiveDate>,
    /// Requested dates without input (before the first contract line, or after the latest
    /// dated row): not built.
    pub skipped: Vec<NaiveDate>,
    /// Every date computed, requested or read by one (its scores are kept under
    /// `<dir>/health_history/as_of_date=…/`).
    pub computed: Vec<NaiveDate>,
    /// Table → schema, so an empty table can still be read.
    pub schemas: Vec<(String, SchemaRef)>,
    /// Tables rewritten whole (`<dir>/<table>/`) → rows.
    pub whole_tables: Vec<(String, u64)>,
}

/// The dates one pass reads, as the pipeline planned them (days since 1970-01-01).
#[derive(Debug, Clone)]
pub struct PassDates {
    /// The dates asked for: the pass writes their partitions.
    pub requested: Vec<NaiveDate>,
    pub kind: PassKind,
    /// Every date the pass computes: the requested ones, and the earlier dates they read
    /// whose scores no known score holds.
    pub computed: BTreeSet<i32>,
    /// Earlier dates whose scores the pass reads from the known scores.
    pub reused: BTreeSet<i32>,
    /// The month boundaries of the whole tables (none unless the pass writes them).
    pub boundaries: Vec<i32>,
    /// The most dates one sweep of the pass's own window figures takes (see
    /// [`super::dates_per_sweep`]).
    pub per_sweep: usize,
}

/// Computes the marts for the dates of `pass` from the staged tables in `warehouse` into
/// `work`.
///
/// With [`PassKind::DatesAndWholeTables`], also rewrites the retention tables and cohorts
/// as of the last date (a backfill asks for them in its last pass only). `window_figures`
/// is a table from [`super::compute_window_figures`] holding at least the dates this pass
/// computes; without it the pass computes its own. `known` holds the scores of the
/// `reused` dates.
pub async fn build(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    pass: &PassDates,
    work: &Path,
    window_figures: Option<&Path>,
    known: &history::KnownScores,
) -> Result<BuildOutcome> {
    let Some(model) = &pipeline.health else {
        return Err(Error::Model(format!(
            "{} has no [health] section; copy the one in pipelines/default.toml",
            pipeline.file.display()
        )));
    };
    let spill = work.join("spill");
    std::fs::create_dir_all(&spill).map_err(|e| Error::io(&spill, e))?;
    let ctx = engine::pipeline_session(&pipeline.engine, pipeline.memory_limit, &spill).await?;
    super::register_functions(&ctx);
    crate::staging::register_staged(&ctx, warehouse).await?;

    let PassDates {
        requested: dates,
        kind,
        computed,
        reused,
        boundaries,
        per_sweep,
    } = pass;
    let kind = *kind;
    let requested: BTreeSet<i32> = dates
        .iter()
        .map(|d| crate::base::days::date_to_days(*d))
        .collect();
    let last = *requested.iter().next_back().expect("at least one date");
    ctx.register_table("as_of_dates", Arc::new(as_of_table(computed)?))
        .context("as_of_dates")?;
    register_prior_health(&ctx, warehouse, reused, known).await?;

    let all = work.join("all");
    let figures_dir = match window_figures {
        Some(dir) => dir.to_path_buf(),
        None => {
            let scratch = run_scratch(work);
            write_window_figures(
                pipeline, warehouse, scratch, &spill, &all, computed, *per_sweep,
            )
            .await?
        }
    };
    register_window_figures(&ctx, &figures_dir, computed).await?;
    let customer = ctx
        .sql(&customer_daily_sql(pipeline))
        .await
        .context("model customer_daily (sql/marts/customer_daily.sql)")?;
    let customer_schema = Arc::new(customer.schema().as_arrow().clone());
    let mut schemas = vec![("customer_daily".to_string(), customer_schema.clone())];
    write_and_register(&ctx, customer, "customer_daily", &all).await?;
    let scored = ctx
        .sql(&health::scored_sql(model))
        .await
        .context("model health_scores (generated from [health])")?;
    let scored_dir = all.join("health_scored");
    engine::write_table(
        scored,
        "health_scored",
        &scored_dir,
        None,
        WriteOrder::AsItComes,
    )
    .await?;
    engine::register_table(&ctx, "health_scored", &scored_dir, None).await?;
    let health = ctx
        .sql(&health::health_sql(model))
        .await
        .context("model health_scores (generated from [health])")?;
    let health_schema = health.schema().as_arrow().clone();
    schemas.push(("health_scores".to_string(), Arc::new(health_schema.clone())));
    write_and_register(&ctx, health, "health_scores", &all).await?;
    let kept = ctx
        .sql(&format!(
            "select {PRIOR_HEALTH_COLUMNS} from health_scores_all"
        ))
        .await
        .context("health_history")?;
    let order = WriteOrder::AsItComes;
    let history_dir = all.join("health_history");
    engine::write_table(
        kept,
        "health_history",
        &history_dir,
        Some("as_of_date"),
        order,
    )
    .await?;

    let subject = subject_schema(&customer_schema, &health_schema);
    let health_columns: Vec<String> = subject
        .fields()
        .iter()
        .skip(customer_schema.fields().len())
        .map(|f| format!("health.\"{}\"", f.name()))
        .collect();
    let day_list = sql_date_list(&requested);
    let subject_sql = format!(
        "select customer.*, {} from customer_daily_all as customer \
         join health_scores_all as health \
         on health.account_id = customer.account_id and health.as_of_date = customer.as_of_date \
         where customer.as_of_date in ({day_list}){}",
        health_columns.join(", "),
        // A pass for the scores alone publishes no actions.
        if kind == PassKind::ScoresOnly {
            " and false"
        } else {
            ""
        }
    );
    let subject_df = ctx.sql(&subject_sql).await.context("playbook subject")?;
    ctx.register_table("subject", subject_df.into_view())
        .context("playbook subject")?;
    let playbook_sql = playbook::playbook_sql(&pipeline.playbook).map_err(Error::Internal)?;
    let actions = ctx
        .sql(&playbook_sql)
        .await
        .context("model playbook_actions (generated from [[playbook]])")?;
    schemas.push((
        "playbook_actions".to_string(),
        Arc::new(actions.schema().as_arrow().clone()),
    ));
    write_and_register(&ctx, actions, "playbook_actions", &all).await?;

    let mut tables = Vec::new();
    for table in &MART_TABLES {
        let filter = format!("where as_of_date in ({day_list})");
        check_grain(&ctx, table.name, table.grain, &filter).await?;
        let rows = engine::query_count(
            &ctx,
            &format!("select count(*) from {}_all {filter}", table.name),
        )
        .await?;
        tables.push((table.name.to_string(), rows));
    }
    let whole_tables = if kind == PassKind::DatesAndWholeTables {
        build_retention(&ctx, pipeline, days_to_date(last), boundaries, &all).await?
    } else {
        Vec::new()
    };
    Ok(BuildOutcome {
        tables,
        tables_dir: all,
        dates: dates.to_vec(),
        computed: computed.iter().map(|d| days_to_date(*d)).collect(),
        skipped: Vec::new(),
        schemas,
        whole_tables,
    })
}

/// The columns of `health_scores` that later dates read.
pub(super) const PRIOR_HEALTH_COLUMNS: &str = "account_id, as_of_date, score, band";

/// An empty `prior_health`, for builds that reuse no date.
pub(super) fn empty_prior_health() -> Result<MemTable> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("as_of_date", DataType::Date32, false),
        Field::new("score", DataType::Float64, true),
        Field::new("band", DataType::Utf8, true),
    ]));
    Ok(MemTable::try_new(schema, vec![vec![]]).context("prior_health")?)
}

/// Registers `prior_health`: the health scores of the `reused` dates, from the warehouse's
/// history where kept there, else from the earlier pass of this run that computed them.
async fn register_prior_health(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    reused: &BTreeSet<i32>,
    known: &history::KnownScores,
) -> Result<()> {
    let mut parts = Vec::new();
    let kept: BTreeSet<i32> = reused.intersection(&known.kept).copied().collect();
    if !kept.is_empty() {
        parts.push((warehouse.url_of(history::HEALTH_HISTORY_DIR), kept));
    }
    for (dir, computed) in &known.passes {
        let dates: BTreeSet<i32> = reused
            .iter()
            .filter(|d| computed.contains(d) && !known.kept.contains(d))
            .copied()
            .collect();
        if !dates.is_empty() {
            parts.push((dir.display().to_string(), dates));
        }
    }
    if parts.is_empty() {
        ctx.register_table("prior_health", Arc::new(empty_prior_health()?))
            .context("prior_health")?;
        return Ok(());
    }
    let mut views = Vec::new();
    for (i, (location, dates)) in parts.iter().enumerate() {
        let name = format!("prior_health_{i}");
        register_dates_of(ctx, &name, location, PRIOR_HEALTH_COLUMNS, dates).await?;
        views.push(format!("select * from {name}"));
    }
    let view = ctx
        .sql(&views.join(" union all "))
        .await
        .context("prior_health")?;
    ctx.register_table("prior_health", view.into_view())
        .context("prior_health")?;
    Ok(())
}
