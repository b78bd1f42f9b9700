//! Reading source files: streaming records out of CSV, NDJSON and Parquet (one file per
//! format below) with their physical line numbers. Which format a file is the contract
//! says (`contract::SourcePath`); opening and decompressing it is here.
//!
//! A reader hands each record to a callback as the raw text of the mapped columns, one batch
//! of memory at a time: no file is ever held whole. It does not convert types (that is
//! `convert`) and it does not decide what a bad record means (that is the caller's quarantine).

mod csv_file;
mod ndjson_file;
mod parquet_file;

use crate::base::error::FromFile;
use crate::contract::{Compression, FieldType, Format, SourcePath};
use crate::ingest::{Error, Result};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

/// One input file with its detected layout.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Where the bytes are read from: the file itself, or the local copy of an object.
    pub path: PathBuf,
    /// The object's URL when the file lives in an object store (it is downloaded to `path`
    /// before reading), with its listing.
    pub origin: Option<String>,
    pub remote_stat: Option<crate::ingest::state::FileStat>,
    pub format: Format,
    pub compression: Compression,
}

impl SourceFile {
    /// A file as the pipeline file names it, read where it lies.
    pub fn local(file: &SourcePath) -> SourceFile {
        SourceFile {
            path: file.path.clone(),
            origin: None,
            remote_stat: None,
            format: file.format,
            compression: file.compression,
        }
    }

    /// Detects compression from the last extension and the format from the one before it,
    /// unless the pipeline gives the format.
    pub fn new(path: PathBuf, format: Option<Format>) -> Result<SourceFile> {
        let file = SourcePath::new(path.clone(), format).map_err(|e| Error::io(&path, e))?;
        Ok(SourceFile::local(&file))
    }

    /// The file as users name it: its path, or its object-store URL.
    pub fn location(&self) -> String {
        match &self.origin {
            Some(url) => url.clone(),
            None => self.path.display().to_string(),
        }
    }

    /// [`Self::location`] for error messages.
    pub fn name(&self) -> PathBuf {
        PathBuf::from(self.location())
    }

    pub fn size(&self) -> u64 {
        if let Some(stat) = &self.remote_stat {
            return stat.size;
        }
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// The decompressed byte stream.
    pub fn open(&self) -> Result<Box<dyn BufRead>> {
        let file = File::open(&self.path)
            .map_err(|e| Error::io(self.name(), format!("cannot open: {e}")))?;
        const BUFFER: usize = 1 << 20;
        Ok(match self.compression {
            Compression::None => Box::new(BufReader::with_capacity(BUFFER, file)),
            Compression::Gzip => Box::new(BufReader::with_capacity(
                BUFFER,
                flate2::read::MultiGzDecoder::new(BufReader::new(file)),
            )),
            Compression::Zstd => {
                let decoder = zstd::stream::read::Decoder::new(file)
                    .map_err(|e| Error::io(self.name(), format!("not zstd data: {e}")))?;
                Box::new(BufReader::with_capacity(BUFFER, decoder))
            }
        })
    }

    /// Column names of a CSV file's header; `None` for an empty file.
    pub fn csv_header(&self) -> Result<Option<Vec<String>>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(self.open()?);
        let header = reader
            .byte_headers()
            .map_err(|e| self.read_error(&e))?
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect::<Vec<_>>();
        Ok((!header.iter().all(|h| h.is_empty())).then_some(header))
    }

    fn read_error(&self, err: &dyn std::fmt::Display) -> Error {
        let hint = match self.compression {
            Compression::None => "check the file is complete",
            Compression::Gzip | Compression::Zstd => {
                "the compressed stream is truncated or corrupt; re-export the file"
            }
        };
        Error::io(self.name(), format!("cannot read: {err}; {hint}"))
    }
}

/// The raw text of a record, rebuilt only when it is quarantined.
pub enum RawText<'a> {
    Line(&'a str),
    Csv(&'a csv::ByteRecord),
    Parquet(&'a [(String, Option<String>)]),
}

impl RawText<'_> {
    pub fn render(&self) -> String {
        match self {
            RawText::Line(line) => line.to_string(),
            RawText::Csv(record) => {
                let mut writer = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::Any(b'\n'))
                    .from_writer(Vec::new());
                let _ = writer.write_byte_record(record);
                let bytes = writer.into_inner().unwrap_or_default();
                String::from_utf8_lossy(&bytes).trim_end().to_string()
            }
            RawText::Parquet(pairs) => {
                let object: serde_json::Map<String, serde_json::Value> = pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().into()))
                    .collect();
                serde_json::Value::Object(object).to_string()
            }
        }
    }
}

/// What a reader hands to its callback.
pub enum Item<'a> {
    /// A record, with the text of each mapped column (`None` when absent or null).
    Record {
        line: u64,
        values: &'a [Option<&'a str>],
        raw: RawText<'a>,
    },
    /// A record that could not even be split into fields.
    Unreadable {
        line: u64,
        raw: String,
        field: Option<String>,
        reason: String,
    },
}

/// The columns to extract, one per contract field, in contract order.
pub struct Projection<'a> {
    /// Contract field names, for messages.
    pub fields: &'a [&'a str],
    /// The source column (or dotted path) of each field; `None` = not in this source.
    pub columns: &'a [Option<String>],
    /// Whether each field is required: a required column missing from a file fails it.
    pub required: &'a [bool],
    /// The shapes of value each field takes in a nested source (NDJSON, Parquet).
    pub shapes: &'a [Shape],
}

