//! Integration tests of the `dropscope` binary: one module per subcommand, plus tidy checks.

mod ingest;
mod tidy;
mod util;
