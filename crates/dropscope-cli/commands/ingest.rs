//! `dropscope ingest` and `dropscope inspect`, and [`load`], the input loading every command shares.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use dropscope_logs::Ingested;
use dropscope_logs::ingest::{self, IngestConfig};
use dropscope_model::findings::thousands;
use dropscope_model::{FxHashSet, Sym, Timestamp};

use crate::args::{IngestArgs, InputArgs, InspectArgs, PartitionKey, TableForm};
use crate::{Context, ExitStatus, output};

/// How many input files the run could not read (see [`load`]).
static UNREADABLE: AtomicUsize = AtomicUsize::new(0);

/// How many input files [`load`] could not read: `main` then ends the run with status 2, once
/// the command has written its outputs from the others.
pub(crate) fn unreadable_inputs() -> usize {
    UNREADABLE.load(Ordering::Relaxed)
}

/// Reads the inputs, writes the rejects file if asked, prints the summary on stderr (unless
/// quiet), and fails under `--strict` when anything was rejected. Each input that cannot be read
/// is named on stderr (even when quiet) and counted for [`unreadable_inputs`]; the others are
/// read all the same.
pub(crate) fn load(input: &InputArgs, ctx: &Context) -> anyhow::Result<Ingested> {
    let bar = ctx.bytes_bar(input_bytes(&input.inputs), "reading");
    let on_progress = |bytes: u64| bar.inc(bytes);
    let config = IngestConfig {
        progress: Some(&on_progress),
        mmap: ctx.mmap,
        release: Some(&crate::release_free_memory),
        max_line: ctx.max_line,
        max_gzip_ratio: ctx.max_gzip_ratio,
        gzip_floor: ctx.gzip_floor,
        ..IngestConfig::default()
    };
    let ingested = ingest::ingest(&input.inputs, &config).context("reading the inputs")?;
    bar.finish_and_clear();
    for unreadable in &ingested.unreadable {
        eprintln!(
            "error: cannot read {}: {}",
            ingest::display_path(&unreadable.path),
            unreadable.error
        );
    }
    UNREADABLE.fetch_add(ingested.unreadable.len(), Ordering::Relaxed);
    if let Some(path) = &input.rejects {
        write_rejects(path, &ingested).with_context(|| format!("writing {}", path.display()))?;
    }
    if !ctx.quiet {
        eprint!("{}", human_summary(&ingested));
    }
    if input.strict && ingested.stats.rejected > 0 {
        let first = &ingested.rejects[0];
        anyhow::bail!(
            "{} record(s) rejected under --strict; the first: {}:{}: {} ({})\nhint: run with --rejects rejects.csv to list them all",
            ingested.stats.rejected,
            source_name(&ingested, first.source),
            first.line,
            first.reason.as_str(),
            first.detail,
        );
    }
    Ok(ingested)
}

pub(crate) fn run(args: &IngestArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    if let Some(PartitionKey::Device) = args.partition_by {
        return run_partitioned(args, ctx);
    }
    let form = output::table_form(&args.output, args.format)?;
    output::check_json(&args.output, args.json)?;
    let ingested = load(&args.input, ctx)?;
    let writing = || format!("writing {}", output::name(&args.output));
    if args.format.is_none() {
        dropscope_tables::frame::write_events(&args.output, &ingested.events)
            .with_context(writing)?;
    } else {
        let mut out = output::create(&args.output)?;
        dropscope_tables::frame::write_events_to(&mut out, &args.output, &ingested.events, form)
            .with_context(writing)?;
        out.flush().with_context(writing)?;
    }
    if args.json {
        crate::print_json(summary_json(&ingested))?;
    }
    if !ctx.quiet {
        eprintln!("wrote {} events to {}", ingested.events.len(), output::name(&args.output));
    }
    Ok(ExitStatus::Success)
}

