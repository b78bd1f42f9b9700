//! Ingest: every configured source read, typed, validated, deduplicated and staged as the
//! `stg_*` tables of SPEC §4, with every rejected row in quarantine.
//!
//! Two passes. Rust streams each file once, converting and checking rows into raw Parquet
//! (memory bounded by the batch size) and rejected rows into quarantine. Then the SQL models
//! of `sql/staging` deduplicate, resolve identities and convert money in DataFusion. This
//! module writes only into the run's work directory; making tables visible is `publish`'s job.

pub mod append;
pub mod batch;
pub mod convert;
pub mod keep;
pub mod keyed;
pub mod notes;
pub mod reader;
pub mod remote;
pub mod shape;
pub mod staging;
pub mod state;

use crate::config::{Pipeline, Source};
use crate::contract::SourceKind;
use crate::engine;
use crate::error::EngineContext;
use crate::error::{Error, Result};
use crate::marts::history::{self, HealthHistory, Reach};
use crate::warehouse::Warehouse;
use batch::{Column, ColumnType, TableWriter};
use convert::Value;
use datafusion::arrow::array::{Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext};
use indicatif::ProgressBar;
use reader::{Item, Projection, Shape, SourceFile, read_records};
use shape::{Rejection, Shaper, raw_tables};
use staging::{Held, STAGING_MODELS, StagingModel};
use state::{FileState, Manifest, Plan, SourceState};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A check the run made, as recorded in `data_quality.checks`.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// What ingest saw of one source: the figures of its `data_quality` row.
#[derive(Debug, Clone, Default)]
pub struct SourceReport {
    pub source: String,
    pub kind: String,
    pub files: u64,
    /// Files read by this run; the others were unchanged since the manifest.
    pub files_read: u64,
    pub empty_files: u64,
    /// Bytes of the files as stored.
    pub bytes: u64,
    /// Bytes after decompression, as parsed.
    pub bytes_decoded: u64,
    /// Wall-clock seconds spent reading, converting and writing raw rows.
    pub read_seconds: f64,
    /// Data rows read (a CSV header is not a row; blank NDJSON lines are not rows).
    pub rows_read: u64,
    pub rows_quarantined: u64,
    /// Rows that passed validation and were staged raw.
    pub rows_valid: u64,
    /// Rows in the published `stg_*` tables.
    pub rows_loaded: u64,
    /// Rows that lost deduplication (an earlier version, or a repeated messageId).
    pub duplicates: u64,
    pub orphans: u64,
    /// Microseconds since the epoch, UTC.
    pub max_event_time: Option<i64>,
    pub checks: Vec<Check>,
    pub failed: bool,
    /// The first few rejections, as `file:line: reason`, for the operator's summary.
    pub first_rejections: Vec<String>,
}

impl SourceReport {
    const REJECTIONS_SHOWN: usize = 5;

    /// Adds one file's figures, whether read now or kept from the manifest.
    fn count_file(&mut self, file: &FileState) {
        self.bytes += file.size;
        self.bytes_decoded += file.bytes_decoded;
        self.rows_read += file.rows_read;
        self.rows_valid += file.rows_valid;
        if file.rows_read == 0 {
            self.empty_files += 1;
        }
    }

    fn check(&mut self, name: &str, passed: bool, detail: String) {
        self.failed |= !passed;
        self.checks.push(Check {
            name: name.into(),
            passed,
            detail,
        });
    }
}

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
    /// Keyed tables this run updated rather than restaged (see `keyed`) → the note saying
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
        publication: &mut crate::publish::Publication,
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
                    publication.delete(&format!("{}/{key}", state::RAW_DIR));
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
        history.publish(scratch, publication)?;
        let manifest = serde_json::to_vec_pretty(&self.manifest).expect("a manifest serializes");
        let file = scratch.join("state").join("manifest.json");
        std::fs::write(&file, manifest).map_err(|e| Error::io(&file, e))?;
        publication.add_file("state/manifest.json", state::MANIFEST);
        Ok(())
    }
}

/// Columns of the `quarantine` table's files (`run_id` is the partition directory).
pub fn quarantine_columns() -> Vec<Column> {
    use ColumnType::*;
    [
        ("source", Text),
        ("file", Text),
        ("line", Long),
        ("field", Text),
        ("raw", Text),
        ("reason", Text),
    ]
    .into_iter()
    .map(|(n, t)| Column::new(n, t))
    .collect()
}