/// The shapes of value a field takes from a nested source. CSV holds text only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A string or a number, read as its text (ids, names, amounts, timestamps).
    Scalar,
    /// A scalar, or an array of them (tags).
    List,
    /// Any value, kept as JSON text (Segment `properties` and `traits`).
    Any,
}

impl Shape {
    /// What a contract field takes: nested JSON for `Json`, arrays for tags, else a scalar.
    pub fn of(ty: FieldType) -> Shape {
        match ty {
            FieldType::Json => Shape::Any,
            FieldType::Tags => Shape::List,
            _ => Shape::Scalar,
        }
    }

    fn takes(self, kind: ValueKind) -> bool {
        match self {
            Shape::Scalar => matches!(kind, ValueKind::String | ValueKind::Number),
            Shape::List => matches!(
                kind,
                ValueKind::String | ValueKind::Number | ValueKind::Array
            ),
            Shape::Any => true,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Shape::Scalar => "a string or a number",
            Shape::List => "a string, a number or an array",
            Shape::Any => "any value",
        }
    }
}

/// The kind of a JSON value (a Parquet column's type is mapped onto the same kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    String,
    Number,
    Bool,
    Object,
    Array,
}

impl ValueKind {
    fn name(self) -> &'static str {
        match self {
            ValueKind::String => "string",
            ValueKind::Number => "number",
            ValueKind::Bool => "boolean",
            ValueKind::Object => "object",
            ValueKind::Array => "array",
        }
    }

    fn of_json(value: &serde_json::Value) -> Option<ValueKind> {
        use serde_json::Value as J;
        match value {
            J::Null => None,
            J::Bool(_) => Some(ValueKind::Bool),
            J::Number(_) => Some(ValueKind::Number),
            J::String(_) => Some(ValueKind::String),
            J::Array(_) => Some(ValueKind::Array),
            J::Object(_) => Some(ValueKind::Object),
        }
    }

    /// Parquet columns by Arrow type: nested types are objects or arrays.
    fn of_arrow(ty: &datafusion::arrow::datatypes::DataType) -> ValueKind {
        use datafusion::arrow::datatypes::DataType as T;
        match ty {
            T::Boolean => ValueKind::Bool,
            T::Struct(_) | T::Map(..) => ValueKind::Object,
            T::List(_)
            | T::LargeList(_)
            | T::FixedSizeList(..)
            | T::ListView(_)
            | T::LargeListView(_) => ValueKind::Array,
            T::Utf8 | T::LargeUtf8 | T::Utf8View => ValueKind::String,
            // Numbers, dates, timestamps and binary all render as text a field can convert.
            _ => ValueKind::Number,
        }
    }
}

/// Why a mapped value has the wrong shape for its field: names the field, its column and
/// the kind found.
fn misfit(field: &str, column: &str, format: &str, found: ValueKind, shape: Shape) -> String {
    format!(
        "`{field}` (`{column}`) holds a {format} {}; expected {}",
        found.name(),
        shape.expected()
    )
}

/// What reading one file took in.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileRead {
    /// Data rows (a CSV header and blank NDJSON lines are not rows).
    pub rows: u64,
    /// Bytes after decompression (Parquet: the file size).
    pub bytes: u64,
}

/// Streams every record of `file` through `on_item`.
pub fn read_records(
    file: &SourceFile,
    projection: &Projection,
    batch_rows: usize,
    on_item: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<FileRead> {
    match file.format {
        Format::Csv => csv_file::read(file, projection, on_item),
        Format::Ndjson => ndjson_file::read(file, projection, on_item),
        Format::Parquet => parquet_file::read(file, projection, batch_rows, on_item),
    }
}

fn missing_column(file: &SourceFile, field: &str, column: &str) -> Error {
    Error::io(
        file.name(),
        format!(
            "has no column `{column}`, which required field `{field}` maps to; fix the \
             file or map `{field}` to the right column under the source's `columns`"
        ),
    )
}

/// contract §2 "can't be read": a mapped column that a file names more than once would let one
/// of two sets of values win silently. The message names the column, its 1-based positions
/// among `names` (a header's or a schema's) and the field mapped to it.
pub fn repeated_column<'h>(
    fields: &[&str],
    columns: &[Option<String>],
    names: impl Iterator<Item = &'h str> + Clone,
    what: &str,
) -> Option<String> {
    fields.iter().zip(columns).find_map(|(field, column)| {
        let column = column.as_ref()?;
        let positions: Vec<String> = names
            .clone()
            .enumerate()
            .filter(|(_, name)| name == column)
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        (positions.len() > 1).then(|| {
            format!(
                "{what} names column `{column}` {} times (positions {}), and field `{field}` \
                 maps to it; rename or remove all but one",
                positions.len(),
                positions.join(" and ")
            )
        })
    })
}

fn check_unique_columns<'h>(
    file: &SourceFile,
    projection: &Projection,
    names: impl Iterator<Item = &'h str> + Clone,
    what: &str,
) -> Result<()> {
    match repeated_column(projection.fields, projection.columns, names, what) {
        Some(message) => Err(Error::io(file.name(), message)),
        None => Ok(()),
    }
}
