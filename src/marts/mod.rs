//! Marts: `customer_daily`, `health_scores` and `playbook_actions` for a set of as-of dates,
//! computed in one pass over the staged tables.
//!
//! The requested dates plus the dates 7 and 30 days before them (for the health deltas) go
//! into an `as_of_dates` table; every model joins its daily facts to it with windows that end
//! at the date, so a row for D never sees a later input (SPEC §3). Tables are written to the
//! run's work directory; `publish` swaps in the partitions of the requested dates only.

pub mod expressions;
mod health;
pub mod history;
pub mod key_windows;
pub mod last_active;
mod playbook;
pub mod reasons;
mod sweep;

use crate::config::Pipeline;
use crate::contract::SourceKind;
use crate::engine::{self, WriteOrder};
use crate::error::{EngineContext, Error, Result};
use crate::ingest::convert::{date_to_days, days_to_date};
use crate::ingest::shape::raw_tables;
use crate::ingest::staging::STAGING_MODELS;
use crate::warehouse::Warehouse;
use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Date32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CUSTOMER_DAILY_SQL: &str = include_str!("../../sql/marts/customer_daily.sql");

/// The windowed figures of customer_daily (usage, help site, tickets), computed for any set
/// of dates in one sweep over the history (a backfill computes them once for all its passes).
const WINDOW_FIGURES_SQL: &str = include_str!("../../sql/marts/window_figures.sql");

/// MRR of every account at every month start (`month_boundaries`), read by the retention
/// models that work on boundary snapshots.
const BOUNDARY_SNAPSHOTS_SQL: &str = include_str!("../../sql/marts/boundary_snapshots.sql");

/// A table rewritten whole by every build (SPEC §5): its model file and grain.
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
fn customer_daily_sql(pipeline: &Pipeline) -> String {
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
    CUSTOMER_DAILY_SQL
        .replace(
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
        add(model.sql);
    }
    add(&customer_daily_sql(pipeline));
    add(WINDOW_FIGURES_SQL);
    if let Some(model) = &pipeline.health {
        add(&health::scored_sql(model));
        add(&health::health_sql(model));
    }
    format!("{:016x}", hasher.finish())
}

fn as_of_table(dates: &BTreeSet<i32>) -> Result<MemTable> {
    date_table("as_of_date", &dates.iter().copied().collect::<Vec<_>>())
}

/// A one-column table of dates (days since the epoch).
fn date_table(column: &str, days: &[i32]) -> Result<MemTable> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        column,
        DataType::Date32,
        false,
    )]));
    let values = Date32Array::from(days.to_vec());
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).context(column.to_string())?;
    MemTable::try_new(schema, vec![vec![batch]]).context(column.to_string())
}

