//! `dropscope curve`: the Connected-devices curve, per minute, as CSV.

use std::fs::File;
use std::io::{BufWriter, Write as _};

use anyhow::Context as _;
use dropscope_engine::curve;

use crate::args::CurveArgs;
use crate::commands::ingest::load;
use crate::commands::sessions::rebuild;
use crate::{Context, ExitStatus};

pub(crate) fn run(args: &CurveArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ingested = load(&args.input, ctx)?;
    let table = rebuild(&ingested.events, ctx);
    let points = match table.window {
        Some(window) => curve::connected_devices(&table.sessions, window),
        None => Vec::new(),
    };
    let write = || -> anyhow::Result<()> {
        let mut out = BufWriter::new(File::create(&args.output)?);
        writeln!(out, "minute,min,avg,max")?;
        for point in &points {
            writeln!(
                out,
                "{},{},{:.3},{}",
                point.minute.to_rfc3339(0),
                point.min,
                point.avg,
                point.max
            )?;
        }
        out.flush()?;
        Ok(())
    };
    write().with_context(|| format!("writing {}", args.output.display()))?;
    if !ctx.quiet {
        let peak = points.iter().map(|p| p.max).max().unwrap_or(0);
        let low = points.iter().map(|p| p.min).min().unwrap_or(0);
        eprintln!(
            "wrote {} minute(s) to {}: connected devices between {low} and {peak}",
            points.len(),
            args.output.display()
        );
    }
    Ok(ExitStatus::Success)
}
