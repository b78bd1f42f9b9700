//! CSV records (RFC 4180, a header row) with the physical line each starts on: records whose
//! field count differs from the header's, whose bytes are not UTF-8, or that end the file
//! inside a quoted field are handed on as unreadable.

use super::{
    FileRead, Item, Projection, RawText, SourceFile, check_unique_columns, missing_column,
};
use crate::ingest::Result;

pub(super) fn read(
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
