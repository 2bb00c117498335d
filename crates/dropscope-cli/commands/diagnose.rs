//! `dropscope diagnose`: the root causes of the disconnects, ranked by impact, with evidence and
//! the documented resolution; benign churn is counted apart.

use std::fmt::Write as _;

use anyhow::Context as _;
use dropscope_engine::classify::{ClassifyConfig, classify};
use dropscope_engine::rank::{RankedCause, Ranking, rank};
use dropscope_engine::sessions;
use dropscope_model::Duration;

use crate::args::DiagnoseArgs;
use crate::commands::ingest::load;
use crate::{Context, ExitStatus};

/// Version of the `--json` output.
const SCHEMA_VERSION: u32 = 1;

pub(crate) fn run(args: &DiagnoseArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ingested = load(&args.input, ctx)?;
    let verdicts = classify(&ingested.events, &ClassifyConfig::default());
    // The sessions tell the offline time of an identity taken over by a second client.
    let table = sessions::build(&ingested.events);
    let ranking = rank(&ingested.events, &verdicts, &table);
    if args.json {
        let mut value = serde_json::to_value(&ranking).context("rendering the ranking")?;
        if let Some(object) = value.as_object_mut() {
            object.insert("schema_version".to_owned(), SCHEMA_VERSION.into());
        }
        crate::print_out(&format!("{value}\n"))?;
    } else {
        crate::print_out(&render(&ranking))?;
    }
    Ok(ExitStatus::Success)
}

fn render(ranking: &Ranking) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} disconnects and failed connects classified", ranking.records);
    section(&mut out, "Problems, by impact", &ranking.problems);
    section(&mut out, "Benign (not alerting)", &ranking.benign);
    let _ = writeln!(
        out,
        "\nbenign churn: {} token renewals with a reconnect within 2 min, on {} devices",
        ranking.churn.disconnects, ranking.churn.devices
    );
    out
}

fn section(out: &mut String, title: &str, causes: &[RankedCause]) {
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
            .median_reconnect_secs
            .map_or("never".to_owned(), |secs| Duration::from_secs_f64(secs).to_string());
        let _ = writeln!(
            out,
            "  {:<3} {:<19} {:>9} {:>7} {:>5.1}% {:>7} {:>12.1} {:>11} {:>5.2}",
            rank + 1,
            cause.cause,
            cause.disconnects,
            cause.failed_connects,
            cause.share * 100.0,
            cause.devices,
            cause.device_hours,
            reconnect,
            cause.confidence
        );
        let _ = writeln!(out, "      evidence:   {}", cause.evidence);
        let _ = writeln!(out, "      resolution: {}", cause.resolution);
    }
}
