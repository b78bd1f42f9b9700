//! Each account's latest active day in each calendar month, kept between runs so that
//! `days_since_last_seen` does not read the whole event history on every build.
//!
//! A sweep of `window_figures` needs every account's latest active day before the days it
//! sweeps. Reading it from `stg_events` scans every partition before them: at 100 million
//! events, seconds that grow with each day of history, in every daily run and in every pass of
//! a backfill. The latest active day per account and month changes only when an ingest
//! rewrites that month's partitions, so it is kept under
//! `_state/last_active/<YYYY-MM>-<fingerprint>.parquet` (`account_id`, `last_active_day` in days
//! since 1970-01-01), the fingerprint taken of the month's `stg_events` files (names, sizes,
//! modification times, e-tags). A month whose files changed is computed again, and published
//! with the run's tables in place of its older file; a sweep reads the kept months before its
//! first swept day's month and only that month's earlier days from `stg_events`
//! (sql/marts/window_figures.sql). A run that fails publishes none.

use crate::base::error::FromFile;
use crate::base::{Written, files_under};
use crate::engine::EngineContext;
use crate::engine::warehouse::{Entry, Warehouse};
use crate::engine::{self, WriteOrder};
use crate::marts::{Error, Result};
use chrono::{Datelike, NaiveDate};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// Where the kept months live in the warehouse.
const KEPT: &str = "_state/last_active";

/// Where a run computes the months it keeps, in its scratch directory.
const SCRATCH: &str = "last_active";

/// The table the sweep reads: the kept months before `month_start`.
pub const TABLE: &str = "last_active_months";

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("account_id", DataType::Utf8, true),
        Field::new("last_active_day", DataType::Int32, true),
    ])
}

/// Registers an empty [`TABLE`], for planning without data.
pub fn register_empty(ctx: &SessionContext) -> Result<()> {
    let empty = MemTable::try_new(Arc::new(schema()), vec![vec![]]).context(TABLE)?;
    ctx.register_table(TABLE, Arc::new(empty)).context(TABLE)?;
    Ok(())
}

/// Registers [`TABLE`] with the latest active day per account of every month with events
/// before `month_start` (a first of the month): a month kept in the warehouse for its current
/// files is read; any other is computed into the run's `scratch` directory (under
/// `last_active/`, where the run's later sweeps find it) for [`publish`] to keep.
pub async fn register(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    month_start: NaiveDate,
    scratch: &Path,
) -> Result<()> {
    let before = month_key(month_start);
    let months: BTreeMap<String, String> = months_of(&warehouse.list("stg_events").await?)
        .into_iter()
        .filter(|(month, _)| *month < before)
        .collect();
    let kept: BTreeSet<String> = warehouse
        .list(KEPT)
        .await?
        .into_iter()
        .map(|entry| entry.key)
        .collect();
    let computed_dir = scratch.join(SCRATCH);
    let (mut in_warehouse, mut computed) = (Vec::new(), Vec::new());
    for (month, fingerprint) in &months {
        let name = format!("{month}-{fingerprint}.parquet");
        let file = computed_dir.join(&name);
        if kept.contains(&name) {
            in_warehouse.push(warehouse.url_of(&format!("{KEPT}/{name}")));
        } else {
            if !file.exists() {
                compute_month(ctx, month, &file).await?;
            }
            computed.push(file.display().to_string());
        }
    }
    // One table per store: a listing table reads all its paths from the first one's.
    let schema = schema();
    let mut parts = Vec::new();
    for files in [in_warehouse, computed] {
        if !files.is_empty() {
            let options = ParquetReadOptions::default().schema(&schema);
            parts.push(ctx.read_parquet(files, options).await.context(TABLE)?);
        }
    }
    let Some(mut table) = parts.pop() else {
        return register_empty(ctx);
    };
    if let Some(other) = parts.pop() {
        table = table.union(other).context(TABLE)?;
    }
    ctx.register_table(TABLE, table.into_view())
        .context(TABLE)?;
    Ok(())
}

