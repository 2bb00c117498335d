//! `dropscope diagnose` end to end (being written).
