//! `dropscope classify`: not built yet (see the open issues).

use crate::args::ClassifyArgs;
use crate::{Context, ExitStatus};

pub(crate) fn run(_args: &ClassifyArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`dropscope classify` is not built yet")
}
