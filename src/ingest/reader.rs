//! Reading source files: format and compression detection, and streaming records out of
//! CSV, NDJSON and Parquet with their physical line numbers.
//!
//! A reader hands each record to a callback as the raw text of the mapped columns, one batch
//! of memory at a time: no file is ever held whole. It does not convert types (that is
//! `convert`) and it does not decide what a bad record means (that is the caller's quarantine).

use crate::base::error::{Error, Result};
use crate::contract::{Compression, FieldType, Format, SourcePath};
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StructArray};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::borrow::Cow;
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
        Format::Csv => read_csv(file, projection, on_item),
        Format::Ndjson => read_ndjson(file, projection, on_item),
        Format::Parquet => read_parquet(file, projection, batch_rows, on_item),
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

/// SPEC §2 "can't be read": a mapped column that a file names more than once would let one
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

fn read_csv(
    file: &SourceFile,
    projection: &Projection,
    on_item: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<FileRead> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(QuoteWatch::new(file.open()?));
    let header: Vec<String> = reader
        .byte_headers()
        .map_err(|e| file.read_error(&e))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    if header.iter().all(|h| h.is_empty()) {
        return Ok(FileRead::default());
    }
    check_unique_columns(
        file,
        projection,
        header.iter().map(String::as_str),
        "the header",
    )?;
    let mut indices = Vec::with_capacity(projection.columns.len());
    for (i, column) in projection.columns.iter().enumerate() {
        let index = column
            .as_ref()
            .and_then(|c| header.iter().position(|h| h == c));
        if let (None, Some(column), true) = (index, column, projection.required[i]) {
            return Err(missing_column(file, projection.fields[i], column));
        }
        indices.push(index);
    }
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(file.read_error(&e)),
        }
        rows += 1;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if reader.get_ref().ends_in_quote(reader.position().byte()) {
            on_item(Item::Unreadable {
                line,
                raw: RawText::Csv(&record).render(),
                field: None,
                reason: "unterminated quoted field: a quote opened in this record is \
                         never closed before the end of the file"
                    .into(),
            })?;
            continue;
        }
        if record.len() != header.len() {
            on_item(Item::Unreadable {
                line,
                raw: RawText::Csv(&record).render(),
                field: None,
                reason: format!(
                    "expected {} fields as in the header, found {}",
                    header.len(),
                    record.len()
                ),
            })?;
            continue;
        }
        let mut bad_utf8 = None;
        let mut values: Vec<Option<&str>> = Vec::with_capacity(indices.len());
        for index in &indices {
            values.push(match index.map(|i| std::str::from_utf8(&record[i])) {
                None => None,
                Some(Ok(text)) => Some(text),
                Some(Err(_)) => {
                    bad_utf8 = index.map(|i| header[i].clone());
                    None
                }
            });
        }
        if let Some(column) = bad_utf8 {
            on_item(Item::Unreadable {
                line,
                raw: RawText::Csv(&record).render(),
                field: Some(column.clone()),
                reason: format!("column `{column}` holds bytes that are not UTF-8"),
            })?;
            continue;
        }
        on_item(Item::Record {
            line,
            values: &values,
            raw: RawText::Csv(&record),
        })?;
    }
    Ok(FileRead {
        rows,
        bytes: reader.position().byte(),
    })
}

/// Follows the quoting of a CSV byte stream as the csv reader reads it, so that a record
/// ending the file inside an open quote can be told from a complete one: the csv reader
/// ends such a record at the end of the file without a word (RFC 4180 has it unparseable).
struct QuoteWatch<R> {
    inner: R,
    state: Quoting,
    /// Bytes read so far.
    read: u64,
    /// The stream has ended.
    ended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: the field's end, or the first of an escaped pair.
    QuoteInQuoted,
}

impl<R: std::io::Read> QuoteWatch<R> {
    fn new(inner: R) -> Self {
        QuoteWatch {
            inner,
            state: Quoting::FieldStart,
            read: 0,
            ended: false,
        }
    }

    /// Whether the record the csv reader has just ended, at byte `end`, is the stream's
    /// last and was cut off inside a quoted field.
    fn ends_in_quote(&self, end: u64) -> bool {
        self.ended && end == self.read && self.state == Quoting::Quoted
    }

