//! `dropscope._native`, the Rust half of the Python package `dropscope` (python/dropscope/ is
//! the other half: the public functions, their docstrings and the result types).
//!
//! Each function is a thin edge over the crates' public APIs, the same calls the CLI's commands
//! make: `dropscope_logs::ingest::ingest` reads, `dropscope_engine::{sessions, classify, analyse,
//! evaluate}` analyse, `dropscope_sim::simulate` generates, and `dropscope_tables::frame` gives the
//! tables their schemas. Tables cross the boundary as Arrow C streams without a copy
//! (`arrow.rs`); labels and predictions are tables too (`labels.rs`). `fleet.rs` runs the
//! classifier's rounds on parts of the fleet, for `dropscope.spark`.
//!
//! Every call releases the GIL while Rust works (`Python::detach`) and runs inside the engine's
//! one rayon pool (`dropscope_engine::thread_pool`), sized by `threads` as `--threads` sizes the
//! CLI's. Errors are `dropscope.DropscopeError` with the message the CLI prints after `error: `,
//! its context line and each cause on a `  caused by: ` line.

mod arrow;
mod fleet;
mod labels;

use std::error::Error as StdError;
use std::path::{Path, PathBuf};

use dropscope_engine::AnalyseConfig;
use dropscope_engine::classify::{ClassifyConfig, classify as classify_events};
use dropscope_engine::evaluate::{self as scores, ClassScores, Evaluation, Unmatched};
use dropscope_logs::Form;
use dropscope_logs::ingest::{IngestConfig, Ingested, ingest};
use dropscope_logs::labels::read_labels;
use dropscope_logs::write::WriteOptions;
use dropscope_model::findings::DataQuality;
use dropscope_model::{Event, Label};
use dropscope_sim::{OutputConfig, Scenario, SimOptions};
use polars::prelude::DataFrame;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::arrow::{Table, Text};

create_exception!(
    _native,
    DropscopeError,
    PyException,
    "An error dropscope reports: unreadable input, a bad table, an unknown scenario. The message is the CLI's."
);

/// An error as the CLI prints it (without `error: `): `context`, then the cause chain.
#[derive(Debug)]
struct Failure(String);

impl Failure {
    fn new(context: &str, err: &dyn StdError) -> Failure {
        let mut message = context.to_owned();
        let mut cause = Some(err);
        while let Some(err) = cause {
            message.push_str("\n  caused by: ");
            message.push_str(&err.to_string());
            cause = err.source();
        }
        Failure(message)
    }

    fn plain(context: &str, reason: &str) -> Failure {
        Failure(format!("{context}\n  caused by: {reason}"))
    }
}

impl From<Failure> for PyErr {
    fn from(failure: Failure) -> PyErr {
        DropscopeError::new_err(failure.0)
    }
}

/// Runs `work` without the GIL, on a pool of `threads` workers (one per core by default).
fn run<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    work: impl FnOnce() -> Result<T, Failure> + Send,
) -> Result<T, Failure> {
    py.detach(|| {
        let pool = dropscope_engine::thread_pool(threads)
            .map_err(|err| Failure::new("building the thread pool", &err))?;
        pool.install(work)
    })
}

/// The events of an events table (as `read_logs` returns it, or any table with its columns).
fn events_of(df: &DataFrame) -> Result<Vec<Event>, Failure> {
    dropscope_tables::frame::df_to_events(df, 0)
        .map_err(|reason| Failure::plain("reading the events table", &reason))
}

fn table(df: polars::prelude::PolarsResult<DataFrame>, what: &str, text: Text) -> PyResult<Table> {
    let df = df.map_err(|err| Failure::new(&format!("building the {what} table"), &err))?;
    Table::from_df(df, text)
}

