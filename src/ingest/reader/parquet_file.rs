//! Parquet rows, numbered by row index: mapped columns (top-level or a dotted path into
//! structs) rendered as text, a column of a type its field cannot take refusing its values.

use super::{
    FileRead, Item, Projection, RawText, SourceFile, ValueKind, check_unique_columns, misfit,
    missing_column,
};
use crate::base::error::FromFile;
use crate::ingest::{Error, Result};
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StructArray};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;

pub(super) fn read(
    file: &SourceFile,
    projection: &Projection,
    batch_rows: usize,
    on_item: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<FileRead> {
    let handle =
        File::open(&file.path).map_err(|e| Error::io(file.name(), format!("cannot open: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(handle)
        .map_err(|e| Error::io(file.name(), format!("not a readable Parquet file: {e}")))?;
    let schema = builder.schema().clone();
    let names = schema.fields().iter().map(|f| f.name().as_str());
    check_unique_columns(file, projection, names, "the schema")?;
    let reader = builder
        .with_batch_size(batch_rows)
        .build()
        .map_err(|e| Error::io(file.name(), format!("not a readable Parquet file: {e}")))?;
    let options = FormatOptions::default().with_null("");
    let mut values: Vec<Option<String>> = vec![None; projection.columns.len()];
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    let mut row_index = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| file.read_error(&e))?;
        let mut arrays: Vec<Option<ArrayRef>> = Vec::new();
        for (i, column) in projection.columns.iter().enumerate() {
            let array = column.as_ref().and_then(|c| column_by_path(&batch, c));
            if let (None, Some(column), true) = (&array, column, projection.required[i]) {
                return Err(missing_column(file, projection.fields[i], column));
            }
            arrays.push(array);
        }
        // A column whose type no value of its field can take: each of its values is a
        // bad row (nulls are absent values, which the field may allow).
        let misfits: Vec<Option<String>> = arrays
            .iter()
            .enumerate()
            .map(|(i, array)| {
                let kind = ValueKind::of_arrow(array.as_ref()?.data_type());
                let shape = projection.shapes[i];
                let column = projection.columns[i].as_deref().unwrap_or_default();
                (!shape.takes(kind))
                    .then(|| misfit(projection.fields[i], column, "Parquet", kind, shape))
            })
            .collect();
        let formatters = arrays
            .iter()
            .map(|a| {
                a.as_ref()
                    .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
                    .transpose()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| file.read_error(&e))?;
        for row in 0..batch.num_rows() {
            pairs.clear();
            for (i, (slot, formatter)) in values.iter_mut().zip(&formatters).enumerate() {
                *slot = match (formatter, &arrays[i]) {
                    (Some(f), Some(a)) if a.is_valid(row) => Some(f.value(row).to_string()),
                    _ => None,
                };
                pairs.push((projection.fields[i].to_string(), slot.clone()));
            }
            let misfit = misfits
                .iter()
                .enumerate()
                .find(|(i, m)| m.is_some() && values[*i].is_some());
            if let Some((i, Some(reason))) = misfit {
                on_item(Item::Unreadable {
                    line: row_index,
                    raw: RawText::Parquet(&pairs).render(),
                    field: Some(projection.fields[i].to_string()),
                    reason: reason.clone(),
                })?;
                row_index += 1;
                continue;
            }
            let view: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            on_item(Item::Record {
                line: row_index,
                values: &view,
                raw: RawText::Parquet(&pairs),
            })?;
            row_index += 1;
        }
    }
    Ok(FileRead {
        rows: row_index,
        bytes: file.size(),
    })
}

/// A top-level column, or a field inside struct columns by dotted path.
fn column_by_path(batch: &RecordBatch, path: &str) -> Option<ArrayRef> {
    if let Some(array) = batch.column_by_name(path) {
        return Some(array.clone());
    }
    let mut parts = path.split('.');
    let mut array = batch.column_by_name(parts.next()?)?.clone();
    for part in parts {
        let parent = array.as_any().downcast_ref::<StructArray>()?;
        array = parent.column_by_name(part)?.clone();
    }
    Some(array)
}
