//! `dropscope ingest` and `dropscope inspect`, and the input loading every command shares.

use crate::args::{IngestArgs, InspectArgs};
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &IngestArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope ingest` is not built yet")
}

pub(crate) fn run_inspect(_args: &InspectArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope inspect` is not built yet")
}