/// Reads logs: files or directories in any export form. Returns the events table and the
/// accounting (a dict), as `dropscope ingest` and `inspect --json` give them.
#[pyfunction]
#[pyo3(signature = (paths, *, threads = None))]
#[expect(clippy::needless_pass_by_value, reason = "PyO3 extracts arguments as owned values")]
fn read_logs(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    threads: Option<usize>,
) -> PyResult<(Table, Bound<'_, PyDict>)> {
    let (ingested, df) = run(py, threads, || {
        let ingested = ingest(&paths, &IngestConfig::default())
            .map_err(|err| Failure::new("reading the inputs", &err))?;
        let df = dropscope_tables::frame::events_to_df(&ingested.events);
        Ok((ingested, df))
    })?;
    let events = py.detach(|| table(df, "events", Text::Views))?;
    Ok((events, accounting(py, &ingested)?))
}

/// Reads one log file held in memory (`name` names it in the accounting), as `read_logs` reads
/// one file: for `dropscope.spark`, which reads files whole on the executors.
#[pyfunction]
fn read_log_file<'py>(
    py: Python<'py>,
    name: &str,
    content: &[u8],
) -> PyResult<(Table, Bound<'py, PyDict>)> {
    let (ingested, df) = run(py, Some(1), || {
        let ingested = dropscope_logs::ingest::ingest_bytes(name, content);
        let df = dropscope_tables::frame::events_to_df(&ingested.events);
        Ok((ingested, df))
    })?;
    let events = py.detach(|| table(df, "events", Text::Strings))?;
    Ok((events, accounting(py, &ingested)?))
}

/// The counts of a read, the files it skipped or could not read, and every reject.
fn accounting<'py>(py: Python<'py>, ingested: &Ingested) -> PyResult<Bound<'py, PyDict>> {
    let stats = &ingested.stats;
    let source = |idx: u32| {
        ingested
            .sources
            .get(idx as usize)
            .map_or_else(|| format!("#{idx}"), |p| p.display().to_string())
    };
    let dict = PyDict::new(py);
    dict.set_item("files", stats.files)?;
    dict.set_item("records_read", stats.records_read)?;
    dict.set_item("parsed", stats.parsed)?;
    dict.set_item("duplicates", stats.duplicates)?;
    dict.set_item("rejected", stats.rejected)?;
    let reasons = PyDict::new(py);
    for (reason, n) in &stats.reject_reasons {
        reasons.set_item(reason.as_str(), n)?;
    }
    dict.set_item("reject_reasons", reasons)?;
    let forms = PyDict::new(py);
    for (form, n) in &stats.forms {
        forms.set_item(form.as_str(), n)?;
    }
    dict.set_item("forms", forms)?;
    let unrecognised: Vec<String> = ingested.unrecognised.iter().map(|&s| source(s)).collect();
    dict.set_item("unrecognised_files", unrecognised)?;
    // As `inspect --json`'s `unreadable_files` (crates/dropscope-cli/commands/ingest.rs).
    let unreadable = PyList::empty(py);
    for input in &ingested.unreadable {
        let entry = PyDict::new(py);
        entry.set_item("file", dropscope_logs::ingest::display_path(&input.path))?;
        entry.set_item("error", input.error.as_str())?;
        unreadable.append(entry)?;
    }
    dict.set_item("unreadable_files", unreadable)?;
    let rejects = PyList::empty(py);
    for reject in &ingested.rejects {
        rejects.append((
            source(reject.source),
            reject.line,
            reject.reason.as_str(),
            reject.detail.as_str(),
            reject.text.as_str(),
        ))?;
    }
    dict.set_item("rejects", rejects)?;
    Ok(dict)
}

/// Every device's sessions, rebuilt and repaired: the table `dropscope sessions` writes.
#[pyfunction]
#[pyo3(signature = (events, *, threads = None))]
fn sessions(py: Python<'_>, events: &Bound<'_, PyAny>, threads: Option<usize>) -> PyResult<Table> {
    let df = arrow::import(events, "events")?;
    let sessions = run(py, threads, || {
        let events = events_of(&df)?;
        drop(df);
        let table = dropscope_engine::sessions::build(&events);
        Ok(dropscope_tables::frame::sessions_to_df(&table.sessions))
    })?;
    py.detach(|| table(sessions, "sessions", Text::Strings))
}

