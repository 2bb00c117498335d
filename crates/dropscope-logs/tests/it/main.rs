//! Integration tests of dropscope-logs' readers: golden fixtures, whole-directory ingest,
//! edge cases of inputs, properties over arbitrary bytes, and fuzz regressions.

mod golden;
mod inputs;
mod no_panic;
mod regressions;
