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
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
