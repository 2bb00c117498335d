//! Integration tests of the `dropscope` binary: one module per subcommand, plus tidy checks.

mod adversarial;
mod cli;
mod diagnose;
mod incidents;
mod ingest;
mod mmap;
mod report;
mod sessions;
mod simulate;
mod tidy;
mod util;
