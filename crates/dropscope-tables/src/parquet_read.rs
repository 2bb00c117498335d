//! The events table read from Parquet straight into events: each column decoded by polars' own
//! Parquet layer into Arrow arrays, each dictionary text interned once, and no DataFrame. The
//! DataFrame path sent every text of every row through polars' global categorical mapping (about
//! half of `dropscope sessions`' reading time on an events file, by `perf`). A file this path does not
//! read as it is (a column type another writer chose, a null or a bad value where dropscope
//! never writes one) gives `None`: the DataFrame path reads it, casts what it can and reports
//! the first bad row.
//!
//! The events are made from the time and device columns; every other column is then decoded,
//! set on the events and dropped, [`GROUP`] (four) columns at a time, so at most one group of
//! decoded columns is in memory beside the events. Decoding them all first held about 200 MB of
//! columns beside 180 MB of events on a 2 M-record file, and set the command's peak memory.
//!
//! Each dictionary text is interned once, and each hub, operation and level entry parsed once;
//! the fields of the events are then set straight from the dictionary keys, so no text is
//! looked at again per row. A proptest checks that this path and the DataFrame path read the
//! same events from dropscope's files and from a foreign writer's.
//!
//! Before polars' Parquet layer reads a file, [`check_pages`] checks its footer and every page
//! header, because that layer allocates whatever a footer list or a page header claims (list
//! lengths, value counts, decompressed sizes) before reading a byte, and a failed allocation
//! aborts the process, which no `catch_unwind` stops. The footer is read with the reference
//! Thrift decoder, which bounds every list by the bytes left; a page header is refused when its
//! counts or sizes cannot be true of its column chunk. So a corrupt file is an error, never a
//! crash, whichever path then reads it.

use std::io::Cursor;

use dropscope_model::{Event, Level, Operation, ResultCode, SeqNo, Sym, Timestamp, columns};
use polars::prelude::PolarsResult;
use polars_arrow::array::{
    Array, BinaryViewArrayGeneric, DictionaryArray, DictionaryKey, PrimitiveArray, Utf8Array,
};
use polars_arrow::datatypes::{ArrowDataType, Field, TimeUnit};
use polars_buffer::Buffer;
use polars_parquet::read::{
    BasicDecompressor, FileMetadata, PageReader, column_iter_to_arrays, infer_schema, read_metadata,
};
use rayon::prelude::*;

use crate::schema::{MAX_TIME_NS, MIN_TIME_NS};

/// One column, decoded to a value per row.
enum Values {
    /// Absent from the file, or null in every row.
    Missing,
    Times(Vec<i64>),
    Texts(Vec<Option<Sym>>),
    /// Texts left as their dictionary keys (see [`Keyed`]).
    Keyed(Keyed<Option<Sym>>),
    Codes(Vec<Option<ResultCode>>),
    Seqs(Vec<Option<SeqNo>>),
}

/// What each column read holds.
#[derive(Clone, Copy)]
enum Kind {
    Time,
    Text,
    /// Texts that may stay dictionary keys until they are set ([`Keyed`]).
    KeyedText,
    Code,
    Seq,
}

/// The field of [`Event`] a column sets.
#[derive(Clone, Copy)]
enum Target {
    Hub,
    Operation,
    Level,
    ResultType,
    /// An optional text field.
    Text(fn(&mut Event) -> &mut Option<Sym>),
    Seq,
}

impl Target {
    /// What the column that sets this field holds.
    fn kind(self) -> Kind {
        match self {
            Target::Hub | Target::Operation | Target::Level | Target::Text(_) => Kind::KeyedText,
            Target::ResultType => Kind::Code,
            Target::Seq => Kind::Seq,
        }
    }
}

/// The columns set on the events made from the time and device columns, in the order they are
/// decoded, [`GROUP`] at a time. `source` and `source_line` are the reader's own.
const REST: [(&str, Target); 12] = [
    (columns::HUB, Target::Hub),
    (columns::OPERATION, Target::Operation),
    (columns::LEVEL, Target::Level),
    (columns::RESULT_TYPE, Target::ResultType),
    (columns::MODULE_ID, Target::Text(|e| &mut e.module_id)),
    (columns::RESULT_DESCRIPTION, Target::Text(|e| &mut e.result_description)),
    (columns::PROTOCOL, Target::Text(|e| &mut e.protocol)),
    (columns::MASKED_IP, Target::Text(|e| &mut e.masked_ip)),
    (columns::SDK_VERSION, Target::Text(|e| &mut e.sdk_version)),
    (columns::AUTH_TYPE, Target::Text(|e| &mut e.auth_type)),
    (columns::STATUS_CODE, Target::Text(|e| &mut e.status_code)),
    (columns::SEQ, Target::Seq),
];
const GROUP: usize = 4;

