//! Output files: plain, gzip or zstd, each written through one buffered writer and counting its
//! physical lines, so a planted row can be reported by line number. One writer per format:
//! `LineFile` for NDJSON, `CsvFile` for CSV (RFC 4180 quoting by the csv crate, `\n` record
//! terminators). Knows nothing about sources or their columns.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;

use super::{Result, io_error};

/// zstd's default level: a good ratio at a speed that keeps multi-GB runs short.
const ZSTD_LEVEL: i32 = 3;
const BUFFER_BYTES: usize = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Compression {
    Plain,
    Gzip,
    Zstd,
}

impl Compression {
    /// Appended to the file's `.ndjson` or `.csv` name.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Plain => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
        }
    }

    /// Monthly files rotate plain → gzip → zstd, so one history exercises every encoding the
    /// ingest accepts.
    pub fn rotating(month_index: usize) -> Self {
        match month_index % 3 {
            0 => Compression::Plain,
            1 => Compression::Gzip,
            _ => Compression::Zstd,
        }
    }
}

/// A file written once, as the run summary reports it.
#[derive(Debug)]
pub(super) struct WrittenFile {
    pub path: PathBuf,
    /// Size on disk (compressed, for compressed files).
    pub bytes: u64,
}

enum Encoder {
    Plain(File),
    Gzip(GzEncoder<File>),
    Zstd(zstd::Encoder<'static, File>),
}

impl Encoder {
    fn create(path: &Path, compression: Compression) -> io::Result<Self> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let file = File::create(path)?;
        Ok(match compression {
            Compression::Plain => Encoder::Plain(file),
            // gzip's header carries no timestamp here (mtime 0), so output stays reproducible.
            Compression::Gzip => Encoder::Gzip(GzEncoder::new(file, flate2::Compression::fast())),
            Compression::Zstd => Encoder::Zstd(zstd::Encoder::new(file, ZSTD_LEVEL)?),
        })
    }

    /// Writes the compressed stream's trailer and reports the file's size.
    fn finish(self, path: PathBuf) -> Result<WrittenFile> {
        let file = match self {
            Encoder::Plain(file) => Ok(file),
            Encoder::Gzip(encoder) => encoder.finish(),
            Encoder::Zstd(encoder) => encoder.finish(),
        };
        let bytes = file
            .and_then(|file| file.metadata())
            .map_err(io_error(&path))?
            .len();
        Ok(WrittenFile { path, bytes })
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(file) => file.write(buf),
            Encoder::Gzip(encoder) => encoder.write(buf),
            Encoder::Zstd(encoder) => encoder.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(file) => file.flush(),
            Encoder::Gzip(encoder) => encoder.flush(),
            Encoder::Zstd(encoder) => encoder.flush(),
        }
    }
}

/// A newline-delimited file (NDJSON): one record per line.
pub(super) struct LineFile {
    relative: String,
    path: PathBuf,
    writer: BufWriter<Encoder>,
    lines: u64,
}

impl LineFile {
    /// Creates `root/relative` (and its directory); `relative` already ends in the compression's
    /// extension.
    pub fn create(root: &Path, relative: &str, compression: Compression) -> Result<Self> {
        let path = root.join(relative);
        let encoder = Encoder::create(&path, compression).map_err(io_error(&path))?;
        let writer = BufWriter::with_capacity(BUFFER_BYTES, encoder);
        Ok(Self {
            relative: relative.to_owned(),
            path,
            writer,
            lines: 0,
        })
    }

    /// The path under the output root, `/`-separated, as `_malformed.csv` names it.
    pub fn relative(&self) -> &str {
        &self.relative
    }

    /// Writes `line` (which holds no newline) and returns its 1-based line number.
    pub fn write_line(&mut self, line: &[u8]) -> Result<u64> {
        self.writer
            .write_all(line)
            .and_then(|()| self.writer.write_all(b"\n"))
            .map_err(io_error(&self.path))?;
        self.lines += 1;
        Ok(self.lines)
    }

    pub fn finish(self) -> Result<WrittenFile> {
        let Self { path, writer, .. } = self;
        let encoder = writer
            .into_inner()
            .map_err(|error| io_error(&path)(error.into_error()))?;
        encoder.finish(path)
    }
}

/// A CSV file with a header row.
pub(super) struct CsvFile {
    relative: String,
    path: PathBuf,
    writer: csv::Writer<Encoder>,
    /// Physical lines written so far; a quoted field with line breaks spans several.
    lines: u64,
}

impl CsvFile {
    pub fn create(root: &Path, relative: &str, header: &[&str]) -> Result<Self> {
        let path = root.join(relative);
        let encoder = Encoder::create(&path, Compression::Plain).map_err(io_error(&path))?;
        // Flexible, because a planted row with an extra field must be writable.
        let writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(encoder);
        let mut file = Self {
            relative: relative.to_owned(),
            path,
            writer,
            lines: 0,
        };
        file.write_record(header)?;
        Ok(file)
    }

    pub fn relative(&self) -> &str {
        &self.relative
    }

    /// Writes one record and returns the 1-based physical line it starts on (the header is
    /// line 1).
    pub fn write_record<T: AsRef<[u8]>>(&mut self, fields: &[T]) -> Result<u64> {
        let starts_on = self.lines + 1;
        self.writer
            .write_record(fields)
            .map_err(|error| io_error(&self.path)(error.into()))?;
        // The csv writer copies line breaks inside quoted fields verbatim.
        let inner_breaks = fields
            .iter()
            .map(|field| field.as_ref().iter().filter(|byte| **byte == b'\n').count() as u64)
            .sum::<u64>();
        self.lines += 1 + inner_breaks;
        Ok(starts_on)
    }

    pub fn finish(self) -> Result<WrittenFile> {
        let Self { path, writer, .. } = self;
        let encoder = writer
            .into_inner()
            .map_err(|error| io_error(&path)(error.into_error()))?;
        encoder.finish(path)
    }
}