    fn follow(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            let at = self.read + i as u64;
            self.state = match (self.state, b) {
                (Quoting::FieldStart | Quoting::QuoteInQuoted, b'"') => Quoting::Quoted,
                (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
                (Quoting::Quoted, _) => Quoting::Quoted,
                (_, b',' | b'\n' | b'\r') => Quoting::FieldStart,
                // A byte-order mark before the header leaves its first field unstarted.
                (Quoting::FieldStart, 0xEF | 0xBB | 0xBF) if at < 3 => Quoting::FieldStart,
                _ => Quoting::Unquoted,
            };
        }
        self.read += bytes.len() as u64;
    }
}

impl<R: std::io::Read> std::io::Read for QuoteWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended = true;
        }
        self.follow(&buf[..n]);
        Ok(n)
    }
}

fn read_ndjson(
    file: &SourceFile,
    projection: &Projection,
    on_item: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<FileRead> {
    let mut input = file.open()?;
    let paths = PathTree::new(projection.columns);
    let mut buffer = Vec::with_capacity(4096);
    let mut line = 0u64;
    let mut rows = 0;
    let mut bytes = 0;
    loop {
        buffer.clear();
        let read = input
            .read_until(b'\n', &mut buffer)
            .map_err(|e| file.read_error(&e))?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        line += 1;
        let bytes = buffer.trim_ascii();
        if bytes.is_empty() {
            continue;
        }
        rows += 1;
        let Ok(text) = std::str::from_utf8(bytes) else {
            on_item(Item::Unreadable {
                line,
                raw: String::from_utf8_lossy(bytes).to_string(),
                field: None,
                reason: "line holds bytes that are not UTF-8".into(),
            })?;
            continue;
        };
        let mut found: Vec<Option<Leaf>> = vec![None; projection.columns.len()];
        let mut trouble = None;
        if let Err(e) = paths.extract(text, &mut found, &mut trouble) {
            on_item(Item::Unreadable {
                line,
                raw: text.to_string(),
                field: None,
                reason: format!("not valid JSON: {e}"),
            })?;
            continue;
        }
        let misfit = found.iter().enumerate().find_map(|(slot, leaf)| {
            let leaf = leaf.as_ref()?;
            let shape = projection.shapes[slot];
            (!shape.takes(leaf.kind)).then(|| {
                let column = projection.columns[slot].as_deref().unwrap_or_default();
                let field = projection.fields[slot];
                Trouble {
                    slot,
                    reason: misfit(field, column, "JSON", leaf.kind, shape),
                }
            })
        });
        if let Some(trouble) = trouble.or(misfit) {
            on_item(Item::Unreadable {
                line,
                raw: text.to_string(),
                field: Some(projection.fields[trouble.slot].to_string()),
                reason: trouble.reason,
            })?;
            continue;
        }
        let values: Vec<Option<&str>> = found
            .iter()
            .map(|v| v.as_ref().map(|leaf| leaf.text.as_ref()))
            .collect();
        on_item(Item::Record {
            line,
            values: &values,
            raw: RawText::Line(text),
        })?;
    }
    Ok(FileRead { rows, bytes })
}

/// A mapped value as found in a document: its text (see [`LeafText`]) and its kind.
#[derive(Debug, Clone)]
struct Leaf<'de> {
    text: Cow<'de, str>,
    kind: ValueKind,
}

impl Leaf<'_> {
    fn of_json(value: &serde_json::Value) -> Option<Leaf<'static>> {
        Some(Leaf {
            kind: ValueKind::of_json(value)?,
            text: Cow::Owned(json_text(value)?),
        })
    }
}

/// A document whose mapped paths cannot be read as they stand: a key given twice, or an
/// object on the way to a field that is not one. `slot` is the field it concerns.
struct Trouble {
    slot: usize,
    reason: String,
}

/// The mapped dotted paths of an NDJSON source as a tree of keys, so that a document is
/// parsed once keeping only the mapped values: everything else is skipped, never built.
#[derive(Debug, Default)]
struct PathTree {
    /// The dotted path to this key (empty at the root), for messages.
    path: String,
    /// The projection slot this key's value fills, when a path ends here.
    slot: Option<usize>,
    children: Vec<(String, PathTree)>,
}

