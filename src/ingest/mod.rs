//! Ingest: every configured source read, typed, validated, deduplicated and staged as the
//! `stg_*` tables of SPEC §4, with every rejected row in quarantine.
//!
//! Two passes. Rust streams each file once, converting and checking rows into raw Parquet
//! (memory bounded by the batch size) and rejected rows into quarantine. Then the SQL models
//! of `sql/staging` deduplicate, resolve identities and convert money in DataFusion. This
//! module writes only into the run's work directory; making tables visible is `publish`'s job.

pub mod batch;
pub mod convert;
pub mod notes;
pub mod reader;
pub mod shape;
pub mod staging;

use crate::config::{Pipeline, Source};
use crate::contract::SourceKind;
use crate::engine;
use crate::error::{Error, Result};
use batch::{Column, ColumnType, TableWriter};
use convert::Value;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use reader::{Item, Projection, SourceFile, read_records};
use shape::{Rejection, Shaper, raw_tables};
use staging::STAGING_MODELS;
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

    fn note_rejection(&mut self, file: &SourceFile, line: u64, reason: &str) {
        if self.first_rejections.len() < Self::REJECTIONS_SHOWN {
            self.first_rejections
                .push(format!("{}:{line}: {reason}", file.path.display()));
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
    pub tables_dir: PathBuf,
    pub quarantine_file: PathBuf,
    pub quarantined: u64,
    pub result: Result<()>,
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

/// Runs ingest for every source of the pipeline into `work`.
pub async fn ingest(pipeline: &Pipeline, work: &Path) -> IngestOutcome {
    let quarantine_file = work.join("quarantine.parquet");
    let mut outcome = IngestOutcome {
        sources: Vec::new(),
        tables: Vec::new(),
        tables_dir: work.join("tables"),
        quarantine_file: quarantine_file.clone(),
        quarantined: 0,
        result: Ok(()),
    };
    let mut quarantine =
        match TableWriter::create(&quarantine_file, quarantine_columns(), pipeline.batch_rows) {
            Ok(writer) => Quarantine { writer },
            Err(e) => {
                outcome.result = Err(e);
                return outcome;
            }
        };
    let raw_dir = work.join("raw");
    let mut first_error = None;
    for source in &pipeline.sources {
        let mut report = SourceReport {
            source: source.name.clone(),
            kind: source.kind.name().into(),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let read = read_source(source, pipeline, &raw_dir, &mut quarantine, &mut report);
        report.read_seconds = started.elapsed().as_secs_f64();
        if let Err(e) = read {
            report.check("readable", false, e.to_string());
            first_error.get_or_insert(e);
        }
        check_bad_rows(source, &mut report);
        outcome.sources.push(report);
    }
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
    outcome.result = stage(pipeline, &raw_dir, &mut outcome).await;
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
            text(&file.path.display().to_string()),
            Value::Long(line as i64),
            rejection.field.map(Value::Text).unwrap_or(Value::Null),
            Value::Text(raw),
            Value::Text(rejection.reason),
        ])
    }
}

/// Streams every file of a source into its raw tables and the quarantine.
fn read_source(
    source: &Source,
    pipeline: &Pipeline,
    raw_dir: &Path,
    quarantine: &mut Quarantine,
    report: &mut SourceReport,
) -> Result<()> {
    let shaper = Shaper::new(source, pipeline);
    let mut writers = shaper
        .tables()
        .iter()
        .map(|t| {
            let path = raw_dir.join(format!("raw_{}.parquet", t.name));
            TableWriter::create(&path, t.all_columns(), pipeline.batch_rows)
        })
        .collect::<Result<Vec<_>>>()?;
    let fields = source.kind.fields();
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    let required: Vec<bool> = fields.iter().map(|f| f.required).collect();
    for (ordinal, file) in source.files.iter().enumerate() {
        let columns: Vec<Option<String>> = fields
            .iter()
            .map(|f| source.column_for(f.name, file.format).map(str::to_string))
            .collect();
        let projection = Projection {
            fields: &names,
            columns: &columns,
            required: &required,
        };
        let mut on_item = |item: Item| -> Result<()> {
            match item {
                Item::Unreadable {
                    line,
                    raw,
                    field,
                    reason,
                } => {
                    report.note_rejection(file, line, &reason);
                    quarantine.push(source, file, line, Rejection { field, reason }, raw)
                }
                Item::Record { line, values, raw } => {
                    let shaped = convert_record(source, &columns, values, pipeline)
                        .and_then(|typed| shaper.shape(typed));
                    match shaped {
                        Ok((table, mut row)) => {
                            row.push(Value::Int(ordinal as i32));
                            row.push(Value::Long(line as i64));
                            report.rows_valid += 1;
                            writers[table].push(&row)
                        }
                        Err(rejection) => {
                            report.note_rejection(file, line, &rejection.reason);
                            quarantine.push(source, file, line, rejection, raw.render())
                        }
                    }
                }
            }
        };
        let read = read_records(file, &projection, pipeline.batch_rows, &mut on_item)?;
        report.files += 1;
        report.bytes += file.size();
        report.bytes_decoded += read.bytes;
        report.rows_read += read.rows;
        if read.rows == 0 {
            report.empty_files += 1;
        }
    }
    report.rows_quarantined = report.rows_read - report.rows_valid;
    for writer in writers {
        writer.finish()?;
    }
    Ok(())
}