/// The events of the Parquet file `bytes`, whose footer [`check_pages`] read into `metadata`,
/// attributed to `source` (`source_line` is the 1-based row), or `None` when the DataFrame path
/// must read it.
pub(crate) fn read_events(
    bytes: &[u8],
    metadata: &FileMetadata,
    source: u32,
) -> Option<Vec<Event>> {
    let schema = infer_schema(metadata).ok()?;
    let height = metadata.num_rows;
    // An empty file is cheap either way, and the DataFrame path checks its columns.
    if height == 0 || u32::try_from(height).is_err() {
        return None;
    }
    let decode = |name: &str, kind: Kind| -> Option<Values> {
        let Some(field) = schema.get(name) else { return Some(Values::Missing) };
        let arrays = read_column(bytes, metadata, field).ok()?;
        if arrays.iter().map(|a| a.len()).sum::<usize>() != height {
            return None;
        }
        values(&arrays, kind)
    };
    // Decodes a group of columns in parallel: their setters.
    let setters = |group: &[(&str, Target)]| -> Option<Vec<Setter>> {
        let decoded: Vec<Values> = group
            .par_iter()
            .map(|&(name, target)| decode(name, target.kind()))
            .collect::<Option<_>>()?;
        let mut setters = Vec::with_capacity(group.len());
        for (&(_, target), values) in group.iter().zip(decoded) {
            setters.push(setter(target, values)?);
        }
        Some(setters)
    };
    let (time, device) = rayon::join(
        || decode(columns::TIME, Kind::Time),
        || decode(columns::DEVICE_ID, Kind::Text),
    );
    let (Values::Times(time), Values::Texts(device)) = (time?, device?) else { return None };
    if device.iter().any(Option::is_none) {
        return None;
    }
    let mut events: Vec<Event> = time
        .par_iter()
        .zip(device.par_iter())
        .enumerate()
        .map(|(row, (&time, &device))| Event {
            source,
            source_line: row as u64 + 1,
            // Set by their columns below.
            ..Event::of(
                Timestamp(time),
                Sym::default(),
                device.unwrap_or_default(),
                Operation::Connect,
            )
        })
        .collect();
    drop((time, device));

    // The other columns a group at a time, each group then set on the events in one pass: so
    // only one group of decoded columns is in memory beside the events (decoding them all
    // first held about 200 MB of columns beside 180 MB of events on a 2 M-record file), and
    // the events are not walked once a column (which cost 0.1 s more CPU in memory traffic).
    for group in REST.chunks(GROUP) {
        set(&mut events, setters(group)?);
    }
    Some(events)
}

/// A text column left as it was decoded, dictionary keys (`u32`) by row group, with each
/// dictionary's texts interned once (or parsed once, into a `T`): the keys are mapped to values
/// as they are set on the events, without a vector of every row's value written and read back
/// in between (8 MB a column on 2 M rows).
struct Keyed<T> {
    /// Each row group's first row, keys and dictionary, in row order.
    chunks: Vec<(usize, PrimitiveArray<u32>, Vec<T>)>,
}

impl Keyed<Option<Sym>> {
    /// The column's arrays as keys and dictionaries, when each is a dictionary array with `u32`
    /// keys that all index its dictionary; `None` otherwise.
    fn of(arrays: &[Box<dyn Array>]) -> Option<Self> {
        let mut chunks = Vec::with_capacity(arrays.len());
        let mut first = 0;
        for array in arrays {
            let array = array.as_any().downcast_ref::<DictionaryArray<u32>>()?;
            let dictionary = interned(array.values().as_ref())?;
            let keys = array.keys();
            // Every key indexes the dictionary, nulls' keys included (they are read too).
            if keys.values().iter().any(|&key| key as usize >= dictionary.len()) {
                return None;
            }
            chunks.push((first, keys.clone(), dictionary));
            first += array.len();
        }
        Some(Keyed { chunks })
    }

    /// Every row's text (null rows `None`).
    fn texts(&self) -> Vec<Option<Sym>> {
        let mut texts = Vec::with_capacity(self.chunks.iter().map(|(_, keys, _)| keys.len()).sum());
        for (_, keys, dictionary) in &self.chunks {
            texts.extend(keys.iter().map(|key| key.and_then(|&key| dictionary[key as usize])));
        }
        texts
    }
}

impl<T: Copy> Keyed<T> {
    /// The column with every dictionary entry mapped through `f` (each entry once, used by a
    /// row or not); `None` when `f` gives `None` for one.
    fn map<U>(&self, mut f: impl FnMut(T) -> Option<U>) -> Option<Keyed<U>> {
        let mut chunks = Vec::with_capacity(self.chunks.len());
        for (first, keys, dictionary) in &self.chunks {
            let dictionary = dictionary.iter().map(|&value| f(value)).collect::<Option<_>>()?;
            chunks.push((*first, keys.clone(), dictionary));
        }
        Some(Keyed { chunks })
    }

    fn has_nulls(&self) -> bool {
        self.chunks.iter().any(|(_, keys, _)| keys.null_count() > 0)
    }

    /// Puts rows `rows`' values (those rows' events) with `put`; a null row's value is `null`.
    fn set(
        &self,
        events: &mut [Event],
        rows: std::ops::Range<usize>,
        null: T,
        put: impl Fn(&mut Event, T),
    ) {
        for (first, keys, dictionary) in &self.chunks {
            let (from, to) = (rows.start.max(*first), rows.end.min(first + keys.len()));
            if from >= to {
                continue;
            }
            let events = &mut events[from - rows.start..to - rows.start];
            let values = &keys.values()[from - first..to - first];
            match keys.validity().filter(|_| keys.null_count() > 0) {
                None => {
                    for (event, &key) in events.iter_mut().zip(values) {
                        put(event, dictionary[key as usize]);
                    }
                }
                Some(valid) => {
                    let valid = valid.clone().sliced(from - first, to - from);
                    for ((event, &key), valid) in events.iter_mut().zip(values).zip(valid.iter()) {
                        put(event, if valid { dictionary[key as usize] } else { null });
                    }
                }
            }
        }
    }
}