/// Runs ingest for every source of the pipeline into `work`: files new or changed since the
/// warehouse's manifest are read (all of them with `full_refresh`), then the staging models
/// run over the raw rows of every current file.
pub async fn ingest(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    work: &Path,
    full_refresh: bool,
    progress: &ProgressBar,
) -> IngestOutcome {
    let quarantine_file = work.join("quarantine.parquet");
    let mut outcome = IngestOutcome {
        sources: Vec::new(),
        tables: Vec::new(),
        rewritten: BTreeMap::new(),
        updated: BTreeMap::new(),
        tables_dir: work.join("tables"),
        quarantine_file: quarantine_file.clone(),
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
        Manifest::load(warehouse).await
    };
    let loaded = match previous {
        Ok(manifest) => state::cached_raw(warehouse)
            .await
            .map(|raw| (manifest, raw)),
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
    let mut quarantine =
        match TableWriter::create(&quarantine_file, quarantine_columns(), pipeline.batch_rows) {
            Ok(writer) => Quarantine { writer },
            Err(e) => {
                outcome.result = Err(e);
                return outcome;
            }
        };
    let raw_dir = work.join("state").join("raw");
    let mut first_error = None;
    let mut files_ordered = Vec::new();
    // Staging SQL of another churnlake build restages every table, even with no file new.
    let staging_changed = previous
        .staging
        .as_ref()
        .is_some_and(|s| s.fingerprint != state::staging_fingerprint(pipeline));
    let mut changed = staging_changed;
    // Whether a file changed or went, a source is new or redefined, or the staging SQL
    // changed: then any date's inputs may have changed, not only those the new rows reach.
    let mut rewritten = full_refresh || staging_changed;
    for source in &pipeline.sources {
        let mut report = SourceReport {
            source: source.name.clone(),
            kind: source.kind.name().into(),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let fingerprint = state::fingerprint(source, pipeline);
        let prior = previous.sources.get(&source.name);
        let mut source_state = SourceState {
            fingerprint: fingerprint.clone(),
            files: Vec::new(),
        };
        let read = async {
            let files = remote::resolve(source, work).await?;
            let mut plans = Vec::new();
            for file in files {
                let plan = state::plan(prior, &fingerprint, &file, &reusable)?;
                if let state::Plan::Read { .. } = plan {
                    remote::fetch(&file).await?;
                }
                plans.push((file, plan));
            }
            progress.inc_length(plans.len() as u64);
            read_source(
                source,
                pipeline,
                &plans,
                &raw_dir,
                &mut quarantine,
                &mut report,
                progress,
            )
        }
        .await;
        report.read_seconds = started.elapsed().as_secs_f64();
        match read {
            Ok(states) => {
                changed |= report.files_read > 0
                    || prior.is_none_or(|p| {
                        p.fingerprint != fingerprint || p.files.len() != states.len()
                    });
                rewritten |= prior.is_none_or(|p| {
                    p.fingerprint != fingerprint
                        || p.files.iter().any(|f| !states.iter().any(|s| s.id == f.id))
                });
                files_ordered.extend(states.iter().map(|f| f.id.clone()));
                source_state.files = states;
            }
            Err(e) => {
                report.check("readable", false, e.to_string());
                first_error.get_or_insert(e);
            }
        }
        check_bad_rows(source, &mut report);
        outcome.sources.push(report);
        outcome
            .manifest
            .sources
            .insert(source.name.clone(), source_state);
    }
    let source_went = previous.sources.len() != outcome.manifest.sources.len();
    changed |= source_went;
    rewritten |= source_went;
    match quarantine.writer.finish() {
        Ok(rows) => outcome.quarantined = rows,
        Err(e) => {
            first_error.get_or_insert(e);
        }
    }
    if first_error.is_none()
        && let Some(failed) = outcome.sources.iter().find(|s| s.failed)
    {
        let detail = failed
            .checks
            .iter()
            .find(|c| !c.passed)
            .map(|c| c.detail.clone())
            .unwrap_or_default();
        first_error = Some(Error::DataCheck(format!(
            "source `{}`: {detail}",
            failed.source
        )));
    }
    if let Some(e) = first_error {
        outcome.result = Err(e);
        return outcome;
    }
    let written = crate::publish::files_under(&raw_dir).unwrap_or_default();
    outcome.new_raw_files = written.iter().map(|f| format!("state/raw/{f}")).collect();
    for source_state in outcome.manifest.sources.values() {
        for file in &source_state.files {
            outcome.kept_ids.insert(file.id.clone());
        }
    }
    let staged_exist = match warehouse.exists("stg_handoffs").await {
        Ok(exists) => exists,
        Err(e) => {
            outcome.result = Err(e);
            return outcome;
        }
    };
    if !changed && !full_refresh && staged_exist {
        outcome.unchanged = true;
        return outcome;
    }
    progress.set_message("deduplicating and staging (sql/staging)");
    if !rewritten {
        outcome.reach = Reach::Nothing;
    }
    outcome.result = stage(
        pipeline,
        warehouse,
        &raw_dir,
        &files_ordered,
        previous.staging.as_ref(),
        &mut outcome,
    )
    .await;
    outcome
}

/// Appends rejected rows to the quarantine file.
struct Quarantine {
    writer: TableWriter,
}

impl Quarantine {
    fn push(
        &mut self,
        source: &Source,
        file: &SourceFile,
        line: u64,
        rejection: Rejection,
        raw: String,
    ) -> Result<()> {
        let text = |s: &str| Value::Text(s.to_string());
        self.writer.push(&[
            text(&source.name),
            text(&file.location()),
            Value::Long(line as i64),
            rejection.field.map(Value::Text).unwrap_or(Value::Null),
            Value::Text(raw),
            Value::Text(rejection.reason),
        ])
    }
}

/// Streams every file to read into its own raw files (`<raw_dir>/<table>/<file id>.parquet`)
/// and the quarantine, and counts kept files from the manifest. Returns the manifest
/// entries of all the source's files, in path order.
///
/// Files are read on one thread per core, each file whole on one thread (a file's rows keep
/// their line order); the figures are added up in path order, so a run reports the same
/// whatever thread read what.
fn read_source(
    source: &Source,
    pipeline: &Pipeline,
    plans: &[(SourceFile, Plan)],
    raw_dir: &Path,
    quarantine: &mut Quarantine,
    report: &mut SourceReport,
    progress: &ProgressBar,
) -> Result<Vec<FileState>> {
    let to_read: Vec<usize> = (0..plans.len())
        .filter(|i| matches!(plans[*i].1, Plan::Read { .. }))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let shared_quarantine = std::sync::Mutex::new(quarantine);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(to_read.len())
        .max(1);
    let mut reads: Vec<Option<Result<FileRead>>> = (0..plans.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&index) = to_read.get(n) else { break };
                        let (file, Plan::Read { stat }) = &plans[index] else {
                            unreachable!("only files to read are queued")
                        };
                        progress.set_message(file.location());
                        let read =
                            read_file(source, pipeline, file, stat, raw_dir, &shared_quarantine);
                        progress.inc(1);
                        done.push((index, read));
                    }
                    done
                })
            })
            .collect();
        for handle in handles {
            for (index, read) in handle.join().expect("a reading thread panicked") {
                reads[index] = Some(read);
            }
        }
    });
    let mut states = Vec::new();
    for ((_, plan), read) in plans.iter().zip(reads) {
        report.files += 1;
        let state = match (plan, read) {
            (Plan::Keep(kept), _) => {
                progress.inc(1);
                kept.clone()
            }
            (Plan::Read { .. }, Some(read)) => {
                let read = read?;
                report.files_read += 1;
                for note in read.first_rejections {
                    if report.first_rejections.len() < SourceReport::REJECTIONS_SHOWN {
                        report.first_rejections.push(note);
                    }
                }
                read.state
            }
            (Plan::Read { .. }, None) => unreachable!("every file to read was read"),
        };
        report.count_file(&state);
        states.push(state);
    }
    report.rows_quarantined = report.rows_read - report.rows_valid;
    Ok(states)
}

