//! Publishing: making what a run wrote in its work directory visible in the warehouse.
//!
//! A run writes every table under `<warehouse>/_work/<run_id>/` and, only when all its
//! checks pass, moves each table into place with directory renames, so readers see a whole
//! old table or a whole new one, never a half-written file. Run-log tables (`runs`,
//! `data_quality`, `quarantine`) gain one `run_id=` partition per run, published the same way
//! and written whether the run succeeded or not. This module never computes table contents.

pub mod runlog;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Where a run writes before publishing.
pub fn work_dir(warehouse: &Path, run_id: &str) -> PathBuf {
    warehouse.join("_work").join(run_id)
}

/// Replaces `warehouse/<name>` with the directory `staged`.
pub fn replace_table(warehouse: &Path, name: &str, staged: &Path, run_id: &str) -> Result<()> {
    let target = warehouse.join(name);
    let retired = work_dir(warehouse, run_id).join("retired").join(name);
    if target.exists() {
        create_parent(&retired)?;
        std::fs::rename(&target, &retired).map_err(|e| Error::io(&target, e))?;
    }
    create_parent(&target)?;
    std::fs::rename(staged, &target).map_err(|e| Error::io(staged, e))?;
    if retired.exists() {
        std::fs::remove_dir_all(&retired).map_err(|e| Error::io(&retired, e))?;
    }
    Ok(())
}

/// Moves one file into `warehouse/<table>/run_id=<run_id>/part-0.parquet`.
pub fn add_run_partition(warehouse: &Path, table: &str, run_id: &str, file: &Path) -> Result<()> {
    let partition = warehouse.join(table).join(format!("run_id={run_id}"));
    std::fs::create_dir_all(&partition).map_err(|e| Error::io(&partition, e))?;
    let target = partition.join("part-0.parquet");
    std::fs::rename(file, &target).map_err(|e| Error::io(&target, e))
}

/// Removes a run's work directory once everything in it is published.
pub fn clean_work(warehouse: &Path, run_id: &str) -> Result<()> {
    let dir = work_dir(warehouse, run_id);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    // Leave no empty `_work` behind for readers listing the warehouse.
    let _ = std::fs::remove_dir(warehouse.join("_work"));
    Ok(())
}

/// Gives a partitioned table without any data file an empty one holding its schema, so
/// readers can open it (the file sits outside every partition and adds no rows).
pub fn ensure_readable(
    table: &Path,
    schema: &datafusion::arrow::datatypes::Schema,
    partition_by: Option<&str>,
) -> Result<()> {
    if has_parquet(table) {
        return Ok(());
    }
    std::fs::create_dir_all(table).map_err(|e| Error::io(table, e))?;
    crate::engine::write_empty_file(schema, table, partition_by)
}

fn has_parquet(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            has_parquet(&path)
        } else {
            path.extension().is_some_and(|e| e == "parquet")
        }
    })
}

fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e)),
        None => Ok(()),
    }
}
