//! `dropscope report`: the post-mortem report (HTML, Markdown or JSON, by the output's extension),
//! and [`analyse`], the findings every command that shows causes or incidents shares.

use std::path::Path;

use anyhow::Context as _;
use dropscope_engine::{AnalyseConfig, Step};
use dropscope_logs::Ingested;
use dropscope_model::findings::{DataQuality, Findings, RejectExample};
use dropscope_report::Format;
use dropscope_report::alert::{AlertConfig, parse_duration, replay};

use crate::args::ReportArgs;
use crate::commands::ingest::{load, source_name};
use crate::{Context, ExitStatus};

/// Rejected records shown as examples in the report.
const REJECT_EXAMPLES: usize = 5;

pub(crate) fn run(args: &ReportArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    // Check the flags before the (long) read, so a typo fails at once.
    let format = crate::output::report_form(&args.output, args.format)?;
    crate::output::check_json(&args.output, args.json)?;
    let alert = alert_config(args)?;
    let ingested = load(&args.input, ctx)?;
    let findings = analyse(&ingested, alert, ctx);
    write_report(&args.output, format, &findings)?;
    if args.json {
        let summary = crate::summary::report(&ingested, &args.output, format);
        crate::print_out(&format!("{summary}\n"))?;
    }
    if !ctx.quiet {
        eprintln!("wrote {}", crate::output::name(&args.output));
    }
    // The process exits next, as `sessions` does: dropping millions of events one by one would
    // only cost time.
    std::mem::forget(ingested);
    Ok(ExitStatus::Success)
}

/// The alert rule of `--alert-below` and `--alert-for`.
fn alert_config(args: &ReportArgs) -> anyhow::Result<AlertConfig> {
    let for_ns = match args.alert_for.as_deref() {
        Some(text) => Some(parse_duration(text).context("reading --alert-for")?),
        None => None,
    };
    Ok(AlertConfig { below: args.alert_below, for_ns })
}

/// Renders `findings` in `format` and writes them to `path`.
pub(crate) fn write_report(path: &Path, format: Format, findings: &Findings) -> anyhow::Result<()> {
    crate::output::write_text(path, &dropscope_report::render(format, findings))
}

/// The findings of the loaded events ([`dropscope_engine::analyse`], with a progress bar by
/// step), with the alert replayed: what `report`, `demo`, `diagnose` and `incidents` show.
pub(crate) fn analyse(ingested: &Ingested, alert: AlertConfig, ctx: &Context) -> Findings {
    let bar = ctx.progress_bar(Step::ALL.len() as u64, Step::ALL[0].label());
    let quality = quality(ingested);
    let mut findings = dropscope_engine::analyse_observed(
        &ingested.events,
        &quality,
        &AnalyseConfig::default(),
        &mut |step| {
            bar.set_position(step.index() as u64);
            bar.set_message(step.label());
        },
    );
    findings.alert = replay(&findings.curve, &findings.incidents, alert);
    bar.finish_and_clear();
    findings
}

/// What the reader counted, as the report shows it.
fn quality(ingested: &Ingested) -> DataQuality {
    let stats = &ingested.stats;
    let mut quality = DataQuality {
        files: stats.files as u64,
        records_read: stats.records_read,
        parsed: stats.parsed,
        duplicates: stats.duplicates,
        ..DataQuality::default()
    };
    for (reason, n) in &stats.reject_reasons {
        *quality.rejected.entry(reason.as_str().to_owned()).or_default() += n;
    }
    let mut rejects: Vec<_> = ingested.rejects.iter().collect();
    rejects.sort_by_key(|reject| (reject.source, reject.line));
    quality.reject_examples = rejects
        .into_iter()
        .take(REJECT_EXAMPLES)
        .map(|reject| RejectExample {
            file: source_name(ingested, reject.source),
            line: reject.line,
            reason: reject.reason.as_str().to_owned(),
        })
        .collect();
    quality
}
