//! Committing a publication's files to a Delta table: the log actions planned before the
//! journal is written ([`plan`]), the commit made after the files are in place ([`commit`]),
//! which a recovering run repeats safely.

use super::{RUN_ID_KEY, Writer, builder, delta_error, info_text, open, partition_values};
use crate::engine::Result;
use crate::engine::warehouse::Warehouse;
use chrono::Utc;
use datafusion::arrow::datatypes::Schema;
use deltalake::DeltaTable;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference};
use deltalake::kernel::{Action, Add, CommitInfo, MetadataExt, StructType, new_metadata};
use deltalake::protocol::{DeltaOperation, SaveMode};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// A data file of this run, already at its place in the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewFile {
    /// Relative to the table root, `/`-separated, not URL-encoded.
    pub path: String,
    pub size: u64,
    pub rows: u64,
}

/// One table's commit, planned before the journal is written and made after the moves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    /// The table's key in the warehouse.
    pub table: String,
    /// The version the commit was planned against (`None`: the table did not exist).
    read_version: Option<u64>,
    /// The log actions besides the commit info, as the log writes them.
    actions: Vec<serde_json::Value>,
    /// `Append` or `Overwrite`, for the commit info.
    overwrite: bool,
    /// The partitions an overwrite replaces (its `replaceWhere`); none for a whole table.
    pub(super) predicate: Option<String>,
    partition_by: Vec<String>,
    run_id: String,
    command: String,
    rows: u64,
    files_added: usize,
    files_removed: usize,
}

/// What a publication does to one table.
#[derive(Debug, Default)]
pub struct Change {
    /// The table's columns, partition columns last; `None` keeps the table's schema.
    pub schema: Option<Schema>,
    pub partition_by: Vec<String>,
    /// Files this run placed in the table.
    pub added: Vec<NewFile>,
    /// Paths relative to the table that the new version drops; those not in its current
    /// version are ignored.
    pub removed: BTreeSet<String>,
    /// A replacement of the whole table rather than of the partitions touched.
    pub whole: bool,
}

