//! The crate's [`Error`]: IO and configuration failures. A malformed record is not an error but a
//! [`Reject`](crate::Reject).

use std::path::PathBuf;

/// What stops reading or writing as a whole.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input could not be opened or read.
    #[error("cannot read {path}")]
    Read {
        /// The input.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An output could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The output.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A directory could not be walked.
    #[error("cannot list directory {path}")]
    Walk {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Parquet or Arrow IPC could not be read or written.
    #[cfg(feature = "polars")]
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
    /// A labels or predictions CSV is malformed.
    #[error("{path}:{line}: {reason}")]
    Labels {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// The same error about the file at `path` (readers of bytes name their input by number).
    #[must_use]
    pub fn at(mut self, path: &std::path::Path) -> Error {
        match &mut self {
            Error::Read { path: p, .. }
            | Error::Write { path: p, .. }
            | Error::Walk { path: p, .. }
            | Error::Schema { path: p, .. }
            | Error::Labels { path: p, .. } => path.clone_into(p),
            #[cfg(feature = "polars")]
            Error::Columnar { path: p, .. } => path.clone_into(p),
        }
        self
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
