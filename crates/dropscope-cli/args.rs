//! The command-line interface: clap types only. `main.rs` turns them into library configs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Finds out why Azure IoT Hub devices disconnect.
///
/// dropscope reads the connection logs IoT Hub exports (storage blobs, Event Hubs envelopes, Log
/// Analytics CSV/JSON, Event Grid, or its own Parquet/Arrow), rebuilds every device's sessions,
/// infers the root cause of each disconnect and writes a post-mortem report. It also simulates
/// disconnect storms with ground truth, and scores classifiers against it.
#[derive(Debug, Parser)]
#[command(
    name = "dropscope",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = EXIT_STATUS
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
}

/// The exit statuses, as the top-level `--help` shows them (README.md and `ExitStatus` in main.rs
/// say the same).
const EXIT_STATUS: &str = "\
Exit status:
  0  success (also when the reader of stdout closes it early, as `| head` does)
  2  an error: bad arguments, a missing input, an output that would overwrite an input, a
     record rejected under --strict; or some input files could not be read (named on stderr
     and in --json's unreadable_files): the outputs, written from the others, are complete
     but for them

`-o -` writes a command's output file to stdout; --json prints its summary as one JSON object on
stdout.";

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Worker threads (default: one per core). Output is identical at any thread count.
    #[arg(long, global = true, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Print nothing on stderr but errors: no summary, no progress bars.
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    /// Read JSON Lines files as streams, not memory-mapped. Same output (a mapped file cut short
    /// while read is read again as a stream).
    #[arg(long, global = true)]
    pub(crate) no_mmap: bool,
    /// Reject a JSON Lines line longer than this (a `too_long` reject), skipping it unread;
    /// bytes, or with a KiB, MiB or GiB suffix.
    #[arg(long, global = true, value_name = "BYTES", default_value = "32MiB", value_parser = parse_bytes)]
    pub(crate) max_line: u64,
    /// Stop reading a gzip input that decompresses to more than N times its compressed size
    /// (and more than 64 MiB): a gzip bomb. The file is reported unreadable.
    #[arg(long, global = true, value_name = "N", default_value_t = 100)]
    pub(crate) max_gzip_ratio: u64,
    /// The decompressed size any gzip input may reach whatever its ratio (for tests).
    #[arg(long, global = true, value_name = "BYTES", default_value = "64MiB", value_parser = parse_bytes, hide = true)]
    pub(crate) gzip_floor: u64,
}

/// A size: bytes, or a number with a `KiB`, `MiB` or `GiB` suffix (`K`, `M`, `G` too).
fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a size in bytes"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err(format!("{text:?}: the unit is one of KiB, MiB, GiB")),
    };
    number.checked_mul(1 << shift).ok_or_else(|| format!("{text:?} is too large"))
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Read logs in any export form and write the events table (Parquet, Arrow, CSV or JSON Lines).
    Ingest(IngestArgs),
    /// Read logs and print what is in them: records, rejects, duplicates, forms, devices, hubs.
    Inspect(InspectArgs),
    /// Rebuild every device's sessions and write the sessions table.
    Sessions(SessionsArgs),
    /// Print one device's timeline: sessions, gaps, failed connects, codes, IPs and repairs.
    Timeline(TimelineArgs),
    /// Write the Connected-devices curve (per-minute min, avg, max) as CSV.
    Curve(CurveArgs),
    /// List fleet incidents: windows where disconnects jump far above the fleet's baseline.
    Incidents(IncidentsArgs),
    /// Give every disconnect and failed connect a root cause (predictions.csv).
    Classify(ClassifyArgs),
    /// Score a classifier (ours, or anyone's predictions) against ground-truth labels.
    Evaluate(EvaluateArgs),
    /// Rank the root causes of the disconnects by impact.
    Diagnose(DiagnoseArgs),
    /// Write the post-mortem report (HTML, Markdown or JSON, by --format or the output's extension).
    Report(ReportArgs),
    /// Simulate a disconnect storm: realistic logs in any export form, with ground truth.
    Simulate(SimulateArgs),
    /// Simulate the mixed-day scenario, analyse it and write a report: the one-command tour.
    Demo(DemoArgs),
}

