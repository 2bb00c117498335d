//! `dropscope incidents`: not built yet (see the open issues).

use crate::args::IncidentsArgs;
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &IncidentsArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope incidents` is not built yet")
}
