//! Publishing: making what a run wrote in its scratch directory visible in the warehouse,
//! so that a crash at any moment leaves every table readable.
//!
//! A run computes into a local scratch directory. To publish, it lists every file it moves
//! into place and every old file it removes in a [`Publication`], stages the files under
//! `<warehouse>/_work/<run_id>/` (they already are there for a local warehouse; an object
//! store gets them uploaded), then writes the journal `publish.json` next to them with one
//! atomic put: that write is the commit point. Applying moves each file to its place with a
//! rename (local) or a server-side copy (object store), each atomic for readers, then deletes
//! the old files and the staging area. Every table file is a whole partition (`part-0.parquet`),
//! so each partition switches from old to new in one step.
//!
//! A run killed before the commit leaves only its staging area, which the next run deletes;
//! killed after it, the next run finds the journal and finishes the moves ([`recover`]).
//! Run-log tables (`runs`, `data_quality`, `quarantine`) gain one `run_id=` partition per run,
//! published the same way. In a Delta warehouse the moves are followed by one Delta commit
//! per table, planned into the journal ([`delta`]): a kill between two tables' commits leaves
//! each at a committed version, and the next run makes the commits still missing. This module
//! never computes table contents.

mod delta;
pub mod error;
pub use error::{Error, Result};
pub mod lock;
pub mod runlog;

use crate::base::error::FromFile;
use crate::base::{Written, files_under};
use crate::config::TableFormat;
use crate::engine::warehouse::Warehouse;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where runs stage their files inside the warehouse.
pub const WORK_DIR: &str = "_work";
const JOURNAL: &str = "publish.json";

/// The local directory a run computes into: inside a local warehouse (so publishing is a
/// rename), or under the system's temporary directory for an object store.
pub fn scratch_dir(warehouse: &Warehouse, run_id: &str) -> PathBuf {
    match warehouse.local() {
        Some(dir) => dir.join(WORK_DIR).join(run_id),
        None => std::env::temp_dir().join("churnlake-work").join(run_id),
    }
}

/// The files a run makes visible, and the files it removes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Publication {
    run_id: String,
    /// (file relative to the scratch directory, warehouse key it becomes).
    moves: Vec<(String, String)>,
    /// Warehouse keys removed once every move is done.
    deletes: Vec<String>,
    /// In a Delta warehouse: one commit per table, made once every move is done.
    #[serde(default)]
    delta: Vec<crate::engine::delta::Commit>,
}

