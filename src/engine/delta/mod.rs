//! Delta Lake tables (contract §4, table formats): in a `delta` warehouse every output
//! table is the same Hive-partitioned Parquet files a `parquet` warehouse holds, made visible
//! by a commit to the table's `_delta_log` instead of by their place in a folder.
//!
//! Commits are planned before the publish journal is written ([`plan`]: the log actions,
//! computed against the table's current version) and made after the files are in place
//! ([`commit`], which a recovering run repeats safely: a table one version past the plan, at
//! a version of the same run, is not committed twice). Reads go through the log
//! ([`register`]), at the newest version or one a [`TimeTravel`] names; files a version no
//! longer uses stay until [`compact`] vacuums them. [`history`] lists the versions.
//!
//! The warehouse lock keeps one writer per warehouse; each commit is a put-if-absent of the
//! next log file, which local disks and S3 both offer, so no external lock is needed.

mod commit;
mod read;
#[cfg(test)]
mod tests;
mod versions;

pub use commit::{Change, Commit, NewFile, commit, plan};
pub use read::{Registered, register};
pub use versions::{Compacted, Version, compact, history};

use crate::engine::warehouse::Warehouse;
use crate::engine::{Error, Result};
use chrono::{DateTime, Utc};
use deltalake::{DeltaTable, DeltaTableBuilder, ObjectStore};
use std::collections::BTreeMap;
use std::sync::{Arc, Once};
use url::Url;

/// The folder of a table that holds its log.
pub const LOG_DIR: &str = "_delta_log";

/// Which version of the tables a read sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeTravel {
    /// Each table at its own version `N`.
    Version(u64),
    /// Each table at its newest version committed at or before the time.
    Time(DateTime<Utc>),
}

/// Who writes a commit, for its commit info.
pub struct Writer<'a> {
    pub run_id: &'a str,
    pub command: &'a str,
}

/// The commit-info keys naming the run and the command that made a version.
const RUN_ID_KEY: &str = "churnlake_run_id";
const COMMAND_KEY: &str = "churnlake_command";

impl Writer<'_> {
    /// The commit-info entries that name this writer.
    fn commit_metadata(&self) -> [(String, serde_json::Value); 2] {
        [
            (RUN_ID_KEY.to_string(), self.run_id.into()),
            (COMMAND_KEY.to_string(), self.command.into()),
        ]
    }
}

/// A text entry of a version's commit info.
fn info_text(info: &deltalake::kernel::CommitInfo, key: &str) -> Option<String> {
    info.info.get(key)?.as_str().map(str::to_string)
}

pub(crate) fn delta_error(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::Delta(format!("{what}: {e}"))
}

fn register_s3_once() {
    static S3: Once = Once::new();
    S3.call_once(|| deltalake::aws::register_handlers(None));
}

/// The builder of the Delta table at `location` (a local directory or a store URL), with
/// the store `store` for URLs.
pub(crate) fn builder(
    location: &str,
    store: Option<Arc<dyn ObjectStore>>,
) -> Result<DeltaTableBuilder> {
    let url = if crate::base::is_url(location) {
        register_s3_once();
        Url::parse(&format!("{}/", location.trim_end_matches('/')))
            .map_err(|e| delta_error(location, e))?
    } else {
        let dir = std::path::absolute(location.strip_prefix("file://").unwrap_or(location))
            .map_err(|e| delta_error(location, e))?;
        Url::from_directory_path(&dir).map_err(|()| delta_error(location, "not a directory"))?
    };
    let builder = DeltaTableBuilder::from_url(url.clone()).map_err(|e| delta_error(location, e))?;
    Ok(match store {
        Some(store) => builder.with_storage_backend(store, url),
        None => builder,
    })
}

/// Loads a table at the version `travel` names (the newest without one).
pub(crate) async fn load(
    location: &str,
    store: Option<Arc<dyn ObjectStore>>,
    travel: Option<TimeTravel>,
) -> Result<DeltaTable> {
    let builder = builder(location, store)?;
    let builder = match travel {
        None => builder,
        Some(TimeTravel::Version(v)) => builder.with_version(v),
        Some(TimeTravel::Time(t)) => builder.with_timestamp(t),
    };
    builder.load().await.map_err(|e| match travel {
        Some(TimeTravel::Version(v)) => delta_error(format!("{location} at version {v}"), e),
        Some(TimeTravel::Time(t)) => delta_error(format!("{location} as of {t}"), e),
        None => delta_error(location, e),
    })
}

/// The Delta table `rel` of a warehouse, when it has a log.
pub async fn open(warehouse: &Warehouse, rel: &str) -> Result<Option<DeltaTable>> {
    if !warehouse.exists(&format!("{rel}/{LOG_DIR}")).await? {
        return Ok(None);
    }
    let store = (!warehouse.is_local()).then(|| warehouse.root_store());
    Ok(Some(
        load(&warehouse.url_of(rel), store, warehouse.travel()).await?,
    ))
}

/// The `column=value` folders of a table-relative path, in order (`None` for Hive's null).
pub fn partition_values(path: &str) -> BTreeMap<String, Option<String>> {
    let mut values = BTreeMap::new();
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    for part in parts {
        if let Some((column, value)) = part.split_once('=') {
            let value = (value != "__HIVE_DEFAULT_PARTITION__").then(|| value.to_string());
            values.insert(column.to_string(), value);
        }
    }
    values
}
