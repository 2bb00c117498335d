//! `dropscope incidents`: windows where disconnects jump far above the fleet's baseline, as the
//! report finds them (benign churn such as token renewals is left out of the counts). `--json`
//! prints them in the report's shape (docs/json.md).

use std::fmt::Write as _;

use dropscope_model::findings::Incident;
use dropscope_report::alert::AlertConfig;

use crate::args::IncidentsArgs;
use crate::commands::ingest::load;
use crate::commands::report::analyse;
use crate::{Context, ExitStatus};

pub(crate) fn run(args: &IncidentsArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ingested = load(&args.input, ctx)?;
    // The report's incidents: among the real problems, benign churn left out of the counts.
    let findings = analyse(&ingested, AlertConfig::default(), ctx);
    if args.json {
        crate::print_out(&dropscope_report::render_incidents_json(&findings))?;
    } else {
        crate::print_out(&render(&findings.incidents))?;
    }
    Ok(ExitStatus::Success)
}

/// A table for people: one incident per line, with its top prefixes and codes.
fn render(found: &[Incident]) -> String {
    let Some(first) = found.first() else {
        return "no incidents: no minute had disconnects far above the fleet's baseline\n"
            .to_owned();
    };
    let mut out = format!(
        "{} incident(s); baseline {:.1} disconnecting device(s) per minute, a minute is hot from {}\n",
        found.len(),
        first.baseline,
        first.threshold
    );
    let _ = writeln!(
        out,
        "{:<20}  {:<20}  {:>7}  {:>11}  {:>6}  {:>8}  {:<32}  codes",
        "start", "end", "devices", "disconnects", "failed", "peak/min", "networks (/24)"
    );
    for incident in found {
        let prefixes: Vec<String> = incident
            .networks
            .iter()
            .take(3)
            .map(|p| format!("{} {:.0}%", p.prefix, p.share * 100.0))
            .collect();
        let codes: Vec<String> = incident
            .codes
            .iter()
            .take(4)
            .map(|c| {
                let code = c.code.map_or_else(|| "info".to_owned(), |c| c.to_string());
                format!("{code}x{}", c.count())
            })
            .collect();
        let _ = writeln!(
            out,
            "{:<20}  {:<20}  {:>7}  {:>11}  {:>6}  {:>8}  {:<32}  {}",
            incident.start.to_rfc3339(0),
            incident.end.to_rfc3339(0),
            incident.devices,
            incident.disconnects,
            incident.failed_connects,
            incident.peak_devices,
            prefixes.join(", "),
            codes.join(", ")
        );
    }
    out
}
