//! Keeping staged tables as the last run staged them.
//!
//! A daily run brings new event and page-view files (appended, see `append`), while the
//! handoff, ticket, NPS and FX sources mostly bring nothing. Restaging those whole costs
//! seconds per table that grow with history, to write what the last run wrote. When no file
//! changed or went and no definition changed, a staged table is kept when its sources read
//! no file and what else it reads did not change for its rows:
//! - `stg_handoffs` converts amounts with `stg_fx_rates`: kept only when that is;
//! - `stg_tickets` and `stg_nps` give a row with no account the account of its user's group
//!   call at the row's time, and the new files bring group calls. A new call, or a new read
//!   replacing a call, changes the resolution only of its user's rows at or after it; those
//!   rows are resolved through the calls before and after (`sql/staging/kept_resolution.sql`),
//!   and the table is kept only when none moves.
//!
//! A kept table is published as nothing (its files stand), and its `data_quality` figures
//! are the last run's.

use super::manifest::{StagedFigures, Staging};
use super::models::{STAGING_MODELS, StagingModel};
use crate::engine;
use crate::engine::warehouse::Warehouse;
use crate::ingest::SourceReport;
use crate::staging::Result;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use std::collections::BTreeMap;

/// SQL counting the rows of a kept table whose account this run's group calls move.
pub const RESOLUTION_SQL: &str = include_str!("../../sql/staging/kept_resolution.sql");

/// The group calls as the last run staged them, for [`RESOLUTION_SQL`].
const BEFORE_IDENTITIES: &str = "before_stg_identities";

/// A staged table ingest may keep, and what else it reads.
struct Keepable {
    model: &'static str,
    /// Other staged tables it reads: it is kept only when they are.
    reads: &'static [&'static str],
    /// Its user and time columns, when it resolves an empty account through group calls.
    resolves_by: Option<(&'static str, &'static str)>,
}

const KEEPABLE: [Keepable; 4] = [
    Keepable {
        model: "stg_fx_rates",
        reads: &[],
        resolves_by: None,
    },
    Keepable {
        model: "stg_handoffs",
        reads: &["stg_fx_rates"],
        resolves_by: None,
    },
    Keepable {
        model: "stg_tickets",
        reads: &[],
        resolves_by: Some(("requester_id", "created_at")),
    },
    Keepable {
        model: "stg_nps",
        reads: &[],
        resolves_by: Some(("user_id", "responded_at")),
    },
];

/// The staged tables this run may keep, with their figures after the last run: those whose
/// sources read no file, staged by the same definitions. Call only when no file changed or
/// went and no source was redefined.
pub async fn candidates(
    warehouse: &Warehouse,
    fingerprint: &str,
    previous: Option<&Staging>,
    sources: &[SourceReport],
) -> Result<BTreeMap<&'static str, StagedFigures>> {
    let mut candidates = BTreeMap::new();
    let Some(previous) = previous.filter(|s| s.fingerprint == fingerprint) else {
        return Ok(candidates);
    };
    for keepable in &KEEPABLE {
        let Some(kind) = STAGING_MODELS
            .iter()
            .find(|m| m.name == keepable.model)
            .and_then(|m| m.kind)
        else {
            continue;
        };
        let read_nothing = sources
            .iter()
            .filter(|s| s.kind == kind.name())
            .all(|s| s.files_read == 0);
        let Some(figures) = previous.tables.get(keepable.model) else {
            continue;
        };
        if read_nothing && warehouse.exists(keepable.model).await? {
            candidates.insert(keepable.model, *figures);
        }
    }
    Ok(candidates)
}

/// Whether `model`, a candidate, stages as the last run staged it, given the tables kept so
/// far; then it is registered from the warehouse under its name. Staged tables it reads
/// (`stg_identities` included) must be registered as this run stages them.
pub async fn keep(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    model: &StagingModel,
    kept: &BTreeMap<&'static str, StagedFigures>,
) -> Result<bool> {
    let Some(keepable) = KEEPABLE.iter().find(|k| k.model == model.name) else {
        return Ok(false);
    };
    if !keepable.reads.iter().all(|r| kept.contains_key(r)) {
        return Ok(false);
    }
    let location = warehouse.url_of(model.name);
    if let Some((user, at)) = keepable.resolves_by {
        if !ctx.table_exist(BEFORE_IDENTITIES).unwrap_or(false) {
            if !warehouse.exists("stg_identities").await? {
                return Ok(false);
            }
            let before = warehouse.url_of("stg_identities");
            engine::register_location(ctx, BEFORE_IDENTITIES, &before, None).await?;
        }
        let table = format!("before_{}", model.name);
        engine::register_location(ctx, &table, &location, None).await?;
        let vars = [("table", table.as_str()), ("user", user), ("at", at)];
        let df = engine::run_model(ctx, "kept_resolution", RESOLUTION_SQL, &vars).await?;
        let moved = engine::count_of(df, "model kept_resolution").await?;
        if moved > 0 {
            return Ok(false);
        }
    }
    let partition = model.partition_by.map(|c| (c, DataType::Date32));
    engine::register_location(ctx, model.name, &location, partition).await?;
    Ok(true)
}
