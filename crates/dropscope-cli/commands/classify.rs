//! `dropscope classify`: a cause and a confidence for every disconnect and failed connect,
//! written as predictions.csv (the labels.csv columns plus `confidence`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};

use anyhow::Context as _;
use dropscope_engine::classify::{ClassifyConfig, Verdict, classify};
use dropscope_engine::evaluate::occurrences;
use dropscope_logs::labels::write_predictions;
use dropscope_model::{Event, Label};

use crate::args::ClassifyArgs;
use crate::commands::ingest::{load, summary_json};
use crate::{Context, ExitStatus, output};

pub(crate) fn run(args: &ClassifyArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    output::check_json(&args.output, args.json)?;
    let ingested = load(&args.input, ctx)?;
    let verdicts = classify(&ingested.events, &ClassifyConfig::default());
    let labels = predictions(&ingested.events, &verdicts);
    let writing = || format!("writing {}", output::name(&args.output));
    if output::is_stdout(&args.output) {
        let mut out = output::create(&args.output)?;
        write_predictions(&mut out, &args.output, &labels).with_context(writing)?;
        out.flush().with_context(writing)?;
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("creating {}", args.output.display()))?;
        write_predictions(BufWriter::new(file), &args.output, &labels).with_context(writing)?;
    }
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for label in &labels {
        *counts.entry(label.cause.as_str()).or_default() += 1;
    }
    if args.json {
        let summary = serde_json::json!({
            "schema_version": dropscope_report::SCHEMA_VERSION,
            "reading": summary_json(&ingested),
            "classified": labels.len(),
            "causes": counts,
        });
        crate::print_out(&format!("{summary}\n"))?;
    }
    if !ctx.quiet {
        let parts: Vec<String> = counts.iter().map(|(cause, n)| format!("{cause} {n}")).collect();
        eprintln!(
            "classified {} records into {}: {}",
            labels.len(),
            output::name(&args.output),
            parts.join(", ")
        );
    }
    Ok(ExitStatus::Success)
}

/// The predictions.csv rows of `verdicts`, in input order.
pub(crate) fn predictions(events: &[Event], verdicts: &[Verdict]) -> Vec<Label> {
    let occurrence = occurrences(events);
    verdicts
        .iter()
        .filter_map(|verdict| {
            let event = events.get(verdict.event)?;
            Some(Label {
                device_id: event.device_id.to_string(),
                time: event.time,
                operation: event.operation,
                occurrence: occurrence[verdict.event],
                cause: verdict.cause,
                confidence: Some(verdict.confidence),
            })
        })
        .collect()
}
