//! `dropscope diagnose`: not built yet (see the open issues).

use crate::args::DiagnoseArgs;
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &DiagnoseArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope diagnose` is not built yet")
}
