//! Appending to the staged event tables.
//!
//! `stg_events` and `stg_pageviews` hold nearly every row churnlake stages, and a daily run
//! brings one day of them. When a run read only new files (no file changed or went, no
//! definition changed), a staged row can change only where a new file repeats its message_id
//! (the first read of that id may now be elsewhere), and the account a staged row resolves to
//! cannot change while every new group call is later than the latest staged row. So ingest
//! restages just the ids the new files carry, from all their reads (the new rows and the kept
//! raw rows of the same ids), and rewrites only the `event_date` partitions those reads fall
//! in: their other rows as they were, plus the restaged ones. The table is row for row what
//! restaging everything gives; its `data_quality` figures are the manifest's figures of the
//! last run, brought forward.

use super::manifest::{StagedFigures, Staging};
use crate::base::days::{days_to_date, sql_date_list};
use crate::engine::EngineContext;
use crate::engine::warehouse::Warehouse;
use crate::engine::{self, WriteOrder};
use crate::ingest::shape::ID_HASH;
use crate::ingest::state;
use crate::staging::Result;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// The staged tables ingest can append to, each with its raw table.
const TARGETS: [(&str, &str); 2] = [("stg_events", "events"), ("stg_pageviews", "pageviews")];

/// The partition column of the appendable tables.
const PARTITION: &str = "event_date";

/// The most new rows one append takes: the new ids are held in a hash table. More, or more
/// than a quarter of the staged rows, and the table is restaged whole.
pub(super) const MAX_NEW_ROWS: u64 = 5_000_000;

/// SQL of the partitions an append rewrites.
pub const REWRITE_SQL: &str = include_str!("../../sql/staging/rewrite_partitions.sql");

/// One staged table this run appends to.
#[derive(Debug, Clone)]
pub struct Append {
    pub model: &'static str,
    pub raw: &'static str,
    /// The table's figures after the last run.
    pub previous: StagedFigures,
    /// Valid rows in the files read this run.
    pub new_rows: u64,
    /// Kept raw rows whose message_id a new row repeats.
    pub kept_reads: u64,
    /// The partitions the new ids' reads fall in (days since the epoch): rewritten.
    pub dates: BTreeSet<i32>,
}

impl Append {
    /// The rewritten partitions' directory names.
    pub fn partitions(&self) -> Vec<String> {
        self.dates
            .iter()
            .map(|d| format!("{PARTITION}={}", days_to_date(*d)))
            .collect()
    }

    /// The view of the partitions this run wrote, when it wrote any.
    pub fn rewritten_view(&self) -> Option<String> {
        (!self.dates.is_empty()).then(|| format!("{}_rewritten", self.model))
    }

    /// The rows the rewritten partitions held before this run, as a parenthesized query
    /// (after [`write`]).
    pub fn replaced_rows(&self) -> String {
        format!(
            "(select * from previous_{} where {PARTITION} in ({}))",
            self.model,
            sql_date_list(&self.dates)
        )
    }
}

/// The staged tables this run appends to rather than restages, given what the last run
/// staged (`previous`) and the rows of the files read now (the `new_raw_<table>` views). Call
/// only when no file changed or went and no source was redefined.
pub async fn plan(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    fingerprint: &str,
    previous: Option<&Staging>,
) -> Result<Vec<Append>> {
    let Some(previous) = previous.filter(|s| s.fingerprint == fingerprint) else {
        return Ok(Vec::new());
    };
    let mut appends = Vec::new();
    for (model, raw) in TARGETS {
        let Some(figures) = previous.tables.get(model) else {
            continue;
        };
        if figures.rows == 0 || !warehouse.exists(model).await? {
            continue;
        }
        let new_rows =
            engine::query_count(ctx, &format!("select count(*) from new_raw_{raw}")).await?;
        if new_rows > MAX_NEW_ROWS || new_rows * 4 > figures.rows {
            continue;
        }
        if let Some(latest) = figures.max_event_time {
            // Seconds, as max_event_time is kept: a call in the same second counts as earlier.
            let earlier = engine::query_count(
                ctx,
                &format!(
                    "select count(*) from new_raw_identities \
                     where to_unixtime(cast(timestamp as timestamp)) * 1000000 <= {latest}"
                ),
            )
            .await?;
            if earlier > 0 {
                continue;
            }
        }
        appends.push(Append {
            model,
            raw,
            previous: *figures,
            new_rows,
            kept_reads: 0,
            dates: BTreeSet::new(),
        });
    }
    Ok(appends)
}

