//! Staging: the SQL models of `sql/staging` run over the raw rows `ingest` wrote, giving
//! the typed, deduplicated `stg_*` tables of contract §4 (identities resolved, money converted),
//! with every row accounted for.
//!
//! A daily run need not restage everything: tables fed only by new files append the new
//! rows' partitions ([`append`]), keyed tables restage the new keys ([`keyed`]), tables whose
//! sources read nothing stand as they are ([`keep`]). What a run stages goes to its work
//! directory; the pipeline publishes it. This module reads no source file.

pub mod error;
pub use error::{Error, Result};
pub mod append;
mod functions;
pub mod keep;
pub mod keyed;
pub mod manifest;
pub mod models;
mod reach;
mod reconcile;

pub use functions::register_functions;
pub use reach::Reach;

use crate::base::error::FromFile;
use crate::config::Pipeline;
use crate::contract::SourceKind;
use crate::engine::EngineContext;
use crate::engine::{self, warehouse::Warehouse};
use crate::ingest::SourceReport;
use crate::ingest::shape::raw_tables;
use crate::ingest::state;
use datafusion::arrow::array::{Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext};
use manifest::Staging;
use models::{Held, STAGING_MODELS, StagingModel};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What staging wrote into the work directory.
#[derive(Debug)]
pub struct Staged {
    /// Staged table name → rows, for tables ready to publish in `tables_dir`.
    pub tables: Vec<(String, u64)>,
    /// Tables this run appended to → the partitions it rewrote (`tables_dir` holds only
    /// those), or kept as they were (no partition, nothing in `tables_dir`); every other
    /// table in `tables` is written whole.
    pub rewritten: BTreeMap<String, Vec<String>>,
    /// Keyed tables this run updated rather than restaged (see [`keyed`]) → the note saying
    /// how; they are written whole.
    pub updated: BTreeMap<String, String>,
    pub tables_dir: PathBuf,
    /// How far back the staged tables changed (what the health history must forget).
    pub reach: Reach,
    /// The staged tables' state for the manifest.
    pub staging: Option<Staging>,
}

impl Staged {
    /// Nothing staged yet, into `tables_dir`, for changes reaching `reach`.
    pub fn new(tables_dir: PathBuf, reach: Reach) -> Staged {
        Staged {
            tables: Vec::new(),
            rewritten: BTreeMap::new(),
            updated: BTreeMap::new(),
            tables_dir,
            reach,
            staging: None,
        }
    }
}