/// One decoded column, typed for the field it sets.
enum Setter {
    Hub(Vec<Option<Sym>>),
    Operation(Vec<Operation>),
    Level(Vec<Level>),
    ResultType(Vec<Option<ResultCode>>),
    Text(fn(&mut Event) -> &mut Option<Sym>, Vec<Option<Sym>>),
    KeyedHub(Keyed<Sym>),
    KeyedOperation(Keyed<Operation>),
    KeyedLevel(Keyed<Level>),
    KeyedText(fn(&mut Event) -> &mut Option<Sym>, Keyed<Option<Sym>>),
    Seq(Vec<Option<SeqNo>>),
    /// Absent or all null: the field keeps the value the events were made with.
    Unset,
}

impl Setter {
    /// Sets rows `rows`' values on `events` (those rows' events), a loop a field; sequence
    /// numbers are moved by [`set`] instead.
    fn apply_all(&self, events: &mut [Event], rows: std::ops::Range<usize>) {
        fn each<T: Copy>(events: &mut [Event], values: &[T], mut set: impl FnMut(&mut Event, T)) {
            for (event, &value) in events.iter_mut().zip(values) {
                set(event, value);
            }
        }
        match self {
            Setter::Hub(hubs) => {
                each(events, &hubs[rows], |e, hub| e.hub = hub.unwrap_or_default());
            }
            Setter::Operation(ops) => each(events, &ops[rows], |e, op| e.operation = op),
            Setter::Level(levels) => each(events, &levels[rows], |e, level| e.level = level),
            Setter::ResultType(codes) => each(events, &codes[rows], |e, code| e.result_type = code),
            Setter::Text(field, texts) => each(events, &texts[rows], |e, text| *field(e) = text),
            Setter::KeyedHub(hubs) => hubs.set(events, rows, Sym::default(), |e, hub| e.hub = hub),
            Setter::KeyedOperation(ops) => {
                // Never null (see `setter`): the null value is never put.
                ops.set(events, rows, Operation::Connect, |e, op| e.operation = op);
            }
            Setter::KeyedLevel(levels) => {
                levels.set(events, rows, Level::Information, |e, level| e.level = level);
            }
            Setter::KeyedText(field, keyed) => {
                keyed.set(events, rows, None, |e, text| *field(e) = text);
            }
            Setter::Seq(_) | Setter::Unset => {}
        }
    }
}

/// The setter of `target` from its column's `values` ([`Setter::Unset`] for a column absent or
/// all null: events are made with the optional fields unset and level Information), or `None` when the
/// DataFrame path must read the file (no hub or operation, an operation or level that does not
/// parse).
///
/// A keyed operation or level column whose dictionary parses whole (and, for the operation,
/// without null rows) is set from its keys; otherwise each row's text is parsed, so a text that
/// does not parse counts only when a row holds it.
fn setter(target: Target, values: Values) -> Option<Setter> {
    Some(match (target, values) {
        (Target::Hub, Values::Texts(hubs)) => Setter::Hub(hubs),
        (Target::Hub, Values::Keyed(hubs)) => {
            Setter::KeyedHub(hubs.map(|hub| Some(hub.unwrap_or_default()))?)
        }
        (Target::Operation, Values::Keyed(texts)) => {
            match texts.map(operation_of).filter(|_| !texts.has_nulls()) {
                Some(ops) => Setter::KeyedOperation(ops),
                None => Setter::Operation(parsed(&texts.texts(), operation_of)?),
            }
        }
        (Target::Operation, Values::Texts(texts)) => {
            Setter::Operation(parsed(&texts, operation_of)?)
        }
        (Target::Level, Values::Keyed(texts)) => match texts.map(level_of) {
            Some(levels) => Setter::KeyedLevel(levels),
            None => Setter::Level(parsed(&texts.texts(), level_of)?),
        },
        (Target::Level, Values::Texts(texts)) => Setter::Level(parsed(&texts, level_of)?),
        (Target::ResultType, Values::Codes(codes)) => Setter::ResultType(codes),
        (Target::Text(field), Values::Texts(texts)) => Setter::Text(field, texts),
        (Target::Text(field), Values::Keyed(keyed)) => Setter::KeyedText(field, keyed),
        (Target::Seq, Values::Seqs(seqs)) => Setter::Seq(seqs),
        (Target::Hub | Target::Operation, _) => return None,
        (_, Values::Missing) => Setter::Unset,
        _ => return None,
    })
}

/// An operation column's text parsed; a null is no operation.
fn operation_of(text: Option<Sym>) -> Option<Operation> {
    text.and_then(|s| Operation::parse(&s))
}

/// A level column's text parsed; a null is [`Level::Information`], as events are made.
fn level_of(text: Option<Sym>) -> Option<Level> {
    match text {
        None => Some(Level::Information),
        Some(s) => Level::parse(&s),
    }
}

