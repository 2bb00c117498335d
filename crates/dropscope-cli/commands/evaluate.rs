//! `dropscope evaluate`: not built yet (see the open issues).

use crate::args::EvaluateArgs;
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &EvaluateArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope evaluate` is not built yet")
}