impl PathTree {
    fn new(columns: &[Option<String>]) -> PathTree {
        let mut root = PathTree::default();
        for (slot, column) in columns.iter().enumerate() {
            let Some(column) = column else { continue };
            let mut node = &mut root;
            for key in column.split('.') {
                let at = match node.children.iter().position(|(k, _)| k == key) {
                    Some(at) => at,
                    None => {
                        let path = match node.path.as_str() {
                            "" => key.to_string(),
                            parent => format!("{parent}.{key}"),
                        };
                        let child = PathTree {
                            path,
                            ..PathTree::default()
                        };
                        node.children.push((key.to_string(), child));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
            }
            node.slot = Some(slot);
        }
        root
    }

    fn child(&self, key: &str) -> Option<(usize, &PathTree)> {
        self.children
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k == key)
            .map(|(at, (_, c))| (at, c))
    }

    /// The first slot this subtree fills: the field a problem with it is reported under.
    fn first_slot(&self) -> usize {
        self.slot
            .into_iter()
            .chain(self.children.iter().map(|(_, c)| c.first_slot()))
            .min()
            .unwrap_or(0)
    }

    /// Fills `found` (one slot per column) from one document; the first problem with the
    /// mapped paths goes to `trouble`.
    fn extract<'de>(
        &self,
        text: &'de str,
        found: &mut [Option<Leaf<'de>>],
        trouble: &mut Option<Trouble>,
    ) -> serde_json::Result<()> {
        use serde::de::DeserializeSeed;
        let mut deserializer = serde_json::Deserializer::from_str(text);
        Extract {
            node: self,
            found,
            trouble,
        }
        .deserialize(&mut deserializer)?;
        deserializer.end()
    }

    /// The slots of this subtree from a parsed value.
    fn fill_from(
        &self,
        value: &serde_json::Value,
        found: &mut [Option<Leaf<'_>>],
        trouble: &mut Option<Trouble>,
    ) {
        if let Some(slot) = self.slot {
            found[slot] = Leaf::of_json(value);
        }
        if self.children.is_empty() {
            return;
        }
        match value {
            serde_json::Value::Object(object) => {
                for (key, child) in &self.children {
                    if let Some(inner) = object.get(key) {
                        child.fill_from(inner, found, trouble);
                    }
                }
            }
            serde_json::Value::Null => {}
            // A path ends here as well, so this value is that field's: only the deeper
            // paths go unread.
            _ if self.slot.is_some() => {}
            other => self.not_an_object(ValueKind::of_json(other), trouble),
        }
    }

    /// Records that this node's value, which mapped paths go through, is not an object.
    fn not_an_object(&self, found: Option<ValueKind>, trouble: &mut Option<Trouble>) {
        let Some(found) = found else { return };
        let what = match self.path.as_str() {
            "" => "the record".to_string(),
            path => format!("`{path}`"),
        };
        trouble.get_or_insert(Trouble {
            slot: self.first_slot(),
            reason: format!(
                "{what} is a JSON {}, not an object holding the mapped paths below it",
                found.name()
            ),
        });
    }
}

/// Walks one JSON value for the paths of `node`.
struct Extract<'t, 'f, 'de> {
    node: &'t PathTree,
    found: &'f mut [Option<Leaf<'de>>],
    trouble: &'f mut Option<Trouble>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Extract<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D>(self, deserializer: D) -> std::result::Result<(), D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        use serde::Deserialize;
        match (self.node.slot, self.node.children.is_empty()) {
            (Some(slot), true) => {
                self.found[slot] = deserializer.deserialize_any(LeafText)?;
                Ok(())
            }
            (Some(_), false) => {
                // A path ends here and others go on below it: rare, so parsed whole.
                let value = serde_json::Value::deserialize(deserializer)?;
                self.node.fill_from(&value, self.found, self.trouble);
                Ok(())
            }
            (None, _) => deserializer.deserialize_any(self),
        }
    }
}

