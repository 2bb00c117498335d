//! `dropscope curve`: the Connected-devices curve, per minute, as CSV.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Context as _;
use dropscope_engine::curve;

use crate::args::CurveArgs;
use crate::commands::ingest::{load, summary_json};
use crate::commands::sessions::rebuild;
use crate::{Context, ExitStatus, output};

pub(crate) fn run(args: &CurveArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    output::check_json(&args.output, args.json)?;
    let ingested = load(&args.input, ctx)?;
    let table = rebuild(&ingested.events, ctx);
    let points = match table.window {
        Some(window) => curve::connected_devices(&table.sessions, window),
        None => Vec::new(),
    };
    let write = || -> anyhow::Result<()> {
        let mut out: Box<dyn Write> = if output::is_stdout(&args.output) {
            output::create(&args.output)?
        } else {
            Box::new(BufWriter::new(File::create(&args.output)?))
        };
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
    write().with_context(|| format!("writing {}", output::name(&args.output)))?;
    let peak = points.iter().map(|p| p.max).max().unwrap_or(0);
    let low = points.iter().map(|p| p.min).min().unwrap_or(0);
    if args.json {
        let summary = serde_json::json!({
            "schema_version": dropscope_report::SCHEMA_VERSION,
            "reading": summary_json(&ingested),
            "minutes": points.len(),
            "connected_min": low,
            "connected_max": peak,
        });
        crate::print_out(&format!("{summary}\n"))?;
    }
    if !ctx.quiet {
        eprintln!(
            "wrote {} minute(s) to {}: connected devices between {low} and {peak}",
            points.len(),
            output::name(&args.output)
        );
    }
    Ok(ExitStatus::Success)
}
