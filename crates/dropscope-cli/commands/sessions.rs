//! `dropscope sessions`: not built yet (see the open issues).

use crate::args::SessionsArgs;
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &SessionsArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope sessions` is not built yet")
}
