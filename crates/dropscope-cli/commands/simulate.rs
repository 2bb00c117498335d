//! `dropscope simulate`: generates a scenario's logs in an export form, and its ground truth.

use std::path::Path;

use anyhow::Context as _;
use dropscope_logs::Form;
use dropscope_logs::write::WriteOptions;
use dropscope_model::findings::thousands;
use dropscope_sim::{OutputConfig, Scenario, SimOptions, Summary};

use crate::args::{SimFormat, SimulateArgs};
use crate::{Context, ExitStatus};

pub(crate) fn run(args: &SimulateArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let mut scenario = Scenario::load(&args.scenario)
        .with_context(|| format!("loading scenario {}", args.scenario))?;
    if let Some(devices) = args.devices {
        scenario.resize_fleet(devices);
    }
    if let Some(hours) = args.hours {
        scenario.window.hours = hours;
    }
    let seed = args.seed.unwrap_or(scenario.seed);
    let options = SimOptions { seed, frac_digits: if args.fractional { 7 } else { 0 } };
    let form = form(args.format);
    if args.gzip && !form.is_text() {
        anyhow::bail!(
            "--gzip applies to the text forms only\nhint: Parquet, Arrow and Avro files are compressed inside; drop --gzip"
        );
    }
    let config =
        OutputConfig { form, gzip: args.gzip, truth: args.truth, write: WriteOptions::default() };

    let bar = ctx.progress_bar(0, "simulating");
    bar.tick();
    let sim = dropscope_sim::simulate(&scenario, &options)
        .with_context(|| format!("simulating scenario {}", scenario.name))?;
    bar.set_message("writing");
    let summary = sim
        .write(&config, &args.output, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .with_context(|| format!("writing to {}", args.output.display()))?;
    bar.finish_and_clear();

    if args.json {
        let value = summary_json(&scenario, seed, &summary, &args.output, args.truth);
        crate::print_out(&format!("{value}\n"))?;
    }
    if !ctx.quiet {
        let truth = if args.truth {
            format!(
                "; truth: {} labels, {} sessions",
                thousands(summary.labels),
                thousands(summary.sessions)
            )
        } else {
            String::new()
        };
        eprintln!(
            "simulated {} ({} devices, {} h, seed {seed}): {} records, {} written in {} files under {} (dropped {}, duplicated {}, late {}, malformed {}){truth}",
            scenario.name,
            thousands(u64::from(scenario.fleet.devices)),
            scenario.window.hours,
            thousands(summary.records),
            thousands(summary.written),
            summary.files,
            args.output.join("logs").display(),
            thousands(summary.dropped),
            thousands(summary.duplicated),
            thousands(summary.late),
            thousands(summary.malformed),
        );
    }
    Ok(ExitStatus::Success)
}

/// The export form `--format` names (clap's value names stay in args.rs).
fn form(format: SimFormat) -> Form {
    match format {
        SimFormat::Jsonl => Form::JsonLines,
        SimFormat::Envelope => Form::RecordsEnvelope,
        SimFormat::Pretty => Form::PrettyConcatenated,
        SimFormat::Csv => Form::LogAnalyticsCsv,
        SimFormat::LaJson => Form::LogAnalyticsJson,
        SimFormat::Eventgrid => Form::EventGrid,
        SimFormat::Cloudevents => Form::CloudEvents,
        SimFormat::RoutedJson => Form::RoutedJson,
        SimFormat::Avro => Form::Avro,
        SimFormat::Parquet => Form::Parquet,
        SimFormat::Arrow => Form::ArrowIpc,
    }
}

/// What was simulated and written under `dir`, as one JSON object (keys sorted, so the output is
/// stable): the figures of the summary on stderr.
pub(crate) fn summary_json(
    scenario: &Scenario,
    seed: u64,
    summary: &Summary,
    dir: &Path,
    truth: bool,
) -> serde_json::Value {
    serde_json::json!({
        "schema_version": dropscope_report::SCHEMA_VERSION,
        "scenario": scenario.name,
        "devices": scenario.fleet.devices,
        "hours": scenario.window.hours,
        "seed": seed,
        "records": summary.records,
        "written": summary.written,
        "files": summary.files,
        "logs": dir.join("logs").display().to_string(),
        "export_faults": {
            "dropped": summary.dropped,
            "duplicated": summary.duplicated,
            "late": summary.late,
            "malformed": summary.malformed,
        },
        "truth": truth.then(|| serde_json::json!({
            "dir": dir.join("truth").display().to_string(),
            "labels": summary.labels,
            "sessions": summary.sessions,
        })),
    })
}
