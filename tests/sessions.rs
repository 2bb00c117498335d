//! `dropscope sessions` end to end (being written).
