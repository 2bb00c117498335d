//! Scoring a classifier against ground-truth labels: accuracy, macro-F1, per-class figures, confusion.