/// What reading one file gave: its manifest entry and its first rejections, as
/// `file:line: reason`.
struct FileRead {
    state: FileState,
    first_rejections: Vec<String>,
}

/// Reads one file into its raw files, sending rejected rows to the quarantine.
fn read_file(
    source: &Source,
    pipeline: &Pipeline,
    file: &SourceFile,
    stat: &state::FileStat,
    raw_dir: &Path,
    quarantine: &std::sync::Mutex<&mut Quarantine>,
) -> Result<FileRead> {
    let shaper = Shaper::new(source, pipeline);
    let fields = source.kind.fields();
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    let required: Vec<bool> = fields.iter().map(|f| f.required).collect();
    let checksum = match &stat.e_tag {
        Some(tag) => tag.trim_matches('"').to_string(),
        None => state::checksum(file)?,
    };
    let id = state::file_id(&file.location(), &checksum);
    let mut writers = shaper
        .tables()
        .iter()
        .map(|t| {
            let path = raw_dir.join(t.name).join(format!("{id}.parquet"));
            TableWriter::create_raw(&path, t.all_columns(), pipeline.batch_rows)
        })
        .collect::<Result<Vec<_>>>()?;
    let columns: Vec<Option<String>> = fields
        .iter()
        .map(|f| source.column_for(f.name, file.format).map(str::to_string))
        .collect();
    let shapes: Vec<Shape> = fields.iter().map(|f| Shape::of(f.ty)).collect();
    let projection = Projection {
        fields: &names,
        columns: &columns,
        required: &required,
        shapes: &shapes,
    };
    let mut valid = 0u64;
    let mut first_rejections = Vec::new();
    let mut reject = |line: u64, rejection: Rejection, raw: String| {
        if first_rejections.len() < SourceReport::REJECTIONS_SHOWN {
            first_rejections.push(format!("{}:{line}: {}", file.location(), rejection.reason));
        }
        quarantine
            .lock()
            .expect("the quarantine writer outlives a panicked thread")
            .push(source, file, line, rejection, raw)
    };
    let mut on_item = |item: Item| -> Result<()> {
        match item {
            Item::Unreadable {
                line,
                raw,
                field,
                reason,
            } => reject(line, Rejection { field, reason }, raw),
            Item::Record { line, values, raw } => {
                let shaped = convert_record(source, &columns, values, pipeline)
                    .and_then(|typed| shaper.shape(typed));
                match shaped {
                    Ok((table, row)) => {
                        valid += 1;
                        writers[table].push_with_lineage(&row, &id, line as i64)
                    }
                    Err(rejection) => reject(line, rejection, raw.render()),
                }
            }
        }
    };
    let read = read_records(file, &projection, pipeline.batch_rows, &mut on_item)?;
    for writer in writers {
        writer.finish()?;
    }
    Ok(FileRead {
        state: FileState {
            path: file.location(),
            size: stat.size,
            modified: stat.modified,
            e_tag: stat.e_tag.clone(),
            checksum,
            id,
            rows_read: read.rows,
            rows_valid: valid,
            bytes_decoded: read.bytes,
        },
        first_rejections,
    })
}