/// A session holding empty staged tables, for planning marts without data.
async fn planning_session() -> Result<SessionContext> {
    let ctx = engine::session();
    for kind in SourceKind::ALL {
        for table in raw_tables(kind) {
            let schema = crate::ingest::batch::schema_of(&table.all_columns());
            let empty = MemTable::try_new(schema, vec![vec![]]).context("empty raw table")?;
            ctx.register_table(format!("raw_{}_files", table.name), Arc::new(empty))
                .context("empty raw table")?;
        }
    }
    crate::ingest::register_raw_views(&ctx, &[]).await?;
    for model in STAGING_MODELS {
        let sql = model
            .sql
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
        .sql(&window_figures_sql(0, 0))
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
    let ctx = planning_session().await?;
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
    let mut problems = run_checks(checks).await;
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
            .map_err(|e| Error::engine("planning health_scores", e))?;
        ctx.register_table("health_scored", scored.into_view())
            .context("planning health")?;
        let health = ctx
            .sql(&health::health_sql(model))
            .await
            .map_err(|e| Error::engine("planning health_scores", e))?;
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
fn subject_schema(customer: &Schema, health: &Schema) -> SchemaRef {
    let mut fields: Vec<Arc<Field>> = customer.fields().iter().cloned().collect();
    for field in health.fields() {
        if customer.field_with_name(field.name()).is_err() {
            fields.push(field.clone());
        }
    }
    Arc::new(Schema::new(fields))
}

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

/// Computes the marts for `dates` from the staged tables in `warehouse`. The dates are
/// those [`dates_with_input`] keeps (it also checks that the staged tables exist).
///
/// With [`PassKind::DatesAndWholeTables`], also rewrites the retention tables and cohorts as of the last date
/// (a backfill asks for them in its last pass only). `window_figures` is a table from
/// [`compute_window_figures`] holding at least the dates this build computes; without it the build
/// computes its own.
pub async fn build(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    dates: &[NaiveDate],
    work: &Path,
    kind: PassKind,
    window_figures: Option<&Path>,
    known: &history::KnownScores,
) -> Result<BuildOutcome> {
    let Some(model) = &pipeline.health else {
        return Err(Error::Usage(format!(
            "{} has no [health] section; copy the one in pipelines/default.toml",
            pipeline.file.display()
        )));
    };
    let spill = work.join("spill");
    std::fs::create_dir_all(&spill).map_err(|e| Error::io(&spill, e))?;
    let ctx = engine::bounded_session(pipeline.memory_limit, &spill)?;
    crate::ingest::register_staged(&ctx, warehouse).await?;

    let requested: BTreeSet<i32> = dates.iter().map(|d| date_to_days(*d)).collect();
    let last = *requested.iter().next_back().expect("at least one date");
    let Dates {
        computed,
        reused,
        boundaries,
    } = plan_dates(&ctx, pipeline, &requested, kind, &known.dates()).await?;
    ctx.register_table("as_of_dates", Arc::new(as_of_table(&computed)?))
        .context("as_of_dates")?;
    register_prior_health(&ctx, warehouse, &reused, known).await?;

    let all = work.join("all");
    let figures_dir = match window_figures {
        Some(dir) => dir.to_path_buf(),
        None => {
            let scratch = run_scratch(work);
            write_window_figures(pipeline, warehouse, scratch, &spill, &all, &computed).await?
        }
    };
    register_window_figures(&ctx, &figures_dir, &computed).await?;
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
    let day_list = date_list(&requested);
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
    let playbook_sql = playbook::playbook_sql(&pipeline.playbook).map_err(Error::Usage)?;
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
        build_retention(&ctx, pipeline, days_to_date(last), &boundaries, &all).await?
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

/// The dates a build of `requested` reads, split into those it computes and those it reuses
/// from `reusable` (published, see [`history`]), and the month boundaries of its whole
/// tables (none without them). It reads each date, the dates 7 and 30 days before it (for
/// the health deltas), and for health_cohorts every month start and each start minus the
/// surprise lead (point in time, like any other date). Requested dates are always computed.
struct Dates {
    computed: BTreeSet<i32>,
    reused: BTreeSet<i32>,
    boundaries: Vec<i32>,
}

async fn plan_dates(
    ctx: &SessionContext,
    pipeline: &Pipeline,
    requested: &BTreeSet<i32>,
    kind: PassKind,
    reusable: &BTreeSet<i32>,
) -> Result<Dates> {
    let mut earlier = BTreeSet::new();
    if kind != PassKind::ScoresOnly {
        for day in requested {
            earlier.insert(day - 7);
            earlier.insert(day - 30);
        }
    }
    let last = *requested.iter().next_back().expect("at least one date");
    let first = first_start(ctx, last).await?;
    let boundaries = if kind == PassKind::DatesAndWholeTables {
        // From the boundary before the first one with an active account: when the first
        // line starts on a month's first day, the month before it ends there and holds the
        // history's first new MRR (SPEC §5).
        month_starts(days_to_date(first - 1), days_to_date(last))
    } else {
        Vec::new()
    };
    for boundary in &boundaries {
        earlier.insert(*boundary);
        earlier.insert(boundary - pipeline.retention.surprise_lead_days as i32);
    }
    // Before the first contract line there is no account to score: such a date needs no
    // computing (nor a sweep of the history from 29 days before it).
    earlier.retain(|day| *day >= first);
    let (reused, computed): (BTreeSet<i32>, BTreeSet<i32>) = earlier
        .difference(requested)
        .copied()
        .partition(|day| reusable.contains(day));
    Ok(Dates {
        computed: computed.union(requested).copied().collect(),
        reused,
        boundaries,
    })
}

/// Memory a sweep's running sums take per account and date: the two rows (its changes and
/// the date itself, 17 columns) that the window sorts, and the sort's copy of them.
const SWEEP_BYTES_PER_ACCOUNT_DATE: usize = 1024;

/// How many dates one `window_figures` sweep takes at most: as many account-dates as half
/// the memory limit sorts without spilling. A sweep's cost follows the days it spans (and
/// the 29 days before), so sweeping in parts costs little more than sweeping once, while
/// one sweep of every date of a long backfill at 50,000 accounts sorts 70 million rows
/// through the disk.
pub async fn dates_per_sweep(pipeline: &Pipeline, warehouse: &Warehouse) -> Result<usize> {
    let ctx = engine::session();
    crate::ingest::register_staged(&ctx, warehouse).await?;
    let accounts =
        engine::query_count(&ctx, "select count(distinct account_id) from stg_handoffs").await?;
    let account_dates = pipeline.memory_limit / 2 / SWEEP_BYTES_PER_ACCOUNT_DATE;
    Ok(account_dates / (accounts as usize).max(1))
}

/// Every date the passes compute (dates, with what each computes), in order, each pass
/// reusing the scores of `reusable` and of the passes before it.
pub async fn computed_dates(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    passes: &[(&[NaiveDate], PassKind)],
    reusable: &BTreeSet<i32>,
) -> Result<BTreeSet<i32>> {
    let ctx = engine::session();
    crate::ingest::register_staged(&ctx, warehouse).await?;
    let mut all_dates = BTreeSet::new();
    let mut known = reusable.clone();
    for (dates, kind) in passes {
        let requested: BTreeSet<i32> = dates.iter().map(|d| date_to_days(*d)).collect();
        let computed = plan_dates(&ctx, pipeline, &requested, *kind, &known)
            .await?
            .computed;
        known.extend(&computed);
        all_dates.extend(computed);
    }
    Ok(all_dates)
}

/// Computes `window_figures` (sql/marts/window_figures.sql) into `work` for every date that the
/// builds of `passes` compute, so that they share sweeps over the history. Returns the
/// table's directory, for [`build`].
pub async fn compute_window_figures(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    passes: &[(&[NaiveDate], PassKind)],
    work: &Path,
    reusable: &BTreeSet<i32>,
) -> Result<PathBuf> {
    let all_dates = computed_dates(pipeline, warehouse, passes, reusable).await?;
    let spill = work.join("spill");
    std::fs::create_dir_all(&spill).map_err(|e| Error::io(&spill, e))?;
    write_window_figures(
        pipeline,
        warehouse,
        run_scratch(work),
        &spill,
        work,
        &all_dates,
    )
    .await
}

/// The SQL of `window_figures` for dates from `first` through `last`: it sweeps the events
/// and page views of the days whose 30-day windows reach them (none after `last`), and the
/// latest active day before.
fn window_figures_sql(first: i32, last: i32) -> String {
    WINDOW_FIGURES_SQL
        .replace("${month_start}", &month_start_of(first - 29).to_string())
        .replace("${from_date}", &days_to_date(first - 29).to_string())
        .replace("${last_date}", &days_to_date(last).to_string())
        .replace("${from_day}", &(first - 29).to_string())
        .replace("${first_day}", &first.to_string())
        .replace("${last_day}", &last.to_string())
}

/// The run's scratch directory, of which a build step's work directories (`pass-N`,
/// `window_figures-N`, see `cli::build::build_step`) are children: where what outlives a pass
/// waits for publishing (the months of [`last_active`]).
fn run_scratch(work: &Path) -> &Path {
    work.parent()
        .expect("a work directory inside the run's scratch directory")
}

/// The first day of the month of a day (days since 1970-01-01).
fn month_start_of(day: i32) -> NaiveDate {
    days_to_date(day).with_day(1).expect("day 1 exists")
}

/// Writes `window_figures` for `dates` into `<dir>/window_figures`, in sweeps of consecutive
/// dates that each take at most [`dates_per_sweep`] dates. A sweep's distinct-key aggregate
/// holds a bitset of every key's days over the days it spans: one sweep of a cold build's
/// dates (its month boundaries go back to the first contract) spans the whole history, and at
/// 50,000 accounts that aggregate no longer fits its share of the pool, emits its partial
/// state early and spills its final state (110 s of a 145 s build).
async fn write_window_figures(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    scratch: &Path,
    spill: &Path,
    dir: &Path,
    dates: &BTreeSet<i32>,
) -> Result<PathBuf> {
    let path = dir.join("window_figures");
    let per_sweep = dates_per_sweep(pipeline, warehouse).await?;
    for part in sweep_parts(dates, per_sweep) {
        let ctx = engine::bounded_session(pipeline.memory_limit, spill)?;
        crate::ingest::register_staged(&ctx, warehouse).await?;
        ctx.register_table("as_of_dates", Arc::new(as_of_table(&part)?))
            .context("as_of_dates")?;
        let first = *part.first().expect("chunks are not empty");
        let last = *part.last().expect("chunks are not empty");
        last_active::register(&ctx, warehouse, month_start_of(first - 29), scratch).await?;
        let df = ctx
            .sql(&window_figures_sql(first, last))
            .await
            .context("model window_figures (sql/marts/window_figures.sql)")?;
        let mut running_sums = sweep::RunningSums::new(df.schema().as_arrow())?;
        engine::write_table_through(
            df,
            &mut running_sums,
            "window_figures",
            &path,
            Some("as_of_date"),
        )
        .await?;
    }
    Ok(path)
}

/// The longest span of days one sweep's dates may cover. The distinct-key aggregate keeps a
/// bitset of each key's days over the span, and one that outgrows its share of the pool
/// emits its partial state early and spills the final one: at 50,000 accounts a sweep of 19
/// months of dates took 60 s where smaller sweeps over the same events take a fraction.
const MAX_SWEEP_SPAN_DAYS: i32 = 183;

/// `dates` in consecutive parts of at most `per_sweep` dates (at least one) spanning at most
/// [`MAX_SWEEP_SPAN_DAYS`] days.
fn sweep_parts(dates: &BTreeSet<i32>, per_sweep: usize) -> Vec<BTreeSet<i32>> {
    let mut parts: Vec<BTreeSet<i32>> = Vec::new();
    for &day in dates {
        match parts.last_mut() {
            Some(part)
                if part.len() < per_sweep.max(1)
                    && day - part.first().copied().unwrap_or(day) < MAX_SWEEP_SPAN_DAYS =>
            {
                part.insert(day);
            }
            _ => parts.push(BTreeSet::from([day])),
        }
    }
    parts
}

/// Registers the `window_figures` table at `dir` as `window_figures`, restricted to the dates
/// computed (it may hold more).
async fn register_window_figures(
    ctx: &SessionContext,
    dir: &Path,
    dates: &BTreeSet<i32>,
) -> Result<()> {
    let location = dir.display().to_string();
    register_dates_of(ctx, "window_figures", &location, "*", dates).await
}

/// Registers `name`: `columns` of the table at `location` (partitioned by `as_of_date`),
/// restricted to `dates` (the partitions pruned).
async fn register_dates_of(
    ctx: &SessionContext,
    name: &str,
    location: &str,
    columns: &str,
    dates: &BTreeSet<i32>,
) -> Result<()> {
    let files = format!("{name}_files");
    let partition = Some(("as_of_date", DataType::Date32));
    engine::register_location(ctx, &files, location, partition).await?;
    let view = ctx
        .sql(&format!(
            "select {columns} from {files} where as_of_date in ({})",
            date_list(dates)
        ))
        .await
        .context(name.to_string())?;
    ctx.register_table(name, view.into_view())
        .context(name.to_string())?;
    Ok(())
}

/// The columns of `health_scores` that later dates read.
const PRIOR_HEALTH_COLUMNS: &str = "account_id, as_of_date, score, band";

/// An empty `prior_health`, for builds that reuse no date.
fn empty_prior_health() -> Result<MemTable> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("as_of_date", DataType::Date32, false),
        Field::new("score", DataType::Float64, true),
        Field::new("band", DataType::Utf8, true),
    ]));
    MemTable::try_new(schema, vec![vec![]]).context("prior_health")
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
        return ctx
            .register_table("prior_health", Arc::new(empty_prior_health()?))
            .map(|_| ())
            .context("prior_health");
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

