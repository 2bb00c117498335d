//! `dropscope demo`: the one-command tour. Simulates the mixed-day scenario, writes its logs and
//! ground truth, reads the logs back through the real reader, analyses them, writes the report in
//! every form and prints the ranked causes.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use dropscope_logs::Form;
use dropscope_logs::write::WriteOptions;
use dropscope_model::findings::{Findings, MINUTE_NS, thousands};
use dropscope_report::Format;
use dropscope_report::alert::AlertConfig;
use dropscope_sim::{OutputConfig, Scenario, SimOptions};

use crate::args::{DemoArgs, InputArgs};
use crate::commands::ingest::load;
use crate::commands::report::{analyse, write_report};
use crate::{Context, ExitStatus};

/// The scenario the demo runs: every cause of the taxonomy on one day.
const SCENARIO: &str = "mixed-day";

/// Marks a directory the demo wrote, so a later run may replace its logs and nothing else.
const MARKER: &str = ".dropscope-demo";

pub(crate) fn run(args: &DemoArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let dir = &args.output;
    prepare(dir)?;
    let scenario = Scenario::named(SCENARIO)
        .with_context(|| format!("the built-in scenario {SCENARIO} does not load"))?;
    let options = SimOptions { seed: args.seed, frac_digits: 7 };

    let bar = ctx.progress_bar(0, "simulating");
    bar.tick();
    let sim = dropscope_sim::simulate(&scenario, &options)
        .with_context(|| format!("simulating scenario {}", scenario.name))?;
    bar.set_message("writing");
    let config = OutputConfig {
        form: Form::JsonLines,
        gzip: false,
        truth: true,
        write: WriteOptions::default(),
    };
    let written = sim
        .write(&config, dir, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .with_context(|| format!("writing to {}", dir.display()))?;
    bar.finish_and_clear();
    if !ctx.quiet {
        eprintln!(
            "simulated {} ({} devices, {} h, seed {}): {} records in {} files under {}, truth under {}",
            scenario.name,
            thousands(u64::from(scenario.fleet.devices)),
            scenario.window.hours,
            args.seed,
            thousands(written.records),
            written.files,
            dir.join("logs").display(),
            dir.join("truth").display(),
        );
    }

    // Read the logs back as a user's export: the demo goes through the real reader.
    let input = InputArgs { inputs: vec![dir.join("logs")], rejects: None, strict: false };
    let ingested = load(&input, ctx)?;
    let findings = analyse(&ingested, AlertConfig::default(), ctx);
    for (name, format) in [
        ("report.html", Format::Html),
        ("report.md", Format::Markdown),
        ("report.json", Format::Json),
    ] {
        write_report(&dir.join(name), format, &findings)?;
    }

    if args.json {
        let value = crate::summary::demo(&scenario, args.seed, &written, dir, &findings)?;
        crate::print_out(&format!("{value}\n"))?;
        return Ok(ExitStatus::Success);
    }
    crate::print_out(&format!(
        "{}\nreports: {} (also report.md, report.json); ground truth: {}\nopen {}\n",
        summary(&findings),
        dir.join("report.html").display(),
        dir.join("truth").display(),
        dir.join("report.html").display()
    ))?;
    Ok(ExitStatus::Success)
}

/// Creates `dir`, or clears the logs and truth of an earlier demo in it. Refuses to touch a
/// directory with `logs/` or `truth/` that the demo did not write.
fn prepare(dir: &Path) -> anyhow::Result<()> {
    let marker = dir.join(MARKER);
    let ours = marker.is_file();
    for sub in ["logs", "truth"] {
        let path = dir.join(sub);
        if !path.exists() {
            continue;
        }
        if !ours {
            anyhow::bail!(
                "{} exists and was not written by `dropscope demo`\nhint: pass another directory with --output",
                path.display()
            );
        }
        std::fs::remove_dir_all(&path).with_context(|| format!("clearing {}", path.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        &marker,
        "written by `dropscope demo`; its logs/ and truth/ are replaced on the next run\n",
    )
    .with_context(|| format!("writing {}", marker.display()))
}

/// The ranked causes as a compact table, with the benign churn and the alert replay.
fn summary(findings: &Findings) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} devices, {} sessions, {} disconnects, {} failed connects\n",
        findings.title,
        thousands(findings.devices),
        thousands(findings.sessions),
        thousands(findings.disconnects),
        thousands(findings.failed_connects)
    );
    let _ = writeln!(
        out,
        "  {:<3} {:<19} {:>8} {:>8} {:>13} {:>6} {:>5}",
        "#", "cause", "events", "devices", "device-hours", "share", "conf"
    );
    for (rank, cause) in findings.causes.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:<3} {:<19} {:>8} {:>8} {:>13.1} {:>5.1}% {:>5.2}{}",
            rank + 1,
            cause.cause.as_str(),
            thousands(cause.events()),
            thousands(cause.devices),
            cause.device_hours_offline,
            cause.share * 100.0,
            cause.mean_confidence,
            if cause.benign { "  benign" } else { "" }
        );
    }
    let benign = &findings.benign;
    let _ = writeln!(
        out,
        "\nbenign churn, not alerting: {} events on {} devices, {:.1} device-hours",
        thousands(benign.events),
        thousands(benign.devices),
        benign.device_hours_offline
    );
    let alert = &findings.alert;
    let _ = writeln!(
        out,
        "alert \"connected devices below {} for {} min\": {} firing(s), {} of them benign; {} incident(s)",
        thousands(alert.threshold),
        alert.for_ns / MINUTE_NS,
        alert.firings.len(),
        alert.benign_firings(),
        findings.incidents.len()
    );
    out
}
