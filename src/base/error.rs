//! The exit-code contract, and the one error every layer shares: a local file that could not
//! be read or written.
//!
//! Each layer has its own error enum (`config::Error`, `engine::Error`, `ingest::Error`, …)
//! with the context of its failures and the errors of the layers below it kept as sources;
//! `pipeline::Error` is the crate's. Every one maps onto the exit codes documented in the
//! README (0 ok, 1 data check, 2 usage or config, 3 runtime or I/O, 99 no input). No error
//! prints itself: rendering is the command line's job.

use std::path::PathBuf;

pub type Result<T, E = FileError> = std::result::Result<T, E>;

/// Exit codes are part of the public contract: schedulers branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    DataCheck = 1,
    Usage = 2,
    Runtime = 3,
    NoInput = 99,
}

/// A file (a local path, or an object's URL) that could not be read or written, and what
/// happened to it (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct FileError {
    pub path: PathBuf,
    pub message: String,
}

impl FileError {
    pub fn new(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        FileError {
            path: path.into(),
            message: err.to_string(),
        }
    }
}

/// `Error::io(path, err)` for every layer's error that can hold a [`FileError`].
pub trait FromFile: From<FileError> {
    fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self
    where
        Self: Sized,
    {
        Self::from(FileError::new(path, err))
    }
}

impl<E: From<FileError>> FromFile for E {}
