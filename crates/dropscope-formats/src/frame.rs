//! The polars boundary: events and sessions <-> DataFrame, and the table files dropscope writes
//! (Parquet, Arrow IPC / Feather v2, CSV, JSON Lines), chosen by the output's extension.
//!
//! The DataFrames follow DESIGN.md "The columnar model": `time` is `Datetime(ns, UTC)`, the
//! low-cardinality strings (`hub`, `operation`, `level`, `protocol`) are categorical, codes are
//! `u32`. Parquet and Arrow files written here open as they are in pandas/pyarrow, DuckDB and polars.

use std::fs::File;
use std::io::{BufWriter, Cursor, Write};
use std::path::{Path, PathBuf};

use dropscope_model::{Event, Level, Operation, Session, Timestamp, columns};
use polars::prelude::*;

use crate::{Error, Result};

/// A table file format, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// `.parquet`.
    Parquet,
    /// `.arrow`, `.feather`, `.ipc`.
    ArrowIpc,
    /// `.csv`.
    Csv,
    /// `.jsonl`, `.ndjson`.
    JsonLines,
}

impl TableFormat {
    /// The format a path's extension names, if any.
    pub fn from_path(path: &Path) -> Option<TableFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" | "pq" => Some(TableFormat::Parquet),
            "arrow" | "feather" | "ipc" => Some(TableFormat::ArrowIpc),
            "csv" => Some(TableFormat::Csv),
            "jsonl" | "ndjson" => Some(TableFormat::JsonLines),
            _ => None,
        }
    }
}

fn categorical() -> DataType {
    DataType::from_categories(Categories::global())
}

fn opt_strs<'a>(
    events: &'a [Event],
    field: impl Fn(&'a Event) -> Option<&'a str>,
) -> Vec<Option<&'a str>> {
    events.iter().map(field).collect()
}

fn string_column(name: &str, values: Vec<Option<&str>>) -> Column {
    Series::new(name.into(), values).into_column()
}

fn categorical_column(name: &str, values: Vec<Option<&str>>) -> PolarsResult<Column> {
    Series::new(name.into(), values).cast(&categorical()).map(IntoColumn::into_column)
}

fn time_column(name: &str, values: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
        .into_column()
}

/// The events table as a DataFrame, with the columns of [`columns::EVENT_COLUMNS`] in order.
pub fn events_to_df(events: &[Event]) -> PolarsResult<DataFrame> {
    let time = time_column(columns::TIME, events.iter().map(|e| Some(e.time.nanos())).collect());
    let cols = vec![
        time,
        categorical_column(columns::HUB, opt_strs(events, |e| Some(e.hub.as_str())))?,
        string_column(columns::DEVICE_ID, opt_strs(events, |e| Some(e.device_id.as_str()))),
        string_column(columns::MODULE_ID, opt_strs(events, |e| e.module_id.as_deref())),
        categorical_column(columns::OPERATION, opt_strs(events, |e| Some(e.operation.as_str())))?,
        categorical_column(columns::LEVEL, opt_strs(events, |e| Some(e.level.as_str())))?,
        Series::new(
            columns::RESULT_TYPE.into(),
            events.iter().map(|e| e.result_type).collect::<Vec<_>>(),
        )
        .into_column(),
        string_column(
            columns::RESULT_DESCRIPTION,
            opt_strs(events, |e| e.result_description.as_deref()),
        ),
        categorical_column(columns::PROTOCOL, opt_strs(events, |e| e.protocol.as_deref()))?,
        string_column(columns::MASKED_IP, opt_strs(events, |e| e.masked_ip.as_deref())),
        string_column(columns::SDK_VERSION, opt_strs(events, |e| e.sdk_version.as_deref())),
        string_column(columns::AUTH_TYPE, opt_strs(events, |e| e.auth_type.as_deref())),
        string_column(columns::STATUS_CODE, opt_strs(events, |e| e.status_code.as_deref())),
        Series::new(columns::SOURCE.into(), events.iter().map(|e| e.source).collect::<Vec<_>>())
            .into_column(),
        Series::new(
            columns::SOURCE_LINE.into(),
            events.iter().map(|e| e.source_line).collect::<Vec<_>>(),
        )
        .into_column(),
        string_column(columns::SEQ, opt_strs(events, |e| e.seq.as_deref())),
    ];
    DataFrame::new(events.len(), cols)
}

