//! A publication into a `delta` warehouse: its moves and deletes of table files become one
//! Delta commit per table, planned before the journal is written so that a recovering run
//! commits exactly what the crashed one would have.
//!
//! The files are the ones a `parquet` warehouse gets, with two differences: each carries the
//! run id in its name (an old version's file is never overwritten, so time travel reads what
//! that version wrote), and a file that the new version drops is removed from the log, not
//! from the store (`compact --vacuum` deletes it once no version kept reads it). Zero-row
//! files are not published: the log holds the schema.

use super::{Publication, Result};
use crate::base::error::FromFile;
use crate::engine::PARTITION_KEY;
use crate::engine::delta::{self, NewFile, Writer};
use crate::engine::warehouse::Warehouse;
use crate::publish::Error;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What a publication does to one table, as its files tell.
#[derive(Default)]
struct TableChange {
    /// The file columns, from the first file published.
    file_schema: Option<Schema>,
    /// Partition columns, in path order.
    partition_by: Vec<String>,
    added: Vec<NewFile>,
    removed: BTreeSet<String>,
}

/// The table a warehouse key belongs to and the key relative to it, for keys inside an
/// output table (not `_state`, `_work` and the like).
fn table_of(key: &str) -> Option<(&str, &str)> {
    let (table, rest) = key.split_once('/')?;
    (!table.starts_with('_') && !table.starts_with('.') && !rest.is_empty())
        .then_some((table, rest))
}

/// `dir/part-0.parquet` → `dir/part-0-<run_id>.parquet`.
fn unique_name(rel: &str, run_id: &str) -> String {
    match rel.strip_suffix(".parquet") {
        Some(stem) => format!("{stem}-{run_id}.parquet"),
        None => rel.to_string(),
    }
}

/// The type a partition column's values have: dates for `*_date` columns, text otherwise
/// (contract §4, table formats).
fn partition_type(column: &str) -> DataType {
    if column.ends_with("_date") {
        DataType::Date32
    } else {
        DataType::Utf8
    }
}

/// Rows, schema and the partition column an empty file names, from a Parquet footer.
fn footer(file: &Path) -> Result<(u64, Schema, Option<String>)> {
    let opened = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(opened)
        .map_err(|e| Error::io(file, e))?;
    let metadata = reader.metadata().file_metadata();
    let partition = metadata.key_value_metadata().and_then(|pairs| {
        pairs
            .iter()
            .find(|kv| kv.key == PARTITION_KEY)
            .and_then(|kv| kv.value.clone())
    });
    let rows = metadata.num_rows().max(0) as u64;
    Ok((rows, reader.schema().as_ref().clone(), partition))
}

/// Rewrites `publication` for a Delta warehouse: table files renamed per run, zero-row files
/// dropped, deletes of table files turned into planned removes, one commit planned per
/// table touched.
pub(super) async fn plan(
    publication: &mut Publication,
    warehouse: &Warehouse,
    scratch: &Path,
    command: &str,
) -> Result<()> {
    let run_id = publication.run_id.clone();
    let mut tables: BTreeMap<String, TableChange> = BTreeMap::new();
    let mut moves = Vec::new();
    for (staged, target) in std::mem::take(&mut publication.moves) {
        let Some((table, rel)) = table_of(&target).filter(|(_, rel)| rel.ends_with(".parquet"))
        else {
            moves.push((staged, target));
            continue;
        };
        let change = tables.entry(table.to_string()).or_default();
        let file = scratch.join(&staged);
        let (rows, schema, named_partition) = footer(&file)?;
        let columns: Vec<String> = delta::partition_values(rel).into_keys().collect();
        if change.file_schema.is_none() {
            change.file_schema = Some(schema);
        }
        if change.partition_by.is_empty() {
            change.partition_by = if columns.is_empty() {
                named_partition.into_iter().collect()
            } else {
                columns
            };
        }
        if rows == 0 {
            continue;
        }
        let size = std::fs::metadata(&file)
            .map_err(|e| Error::io(&file, e))?
            .len();
        let rel = unique_name(rel, &run_id);
        moves.push((staged, format!("{table}/{rel}")));
        change.added.push(NewFile {
            path: rel,
            size,
            rows,
        });
    }
    publication.moves = moves;
    let mut deletes = Vec::new();
    for key in std::mem::take(&mut publication.deletes) {
        match table_of(&key) {
            Some((table, rel)) => {
                let change = tables.entry(table.to_string()).or_default();
                change.removed.insert(rel.to_string());
            }
            None => deletes.push(key),
        }
    }
    publication.deletes = deletes;
    let writer = Writer {
        run_id: &run_id,
        command,
    };
    for (table, change) in tables {
        let schema = change.file_schema.as_ref().map(|files| {
            let mut fields: Vec<Field> = files
                .fields()
                .iter()
                .filter(|f| !change.partition_by.contains(f.name()))
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect();
            for column in &change.partition_by {
                fields.push(Field::new(column, partition_type(column), true));
            }
            Schema::new(fields)
        });
        let change = delta::Change {
            schema,
            whole: change.partition_by.is_empty(),
            partition_by: change.partition_by,
            added: change.added,
            removed: change.removed,
        };
        let planned = delta::plan(warehouse, &table, &change, &writer).await?;
        publication.delta.extend(planned);
    }
    Ok(())
}
