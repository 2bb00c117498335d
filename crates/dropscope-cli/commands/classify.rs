//! `dropscope classify`: a cause and a confidence for every disconnect and failed connect,
//! written as predictions.csv (the labels.csv columns plus `confidence`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;

use anyhow::Context as _;
use dropscope_engine::classify::{ClassifyConfig, Verdict, classify_with_occurrences};
use dropscope_engine::partition::Partition;
use dropscope_logs::labels::{LabelRow, write_predictions_indexed};
use dropscope_model::{Cause, Event};

use crate::args::ClassifyArgs;
use crate::commands::ingest::{load, summary_json};
use crate::{Context, ExitStatus, output};

pub(crate) fn run(args: &ClassifyArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    output::check_json(&args.output, args.json)?;
    let ingested = load(&args.input, ctx)?;
    let events = &ingested.events;
    let partition = Partition::of(events);
    let (verdicts, occurrence) =
        classify_with_occurrences(events, &partition, &ClassifyConfig::default());
    drop(partition);
    // The rows are made as they are written: millions of them are never held at once.
    let row = |at: usize| row(events, &occurrence, &verdicts[at]);
    let writing = || format!("writing {}", output::name(&args.output));
    if output::is_stdout(&args.output) {
        let mut out = output::create(&args.output)?;
        write_predictions_indexed(&mut out, &args.output, verdicts.len(), row)
            .with_context(writing)?;
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("creating {}", args.output.display()))?;
        write_predictions_indexed(BufWriter::new(file), &args.output, verdicts.len(), row)
            .with_context(writing)?;
    }
    // Counted by cause in an array, not by a map entry by the cause's name for each of millions
    // of verdicts.
    let mut by_cause = [0_u64; Cause::ALL.len()];
    for verdict in verdicts.iter().filter(|verdict| verdict.index() < events.len()) {
        by_cause[verdict.cause as usize] += 1;
    }
    let classified: u64 = by_cause.iter().sum();
    let counts: BTreeMap<&str, u64> = Cause::ALL
        .into_iter()
        .zip(by_cause)
        .filter(|&(_, n)| n > 0)
        .map(|(cause, n)| (cause.as_str(), n))
        .collect();
    if args.json {
        let summary = serde_json::json!({
            "schema_version": dropscope_report::SCHEMA_VERSION,
            "reading": summary_json(&ingested),
            "classified": classified,
            "causes": counts,
        });
        crate::print_out(&format!("{summary}\n"))?;
    }
    if !ctx.quiet {
        let parts: Vec<String> = counts.iter().map(|(cause, n)| format!("{cause} {n}")).collect();
        eprintln!(
            "classified {} records into {}: {}",
            classified,
            output::name(&args.output),
            parts.join(", ")
        );
    }
    // The process exits next, as `sessions` does: dropping millions of events one by one would
    // only cost time.
    std::mem::forget(ingested);
    Ok(ExitStatus::Success)
}

/// The predictions.csv row of `verdict` (`occurrence`: of every event of `events`,
/// [`dropscope_engine::evaluate::occurrences_in`]).
fn row<'e>(events: &'e [Event], occurrence: &[u32], verdict: &Verdict) -> Option<LabelRow<'e>> {
    let event = events.get(verdict.index())?;
    Some(LabelRow {
        device_id: &event.device_id,
        time: event.time,
        operation: event.operation,
        occurrence: occurrence[verdict.index()],
        cause: verdict.cause,
        confidence: Some(verdict.confidence),
    })
}