/// Converts the mapped text of one record into typed values, in contract order.
fn convert_record(
    source: &Source,
    columns: &[Option<String>],
    values: &[Option<&str>],
    pipeline: &Pipeline,
) -> std::result::Result<Vec<Value>, Rejection> {
    source
        .kind
        .fields()
        .iter()
        .zip(values)
        .zip(columns)
        .map(|((field, raw), column)| {
            convert::convert(field, *raw, pipeline.timezone).map_err(|reason| {
                let reason = match (raw, column) {
                    (None, Some(column)) if field.required => {
                        format!("{reason} (column `{column}`)")
                    }
                    _ => reason,
                };
                Rejection {
                    field: Some(field.name.to_string()),
                    reason,
                }
            })
        })
        .collect()
}

/// SPEC §2: a source fails when its quarantined rows exceed both limits.
fn check_bad_rows(source: &Source, report: &mut SourceReport) {
    let bad = report.rows_quarantined;
    let ratio = if report.rows_read == 0 {
        0.0
    } else {
        bad as f64 / report.rows_read as f64
    };
    let over = bad > source.max_bad_rows && ratio > source.max_bad_ratio;
    report.check(
        "bad_rows",
        !over,
        format!(
            "{bad} of {} rows quarantined ({:.2}%); limits: max_bad_rows {} and max_bad_ratio {}{}",
            report.rows_read,
            ratio * 100.0,
            source.max_bad_rows,
            source.max_bad_ratio,
            if over {
                "; both exceeded — fix the rows listed in the quarantine table for this run, or raise the limits"
            } else {
                ""
            }
        ),
    );
}

