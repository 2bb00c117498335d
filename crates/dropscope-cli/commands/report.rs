//! `dropscope report`: not built yet (see the open issues).

use crate::args::ReportArgs;
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &ReportArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope report` is not built yet")
}
