//! `labels.csv` and `predictions.csv`: the ground-truth and prediction files of DESIGN.md.
