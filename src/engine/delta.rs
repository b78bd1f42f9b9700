//! Delta Lake tables (contract §4, table formats): in a `delta` warehouse every output table is the same
//! Hive-partitioned Parquet files a `parquet` warehouse holds, made visible by a commit to
//! the table's `_delta_log` instead of by their place in a folder.
//!
//! Commits are planned before the publish journal is written ([`plan`]: the log actions,
//! computed against the table's current version) and made after the files are in place
//! ([`commit`], which a recovering run repeats safely: a table whose newest version carries
//! the run's id is not committed twice). Reads go through the log ([`register`]), at the
//! newest version or one a [`TimeTravel`] names; files a version no longer uses stay until
//! [`vacuum`].
//!
//! The warehouse lock keeps one writer per warehouse; each commit is a put-if-absent of the
//! next log file, which local disks and S3 both offer, so no external lock is needed.

use crate::engine::warehouse::Warehouse;
use crate::engine::{EngineContext, Error, Result};
use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::{SessionContext, cast, col};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference};
use deltalake::kernel::{Action, Add, CommitInfo, MetadataExt, StructType, new_metadata};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableBuilder, ObjectStore};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    predicate: Option<String>,
    partition_by: Vec<String>,
    run_id: String,
    command: String,
    rows: u64,
    files_added: usize,
    files_removed: usize,
}

/// Who writes a commit, for its commit info.
pub struct Writer<'a> {
    pub run_id: &'a str,
    pub command: &'a str,
}

fn delta_error(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::Delta(format!("{what}: {e}"))
}

fn register_s3_once() {
    static S3: Once = Once::new();
    S3.call_once(|| deltalake::aws::register_handlers(None));
}

