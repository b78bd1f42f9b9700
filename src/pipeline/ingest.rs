//! The ingest step of a command: the sources read (`ingest`), the staged tables built
//! (`staging`), and what publishing them changes in the warehouse — the staged tables, the
//! raw files, the manifest and the health history the new rows invalidate — committed in one
//! publication when every check passes.

use super::operation::{Operation, RunLog};
use super::results::Step;
use crate::base::error::FromFile;
use crate::base::log;
use crate::config::Pipeline;
use crate::engine::warehouse::Warehouse;
use crate::ingest::state::{self, RAW_DIR};
use crate::ingest::{self, SourceReport};
use crate::marts::history::{self, HealthHistory};
use crate::pipeline::{Error, Result};
use crate::publish::Publication;
use crate::staging::manifest::{MANIFEST, Manifest};
use crate::staging::{self, Reach, Staged};
use indicatif::ProgressBar;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The result of ingest: the report is complete even when the run failed, so the run log can
/// say why.
pub struct IngestOutcome {
    pub sources: Vec<SourceReport>,
    /// Staged table name → rows, for tables ready to publish in `tables_dir`.
    pub tables: Vec<(String, u64)>,
    /// Tables this run appended to → the partitions it rewrote (`tables_dir` holds only
    /// those), or kept as they were (no partition, nothing in `tables_dir`); every other
    /// table in `tables` is written whole.
    pub rewritten: BTreeMap<String, Vec<String>>,
    /// Keyed tables this run updated rather than restaged (see `staging::keyed`) → the note saying
    /// how; they are written whole.
    pub updated: BTreeMap<String, String>,
    pub tables_dir: PathBuf,
    pub quarantine_file: PathBuf,
    pub quarantined: u64,
    /// The manifest after this run, and the raw files it wrote (relative to the scratch
    /// directory) and keeps (file ids).
    pub manifest: Manifest,
    pub new_raw_files: Vec<String>,
    pub kept_ids: BTreeSet<String>,
    /// The raw files the warehouse held when the run started: file id → keys.
    pub cached_raw: BTreeMap<String, Vec<String>>,
    /// No file was new, changed or removed: the staged tables stand as they are.
    pub unchanged: bool,
    /// How far back the staged tables changed (what the health history must forget).
    pub reach: Reach,
    pub result: Result<()>,
}

impl IngestOutcome {
    /// How this run staged a table not written whole, for the operator.
    pub fn partly_written(&self, table: &str) -> Option<String> {
        if let Some(note) = self.updated.get(table) {
            return Some(note.clone());
        }
        let partitions = self.rewritten.get(table)?;
        Some(if partitions.is_empty() {
            "kept as the last run staged it".to_string()
        } else {
            format!(
                "appended: {} partitions rewritten, the others kept",
                partitions.len()
            )
        })
    }

    /// What publishing this ingest changes in the warehouse: the staged tables, the raw
    /// files of the files read, the manifest; and the raw files no longer current go.
    pub async fn publication(
        &self,
        warehouse: &Warehouse,
        scratch: &Path,
        publication: &mut Publication,
    ) -> Result<()> {
        if self.unchanged {
            return Ok(());
        }
        for (name, _) in &self.tables {
            let partitions = match self.rewritten.get(name) {
                Some(partitions) => partitions.iter().map(|p| format!("/{p}")).collect(),
                None => vec![String::new()],
            };
            for partition in partitions {
                let (staged, target) = (
                    format!("tables/{name}{partition}"),
                    format!("{name}{partition}"),
                );
                publication
                    .replace_tree(warehouse, scratch, &staged, &target)
                    .await?;
            }
        }
        for file in &self.new_raw_files {
            // `state/raw/...` in the scratch directory is `_state/raw/...` in the warehouse.
            publication.add_file(file, &format!("_{file}"));
        }
        for (id, keys) in &self.cached_raw {
            if !self.kept_ids.contains(id) {
                for key in keys {
                    publication.delete(&format!("{RAW_DIR}/{key}"));
                }
            }
        }
        let (history, dropped) = HealthHistory::load(warehouse)
            .await?
            .after_ingest(self.reach);
        if !dropped.is_empty() {
            let dropped: Vec<String> = dropped
                .iter()
                .map(|d| format!("{}/", history::partition_name(*d)))
                .collect();
            for entry in warehouse.list(history::HEALTH_HISTORY_DIR).await? {
                if dropped.iter().any(|p| entry.key.starts_with(p)) {
                    publication.delete(&format!("{}/{}", history::HEALTH_HISTORY_DIR, entry.key));
                }
            }
        }
        publication.add(history.write(scratch)?);
        let manifest = serde_json::to_vec_pretty(&self.manifest).expect("a manifest serializes");
        let file = scratch.join("state").join("manifest.json");
        std::fs::write(&file, manifest).map_err(|e| Error::io(&file, e))?;
        publication.add_file("state/manifest.json", MANIFEST);
        Ok(())
    }
}

