//! Updating the staged tables that hold one row per key.
//!
//! `stg_identities` (one row per group call's message_id) and `stg_users` (one row per
//! user_id, from the user's latest identify call) take each row from the raw rows of its key
//! alone. So when a run read only new files (no file changed or went, no definition changed),
//! only the keys the new rows carry can change: ingest restages those keys from all their
//! reads (the new rows and the kept raw rows of the same keys, with the same `sql/staging`
//! models) and carries every other row over from the table the last run published. The
//! result is row for row what restaging everything gives, without sorting every raw row.

use super::append::MAX_NEW_ROWS;
use super::manifest::{StagedFigures, Staging};
use crate::engine::EngineContext;
use crate::engine::warehouse::Warehouse;
use crate::engine::{self, WriteOrder};
use crate::staging::Result;
use datafusion::prelude::{DataFrame, SessionContext};
use std::path::Path;

/// The keyed staged tables: model, raw table, key.
const TARGETS: [(&str, &str, &str); 2] = [
    ("stg_identities", "identities", "message_id"),
    ("stg_users", "users", "user_id"),
];

/// One keyed staged table this run updates rather than restages.
#[derive(Debug, Clone)]
pub struct KeyedUpdate {
    pub model: &'static str,
    pub raw: &'static str,
    pub key: &'static str,
    /// The table's figures after the last run.
    pub previous: StagedFigures,
    /// Valid rows in the files read this run.
    pub new_rows: u64,
    /// The keys restaged (after [`write`]).
    pub restaged: u64,
}

impl KeyedUpdate {
    /// The view of the restaged rows (after [`write`]).
    pub fn restaged_view(&self) -> String {
        format!("{}_restaged", self.model)
    }

    /// The run's note for the operator.
    pub fn note(&self) -> String {
        format!(
            "updated: {} {}s restaged, the other rows carried over",
            self.restaged, self.key
        )
    }
}

/// The keyed tables this run updates, given what the last run staged (`previous`) and the
/// rows of the files read now (`new_raw_<table>`). Call only when no file changed or went
/// and no source was redefined.
pub async fn plan(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    fingerprint: &str,
    previous: Option<&Staging>,
) -> Result<Vec<KeyedUpdate>> {
    let Some(previous) = previous.filter(|s| s.fingerprint == fingerprint) else {
        return Ok(Vec::new());
    };
    let mut updates = Vec::new();
    for (model, raw, key) in TARGETS {
        let Some(figures) = previous.tables.get(model) else {
            continue;
        };
        if figures.rows == 0 || !warehouse.exists(model).await? {
            continue;
        }
        let sql =
            format!("select count(*), count(*) filter (where {key} is null) from new_raw_{raw}");
        let counts = engine::string_rows(&engine::query(ctx, &sql).await?);
        let count = |i: usize| -> u64 {
            counts
                .first()
                .and_then(|row| row[i].parse().ok())
                .unwrap_or(0)
        };
        let (new_rows, null_keys) = (count(0), count(1));
        // Their keys are held in a hash table (at most MAX_NEW_ROWS, as for an append), and
        // a row without a key shares its group with every other: else restage whole.
        if new_rows > MAX_NEW_ROWS || new_rows * 4 > figures.rows || null_keys > 0 {
            continue;
        }
        updates.push(KeyedUpdate {
            model,
            raw,
            key,
            previous: *figures,
            new_rows,
            restaged: 0,
        });
    }
    Ok(updates)
}

/// Registers `raw_<table>_files` for an update: the new rows (`new`) and the kept raw rows
/// (`kept`, when files are kept) of every key they carry.
pub async fn register_raw(
    ctx: &SessionContext,
    update: &KeyedUpdate,
    new: DataFrame,
    kept: Option<DataFrame>,
) -> Result<()> {
    let (raw, key) = (update.raw, update.key);
    let step = format!("finding the kept reads of the new {raw} keys");
    let mut rows = new;
    if let Some(kept) = kept {
        let kept_view = format!("kept_raw_{raw}");
        ctx.register_table(&kept_view, kept.into_view())
            .context(step.clone())?;
        // The new keys are the hash join's build side; the kept rows stream past them.
        let touched = ctx
            .sql(&format!(
                "select kept.* from (select distinct {key} from new_raw_{raw}) as new_keys \
                 join {kept_view} as kept on kept.{key} = new_keys.{key}"
            ))
            .await
            .context(step.clone())?;
        rows = rows.union(touched).context(step.clone())?;
    }
    ctx.register_table(format!("raw_{raw}_files"), rows.into_view())
        .context(step)?;
    Ok(())
}

/// Writes the updated table into `dir` (the restaged rows of the new keys, `restaged`, first
/// written to `scratch` and registered as [`KeyedUpdate::restaged_view`], and the last run's
/// rows of every other key) and registers it under the model's name. Returns the table's
/// rows.
pub async fn write(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    update: &mut KeyedUpdate,
    restaged: DataFrame,
    scratch: &Path,
    dir: &Path,
) -> Result<u64> {
    let (model, raw, key) = (update.model, update.raw, update.key);
    let step = format!("updating {model}");
    // Both parts read with the restaged rows' types, so their union needs no coercion.
    let schema = &restaged.schema().as_arrow().clone();
    let register = |name: String, location: String| async move {
        engine::register_location_typed(ctx, &name, &location, Some(schema), None).await
    };
    let restaged_view = update.restaged_view();
    let restaged_dir = scratch.join(&restaged_view);
    update.restaged = engine::write_table(
        restaged,
        &restaged_view,
        &restaged_dir,
        None,
        WriteOrder::AsItComes,
    )
    .await?;
    register(restaged_view.clone(), restaged_dir.display().to_string()).await?;
    let previous = format!("previous_{model}");
    register(previous.clone(), warehouse.url_of(model)).await?;
    // The new keys are the build side; the last run's rows stream past them.
    let whole = ctx
        .sql(&format!(
            "select * from {restaged_view} \
             union all \
             select staged.* from (select distinct {key} from new_raw_{raw}) as new_keys \
             right join {previous} as staged on staged.{key} = new_keys.{key} \
             where new_keys.{key} is null"
        ))
        .await
        .context(step)?;
    let rows = engine::write_table(whole, model, dir, None, WriteOrder::AsItComes).await?;
    engine::register_table(ctx, model, dir, None).await?;
    Ok(rows)
}
