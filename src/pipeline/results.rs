//! The run-results document of every command that writes to the warehouse (dbt's
//! `run_results.json` convention): status, exit code, steps, checks. Published as
//! `_run_results/<run_id>.json`, printed on stdout in json mode, and copied where
//! `--run-results` asks.

use crate::base::error::ExitCode;
use crate::base::log::{LogFormat, event, format, warn};
use crate::config::Pipeline;
use crate::engine::warehouse::Warehouse;
use crate::ingest::SourceReport;
use crate::pipeline::Result;
use crate::publish::runlog::Run;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::OnceLock;

static RESULTS_COPY: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Where to copy every run's results for this process (first call wins).
pub fn copy_results_to(path: Option<PathBuf>) {
    let _ = RESULTS_COPY.set(path);
}

/// One step of a run: a source read, a table written.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub unique_id: String,
    pub status: String,
    pub rows: Option<u64>,
    pub execution_time: f64,
    pub message: Option<String>,
}

impl Step {
    pub fn table(name: &str, rows: u64, seconds: f64) -> Step {
        Step {
            unique_id: format!("table.{name}"),
            status: "success".into(),
            rows: Some(rows),
            execution_time: round(seconds),
            message: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct CheckResult {
    source: String,
    check: String,
    passed: bool,
    detail: String,
}

/// The run-results document.
#[derive(Debug, Clone, Serialize)]
pub struct RunResults {
    metadata: serde_json::Value,
    pub status: String,
    pub exit_code: u8,
    pub error: Option<String>,
    pub as_of: Vec<String>,
    pub skipped_dates: Vec<String>,
    pub elapsed_time: f64,
    pub recovered: Vec<String>,
    pub results: Vec<Step>,
    checks: Vec<CheckResult>,
    #[serde(skip)]
    pub steps: Vec<Step>,
}

impl RunResults {
    pub fn new(
        run: &Run,
        pipeline: &Pipeline,
        warehouse: &Warehouse,
        recovered: Vec<String>,
    ) -> Self {
        RunResults {
            metadata: serde_json::json!({
                "churnlake_version": env!("CARGO_PKG_VERSION"),
                "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "run_id": run.id,
                "command": run.command,
                "pipeline": pipeline.name,
                "pipeline_file": pipeline.file.display().to_string(),
                "warehouse": warehouse.location,
            }),
            status: "running".into(),
            exit_code: 0,
            error: None,
            as_of: Vec::new(),
            skipped_dates: Vec::new(),
            elapsed_time: 0.0,
            recovered,
            results: Vec::new(),
            checks: Vec::new(),
            steps: Vec::new(),
        }
    }

    pub fn finish(&mut self, result: &Result<()>, sources: &[SourceReport], seconds: f64) {
        let (status, code, error) = match result {
            Ok(()) => ("success", ExitCode::Ok, None),
            Err(e) if e.exit_code() == ExitCode::NoInput => {
                ("skipped", ExitCode::NoInput, Some(e.to_string()))
            }
            Err(e) => ("error", e.exit_code(), Some(e.to_string())),
        };
        self.status = status.into();
        self.exit_code = code as u8;
        self.error = error;
        self.elapsed_time = round(seconds);
        self.results = std::mem::take(&mut self.steps);
        self.checks = sources
            .iter()
            .flat_map(|s| {
                s.checks.iter().map(|c| CheckResult {
                    source: s.source.clone(),
                    check: c.name.clone(),
                    passed: c.passed,
                    detail: c.detail.clone(),
                })
            })
            .collect();
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("run results serialize")
    }
}

/// At the end of a run: the run results on stdout in json mode, and a copy where
/// `--run-results` asked.
pub fn finished(results: &RunResults, json: &str) {
    if format() == LogFormat::Json {
        println!("{json}");
    }
    event(
        "run_finished",
        serde_json::json!({"status": results.status, "exit_code": results.exit_code}),
    );
    if let Some(Some(path)) = RESULTS_COPY.get()
        && let Err(e) = std::fs::write(path, json)
    {
        warn(&format!("cannot write {}: {e}", path.display()));
    }
}

fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}