/// The builder of the Delta table at `location` (a local directory or a store URL), with
/// the store `store` for URLs.
fn builder(location: &str, store: Option<Arc<dyn ObjectStore>>) -> Result<DeltaTableBuilder> {
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
async fn load(
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

/// Whether the table at `location` (a local directory or a URL of a store registered with
/// `ctx`) is a Delta table; its store when it is one.
async fn delta_at(
    ctx: &SessionContext,
    location: &str,
) -> Result<Option<Option<Arc<dyn ObjectStore>>>> {
    if !crate::base::is_url(location) {
        let dir = std::path::Path::new(location.strip_prefix("file://").unwrap_or(location));
        return Ok(dir.join(LOG_DIR).is_dir().then_some(None));
    }
    let url = Url::parse(location).map_err(|e| delta_error(location, e))?;
    let Ok(store) = ctx.runtime_env().object_store(
        datafusion::execution::object_store::ObjectStoreUrl::parse(
            &url[..url::Position::BeforePath],
        )
        .map_err(|e| delta_error(location, e))?,
    ) else {
        return Ok(None);
    };
    let log = object_store::path::Path::from_url_path(format!(
        "{}/{LOG_DIR}",
        url.path().trim_end_matches('/')
    ))
    .map_err(|e| delta_error(location, e))?;
    match store.list(Some(&log)).next().await {
        Some(Ok(_)) => Ok(Some(Some(store))),
        Some(Err(e)) => Err(delta_error(location, e)),
        None => Ok(None),
    }
}

/// What [`register`] found at a location.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    Yes,
    /// The location holds no Delta table.
    NotDelta,
    /// The table has no version at the time travel asked (it is younger, say): why.
    NotThen(String),
}

/// Registers the Delta table at `location` as `name` when it is one, reading the columns
/// as `schema` (the file columns, then the partition column) where given, and string views
/// as strings.
pub async fn register(
    ctx: &SessionContext,
    name: &str,
    location: &str,
    schema: Option<&Schema>,
    travel: Option<TimeTravel>,
) -> Result<Registered> {
    let Some(store) = delta_at(ctx, location).await? else {
        return Ok(Registered::NotDelta);
    };
    let table = match load(location, store, travel).await {
        Ok(table) => table,
        Err(e) if travel.is_some() => return Ok(Registered::NotThen(e.to_string())),
        Err(e) => return Err(e),
    };
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| delta_error(location, e))?;
    let provider = table
        .table_provider()
        .await
        .context(format!("reading the Delta table {location}"))?;
    let df = ctx
        .read_table(provider)
        .context(format!("reading the Delta table {location}"))?;
    let wanted: Vec<Field> = match schema {
        Some(schema) => schema.fields().iter().map(|f| f.as_ref().clone()).collect(),
        None => df
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect(),
    };
    let columns = wanted
        .iter()
        .map(|field| {
            let ty = match field.data_type() {
                DataType::Utf8View => DataType::Utf8,
                other => other.clone(),
            };
            cast(col(format!("\"{}\"", field.name())), ty).alias(field.name())
        })
        .collect::<Vec<_>>();
    let df = df
        .select(columns)
        .context(format!("reading the Delta table {location}"))?;
    ctx.register_table(name, df.into_view())
        .context(format!("registering {name} at {location}"))?;
    Ok(Registered::Yes)
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
    info.info = HashMap::from([
        ("churnlake_run_id".into(), commit.run_id.clone().into()),
        ("churnlake_command".into(), commit.command.clone().into()),
        (
            "operationMetrics".into(),
            serde_json::json!({
                "numFiles": commit.files_added.to_string(),
                "numOutputRows": commit.rows.to_string(),
                "numRemovedFiles": commit.files_removed.to_string(),
            }),
        ),
    ]);
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
    Ok(newest.first().and_then(|info| {
        info.info
            .get("churnlake_run_id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }))
}

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
                version: info
                    .read_version
                    .map_or(newest.saturating_sub(i as u64), |v| v + 1),
                timestamp: info.timestamp,
                operation: info.operation.clone().unwrap_or_default(),
                run_id: info
                    .info
                    .get("churnlake_run_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                command: info
                    .info
                    .get("churnlake_command")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
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
    let properties = CommitProperties::default().with_metadata([
        ("churnlake_run_id".to_string(), writer.run_id.into()),
        ("churnlake_command".to_string(), writer.command.into()),
    ]);
    let (table, metrics) = table
        .optimize()
        .with_commit_properties(properties)
        .await
        .map_err(|e| delta_error(format!("compacting {what}"), e))?;
    let mut done = Compacted {
        files_removed: metrics.num_files_removed,
        files_added: metrics.num_files_added,
        files_vacuumed: 0,
    };
    if let Some(days) = vacuum_days {
        let properties = CommitProperties::default().with_metadata([
            ("churnlake_run_id".to_string(), writer.run_id.into()),
            ("churnlake_command".to_string(), writer.command.into()),
        ]);
        let (_, vacuumed) = table
            .vacuum()
            .with_retention_period(chrono::Duration::days(i64::from(days)))
            .with_enforce_retention_duration(false)
            .with_commit_properties(properties)
            .await
            .map_err(|e| delta_error(format!("vacuuming {what}"), e))?;
        done.files_vacuumed = vacuumed.files_deleted.len();
    }
    Ok(Some(done))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{query, session, string_rows};
    use datafusion::arrow::array::{Int64Array, RecordBatch};

    /// Writes one Parquet file of `values` at `table/rel` and describes it.
    fn file(table: &std::path::Path, rel: &str, values: &[i64]) -> NewFile {
        let path = table.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(values.to_vec()))],
        )
        .unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            schema,
            None,
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        NewFile {
            path: rel.to_string(),
            size: std::fs::metadata(&path).unwrap().len(),
            rows: values.len() as u64,
        }
    }

    #[tokio::test]
    async fn partition_values_with_spaces_and_non_ascii_commit_and_read_back_at_each_version() {
        let dir = tempfile::tempdir().unwrap();
        let warehouse = Warehouse::open(dir.path()).unwrap();
        let table = dir.path().join("t");
        let schema = Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("region", DataType::Utf8, true),
        ]);
        let writer = Writer {
            run_id: "r1",
            command: "test",
        };
        let first = Change {
            schema: Some(schema.clone()),
            partition_by: vec!["region".into()],
            added: vec![
                file(&table, "region=east coast/part-0-r1.parquet", &[1, 2]),
                file(&table, "region=東京/part-0-r1.parquet", &[10]),
            ],
            ..Default::default()
        };
        let planned = plan(&warehouse, "t", &first, &writer)
            .await
            .unwrap()
            .unwrap();
        assert!(commit(&warehouse, &planned).await.unwrap());
        // Made again (a recovering run), it is not committed twice.
        assert!(!commit(&warehouse, &planned).await.unwrap());

        // The second version replaces Tokyo's partition.
        let writer = Writer {
            run_id: "r2",
            command: "test",
        };
        let second = Change {
            schema: Some(schema),
            partition_by: vec!["region".into()],
            added: vec![file(&table, "region=東京/part-0-r2.parquet", &[20, 30])],
            removed: ["region=東京/part-0-r1.parquet".to_string()].into(),
            ..Default::default()
        };
        let planned = plan(&warehouse, "t", &second, &writer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(planned.predicate.as_deref(), Some("region = '東京'"));
        assert!(commit(&warehouse, &planned).await.unwrap());

        let location = table.display().to_string();
        for (travel, expected) in [
            (None, vec![vec!["east coast", "3"], vec!["東京", "50"]]),
            (
                Some(TimeTravel::Version(0)),
                vec![vec!["east coast", "3"], vec!["東京", "10"]],
            ),
        ] {
            let ctx = session();
            let registered = register(&ctx, "t", &location, None, travel).await.unwrap();
            assert_eq!(registered, Registered::Yes);
            let sql =
                "select region, cast(sum(n) as varchar) from t group by region order by region";
            assert_eq!(
                string_rows(&query(&ctx, sql).await.unwrap()),
                expected,
                "{travel:?}"
            );
        }
        let versions = history(&warehouse, "t").await.unwrap().unwrap();
        let runs: Vec<_> = versions
            .iter()
            .map(|v| (v.version, v.run_id.clone()))
            .collect();
        assert_eq!(runs, vec![(1, Some("r2".into())), (0, Some("r1".into()))]);
        assert_eq!(versions[0].rows_written, Some(2));
        assert_eq!(versions[0].files_removed, Some(1));
        // A version the table never had is no table then.
        let ctx = session();
        let later = register(&ctx, "t", &location, None, Some(TimeTravel::Version(5))).await;
        assert!(matches!(later.unwrap(), Registered::NotThen(_)));
    }
}
