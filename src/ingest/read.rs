//! Reading one source's files: each file streamed through its reader, every record
//! converted and shaped into a raw row or rejected into the quarantine, files on one thread
//! per core, figures added up in path order.

use super::SourceReport;
use super::convert;
use super::reader::{Item, Projection, Shape, SourceFile, read_records};
use super::shape::{Rejection, Shaper};
use super::state::{self, FileState, Plan};
use crate::base::table_file::{Column, ColumnType, TableWriter, Value};
use crate::config::{Pipeline, Source};
use crate::ingest::Result;
use indicatif::ProgressBar;
use std::path::Path;

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

/// Appends rejected rows to the quarantine file.
pub(super) struct Quarantine {
    pub(super) writer: TableWriter,
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
        ])?;
        Ok(())
    }
}

/// Streams every file to read into its own raw files (`<raw_dir>/<table>/<file id>.parquet`)
/// and the quarantine, and counts kept files from the manifest. Returns the manifest
/// entries of all the source's files, in path order.
///
/// Files are read on one thread per core, each file whole on one thread (a file's rows keep
/// their line order); the figures are added up in path order, so a run reports the same
/// whatever thread read what.
pub(super) fn read_source(
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
        .collect::<crate::base::error::Result<Vec<_>>>()?;
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
                        Ok(writers[table].push_with_lineage(&row, &id, line as i64)?)
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

/// contract §2: a source fails when its quarantined rows exceed both limits.
pub(super) fn check_bad_rows(source: &Source, report: &mut SourceReport) {
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