/// Reads a column as optional strings, whatever string-like type it has (String, Categorical).
fn strings(df: &DataFrame, name: &str) -> std::result::Result<Vec<Option<String>>, String> {
    let column = df.column(name).map_err(|_| format!("no column `{name}`"))?;
    let s = column
        .as_materialized_series()
        .cast(&DataType::String)
        .map_err(|err| format!("column `{name}` is not text: {err}"))?;
    let ca = s.str().map_err(|err| format!("column `{name}`: {err}"))?;
    Ok(ca.iter().map(|v| v.map(str::to_owned)).collect())
}

fn optional_strings(
    df: &DataFrame,
    name: &str,
) -> std::result::Result<Vec<Option<String>>, String> {
    if df.column(name).is_err() {
        return Ok(vec![None; df.height()]);
    }
    strings(df, name)
}

fn integers(df: &DataFrame, name: &str) -> std::result::Result<Vec<Option<i64>>, String> {
    let Ok(column) = df.column(name) else {
        return Ok(vec![None; df.height()]);
    };
    let s = column.as_materialized_series();
    let s = match s.dtype() {
        DataType::Datetime(unit, _) if *unit != TimeUnit::Nanoseconds => s
            .cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))
            .map_err(|err| format!("column `{name}`: {err}"))?,
        _ => s.clone(),
    };
    let s =
        s.cast(&DataType::Int64).map_err(|err| format!("column `{name}` is not numeric: {err}"))?;
    let ca = s.i64().map_err(|err| format!("column `{name}`: {err}"))?;
    Ok(ca.iter().collect())
}

/// The events of an events DataFrame (as [`events_to_df`] writes it), attributed to `source`;
/// `source_line` is the 1-based row. Rows with a null time, device or operation are an error:
/// dropscope never writes them.
pub fn df_to_events(df: &DataFrame, source: u32) -> std::result::Result<Vec<Event>, String> {
    let time = integers(df, columns::TIME)?;
    let hub = strings(df, columns::HUB)?;
    let device = strings(df, columns::DEVICE_ID)?;
    let module = optional_strings(df, columns::MODULE_ID)?;
    let operation = strings(df, columns::OPERATION)?;
    let level = optional_strings(df, columns::LEVEL)?;
    let result_type = integers(df, columns::RESULT_TYPE)?;
    let description = optional_strings(df, columns::RESULT_DESCRIPTION)?;
    let protocol = optional_strings(df, columns::PROTOCOL)?;
    let masked_ip = optional_strings(df, columns::MASKED_IP)?;
    let sdk = optional_strings(df, columns::SDK_VERSION)?;
    let auth = optional_strings(df, columns::AUTH_TYPE)?;
    let status = optional_strings(df, columns::STATUS_CODE)?;
    let seq = optional_strings(df, columns::SEQ)?;
    let mut events = Vec::with_capacity(df.height());
    for row_idx in 0..df.height() {
        let row = row_idx + 1;
        let time = time[row_idx].ok_or_else(|| format!("row {row}: null time"))?;
        let device_id =
            device[row_idx].clone().ok_or_else(|| format!("row {row}: null device_id"))?;
        let operation = operation[row_idx]
            .as_deref()
            .and_then(Operation::parse)
            .ok_or_else(|| format!("row {row}: bad operation"))?;
        let level = match level[row_idx].as_deref() {
            None => Level::Information,
            Some(text) => {
                Level::parse(text).ok_or_else(|| format!("row {row}: bad level {text:?}"))?
            }
        };
        let result_type = match result_type[row_idx] {
            None => None,
            Some(code) => Some(
                u32::try_from(code).map_err(|_| format!("row {row}: bad result_type {code}"))?,
            ),
        };
        events.push(Event {
            time: Timestamp(time),
            hub: hub[row_idx].clone().unwrap_or_default(),
            device_id,
            module_id: module[row_idx].clone(),
            operation,
            level,
            result_type,
            result_description: description[row_idx].clone(),
            protocol: protocol[row_idx].clone(),
            masked_ip: masked_ip[row_idx].clone(),
            sdk_version: sdk[row_idx].clone(),
            auth_type: auth[row_idx].clone(),
            status_code: status[row_idx].clone(),
            source,
            source_line: row as u64,
            seq: seq[row_idx].clone(),
        });
    }
    Ok(events)
}