/// A cause and a confidence for every disconnect and failed connect: the rows of the
/// predictions.csv `dropscope classify` writes.
#[pyfunction]
#[pyo3(signature = (events, *, threads = None))]
fn classify(py: Python<'_>, events: &Bound<'_, PyAny>, threads: Option<usize>) -> PyResult<Table> {
    let df = arrow::import(events, "events")?;
    let predictions = run(py, threads, || {
        let events = events_of(&df)?;
        drop(df);
        let verdicts = classify_events(&events, &ClassifyConfig::default());
        let occurrence = scores::occurrences(&events);
        let predictions: Vec<Label> = verdicts
            .iter()
            .filter_map(|verdict| {
                let event = events.get(verdict.index())?;
                Some(Label {
                    device_id: event.device_id.to_string(),
                    time: event.time,
                    operation: event.operation,
                    occurrence: occurrence[verdict.index()],
                    cause: verdict.cause,
                    confidence: Some(verdict.confidence),
                })
            })
            .collect();
        Ok(labels::to_df(&predictions, true))
    })?;
    py.detach(|| table(predictions, "predictions", Text::Strings))
}

/// The causes ranked by impact, as `dropscope diagnose --json` prints them (a JSON text).
#[pyfunction]
#[pyo3(signature = (events, *, threads = None))]
fn diagnose(py: Python<'_>, events: &Bound<'_, PyAny>, threads: Option<usize>) -> PyResult<String> {
    let df = arrow::import(events, "events")?;
    Ok(run(py, threads, || {
        let events = events_of(&df)?;
        drop(df);
        let findings =
            dropscope_engine::analyse(&events, &DataQuality::default(), &AnalyseConfig::default());
        Ok(dropscope_report::render_causes_json(&findings))
    })?)
}

/// Scores predictions against ground truth, as `dropscope evaluate --predictions P --truth L
/// --json` prints it (a JSON text).
#[pyfunction]
fn evaluate(
    py: Python<'_>,
    predictions: &Bound<'_, PyAny>,
    labels: &Bound<'_, PyAny>,
) -> PyResult<String> {
    let predictions = arrow::import(predictions, "predictions")?;
    let truth = arrow::import(labels, "labels")?;
    Ok(run(py, None, || {
        let truth = labels::from_df(&truth)
            .map_err(|reason| Failure::plain("reading the labels table", &reason))?;
        let predictions = labels::from_df(&predictions)
            .map_err(|reason| Failure::plain("reading the predictions table", &reason))?;
        let evaluation = Evaluation::new(scores::score(&truth, &predictions), None);
        Ok(evaluation_json(&evaluation).to_string())
    })?)
}

/// The document `evaluate --json` prints (docs/json.md), for predictions scored without the
/// baseline (the baseline needs the logs).
fn evaluation_json(evaluation: &Evaluation) -> serde_json::Value {
    let per_class = |per_class: &std::collections::BTreeMap<String, ClassScores>| {
        per_class
            .iter()
            .map(|(cause, class)| {
                let scores = serde_json::json!({
                    "precision": class.precision,
                    "recall": class.recall,
                    "f1": class.f1,
                    "support": class.support,
                });
                (cause.clone(), scores)
            })
            .collect::<serde_json::Map<_, _>>()
    };
    let unmatched = |unmatched: Unmatched| serde_json::json!({"truth": unmatched.truth, "predictions": unmatched.predictions});
    let reliability: Vec<serde_json::Value> = evaluation
        .calibration
        .reliability
        .iter()
        .map(|bin| {
            serde_json::json!({
                "low": bin.lower,
                "high": bin.upper,
                "count": bin.count,
                "accuracy": bin.accuracy,
                "mean_confidence": bin.mean_confidence,
            })
        })
        .collect();
    serde_json::json!({
        "schema_version": dropscope_report::SCHEMA_VERSION,
        "accuracy": evaluation.accuracy,
        "macro_f1": evaluation.macro_f1,
        "per_class": per_class(&evaluation.per_class),
        "confusion": evaluation.confusion,
        "baseline": null,
        "unmatched": unmatched(evaluation.unmatched),
        "ece": evaluation.calibration.ece,
        "reliability": reliability,
    })
}

