//! One module per subcommand; each has `run(args, ctx) -> anyhow::Result<ExitStatus>`.

pub(crate) mod classify;
pub(crate) mod curve;
pub(crate) mod demo;
pub(crate) mod diagnose;
pub(crate) mod evaluate;
pub(crate) mod incidents;
pub(crate) mod ingest;
pub(crate) mod report;
pub(crate) mod sessions;
pub(crate) mod simulate;
pub(crate) mod timeline;
