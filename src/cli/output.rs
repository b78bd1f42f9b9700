//! The command line's side of telling the operator: choosing the log format and where run
//! results are copied, and rendering the error that ends a run. Events, warnings and
//! progress bars are `base::log`'s; the run-results document is `pipeline::results`'.

use crate::base::log::{self, LogFormat, format};
use crate::pipeline::Error;
use std::path::PathBuf;

pub use crate::base::log::is_text;

/// Sets the log format for the process and where run results are copied.
pub fn init(format: LogFormat, run_results: Option<PathBuf>) {
    log::init(format);
    crate::pipeline::results::copy_results_to(run_results);
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
