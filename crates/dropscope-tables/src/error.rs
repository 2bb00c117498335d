//! The crate's [`Error`]: a table file that cannot be written, or read as an events table.

use std::path::PathBuf;

/// What stops reading or writing a table file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An output could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The output.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Parquet or Arrow IPC could not be read or written.
    #[error("{what} {path}")]
    Columnar {
        /// What was being done: "reading Parquet", "writing Arrow IPC" ...
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: polars::error::PolarsError,
    },
    /// A Parquet or Arrow file does not have the events or sessions columns dropscope writes.
    #[error("{path} is not a dropscope table: {reason}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// What is missing or of the wrong type.
        reason: String,
    },
}

impl Error {
    /// The same error about the file at `path` (readers of bytes name their input by number).
    #[must_use]
    pub fn at(mut self, path: &std::path::Path) -> Error {
        match &mut self {
            Error::Write { path: p, .. }
            | Error::Columnar { path: p, .. }
            | Error::Schema { path: p, .. } => path.clone_into(p),
        }
        self
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