/// Runs the staging models over the raw tables, then checks and counts their output.
async fn stage(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    raw_dir: &Path,
    file_ids: &[String],
    previous: Option<&state::Staging>,
    outcome: &mut IngestOutcome,
) -> Result<()> {
    let spill_dir = raw_dir.with_file_name("spill");
    std::fs::create_dir_all(&spill_dir).map_err(|e| Error::io(&spill_dir, e))?;
    let ctx = engine::bounded_session(pipeline.memory_limit, &spill_dir)?;
    // A hash join holds its left side whole, and DataFusion's join does not spill. The
    // staging models put the small side (files, repeated ids, identity spans) on the left;
    // the planner must not swap the raw rows in on an estimate of their size. That side,
    // up to a few hundred MB, is built once and shared by every thread ("collect left"),
    // where a partitioned join would first shuffle every raw row between the threads.
    for setting in [
        "datafusion.optimizer.join_reordering = false",
        "datafusion.optimizer.hash_join_single_partition_threshold = 536870912",
        "datafusion.optimizer.hash_join_single_partition_threshold_rows = 20000000",
    ] {
        ctx.sql(&format!("set {setting}"))
            .await
            .context("staging session")?
            .collect()
            .await
            .context("staging session")?;
    }
    warehouse.register_with(&ctx);
    let keeps_files = outcome.sources.iter().any(|s| s.files_read < s.files);
    let mut raw = Vec::new();
    for kind in SourceKind::ALL {
        for table in raw_tables(kind) {
            let schema = batch::schema_of(&table.all_columns());
            let options = || ParquetReadOptions::default().schema(&schema);
            let new_dir = raw_dir.join(table.name);
            std::fs::create_dir_all(&new_dir).map_err(|e| Error::io(&new_dir, e))?;
            let step = format!("registering the raw rows of {}", table.name);
            let new = ctx
                .read_parquet(format!("{}/", new_dir.display()), options())
                .await
                .context(step.clone())?;
            ctx.register_table(format!("new_raw_{}", table.name), new.clone().into_view())
                .context(step.clone())?;
            let kept_dir = format!("{}/{}", state::RAW_DIR, table.name);
            let kept = if keeps_files && warehouse.exists(&kept_dir).await? {
                let kept = ctx
                    .read_parquet(format!("{}/", warehouse.url_of(&kept_dir)), options())
                    .await
                    .context(step.clone())?;
                Some(kept)
            } else {
                None
            };
            raw.push((table.name, schema, new, kept));
        }
    }
    // Only new files: the event tables may take just the new ids (see `append`).
    let touched_dir = raw_dir.with_file_name("touched");
    let fingerprint = state::staging_fingerprint(pipeline);
    let only_new_files = outcome.reach != Reach::Everything && keeps_files;
    let mut appends = if only_new_files {
        append::plan(&ctx, warehouse, &fingerprint, previous).await?
    } else {
        Vec::new()
    };
    // The keyed tables may restage just the new keys (see `keyed`).
    let mut updates = if only_new_files {
        keyed::plan(&ctx, warehouse, &fingerprint, previous).await?
    } else {
        Vec::new()
    };
    // And the tables whose sources read nothing may stand as they are (see `keep`).
    let keepable = if only_new_files {
        keep::candidates(warehouse, &fingerprint, previous, &outcome.sources).await?
    } else {
        BTreeMap::new()
    };
    let mut kept_tables = BTreeMap::new();
    for (name, schema, new, kept) in raw {
        if let Some(append) = appends.iter_mut().find(|a| a.raw == name) {
            append::register_raw(&ctx, warehouse, append, new, &schema, &touched_dir).await?;
            continue;
        }
        if let Some(update) = updates.iter().find(|u| u.raw == name) {
            keyed::register_raw(&ctx, update, new, kept).await?;
            continue;
        }
        let step = format!("registering the raw rows of {name}");
        let all = match kept {
            Some(kept) => new.union(kept).context(step.clone())?,
            None => new,
        };
        ctx.register_table(format!("raw_{name}_files"), all.into_view())
            .context(step)?;
    }
    if outcome.reach != Reach::Everything {
        outcome.reach = earliest_change(&ctx, warehouse).await?;
        // A restaged id may leave a kept partition (its first read moved).
        for day in appends.iter().filter_map(|a| a.dates.first()) {
            outcome.reach = outcome.reach.earliest(*day);
        }
    }
    register_raw_views(&ctx, file_ids).await?;
    let scratch = raw_dir.with_file_name("scratch");
    // While every model resolving through identity_spans appends or keeps its table, the
    // spans of the users the appended rows resolve are all it needs.
    let mut spans = SpanScope::All;
    let resolved_by_spans = |m: &&StagingModel| m.name != SPANS && m.sql.contains(SPANS);
    if !appends.is_empty()
        && STAGING_MODELS
            .iter()
            .filter(resolved_by_spans)
            .all(|m| appends.iter().any(|a| a.model == m.name) || keepable.contains_key(m.name))
    {
        spans = SpanScope::users_of(&ctx, &appends).await?;
    }
    for model in STAGING_MODELS {
        if let Some(figures) = keepable.get(model.name)
            && keep::keep(&ctx, warehouse, model, &kept_tables).await?
        {
            kept_tables.insert(model.name, *figures);
            outcome.tables.push((model.name.to_string(), figures.rows));
            outcome.rewritten.insert(model.name.to_string(), Vec::new());
            continue;
        }
        if spans != SpanScope::All
            && resolved_by_spans(&model)
            && !appends.iter().any(|a| a.model == model.name)
        {
            // This table restages whole: every user's spans, after all.
            spans = SpanScope::All;
            let model = STAGING_MODELS
                .iter()
                .find(|m| m.name == SPANS)
                .expect("identity_spans is a staging model");
            let vars = staging_vars(pipeline, spans);
            let df = engine::run_model(&ctx, SPANS, model.sql, &vars).await?;
            hold_in_scratch(&ctx, SPANS, df, &scratch.join(format!("{SPANS}_all"))).await?;
        }
        let vars = staging_vars(pipeline, spans);
        let df = engine::run_model(&ctx, model.name, model.sql, &vars).await?;
        if !model.published {
            let table: Arc<dyn datafusion::catalog::TableProvider> = match model.held {
                Held::View => df.into_view(),
                Held::Memory => {
                    let schema = Arc::new(df.schema().as_arrow().clone());
                    let batches = df
                        .collect()
                        .await
                        .context(format!("model {}", model.name))?;
                    Arc::new(MemTable::try_new(schema, vec![batches]).context(model.name)?)
                }
                Held::Scratch => {
                    let dir = scratch.join(model.name);
                    hold_in_scratch(&ctx, model.name, df, &dir).await?;
                    continue;
                }
            };
            ctx.register_table(model.name, table)
                .map_err(|e| Error::engine(format!("registering {}", model.name), e))?;
            continue;
        }
        let dir = outcome.tables_dir.join(model.name);
        if let Some(update) = updates.iter_mut().find(|u| u.model == model.name) {
            let rows = keyed::write(&ctx, warehouse, update, df, &scratch, &dir).await?;
            outcome.tables.push((model.name.to_string(), rows));
            outcome
                .updated
                .insert(model.name.to_string(), update.note());
            continue;
        }
        if let Some(append) = appends.iter().find(|a| a.model == model.name) {
            let rows = append::write(&ctx, warehouse, append, df, &dir).await?;
            outcome.tables.push((model.name.to_string(), rows));
            outcome
                .rewritten
                .insert(model.name.to_string(), append.partitions());
            continue;
        }
        // Raw rows come file by file, each file close to one date range.
        let rows = engine::write_table(
            df,
            model.name,
            &dir,
            model.partition_by,
            engine::WriteOrder::AsItComes,
        )
        .await?;
        let partition = model.partition_by.map(|c| (c, DataType::Date32));
        engine::register_table(&ctx, model.name, &dir, partition).await?;
        outcome.tables.push((model.name.to_string(), rows));
    }
    let mut staged = state::Staging {
        fingerprint,
        tables: BTreeMap::new(),
    };
    for report in &mut outcome.sources {
        let figures = account_for(
            &ctx,
            report,
            &outcome.tables,
            (&appends, &updates),
            &kept_tables,
        )
        .await?;
        staged.tables.extend(figures);
    }
    outcome.manifest.staging = Some(staged);
    check_fx(&ctx, pipeline).await?;
    if let Some(failed) = outcome.sources.iter().find(|s| s.failed) {
        let check = failed
            .checks
            .iter()
            .find(|c| !c.passed)
            .expect("a failed check");
        return Err(Error::DataCheck(format!(
            "source `{}`, check {}: {}",
            failed.source, check.name, check.detail
        )));
    }
    Ok(())
}

