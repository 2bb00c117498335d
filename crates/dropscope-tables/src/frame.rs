//! The polars boundary: events and sessions <-> DataFrame, and the table files dropscope writes
//! (Parquet, Arrow IPC / Feather v2, CSV, JSON Lines), chosen by the output's extension.
//!
//! The DataFrames follow docs/DESIGN.md "The columnar model": `time` is `Datetime(ns, UTC)`, every
//! repeated text (hub, device, module, operation, level, result description, protocol, IP prefix,
//! SDK, auth type, status code, repairs) is categorical, codes are `u32`; only Event Grid's
//! sequence number, unique per record, is a plain string. A log of millions of records holds a
//! few thousand distinct texts, so categorical columns are what the events already are in memory
//! ([`Sym`]s): each distinct text is converted once, both ways, not once per row. Parquet and Arrow
//! files written here open as they are in pandas/pyarrow (as `category`), DuckDB and polars.
//!
//! This is the path every table format shares, but not the one Parquet takes when speed
//! matters: Parquet is written from the rows (`parquet_direct`) and read into events
//! (`parquet_read`) without a DataFrame, and a Parquet input comes this way only when
//! `parquet_read` declines it.
//! polars' readers panic on some corrupt files (a mangled footer, for one): [`read_events`]
//! catches such a panic and reports a corrupt file, so no input stops the program.

use std::collections::hash_map::Entry;
use std::fs::File;
use std::io::{BufWriter, Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use dropscope_model::{
    Event, FxHashMap, Level, Operation, ResultCode, SeqNo, Session, Sym, Timestamp, columns,
};
use polars::prelude::*;
use rayon::prelude::*;

use crate::parquet_direct::Columns;
use crate::schema::{MAX_TIME_NS, MIN_TIME_NS, Names, categorical};
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
    /// What an output path must end with, for error messages.
    pub const EXTENSIONS_RULE: &str =
        "the output's extension must be .parquet, .arrow, .csv or .jsonl";

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

fn opt_strs<'a>(
    events: &'a [Event],
    field: impl Fn(&'a Event) -> Option<&'a str>,
) -> Vec<Option<&'a str>> {
    events.iter().map(field).collect()
}

fn string_column(name: &str, values: Vec<Option<&str>>) -> Column {
    Series::new(name.into(), values).into_column()
}

/// A categorical column of interned texts: each distinct text enters polars' mapping once (a
/// handle -> category table), not once per row.
fn sym_column(name: &str, values: impl Iterator<Item = Option<Sym>>) -> PolarsResult<Column> {
    let dtype = categorical();
    let DataType::Categorical(_, mapping) = &dtype else {
        unreachable!("categorical() is a categorical type")
    };
    let mut cats: FxHashMap<u32, u32> = FxHashMap::default();
    // Runs of one value (a hub, a protocol, "connect") skip the table.
    let mut last: Option<(Sym, u32)> = None;
    let mut ids: Vec<Option<u32>> = Vec::with_capacity(values.size_hint().0);
    for value in values {
        ids.push(match (value, last) {
            (None, _) => None,
            (Some(sym), Some((last_sym, cat))) if sym == last_sym => Some(cat),
            (Some(sym), _) => {
                let cat = match cats.entry(sym.handle()) {
                    Entry::Occupied(entry) => *entry.get(),
                    Entry::Vacant(entry) => *entry.insert(mapping.insert_cat(sym.as_str())?),
                };
                last = Some((sym, cat));
                Some(cat)
            }
        });
    }
    let ids = UInt32Chunked::from_iter_options(name.into(), ids.into_iter());
    Ok(Categorical32Chunked::from_cats_and_dtype(ids, dtype).into_series().into_column())
}

fn time_column(name: &str, values: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
        .into_column()
}

