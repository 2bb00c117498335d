//! The classifier's rounds on parts of the fleet (`dropscope_engine::classify::fleet`), for
//! `dropscope.spark`: each round's statistics of a part as bytes (the engine's versioned binary
//! form, to merge and broadcast), a part's verdicts with its silent drops, and the silent drops'
//! verdicts from the whole fleet's.
//!
//! A part is an events table holding all the records of each of its devices, in input order; for
//! `classify_part` it holds all the records of each of its device ids (the `occurrence` column
//! counts a device id's records across its hubs and modules).

use dropscope_engine::classify::fleet::{self, FleetStats, FleetTally, SilentDrop};
use dropscope_engine::classify::{ClassifyConfig, Rule};
use dropscope_engine::evaluate::occurrences_in;
use dropscope_engine::partition::Partition;
use dropscope_logs::labels::write_predictions;
use dropscope_model::Cause;
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
        let event = |v: &dropscope_engine::classify::Verdict| &events[v.index()];
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

/// Every rule, to read one back from its name ([`Rule::name`]): `rule_named`, and a match that
/// stops compiling when the engine adds a rule not listed here.
macro_rules! every_rule {
    ($($rule:ident),+ $(,)?) => {
        /// The rule [`Rule::name`] calls `name`.
        fn rule_named(name: &str) -> Option<Rule> {
            [$(Rule::$rule),+].into_iter().find(|rule| rule.name() == name)
        }

        const _: fn(Rule) = |rule| match rule {
            $(Rule::$rule)|+ => {}
        };
    };
}

every_rule!(
    HubTokenExpiry,
    TokenRenewalPair,
    PeriodicRenewal,
    RenewalPhase,
    UnseenRenewal,
    ExpiredWithoutReturn,
    CredentialsRejected,
    OneOffAuthReject,
    UpgradeClose,
    ServerFault,
    ReconnectWaveThrottle,
    SharedNetworkBurst,
    FleetWideBurst,
    IsolatedSilence,
    IdentityAlternation,
    RepeatedConflict,
    ConflictAfterError,
    LoneConflict,
    CleanClose,
    StateChangeRenewal,
    StateChangeQuickReturn,
    StateChangeSilence,
    StateChangeBurst,
    StateChangeOnly,
    UnrecognisedCode,
);

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