/// Sets every setter's field on the events, in blocks of rows that stay in cache while every
/// setter visits them. Sequence numbers are moved, not copied.
fn set(events: &mut [Event], setters: Vec<Setter>) {
    const BLOCK: usize = 1 << 12;
    let (seqs, setters): (Vec<_>, Vec<_>) = setters
        .into_iter()
        .filter(|s| !matches!(s, Setter::Unset))
        .partition(|s| matches!(s, Setter::Seq(_)));
    if !setters.is_empty() {
        events.par_chunks_mut(BLOCK).enumerate().for_each(|(block, events)| {
            let rows = block * BLOCK..block * BLOCK + events.len();
            for setter in &setters {
                setter.apply_all(events, rows.clone());
            }
        });
    }
    for setter in seqs {
        if let Setter::Seq(seqs) = setter {
            events.par_iter_mut().zip(seqs).for_each(|(e, seq)| e.seq = seq);
        }
    }
}

/// The largest page a file may say it decompresses to (pages are about 1 MB).
const MAX_PAGE: i64 = 1 << 30;

/// Checks the footer and every page header of the Parquet file `bytes` before polars' Parquet
/// layer reads them: that layer allocates what a header claims (list lengths, values,
/// decompressed size) before reading a byte, and an allocation that fails aborts the process,
/// which no `catch_unwind` stops (one flipped byte claimed 2^61 values; found by
/// `read_parquet_no_panic`). A page may not claim a negative count or size, more values than
/// its row group has rows (in a column that is not a list), a dictionary of more entries than
/// bytes, more than [`MAX_PAGE`] bytes decompressed, or bytes past its column chunk. `Err` says
/// which page; `Ok` holds the footer as polars reads it.
pub(crate) fn check_pages(bytes: &[u8]) -> Result<FileMetadata, String> {
    use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
    use polars_parquet_format::{FileMetaData, PageHeader};

    // The footer first, with the reference Thrift decoder, which refuses a list longer than
    // the bytes left: polars' own footer decoder sizes each list from its header, and a flipped
    // byte made it ask for 214 GB (found by `read_parquet_no_panic`).
    let length = bytes.len().checked_sub(8).map(|at| &bytes[at..]).and_then(|tail| {
        let length = u32::from_le_bytes(tail[..4].try_into().ok()?) as usize;
        (tail[4..] == *b"PAR1" && length + 12 <= bytes.len()).then_some(length)
    });
    let Some(length) = length else { return Err("no Parquet footer".to_owned()) };
    let footer = &bytes[bytes.len() - 8 - length..bytes.len() - 8];
    let mut protocol = TCompactInputProtocol::new(footer, 16 * footer.len() + 4096);
    FileMetaData::read_from_in_protocol(&mut protocol)
        .map_err(|e| format!("the footer does not parse ({e})"))?;

    let metadata = read_metadata(&mut Cursor::new(bytes)).map_err(|e| e.to_string())?;
    for (group_idx, group) in metadata.row_groups.iter().enumerate() {
        let rows = i64::try_from(group.num_rows()).map_err(|e| e.to_string())?;
        for column in group.parquet_columns() {
            let name = column.descriptor().path_in_schema.join(".");
            // A repeated (list) column holds more values than rows; only a flat one is bound by
            // its row group's rows.
            let most =
                if column.descriptor().descriptor.max_rep_level == 0 { rows } else { i64::MAX };
            let at = |what: String| format!("column {name}, row group {}: {what}", group_idx + 1);
            let range = column.byte_range();
            let chunk = usize::try_from(range.start)
                .ok()
                .zip(usize::try_from(range.end).ok())
                .and_then(|(start, end)| bytes.get(start..end))
                .ok_or_else(|| at("the column chunk lies outside the file".to_owned()))?;
            let (mut pos, mut seen) = (0, 0_i64);
            while pos < chunk.len() && seen < column.num_values() {
                let mut reader = Cursor::new(&chunk[pos..]);
                let header = {
                    let mut protocol = TCompactInputProtocol::new(&mut reader, MAX_PAGE as usize);
                    PageHeader::read_from_in_protocol(&mut protocol)
                        .map_err(|e| at(format!("a page header does not parse ({e})")))?
                };
                pos += reader.position() as usize;
                let (compressed, decompressed) = (
                    i64::from(header.compressed_page_size),
                    i64::from(header.uncompressed_page_size),
                );
                if compressed < 0 || compressed > (chunk.len() - pos) as i64 {
                    return Err(at(format!("a page claims {compressed} bytes")));
                }
                if !(0..=MAX_PAGE).contains(&decompressed) {
                    return Err(at(format!("a page claims to decompress to {decompressed} bytes")));
                }
                let values = header
                    .data_page_header
                    .as_ref()
                    .map(|h| h.num_values)
                    .or(header.data_page_header_v2.as_ref().map(|h| h.num_values));
                if let Some(values) = values.map(i64::from) {
                    if !(0..=most).contains(&values) {
                        return Err(at(format!("a page claims {values} values of {rows} rows")));
                    }
                    seen += values;
                }
                if let Some(dictionary) = &header.dictionary_page_header {
                    let entries = i64::from(dictionary.num_values);
                    if !(0..=decompressed.max(compressed)).contains(&entries) {
                        return Err(at(format!("a dictionary page claims {entries} entries")));
                    }
                }
                pos += compressed as usize;
            }
        }
    }
    Ok(metadata)
}

