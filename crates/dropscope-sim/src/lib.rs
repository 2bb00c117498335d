//! The disconnect-storm simulator: (seed, scenario) -> connection logs plus ground truth.
//!
//! This crate will own fleet generation, per-SDK keep-alive, token and retry behaviour, timed
//! incidents and export faults; it writes through dropscope-formats so that the reader reads
//! exactly what the simulator writes.
