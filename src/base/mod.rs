//! Shared primitives every layer may use: the error type and exit codes, dates as days,
//! exact decimals, id hashing, the Parquet file writer, the operator's log, and local file
//! listing. Nothing here knows a source, a table or a command.

pub mod days;
pub mod decimal;
pub mod error;
pub mod ids;
pub mod log;
pub mod table_file;

use error::{FileError, Result};
use std::path::Path;

/// Whether a location names an object store (`s3://`, `gs://`, `az://`, …) rather than a
/// local path (`file://` is local).
pub fn is_url(location: &str) -> bool {
    location
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme != "file" && !scheme.is_empty())
}

/// What a step wrote into the run's scratch directory for the warehouse, and the warehouse
/// files it supersedes: what the pipeline puts into a publication.
#[derive(Debug, Default)]
pub struct Written {
    /// (file relative to the scratch directory, warehouse key it becomes).
    pub files: Vec<(String, String)>,
    /// Warehouse keys that go once the files are in place.
    pub superseded: Vec<String>,
}

/// Files under a local directory, as `/`-separated paths relative to it, sorted.
pub fn files_under(dir: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    collect_files(dir, "", &mut files)?;
    files.sort();
    Ok(files)
}

fn collect_files(dir: &Path, prefix: &str, files: &mut Vec<String>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(FileError::new(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| FileError::new(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.path().is_dir() {
            collect_files(&entry.path(), &rel, files)?;
        } else {
            files.push(rel);
        }
    }
    Ok(())
}
