//! `dropscope incidents`: windows where disconnects jump far above the fleet's baseline, as the
//! report finds them (benign churn such as token renewals is left out of the counts).

use std::fmt::Write as _;

use dropscope_model::findings::Incident;
use dropscope_report::alert::AlertConfig;

use crate::args::IncidentsArgs;
use crate::commands::ingest::load;
use crate::commands::report::analyse;
use crate::{Context, ExitStatus};

/// Version of the `--json` output.
const SCHEMA_VERSION: u32 = 1;

pub(crate) fn run(args: &IncidentsArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ingested = load(&args.input, ctx)?;
    // The report's incidents: among the real problems, benign churn left out of the counts.
    let findings = analyse(&ingested, AlertConfig::default(), ctx);
    let found = &findings.incidents;
    if args.json {
        let list: Vec<serde_json::Value> = found.iter().map(incident_json).collect();
        crate::print_out(&format!(
            "{}\n",
            serde_json::json!({ "schema_version": SCHEMA_VERSION, "incidents": list })
        ))?;
    } else {
        crate::print_out(&render(found))?;
    }
    Ok(ExitStatus::Success)
}

fn incident_json(incident: &Incident) -> serde_json::Value {
    let prefixes: Vec<serde_json::Value> = incident
        .networks
        .iter()
        .map(|p| serde_json::json!({ "prefix": p.prefix, "devices": p.devices, "share": p.share }))
        .collect();
    let codes: Vec<serde_json::Value> = incident
        .codes
        .iter()
        .map(|c| {
            serde_json::json!({
                "code": c.code,
                "disconnects": c.disconnects,
                "failed_connects": c.failed_connects,
            })
        })
        .collect();
    serde_json::json!({
        "start": incident.start.to_string(),
        "end": incident.end.to_string(),
        "devices": incident.devices,
        "disconnects": incident.disconnects,
        "failed_connects": incident.failed_connects,
        "peak_minute": incident.peak_minute.to_string(),
        "peak_devices": incident.peak_devices,
        "baseline": incident.baseline,
        "threshold": incident.threshold,
        "prefixes": prefixes,
        "codes": codes,
    })
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