/// Simulates a scenario and reads its logs back, as `dropscope simulate -o DIR --truth` and
/// `dropscope ingest DIR/logs` would: the events as an analyst reads them (export faults
/// included) and the ground-truth labels.
#[pyfunction]
#[pyo3(signature = (scenario, *, devices = None, hours = None, seed = None, threads = None))]
fn simulate(
    py: Python<'_>,
    scenario: &str,
    devices: Option<u32>,
    hours: Option<u32>,
    seed: Option<u64>,
    threads: Option<usize>,
) -> PyResult<(Table, Table)> {
    let (events, truth) = run(py, threads, || {
        let mut spec = Scenario::load(scenario)
            .map_err(|err| Failure::new(&format!("loading scenario {scenario}"), &err))?;
        if let Some(devices) = devices {
            spec.resize_fleet(devices);
        }
        if let Some(hours) = hours {
            spec.window.hours = hours;
        }
        let options = SimOptions { seed: seed.unwrap_or(spec.seed), frac_digits: 0 };
        let sim = dropscope_sim::simulate(&spec, &options)
            .map_err(|err| Failure::new(&format!("simulating scenario {}", spec.name), &err))?;
        let dir = tempfile::tempdir()
            .map_err(|err| Failure::new("creating a temporary directory", &err))?;
        let writing = || format!("writing to {}", dir.path().display());
        let config = OutputConfig {
            form: Form::JsonLines,
            gzip: false,
            truth: true,
            write: WriteOptions::default(),
        };
        sim.write(&config, dir.path(), &|_, _| {}).map_err(|err| Failure::new(&writing(), &err))?;
        drop(sim);
        let ingested = ingest(&[dir.path().join("logs")], &IngestConfig::default())
            .map_err(|err| Failure::new("reading the inputs", &err))?;
        let labels_path = dir.path().join("truth").join("labels.csv");
        let truth =
            read_labels(&labels_path).map_err(|err| Failure::new(&reading(&labels_path), &err))?;
        Ok((dropscope_tables::frame::events_to_df(&ingested.events), labels::to_df(&truth, false)))
    })?;
    py.detach(|| {
        Ok((table(events, "events", Text::Views)?, table(truth, "labels", Text::Strings)?))
    })
}

fn reading(path: &Path) -> String {
    format!("reading {}", path.display())
}

/// The module `dropscope._native`.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("DropscopeError", module.py().get_type::<DropscopeError>())?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_class::<Table>()?;
    module.add_function(wrap_pyfunction!(read_logs, module)?)?;
    module.add_function(wrap_pyfunction!(sessions, module)?)?;
    module.add_function(wrap_pyfunction!(classify, module)?)?;
    module.add_function(wrap_pyfunction!(diagnose, module)?)?;
    module.add_function(wrap_pyfunction!(evaluate, module)?)?;
    module.add_function(wrap_pyfunction!(simulate, module)?)?;
    module.add_function(wrap_pyfunction!(read_log_file, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::fleet_stats, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::merge_fleet_stats, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::fleet_tally, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::merge_fleet_tally, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::classify_part, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::silent_verdicts, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::predictions_csv, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::rank_part, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::merge_rank_tallies, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::add_verdict_confidences, module)?)?;
    module.add_function(wrap_pyfunction!(fleet::diagnose_tally, module)?)?;
    Ok(())
}
