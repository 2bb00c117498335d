//! `dropscope simulate`: not built yet (see the open issues).

use crate::args::SimulateArgs;
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &SimulateArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope simulate` is not built yet")
}