/// `ingest --partition-by device`: the events table as a hive-partitioned Parquet dataset in
/// the directory `-o` names (`dropscope_tables::hive`).
fn run_partitioned(args: &IngestArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let dir = &args.output;
    if output::is_stdout(dir) {
        anyhow::bail!(
            "--partition-by writes a directory of files, not stdout\nhint: name a directory with -o"
        );
    }
    if args.format.is_some_and(|format| format != TableForm::Parquet) {
        anyhow::bail!(
            "--partition-by writes Parquet only\nhint: drop --format, or use --format parquet"
        );
    }
    // A bucket left from an earlier run (another --buckets, other devices) would join the
    // dataset: write only into a new or empty directory.
    match fs::read_dir(dir).map(|mut entries| entries.next().is_some()) {
        Ok(true) => anyhow::bail!(
            "{} is not empty: a partitioned dataset is written into a new or empty directory\nhint: remove it, or name another directory with -o",
            dir.display()
        ),
        Ok(false) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => anyhow::bail!(
            "{} is a file: --partition-by writes a directory\nhint: name a directory with -o",
            dir.display()
        ),
        Err(err) => return Err(err).with_context(|| format!("reading {}", dir.display())),
    }
    let ingested = load(&args.input, ctx)?;
    let files =
        dropscope_tables::hive::write_events_partitioned(dir, &ingested.events, args.buckets)
            .with_context(|| format!("writing {}", dir.display()))?;
    if args.json {
        crate::print_json(summary_json(&ingested))?;
    }
    if !ctx.quiet {
        eprintln!(
            "wrote {} events to {} ({} of {} buckets hold devices)",
            ingested.events.len(),
            dir.display(),
            files.len(),
            args.buckets
        );
    }
    Ok(ExitStatus::Success)
}

pub(crate) fn run_inspect(args: &InspectArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ingested = load(&args.input, ctx)?;
    if args.json {
        crate::print_json(summary_json(&ingested))?;
    }
    Ok(ExitStatus::Success)
}

pub(crate) fn source_name(ingested: &Ingested, source: u32) -> String {
    ingested
        .sources
        .get(source as usize)
        .map_or_else(|| format!("#{source}"), |p| ingest::display_path(p))
}

struct Extent {
    devices: usize,
    hubs: Vec<String>,
    time_min: Option<Timestamp>,
    time_max: Option<Timestamp>,
}

fn extent(ingested: &Ingested) -> Extent {
    // Interned texts compare by handle: a hash set of handle pairs counts without comparing text.
    let devices: FxHashSet<(u32, u32)> =
        ingested.events.iter().map(|e| (e.hub.handle(), e.device_id.handle())).collect();
    let hubs: FxHashSet<Sym> = ingested.events.iter().map(|e| e.hub).collect();
    let hubs: BTreeSet<&str> = hubs.iter().map(|hub| hub.as_str()).collect();
    Extent {
        devices: devices.len(),
        hubs: hubs.into_iter().map(str::to_owned).collect(),
        time_min: ingested.events.iter().map(|e| e.time).min(),
        time_max: ingested.events.iter().map(|e| e.time).max(),
    }
}

/// The summary as one JSON object (keys sorted, so the output is stable).
pub(crate) fn summary_json(ingested: &Ingested) -> serde_json::Value {
    let stats = &ingested.stats;
    let extent = extent(ingested);
    let reasons: serde_json::Map<String, serde_json::Value> = stats
        .reject_reasons
        .iter()
        .map(|(reason, n)| (reason.as_str().to_owned(), (*n).into()))
        .collect();
    let forms: serde_json::Map<String, serde_json::Value> =
        stats.forms.iter().map(|(form, n)| (form.as_str().to_owned(), (*n).into())).collect();
    serde_json::json!({
        "files": stats.files,
        "records_read": stats.records_read,
        "parsed": stats.parsed,
        "duplicates": stats.duplicates,
        "rejected": stats.rejected,
        "reject_reasons": reasons,
        "forms": forms,
        "devices": extent.devices,
        "hubs": extent.hubs.len(),
        "hub_names": extent.hubs,
        "time_min": extent.time_min.map(|t| t.to_string()),
        "time_max": extent.time_max.map(|t| t.to_string()),
        "unrecognised_files": ingested
            .unrecognised
            .iter()
            .map(|&source| source_name(ingested, source))
            .collect::<Vec<_>>(),
        "unreadable_files": ingested
            .unreadable
            .iter()
            .map(|u| serde_json::json!({"file": ingest::display_path(&u.path), "error": u.error}))
            .collect::<Vec<_>>(),
    })
}

