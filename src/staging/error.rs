//! Staging's errors: a query or file that failed, and a check of the staged rows that did
//! not hold (a grain, the reconciliation of a source's rows, a missing exchange rate).

use crate::base::error::{ExitCode, FileError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    File(#[from] FileError),

    #[error(transparent)]
    Engine(#[from] crate::engine::Error),

    /// A check of the staged rows failed (exit code 1).
    #[error("data check failed: {0}")]
    Check(String),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::File(_) => ExitCode::Runtime,
            Error::Engine(e) => e.exit_code(),
            Error::Check(_) => ExitCode::DataCheck,
        }
    }
}
