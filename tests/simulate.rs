//! `dropscope simulate` end to end (being written).
