//! The crate-wide error type and the exit-code contract.
//!
//! Every layer reports failures through [`Error`], whose variants map one-to-one onto the exit
//! codes documented in the README (0 ok, 1 data check, 2 usage or config, 3 runtime or I/O,
//! 99 no input). This module must not print anything: rendering is `main`'s job.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Exit codes are part of the public contract: schedulers branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    DataCheck = 1,
    Usage = 2,
    Runtime = 3,
    NoInput = 99,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline file is malformed; every problem is listed.
    #[error("{} problem(s) in {}:\n{}", problems.len(), file.display(), render_problems(problems))]
    Config {
        file: PathBuf,
        problems: Vec<String>,
    },

    /// The command line or its combination with the pipeline is wrong.
    #[error("{0}")]
    Usage(String),

    /// A data check failed: bad-row limits, grain or identity checks.
    #[error("data check failed: {0}")]
    DataCheck(String),

    /// A file could not be read or written.
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },

    /// A query or engine failure; `context` says which step.
    #[error("{context}: {source}")]
    Engine {
        context: String,
        #[source]
        source: datafusion::error::DataFusionError,
    },

    /// Nothing to process for the requested date.
    #[error("no input: {0}")]
    NoInput(String),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config { .. } | Error::Usage(_) => ExitCode::Usage,
            Error::DataCheck(_) => ExitCode::DataCheck,
            Error::Io { .. } | Error::Engine { .. } => ExitCode::Runtime,
            Error::NoInput(_) => ExitCode::NoInput,
        }
    }

    pub fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Error::Io {
            path: path.into(),
            message: err.to_string(),
        }
    }

    pub fn engine(context: impl Into<String>, source: datafusion::error::DataFusionError) -> Self {
        Error::Engine {
            context: context.into(),
            source,
        }
    }
}

fn render_problems(problems: &[String]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Attach a step name to DataFusion results.
pub trait EngineContext<T> {
    fn context(self, step: impl Into<String>) -> Result<T>;
}

impl<T> EngineContext<T> for std::result::Result<T, datafusion::error::DataFusionError> {
    fn context(self, step: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::engine(step, e))
    }
}

impl<T> EngineContext<T> for std::result::Result<T, datafusion::arrow::error::ArrowError> {
    fn context(self, step: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::engine(step, e.into()))
    }
}
