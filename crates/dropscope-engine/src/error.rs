//! The engine's [`Error`].

/// What stops the engine as a whole. Odd records are repaired and counted, never errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The worker pool could not be built.
    #[error("cannot start the worker threads")]
    ThreadPool {
        /// Why.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// Bytes given as fleet statistics ([`crate::classify::fleet`]) are not their binary form.
    #[error("cannot read fleet statistics: {reason}")]
    FleetBytes {
        /// What is wrong with them.
        reason: &'static str,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
