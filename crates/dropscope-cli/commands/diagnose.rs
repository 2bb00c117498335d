//! `dropscope diagnose`: the root causes of the disconnects, ranked by impact, with evidence and
//! the documented resolution; benign churn is counted apart. `--json` prints the report's
//! causes and benign churn in the report's shape (docs/json.md).

use std::fmt::Write as _;

use dropscope_model::Duration;
use dropscope_model::findings::{Findings, RankedCause};
use dropscope_report::alert::AlertConfig;

use crate::args::DiagnoseArgs;
use crate::commands::ingest::load;
use crate::commands::report::analyse;
use crate::{Context, ExitStatus};

pub(crate) fn run(args: &DiagnoseArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ingested = load(&args.input, ctx)?;
    // The same findings as the report's, so diagnose and the report cannot disagree.
    let findings = analyse(&ingested, AlertConfig::default(), ctx);
    if args.json {
        crate::print_out(&dropscope_report::render_causes_json(&findings))?;
    } else {
        crate::print_out(&render(&findings))?;
    }
    Ok(ExitStatus::Success)
}

fn render(findings: &Findings) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} disconnects and failed connects classified",
        findings.classified_events()
    );
    let problems: Vec<&RankedCause> = findings.causes.iter().filter(|c| !c.benign).collect();
    let benign: Vec<&RankedCause> = findings.causes.iter().filter(|c| c.benign).collect();
    section(&mut out, "Problems, by impact", &problems);
    section(&mut out, "Benign (not alerting)", &benign);
    let _ = writeln!(
        out,
        "\nbenign churn: {} token renewals with a reconnect within 2 min, on {} devices",
        findings.benign.quick_renewals, findings.benign.quick_renewal_devices
    );
    out
}

fn section(out: &mut String, title: &str, causes: &[&RankedCause]) {
    let _ = writeln!(out, "\n{title}");
    if causes.is_empty() {
        let _ = writeln!(out, "  none");
        return;
    }
    let _ = writeln!(
        out,
        "  {:<3} {:<19} {:>9} {:>7} {:>6} {:>7} {:>12} {:>11} {:>5}",
        "#", "cause", "disconn.", "failed", "share", "devices", "device-hours", "reconnect", "conf"
    );
    for (rank, cause) in causes.iter().enumerate() {
        let reconnect = cause
            .median_reconnect_delay_ns
            .map_or("never".to_owned(), |ns| Duration(ns).to_string());
        let _ = writeln!(
            out,
            "  {:<3} {:<19} {:>9} {:>7} {:>5.1}% {:>7} {:>12.1} {:>11} {:>5.2}",
            rank + 1,
            cause.cause.as_str(),
            cause.disconnects,
            cause.failed_connects,
            cause.share * 100.0,
            cause.devices,
            cause.device_hours_offline,
            reconnect,
            cause.mean_confidence
        );
        let _ = writeln!(out, "      evidence:   {}", cause.evidence);
        let _ = writeln!(out, "      resolution: {}", cause.resolution);
    }
}