/// Where the logs come from and how strictly to read them.
#[derive(Debug, Args)]
pub(crate) struct InputArgs {
    /// Log files or directories (walked recursively), in any export form, optionally gzipped;
    /// `-` reads stdin.
    #[arg(value_name = "INPUT", required = true)]
    pub(crate) inputs: Vec<PathBuf>,
    /// Write every rejected record to this CSV (file, line, reason, detail, text).
    #[arg(long, value_name = "FILE")]
    pub(crate) rejects: Option<PathBuf>,
    /// Exit with status 2 when any record is rejected.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// The events table: `.parquet`, `.arrow` (Feather v2), `.csv` or `.jsonl`; `-` for stdout
    /// (with --format).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: PathBuf,
    /// The table's form, whatever the output's name (needed with `-o -`).
    #[arg(long, value_enum, value_name = "FORM")]
    pub(crate) format: Option<TableForm>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Write a hive-partitioned Parquet dataset in the directory -o names, bucketed by device:
    /// `OUT/bucket=07/part-0.parquet`, a device's bucket a fixed hash of its hub and id
    /// (FNV-1a, modulo --buckets). Spark, DuckDB, polars and pyarrow read it as one table.
    #[arg(long, value_enum, value_name = "KEY")]
    pub(crate) partition_by: Option<PartitionKey>,
    /// The number of device buckets of --partition-by device.
    #[arg(
        long,
        value_name = "N",
        requires = "partition_by",
        default_value_t = dropscope_tables::hive::DEFAULT_BUCKETS,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(dropscope_tables::hive::MAX_BUCKETS)),
    )]
    pub(crate) buckets: u32,
}

/// What `ingest --partition-by` partitions the events table by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PartitionKey {
    /// Device hash buckets: all of a device's records (its modules' too) in one file.
    Device,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SessionsArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// The sessions table: `.parquet`, `.arrow`, `.csv` or `.jsonl`; `-` for stdout (with
    /// --format).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: PathBuf,
    /// The table's form, whatever the output's name (needed with `-o -`).
    #[arg(long, value_enum, value_name = "FORM")]
    pub(crate) format: Option<TableForm>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TimelineArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// The device whose timeline to print.
    #[arg(long, value_name = "ID")]
    pub(crate) device: String,
    /// Print the timeline as one JSON object on stdout: its records and sessions as rows of the
    /// events and sessions tables.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CurveArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// The curve as CSV: minute, min, avg, max; `-` for stdout.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: PathBuf,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct IncidentsArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// Print the incidents as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ClassifyArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// predictions.csv: `device_id,time,operation,occurrence,cause,confidence`; `-` for stdout.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: PathBuf,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct EvaluateArgs {
    /// Logs to classify with dropscope's classifier (omit with --predictions).
    #[arg(value_name = "INPUT", required_unless_present = "predictions")]
    pub(crate) inputs: Vec<PathBuf>,
    /// Someone else's predictions to score instead (the labels.csv columns).
    #[arg(long, value_name = "FILE", conflicts_with = "inputs")]
    pub(crate) predictions: Option<PathBuf>,
    /// The ground truth: labels.csv as `dropscope simulate --truth` writes it.
    #[arg(long, value_name = "FILE")]
    pub(crate) truth: PathBuf,
    /// Print the scores as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DiagnoseArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// Print the ranked causes as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// The report: `.html`, `.md` or `.json`; `-` for stdout (with --format).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: PathBuf,
    /// The report's form, whatever the output's name (needed with `-o -`).
    #[arg(long, value_enum, value_name = "FORM")]
    pub(crate) format: Option<ReportForm>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Replay the metric alert "Connected devices below N" (default: derived from the fleet size).
    #[arg(long, value_name = "N")]
    pub(crate) alert_below: Option<u64>,
    /// ... for this long, e.g. `5m`, `90s`, `1h` (default: 5m).
    #[arg(long, value_name = "DURATION")]
    pub(crate) alert_for: Option<String>,
}

