//! `dropscope curve`: not built yet (see the open issues).

use crate::args::CurveArgs;
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &CurveArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope curve` is not built yet")
}
