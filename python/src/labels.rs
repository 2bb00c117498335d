//! Labels and predictions as tables: the columns of `labels.csv` and `predictions.csv`
//! (dropscope-logs' `labels` module: `device_id`, `time`, `operation`, `occurrence`, `cause`, and
//! `confidence` for predictions), with `time` an instant (`timestamp[ns, UTC]`) rather than text.
//!
//! Reading a table checks each row as `parse_labels` checks a CSV line, with the same reasons; a
//! row is named by its 1-based number, since a table has no lines.

use dropscope_logs::labels::LABEL_COLUMNS;
use dropscope_model::{Cause, Label, Operation, Timestamp};
use polars::prelude::{
    Column, DataFrame, DataType, Int64Chunked, IntoColumn, NamedFrom, PolarsResult, Series,
    TimeUnit, TimeZone,
};

/// The table of `labels`, with a `confidence` column when `with_confidence`.
pub(crate) fn to_df(labels: &[Label], with_confidence: bool) -> PolarsResult<DataFrame> {
    let [device_id, time, operation, occurrence, cause] = LABEL_COLUMNS;
    let mut columns: Vec<Column> = vec![
        Series::new(
            device_id.into(),
            labels.iter().map(|l| l.device_id.as_str()).collect::<Vec<_>>(),
        )
        .into_column(),
        Int64Chunked::from_vec(time.into(), labels.iter().map(|l| l.time.nanos()).collect())
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
            .into_column(),
        Series::new(
            operation.into(),
            labels.iter().map(|l| l.operation.as_str()).collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new(occurrence.into(), labels.iter().map(|l| l.occurrence).collect::<Vec<_>>())
            .into_column(),
        Series::new(cause.into(), labels.iter().map(|l| l.cause.as_str()).collect::<Vec<_>>())
            .into_column(),
    ];
    if with_confidence {
        columns.push(
            Series::new(
                "confidence".into(),
                labels.iter().map(|l| l.confidence).collect::<Vec<Option<f64>>>(),
            )
            .into_column(),
        );
    }
    DataFrame::new(labels.len(), columns)
}

/// The labels of a table with the label columns (found by name; others are ignored). `time` is
/// a timestamp or RFC 3339 text; `confidence`, when present, is a number in [0, 1] or null.
pub(crate) fn from_df(df: &DataFrame) -> Result<Vec<Label>, String> {
    let column = |name: &str| {
        df.column(name)
            .map_err(|_| format!("missing column `{name}` (expected {})", LABEL_COLUMNS.join(",")))
    };
    let [device_name, time_name, operation_name, occurrence_name, cause_name] = LABEL_COLUMNS;
    let text = |name: &str| -> Result<Series, String> {
        column(name)?
            .as_materialized_series()
            .cast(&DataType::String)
            .map_err(|err| format!("column `{name}` is not text: {err}"))
    };
    let device = text(device_name)?;
    let operation = text(operation_name)?;
    let cause = text(cause_name)?;
    let time_column = column(time_name)?.as_materialized_series();
    // A time without a zone is taken as UTC, as the logs' times are.
    let times: Vec<Option<Result<Timestamp, String>>> = if let DataType::Datetime(_, zone) =
        time_column.dtype()
    {
        let nanos = time_column
            .cast(&DataType::Datetime(TimeUnit::Nanoseconds, zone.clone()))
            .and_then(|s| s.to_physical_repr().into_owned().cast(&DataType::Int64))
            .map_err(|err| format!("column `time`: {err}"))?;
        let nanos = nanos.i64().map_err(|err| format!("column `time`: {err}"))?;
        nanos.iter().map(|n| n.map(|n| Ok(Timestamp(n)))).collect()
    } else {
        let texts = text(time_name)?;
        let texts = texts.str().map_err(|err| format!("column `time`: {err}"))?;
        texts
            .iter()
            .map(|t| {
                t.map(|t| {
                    Timestamp::parse_rfc3339(t.trim()).map_err(|err| format!("time `{t}`: {err}"))
                })
            })
            .collect()
    };
    let occurrence = column(occurrence_name)?
        .as_materialized_series()
        .strict_cast(&DataType::UInt32)
        .map_err(|err| format!("column `occurrence` is not a count: {err}"))?;
    let occurrence = occurrence.u32().map_err(|err| err.to_string())?;
    let confidence = match df.column("confidence") {
        Err(_) => None,
        Ok(c) => Some(
            c.as_materialized_series()
                .strict_cast(&DataType::Float64)
                .map_err(|err| format!("column `confidence` is not a number: {err}"))?,
        ),
    };
    let confidence = confidence.as_ref().map(|s| s.f64()).transpose().map_err(|e| e.to_string())?;
    let (device, operation, cause) = (
        device.str().map_err(|e| e.to_string())?,
        operation.str().map_err(|e| e.to_string())?,
        cause.str().map_err(|e| e.to_string())?,
    );
    let mut labels = Vec::with_capacity(df.height());
    for (row_idx, time) in times.into_iter().enumerate() {
        let row = row_idx + 1;
        let at = |reason: String| format!("row {row}: {reason}");
        let device_id = device.get(row_idx).map_or("", str::trim);
        if device_id.is_empty() {
            return Err(at("empty device_id".to_owned()));
        }
        let time = time.ok_or_else(|| at("empty time".to_owned()))?.map_err(at)?;
        let operation = match operation.get(row_idx).map_or("", str::trim) {
            "connect" => Operation::Connect,
            "disconnect" => Operation::Disconnect,
            other => {
                return Err(at(format!(
                    "operation `{other}` is neither `connect` nor `disconnect`"
                )));
            }
        };
        let occurrence =
            occurrence.get(row_idx).ok_or_else(|| at("occurrence `` is not a count".to_owned()))?;
        let cause_text = cause.get(row_idx).map_or("", str::trim);
        let cause = Cause::parse(&cause_text.to_ascii_lowercase())
            .ok_or_else(|| at(format!("unknown cause `{cause_text}`")))?;
        let confidence = match confidence.and_then(|c| c.get(row_idx)) {
            None => None,
            Some(value) if (0.0..=1.0).contains(&value) => Some(value),
            Some(value) => return Err(at(format!("confidence `{value}` is not in [0, 1]"))),
        };
        labels.push(Label {
            device_id: device_id.to_owned(),
            time,
            operation,
            occurrence,
            cause,
            confidence,
        });
    }
    Ok(labels)
}
