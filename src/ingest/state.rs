//! Incremental ingest: the state of every ingested file and the raw rows kept per file.
//!
//! The manifest (`<warehouse>/_state/manifest.json`, see `staging::manifest`) lists, per
//! source, every file ingested (path, size,
//! modification time, ETag for object stores, xxHash3 checksum) with its row counts, and
//! `<warehouse>/_state/raw/<table>/<file id>.parquet` keeps the validated rows each file gave.
//! A re-run reads only files that are new or whose size or time changed and whose checksum
//! differs; the rows of unchanged files come from their raw files, so the staging models see
//! exactly what a full refresh would. A changed file gets a new id (the id includes its
//! checksum), so its earlier rows drop out. A change to a source's definition or to
//! churnlake's version invalidates the source's raw files (they would be typed differently).

use crate::base::error::FromFile;
use crate::config::{Pipeline, Source};
use crate::engine::warehouse::Warehouse;
use crate::ingest::reader::SourceFile;
use crate::ingest::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::Hasher;
use std::io::Read;
use twox_hash::XxHash3_64;

pub const RAW_DIR: &str = "_state/raw";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceState {
    /// Hash of everything that shapes the source's raw rows (see [`fingerprint`]).
    pub fingerprint: String,
    pub files: Vec<FileState>,
}

/// One ingested file and what reading it gave.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileState {
    pub path: String,
    pub size: u64,
    /// Modification time, microseconds since the epoch.
    pub modified: i64,
    #[serde(default)]
    pub e_tag: Option<String>,
    /// xxHash3-64 of the file's bytes as stored, hex.
    pub checksum: String,
    /// The raw files' name: hash of the path, then the checksum.
    pub id: String,
    pub rows_read: u64,
    pub rows_valid: u64,
    pub bytes_decoded: u64,
}

/// The layout of the raw files: raised whenever their columns change, so that raw files of
/// an earlier layout are read again rather than misread.
const RAW_LAYOUT: u32 = 2;

/// Everything that decides how a source's files become raw rows: its definition in the
/// pipeline file, the timezone, churnlake's version and the raw files' layout.
pub fn fingerprint(source: &Source, pipeline: &Pipeline) -> String {
    let mut hasher = XxHash3_64::default();
    let definition = format!(
        "{}|{RAW_LAYOUT}|{:?}|{}|{:?}|{}",
        env!("CARGO_PKG_VERSION"),
        source.kind,
        pipeline.timezone,
        source.definition(),
        source.path,
    );
    hasher.write(definition.as_bytes());
    format!("{:016x}", hasher.finish())
}

/// Size and modification time of a file as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct FileStat {
    pub size: u64,
    pub modified: i64,
    pub e_tag: Option<String>,
}

impl FileStat {
    pub fn of(file: &SourceFile) -> Result<FileStat> {
        if let Some(stat) = &file.remote_stat {
            return Ok(stat.clone());
        }
        let meta = std::fs::metadata(&file.path).map_err(|e| Error::io(&file.path, e))?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Ok(FileStat {
            size: meta.len(),
            modified,
            e_tag: None,
        })
    }
}

/// What to do with one file of a source.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Unchanged: its raw rows are reused.
    Keep(FileState),
    /// New or changed: read it; the checksum is known when the stat alone could not decide.
    Read { stat: FileStat },
}

/// Decides, per file, whether the earlier ingest still holds.
/// `cached` holds the raw files in the warehouse by id: a file whose raw rows are missing
/// is read again.
pub fn plan(
    previous: Option<&SourceState>,
    fingerprint: &str,
    file: &SourceFile,
    cached: &BTreeMap<String, Vec<String>>,
) -> Result<Plan> {
    let stat = FileStat::of(file)?;
    let Some(previous) = previous.filter(|p| p.fingerprint == fingerprint) else {
        return Ok(Plan::Read { stat });
    };
    let path = file.location();
    let Some(known) = previous
        .files
        .iter()
        .find(|f| f.path == path && cached.contains_key(&f.id))
    else {
        return Ok(Plan::Read { stat });
    };
    let same_listing = known.size == stat.size
        && match (&known.e_tag, &stat.e_tag) {
            (Some(a), Some(b)) => a == b,
            _ => known.modified == stat.modified,
        };
    if same_listing {
        return Ok(Plan::Keep(known.clone()));
    }
    // Touched but maybe not changed: the checksum decides (local files only; an object
    // store's ETag already is a content hash).
    if known.size == stat.size && file.remote_stat.is_none() && checksum(file)? == known.checksum {
        let mut kept = known.clone();
        kept.modified = stat.modified;
        return Ok(Plan::Keep(kept));
    }
    Ok(Plan::Read { stat })
}

/// xxHash3-64 of a local file's bytes, hex.
pub fn checksum(file: &SourceFile) -> Result<String> {
    let mut hasher = XxHash3_64::default();
    let mut reader = std::fs::File::open(&file.path).map_err(|e| Error::io(&file.path, e))?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|e| Error::io(&file.path, e))?;
        if n == 0 {
            break;
        }
        hasher.write(&buffer[..n]);
    }
    Ok(format!("{:016x}", hasher.finish()))
}

/// The id of a file's raw rows: changes whenever its content does.
pub fn file_id(path: &str, checksum: &str) -> String {
    let mut hasher = XxHash3_64::default();
    hasher.write(path.as_bytes());
    format!("{:016x}-{checksum}", hasher.finish())
}

/// The raw files the warehouse holds: file id → its keys under [`RAW_DIR`] (one per raw
/// table of the source's kind).
pub async fn cached_raw(warehouse: &Warehouse) -> Result<BTreeMap<String, Vec<String>>> {
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in warehouse.list(RAW_DIR).await? {
        let name = entry.key.rsplit('/').next().unwrap_or_default();
        if let Some(id) = name.strip_suffix(".parquet") {
            files.entry(id.to_string()).or_default().push(entry.key);
        }
    }
    Ok(files)
}
