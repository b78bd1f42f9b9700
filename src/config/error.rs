//! The pipeline file's errors, both exit code 2: a file that cannot be read, and a file
//! with problems, every one listed with its line.

use crate::base::error::ExitCode;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read pipeline file {}: {source}; pass an existing file with --pipeline", file.display())]
    Unreadable {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The pipeline file is malformed; every problem is listed.
    #[error("{} problem(s) in {}:\n{}", problems.len(), file.display(), render_problems(problems))]
    Problems {
        file: PathBuf,
        problems: Vec<String>,
    },
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }
}

fn render_problems(problems: &[String]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