/// The staging helper giving each group call the interval in which it is its user's latest.
const SPANS: &str = "identity_spans";

/// Whose spans `identity_spans` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpanScope {
    All,
    /// The users of `span_users`: those of the appended rows without an account.
    AppendedUsers,
}

impl SpanScope {
    /// Registers `span_users` for the appended tables' rows.
    async fn users_of(ctx: &SessionContext, appends: &[append::Append]) -> Result<Self> {
        let users = appends
            .iter()
            .map(|a| {
                format!(
                    "select user_id from raw_{}_files where account_id is null",
                    a.raw
                )
            })
            .collect::<Vec<_>>()
            .join(" union all ");
        let view = ctx.sql(&users).await.context("span_users")?;
        ctx.register_table("span_users", view.into_view())
            .context("span_users")?;
        Ok(Self::AppendedUsers)
    }

    /// The group calls `identity_spans` reads, for its `${identities}`.
    fn identities(self) -> &'static str {
        match self {
            Self::All => "stg_identities",
            // The few users are the hash join's build side; the calls stream past them.
            Self::AppendedUsers => {
                "(select calls.* from (select distinct user_id from span_users) as users \
                 join stg_identities as calls on calls.user_id = users.user_id) as scoped"
            }
        }
    }
}

/// The variables of the staging SQL: the reporting currency, and the group calls
/// `identity_spans` reads.
fn staging_vars(pipeline: &Pipeline, spans: SpanScope) -> [(&str, &str); 2] {
    [
        ("reporting_currency", pipeline.reporting_currency.as_str()),
        ("identities", spans.identities()),
    ]
}

/// Writes a helper to `dir` in the run's scratch folder and registers it under its name, in
/// place of any earlier version.
async fn hold_in_scratch(
    ctx: &SessionContext,
    name: &str,
    df: DataFrame,
    dir: &Path,
) -> Result<()> {
    engine::write_table(df, name, dir, None, engine::WriteOrder::AsItComes).await?;
    ctx.deregister_table(name).context(name.to_string())?;
    engine::register_table(ctx, name, dir, None).await
}

/// For each raw table, the day from which one of its rows can change what a date sees
/// (SQL over its columns, days since the epoch), and for keyed sources the key and the
/// staged table whose earlier version of the row it may replace (that version's day counts
/// too). Group and identify calls carry UTC timestamps; their local date is at most a day
/// earlier.
const CHANGE_DAYS: &[(&str, &str, Option<KeyedBy>)] = &[
    (
        "handoffs",
        "cast(start_date as int)",
        Some(("deal_id", "stg_handoffs")),
    ),
    (
        "tickets",
        "cast(created_date as int)",
        Some(("id", "stg_tickets")),
    ),
    (
        "nps",
        "cast(responded_date as int)",
        Some(("response_id", "stg_nps")),
    ),
    ("fx_rates", "cast(date as int)", None),
    ("events", "cast(event_date as int)", None),
    ("pageviews", "cast(event_date as int)", None),
    (
        "identities",
        "cast(cast(timestamp as date) as int) - 1",
        None,
    ),
    ("users", "cast(cast(timestamp as date) as int) - 1", None),
];

/// A keyed source's key and staged table.
type KeyedBy = (&'static str, &'static str);

/// How far back the rows of the files read this run (`new_raw_<table>`) change the staged
/// tables, when every earlier file stands: from the earliest day of any of them.
async fn earliest_change(ctx: &SessionContext, warehouse: &Warehouse) -> Result<Reach> {
    let mut reach = Reach::Nothing;
    for (table, day, keyed) in CHANGE_DAYS {
        let replaced = match keyed {
            None => String::new(),
            Some((key, staged)) => {
                if !warehouse.exists(staged).await? {
                    return Ok(Reach::Everything);
                }
                let previous = format!("previous_{staged}");
                engine::register_location(ctx, &previous, &warehouse.url_of(staged), None).await?;
                format!(
                    " union all select {day} as day \
                     from (select distinct {key} from new_raw_{table}) as k \
                     join {previous} on {previous}.{key} = k.{key}"
                )
            }
        };
        // Day 0 (1970-01-01) stands for "no row": no real input is dated then.
        let sql = format!(
            "select coalesce(min(day), 0) from \
             (select {day} as day from new_raw_{table}{replaced})"
        );
        let first = engine::query_count(ctx, &sql).await?;
        if first > 0 {
            reach = reach.earliest(first as i32);
        }
    }
    Ok(reach)
}

/// SQL counting the keys `table` holds more than once. Message ids are grouped by their
/// hash first (see `shape::ID_HASH`): the few hashes seen twice are the hash join's build
/// side, and their ids decide.
fn repeated_keys_sql(table: &str, grain: &[&str]) -> String {
    if grain == ["message_id"] {
        return format!(
            "select count(*) from (select t.message_id from \
             (select h from (select id_hash(message_id) as h from {table}) \
              group by h having count(*) > 1) as c \
             join {table} as t on id_hash(t.message_id) = c.h \
             group by t.message_id having count(*) > 1)"
        );
    }
    let key = grain.join(", ");
    format!("select count(*) from (select {key} from {table} group by {key} having count(*) > 1)")
}