/// Converts the mapped text of one record into typed values, in contract order.
fn convert_record(
    source: &Source,
    columns: &[Option<String>],
    values: &[Option<String>],
    pipeline: &Pipeline,
) -> std::result::Result<Vec<Value>, Rejection> {
    source
        .kind
        .fields()
        .iter()
        .zip(values)
        .zip(columns)
        .map(|((field, raw), column)| {
            convert::convert(field, raw.as_deref(), pipeline.timezone).map_err(|reason| {
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
async fn stage(pipeline: &Pipeline, raw_dir: &Path, outcome: &mut IngestOutcome) -> Result<()> {
    let spill_dir = raw_dir.with_file_name("spill");
    std::fs::create_dir_all(&spill_dir).map_err(|e| Error::io(&spill_dir, e))?;
    let ctx = engine::bounded_session(pipeline.memory_limit, &spill_dir)?;
    for kind in SourceKind::ALL {
        for table in raw_tables(kind) {
            let path = raw_dir.join(format!("raw_{}.parquet", table.name));
            if !path.exists() {
                TableWriter::create(&path, table.all_columns(), 1)?.finish()?;
            }
            ctx.register_parquet(
                format!("raw_{}", table.name),
                path.to_string_lossy().as_ref(),
                Default::default(),
            )
            .await
            .map_err(|e| Error::engine(format!("registering raw_{}", table.name), e))?;
        }
    }
    let vars = [("reporting_currency", pipeline.reporting_currency.as_str())];
    for model in STAGING_MODELS {
        let df = engine::run_model(&ctx, model.name, model.sql, &vars).await?;
        if !model.published {
            ctx.register_table(model.name, df.into_view())
                .map_err(|e| Error::engine(format!("registering {}", model.name), e))?;
            continue;
        }
        let dir = outcome.tables_dir.join(model.name);
        let rows = engine::write_table(df, model.name, &dir, model.partition_by).await?;
        let partition = model.partition_by.map(|c| (c, DataType::Date32));
        engine::register_table(&ctx, model.name, &dir, partition).await?;
        outcome.tables.push((model.name.to_string(), rows));
    }
    for report in &mut outcome.sources {
        account_for(&ctx, report, &outcome.tables).await?;
    }
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

/// Fills loaded, duplicate, orphan and event-time figures of a source, and checks grain and
/// that rows read = loaded + quarantined + duplicates.
async fn account_for(
    ctx: &SessionContext,
    report: &mut SourceReport,
    tables: &[(String, u64)],
) -> Result<()> {
    let kind = report.kind.clone();
    let models = STAGING_MODELS
        .iter()
        .filter(|m| m.kind.map(|k| k.name()) == Some(kind.as_str()) && m.published);
    for model in models {
        let loaded = tables
            .iter()
            .find(|(name, _)| name == model.name)
            .map(|(_, rows)| *rows)
            .unwrap_or(0);
        report.rows_loaded += loaded;
        let key = model.grain.join(", ");
        if let Some(raw) = model.raw {
            report.duplicates += engine::query_count(
                ctx,
                &format!("select count(*) - (select count(*) from (select distinct {key} from {raw})) from {raw}"),
            )
            .await?;
        }
        let repeated = engine::query_count(
            ctx,
            &format!(
                "select count(*) from (select {key} from {} group by {key} having count(*) > 1)",
                model.name
            ),
        )
        .await?;
        report.check(
            &format!("grain_{}", model.name),
            repeated == 0,
            format!(
                "{} is unique on ({key}): {repeated} repeated keys",
                model.name
            ),
        );
        if let Some(account) = model.account_column {
            report.orphans += engine::query_count(
                ctx,
                &format!(
                    "select count(*) from {t} where {account} is null \
                     or {account} not in (select account_id from stg_handoffs)",
                    t = model.name
                ),
            )
            .await?;
        }
        if let Some(column) = model.event_time {
            let micros = engine::query_count(
                ctx,
                &format!(
                    "select coalesce(max(to_unixtime(cast({column} as timestamp)) * 1000000), 0) from {}",
                    model.name
                ),
            )
            .await?;
            if micros > 0 {
                let micros = micros as i64;
                report.max_event_time =
                    Some(report.max_event_time.map_or(micros, |m| m.max(micros)));
            }
        }
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
    Ok(())
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
pub async fn register_staged(ctx: &SessionContext, warehouse: &Path) -> Result<()> {
    for model in STAGING_MODELS.iter().filter(|m| m.published) {
        if !warehouse.join(model.name).exists() {
            continue;
        }
        let partition = model.partition_by.map(|c| (c, DataType::Date32));
        engine::register_table(ctx, model.name, &warehouse.join(model.name), partition).await?;
    }
    Ok(())
}
