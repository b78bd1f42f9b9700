//! Ingest's errors: a source file that cannot be read at all (it names the file and what to
//! do), a source whose path or listing is wrong, and a source over its bad-row limits. A
//! single bad row is no error: it goes to the quarantine.

use crate::base::error::{ExitCode, FileError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    File(#[from] FileError),

    #[error(transparent)]
    Engine(#[from] crate::engine::Error),

    /// A source's `path` that names no readable location (exit code 2).
    #[error("{0}")]
    Source(String),

    /// A source whose quarantined rows exceed both its limits (exit code 1).
    #[error("data check failed: source `{name}`: {detail}")]
    BadRows { name: String, detail: String },
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::File(_) => ExitCode::Runtime,
            Error::Engine(e) => e.exit_code(),
            Error::Source(_) => ExitCode::Usage,
            Error::BadRows { .. } => ExitCode::DataCheck,
        }
    }
}
