//! The manifest of the staged tables: `<warehouse>/_state/manifest.json` holds every
//! source's file states (written by `ingest`) and what the staging models made of them, for
//! the next run to append to, update or keep.

use crate::base::error::FromFile;
use crate::config::Pipeline;
use crate::engine::warehouse::Warehouse;
use crate::ingest::state::SourceState;
use crate::staging::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::Hasher;
use twox_hash::XxHash3_64;

pub const MANIFEST: &str = "_state/manifest.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub sources: BTreeMap<String, SourceState>,
    /// What the staging models made of the raw rows, for the next run to append to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging: Option<Staging>,
}

/// The staged tables as the last run left them (see [`super::append`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Staging {
    /// [`staging_fingerprint`] of the run that staged them.
    pub fingerprint: String,
    /// Staged table → its figures.
    pub tables: BTreeMap<String, StagedFigures>,
}

/// A staged table's figures, as `data_quality` counts them.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct StagedFigures {
    pub rows: u64,
    /// Raw rows that lost deduplication.
    pub duplicates: u64,
    /// Microseconds since the epoch, UTC.
    pub max_event_time: Option<i64>,
    /// Rows whose account no handoff names; absent in manifests written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphans: Option<u64>,
}

impl Manifest {
    /// The manifest of a warehouse; empty when there is none yet.
    pub async fn load(warehouse: &Warehouse) -> Result<Manifest> {
        match warehouse.get(MANIFEST).await? {
            None => Ok(Manifest::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::io(
                    warehouse.url_of(MANIFEST),
                    format!("unreadable manifest ({e}); run with --full-refresh to rebuild it"),
                )
            }),
        }
    }
}

/// Everything that decides what the staging models make of the raw rows: churnlake's
/// version, the timezone, the reporting currency and the models' SQL.
pub fn staging_fingerprint(pipeline: &Pipeline) -> String {
    let mut hasher = XxHash3_64::default();
    let models = super::models::STAGING_MODELS.iter().map(|m| m.sql());
    for text in [
        env!("CARGO_PKG_VERSION").to_string(),
        pipeline.timezone.to_string(),
        pipeline.reporting_currency.clone(),
    ]
    .into_iter()
    .chain(models)
    .chain([super::append::REWRITE_SQL.to_string()])
    {
        hasher.write(text.as_bytes());
        hasher.write_u8(0);
    }
    format!("{:016x}", hasher.finish())
}
