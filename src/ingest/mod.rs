//! Ingest: every configured source read, typed and validated into raw Parquet files, one
//! per source file, with every rejected row in quarantine (contract §1–§2).
//!
//! Rust streams each file once, converting and checking rows into raw files (memory bounded
//! by the batch size) and rejected rows into the quarantine file; files unchanged since the
//! last run keep their raw files (see [`state`]). Deduplication, identities and FX are
//! set-level and belong to `staging`. This module writes only into the run's work directory
//! and publishes nothing.

pub mod error;
pub use error::{Error, Result};
pub mod convert;
pub mod headers;
pub mod notes;
mod read;
pub mod reader;
pub mod remote;
pub mod shape;
pub mod state;

use crate::base::table_file::TableWriter;
use crate::config::Pipeline;
use indicatif::ProgressBar;
pub use read::quarantine_columns;
use read::{Quarantine, read_source};
use state::{FileState, SourceState};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
    pub const REJECTIONS_SHOWN: usize = 5;

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

    pub fn check(&mut self, name: &str, passed: bool, detail: String) {
        self.failed |= !passed;
        self.checks.push(Check {
            name: name.into(),
            passed,
            detail,
        });
    }
}

/// What reading the sources gave: every source's figures (complete even when the run
/// failed, so the run log can say why), the files' states for the manifest, and the raw and
/// quarantine files written into the work directory.
pub struct Read {
    pub sources: Vec<SourceReport>,
    /// Source name → its files' states after this run, for the manifest.
    pub source_states: BTreeMap<String, SourceState>,
    /// Every current file's id, sources in staging order and files in path order.
    pub file_ids: Vec<String>,
    /// Where the raw files of the files read went: `<raw_dir>/<table>/<file id>.parquet`.
    pub raw_dir: PathBuf,
    /// The raw files written, relative to the work directory (`state/raw/...`).
    pub new_raw_files: Vec<String>,
    /// The ids of every current file, read now or kept.
    pub kept_ids: BTreeSet<String>,
    pub quarantine_file: PathBuf,
    pub quarantined: u64,
    /// A file was read, a file went, or a source is new, redefined or gone.
    pub changed: bool,
    /// A file changed or went, or a source is new, redefined or gone: what any date sees may
    /// have changed, not only what the new rows reach.
    pub rewritten: bool,
}

/// Reads every source of the pipeline into `work`: files new or changed since `previous`
/// (the last run's file states) are read, the others keep their raw files when `reusable`
/// (file id → raw keys in the warehouse) holds them. The result's error is the first
/// unreadable file, or the first source over its bad-row limits.
pub async fn read_sources(
    pipeline: &Pipeline,
    previous: &BTreeMap<String, SourceState>,
    reusable: &BTreeMap<String, Vec<String>>,
    work: &Path,
    progress: &ProgressBar,
) -> (Read, Result<()>) {
    let quarantine_file = work.join("quarantine.parquet");
    let raw_dir = work.join("state").join("raw");
    let mut read = Read {
        sources: Vec::new(),
        source_states: BTreeMap::new(),
        file_ids: Vec::new(),
        raw_dir: raw_dir.clone(),
        new_raw_files: Vec::new(),
        kept_ids: BTreeSet::new(),
        quarantine_file: quarantine_file.clone(),
        quarantined: 0,
        changed: false,
        rewritten: false,
    };
    let mut quarantine =
        match TableWriter::create(&quarantine_file, quarantine_columns(), pipeline.batch_rows) {
            Ok(writer) => Quarantine { writer },
            Err(e) => return (read, Err(e.into())),
        };
    let mut first_error = None;
    for source in &pipeline.sources {
        let mut report = SourceReport {
            source: source.name.clone(),
            kind: source.kind.name().into(),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let fingerprint = state::fingerprint(source, pipeline);
        let prior = previous.get(&source.name);
        let mut source_state = SourceState {
            fingerprint: fingerprint.clone(),
            files: Vec::new(),
        };
        let states = async {
            let files = remote::resolve(source, work).await?;
            let mut plans = Vec::new();
            for file in files {
                let plan = state::plan(prior, &fingerprint, &file, reusable)?;
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
        match states {
            Ok(states) => {
                read.changed |= report.files_read > 0
                    || prior.is_none_or(|p| {
                        p.fingerprint != fingerprint || p.files.len() != states.len()
                    });
                read.rewritten |= prior.is_none_or(|p| {
                    p.fingerprint != fingerprint
                        || p.files.iter().any(|f| !states.iter().any(|s| s.id == f.id))
                });
                read.file_ids.extend(states.iter().map(|f| f.id.clone()));
                source_state.files = states;
            }
            Err(e) => {
                report.check("readable", false, e.to_string());
                first_error.get_or_insert(e);
            }
        }
        read::check_bad_rows(source, &mut report);
        read.sources.push(report);
        read.source_states.insert(source.name.clone(), source_state);
    }
    let source_went = previous.len() != read.source_states.len();
    read.changed |= source_went;
    read.rewritten |= source_went;
    match quarantine.writer.finish() {
        Ok(rows) => read.quarantined = rows,
        Err(e) => {
            first_error.get_or_insert(e.into());
        }
    }
    if first_error.is_none()
        && let Some(failed) = read.sources.iter().find(|s| s.failed)
    {
        let detail = failed
            .checks
            .iter()
            .find(|c| !c.passed)
            .map(|c| c.detail.clone())
            .unwrap_or_default();
        first_error = Some(Error::BadRows {
            name: failed.source.clone(),
            detail,
        });
    }
    if let Some(e) = first_error {
        return (read, Err(e));
    }
    let written = crate::base::files_under(&raw_dir).unwrap_or_default();
    read.new_raw_files = written.iter().map(|f| format!("state/raw/{f}")).collect();
    for source_state in read.source_states.values() {
        for file in &source_state.files {
            read.kept_ids.insert(file.id.clone());
        }
    }
    (read, Ok(()))
}
