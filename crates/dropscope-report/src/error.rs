//! The report crate's [`Error`].

/// What the report crate can refuse: only user-given settings, never findings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An alert duration such as `5m`, `90s` or `1h` could not be read.
    #[error("invalid duration `{text}`: expected a number and a unit, e.g. 5m, 90s, 1h")]
    Duration {
        /// The text given.
        text: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