/// `date 'YYYY-MM-DD', …` for SQL.
pub(crate) fn date_list(days: &BTreeSet<i32>) -> String {
    days.iter()
        .map(|d| format!("date '{}'", days_to_date(*d)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `mrr_monthly` and `retention_monthly` from the lines visible at `as_of`, with the
/// retention equation checked for every month and segment.
async fn build_retention(
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
    let settings = &pipeline.retention;
    let values = [
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
    ];
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
        return Err(Error::DataCheck(format!(
            "the retention equation does not hold for month {} segment {}",
            row[0], row[1]
        )));
    }
    for table in &WHOLE_TABLES {
        check_grain(ctx, table.name, table.grain, "").await?;
    }
    Ok(written)
}

/// Splits `dates` into those with input and those without (see [`input_window`]); fails
/// with exit code 2 before any ingest, and 99 when no date has input.
pub async fn dates_with_input(
    warehouse: &Warehouse,
    dates: &[NaiveDate],
) -> Result<(Vec<NaiveDate>, Vec<NaiveDate>)> {
    if !warehouse.exists("stg_handoffs").await? {
        return Err(Error::Usage(format!(
            "no staged tables in {}; run `churnlake ingest` first",
            warehouse.location
        )));
    }
    let ctx = engine::session();
    crate::ingest::register_staged(&ctx, warehouse).await?;
    let (first, latest) = input_window(&ctx).await?;
    let (with, without): (Vec<NaiveDate>, Vec<NaiveDate>) = dates
        .iter()
        .partition(|d| first.is_some_and(|f| f <= **d) && latest.is_none_or(|l| **d <= l));
    if with.is_empty() {
        let describe = |d: Option<NaiveDate>| d.map_or("none".to_string(), |d| d.to_string());
        return Err(Error::NoInput(format!(
            "nothing to build for {}: the first contract line starts {} and the latest \
             event, page view or ticket is dated {} (a date's data has landed once a later \
             or same-day row exists)",
            describe_dates(&without),
            describe(first),
            describe(latest)
        )));
    }
    Ok((with, without))
}

/// The dates with input: from the first contract line's start through the latest dated
/// event, page view or ticket. A date after it has no data yet (exit code 99). A book with
/// no dated activity at all (contracts only) has no upper bound.
async fn input_window(ctx: &SessionContext) -> Result<(Option<NaiveDate>, Option<NaiveDate>)> {
    let first = engine::query_count(
        ctx,
        "select coalesce(min(cast(start_date as int)), -1000000) from stg_handoffs",
    )
    .await?;
    let mut latest: Option<i64> = None;
    for (table, column) in [
        ("stg_events", "event_date"),
        ("stg_pageviews", "event_date"),
        ("stg_tickets", "created_date"),
    ] {
        if ctx.table_exist(table).unwrap_or(false) {
            let day = engine::query_count(
                ctx,
                &format!("select coalesce(max(cast({column} as int)), -1000000) from {table}"),
            )
            .await? as i64;
            if day > 0 {
                latest = Some(latest.map_or(day, |l| l.max(day)));
            }
        }
    }
    // query_count clamps negatives to 0; no row maps to day 0 (1970-01-01), never a real date.
    let to_date = |day: i64| (day > 0).then(|| days_to_date(day as i32));
    Ok((to_date(first as i64), latest.and_then(to_date)))
}

/// A list of dates for messages: all of a few, or the first and last of many.
pub fn describe_dates(dates: &[NaiveDate]) -> String {
    match dates {
        [] => "no date".into(),
        [one] => one.to_string(),
        [first, .., last] if dates.len() > 3 => {
            format!("{} dates from {first} to {last}", dates.len())
        }
        _ => dates
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The first contract line's start on or before `last` (days since the epoch); `last`
/// when there is none.
async fn first_start(ctx: &SessionContext, last: i32) -> Result<i32> {
    let first = engine::query_count(
        ctx,
        &format!(
            "select coalesce(min(cast(start_date as int)), {last}) from stg_handoffs \
             where cast(start_date as int) <= {last}"
        ),
    )
    .await?;
    Ok(first as i32)
}

/// First days of the months from `first`'s month through the last one on or before `last`.
fn month_starts(first: NaiveDate, last: NaiveDate) -> Vec<i32> {
    let mut month = first.with_day(1).expect("day 1 exists");
    let mut starts = Vec::new();
    while month <= last {
        starts.push(date_to_days(month));
        month = month
            .checked_add_months(chrono::Months::new(1))
            .expect("a representable month");
    }
    starts
}

/// Fails when `<table>_all` (restricted by `filter`) repeats a key of its grain.
async fn check_grain(
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
        return Err(Error::DataCheck(format!(
            "{table} is not unique on ({key}): {repeated} keys repeat"
        )));
    }
    Ok(())
}

async fn write_and_register(
    ctx: &SessionContext,
    df: datafusion::prelude::DataFrame,
    name: &str,
    dir: &Path,
) -> Result<()> {
    let path = dir.join(name);
    engine::write_table(df, name, &path, Some("as_of_date"), WriteOrder::AsItComes).await?;
    engine::register_table(
        ctx,
        &format!("{name}_all"),
        &path,
        Some(("as_of_date", DataType::Date32)),
    )
    .await
}

/// Registers the published mart tables of a warehouse, skipping those not built yet.
pub async fn register_marts(ctx: &SessionContext, warehouse: &Warehouse) -> Result<()> {
    warehouse.register_with(ctx);
    for table in &WHOLE_TABLES {
        if warehouse.exists(table.name).await? {
            engine::register_location(ctx, table.name, &warehouse.url_of(table.name), None).await?;
        }
    }
    for table in &MART_TABLES {
        if warehouse.exists(table.name).await? {
            let partition = Some(("as_of_date", DataType::Date32));
            engine::register_location(ctx, table.name, &warehouse.url_of(table.name), partition)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_take_consecutive_dates_up_to_a_count_and_a_span() {
        // Month boundaries a year apart, then a run of daily dates.
        let dates: BTreeSet<i32> = [0, 30, 200, 365, 1000, 1001, 1002, 1003, 1004]
            .into_iter()
            .collect();
        let parts: Vec<Vec<i32>> = sweep_parts(&dates, 3)
            .into_iter()
            .map(|part| part.into_iter().collect())
            .collect();
        assert_eq!(
            parts,
            vec![
                vec![0, 30],
                vec![200, 365],
                vec![1000, 1001, 1002],
                vec![1003, 1004]
            ]
        );
        // A memory limit too small for one date's accounts still sweeps one date at a time.
        assert_eq!(sweep_parts(&dates, 0).len(), dates.len());
    }
}