/// The months a run computed (in `scratch`, see [`register`]), and the files kept for those
/// months before, which they replace.
pub async fn written(warehouse: &Warehouse, scratch: &Path) -> Result<Written> {
    let mut written = Written::default();
    let computed_dir = scratch.join(SCRATCH);
    if !computed_dir.exists() {
        return Ok(written);
    }
    let computed: Vec<String> = files_under(&computed_dir)?
        .into_iter()
        .filter(|name| !name.contains('/'))
        .collect();
    for name in &computed {
        let file = (format!("{SCRATCH}/{name}"), format!("{KEPT}/{name}"));
        written.files.push(file);
    }
    let month = |name: &str| name.get(..7).map(str::to_string);
    let replaced: BTreeSet<Option<String>> = computed.iter().map(|name| month(name)).collect();
    for entry in warehouse.list(KEPT).await? {
        if replaced.contains(&month(&entry.key)) && !computed.contains(&entry.key) {
            written.superseded.push(format!("{KEPT}/{}", entry.key));
        }
    }
    Ok(written)
}

/// `YYYY-MM` of a date.
fn month_key(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

/// The months of a listing of `stg_events` (keys `event_date=YYYY-MM-DD/…`), each with the
/// fingerprint of its files.
fn months_of(entries: &[Entry]) -> BTreeMap<String, String> {
    let mut described: BTreeMap<String, String> = BTreeMap::new();
    for entry in entries {
        let Some(date) = entry.key.strip_prefix("event_date=") else {
            continue;
        };
        // A partition of no date (`__HIVE_DEFAULT_PARTITION__`) is in no month.
        let Some(month) = date.get(..10).filter(|d| d.parse::<NaiveDate>().is_ok()) else {
            continue;
        };
        let month = &month[..7];
        let line = format!(
            "{} {} {} {}\n",
            entry.key,
            entry.size,
            entry.modified,
            entry.e_tag.as_deref().unwrap_or("")
        );
        described
            .entry(month.to_string())
            .or_default()
            .push_str(&line);
    }
    described
        .into_iter()
        .map(|(month, files)| {
            let fingerprint = crate::base::ids::hash_id(&files) as u64;
            (month, format!("{fingerprint:016x}"))
        })
        .collect()
}

/// Computes one month's latest active days into `file`.
async fn compute_month(ctx: &SessionContext, month: &str, file: &Path) -> Result<()> {
    let first: NaiveDate = format!("{month}-01")
        .parse()
        .expect("months come from partition dates");
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("a representable month");
    let df = ctx
        .sql(&format!(
            "select account_id, cast(max(cast(event_date as int)) as int) as last_active_day \
             from stg_events \
             where account_id is not null and event_date >= date '{first}' \
             and event_date < date '{next}' \
             group by account_id"
        ))
        .await
        .context(format!("latest active days of {month}"))?;
    let parent = file.parent().expect("a file in a directory");
    let dir = parent.join("computing").join(month);
    let rows = engine::write_table(df, "last_active", &dir, None, WriteOrder::AsItComes).await?;
    let written = dir.join(if rows == 0 {
        "empty.parquet"
    } else {
        "part-0.parquet"
    });
    std::fs::rename(&written, file).map_err(|e| Error::io(file, e))?;
    std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, size: u64) -> Entry {
        Entry {
            key: key.to_string(),
            size,
            modified: 1,
            e_tag: None,
        }
    }

    #[test]
    fn a_months_fingerprint_changes_with_any_of_its_files_and_no_other() {
        let before = months_of(&[
            entry("empty.parquet", 10),
            entry("event_date=2026-08-31/part-0.parquet", 100),
            entry("event_date=2026-09-01/part-0.parquet", 200),
            entry("event_date=2026-09-02/part-0.parquet", 300),
            entry("event_date=__HIVE_DEFAULT_PARTITION__/part-0.parquet", 5),
        ]);
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            vec!["2026-08", "2026-09"]
        );
        let after = months_of(&[
            entry("empty.parquet", 10),
            entry("event_date=2026-08-31/part-0.parquet", 100),
            entry("event_date=2026-09-01/part-0.parquet", 200),
            entry("event_date=2026-09-02/part-0.parquet", 301),
        ]);
        assert_eq!(before["2026-08"], after["2026-08"]);
        assert_ne!(before["2026-09"], after["2026-09"]);
    }
}
