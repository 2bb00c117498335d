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
    /// A Parquet or Arrow IPC input could not be read as an events table.
    #[cfg(feature = "tables")]
    #[error(transparent)]
    Table(#[from] dropscope_tables::Error),
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
    pub fn at(self, path: &std::path::Path) -> Error {
        match self {
            Error::Read { source, .. } => Error::Read { path: path.to_owned(), source },
            Error::Write { source, .. } => Error::Write { path: path.to_owned(), source },
            Error::Walk { source, .. } => Error::Walk { path: path.to_owned(), source },
            Error::Labels { line, reason, .. } => {
                Error::Labels { path: path.to_owned(), line, reason }
            }
            #[cfg(feature = "tables")]
            Error::Table(table) => Error::Table(table.at(path)),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