impl<'t, 'de> Extract<'t, '_, 'de> {
    /// A value other than an object where mapped paths go on below.
    fn not_an_object(self, kind: Option<ValueKind>) {
        self.node.not_an_object(kind, self.trouble);
    }
}

impl<'de> serde::de::Visitor<'de> for Extract<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A>(self, mut map: A) -> std::result::Result<(), A::Error>
    where
        A: serde::de::MapAccess<'de>,
    {
        // A mapped key given twice: which value holds is a guess, so the record is refused.
        let mut seen = vec![false; self.node.children.len()];
        while let Some(key) = map.next_key_seed(KeyText)? {
            match self.node.child(&key) {
                Some((at, child)) => {
                    if std::mem::replace(&mut seen[at], true) {
                        self.trouble.get_or_insert(Trouble {
                            slot: child.first_slot(),
                            reason: format!(
                                "key `{}` appears twice in the record; keep one",
                                child.path
                            ),
                        });
                    }
                    map.next_value_seed(Extract {
                        node: child,
                        found: &mut *self.found,
                        trouble: &mut *self.trouble,
                    })?
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A>(self, mut seq: A) -> std::result::Result<(), A::Error>
    where
        A: serde::de::SeqAccess<'de>,
    {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        self.not_an_object(Some(ValueKind::Array));
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        self.not_an_object(Some(ValueKind::Bool));
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        self.not_an_object(Some(ValueKind::Number));
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        self.not_an_object(Some(ValueKind::Number));
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        self.not_an_object(Some(ValueKind::Number));
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        self.not_an_object(Some(ValueKind::String));
        Ok(())
    }

    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
}

/// An object key, borrowed from the line unless it holds escapes.
struct KeyText;

impl<'de> serde::de::DeserializeSeed<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn deserialize<D>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_string()))
    }
}

/// A mapped value as [`json_text`] gives it, with its kind: strings as themselves (borrowed
/// from the line unless they hold escapes), other scalars and objects and arrays as JSON
/// text, null as absent.
struct LeafText;

impl LeafText {
    fn leaf<'de, E>(
        text: Cow<'de, str>,
        kind: ValueKind,
    ) -> std::result::Result<Option<Leaf<'de>>, E> {
        Ok(Some(Leaf { text, kind }))
    }
}

impl<'de> serde::de::Visitor<'de> for LeafText {
    type Value = Option<Leaf<'de>>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> std::result::Result<Self::Value, E> {
        Self::leaf(Cow::Borrowed(text), ValueKind::String)
    }

    fn visit_str<E>(self, text: &str) -> std::result::Result<Self::Value, E> {
        Self::leaf(Cow::Owned(text.to_string()), ValueKind::String)
    }

    fn visit_string<E>(self, text: String) -> std::result::Result<Self::Value, E> {
        Self::leaf(Cow::Owned(text), ValueKind::String)
    }

    fn visit_bool<E>(self, value: bool) -> std::result::Result<Self::Value, E> {
        let text = if value { "true" } else { "false" };
        Self::leaf(Cow::Borrowed(text), ValueKind::Bool)
    }

    fn visit_i64<E>(self, value: i64) -> std::result::Result<Self::Value, E> {
        Self::leaf(Cow::Owned(value.to_string()), ValueKind::Number)
    }

    fn visit_u64<E>(self, value: u64) -> std::result::Result<Self::Value, E> {
        Self::leaf(Cow::Owned(value.to_string()), ValueKind::Number)
    }

    fn visit_f64<E>(self, value: f64) -> std::result::Result<Self::Value, E> {
        Ok(Leaf::of_json(&serde_json::Value::from(value)))
    }

    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A>(self, map: A) -> std::result::Result<Self::Value, A::Error>
    where
        A: serde::de::MapAccess<'de>,
    {
        use serde::Deserialize;
        let value =
            serde_json::Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(Leaf::of_json(&value))
    }

    fn visit_seq<A>(self, seq: A) -> std::result::Result<Self::Value, A::Error>
    where
        A: serde::de::SeqAccess<'de>,
    {
        use serde::Deserialize;
        let value =
            serde_json::Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Leaf::of_json(&value))
    }
}

/// Scalars as their text; arrays and objects as JSON text; null as absent.
fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn read_parquet(
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
