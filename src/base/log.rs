//! What the operator is told while a command runs: structured events (JSON lines on stderr
//! with `--log-format json`), warnings, and progress bars on a terminal in text mode. Every
//! layer may tell; only the command line chooses the format. Rendering the error that ends a
//! run is the command line's.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
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

/// Sets the format for the process (first call wins).
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
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
