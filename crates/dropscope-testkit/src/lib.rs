//! Helpers for dropscope's tests: where the committed test data lives.

use std::path::PathBuf;

/// The repository's `data/` directory.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// A path below `data/`, e.g. `data_path("golden/fixtures/learn-lab-2023.jsonl")`.
pub fn data_path(relative: &str) -> PathBuf {
    data_dir().join(relative)
}
