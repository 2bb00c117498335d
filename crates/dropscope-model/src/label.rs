//! [`Label`]: the cause of one disconnect or failed connect, a row of `labels.csv` or
//! `predictions.csv` (docs/DESIGN.md, "Ground truth and evaluation").
//!
//! The simulator's ground truth, the classifier's predictions and someone else's predictions are
//! all lists of labels; the engine scores one list against another, and the log crate reads and
//! writes them. `time` is an instant, so `...05Z`, `...05.0000000Z` and `...05+00:00` are the same
//! label.

use crate::{Cause, Operation, Timestamp};

/// One row of `labels.csv` or `predictions.csv`: the cause of one disconnect or failed connect.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The device identity.
    pub device_id: String,
    /// The record's time, as an instant.
    pub time: Timestamp,
    /// Connect (a failed connect) or disconnect.
    pub operation: Operation,
    /// The 0-based index among the distinct records with the same `(device_id, time, operation)`,
    /// in input order.
    pub occurrence: u32,
    /// The cause.
    pub cause: Cause,
    /// How sure the classifier is, in `[0, 1]`; `None` in ground truth.
    pub confidence: Option<f64>,
}