/// `parse` of every row's text, each distinct text parsed once; `None` when one does not parse.
fn parsed<T: Copy>(
    texts: &[Option<Sym>],
    parse: impl Fn(Option<Sym>) -> Option<T>,
) -> Option<Vec<T>> {
    let mut known: Vec<(Option<Sym>, T)> = Vec::new();
    texts
        .iter()
        .map(|&sym| {
            if let Some(&(_, value)) = known.iter().find(|(s, _)| *s == sym) {
                return Some(value);
            }
            let value = parse(sym)?;
            known.push((sym, value));
            Some(value)
        })
        .collect()
}

/// The column `field` of every row group, as Arrow arrays of the field's type.
fn read_column(
    bytes: &[u8],
    metadata: &FileMetadata,
    field: &Field,
) -> PolarsResult<Vec<Box<dyn Array>>> {
    let mut arrays = Vec::with_capacity(metadata.row_groups.len());
    for group in &metadata.row_groups {
        let Some(chunks) = group.columns_under_root_iter(&field.name) else {
            polars::prelude::polars_bail!(ComputeError: "no column chunk for {}", field.name);
        };
        let mut columns = Vec::with_capacity(1);
        let mut types = Vec::with_capacity(1);
        for meta in chunks {
            let range = meta.byte_range();
            let (start, end) = (range.start as usize, range.end as usize);
            if start > end || end > bytes.len() {
                polars::prelude::polars_bail!(ComputeError: "column chunk out of the file");
            }
            // A copy of this column chunk only (the pages are read from an owned buffer),
            // dropped once decoded: a copy of the whole file sat beside the events.
            let chunk = Buffer::from(bytes[start..end].to_vec());
            let pages = PageReader::new(Cursor::new(chunk), meta, Vec::new(), usize::MAX);
            columns.push(BasicDecompressor::new(pages, Vec::new()));
            types.push(&meta.descriptor().descriptor.primitive_type);
        }
        let (mut group_arrays, _) = column_iter_to_arrays(columns, types, field.clone(), None)?;
        arrays.append(&mut group_arrays);
    }
    Ok(arrays)
}

/// The arrays of one column as a value per row, or `None` for a type or value this path leaves
/// to the DataFrame path.
fn values(arrays: &[Box<dyn Array>], kind: Kind) -> Option<Values> {
    let len: usize = arrays.iter().map(|a| a.len()).sum();
    if arrays.iter().map(|a| a.null_count()).sum::<usize>() == len {
        return match kind {
            // A null time is a bad row: the DataFrame path reports it.
            Kind::Time if len > 0 => None,
            Kind::Time => Some(Values::Times(Vec::new())),
            _ => Some(Values::Missing),
        };
    }
    match kind {
        Kind::Time => {
            let mut times = Vec::with_capacity(len);
            for array in arrays {
                let scale = match array.dtype() {
                    ArrowDataType::Timestamp(unit, _) => match unit {
                        TimeUnit::Second => 1_000_000_000,
                        TimeUnit::Millisecond => 1_000_000,
                        TimeUnit::Microsecond => 1_000,
                        TimeUnit::Nanosecond => 1,
                    },
                    ArrowDataType::Int64 => 1,
                    _ => return None,
                };
                let array = array.as_any().downcast_ref::<PrimitiveArray<i64>>()?;
                if array.null_count() > 0 {
                    return None;
                }
                for &t in array.values().iter() {
                    let ns = t.checked_mul(scale)?;
                    if !(MIN_TIME_NS..=MAX_TIME_NS).contains(&ns) {
                        return None;
                    }
                    times.push(ns);
                }
            }
            Some(Values::Times(times))
        }
        Kind::KeyedText if let Some(keyed) = Keyed::of(arrays) => Some(Values::Keyed(keyed)),
        Kind::Text | Kind::KeyedText => {
            let mut texts = Vec::with_capacity(len);
            for array in arrays {
                push_texts(array.as_ref(), &mut texts)?;
            }
            Some(Values::Texts(texts))
        }
        Kind::Code => {
            let mut codes = Vec::with_capacity(len);
            for array in arrays {
                push_codes(array.as_ref(), &mut codes)?;
            }
            Some(Values::Codes(codes))
        }
        Kind::Seq => {
            let mut seqs = Vec::with_capacity(len);
            for array in arrays {
                let mut texts: Vec<Option<&str>> = Vec::with_capacity(array.len());
                for_each_text(array.as_ref(), |text| texts.push(text))?;
                seqs.extend(texts.into_iter().map(|t| t.map(SeqNo::from)));
            }
            Some(Values::Seqs(seqs))
        }
    }
}

