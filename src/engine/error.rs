//! The engine's errors: a query that failed (with the step it belonged to and DataFusion's
//! error kept), a file or object that could not be read or written, and a warehouse location
//! that names no store churnlake can open.

use crate::base::error::{ExitCode, FileError};
use datafusion::error::DataFusionError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query or plan failed; `context` says which step.
    #[error("{context}: {source}")]
    Query {
        context: String,
        #[source]
        source: DataFusionError,
    },

    #[error(transparent)]
    File(#[from] FileError),

    /// A warehouse or store location that is not usable as given (exit code 2).
    #[error("{0}")]
    Location(String),

    /// A Delta table that could not be read or committed.
    #[error("{0}")]
    Delta(String),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Query { .. } | Error::File(_) | Error::Delta(_) => ExitCode::Runtime,
            Error::Location(_) => ExitCode::Usage,
        }
    }

    pub fn query(context: impl Into<String>, source: DataFusionError) -> Self {
        Error::Query {
            context: context.into(),
            source,
        }
    }
}

/// Attaches a step name to DataFusion and Arrow results.
pub trait EngineContext<T> {
    fn context(self, step: impl Into<String>) -> Result<T>;
}

impl<T> EngineContext<T> for std::result::Result<T, DataFusionError> {
    fn context(self, step: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::query(step, e))
    }
}

impl<T> EngineContext<T> for std::result::Result<T, datafusion::arrow::error::ArrowError> {
    fn context(self, step: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::query(step, e.into()))
    }
}