impl Publication {
    pub fn new(run_id: &str) -> Publication {
        Publication {
            run_id: run_id.to_string(),
            ..Default::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.moves.is_empty() && self.deletes.is_empty()
    }

    /// Publishes one file of the scratch directory as `target`.
    pub fn add_file(&mut self, staged: &str, target: &str) {
        self.moves.push((staged.to_string(), target.to_string()));
    }

    /// Makes the warehouse directory `target` hold exactly the files of the scratch
    /// directory `staged` (relative to `scratch`): new files are moved in, files that the
    /// new version lacks are deleted.
    pub async fn replace_tree(
        &mut self,
        warehouse: &Warehouse,
        scratch: &Path,
        staged: &str,
        target: &str,
    ) -> Result<()> {
        let mut incoming = BTreeSet::new();
        for file in files_under(&scratch.join(staged))? {
            let target_key = format!("{target}/{file}");
            self.add_file(&format!("{staged}/{file}"), &target_key);
            incoming.insert(target_key);
        }
        for entry in warehouse.list(target).await? {
            let key = format!("{target}/{}", entry.key);
            if !incoming.contains(&key) {
                self.deletes.push(key);
            }
        }
        Ok(())
    }

    /// Publishes what a step wrote, removing what it supersedes.
    pub fn add(&mut self, written: Written) {
        for (staged, target) in written.files {
            self.add_file(&staged, &target);
        }
        self.deletes.extend(written.superseded);
    }

    /// Deletes one warehouse object when the publication is applied.
    pub fn delete(&mut self, target: &str) {
        self.deletes.push(target.to_string());
    }

    /// Stages, commits and applies the publication for the run of `command`. Once this
    /// returns `Ok`, every file is in place; if the process dies after the commit, the next
    /// run finishes the job.
    pub async fn publish(
        mut self,
        warehouse: &Warehouse,
        scratch: &Path,
        command: &str,
    ) -> Result<()> {
        if warehouse.format() == TableFormat::Delta {
            delta::plan(&mut self, warehouse, scratch, command).await?;
        }
        let staging = format!("{WORK_DIR}/{}", self.run_id);
        if !warehouse.is_local() {
            for (staged, _) in &self.moves {
                warehouse
                    .upload(&scratch.join(staged), &format!("{staging}/{staged}"))
                    .await?;
            }
        }
        fault_point("before-commit");
        let journal = serde_json::to_vec_pretty(&self).expect("a publication serializes");
        warehouse
            .put(&format!("{staging}/{JOURNAL}"), journal)
            .await?;
        fault_point("after-commit");
        apply(warehouse, &self).await
    }
}

/// Moves, deletes and cleans up; safe to repeat after a crash at any point.
async fn apply(warehouse: &Warehouse, publication: &Publication) -> Result<()> {
    let staging = format!("{WORK_DIR}/{}", publication.run_id);
    for (done, (staged, target)) in publication.moves.iter().enumerate() {
        if done == publication.moves.len() / 2 {
            fault_point("mid-publish");
        }
        warehouse
            .promote(&format!("{staging}/{staged}"), target)
            .await?;
    }
    for (done, commit) in publication.delta.iter().enumerate() {
        if done == 1 {
            fault_point("between-commits");
        }
        crate::engine::delta::commit(warehouse, commit).await?;
    }
    fault_point("before-delete");
    for target in &publication.deletes {
        warehouse.delete(target).await?;
    }
    // The journal goes last: until then a crash leaves it for the next run to finish. On an
    // object store the staged copies go too; a local scratch directory is its run's to clean.
    if !warehouse.is_local() {
        for (staged, _) in &publication.moves {
            warehouse.delete(&format!("{staging}/{staged}")).await?;
        }
    }
    Ok(warehouse.delete(&format!("{staging}/{JOURNAL}")).await?)
}

/// Finishes or discards what earlier runs left in `_work/`: a committed publication is
/// applied, anything else deleted. Call with the warehouse lock held. Returns one line per
/// run repaired, for the operator.
pub async fn recover(warehouse: &Warehouse, current_run: &str) -> Result<Vec<String>> {
    let mut repaired = Vec::new();
    for run_id in warehouse.list_dirs(WORK_DIR).await? {
        if run_id == current_run {
            continue;
        }
        let staging = format!("{WORK_DIR}/{run_id}");
        match warehouse.get(&format!("{staging}/{JOURNAL}")).await? {
            Some(bytes) => {
                let publication: Publication = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::io(
                        warehouse.url_of(&format!("{staging}/{JOURNAL}")),
                        format!("unreadable publish journal: {e}"),
                    )
                })?;
                apply(warehouse, &publication).await?;
                warehouse.delete_tree(&staging).await?;
                repaired.push(format!(
                    "finished publishing run {run_id} ({} files), which stopped after its commit",
                    publication.moves.len()
                ));
            }
            None => {
                warehouse.delete_tree(&staging).await?;
                repaired.push(format!(
                    "removed the unpublished work of run {run_id}, which stopped before its commit"
                ));
            }
        }
    }
    if let Some(dir) = warehouse.local() {
        // Leave no empty `_work` behind for readers listing the warehouse.
        let _ = std::fs::remove_dir(dir.join(WORK_DIR));
    }
    Ok(repaired)
}

/// Refuses a writing run whose table format is not the one the warehouse's tables have (the
/// run log, which every command writes, tells), or a Delta warehouse on a store whose
/// commits this build cannot make safe.
pub async fn check_format(warehouse: &Warehouse) -> Result<()> {
    let refuse = |message: String| Err(Error::Engine(crate::engine::Error::Location(message)));
    let location = &warehouse.location;
    let format = warehouse.format();
    if format == TableFormat::Delta
        && !warehouse.is_local()
        && !(location.starts_with("s3://") || location.starts_with("s3a://"))
    {
        return refuse(format!(
            "warehouse `{location}`: table_format = \"delta\" needs a local directory or s3://; \
             this build makes Delta commits safe only where the store offers put-if-absent"
        ));
    }
    if !warehouse.exists(runlog::RUNS).await? {
        return Ok(());
    }
    let holds_delta = warehouse
        .exists(&format!(
            "{}/{}",
            runlog::RUNS,
            crate::engine::delta::LOG_DIR
        ))
        .await?;
    let holds = if holds_delta {
        TableFormat::Delta
    } else {
        TableFormat::Parquet
    };
    if holds != format {
        return refuse(format!(
            "warehouse `{location}` holds {} tables, but this run writes table_format = \"{}\"; \
             keep the warehouse's format, or write to a new warehouse",
            holds.name(),
            format.name()
        ));
    }
    Ok(())
}

/// Removes a run's local scratch directory.
pub fn clean_scratch(scratch: &Path) -> Result<()> {
    match std::fs::remove_dir_all(scratch) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(scratch, e)),
    }
    if let Some(parent) = scratch.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    Ok(())
}

/// Test hook for crash tests: when `CHURNLAKE_KILL_AT` names this point, the process sends
/// itself SIGKILL, exactly as `kill -9` from outside would end it.
pub fn fault_point(name: &str) {
    if std::env::var("CHURNLAKE_KILL_AT").is_ok_and(|at| at == name) {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}
