//! The classifier's rounds on parts of the fleet (`dropscope_engine::classify::fleet`), for
//! `dropscope.spark`: each round's statistics of a part as bytes (the engine's versioned binary
//! form, to merge and broadcast), a part's verdicts with its silent drops, and the silent drops'
//! verdicts from the whole fleet's.
//!
//! A part is an events table holding all the records of each of its devices, in input order; for
//! `classify_part` and `rank_part` it holds all the records of each of its device ids (the
//! `occurrence` column counts a device id's records across its hubs and modules).
//!
//! For `dropscope.spark.diagnose`, the ranking's split (`dropscope_engine::rank::fleet`): each
//! part's ranking tally as bytes (`rank_part`, with the fleet's verdicts of the silent drops and
//! its hubs' last records), merged (`merge_rank_tallies`), each cause's confidences summed in
//! input order batch by batch (`add_confidences`), and the ranking's JSON (`diagnose_tally`).

use std::collections::BTreeMap;

use dropscope_engine::classify::fleet::{self, FleetStats, FleetTally, SilentDrop};
use dropscope_engine::classify::{ClassifyConfig, Rule, Verdict};
use dropscope_engine::evaluate::occurrences_in;
use dropscope_engine::offline::charge_offline_until;
use dropscope_engine::partition::Partition;
use dropscope_engine::rank::fleet::{RankTally, add_confidences, rule_named};
use dropscope_engine::sessions;
use dropscope_logs::labels::write_predictions;
use dropscope_model::{Cause, FxHashMap};
use polars::prelude::{
    Column, DataFrame, DataType, Int64Chunked, IntoColumn, NamedFrom, Series, TimeUnit, TimeZone,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::arrow::{self, Table, Text};
use crate::{Failure, events_of, labels, run, table};

fn stats_of(bytes: &[u8]) -> Result<FleetStats, Failure> {
    FleetStats::from_bytes(bytes).map_err(|err| Failure::new("reading the fleet statistics", &err))
}

fn tally_of(bytes: &[u8]) -> Result<FleetTally, Failure> {
    FleetTally::from_bytes(bytes).map_err(|err| Failure::new("reading the fleet tally", &err))
}

/// Round 1 of a part of the fleet: its statistics, as bytes.
#[pyfunction]
#[pyo3(signature = (events, *, threads = None))]
pub(crate) fn fleet_stats<'py>(
    py: Python<'py>,
    events: &Bound<'_, PyAny>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let df = arrow::import(events, "events")?;
    let bytes = run(py, threads, || {
        let events = events_of(&df)?;
        let partition = Partition::of(&events);
        Ok(FleetStats::of(&events, &partition, &ClassifyConfig::default()).to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// Round 1 statistics of disjoint parts, merged.
#[pyfunction]
#[expect(clippy::needless_pass_by_value, reason = "PyO3 extracts arguments as owned values")]
pub(crate) fn merge_fleet_stats(
    py: Python<'_>,
    parts: Vec<PyBackedBytes>,
) -> PyResult<Bound<'_, PyBytes>> {
    let bytes = run(py, Some(1), || {
        let parts = parts.iter().map(|part| stats_of(part)).collect::<Result<Vec<_>, _>>()?;
        Ok(FleetStats::merge_all(parts).to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// Round 2 of a part of the fleet, with the whole fleet's round 1 (`stats`): as bytes.
#[pyfunction]
#[pyo3(signature = (events, stats, *, threads = None))]
pub(crate) fn fleet_tally<'py>(
    py: Python<'py>,
    events: &Bound<'_, PyAny>,
    stats: &[u8],
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let df = arrow::import(events, "events")?;
    let bytes = run(py, threads, || {
        let stats = stats_of(stats)?;
        let events = events_of(&df)?;
        let partition = Partition::of(&events);
        Ok(FleetTally::of(&events, &partition, &stats, &ClassifyConfig::default()).to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// Round 2 tallies of disjoint parts, merged.
#[pyfunction]
#[expect(clippy::needless_pass_by_value, reason = "PyO3 extracts arguments as owned values")]
pub(crate) fn merge_fleet_tally(
    py: Python<'_>,
    parts: Vec<PyBackedBytes>,
) -> PyResult<Bound<'_, PyBytes>> {
    let bytes = run(py, Some(1), || {
        let parts = parts.iter().map(|part| tally_of(part)).collect::<Result<Vec<_>, _>>()?;
        Ok(FleetTally::merge_all(parts).to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// Round 3 of a part of the fleet: a row per classified record (the predictions.csv columns,
/// plus `rule`, `row`: the record's row in `events`, `silent`: whether the cross-device
/// detectors decide it, and for those: `prefix`, the /24 they look at, and `reconnect_delay`,
/// ns until the device's next successful connect when one was seen). A silent drop's `cause`,
/// `confidence` and `rule` are its verdict should no other device drop with it, which round 4
/// needs back.
#[pyfunction]
#[pyo3(signature = (events, stats, tally, *, threads = None))]
pub(crate) fn classify_part(
    py: Python<'_>,
    events: &Bound<'_, PyAny>,
    stats: &[u8],
    tally: &[u8],
    threads: Option<usize>,
) -> PyResult<Table> {
    let df = arrow::import(events, "events")?;
    let part = run(py, threads, || {
        let (stats, tally) = (stats_of(stats)?, tally_of(tally)?);
        let events = events_of(&df)?;
        drop(df);
        let partition = Partition::of(&events);
        let config = ClassifyConfig::default();
        let (verdicts, silent) = fleet::decide(&events, &partition, &stats, &tally, &config);
        let occurrence = occurrences_in(&events, &partition);
        let mut silent = silent.iter().peekable();
        let mut prefixes: Vec<Option<&str>> = Vec::with_capacity(verdicts.len());
        let mut is_silent: Vec<bool> = Vec::with_capacity(verdicts.len());
        let mut reconnects: Vec<Option<i64>> = Vec::with_capacity(verdicts.len());
        // Both lists are in input order. A silent drop's verdict is its verdict alone
        // (`drop.alone`), so the verdict columns carry it to round 4.
        for verdict in &verdicts {
            let drop = silent.next_if(|drop| drop.event == verdict.index());
            is_silent.push(drop.is_some());
            prefixes.push(drop.and_then(|drop| drop.prefix));
            reconnects.push(drop.and_then(|drop| drop.reconnect_delay));
        }
        let event = |v: &Verdict| &events[v.index()];
        let columns: Vec<Column> = vec![
            Series::new(
                "device_id".into(),
                verdicts.iter().map(|v| event(v).device_id.as_str()).collect::<Vec<_>>(),
            )
            .into_column(),
            Int64Chunked::from_vec(
                "time".into(),
                verdicts.iter().map(|v| event(v).time.nanos()).collect(),
            )
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
            .into_column(),
            Series::new(
                "operation".into(),
                verdicts.iter().map(|v| event(v).operation.as_str()).collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new(
                "occurrence".into(),
                verdicts.iter().map(|v| occurrence[v.index()]).collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new(
                "cause".into(),
                verdicts.iter().map(|v| v.cause.as_str()).collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new(
                "confidence".into(),
                verdicts.iter().map(|v| v.confidence).collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new("rule".into(), verdicts.iter().map(|v| v.rule.name()).collect::<Vec<_>>())
                .into_column(),
            Series::new(
                "row".into(),
                verdicts.iter().map(|v| u64::from(v.event)).collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new("silent".into(), is_silent).into_column(),
            Series::new("prefix".into(), prefixes).into_column(),
            Series::new("reconnect_delay".into(), reconnects).into_column(),
        ];
        Ok(DataFrame::new(verdicts.len(), columns))
    })?;
    py.detach(|| table(part, "verdicts", Text::Strings))
}

/// Round 4: the cause, confidence and rule of every silent drop of the fleet, in the rows' order.
/// `drops` holds round 3's silent rows (`classify_part`'s with `silent` set): `time` (int64 ns
/// or a timestamp), `prefix` (text or null), the verdict alone (`cause`, `confidence`, `rule`)
/// and `reconnect_delay` (int64 ns or null). A bare state change (Event Grid, CloudEvents,
/// routed events: no result code) has verdicts of its own, alone and in a burst, which need
/// the last two.
#[pyfunction]
pub(crate) fn silent_verdicts(
    py: Python<'_>,
    drops: &Bound<'_, PyAny>,
    stats: &[u8],
) -> PyResult<Table> {
    let df = arrow::import(drops, "silent drops")?;
    let verdicts = run(py, None, || {
        let stats = stats_of(stats)?;
        let bad = |err: &dyn std::error::Error| Failure::new("reading the silent drops", err);
        let column = |name: &str, dtype: &DataType| {
            df.column(name)
                .and_then(|c| c.as_materialized_series().to_physical_repr().cast(dtype))
                .map_err(|err| bad(&err))
        };
        let times = column("time", &DataType::Int64)?;
        let prefixes = column("prefix", &DataType::String)?;
        let causes = column("cause", &DataType::String)?;
        let confidences = column("confidence", &DataType::Float64)?;
        let rules = column("rule", &DataType::String)?;
        let reconnects = column("reconnect_delay", &DataType::Int64)?;
        let (times, prefixes) =
            (times.i64().map_err(|err| bad(&err))?, prefixes.str().map_err(|err| bad(&err))?);
        let (causes, rules) =
            (causes.str().map_err(|err| bad(&err))?, rules.str().map_err(|err| bad(&err))?);
        let confidences = confidences.f64().map_err(|err| bad(&err))?;
        let reconnects = reconnects.i64().map_err(|err| bad(&err))?;
        let missing = |what: &str| Failure::plain("reading the silent drops", what);
        let mut drops: Vec<SilentDrop<'_>> = Vec::with_capacity(df.height());
        for (event, prefix) in prefixes.iter().enumerate() {
            let time = times.get(event).ok_or_else(|| missing("a drop without a time"))?;
            let cause = causes
                .get(event)
                .and_then(Cause::parse)
                .ok_or_else(|| missing("a drop without a known cause"))?;
            let confidence = confidences
                .get(event)
                .filter(|c| (0.0..=1.0).contains(c))
                .ok_or_else(|| missing("a drop without a confidence in [0, 1]"))?;
            let rule = rules
                .get(event)
                .and_then(rule_named)
                .ok_or_else(|| missing("a drop without a known rule"))?;
            drops.push(SilentDrop {
                event,
                time,
                prefix,
                alone: (cause, confidence, rule),
                reconnect_delay: reconnects.get(event),
            });
        }
        let resolved = fleet::silent_verdicts(&drops, &stats, &ClassifyConfig::default());
        let columns: Vec<Column> = vec![
            Series::new("cause".into(), resolved.iter().map(|r| r.0.as_str()).collect::<Vec<_>>())
                .into_column(),
            Series::new("confidence".into(), resolved.iter().map(|r| r.1).collect::<Vec<_>>())
                .into_column(),
            Series::new("rule".into(), resolved.iter().map(|r| r.2.name()).collect::<Vec<_>>())
                .into_column(),
        ];
        Ok(DataFrame::new(resolved.len(), columns))
    })?;
    py.detach(|| table(verdicts, "silent verdicts", Text::Strings))
}

/// A predictions table as the predictions.csv text `dropscope classify` writes.
#[pyfunction]
pub(crate) fn predictions_csv<'py>(
    py: Python<'py>,
    predictions: &Bound<'_, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let df = arrow::import(predictions, "predictions")?;
    let text = run(py, None, || {
        let rows = labels::from_df(&df)
            .map_err(|reason| Failure::plain("reading the predictions table", &reason))?;
        let mut out = Vec::new();
        write_predictions(&mut out, std::path::Path::new("predictions.csv"), &rows)
            .map_err(|err| Failure::new("writing predictions.csv", &err))?;
        Ok(out)
    })?;
    Ok(PyBytes::new(py, &text))
}

fn rank_tally_of(bytes: &[u8]) -> Result<RankTally, Failure> {
    RankTally::from_bytes(bytes).map_err(|err| Failure::new("reading the ranking tally", &err))
}

/// The key a verdict row is joined on (`device_id`, `time` ns, `operation`, `occurrence`).
type RowKey = (String, i64, String, i64);

/// The fleet's verdicts of its silent drops (round 4) by their rows' keys, from a table of
/// `device_id`, `time` (int64 ns or a timestamp), `operation`, `occurrence`, `cause`,
/// `confidence` and `rule`.
fn silent_verdict_map(df: &DataFrame) -> Result<FxHashMap<RowKey, (Cause, f64, Rule)>, Failure> {
    let bad = |err: &dyn std::error::Error| Failure::new("reading the silent drops' verdicts", err);
    let column = |name: &str, dtype: &DataType| {
        df.column(name)
            .and_then(|c| c.as_materialized_series().to_physical_repr().cast(dtype))
            .map_err(|err| bad(&err))
    };
    let (ids, times) = (column("device_id", &DataType::String)?, column("time", &DataType::Int64)?);
    let operations = column("operation", &DataType::String)?;
    let occurrences = column("occurrence", &DataType::Int64)?;
    let (causes, rules) = (column("cause", &DataType::String)?, column("rule", &DataType::String)?);
    let confidences = column("confidence", &DataType::Float64)?;
    let (ids, operations) =
        (ids.str().map_err(|err| bad(&err))?, operations.str().map_err(|err| bad(&err))?);
    let (times, occurrences) =
        (times.i64().map_err(|err| bad(&err))?, occurrences.i64().map_err(|err| bad(&err))?);
    let (causes, rules) =
        (causes.str().map_err(|err| bad(&err))?, rules.str().map_err(|err| bad(&err))?);
    let confidences = confidences.f64().map_err(|err| bad(&err))?;
    let missing = |what: &str| Failure::plain("reading the silent drops' verdicts", what);
    let mut map = FxHashMap::default();
    for row in 0..df.height() {
        let key = (
            ids.get(row).ok_or_else(|| missing("a row without a device_id"))?.to_owned(),
            times.get(row).ok_or_else(|| missing("a row without a time"))?,
            operations.get(row).ok_or_else(|| missing("a row without an operation"))?.to_owned(),
            occurrences.get(row).ok_or_else(|| missing("a row without an occurrence"))?,
        );
        let verdict = (
            causes
                .get(row)
                .and_then(Cause::parse)
                .ok_or_else(|| missing("a row without a known cause"))?,
            confidences
                .get(row)
                .filter(|c| (0.0..=1.0).contains(c))
                .ok_or_else(|| missing("a row without a confidence in [0, 1]"))?,
            rules
                .get(row)
                .and_then(rule_named)
                .ok_or_else(|| missing("a row without a known rule"))?,
        );
        map.insert(key, verdict);
    }
    Ok(map)
}

/// Phase 5 of `dropscope.spark.diagnose` on a part of the fleet (whole device ids, in input
/// order): its verdicts as `classify_part` decides them, each silent drop's replaced by the
/// fleet's (`silent`: round 4's verdicts, as `silent_verdict_map` reads them; every silent drop
/// of the part must be there), its offline time charged up to its hubs' last records in the
/// whole fleet (`hub_ends`, ns), and its ranking tally, as bytes.
#[pyfunction]
#[pyo3(signature = (events, stats, tally, silent, hub_ends, *, threads = None))]
#[expect(clippy::needless_pass_by_value, reason = "PyO3 extracts arguments as owned values")]
pub(crate) fn rank_part<'py>(
    py: Python<'py>,
    events: &Bound<'_, PyAny>,
    stats: &[u8],
    tally: &[u8],
    silent: &Bound<'_, PyAny>,
    hub_ends: BTreeMap<String, i64>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let df = arrow::import(events, "events")?;
    let silent = arrow::import(silent, "silent drops' verdicts")?;
    let bytes = run(py, threads, || {
        let (stats, tally) = (stats_of(stats)?, tally_of(tally)?);
        let fleet_verdicts = silent_verdict_map(&silent)?;
        let events = events_of(&df)?;
        drop(df);
        // As `dropscope_engine::analyse` does it: the sessions first, the classifier on their
        // device partition.
        let table = sessions::build_in(&events, Partition::of(&events));
        let config = ClassifyConfig::default();
        let (mut verdicts, drops) =
            fleet::decide(&events, &table.partition, &stats, &tally, &config);
        if !drops.is_empty() {
            let occurrence = occurrences_in(&events, &table.partition);
            for drop in &drops {
                let event = &events[drop.event];
                let key = (
                    event.device_id.as_str().to_owned(),
                    event.time.nanos(),
                    event.operation.as_str().to_owned(),
                    i64::from(occurrence[drop.event]),
                );
                let &(cause, confidence, rule) = fleet_verdicts.get(&key).ok_or_else(|| {
                    Failure::plain("ranking a part", "a silent drop the fleet's verdicts miss")
                })?;
                if let Ok(at) = verdicts.binary_search_by_key(&drop.event, Verdict::index) {
                    let verdict = &mut verdicts[at];
                    (verdict.cause, verdict.confidence, verdict.rule) = (cause, confidence, rule);
                }
            }
        }
        let offline = charge_offline_until(&events, &table, &verdicts, &hub_ends);
        Ok(RankTally::of(&events, &table, &verdicts, &offline).to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// Ranking tallies of disjoint parts, merged.
#[pyfunction]
#[expect(clippy::needless_pass_by_value, reason = "PyO3 extracts arguments as owned values")]
pub(crate) fn merge_rank_tallies(
    py: Python<'_>,
    parts: Vec<PyBackedBytes>,
) -> PyResult<Bound<'_, PyBytes>> {
    let bytes = run(py, Some(1), || {
        let parts = parts.iter().map(|part| rank_tally_of(part)).collect::<Result<Vec<_>, _>>()?;
        Ok(RankTally::merge_all(parts).to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// Each cause's sum of confidences (`sums`, one per cause in the taxonomy's order; `None` for
/// zeros) with `verdicts`' (`cause`, `confidence`) added in row order: fed the fleet's verdicts
/// in input order, batch after batch, the sums `dropscope diagnose` divides.
#[pyfunction]
#[pyo3(signature = (sums, verdicts))]
pub(crate) fn add_verdict_confidences(
    py: Python<'_>,
    sums: Option<Vec<f64>>,
    verdicts: &Bound<'_, PyAny>,
) -> PyResult<Vec<f64>> {
    let df = arrow::import(verdicts, "verdicts")?;
    let sums = run(py, Some(1), || {
        let mut out = [0.0; Cause::ALL.len()];
        if let Some(sums) = sums {
            out = sums
                .try_into()
                .map_err(|_| Failure::plain("summing the confidences", "not one sum per cause"))?;
        }
        let bad = |err: &dyn std::error::Error| Failure::new("reading the verdicts", err);
        let column = |name: &str, dtype: &DataType| {
            df.column(name)
                .and_then(|c| c.as_materialized_series().cast(dtype))
                .map_err(|err| bad(&err))
        };
        let (causes, confidences) =
            (column("cause", &DataType::String)?, column("confidence", &DataType::Float64)?);
        let (causes, confidences) =
            (causes.str().map_err(|err| bad(&err))?, confidences.f64().map_err(|err| bad(&err))?);
        let missing = |what: &str| Failure::plain("reading the verdicts", what);
        let mut rows = Vec::with_capacity(df.height());
        for (cause, confidence) in causes.iter().zip(confidences.iter()) {
            let cause = cause.and_then(Cause::parse).ok_or_else(|| missing("an unknown cause"))?;
            rows.push((
                cause,
                confidence.ok_or_else(|| missing("a verdict without a confidence"))?,
            ));
        }
        add_confidences(&mut out, rows);
        Ok(out.to_vec())
    })?;
    Ok(sums)
}

/// The ranking `dropscope diagnose --json` prints, from the fleet's merged ranking tally and
/// each cause's sum of confidences in input order (`add_verdict_confidences`; `None` for no
/// verdict at all).
#[pyfunction]
pub(crate) fn diagnose_tally(
    py: Python<'_>,
    tally: &[u8],
    sums: Option<Vec<f64>>,
) -> PyResult<String> {
    Ok(run(py, Some(1), || {
        let tally = rank_tally_of(tally)?;
        let sums: [f64; Cause::ALL.len()] = sums
            .unwrap_or_else(|| vec![0.0; Cause::ALL.len()])
            .try_into()
            .map_err(|_| Failure::plain("ranking the causes", "not one sum per cause"))?;
        Ok(dropscope_report::render_causes_json(&tally.findings(&sums)))
    })?)
}