/// Plans the commit that makes the table `table` hold the files `change` adds in place of
/// those it removes. Returns `None` when the commit would change nothing.
pub async fn plan(
    warehouse: &Warehouse,
    table: &str,
    change: &Change,
    writer: &Writer<'_>,
) -> Result<Option<Commit>> {
    let Change {
        schema,
        partition_by,
        added,
        removed,
        whole,
    } = change;
    let current = open(warehouse, table).await?;
    let what = warehouse.url_of(table);
    let mut actions: Vec<Action> = Vec::new();
    let kernel_schema: Option<StructType> = match schema.as_ref() {
        Some(schema) => Some(
            schema
                .try_into_kernel()
                .map_err(|e| delta_error(&what, format!("its schema has no Delta type: {e}")))?,
        ),
        None => None,
    };
    match (&current, kernel_schema) {
        (None, Some(schema)) => {
            let protocol = serde_json::json!({"minReaderVersion": 1, "minWriterVersion": 2});
            actions.push(Action::Protocol(
                serde_json::from_value(protocol).expect("a valid protocol action"),
            ));
            let metadata = new_metadata(&schema, partition_by, Vec::<(String, String)>::new())
                .map_err(|e| delta_error(&what, e))?;
            actions.push(Action::Metadata(metadata));
        }
        (None, None) => return Ok(None),
        (Some(table), Some(schema)) => {
            let snapshot = table.snapshot().map_err(|e| delta_error(&what, e))?;
            if snapshot.schema().as_ref() != &schema {
                let metadata = snapshot
                    .metadata()
                    .clone()
                    .with_schema(&schema)
                    .map_err(|e| delta_error(&what, e))?;
                actions.push(Action::Metadata(metadata));
            }
        }
        (Some(_), None) => {}
    }
    let mut files_removed = 0;
    let mut partitions = BTreeSet::new();
    if let Some(table) = &current {
        let snapshot = table.snapshot().map_err(|e| delta_error(&what, e))?;
        for file in snapshot.log_data().iter() {
            if removed.contains(file.path().as_ref()) {
                partitions.extend(partition_values(&file.path()));
                actions.push(Action::Remove(file.remove_action(true)));
                files_removed += 1;
            }
        }
    }
    let now = Utc::now().timestamp_millis();
    let mut rows = 0;
    for file in added.iter() {
        let values = partition_values(&file.path);
        partitions.extend(values.clone());
        rows += file.rows;
        actions.push(Action::Add(Add {
            // Decoded: the log's serializer percent-encodes it.
            path: file.path.clone(),
            partition_values: values.into_iter().collect(),
            size: file.size as i64,
            modification_time: now,
            data_change: true,
            stats: Some(serde_json::json!({ "numRecords": file.rows }).to_string()),
            ..Default::default()
        }));
    }
    if actions.is_empty() {
        return Ok(None);
    }
    let predicate = (!*whole && !partitions.is_empty() && files_removed > 0).then(|| {
        partitions
            .iter()
            .map(|(column, value)| match value {
                Some(v) => format!("{column} = '{}'", v.replace('\'', "''")),
                None => format!("{column} IS NULL"),
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    });
    Ok(Some(Commit {
        table: table.to_string(),
        read_version: current.as_ref().and_then(|t| t.version()),
        actions: actions
            .iter()
            .map(|a| serde_json::to_value(a).expect("a log action serializes"))
            .collect(),
        overwrite: files_removed > 0,
        predicate,
        partition_by: partition_by.to_vec(),
        run_id: writer.run_id.to_string(),
        command: writer.command.to_string(),
        rows,
        files_added: added.len(),
        files_removed,
    }))
}

/// Makes a planned commit; `false` when it was already made (a recovering run repeating
/// the publication finds the table one version past the plan, at a version of this run).
pub async fn commit(warehouse: &Warehouse, commit: &Commit) -> Result<bool> {
    let what = warehouse.url_of(&commit.table);
    let current = open(warehouse, &commit.table).await?;
    let version = current.as_ref().and_then(|t| t.version());
    if version != commit.read_version {
        let ours = match &current {
            Some(table) => last_run_id(table).await?.as_deref() == Some(commit.run_id.as_str()),
            None => false,
        };
        let one_past_the_plan = match commit.read_version {
            Some(planned) => version == Some(planned + 1),
            None => version == Some(0),
        };
        if ours && one_past_the_plan {
            return Ok(false);
        }
        return Err(delta_error(
            &what,
            format!(
                "the table moved from version {:?} to {version:?} while run {} published; \
                 another writer bypassed the warehouse lock",
                commit.read_version, commit.run_id
            ),
        ));
    }
    let log_store = match &current {
        Some(table) => table.log_store(),
        None => {
            let store = (!warehouse.is_local()).then(|| warehouse.root_store());
            builder(&what, store)?
                .build_storage()
                .map_err(|e| delta_error(&what, e))?
        }
    };
    let mode = if commit.overwrite {
        SaveMode::Overwrite
    } else {
        SaveMode::Append
    };
    let operation = DeltaOperation::Write {
        mode,
        partition_by: (!commit.partition_by.is_empty()).then(|| commit.partition_by.clone()),
        predicate: commit.predicate.clone(),
    };
    let mut info: CommitInfo = operation.get_commit_info();
    info.timestamp = Some(Utc::now().timestamp_millis());
    info.user_metadata = Some(commit.run_id.clone());
    info.is_blind_append = Some(!commit.overwrite);
    let writer = Writer {
        run_id: &commit.run_id,
        command: &commit.command,
    };
    info.info = HashMap::from_iter(writer.commit_metadata());
    info.info.extend([(
        "operationMetrics".into(),
        serde_json::json!({
            "numFiles": commit.files_added.to_string(),
            "numOutputRows": commit.rows.to_string(),
            "numRemovedFiles": commit.files_removed.to_string(),
        }),
    )]);
    let mut actions = vec![Action::CommitInfo(info)];
    for value in &commit.actions {
        actions.push(
            serde_json::from_value(value.clone())
                .map_err(|e| delta_error(&what, format!("unreadable planned action: {e}")))?,
        );
    }
    let snapshot = match &current {
        Some(table) => Some(table.snapshot().map_err(|e| delta_error(&what, e))?),
        None => None,
    };
    CommitBuilder::from(CommitProperties::default())
        .with_actions(actions)
        .build(
            snapshot.map(|s| s as &dyn TableReference),
            log_store,
            operation,
        )
        .await
        .map_err(|e| delta_error(format!("committing {what}"), e))?;
    Ok(true)
}

/// The run id of the table's newest commit, when churnlake wrote it.
async fn last_run_id(table: &DeltaTable) -> Result<Option<String>> {
    let newest: Vec<CommitInfo> = table
        .history(Some(1))
        .try_collect()
        .await
        .map_err(|e| delta_error(table.table_url(), e))?;
    Ok(newest.first().and_then(|info| info_text(info, RUN_ID_KEY)))
}