/// The summary for people, several lines on stderr.
pub(crate) fn human_summary(ingested: &Ingested) -> String {
    let stats = &ingested.stats;
    let extent = extent(ingested);
    let mut out = format!(
        "read {} file(s): {} records: {} parsed, {} duplicates, {} rejected\n",
        stats.files,
        thousands(stats.records_read),
        thousands(stats.parsed),
        thousands(stats.duplicates),
        thousands(stats.rejected)
    );
    if !stats.reject_reasons.is_empty() {
        let reasons: Vec<String> = stats
            .reject_reasons
            .iter()
            .map(|(reason, n)| format!("{} {n}", reason.as_str()))
            .collect();
        let _ = writeln!(out, "  rejected by reason: {}", reasons.join(", "));
    }
    if !stats.forms.is_empty() {
        let forms: Vec<String> =
            stats.forms.iter().map(|(form, n)| format!("{form} {n}")).collect();
        let _ = writeln!(out, "  forms: {}", forms.join(", "));
    }
    if let (Some(min), Some(max)) = (extent.time_min, extent.time_max) {
        let _ = writeln!(out, "  time range: {min} .. {max}");
    }
    if !ingested.unrecognised.is_empty() {
        let names: Vec<String> =
            ingested.unrecognised.iter().map(|&source| source_name(ingested, source)).collect();
        let _ = writeln!(
            out,
            "  skipped {} file(s) in no known export form: {}",
            names.len(),
            names.join(", ")
        );
    }
    if !ingested.skipped.is_empty() {
        let names: Vec<String> = ingested
            .skipped
            .iter()
            .map(|(path, why)| format!("{} ({why})", ingest::display_path(path)))
            .collect();
        let _ =
            writeln!(out, "  skipped {} entry(ies) not read: {}", names.len(), names.join(", "));
    }
    if !ingested.unreadable.is_empty() {
        let _ = writeln!(
            out,
            "  {} input(s) could not be read (see the errors)",
            ingested.unreadable.len()
        );
    }
    let _ = write!(
        out,
        "  {} device(s) on {} hub(s)",
        thousands(extent.devices as u64),
        extent.hubs.len()
    );
    if !extent.hubs.is_empty() && extent.hubs.len() <= 5 {
        let _ = write!(out, ": {}", extent.hubs.join(", "));
    }
    out.push('\n');
    out
}

fn write_rejects(path: &Path, ingested: &Ingested) -> anyhow::Result<()> {
    let file = File::create(path)?;
    let mut writer = csv::Writer::from_writer(BufWriter::new(file));
    writer.write_record(["file", "line", "reason", "detail", "text"])?;
    for reject in &ingested.rejects {
        writer.write_record([
            dropscope_tables::frame::spreadsheet_safe(&source_name(ingested, reject.source)),
            reject.line.to_string(),
            reject.reason.as_str().to_owned(),
            dropscope_tables::frame::spreadsheet_safe(&reject.detail),
            dropscope_tables::frame::spreadsheet_safe(&reject.text),
        ])?;
    }
    writer.into_inner().map_err(|err| anyhow::anyhow!("{err}"))?.flush()?;
    Ok(())
}

/// The size of the files `inputs` stand for (directories expanded as the reader expands them):
/// what the progress callback adds up to over a run. Stdin and anything unreadable count 0 (the
/// reader then reports the error).
fn input_bytes(inputs: &[PathBuf]) -> u64 {
    let files = ingest::expand_inputs(inputs).unwrap_or_default();
    files
        .iter()
        .filter_map(|path| fs::metadata(path).ok())
        .filter(fs::Metadata::is_file)
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_bytes_are_the_files_sizes() {
        let dir =
            std::env::temp_dir().join(format!("dropscope-input-bytes-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("a.json"), b"12345").unwrap();
        fs::write(dir.join("sub").join("b.json"), b"123").unwrap();
        let file = dir.join("a.json");
        assert_eq!(input_bytes(std::slice::from_ref(&dir)), 8);
        assert_eq!(input_bytes(&[file, PathBuf::from("-")]), 5);
        assert_eq!(input_bytes(&[dir.join("missing")]), 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
