//! The run log: one `runs` row per command, one `data_quality` row per source, and the run's
//! quarantined rows, each published as the run's own `run_id=` partition.
//!
//! The log is written for failed runs too, so an operator can see why a run failed.

use super::scratch_dir;
use crate::base::Written;
use crate::base::error::ExitCode;
use crate::base::table_file::{Column, ColumnType, TableWriter, Value};
use crate::engine::warehouse::Warehouse;
use crate::ingest::SourceReport;
use crate::publish::Result;
use chrono::Utc;
use std::path::{Path, PathBuf};

/// The table with one row per run.
pub const RUNS: &str = "runs";
/// The run-log tables, each partitioned by `run_id`.
pub const LOG_TABLES: [&str; 3] = [RUNS, "data_quality", "quarantine"];

/// One run of a churnlake command.
pub struct Run {
    pub id: String,
    pub command: String,
    pub pipeline: String,
    /// The local directory the run computes into (see [`super::scratch_dir`]).
    pub scratch: PathBuf,
    pub as_of: Option<(i32, i32)>,
    started_at: i64,
}

impl Run {
    pub fn start(command: &str, pipeline: &str, warehouse: &Warehouse) -> Run {
        let now = Utc::now();
        let id = format!(
            "{}-{:05}",
            now.format("%Y%m%dT%H%M%S%3fZ"),
            std::process::id() % 100_000
        );
        Run {
            scratch: scratch_dir(warehouse, &id),
            id,
            command: command.to_string(),
            pipeline: pipeline.to_string(),
            as_of: None,
            started_at: now.timestamp_micros(),
        }
    }

    pub fn work_dir(&self) -> PathBuf {
        self.scratch.clone()
    }

    /// Microseconds since the epoch when the run started.
    pub fn started_at(&self) -> i64 {
        self.started_at
    }

    /// Writes the run's `runs` and `data_quality` rows into its scratch directory; returns
    /// them, with its quarantine file, as the run's `run_id=` partitions. `failure` is the
    /// exit code and message of a run that failed.
    pub fn record(
        &self,
        sources: &[SourceReport],
        tables: &[(String, u64)],
        quarantine_file: Option<&Path>,
        failure: Option<(ExitCode, String)>,
    ) -> Result<Written> {
        let mut written = Written::default();
        let dir = self.scratch.join("log");
        let runs_file = dir.join("runs.parquet");
        let mut runs = TableWriter::create(&runs_file, runs_columns(), 16)?;
        let rows_written = serde_json::Value::Object(
            tables
                .iter()
                .map(|(name, rows)| (name.clone(), (*rows).into()))
                .collect(),
        );
        let (status, exit_code, error) = match failure {
            None => ("succeeded", 0, Value::Null),
            Some((code, message)) => ("failed", code as i32, Value::Text(message)),
        };
        runs.push(&[
            text(&self.command),
            text(&self.pipeline),
            self.as_of
                .map(|(from, _)| Value::Date(from))
                .unwrap_or(Value::Null),
            self.as_of
                .map(|(_, to)| Value::Date(to))
                .unwrap_or(Value::Null),
            Value::Timestamp(self.started_at),
            Value::Timestamp(Utc::now().timestamp_micros()),
            text(status),
            Value::Int(exit_code),
            error,
            Value::Text(rows_written.to_string()),
            text(env!("CARGO_PKG_VERSION")),
        ])?;
        runs.finish()?;
        self.add_partition(&mut written, "runs", "log/runs.parquet");

        if !sources.is_empty() {
            let dq_file = dir.join("data_quality.parquet");
            let mut dq = TableWriter::create(&dq_file, data_quality_columns(), 64)?;
            for report in sources {
                dq.push(&data_quality_row(report))?;
            }
            dq.finish()?;
            self.add_partition(&mut written, "data_quality", "log/data_quality.parquet");
        }
        if let Some(file) = quarantine_file.filter(|f| f.exists())
            && let Ok(staged) = file.strip_prefix(&self.scratch)
        {
            self.add_partition(&mut written, "quarantine", &staged.to_string_lossy());
        }
        Ok(written)
    }

    fn add_partition(&self, written: &mut Written, table: &str, staged: &str) {
        let target = format!("{table}/run_id={}/part-0.parquet", self.id);
        written.files.push((staged.to_string(), target));
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn columns(spec: &[(&str, ColumnType)]) -> Vec<Column> {
    spec.iter().map(|(n, t)| Column::new(*n, *t)).collect()
}

fn runs_columns() -> Vec<Column> {
    use ColumnType::*;
    columns(&[
        ("command", Text),
        ("pipeline", Text),
        ("as_of_from", Date),
        ("as_of_to", Date),
        ("started_at", Timestamp),
        ("finished_at", Timestamp),
        ("status", Text),
        ("exit_code", Int),
        ("error", Text),
        ("rows_written", Text),
        ("version", Text),
    ])
}

fn data_quality_columns() -> Vec<Column> {
    use ColumnType::*;
    columns(&[
        ("source", Text),
        ("kind", Text),
        ("files", Long),
        ("files_read", Long),
        ("empty_files", Long),
        ("bytes_read", Long),
        ("bytes_decoded", Long),
        ("read_ms", Long),
        ("rows_read", Long),
        ("rows_loaded", Long),
        ("rows_quarantined", Long),
        ("duplicates", Long),
        ("orphans", Long),
        ("max_event_time", Timestamp),
        ("status", Text),
        ("checks", Text),
    ])
}

fn data_quality_row(report: &SourceReport) -> Vec<Value> {
    let count = |n: u64| Value::Long(n as i64);
    let checks = serde_json::Value::Array(
        report
            .checks
            .iter()
            .map(|c| serde_json::json!({"check": c.name, "passed": c.passed, "detail": c.detail}))
            .collect(),
    );
    vec![
        text(&report.source),
        text(&report.kind),
        count(report.files),
        count(report.files_read),
        count(report.empty_files),
        count(report.bytes),
        count(report.bytes_decoded),
        count((report.read_seconds * 1000.0).round() as u64),
        count(report.rows_read),
        count(report.rows_loaded),
        count(report.rows_quarantined),
        count(report.duplicates),
        count(report.orphans),
        report
            .max_event_time
            .map(Value::Timestamp)
            .unwrap_or(Value::Null),
        text(if report.failed { "failed" } else { "ok" }),
        Value::Text(checks.to_string()),
    ]
}