/// The events table as a DataFrame, with the columns of [`columns::EVENT_COLUMNS`] in order.
pub fn events_to_df(events: &[Event]) -> PolarsResult<DataFrame> {
    let names = Names::new();
    let time = time_column(columns::TIME, events.iter().map(|e| Some(e.time.nanos())).collect());
    let cols = vec![
        time,
        sym_column(columns::HUB, events.iter().map(|e| Some(e.hub)))?,
        sym_column(columns::DEVICE_ID, events.iter().map(|e| Some(e.device_id)))?,
        sym_column(columns::MODULE_ID, events.iter().map(|e| e.module_id))?,
        sym_column(columns::OPERATION, events.iter().map(|e| Some(names.operation(e.operation))))?,
        sym_column(columns::LEVEL, events.iter().map(|e| Some(names.level(e.level))))?,
        Series::new(
            columns::RESULT_TYPE.into(),
            events.iter().map(Event::code).collect::<Vec<_>>(),
        )
        .into_column(),
        sym_column(columns::RESULT_DESCRIPTION, events.iter().map(|e| e.result_description))?,
        sym_column(columns::PROTOCOL, events.iter().map(|e| e.protocol))?,
        sym_column(columns::MASKED_IP, events.iter().map(|e| e.masked_ip))?,
        sym_column(columns::SDK_VERSION, events.iter().map(|e| e.sdk_version))?,
        sym_column(columns::AUTH_TYPE, events.iter().map(|e| e.auth_type))?,
        sym_column(columns::STATUS_CODE, events.iter().map(|e| e.status_code))?,
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

/// One text column's values by row: plain strings read in place, or a categorical column's
/// values interned (each category once, then a 4-byte handle a row).
enum Texts {
    Missing,
    Plain(StringChunked),
    Interned(Vec<Option<Sym>>),
}

impl Texts {
    /// The column `name` of `df` (whatever string-like type it has), or [`Texts::Missing`] when
    /// it is absent and not `required`.
    fn of(df: &DataFrame, name: &str, required: bool) -> std::result::Result<Texts, String> {
        let Ok(column) = df.column(name) else {
            return if required { Err(format!("no column `{name}`")) } else { Ok(Texts::Missing) };
        };
        let s = column.as_materialized_series();
        let err = |err: PolarsError| format!("column `{name}`: {err}");
        if let DataType::Categorical(_, mapping) | DataType::Enum(_, mapping) = s.dtype() {
            let codes = s.to_physical_repr().cast(&DataType::UInt32).map_err(err)?;
            let codes = codes.u32().map_err(err)?;
            // The interned text of each category that occurs, by code.
            let mut by_code: Vec<Option<Sym>> = vec![None; mapping.num_cats_upper_bound()];
            let mut rows = Vec::with_capacity(codes.len());
            for code in codes.iter() {
                rows.push(code.and_then(|code| {
                    let at = code as usize;
                    if at >= by_code.len() {
                        by_code.resize(at + 1, None);
                    }
                    if by_code[at].is_none() {
                        by_code[at] = mapping.cat_to_str(code).map(Sym::new);
                    }
                    by_code[at]
                }));
            }
            return Ok(Texts::Interned(rows));
        }
        let s = s
            .cast(&DataType::String)
            .map_err(|err| format!("column `{name}` is not text: {err}"))?;
        Ok(Texts::Plain(s.str().map_err(err)?.rechunk().into_owned()))
    }

    /// The value at `row` (below the frame's height).
    fn get(&self, row: usize) -> Option<&str> {
        match self {
            Texts::Missing => None,
            Texts::Plain(ca) => ca.get(row),
            Texts::Interned(rows) => rows.get(row).copied().flatten().map(Sym::as_str),
        }
    }

    /// The value at `row`, interned.
    fn sym(&self, row: usize) -> Option<Sym> {
        match self {
            Texts::Missing => None,
            Texts::Plain(ca) => ca.get(row).map(Sym::new),
            Texts::Interned(rows) => rows.get(row).copied().flatten(),
        }
    }
}

/// An integer (or datetime) column as `i64`, nanoseconds for datetimes; `None` when absent.
fn integers(df: &DataFrame, name: &str) -> std::result::Result<Option<Int64Chunked>, String> {
    let Ok(column) = df.column(name) else {
        return Ok(None);
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
    Ok(Some(ca.rechunk().into_owned()))
}

/// The event field a column fills.
type TextField = fn(&mut Event, &Texts, usize);

/// The optional text fields of [`Event`] other than the module, each filled from one column
/// after the events exist (so only one such column is in memory at a time).
const TEXT_FIELDS: [(&str, TextField); 7] = [
    (columns::RESULT_DESCRIPTION, |e, t, row| e.result_description = t.sym(row)),
    (columns::PROTOCOL, |e, t, row| e.protocol = t.sym(row)),
    (columns::MASKED_IP, |e, t, row| e.masked_ip = t.sym(row)),
    (columns::SDK_VERSION, |e, t, row| e.sdk_version = t.sym(row)),
    (columns::AUTH_TYPE, |e, t, row| e.auth_type = t.sym(row)),
    (columns::STATUS_CODE, |e, t, row| e.status_code = t.sym(row)),
    (columns::SEQ, |e, t, row| e.seq = t.get(row).map(SeqNo::from)),
];

/// The columns the events are created from; the module, level and result type may be absent.
const BASE_COLUMNS: [&str; 7] = [
    columns::TIME,
    columns::HUB,
    columns::DEVICE_ID,
    columns::MODULE_ID,
    columns::OPERATION,
    columns::LEVEL,
    columns::RESULT_TYPE,
];

/// Builds the events of a table of `height` rows, reading columns through `read` (which returns
/// the named columns that exist, `height` rows each): first [`BASE_COLUMNS`], then each of
/// [`TEXT_FIELDS`] alone. Rows are built in parallel, straight from the columns.
fn build_events(
    height: usize,
    source: u32,
    read: &mut dyn FnMut(&[&str]) -> std::result::Result<DataFrame, String>,
) -> std::result::Result<Vec<Event>, String> {
    let checked = |df: DataFrame| {
        if df.height() == height {
            Ok(df)
        } else {
            Err(format!("a column has {} rows instead of {height}", df.height()))
        }
    };
    let base = checked(read(&BASE_COLUMNS)?)?;
    let time = integers(&base, columns::TIME)?;
    let hub = Texts::of(&base, columns::HUB, true)?;
    let device = Texts::of(&base, columns::DEVICE_ID, true)?;
    let module = Texts::of(&base, columns::MODULE_ID, false)?;
    let operation = Texts::of(&base, columns::OPERATION, true)?;
    let level = Texts::of(&base, columns::LEVEL, false)?;
    let result_type = integers(&base, columns::RESULT_TYPE)?;
    let row_event = |row_idx: usize| -> std::result::Result<Event, String> {
        let row = row_idx + 1;
        let time = time
            .as_ref()
            .and_then(|t| t.get(row_idx))
            .ok_or_else(|| format!("row {row}: null time"))?;
        let device_id = device.sym(row_idx).ok_or_else(|| format!("row {row}: null device_id"))?;
        let operation = operation
            .get(row_idx)
            .and_then(Operation::parse)
            .ok_or_else(|| format!("row {row}: bad operation"))?;
        let level = match level.get(row_idx) {
            None => Level::Information,
            Some(text) => {
                Level::parse(text).ok_or_else(|| format!("row {row}: bad level {text:?}"))?
            }
        };
        let result_type = match result_type.as_ref().and_then(|r| r.get(row_idx)) {
            None => None,
            // A code past `u32`, or `u32::MAX`, which a `ResultCode` does not hold.
            Some(code) => Some(
                u32::try_from(code)
                    .ok()
                    .and_then(ResultCode::new)
                    .ok_or_else(|| format!("row {row}: bad result_type {code}"))?,
            ),
        };
        // The range the RFC 3339 parser accepts (years 1678 to 2261), so every later sum of a
        // time and a duration stays inside i64 nanoseconds.
        if !(MIN_TIME_NS..=MAX_TIME_NS).contains(&time) {
            return Err(format!("row {row}: time {time} ns is outside the years 1678 to 2261"));
        }
        Ok(Event {
            module_id: module.sym(row_idx),
            level,
            result_type,
            source,
            source_line: row as u64,
            ..Event::of(Timestamp(time), hub.sym(row_idx).unwrap_or_default(), device_id, operation)
        })
    };
    // Built straight into place (an indexed collect); a bad row leaves a placeholder and its
    // number, and the first bad row is reported whichever thread saw it.
    let first_bad = AtomicUsize::new(usize::MAX);
    let mut events: Vec<Event> = (0..height)
        .into_par_iter()
        .map(|row_idx| {
            row_event(row_idx).unwrap_or_else(|_| {
                first_bad.fetch_min(row_idx, AtomicOrdering::Relaxed);
                Event::new(Timestamp(0), "", "", Operation::Connect)
            })
        })
        .collect();
    let first_bad = first_bad.into_inner();
    if first_bad != usize::MAX {
        return Err(row_event(first_bad).err().unwrap_or_default());
    }
    drop(base);
    for (name, field) in TEXT_FIELDS {
        let df = checked(read(&[name])?)?;
        let texts = Texts::of(&df, name, false)?;
        if let Texts::Missing = texts {
            continue;
        }
        events.par_iter_mut().enumerate().for_each(|(row_idx, event)| {
            field(event, &texts, row_idx);
        });
    }
    Ok(events)
}

/// The events of an events DataFrame (as [`events_to_df`] writes it), attributed to `source`;
/// `source_line` is the 1-based row. Rows with a null time, device or operation are an error:
/// dropscope never writes them.
pub fn df_to_events(df: &DataFrame, source: u32) -> std::result::Result<Vec<Event>, String> {
    build_events(df.height(), source, &mut |names| Ok(present_columns(df, names)))
}

/// The columns of `df` among `names`, in that order.
fn present_columns(df: &DataFrame, names: &[&str]) -> DataFrame {
    let cols: Vec<Column> =
        names.iter().filter_map(|&name| df.column(name).ok().cloned()).collect();
    DataFrame::new(df.height(), cols).unwrap_or_else(|_| DataFrame::empty_with_height(df.height()))
}

/// Reads an events table from the bytes of a Parquet or Arrow IPC file written by dropscope:
/// Parquet straight into events when it can (see `parquet_read.rs`), otherwise through
/// DataFrames, a few columns at a time. Errors name the file `input #source`
/// ([`Error::at`] names it).
///
/// polars' readers panic on some corrupt files (a mangled footer, for one): such a panic is
/// caught and reported as a corrupt file, so no input stops the program.
pub fn read_events(bytes: &[u8], source: u32) -> Result<Vec<Event>> {
    std::panic::catch_unwind(|| read_events_unguarded(bytes, source)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::Schema {
            path: PathBuf::from(format!("input #{source}")),
            reason: format!("the file is corrupt ({why})"),
        })
    })
}

fn read_events_unguarded(bytes: &[u8], source: u32) -> Result<Vec<Event>> {
    let path = PathBuf::from(format!("input #{source}"));
    let parquet = bytes.starts_with(b"PAR1");
    if parquet {
        let metadata = crate::parquet_read::check_pages(bytes).map_err(|why| Error::Schema {
            path: path.clone(),
            reason: format!("the file is corrupt ({why})"),
        })?;
        if let Some(events) = crate::parquet_read::read_events(bytes, &metadata, source) {
            return Ok(events);
        }
    }
    let columnar = |source| Error::Columnar {
        what: if parquet { "reading Parquet" } else { "reading Arrow IPC" },
        path: path.clone(),
        source,
    };
    let (names, height) = if parquet {
        let mut reader = ParquetReader::new(Cursor::new(bytes));
        let schema = reader.schema().map_err(columnar)?;
        (
            schema.iter_names().map(ToString::to_string).collect::<Vec<_>>(),
            reader.num_rows().map_err(columnar)?,
        )
    } else {
        let mut reader = IpcReader::new(Cursor::new(bytes));
        let schema = reader.schema().map_err(columnar)?;
        let names: Vec<String> = schema.iter_names().map(ToString::to_string).collect();
        let first = names.first().cloned().into_iter().collect();
        let height = IpcReader::new(Cursor::new(bytes))
            .with_columns(Some(first))
            .finish()
            .map_err(columnar)?
            .height();
        (names, height)
    };
    let mut failure = None;
    let mut read = |wanted: &[&str]| {
        let present: Vec<String> = wanted
            .iter()
            .filter(|&&name| names.iter().any(|n| n == name))
            .map(|&name| name.to_owned())
            .collect();
        if present.is_empty() {
            return Ok(DataFrame::empty_with_height(height));
        }
        let df = if parquet {
            ParquetReader::new(Cursor::new(bytes)).with_columns(Some(present)).finish()
        } else {
            IpcReader::new(Cursor::new(bytes)).with_columns(Some(present)).finish()
        };
        df.map_err(|err| {
            let text = err.to_string();
            failure = Some(err);
            text
        })
    };
    let built = build_events(height, source, &mut read);
    match (built, failure) {
        (Ok(events), _) => Ok(events),
        (Err(_), Some(err)) => Err(columnar(err)),
        (Err(reason), None) => Err(Error::Schema { path, reason }),
    }
}

/// Writes events as a Parquet file, encoding it on the calling thread: for callers that write
/// many files at once (the simulator writes its hours in parallel; a second level of parallel
/// encoding cost it 10% of its time and 80 MB of memory). The file is the one [`write_events`]
/// writes, built from Arrow arrays without a DataFrame (see `parquet_direct.rs`).
pub fn write_events_parquet(path: &Path, events: &[Event]) -> Result<()> {
    write_parquet(path, |out| crate::parquet_direct::write(out, events, Columns::Sequential))
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

/// Writes the events table to `path` in the format its extension names; Parquet straight from
/// the events, its columns in parallel (see `parquet_direct.rs`).
pub fn write_events(path: &Path, events: &[Event]) -> Result<()> {
    let format = table_format(path)?;
    if format == TableFormat::Parquet {
        return write_parquet(path, |out| {
            crate::parquet_direct::write(out, events, Columns::Parallel)
        });
    }
    let mut df = events_to_df(events).map_err(|source| Error::Columnar {
        what: "building",
        path: path.to_owned(),
        source,
    })?;
    write_df(path, &mut df, format)
}

/// Writes the events table to `out` in `format`: the bytes [`write_events`] writes to a file of
/// that format (for a pipe: `dropscope ingest -o - --format ...`). `name` names `out` in errors.
pub fn write_events_to(
    out: &mut dyn Write,
    name: &Path,
    events: &[Event],
    format: TableFormat,
) -> Result<()> {
    if format == TableFormat::Parquet {
        return write_parquet_to(out, name, |out| {
            crate::parquet_direct::write(out, events, Columns::Parallel)
        });
    }
    let mut df = events_to_df(events).map_err(|source| Error::Columnar {
        what: "building",
        path: name.to_owned(),
        source,
    })?;
    write_df_to(out, name, &mut df, format)
}

/// Writes a Parquet file at `path` with `write`, through a buffer.
fn write_parquet(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> PolarsResult<()>,
) -> Result<()> {
    let write_err = |source| Error::Write { path: path.to_owned(), source };
    let file = File::create(path).map_err(write_err)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    write(&mut out).map_err(|source| Error::Columnar {
        what: "writing Parquet",
        path: path.to_owned(),
        source,
    })?;
    out.flush().map_err(write_err)
}

/// [`write_parquet`] to any writer, through a buffer; `name` names it in errors.
fn write_parquet_to(
    out: &mut dyn Write,
    name: &Path,
    write: impl FnOnce(&mut BufWriter<&mut dyn Write>) -> PolarsResult<()>,
) -> Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, out);
    write(&mut out).map_err(|source| Error::Columnar {
        what: "writing Parquet",
        path: name.to_owned(),
        source,
    })?;
    out.flush().map_err(|source| Error::Write { path: name.to_owned(), source })
}

