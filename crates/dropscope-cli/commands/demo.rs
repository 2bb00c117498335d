//! `dropscope demo`: not built yet (see the open issues).

use crate::args::DemoArgs;
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &DemoArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope demo` is not built yet")
}
