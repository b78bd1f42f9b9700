//! Telling the operator: human text (with progress bars on a terminal) or, with
//! `--log-format json`, one JSON object per line on stderr for log collectors and the run
//! results on stdout; and the run-results document itself (dbt's `run_results.json`
//! convention), published as `_run_results/<run_id>.json` in the warehouse.

use crate::config::Pipeline;
use crate::error::{Error, ExitCode, Result};
use crate::ingest::SourceReport;
use crate::publish::runlog::Run;
use crate::warehouse::Warehouse;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// Sentences for people, progress bars when stderr is a terminal.
    #[default]
    Text,
    /// JSON lines on stderr, the run results on stdout.
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();
static RESULTS_COPY: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Sets the format for the process (first call wins) and where to copy run results.
pub fn init(format: LogFormat, run_results: Option<PathBuf>) {
    let _ = FORMAT.set(format);
    let _ = RESULTS_COPY.set(run_results);
}

pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// Whether human reports go to stdout (text mode).
pub fn is_text() -> bool {
    format() == LogFormat::Text
}

/// A structured event: a JSON line in json mode, nothing in text mode (the commands print
/// their own summaries).
pub fn event(name: &str, fields: serde_json::Value) {
    if format() == LogFormat::Json {
        let mut line = serde_json::json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "level": "info",
            "event": name,
        });
        if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
            line.extend(fields);
        }
        eprintln!("{line}");
    }
}

/// A warning the operator must see.
pub fn warn(message: &str) {
    match format() {
        LogFormat::Text => eprintln!("warning: {message}"),
        LogFormat::Json => eprintln!(
            "{}",
            serde_json::json!({
                "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "level": "warn",
                "event": "warning",
                "message": message,
            })
        ),
    }
}

/// The error that ends a run, as the last line on stderr.
pub fn error(error: &Error) {
    match format() {
        LogFormat::Text => eprintln!("error: {error}"),
        LogFormat::Json => eprintln!(
            "{}",
            serde_json::json!({
                "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "level": "error",
                "event": "run_failed",
                "exit_code": error.exit_code() as u8,
                "message": error.to_string(),
            })
        ),
    }
}

/// A progress bar over `total` items on a terminal in text mode; hidden otherwise.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    if !is_text() || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {wide_msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A spinner for a step without a count, on a terminal in text mode.
pub fn spinner(what: &str) -> ProgressBar {
    if !is_text() || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
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
