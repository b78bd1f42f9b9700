//! The marts' errors: a query or file that failed, a check of the output that did not hold
//! (a grain, the retention equation), a pipeline without a health model, and an internal
//! inconsistency — a bug in churnlake, never reported as a usage error.

use crate::base::error::{ExitCode, FileError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    File(#[from] FileError),

    #[error(transparent)]
    Engine(#[from] crate::engine::Error),

    #[error(transparent)]
    Staging(#[from] crate::staging::Error),

    /// A check of the marts' rows failed (exit code 1).
    #[error("data check failed: {0}")]
    Check(String),

    /// The pipeline file lacks what the marts need (exit code 2).
    #[error("{0}")]
    Model(String),

    /// Something churnlake itself got wrong (exit code 3).
    #[error("internal error (a bug in churnlake; please report it): {0}")]
    Internal(String),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::File(_) | Error::Internal(_) => ExitCode::Runtime,
            Error::Engine(e) => e.exit_code(),
            Error::Staging(e) => e.exit_code(),
            Error::Check(_) => ExitCode::DataCheck,
            Error::Model(_) => ExitCode::Usage,
        }
    }
}