/// Registers `raw_<table>_files` for an append: the new rows (`new`) and the kept raw rows of
/// every id they repeat, copied to `<touched_dir>/<table>`. Fills the append's partitions and
/// kept reads.
pub async fn register_raw(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    append: &mut Append,
    new: DataFrame,
    schema: &Schema,
    touched_dir: &Path,
) -> Result<()> {
    let raw = append.raw;
    let step = format!("finding the kept reads of the new {raw} ids");
    let options = || ParquetReadOptions::default().schema(schema);
    let kept_dir = format!("{}/{raw}", state::RAW_DIR);
    let kept = ctx
        .read_parquet(format!("{}/", warehouse.url_of(&kept_dir)), options())
        .await
        .context(step.clone())?;
    ctx.register_table(format!("kept_raw_{raw}"), kept.into_view())
        .context(step.clone())?;
    // The new ids' hashes are the build side; the kept rows stream past them, their hashes
    // read, and their lineage only where a hash matches (see `ID_HASH`).
    let candidates = engine::query(
        ctx,
        &format!(
            "select kept._file, kept._line \
             from (select distinct {ID_HASH} from new_raw_{raw}) as new_ids \
             join kept_raw_{raw} as kept on kept.{ID_HASH} = new_ids.{ID_HASH}"
        ),
    )
    .await?;
    append.kept_reads = 0;
    let mut rows = new;
    if candidates.iter().any(|b| b.num_rows() > 0) {
        let files: BTreeSet<String> = engine::string_rows(&candidates)
            .into_iter()
            .map(|row| row[0].clone())
            .collect();
        let paths: Vec<String> = files
            .iter()
            .map(|id| warehouse.url_of(&format!("{kept_dir}/{id}.parquet")))
            .collect();
        let touched = ctx
            .read_parquet(paths, options())
            .await
            .context(step.clone())?;
        ctx.register_table(format!("touched_files_{raw}"), touched.into_view())
            .context(step.clone())?;
        let schema = candidates[0].schema();
        let candidates = MemTable::try_new(schema, vec![candidates]).context(step.clone())?;
        ctx.register_table(format!("touched_reads_{raw}"), Arc::new(candidates))
            .context(step.clone())?;
        // A hash shared by two ids brings a read of another id: the ids decide.
        let touched = ctx
            .sql(&format!(
                "select files.* from touched_reads_{raw} as reads \
                 join touched_files_{raw} as files \
                 on files._file = reads._file and files._line = reads._line \
                 where files.message_id in (select message_id from new_raw_{raw})"
            ))
            .await
            .context(step.clone())?;
        let dir = touched_dir.join(raw);
        let name = format!("touched_{raw}");
        append.kept_reads =
            engine::write_table(touched, &name, &dir, None, WriteOrder::AsItComes).await?;
        if append.kept_reads > 0 {
            let touched = ctx
                .read_parquet(format!("{}/", dir.display()), options())
                .await
                .context(step.clone())?;
            rows = rows.union(touched).context(step.clone())?;
        }
    }
    let files = format!("raw_{raw}_files");
    ctx.register_table(&files, rows.into_view())
        .context(step.clone())?;
    let dates = engine::query(
        ctx,
        &format!("select distinct cast({PARTITION} as int) from {files}"),
    )
    .await?;
    append.dates = engine::string_rows(&dates)
        .into_iter()
        .filter_map(|row| row[0].parse().ok())
        .collect();
    Ok(())
}

/// Writes the partitions an append rewrites into `dir`, from the restaged rows of the new ids
/// (`restaged`: the staging model's result over the rows [`register_raw`] gave), and registers
/// the model's name as the whole table: the partitions not rewritten as published, and the
/// rewritten ones (also registered alone, as [`Append::rewritten_view`]). Returns the
/// table's rows.
pub async fn write(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    append: &Append,
    restaged: DataFrame,
    dir: &Path,
) -> Result<u64> {
    let model = append.model;
    // Read every part with the restaged rows' types, so their union needs no coercion.
    let fields: Vec<_> = restaged
        .schema()
        .as_arrow()
        .fields()
        .iter()
        .filter(|f| f.name() != PARTITION)
        .cloned()
        .collect();
    let file_schema = &Schema::new(fields);
    let register = |name: String, location: String| async move {
        let partition = Some((PARTITION, DataType::Date32));
        engine::register_location_typed(ctx, &name, &location, Some(file_schema), partition).await
    };
    let previous = format!("previous_{model}");
    register(previous.clone(), warehouse.url_of(model)).await?;
    let whole = match append.rewritten_view() {
        None => format!("select * from {previous}"),
        Some(rewritten) => {
            ctx.register_table(format!("{model}_restaged"), restaged.into_view())
                .context(format!("restaged {model}"))?;
            let dates = sql_date_list(&append.dates);
            let vars = [("model", model), ("raw", append.raw), ("dates", &dates)];
            let df = engine::run_model(ctx, "rewrite_partitions", REWRITE_SQL, &vars).await?;
            engine::write_table(df, model, dir, Some(PARTITION), WriteOrder::Sort).await?;
            register(rewritten.clone(), dir.display().to_string()).await?;
            format!(
                "select * from {previous} where {PARTITION} not in ({dates}) \
                 union all select * from {rewritten}"
            )
        }
    };
    let view = ctx.sql(&whole).await.context(format!("appended {model}"))?;
    ctx.register_table(model, view.into_view())
        .context(format!("appended {model}"))?;
    Ok(engine::query_count(ctx, &format!("select count(*) from {model}")).await?)
}