/// Appends each row's interned text; a dictionary's texts are interned once each.
fn push_texts(array: &dyn Array, out: &mut Vec<Option<Sym>>) -> Option<()> {
    fn keyed<K: DictionaryKey>(array: &dyn Array, out: &mut Vec<Option<Sym>>) -> Option<()> {
        let array = array.as_any().downcast_ref::<DictionaryArray<K>>()?;
        let dictionary = interned(array.values().as_ref())?;
        let keys = array.keys();
        // A key past the dictionary (or negative) makes the file one for the DataFrame path; the
        // loops note it and go on, so they stay free of early exits and push the rows with one
        // reservation (a `?` per row cost twice the instructions).
        let mut bad = false;
        let mut text = |key: K| -> Option<Sym> {
            let text = key.try_into().ok().and_then(|at: usize| dictionary.get(at));
            bad |= text.is_none();
            text.copied().flatten()
        };
        match keys.validity().filter(|_| keys.null_count() > 0) {
            // No validity to zip with: the common case (hub, device, operation).
            None => out.extend(keys.values().iter().map(|&key| text(key))),
            // The values and the validity bits side by side: an iterator of `Option<&K>` took
            // twice the instructions.
            Some(valid) => out.extend(
                keys.values()
                    .iter()
                    .zip(valid.iter())
                    .map(|(&key, valid)| if valid { text(key) } else { None }),
            ),
        }
        (!bad).then_some(())
    }
    match array.dtype() {
        ArrowDataType::Dictionary(key, _, _) => {
            use polars_arrow::datatypes::IntegerType;
            match key {
                IntegerType::UInt32 => keyed::<u32>(array, out),
                IntegerType::Int32 => keyed::<i32>(array, out),
                IntegerType::UInt8 => keyed::<u8>(array, out),
                IntegerType::Int8 => keyed::<i8>(array, out),
                IntegerType::UInt16 => keyed::<u16>(array, out),
                IntegerType::Int16 => keyed::<i16>(array, out),
                _ => None,
            }
        }
        _ => for_each_text(array, |text| out.push(text.map(Sym::new))),
    }
}

/// A dictionary's texts, each interned once.
fn interned(values: &dyn Array) -> Option<Vec<Option<Sym>>> {
    let mut dictionary = Vec::with_capacity(values.len());
    for_each_text(values, |text| dictionary.push(text.map(Sym::new)))?;
    Some(dictionary)
}

/// Calls `f` with each row's text of a plain (not dictionary) string array.
fn for_each_text<'a>(array: &'a dyn Array, f: impl FnMut(Option<&'a str>)) -> Option<()> {
    let any = array.as_any();
    if let Some(array) = any.downcast_ref::<BinaryViewArrayGeneric<str>>() {
        array.iter().for_each(f);
    } else if let Some(array) = any.downcast_ref::<Utf8Array<i32>>() {
        array.iter().for_each(f);
    } else if let Some(array) = any.downcast_ref::<Utf8Array<i64>>() {
        array.iter().for_each(f);
    } else {
        return None;
    }
    Some(())
}

