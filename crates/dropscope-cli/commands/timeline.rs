//! `dropscope timeline`: not built yet (see the open issues).

use crate::args::TimelineArgs;
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &TimelineArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope timeline` is not built yet")
}
