//! A Delta table's versions: listing them with the runs that wrote them, and compacting and
//! vacuuming the files they read.

use super::{COMMAND_KEY, RUN_ID_KEY, Writer, delta_error, info_text, open};
use crate::engine::Result;
use crate::engine::warehouse::Warehouse;
use deltalake::kernel::CommitInfo;
use deltalake::kernel::transaction::CommitProperties;
use futures::TryStreamExt;

/// One version of a table, as `history` lists it.
#[derive(Debug, Clone)]
pub struct Version {
    pub version: u64,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub operation: String,
    pub run_id: Option<String>,
    pub command: Option<String>,
    pub rows_written: Option<u64>,
    pub files_added: Option<u64>,
    pub files_removed: Option<u64>,
}

/// Every version of a table, newest first; `None` when `rel` is not a Delta table.
pub async fn history(warehouse: &Warehouse, rel: &str) -> Result<Option<Vec<Version>>> {
    let Some(table) = open(warehouse, rel).await? else {
        return Ok(None);
    };
    let newest = table.version().unwrap_or(0);
    let infos: Vec<CommitInfo> = table
        .history(None)
        .try_collect()
        .await
        .map_err(|e| delta_error(warehouse.url_of(rel), e))?;
    let metric = |info: &CommitInfo, key: &str| {
        let metrics = info.info.get("operationMetrics")?;
        let value = metrics.get(key)?;
        value
            .as_u64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
    };
    Ok(Some(
        infos
            .iter()
            .enumerate()
            .map(|(i, info)| Version {
                // The log lists every version it keeps, newest first.
                version: newest.saturating_sub(i as u64),
                timestamp: info.timestamp,
                operation: info.operation.clone().unwrap_or_default(),
                run_id: info_text(info, RUN_ID_KEY),
                command: info_text(info, COMMAND_KEY),
                rows_written: metric(info, "numOutputRows")
                    .or_else(|| metric(info, "numAddedRows")),
                files_added: metric(info, "numFiles").or_else(|| metric(info, "numFilesAdded")),
                files_removed: metric(info, "numRemovedFiles")
                    .or_else(|| metric(info, "numFilesRemoved")),
            })
            .collect(),
    ))
}

/// What compacting a table did.
#[derive(Debug, Default, Clone)]
pub struct Compacted {
    pub files_removed: u64,
    pub files_added: u64,
    pub files_vacuumed: usize,
}

/// Rewrites a table's small files of each partition into fewer (one Delta `optimize`
/// commit, tagged with the run's id); with `vacuum_days`, then deletes the files no version
/// of the last that many days reads.
pub async fn compact(
    warehouse: &Warehouse,
    rel: &str,
    vacuum_days: Option<u32>,
    writer: &Writer<'_>,
) -> Result<Option<Compacted>> {
    let Some(table) = open(warehouse, rel).await? else {
        return Ok(None);
    };
    let what = warehouse.url_of(rel);
    let properties = || CommitProperties::default().with_metadata(writer.commit_metadata());
    let (table, metrics) = table
        .optimize()
        .with_commit_properties(properties())
        .await
        .map_err(|e| delta_error(format!("compacting {what}"), e))?;
    let mut done = Compacted {
        files_removed: metrics.num_files_removed,
        files_added: metrics.num_files_added,
        files_vacuumed: 0,
    };
    if let Some(days) = vacuum_days {
        let (_, vacuumed) = table
            .vacuum()
            .with_retention_period(chrono::Duration::days(i64::from(days)))
            .with_enforce_retention_duration(false)
            .with_commit_properties(properties())
            .await
            .map_err(|e| delta_error(format!("vacuuming {what}"), e))?;
        done.files_vacuumed = vacuumed.files_deleted.len();
    }
    Ok(Some(done))
}
