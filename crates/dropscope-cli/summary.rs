//! The `--json` summaries of `report` and `demo`, one object each with a `schema_version`, built
//! from the JSON objects other commands print for the same concepts: the reading accounting of
//! `inspect --json`, the simulation of `simulate --json`, the findings of the JSON report.

use std::path::Path;

use anyhow::Context as _;
use dropscope_logs::Ingested;
use dropscope_model::findings::Findings;
use dropscope_report::Format;
use dropscope_sim::{Scenario, Summary};

use crate::commands::{ingest, simulate};
use crate::output;

/// The name `--format` gives `format`.
fn form_name(format: Format) -> &'static str {
    match format {
        Format::Html => "html",
        Format::Markdown => "md",
        Format::Json => "json",
    }
}

/// `report --json`: what was read, and the report written.
pub(crate) fn report(ingested: &Ingested, path: &Path, format: Format) -> serde_json::Value {
    serde_json::json!({
        "schema_version": dropscope_report::SCHEMA_VERSION,
        "reading": ingest::summary_json(ingested),
        "report": { "path": output::name(path), "format": form_name(format) },
    })
}

/// `demo --json`: what was simulated, the reports written, and the findings as the JSON report
/// holds them.
pub(crate) fn demo(
    scenario: &Scenario,
    seed: u64,
    written: &Summary,
    dir: &Path,
    findings: &Findings,
) -> anyhow::Result<serde_json::Value> {
    let findings: serde_json::Value =
        serde_json::from_str(&dropscope_report::render(Format::Json, findings))
            .context("reading back the JSON report")?;
    let path = |name: &str| dir.join(name).display().to_string();
    Ok(serde_json::json!({
        "schema_version": dropscope_report::SCHEMA_VERSION,
        "simulated": simulate::summary_json(scenario, seed, written, dir, true),
        "reports": {
            "html": path("report.html"),
            "md": path("report.md"),
            "json": path("report.json"),
        },
        "findings": findings,
    }))
}