/// Rows of `table` (a name or a parenthesized query) whose `account` no handoff names.
async fn count_orphans(ctx: &SessionContext, table: &str, account: &str) -> Result<u64> {
    // Not `not in`: that anti join holds the staged rows, the handoffs stream.
    let sql = format!(
        "select count(*) from (select distinct account_id from stg_handoffs) as h \
         right join {table} as t on t.{account} = h.account_id \
         where h.account_id is null"
    );
    engine::query_count(ctx, &sql).await
}

/// Fills loaded, duplicate, orphan and event-time figures of a source, and checks grain and
/// that rows read = loaded + quarantined + duplicates. Returns each staged table's figures,
/// for the manifest. A table this run appended to is checked in the partitions it rewrote
/// and counts on from its figures after the last run; a table it kept (`kept`, with those
/// figures) has them, and only its orphans are counted again (the handoffs may have changed).
async fn account_for(
    ctx: &SessionContext,
    report: &mut SourceReport,
    tables: &[(String, u64)],
    (appends, updates): (&[append::Append], &[keyed::KeyedUpdate]),
    kept_tables: &BTreeMap<&str, state::StagedFigures>,
) -> Result<Vec<(String, state::StagedFigures)>> {
    let kind = report.kind.clone();
    let models = STAGING_MODELS
        .iter()
        .filter(|m| m.kind.map(|k| k.name()) == Some(kind.as_str()) && m.published);
    let mut staged = Vec::new();
    for model in models {
        let loaded = tables
            .iter()
            .find(|(name, _)| name == model.name)
            .map(|(_, rows)| *rows)
            .unwrap_or(0);
        report.rows_loaded += loaded;
        let appended = appends.iter().find(|a| a.model == model.name);
        let updated = updates.iter().find(|u| u.model == model.name);
        let kept = kept_tables.get(model.name);
        let key = model.grain.join(", ");
        let duplicates = match (appended, model.repeats, model.raw) {
            _ if let Some(figures) = kept => figures.duplicates,
            // Every valid row is loaded or a duplicate, the last run's and this run's alike.
            _ if let Some(u) = updated => {
                (u.previous.rows + u.previous.duplicates + u.new_rows).saturating_sub(loaded)
            }
            (Some(a), _, _) => {
                (a.previous.rows + a.previous.duplicates + a.new_rows).saturating_sub(loaded)
            }
            (None, Some(repeats), _) => {
                let sql = format!("select coalesce(sum(later_reads), 0) from {repeats}");
                engine::query_count(ctx, &sql).await?
            }
            (None, None, Some(raw)) => {
                let sql = format!(
                    "select count(*) - (select count(*) from (select distinct {key} from {raw})) from {raw}"
                );
                engine::query_count(ctx, &sql).await?
            }
            (None, None, None) => 0,
        };
        report.duplicates += duplicates;
        // An appended table's other partitions were checked when they were written.
        // An updated table's other keys were checked when they were written.
        let (checked, scope) = match appended {
            _ if kept.is_some() => (None, " as the last run staged it (kept)".to_string()),
            _ if let Some(u) = updated => (
                Some(u.restaged_view()),
                format!(" in the {} keys this run restaged", u.restaged),
            ),
            None => (Some(model.name.to_string()), String::new()),
            Some(a) => (
                a.rewritten_view(),
                format!(" in the {} partitions this run rewrote", a.dates.len()),
            ),
        };
        let repeated = match &checked {
            Some(table) => engine::query_count(ctx, &repeated_keys_sql(table, model.grain)).await?,
            None => 0,
        };
        report.check(
            &format!("grain_{}", model.name),
            repeated == 0,
            format!(
                "{} is unique on ({key}){scope}: {repeated} repeated keys",
                model.name
            ),
        );
        let mut orphans = None;
        if let Some(account) = model.account_column {
            // While the handoffs stand, rows the run kept keep their orphan count.
            let handoffs_kept = kept_tables.contains_key("stg_handoffs");
            let count = match (kept, appended) {
                (Some(figures), _) if handoffs_kept && figures.orphans.is_some() => {
                    figures.orphans.unwrap_or_default()
                }
                (None, Some(a)) if handoffs_kept && a.previous.orphans.is_some() => {
                    let before = a.previous.orphans.unwrap_or_default();
                    let (replaced, restaged) = match a.rewritten_view() {
                        Some(rewritten) => (
                            count_orphans(ctx, &a.replaced_rows(), account).await?,
                            count_orphans(ctx, &rewritten, account).await?,
                        ),
                        None => (0, 0),
                    };
                    (before + restaged).saturating_sub(replaced)
                }
                _ => count_orphans(ctx, model.name, account).await?,
            };
            report.orphans += count;
            orphans = Some(count);
        }
        let mut max_event_time = None;
        if let Some(column) = model.event_time {
            // An append that restaged no kept row only added rows: the latest is the later of
            // the last run's and the rewritten partitions'.
            let (table, before) = match appended {
                _ if let Some(figures) = kept => (None, figures.max_event_time),
                Some(a) if a.kept_reads == 0 => (a.rewritten_view(), a.previous.max_event_time),
                _ => (Some(model.name.to_string()), None),
            };
            let micros = match table {
                Some(table) => {
                    engine::query_count(
                        ctx,
                        &format!(
                            "select coalesce(max(to_unixtime(cast({column} as timestamp)) * 1000000), 0) from {table}"
                        ),
                    )
                    .await?
                }
                None => 0,
            };
            max_event_time = (micros > 0).then_some(micros as i64).max(before);
            if let Some(micros) = max_event_time {
                report.max_event_time =
                    Some(report.max_event_time.map_or(micros, |m| m.max(micros)));
            }
        }
        staged.push((
            model.name.to_string(),
            state::StagedFigures {
                rows: loaded,
                duplicates,
                max_event_time,
                orphans,
            },
        ));
    }
    let accounted = report.rows_loaded + report.rows_quarantined + report.duplicates;
    report.check(
        "reconcile",
        accounted == report.rows_read,
        format!(
            "read {} = loaded {} + quarantined {} + duplicates {}{}",
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined,
            report.duplicates,
            if accounted == report.rows_read {
                ""
            } else {
                " does not hold"
            }
        ),
    );
    Ok(staged)
}

