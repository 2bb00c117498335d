//! `dropscope diagnose`: the root causes of the disconnects, ranked by impact, with evidence and
//! the documented resolution; benign churn is counted apart.

use std::fmt::Write as _;

use anyhow::Context as _;
use dropscope_engine::rank::human_duration;
use dropscope_model::findings::{Findings, RankedCause};
use dropscope_report::alert::AlertConfig;
use serde::Serialize;

use crate::args::DiagnoseArgs;
use crate::commands::ingest::load;
use crate::commands::report::analyse;
use crate::{Context, ExitStatus};

/// Version of the `--json` output.
const SCHEMA_VERSION: u32 = 1;

pub(crate) fn run(args: &DiagnoseArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ingested = load(&args.input, ctx)?;
    // The same findings as the report's, so diagnose and the report cannot disagree.
    let findings = analyse(&ingested, AlertConfig::default(), ctx);
    if args.json {
        let mut value =
            serde_json::to_value(RankingJson::from(&findings)).context("rendering the ranking")?;
        if let Some(object) = value.as_object_mut() {
            object.insert("schema_version".to_owned(), SCHEMA_VERSION.into());
        }
        crate::print_out(&format!("{value}\n"))?;
    } else {
        crate::print_out(&render(&findings))?;
    }
    Ok(ExitStatus::Success)
}

/// The `--json` document: the ranking, problems and benign causes apart.
#[derive(Serialize)]
struct RankingJson<'a> {
    records: u64,
    problems: Vec<CauseJson<'a>>,
    benign: Vec<CauseJson<'a>>,
    churn: ChurnJson,
}

#[derive(Serialize)]
struct CauseJson<'a> {
    cause: &'static str,
    disconnects: u64,
    failed_connects: u64,
    share: f64,
    devices: u64,
    device_hours: f64,
    median_reconnect_secs: Option<f64>,
    confidence: f64,
    evidence: &'a str,
    resolution: &'a str,
}

#[derive(Serialize)]
struct ChurnJson {
    disconnects: u64,
    devices: u64,
}

impl<'a> From<&'a Findings> for RankingJson<'a> {
    fn from(findings: &'a Findings) -> RankingJson<'a> {
        let rows = |benign: bool| -> Vec<CauseJson<'a>> {
            findings
                .causes
                .iter()
                .filter(|c| c.benign == benign)
                .map(|c| CauseJson {
                    cause: c.cause.as_str(),
                    disconnects: c.disconnects,
                    failed_connects: c.failed_connects,
                    share: c.share,
                    devices: c.devices,
                    device_hours: c.device_hours_offline,
                    median_reconnect_secs: c.median_reconnect_delay_ns.map(secs),
                    confidence: c.mean_confidence,
                    evidence: &c.evidence,
                    resolution: &c.resolution,
                })
                .collect()
        };
        RankingJson {
            records: findings.classified_events(),
            problems: rows(false),
            benign: rows(true),
            churn: ChurnJson {
                disconnects: findings.benign.quick_renewals,
                devices: findings.benign.quick_renewal_devices,
            },
        }
    }
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
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
        "  {:<3} {:<19} {:>9} {:>7} {:>6} {:>7} {:>12} {:>10} {:>5}",
        "#", "cause", "disconn.", "failed", "share", "devices", "device-hours", "reconnect", "conf"
    );
    for (rank, cause) in causes.iter().enumerate() {
        let reconnect = cause
            .median_reconnect_delay_ns
            .map_or("never".to_owned(), |ns| human_duration(secs(ns)));
        let _ = writeln!(
            out,
            "  {:<3} {:<19} {:>9} {:>7} {:>5.1}% {:>7} {:>12.1} {:>10} {:>5.2}",
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