/// The forms of a table file (`--format` of ingest and sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TableForm {
    /// Parquet.
    Parquet,
    /// Arrow IPC (Feather v2).
    Arrow,
    /// CSV, times as RFC 3339, durations in seconds.
    Csv,
    /// JSON Lines, one object a row.
    Jsonl,
}

/// The forms of the report (`--format` of report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportForm {
    /// One self-contained HTML file.
    Html,
    /// Markdown.
    Md,
    /// JSON.
    Json,
}

/// Export forms the simulator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SimFormat {
    /// Storage-blob JSON Lines, laid out as the real export tree (one PT1H.json per hour).
    Jsonl,
    /// `{"records":[...]}` envelopes, one per hour.
    Envelope,
    /// Pretty-printed concatenated objects, one file per hour.
    Pretty,
    /// Log Analytics CSV export of AzureDiagnostics.
    Csv,
    /// Log Analytics JSON export of AzureDiagnostics.
    LaJson,
    /// Event Grid DeviceConnected/DeviceDisconnected events.
    Eventgrid,
    /// The same events in the CloudEvents schema.
    Cloudevents,
    /// Routed device connection-state events as routing to storage writes them in JSON.
    RoutedJson,
    /// The same events in an Avro container, as routing to storage and Event Hubs Capture write.
    Avro,
    /// dropscope's Parquet events table.
    Parquet,
    /// dropscope's Arrow IPC events table.
    Arrow,
}

#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools, reason = "independent command-line switches, not a state")]
pub(crate) struct SimulateArgs {
    /// A named scenario from data/scenarios (quiet-day, token-churn, site-outage-storm, hub-fault,
    /// upgrade, duplicate-identity, bad-credentials, mixed-day, realistic-day) or a path to a
    /// scenario TOML.
    #[arg(long, value_name = "NAME|FILE", default_value = "mixed-day")]
    pub(crate) scenario: String,
    /// Override the scenario's device count (a bigger fleet gets a bigger hub; a smaller one is a
    /// sample of the scenario's hub, so a storm keeps its shape).
    #[arg(long, value_name = "N")]
    pub(crate) devices: Option<u32>,
    /// Override the scenario's window length in hours.
    #[arg(long, value_name = "H")]
    pub(crate) hours: Option<u32>,
    /// The random seed: the same scenario and seed give byte-identical output.
    #[arg(long, value_name = "S")]
    pub(crate) seed: Option<u64>,
    /// The export form to write.
    #[arg(long, value_enum, default_value_t = SimFormat::Jsonl)]
    pub(crate) format: SimFormat,
    /// gzip every log file.
    #[arg(long)]
    pub(crate) gzip: bool,
    /// Write ground truth under DIR/truth/: labels.csv, sessions.csv, incidents.csv.
    #[arg(long)]
    pub(crate) truth: bool,
    /// Write seven fractional digits in timestamps instead of whole seconds.
    #[arg(long)]
    pub(crate) fractional: bool,
    /// The output directory: logs go to DIR/logs/, truth to DIR/truth/.
    #[arg(long, short, value_name = "DIR")]
    pub(crate) output: PathBuf,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to write the demo's logs and reports.
    #[arg(long, short, value_name = "DIR", default_value = "dropscope-demo")]
    pub(crate) output: PathBuf,
    /// The random seed.
    #[arg(long, value_name = "S", default_value_t = 7)]
    pub(crate) seed: u64,
    /// Print what was simulated, where the reports are and the findings (the report's JSON) as
    /// one JSON object on stdout, instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
}
