//! The Parquet files churnlake writes row by row: typed values, column types, and a writer
//! that streams rows into one file.
//!
//! [`TableWriter`] owns one file: it buffers at most one batch of rows, then flushes it, so
//! memory is bounded by the batch size whatever the input size. It knows column types, not
//! what the columns mean; the writer properties of every file churnlake writes live here.

use super::decimal::{MONEY_SCALE, RATE_SCALE};
use super::error::{FileError, Result};
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, Date32Builder, Decimal128Builder, Int32Builder, Int64Builder,
    ListBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field as ArrowField, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A typed value, as it will be stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i32),
    Long(i64),
    /// A decimal's unscaled integer (scale given by the column).
    Decimal(i128),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    List(Vec<String>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// Storage types of staged columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Int,
    Long,
    Money,
    Rate,
    Date,
    Timestamp,
    Tags,
}

impl ColumnType {
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::Text => DataType::Utf8,
            ColumnType::Int => DataType::Int32,
            ColumnType::Long => DataType::Int64,
            ColumnType::Money => DataType::Decimal128(38, MONEY_SCALE as i8),
            ColumnType::Rate => DataType::Decimal128(38, RATE_SCALE as i8),
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnType::Tags => {
                DataType::List(Arc::new(ArrowField::new("item", DataType::Utf8, true)))
            }
        }
    }

    fn builder(self, capacity: usize) -> Box<dyn ArrayBuilder> {
        match self {
            ColumnType::Text => Box::new(StringBuilder::with_capacity(capacity, capacity * 16)),
            ColumnType::Int => Box::new(Int32Builder::with_capacity(capacity)),
            ColumnType::Long => Box::new(Int64Builder::with_capacity(capacity)),
            ColumnType::Money | ColumnType::Rate => Box::new(
                Decimal128Builder::with_capacity(capacity).with_data_type(self.data_type()),
            ),
            ColumnType::Date => Box::new(Date32Builder::with_capacity(capacity)),
            ColumnType::Timestamp => {
                Box::new(TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"))
            }
            ColumnType::Tags => Box::new(ListBuilder::new(StringBuilder::new())),
        }
    }
}

/// A named column of a staged table.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Column {
        Column {
            name: name.into(),
            ty,
        }
    }
}

pub fn schema_of(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| ArrowField::new(&c.name, c.ty.data_type(), true))
            .collect::<Vec<_>>(),
    ))
}

/// Parquet properties for every file churnlake writes.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .build()
}

/// Parquet properties for the raw files of `state/raw`: churnlake's own intermediate rows,
/// written once per source file and read back by staging. LZ4 costs a fraction of zstd's
/// time to write and read, for files about a third larger.
pub fn raw_writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .build()
}

/// Streams rows into one Parquet file, one batch in memory at a time.
pub struct TableWriter {
    path: PathBuf,
    columns: Vec<Column>,
    schema: SchemaRef,
    builders: Vec<Box<dyn ArrayBuilder>>,
    batch_rows: usize,
    buffered: usize,
    written: u64,
    writer: ArrowWriter<File>,
}

impl TableWriter {
    pub fn create(path: &Path, columns: Vec<Column>, batch_rows: usize) -> Result<TableWriter> {
        Self::create_with(path, columns, batch_rows, writer_properties())
    }

    /// A writer of a raw file (see [`raw_writer_properties`]).
    pub fn create_raw(path: &Path, columns: Vec<Column>, batch_rows: usize) -> Result<TableWriter> {
        Self::create_with(path, columns, batch_rows, raw_writer_properties())
    }