/// Runs the staging models over the raw tables of `raw_dir` (this run's files) and the
/// warehouse (the files kept), then checks and counts their output into `sources`' reports.
/// `outcome` starts with the reach the files' changes give (see [`Reach`]) and ends with the
/// tables written into its `tables_dir`.
pub async fn stage(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    raw_dir: &Path,
    file_ids: &[String],
    previous: Option<&Staging>,
    sources: &mut [SourceReport],
    outcome: &mut Staged,
) -> Result<()> {
    let spill_dir = raw_dir.with_file_name("spill");
    std::fs::create_dir_all(&spill_dir).map_err(|e| Error::io(&spill_dir, e))?;
    let ctx = engine::pipeline_session(&pipeline.engine, pipeline.memory_limit, &spill_dir).await?;
    register_functions(&ctx);
    // A hash join holds its left side whole, and DataFusion's join does not spill. The
    // staging models put the small side (files, repeated ids, identity spans) on the left;
    // the planner must not swap the raw rows in on an estimate of their size. That side,
    // up to a few hundred MB, is built once and shared by every thread ("collect left"),
    // where a partitioned join would first shuffle every raw row between the threads.
    for setting in [
        "datafusion.optimizer.join_reordering = false",
        "datafusion.optimizer.hash_join_single_partition_threshold = 536870912",
        "datafusion.optimizer.hash_join_single_partition_threshold_rows = 20000000",
    ] {
        ctx.sql(&format!("set {setting}"))
            .await
            .context("staging session")?
            .collect()
            .await
            .context("staging session")?;
    }
    warehouse.register_with(&ctx);
    let keeps_files = sources.iter().any(|s| s.files_read < s.files);
    let mut raw = Vec::new();
    for kind in SourceKind::ALL {
        for table in raw_tables(kind) {
            let schema = crate::base::table_file::schema_of(&table.all_columns());
            let options = || ParquetReadOptions::default().schema(&schema);
            let new_dir = raw_dir.join(table.name);
            std::fs::create_dir_all(&new_dir).map_err(|e| Error::io(&new_dir, e))?;
            let step = format!("registering the raw rows of {}", table.name);
            let new = ctx
                .read_parquet(format!("{}/", new_dir.display()), options())
                .await
                .context(step.clone())?;
            ctx.register_table(format!("new_raw_{}", table.name), new.clone().into_view())
                .context(step.clone())?;
            let kept_dir = format!("{}/{}", state::RAW_DIR, table.name);
            let kept = if keeps_files && warehouse.exists(&kept_dir).await? {
                let kept = ctx
                    .read_parquet(format!("{}/", warehouse.url_of(&kept_dir)), options())
                    .await
                    .context(step.clone())?;
                Some(kept)
            } else {
                None
            };
            raw.push((table.name, schema, new, kept));
        }
    }
    // Only new files: the event tables may take just the new ids (see `append`).
    let touched_dir = raw_dir.with_file_name("touched");
    let fingerprint = manifest::staging_fingerprint(pipeline);
    let only_new_files = outcome.reach != Reach::Everything && keeps_files;
    let mut appends = if only_new_files {
        append::plan(&ctx, warehouse, &fingerprint, previous).await?
    } else {
        Vec::new()
    };
    // The keyed tables may restage just the new keys (see `keyed`).
    let mut updates = if only_new_files {
        keyed::plan(&ctx, warehouse, &fingerprint, previous).await?
    } else {
        Vec::new()
    };
    // And the tables whose sources read nothing may stand as they are (see `keep`).
    let keepable = if only_new_files {
        keep::candidates(warehouse, &fingerprint, previous, sources).await?
    } else {
        BTreeMap::new()
    };
    let mut kept_tables = BTreeMap::new();
    for (name, schema, new, kept) in raw {
        if let Some(append) = appends.iter_mut().find(|a| a.raw == name) {
            append::register_raw(&ctx, warehouse, append, new, &schema, &touched_dir).await?;
            continue;
        }
        if let Some(update) = updates.iter().find(|u| u.raw == name) {
            keyed::register_raw(&ctx, update, new, kept).await?;
            continue;
        }
        let step = format!("registering the raw rows of {name}");
        let all = match kept {
            Some(kept) => new.union(kept).context(step.clone())?,
            None => new,
        };
        ctx.register_table(format!("raw_{name}_files"), all.into_view())
            .context(step)?;
    }
    if outcome.reach != Reach::Everything {
        outcome.reach = reach::earliest_change(&ctx, warehouse).await?;
        // A restaged id may leave a kept partition (its first read moved).
        for day in appends.iter().filter_map(|a| a.dates.first()) {
            outcome.reach = outcome.reach.earliest(*day);
        }
    }
    register_raw_views(&ctx, file_ids).await?;
    let scratch = raw_dir.with_file_name("scratch");
    // While every model resolving through identity_spans appends or keeps its table, the
    // spans of the users the appended rows resolve are all it needs.
    let mut spans = SpanScope::All;
    let resolved_by_spans = |m: &&StagingModel| m.name != SPANS && m.sql().contains(SPANS);
    if !appends.is_empty()
        && STAGING_MODELS
            .iter()
            .filter(resolved_by_spans)
            .all(|m| appends.iter().any(|a| a.model == m.name) || keepable.contains_key(m.name))
    {
        spans = SpanScope::users_of(&ctx, &appends).await?;
    }
    for model in STAGING_MODELS {
        if let Some(figures) = keepable.get(model.name)
            && keep::keep(&ctx, warehouse, model, &kept_tables).await?
        {
            kept_tables.insert(model.name, *figures);
            outcome.tables.push((model.name.to_string(), figures.rows));
            outcome.rewritten.insert(model.name.to_string(), Vec::new());
            continue;
        }
        if spans != SpanScope::All
            && resolved_by_spans(&model)
            && !appends.iter().any(|a| a.model == model.name)
        {
            // This table restages whole: every user's spans, after all.
            spans = SpanScope::All;
            let model = STAGING_MODELS
                .iter()
                .find(|m| m.name == SPANS)
                .expect("identity_spans is a staging model");
            let vars = staging_vars(pipeline, spans);
            let df = engine::run_model(&ctx, SPANS, &model.sql(), &vars).await?;
            hold_in_scratch(&ctx, SPANS, df, &scratch.join(format!("{SPANS}_all"))).await?;
        }
        let vars = staging_vars(pipeline, spans);
        let df = engine::run_model(&ctx, model.name, &model.sql(), &vars).await?;
        if !model.published {
            let table: Arc<dyn datafusion::catalog::TableProvider> = match model.held {
                Held::View => df.into_view(),
                Held::Memory => {
                    let schema = Arc::new(df.schema().as_arrow().clone());
                    let batches = df
                        .collect()
                        .await
                        .context(format!("model {}", model.name))?;
                    Arc::new(MemTable::try_new(schema, vec![batches]).context(model.name)?)
                }
                Held::Scratch => {
                    let dir = scratch.join(model.name);
                    hold_in_scratch(&ctx, model.name, df, &dir).await?;
                    continue;
                }
            };
            ctx.register_table(model.name, table).map_err(|e| {
                crate::engine::Error::query(format!("registering {}", model.name), e)
            })?;
            continue;
        }
        let dir = outcome.tables_dir.join(model.name);
        if let Some(update) = updates.iter_mut().find(|u| u.model == model.name) {
            let rows = keyed::write(&ctx, warehouse, update, df, &scratch, &dir).await?;
            outcome.tables.push((model.name.to_string(), rows));
            outcome
                .updated
                .insert(model.name.to_string(), update.note());
            continue;
        }
        if let Some(append) = appends.iter().find(|a| a.model == model.name) {
            let rows = append::write(&ctx, warehouse, append, df, &dir).await?;
            outcome.tables.push((model.name.to_string(), rows));
            outcome
                .rewritten
                .insert(model.name.to_string(), append.partitions());
            continue;
        }
        // Raw rows come file by file, each file close to one date range.
        let rows = engine::write_table(
            df,
            model.name,
            &dir,
            model.partition_by,
            engine::WriteOrder::AsItComes,
        )
        .await?;
        let partition = model.partition_by.map(|c| (c, DataType::Date32));
        engine::register_table(&ctx, model.name, &dir, partition).await?;
        outcome.tables.push((model.name.to_string(), rows));
    }
    let mut staged = Staging {
        fingerprint,
        tables: BTreeMap::new(),
    };
    for report in sources.iter_mut() {
        let figures = reconcile::account_for(
            &ctx,
            report,
            &outcome.tables,
            (&appends, &updates),
            &kept_tables,
        )
        .await?;
        staged.tables.extend(figures);
    }
    outcome.staging = Some(staged);
    reconcile::check_fx(&ctx, pipeline).await?;
    if let Some(failed) = sources.iter().find(|s| s.failed) {
        let check = failed
            .checks
            .iter()
            .find(|c| !c.passed)
            .expect("a failed check");
        return Err(Error::Check(format!(
            "source `{}`, check {}: {}",
            failed.source, check.name, check.detail
        )));
    }
    Ok(())
}

