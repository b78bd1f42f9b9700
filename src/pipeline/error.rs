//! The crate's error: any layer's, kept as it was raised, plus the pipeline's own — a
//! command that cannot run as asked (exit code 2) and a date without input (exit code 99).
//! Its exit code is the contract schedulers branch on.

use crate::base::error::{ExitCode, FileError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::Error),

    #[error(transparent)]
    File(#[from] FileError),

    #[error(transparent)]
    Engine(#[from] crate::engine::Error),

    #[error(transparent)]
    Ingest(#[from] crate::ingest::Error),

    #[error(transparent)]
    Staging(#[from] crate::staging::Error),

    #[error(transparent)]
    Marts(#[from] crate::marts::Error),

    #[error(transparent)]
    Publish(#[from] crate::publish::Error),

    /// The command cannot run as asked (exit code 2).
    #[error("{0}")]
    Usage(String),

    /// Nothing to build for the dates asked (exit code 99).
    #[error("no input: {0}")]
    NoInput(String),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(e) => e.exit_code(),
            Error::File(_) => ExitCode::Runtime,
            Error::Engine(e) => e.exit_code(),
            Error::Ingest(e) => e.exit_code(),
            Error::Staging(e) => e.exit_code(),
            Error::Marts(e) => e.exit_code(),
            Error::Publish(e) => e.exit_code(),
            Error::Usage(_) => ExitCode::Usage,
            Error::NoInput(_) => ExitCode::NoInput,
        }
    }
}