/// Appends each row's error code; a value that is no `u32` (or is `u32::MAX`, which a
/// [`ResultCode`] does not hold) leaves the file to the DataFrame path.
fn push_codes(array: &dyn Array, out: &mut Vec<Option<ResultCode>>) -> Option<()> {
    fn integers<T: polars_arrow::types::NativeType + TryInto<u32>>(
        array: &dyn Array,
        out: &mut Vec<Option<ResultCode>>,
    ) -> Option<()> {
        let array = array.as_any().downcast_ref::<PrimitiveArray<T>>()?;
        for value in array {
            out.push(match value {
                None => None,
                // Past `u32`, or `u32::MAX`: the DataFrame path rejects the row.
                Some(&v) => Some(ResultCode::new(v.try_into().ok()?)?),
            });
        }
        Some(())
    }
    match array.dtype() {
        ArrowDataType::UInt32 => integers::<u32>(array, out),
        ArrowDataType::Int64 => integers::<i64>(array, out),
        ArrowDataType::Int32 => integers::<i32>(array, out),
        ArrowDataType::UInt64 => integers::<u64>(array, out),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use polars::prelude::{
        DataFrame, DataType, ParquetReader, ParquetWriter, SerReader as _, TimeUnit as PlTimeUnit,
        TimeZone,
    };
    use proptest::prelude::*;

    use super::*;
    use crate::frame::{df_to_events, events_to_df};

    fn parquet(df: &mut DataFrame) -> Vec<u8> {
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(df).expect("polars writes it");
        bytes
    }

    /// What the DataFrame path reads from `bytes`.
    fn through_frames(bytes: &[u8]) -> Vec<Event> {
        let df = ParquetReader::new(Cursor::new(bytes)).finish().expect("polars reads it");
        df_to_events(&df, 2).expect("valid rows")
    }

    /// `df` as another writer might type it: plain strings and times in milliseconds.
    fn foreign(mut df: DataFrame) -> DataFrame {
        for name in df.get_column_names_owned() {
            let column = df.column(&name).expect("a column");
            let cast = match column.dtype() {
                DataType::Categorical(_, _) => Some(DataType::String),
                DataType::Datetime(_, _) => {
                    Some(DataType::Datetime(PlTimeUnit::Milliseconds, Some(TimeZone::UTC)))
                }
                DataType::UInt32 if name == columns::RESULT_TYPE => Some(DataType::Int64),
                _ => None,
            };
            if let Some(dtype) = cast {
                let column = column.cast(&dtype).expect("casts");
                df.with_column(column).expect("replaces");
            }
        }
        df
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn reads_what_the_dataframe_path_reads(
            events in proptest::collection::vec(dropscope_model::proptest::event(), 0..40),
        ) {
            // Whole milliseconds, so the foreign file holds the same times; some with an Event
            // Grid sequence number.
            let events: Vec<Event> = events
                .into_iter()
                .enumerate()
                .map(|(idx, e)| Event {
                    time: Timestamp(e.time.0 / 1_000_000 * 1_000_000),
                    seq: (idx % 3 == 0).then(|| format!("{idx:016}").into()),
                    ..e
                })
                .collect();
            let df = events_to_df(&events).expect("a frame");
            for mut df in [df.clone(), foreign(df)] {
                let bytes = parquet(&mut df);
                let direct = check_pages(&bytes).ok().and_then(|m| read_events(&bytes, &m, 2));
                // Every table with rows; an empty one goes the DataFrame way.
                prop_assert_eq!(direct.is_some(), !events.is_empty(), "{:?}", df.schema());
                prop_assert_eq!(direct.unwrap_or_default(), through_frames(&bytes));
            }
        }
    }

    /// Row groups that end inside the blocks the fields are set in, texts with and without nulls
    /// (left as dictionary keys until set): the same events as the DataFrame path reads.
    #[test]
    fn row_groups_across_blocks_read_as_the_dataframe_path_reads() {
        let events: Vec<Event> = (0..10_000_u32)
            .map(|i| {
                let mut event = Event::new(
                    Timestamp(1_700_000_000_000_000_000 + i64::from(i) * 1_000_000_000),
                    "hub",
                    &format!("d{}", i % 97),
                    Operation::Connect,
                );
                event.protocol = Some(Sym::new(["Mqtt", "Amqp", "Https"][(i % 3) as usize]));
                event.masked_ip = (i % 7 != 0).then(|| Sym::new(&format!("10.0.{}.XXX", i % 11)));
                event.source_line = u64::from(i) + 1;
                event
            })
            .collect();
        let mut df = events_to_df(&events).expect("a frame");
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .with_row_group_size(Some(2_001))
            .finish(&mut df)
            .expect("polars writes it");
        let metadata = check_pages(&bytes).expect("a sound file");
        assert!(metadata.row_groups.len() > 2, "{} row groups", metadata.row_groups.len());
        let direct = read_events(&bytes, &metadata, 2).expect("read directly");
        assert_eq!(direct, through_frames(&bytes));
    }

    #[test]
    fn a_page_header_claiming_too_much_is_a_corrupt_file() {
        use polars::prelude::NamedFrom as _;

        // A flipped byte made a page claim -566 values; polars' Parquet layer then tried to
        // allocate 2^61 bytes and the process aborted.
        let bytes = include_bytes!(
            "../../../data/fuzz-regressions/read_parquet_no_panic/page-claims-negative-values.parquet"
        );
        let why = check_pages(bytes).expect_err("a bad page header");
        assert!(why.contains("a page claims -566 values of 548 rows"), "{why}");
        // A footer whose list claimed billions of entries: polars asked for 214 GB.
        let footer = include_bytes!(
            "../../../data/fuzz-regressions/read_parquet_no_panic/footer-claims-huge-list.parquet"
        );
        let why = check_pages(footer).expect_err("a bad footer");
        assert!(why.contains("the footer does not parse"), "{why}");
        let err = crate::frame::read_events(bytes, 0).expect_err("refused");
        assert!(err.to_string().contains("the file is corrupt"), "{err}");
        // dropscope's own files pass, and so does one with a list column, whose pages hold
        // more values than rows.
        let events = vec![
            Event::new(Timestamp(1_000), "hub", "a", Operation::Connect),
            Event::new(Timestamp(2_000), "hub", "a", Operation::Disconnect),
        ];
        let mut df = events_to_df(&events).expect("a frame");
        let bytes = parquet(&mut df);
        assert!(check_pages(&bytes).is_ok());
        let tag = polars::prelude::Series::new("t".into(), ["x", "y", "z"]);
        let tags = polars::prelude::Series::new("tags".into(), [tag.clone(), tag]);
        df.with_column(tags.into()).expect("a list column");
        let bytes = parquet(&mut df);
        assert!(check_pages(&bytes).is_ok());
        assert_eq!(through_frames(&bytes), crate::frame::read_events(&bytes, 2).expect("read"));
    }

    /// An events file whose `name` column (categorical, so written as a dictionary) holds
    /// `texts`, one a row.
    fn with_texts(name: &str, texts: &[Option<&str>]) -> Vec<u8> {
        let events: Vec<Event> = (0..texts.len())
            .map(|i| Event::new(Timestamp(i as i64 * 1_000), "hub", "a", Operation::Connect))
            .collect();
        let mut df = events_to_df(&events).expect("a frame");
        let dtype = df.column(name).expect("a column").dtype().clone();
        let column = polars::prelude::Column::new(name.into(), texts);
        df.with_column(column.cast(&dtype).expect("casts")).expect("replaces");
        parquet(&mut df)
    }

    /// Operations and levels are set from their dictionary keys when the whole dictionary
    /// parses; a null operation, or a text that does not parse, leaves the file to the DataFrame
    /// path, which reports the row.
    #[test]
    fn operations_and_levels_are_read_as_the_dataframe_path_reads() {
        let direct = |bytes: &[u8]| read_events(bytes, &check_pages(bytes).expect("sound"), 2);
        let refused = |bytes: &[u8]| {
            assert!(direct(bytes).is_none());
            crate::frame::read_events(bytes, 2).expect_err("a bad row").to_string()
        };
        // A null level is Information.
        let bytes = with_texts(columns::LEVEL, &[Some("Error"), None, Some("Warning")]);
        let events = direct(&bytes).expect("read directly");
        let levels: Vec<Level> = events.iter().map(|e| e.level).collect();
        assert_eq!(levels, [Level::Error, Level::Information, Level::Warning]);
        assert_eq!(events, through_frames(&bytes));
        let bytes = with_texts(
            columns::OPERATION,
            &[Some("deviceDisconnect"), Some("deviceConnect"), Some("deviceDisconnect")],
        );
        let events = direct(&bytes).expect("read directly");
        assert_eq!(events[0].operation, Operation::Disconnect);
        assert_eq!(events, through_frames(&bytes));

        let bytes = with_texts(columns::LEVEL, &[Some("Error"), Some("Loud")]);
        assert!(refused(&bytes).contains("row 2"), "{}", refused(&bytes));
        let bytes = with_texts(columns::OPERATION, &[Some("deviceConnect"), None]);
        assert!(refused(&bytes).contains("row 2"), "{}", refused(&bytes));
        let bytes = with_texts(columns::OPERATION, &[Some("deviceConnect"), Some("reboot")]);
        assert!(refused(&bytes).contains("row 2"), "{}", refused(&bytes));
    }

    #[test]
    fn leaves_bad_rows_to_the_dataframe_path() {
        let events = vec![
            Event::new(Timestamp(1_000), "hub", "a", Operation::Connect),
            Event::new(Timestamp(2_000), "hub", "b", Operation::Disconnect),
        ];
        let mut df = events_to_df(&events).expect("a frame");
        let devices = polars::prelude::Column::new(columns::DEVICE_ID.into(), [Some("a"), None]);
        df.with_column(devices).expect("replaces");
        let bytes = parquet(&mut df);
        let metadata = check_pages(&bytes).expect("a sound file");
        assert!(read_events(&bytes, &metadata, 0).is_none());
        let err = crate::frame::read_events(&bytes, 0).expect_err("a null device");
        assert!(err.to_string().contains("row 2: null device_id"), "{err}");
    }

    /// A code is any `u32` but `u32::MAX`, which a `ResultCode` does not hold: both paths refuse
    /// that one as they refuse a code past `u32`, never read it as no code.
    #[test]
    fn refuses_a_code_that_is_not_held() {
        let events = vec![
            Event::new(Timestamp(1_000), "hub", "a", Operation::Connect),
            Event::new(Timestamp(2_000), "hub", "a", Operation::Disconnect),
        ];
        let codes = [
            polars::prelude::Column::new(columns::RESULT_TYPE.into(), [None, Some(u32::MAX)]),
            polars::prelude::Column::new(columns::RESULT_TYPE.into(), [None, Some(1_i64 << 40)]),
        ];
        for code in codes {
            let mut df = events_to_df(&events).expect("a frame");
            df.with_column(code).expect("replaces");
            let bytes = parquet(&mut df);
            let metadata = check_pages(&bytes).expect("a sound file");
            assert!(read_events(&bytes, &metadata, 0).is_none());
            let err = crate::frame::read_events(&bytes, 0).expect_err("a bad code");
            assert!(err.to_string().contains("row 2: bad result_type"), "{err}");
        }
        let mut df = events_to_df(&events).expect("a frame");
        let held = [None, Some(u32::MAX - 1)];
        df.with_column(polars::prelude::Column::new(columns::RESULT_TYPE.into(), held))
            .expect("replaces");
        let bytes = parquet(&mut df);
        let events = read_events(&bytes, &check_pages(&bytes).expect("sound"), 2).expect("read");
        assert_eq!(events.iter().map(Event::code).collect::<Vec<_>>(), held);
        assert_eq!(events, through_frames(&bytes));
    }
}

#[cfg(test)]
mod mutated {
    use std::sync::OnceLock;

    use dropscope_model::{Event, Operation, ResultCode, Timestamp};
    use proptest::prelude::*;

    /// A small events file of dropscope's.
    fn file() -> &'static [u8] {
        static FILE: OnceLock<Vec<u8>> = OnceLock::new();
        FILE.get_or_init(|| {
            let events: Vec<Event> = (0..300_i64)
                .map(|i| {
                    let op = if i % 2 == 0 { Operation::Connect } else { Operation::Disconnect };
                    let device = format!("d{}", i % 7);
                    let mut e =
                        Event::new(Timestamp(1_700_000_000_000_000_000 + i), "hub", &device, op);
                    e.result_type = ResultCode::new(404_104).filter(|_| i % 3 == 0);
                    e
                })
                .collect();
            let dir = tempfile::tempdir().expect("a temp dir");
            let path = dir.path().join("e.parquet");
            crate::frame::write_events(&path, &events).expect("write");
            std::fs::read(path).expect("read back")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// polars' Parquet layer panics on some of these (a mangled footer); the reader turns
        /// that into an error.
        #[test]
        fn a_mangled_file_is_an_error_or_events_never_a_panic(
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<bool>(),
        ) {
            let mut bytes = file().to_vec();
            let i = at.index(bytes.len());
            if cut {
                bytes.truncate(i.max(4));
            } else {
                bytes[i] = byte;
            }
            if let Err(err) = crate::frame::read_events(&bytes, 0) {
                prop_assert!(!err.to_string().is_empty());
            }
        }
    }
}