/// The sessions table as a DataFrame, with the columns of [`columns::SESSION_COLUMNS`].
pub fn sessions_to_df(sessions: &[Session]) -> PolarsResult<DataFrame> {
    let n_rows = sessions.len();
    let names = Names::new();
    let cols = vec![
        sym_column("device_id", sessions.iter().map(|s| Some(s.device_id)))?,
        sym_column("module_id", sessions.iter().map(|s| s.module_id))?,
        Series::new("session_id".into(), sessions.iter().map(|s| s.session_id).collect::<Vec<_>>())
            .into_column(),
        time_column(
            "connect_time",
            sessions.iter().map(|s| s.connect_time.get().map(Timestamp::nanos)).collect(),
        ),
        time_column(
            "disconnect_time",
            sessions.iter().map(|s| s.disconnect_time.get().map(Timestamp::nanos)).collect(),
        ),
        duration_column("duration", sessions.iter().map(Session::duration_ns).collect()),
        sym_column("protocol", sessions.iter().map(|s| s.protocol))?,
        sym_column("masked_ip", sessions.iter().map(|s| s.masked_ip))?,
        sym_column("sdk_version", sessions.iter().map(|s| s.sdk_version))?,
        Series::new(
            "end_result_type".into(),
            sessions.iter().map(|s| s.end_result_type).collect::<Vec<_>>(),
        )
        .into_column(),
        sym_column("end_level", sessions.iter().map(|s| s.end_level.map(|l| names.level(l))))?,
        duration_column("gap_before", sessions.iter().map(|s| s.gap_before_ns.get()).collect()),
        Series::new(
            "failed_connects_before".into(),
            sessions.iter().map(|s| s.failed_connects_before).collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new("overlap".into(), sessions.iter().map(|s| s.overlap).collect::<Vec<_>>())
            .into_column(),
        sym_column("repaired", sessions.iter().map(|s| Some(names.repairs(s.repaired))))?,
        sym_column("hub", sessions.iter().map(|s| Some(s.hub)))?,
    ];
    DataFrame::new(n_rows, cols)
}

fn duration_column(name: &str, values: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_duration(TimeUnit::Nanoseconds)
        .into_column()
}

/// A sessions Parquet file written a batch of sessions at a time, so a caller that streams the
/// sessions (`dropscope sessions`) holds a row group's worth in memory, not the whole table.
/// Batches are gathered into row groups of at least [`SessionsFile::GROUP_ROWS`] sessions: with a
/// row group per batch (16 on 2 M events, each with its own dictionaries) the file was a third
/// larger (13.0 against 9.7 MB) in the same time; gathering holds about 30 MB more.
///
/// [`SessionsFile::create`] writes a file; [`SessionsFile::to_writer`] the same bytes to any
/// writer (for a pipe).
pub struct SessionsFile<W: Write = File> {
    path: PathBuf,
    file: crate::parquet_direct::SessionsParquet<BufWriter<W>>,
    pending: crate::parquet_direct::SessionColumns,
}

impl SessionsFile {
    /// Creates the file at `path`, which must name a Parquet file.
    pub fn create(path: &Path) -> Result<SessionsFile> {
        if table_format(path)? != TableFormat::Parquet {
            return Err(Error::Schema {
                path: path.to_owned(),
                reason: "sessions are written in batches to Parquet only".to_owned(),
            });
        }
        let file =
            File::create(path).map_err(|source| Error::Write { path: path.to_owned(), source })?;
        SessionsFile::to_writer(file, path)
    }
}

impl<W: Write> SessionsFile<W> {
    /// The fewest sessions in a row group, except the last.
    pub const GROUP_ROWS: usize = 1 << 18;

    /// A sessions Parquet file written to `out`; `name` names it in errors.
    pub fn to_writer(out: W, name: &Path) -> Result<SessionsFile<W>> {
        let out = BufWriter::with_capacity(1 << 20, out);
        let file = crate::parquet_direct::SessionsParquet::new(out)
            .map_err(|source| columnar_write(name, source))?;
        let pending = crate::parquet_direct::SessionColumns::default();
        Ok(SessionsFile { path: name.to_owned(), file, pending })
    }

    /// Adds `sessions` to the file, writing a row group once enough have gathered.
    pub fn write(&mut self, sessions: &[Session]) -> Result<()> {
        if self.pending.len() == 0 {
            // Room for two row groups, in one allocation a column (pages never written stay
            // virtual): grown by doubling, the buffers ended at up to twice that and left their
            // smaller copies behind. Room for a group and the first batch was not enough when a
            // later batch was larger (6,500 page faults more, and a copy). A batch larger than a
            // row group still grows them.
            self.pending.reserve((2 * Self::GROUP_ROWS).max(Self::GROUP_ROWS + sessions.len()));
        }
        self.pending.extend(sessions);
        if self.pending.len() < Self::GROUP_ROWS {
            return Ok(());
        }
        self.flush_group()
    }

    fn flush_group(&mut self) -> Result<()> {
        self.file.write(&self.pending).map_err(|source| columnar_write(&self.path, source))?;
        self.pending.clear();
        Ok(())
    }

    /// Writes the last row group and the footer, and flushes the file.
    pub fn finish(mut self) -> Result<()> {
        self.flush_group()?;
        let mut out = self.file.finish().map_err(|source| columnar_write(&self.path, source))?;
        out.flush().map_err(|source| Error::Write { path: self.path, source })
    }
}

fn columnar_write(path: &Path, source: PolarsError) -> Error {
    Error::Columnar { what: "writing Parquet", path: path.to_owned(), source }
}

/// Writes the sessions table to `path` in the format its extension names.
pub fn write_sessions(path: &Path, sessions: &[Session]) -> Result<()> {
    let format = table_format(path)?;
    if format == TableFormat::Parquet {
        return write_parquet(path, |out| crate::parquet_direct::write_sessions(out, sessions));
    }
    let mut df = sessions_to_df(sessions).map_err(|source| Error::Columnar {
        what: "building",
        path: path.to_owned(),
        source,
    })?;
    write_df(path, &mut df, format)
}

/// Writes the sessions table to `out` in `format`: the bytes [`write_sessions`] writes to a file
/// of that format. `name` names `out` in errors.
pub fn write_sessions_to(
    out: &mut dyn Write,
    name: &Path,
    sessions: &[Session],
    format: TableFormat,
) -> Result<()> {
    if format == TableFormat::Parquet {
        return write_parquet_to(out, name, |out| {
            crate::parquet_direct::write_sessions(out, sessions)
        });
    }
    let mut df = sessions_to_df(sessions).map_err(|source| Error::Columnar {
        what: "building",
        path: name.to_owned(),
        source,
    })?;
    write_df_to(out, name, &mut df, format)
}

fn table_format(path: &Path) -> Result<TableFormat> {
    TableFormat::from_path(path).ok_or_else(|| Error::Schema {
        path: path.to_owned(),
        reason: TableFormat::EXTENSIONS_RULE.to_owned(),
    })
}

/// Writes any DataFrame in `format`. CSV and JSON Lines render timestamps as RFC 3339 and
/// durations as seconds; CSV cells that a spreadsheet would run as a formula are guarded.
pub fn write_df(path: &Path, df: &mut DataFrame, format: TableFormat) -> Result<()> {
    let file =
        File::create(path).map_err(|source| Error::Write { path: path.to_owned(), source })?;
    write_df_to(&mut { file }, path, df, format)
}

/// [`write_df`] to any writer, through a buffer; `name` names it in errors.
pub fn write_df_to(
    out: &mut dyn Write,
    name: &Path,
    df: &mut DataFrame,
    format: TableFormat,
) -> Result<()> {
    let path = name;
    let write_err = |source| Error::Write { path: path.to_owned(), source };
    let mut out = BufWriter::with_capacity(1 << 20, out);
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
                dropscope_model::json::push_str(&mut line, name);
                line.push(b':');
                match &col[row_idx] {
                    None => line.extend_from_slice(b"null"),
                    Some(text) if numeric[col_idx] => line.extend_from_slice(text.as_bytes()),
                    Some(text) => dropscope_model::json::push_str(&mut line, text),
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

    fn check_rows(times: &[Option<i64>], expected: std::result::Result<usize, &str>) {
        let n = times.len();
        let df = DataFrame::new(
            n,
            vec![
                time_column(columns::TIME, times.to_vec()),
                sym_column(columns::HUB, std::iter::repeat_n(Some(Sym::new("hub")), n))
                    .expect("hub"),
                string_column(columns::DEVICE_ID, vec![Some("d"); n]),
                sym_column(columns::OPERATION, std::iter::repeat_n(Some(Sym::new("connect")), n))
                    .expect("op"),
                sym_column(columns::PROTOCOL, std::iter::repeat_n(Some(Sym::new("Mqtt")), n))
                    .expect("protocol"),
            ],
        )
        .expect("a frame");
        let got = df_to_events(&df, 3);
        match expected {
            Ok(len) => {
                let events = got.expect("events");
                assert_eq!(events.len(), len);
                assert!(
                    events.iter().all(|e| e.hub == "hub" && e.protocol.as_deref() == Some("Mqtt"))
                );
                assert_eq!(
                    events.last().map(|e| (e.source, e.source_line)),
                    (len > 0).then_some((3, len as u64))
                );
            }
            Err(reason) => assert_eq!(got.err().as_deref(), Some(reason)),
        }
    }

    #[test]
    fn frame_rows_become_events_and_the_first_bad_row_is_reported() {
        check_rows(&[Some(1), Some(2)], Ok(2));
        check_rows(&[], Ok(0));
        let mut times: Vec<Option<i64>> = (0..5000).map(Some).collect();
        times[4000] = None;
        times[2500] = None;
        check_rows(&times, Err("row 2501: null time"));
    }

    #[test]
    fn times_outside_the_parser_range_are_a_schema_error() {
        let mut event = Event::new(Timestamp(i64::MAX - 1), "hub", "d", Operation::Connect);
        event.source_line = 1;
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("e.parquet");
        write_events(&path, &[event]).expect("write");
        let bytes = std::fs::read(&path).expect("read back");
        let err = read_events(&bytes, 0).expect_err("out of range");
        assert!(err.to_string().contains("not a dropscope table"), "{err}");
        assert_eq!(Timestamp(MIN_TIME_NS).to_rfc3339(0), "1678-01-01T00:00:00Z");
        assert_eq!(Timestamp(MAX_TIME_NS).to_rfc3339(0), "2261-12-31T23:59:59Z");
    }

    #[test]
    fn the_frames_have_the_tables_schemas() {
        assert_eq!(events_to_df(&[]).expect("a frame").schema().as_ref(), &crate::schema::events());
        assert_eq!(
            sessions_to_df(&[]).expect("a frame").schema().as_ref(),
            &crate::schema::sessions()
        );
    }

    #[test]
    fn sessions_write_as_csv_with_rfc3339_and_seconds() {
        let session = Session {
            hub: "hub".into(),
            device_id: "=HYPERLINK(\"x\")".into(),
            module_id: None,
            session_id: 0,
            connect_time: Some(Timestamp::from_secs(60)).into(),
            disconnect_time: Some(Timestamp(121_500_000_000)).into(),
            protocol: Some("Mqtt".into()),
            masked_ip: None,
            sdk_version: None,
            end_result_type: Some(404_104),
            end_level: Some(Level::Error),
            gap_before_ns: None.into(),
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
             \"'=HYPERLINK(\"\"x\"\")\",,0,1970-01-01T00:01:00Z,1970-01-01T00:02:01.5000000Z,61.5,Mqtt,,,404104,Error,,2,false,missing_connect,hub\n"
        );
    }
}