/// Reads an events table from the bytes of a Parquet or Arrow IPC file written by dropscope.
pub fn read_events(bytes: &[u8], source: u32) -> Result<Vec<Event>> {
    let path = PathBuf::from(format!("input #{source}"));
    let df = if bytes.starts_with(b"PAR1") {
        ParquetReader::new(Cursor::new(bytes)).finish().map_err(|source| Error::Columnar {
            what: "reading Parquet",
            path: path.clone(),
            source,
        })?
    } else {
        IpcReader::new(Cursor::new(bytes)).finish().map_err(|source| Error::Columnar {
            what: "reading Arrow IPC",
            path: path.clone(),
            source,
        })?
    };
    df_to_events(&df, source).map_err(|reason| Error::Schema { path, reason })
}

/// Writes events as a Parquet file.
pub fn write_events_parquet(path: &Path, events: &[Event]) -> Result<()> {
    let mut df = events_to_df(events).map_err(|source| Error::Columnar {
        what: "building",
        path: path.to_owned(),
        source,
    })?;
    write_df(path, &mut df, TableFormat::Parquet)
}

/// Writes events as an Arrow IPC (Feather v2) file.
pub fn write_events_ipc(path: &Path, events: &[Event]) -> Result<()> {
    let mut df = events_to_df(events).map_err(|source| Error::Columnar {
        what: "building",
        path: path.to_owned(),
        source,
    })?;
    write_df(path, &mut df, TableFormat::ArrowIpc)
}

/// Writes the events table to `path` in the format its extension names.
pub fn write_events(path: &Path, events: &[Event]) -> Result<()> {
    let format = table_format(path)?;
    let mut df = events_to_df(events).map_err(|source| Error::Columnar {
        what: "building",
        path: path.to_owned(),
        source,
    })?;
    write_df(path, &mut df, format)
}

