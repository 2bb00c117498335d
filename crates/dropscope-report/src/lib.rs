//! Rendering of dropscope findings as a self-contained HTML page, Markdown and JSON.
//!
//! This crate will own the post-mortem report: data quality, ranked causes, the rebuilt
//! Connected-devices curve, alert replay, incidents and suspects. It takes model types only and
//! never sees a DataFrame, so the same findings render identically in every form.