/// Reads every source of the pipeline into `work` — files new or changed since the
/// warehouse's manifest (all of them with `full_refresh`) — then runs the staging models
/// over the raw rows of every current file.
pub async fn ingest(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    work: &Path,
    full_refresh: bool,
    progress: &ProgressBar,
) -> IngestOutcome {
    let mut outcome = IngestOutcome {
        sources: Vec::new(),
        tables: Vec::new(),
        rewritten: BTreeMap::new(),
        updated: BTreeMap::new(),
        tables_dir: work.join("tables"),
        quarantine_file: work.join("quarantine.parquet"),
        quarantined: 0,
        manifest: Manifest::default(),
        new_raw_files: Vec::new(),
        kept_ids: BTreeSet::new(),
        cached_raw: BTreeMap::new(),
        unchanged: false,
        reach: Reach::Everything,
        result: Ok(()),
    };
    let previous = if full_refresh {
        Ok(Manifest::default())
    } else {
        Manifest::load(warehouse).await.map_err(Error::from)
    };
    let loaded = match previous {
        Ok(manifest) => state::cached_raw(warehouse)
            .await
            .map(|raw| (manifest, raw))
            .map_err(Error::from),
        Err(e) => Err(e),
    };
    let previous = match loaded {
        Ok((manifest, raw)) => {
            outcome.cached_raw = raw;
            manifest
        }
        Err(e) => {
            outcome.result = Err(e);
            return outcome;
        }
    };
    // A full refresh reuses no raw file, though it still replaces them all when publishing.
    let reusable = if full_refresh {
        BTreeMap::new()
    } else {
        outcome.cached_raw.clone()
    };
    let (read, result) =
        ingest::read_sources(pipeline, &previous.sources, &reusable, work, progress).await;
    outcome.sources = read.sources;
    outcome.quarantine_file = read.quarantine_file;
    outcome.quarantined = read.quarantined;
    outcome.manifest.sources = read.source_states;
    outcome.new_raw_files = read.new_raw_files;
    outcome.kept_ids = read.kept_ids;
    if let Err(e) = result {
        outcome.result = Err(e.into());
        return outcome;
    }
    // Staging SQL of another churnlake build restages every table, even with no file new.
    let staging_changed = previous
        .staging
        .as_ref()
        .is_some_and(|s| s.fingerprint != staging::manifest::staging_fingerprint(pipeline));
    let changed = read.changed || staging_changed;
    let rewritten = read.rewritten || full_refresh || staging_changed;
    let staged_exist = match warehouse.exists("stg_handoffs").await {
        Ok(exists) => exists,
        Err(e) => {
            outcome.result = Err(e.into());
            return outcome;
        }
    };
    if !changed && !full_refresh && staged_exist {
        outcome.unchanged = true;
        return outcome;
    }
    progress.set_message("deduplicating and staging (sql/staging)");
    let reach = if rewritten {
        Reach::Everything
    } else {
        Reach::Nothing
    };
    let mut staged = Staged::new(outcome.tables_dir.clone(), reach);
    outcome.result = staging::stage(
        pipeline,
        warehouse,
        &read.raw_dir,
        &read.file_ids,
        previous.staging.as_ref(),
        &mut outcome.sources,
        &mut staged,
    )
    .await
    .map_err(Error::from);
    outcome.tables = staged.tables;
    outcome.rewritten = staged.rewritten;
    outcome.updated = staged.updated;
    outcome.reach = staged.reach;
    outcome.manifest.staging = staged.staging;
    outcome
}

/// Ingests, publishes on success, records the run; the outcome's result is the run's.
pub async fn run_ingest(
    pipeline: &Pipeline,
    full_refresh: bool,
) -> Result<(String, IngestOutcome)> {
    let mut op = Operation::begin(pipeline, "ingest").await?;
    let mut outcome = ingest_step(pipeline, &mut op, full_refresh).await;
    let run_id = op.run.id.clone();
    let result = std::mem::replace(&mut outcome.result, Ok(()));
    let log = RunLog {
        sources: logged_sources(&outcome),
        tables: &outcome.tables,
        quarantine_file: Some(&outcome.quarantine_file),
    };
    outcome.result = op.finish(Publication::new(&run_id), log, result).await;
    Ok((run_id, outcome))
}

/// Sources for `data_quality`: none when nothing was read (the staged tables did not change).
pub fn logged_sources(outcome: &IngestOutcome) -> &[SourceReport] {
    if outcome.unchanged {
        &[]
    } else {
        &outcome.sources
    }
}

/// Reads the sources into the operation's scratch directory and, when every check passes,
/// publishes the staged tables, raw files and manifest (one commit).
pub async fn ingest_step(
    pipeline: &Pipeline,
    op: &mut Operation,
    full_refresh: bool,
) -> IngestOutcome {
    let started = std::time::Instant::now();
    let progress = log::progress(0, "reading");
    let mut outcome = ingest(
        pipeline,
        &op.warehouse,
        op.scratch(),
        full_refresh,
        &progress,
    )
    .await;
    progress.finish_and_clear();
    if outcome.result.is_ok() {
        let mut publication = Publication::new(&op.run.id);
        outcome.result = match outcome
            .publication(&op.warehouse, op.scratch(), &mut publication)
            .await
        {
            Ok(()) => publication
                .publish(&op.warehouse, op.scratch(), &op.run.command)
                .await
                .map_err(Error::from),
            Err(e) => Err(e),
        };
    }
    for source in &outcome.sources {
        op.step(Step {
            unique_id: format!("source.{}", source.source),
            status: if source.failed { "error" } else { "success" }.into(),
            rows: Some(source.rows_read),
            execution_time: source.read_seconds,
            message: Some(format!(
                "{} files, {} read ({} unchanged); {} loaded, {} quarantined, {} duplicates",
                source.files,
                source.files_read,
                source.files - source.files_read,
                source.rows_loaded,
                source.rows_quarantined,
                source.duplicates
            )),
        });
        log::event(
            "source_read",
            serde_json::json!({
                "source": source.source, "files": source.files, "files_read": source.files_read,
                "rows_read": source.rows_read, "rows_quarantined": source.rows_quarantined,
                "failed": source.failed,
            }),
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    for (table, rows) in &outcome.tables {
        let mut step = Step::table(table, *rows, seconds);
        step.message = outcome.partly_written(table);
        op.step(step);
    }
    log::event(
        "ingest_finished",
        serde_json::json!({
            "unchanged": outcome.unchanged,
            "ok": outcome.result.is_ok(),
            "seconds": seconds,
        }),
    );
    outcome
}