/// The sessions table as a DataFrame, with the columns of [`columns::SESSION_COLUMNS`].
pub fn sessions_to_df(sessions: &[Session]) -> PolarsResult<DataFrame> {
    let n_rows = sessions.len();
    let strs = |field: &dyn Fn(&Session) -> Option<&str>| -> Vec<Option<&str>> {
        sessions.iter().map(field).collect()
    };
    let cols = vec![
        string_column("device_id", strs(&|s| Some(s.device_id.as_str()))),
        string_column("module_id", strs(&|s| s.module_id.as_deref())),
        Series::new("session_id".into(), sessions.iter().map(|s| s.session_id).collect::<Vec<_>>())
            .into_column(),
        time_column(
            "connect_time",
            sessions.iter().map(|s| s.connect_time.map(Timestamp::nanos)).collect(),
        ),
        time_column(
            "disconnect_time",
            sessions.iter().map(|s| s.disconnect_time.map(Timestamp::nanos)).collect(),
        ),
        duration_column("duration", sessions.iter().map(|s| s.duration_ns).collect()),
        categorical_column("protocol", strs(&|s| s.protocol.as_deref()))?,
        string_column("masked_ip", strs(&|s| s.masked_ip.as_deref())),
        string_column("sdk_version", strs(&|s| s.sdk_version.as_deref())),
        Series::new(
            "end_result_type".into(),
            sessions.iter().map(|s| s.end_result_type).collect::<Vec<_>>(),
        )
        .into_column(),
        categorical_column("end_level", strs(&|s| s.end_level.map(Level::as_str)))?,
        duration_column("gap_before", sessions.iter().map(|s| s.gap_before_ns).collect()),
        Series::new(
            "failed_connects_before".into(),
            sessions.iter().map(|s| s.failed_connects_before).collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new("overlap".into(), sessions.iter().map(|s| s.overlap).collect::<Vec<_>>())
            .into_column(),
        string_column(
            "repaired",
            sessions
                .iter()
                .map(|s| s.repaired)
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(|r| Some(r.as_str()))
                .collect(),
        ),
        categorical_column("hub", strs(&|s| Some(s.hub.as_str())))?,
    ];
    DataFrame::new(n_rows, cols)
}

fn duration_column(name: &str, values: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_duration(TimeUnit::Nanoseconds)
        .into_column()
}

/// Writes the sessions table to `path` in the format its extension names.
pub fn write_sessions(path: &Path, sessions: &[Session]) -> Result<()> {
    let format = table_format(path)?;
    let mut df = sessions_to_df(sessions).map_err(|source| Error::Columnar {
        what: "building",
        path: path.to_owned(),
        source,
    })?;
    write_df(path, &mut df, format)
}

fn table_format(path: &Path) -> Result<TableFormat> {
    TableFormat::from_path(path).ok_or_else(|| Error::Schema {
        path: path.to_owned(),
        reason: "the output's extension must be .parquet, .arrow, .csv or .jsonl".to_owned(),
    })
}

/// Writes any DataFrame in `format`. CSV and JSON Lines render timestamps as RFC 3339 and
/// durations as seconds; CSV cells that a spreadsheet would run as a formula are guarded.
pub fn write_df(path: &Path, df: &mut DataFrame, format: TableFormat) -> Result<()> {
    let write_err = |source| Error::Write { path: path.to_owned(), source };
    let file = File::create(path).map_err(write_err)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let columnar_err = |what, source| Error::Columnar { what, path: path.to_owned(), source };
    match format {
        TableFormat::Parquet => {
            ParquetWriter::new(&mut out)
                .finish(df)
                .map_err(|e| columnar_err("writing Parquet", e))?;
        }
        TableFormat::ArrowIpc => {
            IpcWriter::new(&mut out)
                .finish(df)
                .map_err(|e| columnar_err("writing Arrow IPC", e))?;
        }
        TableFormat::Csv => write_text_table(&mut out, df, false).map_err(write_err)?,
        TableFormat::JsonLines => write_text_table(&mut out, df, true).map_err(write_err)?,
    }
    out.flush().map_err(write_err)
}

/// A cell value rendered as text: `None` for null.
fn cell_texts(column: &Column) -> std::io::Result<Vec<Option<String>>> {
    let s = column.as_materialized_series();
    let to_io = |err: PolarsError| std::io::Error::other(err.to_string());
    let texts = match s.dtype() {
        DataType::Datetime(_, _) => {
            let ns = s.cast(&DataType::Datetime(TimeUnit::Nanoseconds, None)).map_err(to_io)?;
            let ns = ns.cast(&DataType::Int64).map_err(to_io)?;
            ns.i64()
                .map_err(to_io)?
                .iter()
                .map(|v| v.map(|t| Timestamp(t).to_rfc3339_exact()))
                .collect()
        }
        DataType::Duration(_) => {
            let ns = s.cast(&DataType::Duration(TimeUnit::Nanoseconds)).map_err(to_io)?;
            let ns = ns.cast(&DataType::Int64).map_err(to_io)?;
            ns.i64().map_err(to_io)?.iter().map(|v| v.map(format_seconds)).collect()
        }
        _ => {
            let text = s.cast(&DataType::String).map_err(to_io)?;
            text.str().map_err(to_io)?.iter().map(|v| v.map(str::to_owned)).collect()
        }
    };
    Ok(texts)
}

/// Nanoseconds as decimal seconds, without trailing zeros (`61.5`).
fn format_seconds(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    if frac == 0 {
        return secs.to_string();
    }
    let frac = format!("{frac:09}");
    format!("{secs}.{}", frac.trim_end_matches('0'))
}

fn write_text_table(out: &mut dyn Write, df: &DataFrame, json: bool) -> std::io::Result<()> {
    let names: Vec<String> = df.get_column_names().iter().map(ToString::to_string).collect();
    let mut cols = Vec::with_capacity(names.len());
    let mut numeric = Vec::with_capacity(names.len());
    for column in df.columns() {
        numeric.push(column.dtype().is_primitive_numeric() || column.dtype().is_bool());
        cols.push(cell_texts(column)?);
    }
    if json {
        let mut line = Vec::with_capacity(512);
        for row_idx in 0..df.height() {
            line.clear();
            line.push(b'{');
            for (col_idx, (name, col)) in names.iter().zip(&cols).enumerate() {
                if col_idx > 0 {
                    line.push(b',');
                }
                crate::write::push_json_str(&mut line, name);
                line.push(b':');
                match &col[row_idx] {
                    None => line.extend_from_slice(b"null"),
                    Some(text) if numeric[col_idx] => line.extend_from_slice(text.as_bytes()),
                    Some(text) => crate::write::push_json_str(&mut line, text),
                }
            }
            line.extend_from_slice(b"}\n");
            out.write_all(&line)?;
        }
        return Ok(());
    }
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(&names)?;
    let mut record = Vec::with_capacity(names.len());
    for row_idx in 0..df.height() {
        record.clear();
        for (col_idx, col) in cols.iter().enumerate() {
            let text = col[row_idx].as_deref().unwrap_or("");
            record.push(if numeric[col_idx] { text.to_owned() } else { spreadsheet_safe(text) });
        }
        writer.write_record(&record)?;
    }
    writer.flush()
}

/// Guards a CSV cell against spreadsheet formula injection: a cell starting with `=`, `+`, `-`,
/// `@`, tab or carriage return gets a leading `'` (OWASP's advice), so it is shown as text.
pub fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use dropscope_model::Repairs;
    use proptest::prelude::*;

    use super::*;

    fn events_round_trip(events: &[Event], format: TableFormat) -> Vec<Event> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join(match format {
            TableFormat::Parquet => "e.parquet",
            _ => "e.arrow",
        });
        write_events(&path, events).expect("write");
        let bytes = std::fs::read(&path).expect("read back");
        read_events(&bytes, 0).expect("parse back")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn parquet_and_arrow_round_trip(events in proptest::collection::vec(dropscope_model::proptest::event(), 0..40)) {
            let expected: Vec<Event> = events
                .iter()
                .enumerate()
                .map(|(idx, e)| Event { source_line: idx as u64 + 1, ..e.clone() })
                .collect();
            for format in [TableFormat::Parquet, TableFormat::ArrowIpc] {
                prop_assert_eq!(&events_round_trip(&events, format), &expected);
            }
        }
    }

    #[test]
    fn sessions_write_as_csv_with_rfc3339_and_seconds() {
        let session = Session {
            hub: "hub".to_owned(),
            device_id: "=HYPERLINK(\"x\")".to_owned(),
            module_id: None,
            session_id: 0,
            connect_time: Some(Timestamp::from_secs(60)),
            disconnect_time: Some(Timestamp::from_secs(121)),
            duration_ns: Some(61_500_000_000),
            protocol: Some("Mqtt".to_owned()),
            masked_ip: None,
            sdk_version: None,
            end_result_type: Some(404_104),
            end_level: Some(Level::Error),
            gap_before_ns: None,
            failed_connects_before: 2,
            overlap: false,
            repaired: Repairs::MISSING_CONNECT,
        };
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("s.csv");
        write_sessions(&path, &[session]).expect("write");
        let text = std::fs::read_to_string(&path).expect("read back");
        assert_eq!(
            text,
            "device_id,module_id,session_id,connect_time,disconnect_time,duration,protocol,masked_ip,sdk_version,end_result_type,end_level,gap_before,failed_connects_before,overlap,repaired,hub\n\
             \"'=HYPERLINK(\"\"x\"\")\",,0,1970-01-01T00:01:00Z,1970-01-01T00:02:01Z,61.5,Mqtt,,,404104,Error,,2,false,missing_connect,hub\n"
        );
    }
}