/// The staging helper giving each group call the interval in which it is its user's latest.
const SPANS: &str = "identity_spans";

/// Whose spans `identity_spans` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpanScope {
    All,
    /// The users of `span_users`: those of the appended rows without an account.
    AppendedUsers,
}

impl SpanScope {
    /// Registers `span_users` for the appended tables' rows.
    async fn users_of(ctx: &SessionContext, appends: &[append::Append]) -> Result<Self> {
        let users = appends
            .iter()
            .map(|a| {
                format!(
                    "select user_id from raw_{}_files where account_id is null",
                    a.raw
                )
            })
            .collect::<Vec<_>>()
            .join(" union all ");
        let view = ctx.sql(&users).await.context("span_users")?;
        ctx.register_table("span_users", view.into_view())
            .context("span_users")?;
        Ok(Self::AppendedUsers)
    }

    /// The group calls `identity_spans` reads, for its `${identities}`.
    fn identities(self) -> &'static str {
        match self {
            Self::All => "stg_identities",
            // The few users are the hash join's build side; the calls stream past them.
            Self::AppendedUsers => {
                "(select calls.* from (select distinct user_id from span_users) as users \
                 join stg_identities as calls on calls.user_id = users.user_id) as scoped"
            }
        }
    }
}

/// The variables of the staging SQL: the reporting currency, and the group calls
/// `identity_spans` reads.
fn staging_vars(pipeline: &Pipeline, spans: SpanScope) -> [(&str, &str); 2] {
    [
        ("reporting_currency", pipeline.reporting_currency.as_str()),
        ("identities", spans.identities()),
    ]
}

