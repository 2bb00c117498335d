//! `dropscope sessions`: rebuilds every device's sessions and writes the sessions table.
//!
//! It keeps its peak memory down in two ways. Once the events are loaded, it hands the reader's
//! freed buffers back to the system (`release_free_memory` in `main.rs`). A Parquet output is
//! written from `dropscope_engine::sessions::stream` a row group at a time, so the sessions
//! table is never held whole; the other formats build the table first.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Context as _;
use dropscope_engine::sessions::{self, SessionSummary, SessionTable};
use dropscope_model::Event;
use dropscope_tables::frame::{SessionsFile, TableFormat};

use crate::args::SessionsArgs;
use crate::commands::ingest::load;
use crate::{Context, ExitStatus, output};

pub(crate) fn run(args: &SessionsArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let format = output::table_form(&args.output, args.format)?;
    output::check_json(&args.output, args.json)?;
    let ingested = load(&args.input, ctx)?;
    // The reading phase's freed memory goes back to the system before the sessions are built.
    crate::release_free_memory();
    let writing = || format!("writing {}", output::name(&args.output));
    let summary = if format == TableFormat::Parquet {
        // Streamed: each batch of devices' sessions becomes a row group as soon as it is built.
        let bar = ctx.progress_bar(ingested.events.len() as u64, "sessions");
        let summary = if args.format.is_none() {
            let file = SessionsFile::create(&args.output).with_context(writing)?;
            stream(&ingested.events, file).with_context(writing)?
        } else {
            let out = output::create(&args.output)?;
            let file = SessionsFile::to_writer(out, &args.output).with_context(writing)?;
            stream(&ingested.events, file).with_context(writing)?
        };
        bar.finish_and_clear();
        summary
    } else {
        let table = rebuild(&ingested.events, ctx);
        if args.format.is_none() {
            dropscope_tables::frame::write_sessions(&args.output, &table.sessions)
                .with_context(writing)?;
        } else {
            let mut out = output::create(&args.output)?;
            dropscope_tables::frame::write_sessions_to(
                &mut out,
                &args.output,
                &table.sessions,
                format,
            )
            .with_context(writing)?;
            out.flush().with_context(writing)?;
        }
        let summary = table.summary.clone();
        std::mem::forget(table);
        summary
    };
    if args.json {
        crate::print_json(summary_json(&summary))?;
    }
    if !ctx.quiet {
        eprint!("{}", human_summary(&summary));
        eprintln!("wrote {} sessions to {}", summary.sessions, output::name(&args.output));
    }
    // The process exits next: freeing millions of strings one by one would only cost time.
    std::mem::forget(ingested);
    Ok(ExitStatus::Success)
}

/// Rebuilds the sessions into `file`, a batch of devices at a time.
fn stream<W: Write + Send>(
    events: &[Event],
    mut file: SessionsFile<W>,
) -> dropscope_tables::Result<SessionSummary> {
    let summary = sessions::stream(events, |batch| file.write(batch))?;
    file.finish()?;
    Ok(summary)
}

/// Rebuilds the sessions on the current pool, with a progress spinner on stderr.
pub(crate) fn rebuild(events: &[Event], ctx: &Context) -> SessionTable {
    let bar = ctx.progress_bar(events.len() as u64, "sessions");
    let table = sessions::build(events);
    bar.finish_and_clear();
    table
}

/// The summary as one JSON object (keys sorted, so the output is stable).
pub(crate) fn summary_json(summary: &SessionSummary) -> serde_json::Value {
    serde_json::json!({
        "events": summary.events,
        "sessions": summary.sessions,
        "devices": summary.devices,
        "open_at_start": summary.open_at_start,
        "open_at_end": summary.open_at_end,
        "failed_connects": summary.failed_connects,
        "trailing_failed_connects": summary.trailing_failed_connects,
        "reordered_events": summary.reordered_events,
        "repairs": {
            "missing_connect": summary.missing_connect,
            "lost_connect": summary.lost_connects,
            "missing_disconnect": summary.missing_disconnect,
            "lost_disconnect": summary.lost_disconnects,
            "overlap": summary.overlaps,
            "merged_end": summary.merged_ends,
            "reordered": summary.reordered_sessions,
            "duplicate_dropped": summary.duplicate_dropped,
            "subject_mismatch": summary.subject_mismatch,
        },
    })
}

/// The summary for people, a few lines on stderr.
pub(crate) fn human_summary(summary: &SessionSummary) -> String {
    let mut out = format!(
        "rebuilt {} session(s) of {} device(s): {} open at the start, {} open at the end, {} failed connect(s)\n",
        summary.sessions,
        summary.devices,
        summary.open_at_start,
        summary.open_at_end,
        summary.failed_connects,
    );
    let repairs = [
        ("missing connect", summary.missing_connect),
        ("of which lost mid-window", summary.lost_connects),
        ("missing disconnect", summary.missing_disconnect),
        ("of which lost mid-window", summary.lost_disconnects),
        ("overlap", summary.overlaps),
        ("merged end (401003+404104)", summary.merged_ends),
        ("reordered", summary.reordered_sessions),
        ("duplicate dropped", summary.duplicate_dropped),
        ("subject mismatch", summary.subject_mismatch),
    ];
    let repairs: Vec<String> =
        repairs.iter().filter(|(_, n)| *n > 0).map(|(name, n)| format!("{name} {n}")).collect();
    if repairs.is_empty() {
        out.push_str("  repairs: none\n");
    } else {
        let _ = writeln!(out, "  repairs: {}", repairs.join(", "));
    }
    out
}