/// Every line in another currency needs a rate on or before its start (SPEC §1).
async fn check_fx(ctx: &SessionContext, pipeline: &Pipeline) -> Result<()> {
    let missing = engine::query(
        ctx,
        "select currency, cast(start_date as varchar) as start_date, deal_id \
         from stg_handoffs where mrr_reporting is null order by start_date, deal_id limit 5",
    )
    .await?;
    let rows = engine::string_rows(&missing);
    if let Some(first) = rows.first() {
        let list = rows
            .iter()
            .map(|r| format!("{} on or before {} (deal {})", r[0], r[1], r[2]))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::DataCheck(format!(
            "no exchange rate to {} for {list}; add the rate for {} to the fx_rates source",
            pipeline.reporting_currency, first[0]
        )));
    }
    Ok(())
}

/// Registers the published `stg_*` tables of a warehouse in a session, for SQL over them.
/// Tables not published yet are skipped: queries naming them fail with "table not found".
pub async fn register_staged(ctx: &SessionContext, warehouse: &Warehouse) -> Result<()> {
    warehouse.register_with(ctx);
    for model in STAGING_MODELS.iter().filter(|m| m.published) {
        let partition = model.partition_by.map(|c| (c, DataType::Date32));
        engine::register_published(ctx, warehouse, model.name, partition).await?;
    }
    Ok(())
}

/// Registers `source_files` (file id → position in path order) and, for every raw table,
/// the view `raw_<name>` the staging models read: the rows of `raw_<name>_files` whose file
/// is current, with `_file_ord` in place of the file id.
pub async fn register_raw_views(ctx: &SessionContext, file_ids: &[String]) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("_file", DataType::Utf8, false),
        Field::new("_file_ord", DataType::Int32, false),
    ]));
    let ids = StringArray::from_iter_values(file_ids.iter());
    let ords = Int32Array::from_iter_values(0..file_ids.len() as i32);
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(ords)])
        .context("source_files")?;
    let files = MemTable::try_new(schema, vec![vec![batch]]).context("source_files")?;
    ctx.register_table("source_files", Arc::new(files))
        .context("source_files")?;
    for kind in SourceKind::ALL {
        for table in raw_tables(kind) {
            // source_files on the left: a hash join holds its left side, and the raw rows
            // must stream past it, never be held.
            let sql = format!(
                "select {columns}, f._file_ord, r._line from source_files as f \
                 join raw_{name}_files as r on r._file = f._file",
                columns = table
                    .columns
                    .iter()
                    .map(|c| format!("r.\"{}\"", c.name))
                    .collect::<Vec<_>>()
                    .join(", "),
                name = table.name
            );
            let view = ctx.sql(&sql).await.context(format!("raw_{}", table.name))?;
            ctx.register_table(format!("raw_{}", table.name), view.into_view())
                .context(format!("raw_{}", table.name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn repeated_keys_are_counted_by_hash_then_by_id_and_by_plain_grouping() {
        let ctx = engine::session();
        let ids = "select * from (values ('a', 1), ('b', 1), ('b', 2), ('c', 1), ('c', 1), \
                   ('c', 1), ('d', 1)) as v(message_id, day)";
        ctx.register_table("ids", ctx.sql(ids).await.unwrap().into_view())
            .unwrap();
        let count = |sql: String| {
            let ctx = ctx.clone();
            async move { engine::query_count(&ctx, &sql).await.unwrap() }
        };
        assert_eq!(count(repeated_keys_sql("ids", &["message_id"])).await, 2);
        assert_eq!(
            count(repeated_keys_sql("ids", &["message_id", "day"])).await,
            1
        );
        let unique = "(select distinct message_id from ids)";
        assert_eq!(count(repeated_keys_sql(unique, &["message_id"])).await, 0);
        // SQL's id_hash is the raw files' _id_hash.
        let hash = engine::string_rows(
            &engine::query(&ctx, "select id_hash('b') as h")
                .await
                .unwrap(),
        );
        assert_eq!(hash[0][0], shape::hash_id("b").to_string());
    }
}
