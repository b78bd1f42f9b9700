//! Publishing's errors: a file or object that could not be moved, written or deleted, an
//! unreadable journal, a warehouse locked by another run (a file error naming the holder),
//! all exit code 3.

use crate::base::error::{ExitCode, FileError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    File(#[from] FileError),

    #[error(transparent)]
    Engine(#[from] crate::engine::Error),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::File(_) => ExitCode::Runtime,
            Error::Engine(e) => e.exit_code(),
        }
    }
}