/// Writes a helper to `dir` in the run's scratch folder and registers it under its name, in
/// place of any earlier version.
async fn hold_in_scratch(
    ctx: &SessionContext,
    name: &str,
    df: DataFrame,
    dir: &Path,
) -> Result<()> {
    engine::write_table(df, name, dir, None, engine::WriteOrder::AsItComes).await?;
    ctx.deregister_table(name).context(name.to_string())?;
    Ok(engine::register_table(ctx, name, dir, None).await?)
}

/// Registers the published `stg_*` tables of a warehouse in a session, for SQL over them.
/// Tables not published yet are skipped: queries naming them fail with "table not found".
pub async fn register_staged(ctx: &SessionContext, warehouse: &Warehouse) -> Result<()> {
    warehouse.register_with(ctx);
    register_functions(ctx);
    for model in STAGING_MODELS.iter().filter(|m| m.published) {
        let partition = model.partition_by.map(|c| (c, DataType::Date32));
        engine::register_published(ctx, warehouse, model.name, partition).await?;
    }
    Ok(())
}

/// Registers `source_files` (file id → position in path order) and, for every raw table,
/// the view `raw_<name>` the staging models read: the rows of `raw_<name>_files` whose file
/// is current, with `_file_ord` in place of the file id.
pub async fn register_raw_views(ctx: &SessionContext, file_ids: &[String]) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("_file", DataType::Utf8, false),
        Field::new("_file_ord", DataType::Int32, false),
    ]));
    let ids = StringArray::from_iter_values(file_ids.iter());
    let ords = Int32Array::from_iter_values(0..file_ids.len() as i32);
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(ords)])
        .context("source_files")?;
    let files = MemTable::try_new(schema, vec![vec![batch]]).context("source_files")?;
    ctx.register_table("source_files", Arc::new(files))
        .context("source_files")?;
    for kind in SourceKind::ALL {
        for table in raw_tables(kind) {
            // source_files on the left: a hash join holds its left side, and the raw rows
            // must stream past it, never be held.
            let sql = format!(
                "select {columns}, f._file_ord, r._line from source_files as f \
                 join raw_{name}_files as r on r._file = f._file",
                columns = table
                    .columns
                    .iter()
                    .map(|c| format!("r.\"{}\"", c.name))
                    .collect::<Vec<_>>()
                    .join(", "),
                name = table.name
            );
            let view = ctx.sql(&sql).await.context(format!("raw_{}", table.name))?;
            ctx.register_table(format!("raw_{}", table.name), view.into_view())
                .context(format!("raw_{}", table.name))?;
        }
    }
    Ok(())
}