    fn create_with(
        path: &Path,
        columns: Vec<Column>,
        batch_rows: usize,
        properties: WriterProperties,
    ) -> Result<TableWriter> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| FileError::new(parent, e))?;
        }
        let file = File::create(path).map_err(|e| FileError::new(path, e))?;
        let schema = schema_of(&columns);
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))
            .map_err(|e| FileError::new(path, e))?;
        let builders = columns.iter().map(|c| c.ty.builder(batch_rows)).collect();
        Ok(TableWriter {
            path: path.to_path_buf(),
            columns,
            schema,
            builders,
            batch_rows,
            buffered: 0,
            written: 0,
            writer,
        })
    }

    /// Appends one row; `row` holds one value per column, in column order.
    pub fn push(&mut self, row: &[Value]) -> Result<()> {
        debug_assert_eq!(row.len(), self.columns.len());
        for ((builder, column), value) in self.builders.iter_mut().zip(&self.columns).zip(row) {
            append(builder.as_mut(), column, value);
        }
        self.buffered += 1;
        if self.buffered >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends one data row followed by its lineage: the last two columns, the source file's
    /// id and the line (a raw table's `_file` and `_line`).
    pub fn push_with_lineage(&mut self, row: &[Value], file: &str, line: i64) -> Result<()> {
        debug_assert_eq!(row.len() + 2, self.columns.len());
        for ((builder, column), value) in self.builders.iter_mut().zip(&self.columns).zip(row) {
            append(builder.as_mut(), column, value);
        }
        let lineage = &mut self.builders[row.len()..];
        let [file_builder, line_builder] = lineage else {
            panic!("{} has no lineage columns", self.path.display())
        };
        file_builder
            .as_any_mut()
            .downcast_mut::<StringBuilder>()
            .expect("the file column is text")
            .append_value(file);
        line_builder
            .as_any_mut()
            .downcast_mut::<Int64Builder>()
            .expect("the line column is a long")
            .append_value(line);
        self.buffered += 1;
        if self.buffered >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(|b| b.finish()).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| FileError::new(&self.path, e))?;
        self.writer
            .write(&batch)
            .map_err(|e| FileError::new(&self.path, e))?;
        self.written += self.buffered as u64;
        self.buffered = 0;
        Ok(())
    }

    /// Flushes and closes the file; returns the rows written.
    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.writer
            .close()
            .map_err(|e| FileError::new(&self.path, e))?;
        Ok(self.written)
    }
}

/// Appends `value` to a builder of the column's type. A value of another shape than the
/// column is a programming error, so it panics with the column's name.
fn append(builder: &mut dyn ArrayBuilder, column: &Column, value: &Value) {
    fn downcast<'a, B: 'static>(builder: &'a mut dyn ArrayBuilder, column: &Column) -> &'a mut B {
        builder
            .as_any_mut()
            .downcast_mut::<B>()
            .unwrap_or_else(|| panic!("builder type of column `{}`", column.name))
    }
    match (column.ty, value) {
        (ColumnType::Text, Value::Text(s)) => {
            downcast::<StringBuilder>(builder, column).append_value(s)
        }
        (ColumnType::Text, Value::Null) => downcast::<StringBuilder>(builder, column).append_null(),
        (ColumnType::Int, Value::Int(n)) => {
            downcast::<Int32Builder>(builder, column).append_value(*n)
        }
        (ColumnType::Int, Value::Null) => downcast::<Int32Builder>(builder, column).append_null(),
        (ColumnType::Long, Value::Long(n)) => {
            downcast::<Int64Builder>(builder, column).append_value(*n)
        }
        (ColumnType::Long, Value::Null) => downcast::<Int64Builder>(builder, column).append_null(),
        (ColumnType::Money | ColumnType::Rate, Value::Decimal(d)) => {
            downcast::<Decimal128Builder>(builder, column).append_value(*d)
        }
        (ColumnType::Money | ColumnType::Rate, Value::Null) => {
            downcast::<Decimal128Builder>(builder, column).append_null()
        }
        (ColumnType::Date, Value::Date(d)) => {
            downcast::<Date32Builder>(builder, column).append_value(*d)
        }
        (ColumnType::Date, Value::Null) => downcast::<Date32Builder>(builder, column).append_null(),
        (ColumnType::Timestamp, Value::Timestamp(t)) => {
            downcast::<TimestampMicrosecondBuilder>(builder, column).append_value(*t)
        }
        (ColumnType::Timestamp, Value::Null) => {
            downcast::<TimestampMicrosecondBuilder>(builder, column).append_null()
        }
        (ColumnType::Tags, Value::List(items)) => {
            let list = downcast::<ListBuilder<StringBuilder>>(builder, column);
            for item in items {
                list.values().append_value(item);
            }
            list.append(true);
        }
        (ColumnType::Tags, Value::Null) => {
            downcast::<ListBuilder<StringBuilder>>(builder, column).append(false)
        }
        (ty, value) => panic!("column `{}` of type {ty:?} got {value:?}", column.name),
    }
}
