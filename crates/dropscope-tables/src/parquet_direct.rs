//! The events and sessions tables written to Parquet straight from their rows, as Arrow arrays
//! through polars' own Parquet writer: no DataFrame, and no trip of every text through polars'
//! global categorical mapping and back to a per-file dictionary (together a quarter of the
//! simulator's Parquet time, and most of `dropscope sessions`' writing time). A file is the one
//! [`crate::frame::write_df`] writes: the same Arrow schema (taken from polars, categorical
//! metadata included), dictionary-encoded texts, zstd (at level 1 where polars uses 3), one row
//! group per table (polars writes a one-chunk frame as one), except the streamed sessions, whose
//! [`crate::frame::SessionsFile`] writes one per 2^18 sessions or more. Times and durations are
//! dictionary-encoded by [`nanos`] when few differ, as polars' writer does for times (durations it
//! writes plain: on the benchmark's sessions, 8,039 distinct durations in 883,752 rows, a file
//! 4% smaller this way). The data pages of every dictionary column are built by
//! [`crate::parquet_keys`], the same bytes as polars' writer makes, from the key slices.
//!
//! Two tables come this way. The events: the simulator's hourly files and `dropscope ingest -o`.
//! The sessions: `dropscope sessions -o`, one row group at a time as the engine streams them,
//! each batch first gathered into one compact vector per column ([`SessionColumns`]), because
//! building every column from the sessions themselves read each session's 112 bytes once per
//! column.
//!
//! The Arrow arrays are built straight from the rows. A text column is keyed by [`Sym`] handle
//! through a table indexed by handle, so each distinct text is met once and no text is hashed
//! again; times and durations are keyed through a small open-addressing table of their values.
//! Each column is then encoded and compressed on its own, in parallel for one big file, serially
//! when the simulator writes many files at once (a second level of parallelism cost it 10% of
//! its time and 80 MB of memory). Proptests write the same rows both ways, read both files back
//! and compare them.

use std::io::Write;

use dropscope_model::{Event, FxHashMap, Level, Repairs, Session, Sym, Timestamp, columns};
use polars::prelude::{CompatLevel, PolarsError, PolarsResult, SchemaExt as _, polars_bail};
use polars_arrow::array::{
    Array, BooleanArray, DictionaryArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray,
};
use polars_arrow::bitmap::MutableBitmap;
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field, IntegerType};
use polars_parquet::write::{
    CompressedPage, CompressionOptions, DynIter, DynStreamingIterator, Encoding,
    FallibleStreamingIterator, FileWriter, Page, ParquetType, StatisticsOptions, Version,
    WriteOptions, ZstdLevel, array_to_columns, compress, get_dtype_encoding, to_parquet_schema,
};
use rayon::prelude::*;

use crate::parquet_keys::dictionary_pages;
use crate::schema::{self, Names};

/// Whether to build and encode the columns of one file in parallel: yes for one big file, no
/// when many files are written at once (the simulator writes its hours in parallel; a second
/// level of parallel encoding cost it 10% of its time and 80 MB of memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Columns {
    Parallel,
    Sequential,
}

/// Writes `events` as Parquet to `out`.
pub(crate) fn write(out: impl Write, events: &[Event], mode: Columns) -> PolarsResult<()> {
    let schema = schema::events().to_arrow(CompatLevel::newest());
    write_table(out, schema, events.len(), mode, |name, dtype| column(name, dtype, events))
}

/// Writes `sessions` as Parquet to `out`, its columns in parallel, as one row group.
pub(crate) fn write_sessions(out: impl Write, sessions: &[Session]) -> PolarsResult<()> {
    let mut file = SessionsParquet::new(out)?;
    let mut columns = SessionColumns::default();
    columns.extend(sessions);
    file.write(&columns)?;
    file.finish()?;
    Ok(())
}

/// A sessions Parquet file written a row group at a time (see
/// [`crate::frame::SessionsFile`]).
pub(crate) struct SessionsParquet<W: Write> {
    writer: FileWriter<W>,
    schema: ArrowSchema,
    types: Vec<ParquetType>,
}

impl<W: Write> SessionsParquet<W> {
    pub(crate) fn new(out: W) -> PolarsResult<SessionsParquet<W>> {
        let schema = schema::sessions().to_arrow(CompatLevel::newest());
        let types = to_parquet_schema(&schema)?.fields().to_vec();
        let writer = FileWriter::try_new(out, schema.clone(), options())?;
        Ok(SessionsParquet { writer, schema, types })
    }

    /// Writes `sessions` as one row group, its columns built and encoded in parallel; nothing
    /// when there are none.
    pub(crate) fn write(&mut self, sessions: &SessionColumns) -> PolarsResult<()> {
        let encoded = encode(&self.schema, &self.types, Columns::Parallel, |name, dtype| {
            session_column(name, dtype, sessions)
        })?;
        write_group(&mut self.writer, sessions.len(), encoded)
    }

    /// Writes the footer and returns the output.
    pub(crate) fn finish(mut self) -> PolarsResult<W> {
        self.writer.end(None)?;
        Ok(self.writer.into_inner())
    }
}

/// Sessions as the columns of the sessions table, filled a batch of sessions at a time: each
/// column is then built from its own compact vector. Built from the sessions themselves, each
/// of the sixteen columns read every session's 112 bytes again, 30 MB a row group.
#[derive(Default)]
pub(crate) struct SessionColumns {
    hub: Vec<Sym>,
    device_id: Vec<Sym>,
    module_id: Vec<Option<Sym>>,
    session_id: Vec<u32>,
    connect_time: Vec<Option<i64>>,
    disconnect_time: Vec<Option<i64>>,
    duration: Vec<Option<i64>>,
    protocol: Vec<Option<Sym>>,
    masked_ip: Vec<Option<Sym>>,
    sdk_version: Vec<Option<Sym>>,
    end_result_type: Vec<Option<u32>>,
    end_level: Vec<Option<Level>>,
    gap_before: Vec<Option<i64>>,
    failed_connects_before: Vec<u32>,
    overlap: Vec<bool>,
    repaired: Vec<Repairs>,
}

impl SessionColumns {
    /// Appends `sessions`, in one pass over them.
    pub(crate) fn extend(&mut self, sessions: &[Session]) {
        self.reserve(sessions.len());
        for s in sessions {
            self.hub.push(s.hub);
            self.device_id.push(s.device_id);
            self.module_id.push(s.module_id);
            self.session_id.push(s.session_id);
            self.connect_time.push(s.connect_time.get().map(Timestamp::nanos));
            self.disconnect_time.push(s.disconnect_time.get().map(Timestamp::nanos));
            self.duration.push(s.duration_ns());
            self.protocol.push(s.protocol);
            self.masked_ip.push(s.masked_ip);
            self.sdk_version.push(s.sdk_version);
            self.end_result_type.push(s.end_result_type);
            self.end_level.push(s.end_level);
            self.gap_before.push(s.gap_before_ns.get());
            self.failed_connects_before.push(s.failed_connects_before);
            self.overlap.push(s.overlap);
            self.repaired.push(s.repaired);
        }
    }

    /// Room for `more` sessions without moving any column.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.hub.reserve(more);
        self.device_id.reserve(more);
        self.module_id.reserve(more);
        self.session_id.reserve(more);
        self.connect_time.reserve(more);
        self.disconnect_time.reserve(more);
        self.duration.reserve(more);
        self.protocol.reserve(more);
        self.masked_ip.reserve(more);
        self.sdk_version.reserve(more);
        self.end_result_type.reserve(more);
        self.end_level.reserve(more);
        self.gap_before.reserve(more);
        self.failed_connects_before.reserve(more);
        self.overlap.reserve(more);
        self.repaired.reserve(more);
    }

    pub(crate) fn len(&self) -> usize {
        self.hub.len()
    }

    /// Empties every column, keeping its room.
    pub(crate) fn clear(&mut self) {
        self.hub.clear();
        self.device_id.clear();
        self.module_id.clear();
        self.session_id.clear();
        self.connect_time.clear();
        self.disconnect_time.clear();
        self.duration.clear();
        self.protocol.clear();
        self.masked_ip.clear();
        self.sdk_version.clear();
        self.end_result_type.clear();
        self.end_level.clear();
        self.gap_before.clear();
        self.failed_connects_before.clear();
        self.overlap.clear();
        self.repaired.clear();
    }
}

/// zstd at level 1, the default statistics, Parquet 1 data pages. polars' writer uses zstd's
/// default level (3): level 1 takes a tenth less CPU for the whole `dropscope sessions` run on
/// 2 M events, for a 4% larger file.
fn options() -> WriteOptions {
    WriteOptions {
        statistics: StatisticsOptions::default(),
        compression: CompressionOptions::Zstd(ZstdLevel::try_new(1).ok()),
        version: Version::V1,
        data_page_size: None,
    }
}

/// Writes a table of `n_rows` rows whose column of each field of `schema` `column` builds, as
/// one row group.
fn write_table(
    out: impl Write,
    schema: ArrowSchema,
    n_rows: usize,
    mode: Columns,
    column: impl Fn(&str, &ArrowDataType) -> PolarsResult<Box<dyn Array>> + Sync,
) -> PolarsResult<()> {
    let types = to_parquet_schema(&schema)?.fields().to_vec();
    let encoded = encode(&schema, &types, mode, column)?;
    let mut writer = FileWriter::try_new(out, schema, options())?;
    write_group(&mut writer, n_rows, encoded)?;
    writer.end(None)?;
    Ok(())
}

/// The compressed pages of each column (by leaf) of a row group: each column built by `column`,
/// encoded and compressed on its own, in parallel or not.
fn encode(
    schema: &ArrowSchema,
    types: &[ParquetType],
    mode: Columns,
    column: impl Fn(&str, &ArrowDataType) -> PolarsResult<Box<dyn Array>> + Sync,
) -> PolarsResult<Vec<Vec<Vec<CompressedPage>>>> {
    let fields: Vec<(&Field, &ParquetType)> = schema.iter_values().zip(types).collect();
    let options = options();
    let encode = |&(field, parquet_type): &(&Field, &ParquetType)| {
        let array = column(field.name.as_str(), &field.dtype)?;
        // A time or duration column arrives dictionary-encoded when that pays ([`nanos`]);
        // otherwise it is written plain, without the writer trying a dictionary again.
        let encoding: Vec<Encoding> =
            if is_nanos(&field.dtype) && !matches!(array.dtype(), ArrowDataType::Dictionary(..)) {
                vec![Encoding::Plain]
            } else {
                get_dtype_encoding(&field.dtype)
            };
        let compressed = |page: Page| Ok(compress(page, Vec::new(), options.compression)?);
        // The dictionary columns' data pages are built here, the rest by polars.
        if let Some(dictionary) = array.as_any().downcast_ref::<DictionaryArray<u32>>()
            && let Some(pages) = dictionary_pages(dictionary, parquet_type, options)
        {
            return Ok(vec![pages?.into_iter().map(compressed).collect::<PolarsResult<_>>()?]);
        }
        let leaves = array_to_columns(array, parquet_type.clone(), options, &encoding)?;
        leaves
            .into_iter()
            .map(|pages| pages.map(|page| compressed(page?)).collect::<PolarsResult<Vec<_>>>())
            .collect::<PolarsResult<Vec<_>>>()
    };
    match mode {
        Columns::Parallel => fields.par_iter().map(encode).collect(),
        Columns::Sequential => fields.iter().map(encode).collect(),
    }
}

/// Writes one row group of `n_rows` rows from its encoded columns; nothing when it has no rows
/// (as polars writes an empty frame: no row group).
fn write_group<W: Write>(
    writer: &mut FileWriter<W>,
    n_rows: usize,
    encoded: Vec<Vec<Vec<CompressedPage>>>,
) -> PolarsResult<()> {
    if n_rows == 0 {
        return Ok(());
    }
    let group = encoded.into_iter().flatten().map(|pages| {
        Ok(DynStreamingIterator::new(Pages { pages: pages.into_iter(), current: None }))
    });
    writer.write(n_rows as u64, DynIter::new(group))
}

/// One column's compressed pages, handed to the writer one at a time.
struct Pages {
    pages: std::vec::IntoIter<CompressedPage>,
    current: Option<CompressedPage>,
}

impl FallibleStreamingIterator for Pages {
    type Item = CompressedPage;
    type Error = PolarsError;

    fn advance(&mut self) -> PolarsResult<()> {
        self.current = self.pages.next();
        Ok(())
    }

    fn get(&self) -> Option<&CompressedPage> {
        self.current.as_ref()
    }
}

/// The column `name` of the events table as an Arrow array of type `dtype`.
fn column(name: &str, dtype: &ArrowDataType, events: &[Event]) -> PolarsResult<Box<dyn Array>> {
    let names = Names::new();
    let texts = |f: fn(&Event) -> Option<Sym>| dictionary(dtype, events.iter().map(f));
    Ok(match name {
        columns::TIME => {
            let times: Vec<Option<i64>> = events.iter().map(|e| Some(e.time.nanos())).collect();
            nanos(dtype, &times)?
        }
        columns::HUB => texts(|e| Some(e.hub))?,
        columns::DEVICE_ID => texts(|e| Some(e.device_id))?,
        columns::MODULE_ID => texts(|e| e.module_id)?,
        columns::OPERATION => {
            dictionary(dtype, events.iter().map(|e| Some(names.operation(e.operation))))?
        }
        columns::LEVEL => dictionary(dtype, events.iter().map(|e| Some(names.level(e.level))))?,
        columns::RESULT_TYPE => {
            let codes: Vec<Option<u32>> = events.iter().map(Event::code).collect();
            PrimitiveArray::from(codes).to(dtype.clone()).boxed()
        }
        columns::RESULT_DESCRIPTION => texts(|e| e.result_description)?,
        columns::PROTOCOL => texts(|e| e.protocol)?,
        columns::MASKED_IP => texts(|e| e.masked_ip)?,
        columns::SDK_VERSION => texts(|e| e.sdk_version)?,
        columns::AUTH_TYPE => texts(|e| e.auth_type)?,
        columns::STATUS_CODE => texts(|e| e.status_code)?,
        columns::SOURCE => {
            let sources: Vec<u32> = events.iter().map(|e| e.source).collect();
            PrimitiveArray::from_vec(sources).to(dtype.clone()).boxed()
        }
        columns::SOURCE_LINE => {
            let lines: Vec<u64> = events.iter().map(|e| e.source_line).collect();
            PrimitiveArray::from_vec(lines).to(dtype.clone()).boxed()
        }
        columns::SEQ if *dtype == ArrowDataType::Utf8View => {
            let mut seqs = MutableBinaryViewArray::<str>::with_capacity(events.len());
            for event in events {
                seqs.push(event.seq.as_deref());
            }
            let seqs: Utf8ViewArray = seqs.into();
            seqs.boxed()
        }
        other => polars_bail!(ComputeError: "no direct writer for column {other} ({dtype:?})"),
    })
}

/// The column `name` of the sessions table as an Arrow array of type `dtype`.
fn session_column(
    name: &str,
    dtype: &ArrowDataType,
    sessions: &SessionColumns,
) -> PolarsResult<Box<dyn Array>> {
    let names = Names::new();
    let texts = |column: &[Option<Sym>]| dictionary(dtype, column.iter().copied());
    let all = |column: &[Sym]| dictionary(dtype, column.iter().copied().map(Some));
    Ok(match name {
        "device_id" => all(&sessions.device_id)?,
        "module_id" => texts(&sessions.module_id)?,
        "session_id" => PrimitiveArray::from_slice(&sessions.session_id).to(dtype.clone()).boxed(),
        "connect_time" => nanos(dtype, &sessions.connect_time)?,
        "disconnect_time" => nanos(dtype, &sessions.disconnect_time)?,
        "duration" => nanos(dtype, &sessions.duration)?,
        "protocol" => texts(&sessions.protocol)?,
        "masked_ip" => texts(&sessions.masked_ip)?,
        "sdk_version" => texts(&sessions.sdk_version)?,
        "end_result_type" => sessions
            .end_result_type
            .iter()
            .copied()
            .collect::<PrimitiveArray<u32>>()
            .to(dtype.clone())
            .boxed(),
        "end_level" => {
            dictionary(dtype, sessions.end_level.iter().map(|level| level.map(|l| names.level(l))))?
        }
        "gap_before" => nanos(dtype, &sessions.gap_before)?,
        "failed_connects_before" => {
            PrimitiveArray::from_slice(&sessions.failed_connects_before).to(dtype.clone()).boxed()
        }
        "overlap" => sessions.overlap.iter().map(|&o| Some(o)).collect::<BooleanArray>().boxed(),
        "repaired" => dictionary(
            dtype,
            sessions.repaired.iter().map(|&repaired| Some(names.repairs(repaired))),
        )?,
        "hub" => all(&sessions.hub)?,
        other => {
            polars_bail!(ComputeError: "no direct writer for session column {other} ({dtype:?})")
        }
    })
}

/// Whether `dtype` is a time or a duration, the columns [`nanos`] builds.
fn is_nanos(dtype: &ArrowDataType) -> bool {
    matches!(dtype, ArrowDataType::Timestamp(..) | ArrowDataType::Duration(_))
}

/// A column of times or durations in nanoseconds (`dtype` a timestamp or a duration), encoded
/// as polars' writer would encode it, without its detour: the writer tries a dictionary for
/// every integer column, and for values this far apart builds one by casting the column through
/// its generic dictionary builder, which hashes every value (about 8% of the instructions of
/// `dropscope sessions` from Parquet, by callgrind). Here: a dictionary in first-seen order, as
/// the cast builds it, when at most three quarters of the rows are distinct values (the writer's
/// rule, on an exact count instead of its estimate); else the values as they are, which
/// [`encode`] writes plain. The distinct values are found with a [`Probe`] table.
fn nanos(dtype: &ArrowDataType, values: &[Option<i64>]) -> PolarsResult<Box<dyn Array>> {
    // The writer's rule: no dictionary once more than three quarters of the rows differ.
    let most = if values.len() > 128 { values.len() * 3 / 4 } else { usize::MAX };
    let mut distinct: Vec<i64> = Vec::new();
    let index = Probe::default();
    let Some(keys) =
        first_seen_keys(values.iter().copied(), index, |v| v, most, |v| distinct.push(v))
    else {
        return Ok(values
            .iter()
            .copied()
            .collect::<PrimitiveArray<i64>>()
            .to(dtype.clone())
            .boxed());
    };
    let distinct = PrimitiveArray::from_vec(distinct).to(dtype.clone()).boxed();
    let dictionary = ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(dtype.clone()), false);
    Ok(DictionaryArray::<u32>::try_new(dictionary, keys, distinct)?.boxed())
}

/// A dictionary array of interned texts: each distinct text once, in order of first sight,
/// keyed by handle (the texts are never hashed again).
fn dictionary(
    dtype: &ArrowDataType,
    values: impl Iterator<Item = Option<Sym>>,
) -> PolarsResult<Box<dyn Array>> {
    let ArrowDataType::Dictionary(_, value_type, _) = dtype else {
        polars_bail!(ComputeError: "expected a dictionary type, found {dtype:?}");
    };
    if **value_type != ArrowDataType::Utf8View {
        polars_bail!(ComputeError: "expected Utf8View dictionary values, found {value_type:?}");
    }
    let mut texts = MutableBinaryViewArray::<str>::new();
    let values: Vec<Option<Sym>> = values.collect();
    // Handles are numbered from 1 in order of first sight across the process: when they are few
    // beside the rows, each row's key is looked up in a table indexed by handle; else in a hash
    // map.
    let most_handle = values.iter().flatten().map(|sym| sym.handle()).max().unwrap_or(0) as usize;
    let keys = if most_handle <= 4 * values.len() + 1024 {
        // Nulls look up handle 0, never a text's, whose key (masked by the validity) is 0.
        let mut table = vec![u32::MAX; most_handle + 1];
        table[0] = 0;
        let mut distinct = 0_u32;
        let keys: Vec<u32> = values
            .iter()
            .map(|value| {
                let slot = &mut table[value.map_or(0, Sym::handle) as usize];
                if *slot == u32::MAX {
                    *slot = distinct;
                    distinct += 1;
                    if let Some(sym) = value {
                        texts.push_value(sym.as_str());
                    }
                }
                *slot
            })
            .collect();
        let validity = values
            .iter()
            .any(Option::is_none)
            .then(|| values.iter().map(Option::is_some).collect::<MutableBitmap>().into());
        PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), validity)
    } else {
        let index: FxHashMap<u32, u32> = FxHashMap::default();
        let push = |sym: Sym| texts.push_value(sym.as_str());
        first_seen_keys(values.into_iter(), index, Sym::handle, usize::MAX, push)
            .expect("no bound on the distinct texts")
    };
    let texts: Utf8ViewArray = texts.into();
    Ok(DictionaryArray::<u32>::try_new(dtype.clone(), keys, texts.boxed())?.boxed())
}

/// The keys of a dictionary of `values` in first-seen order: each value's key is the number of
/// distinct values (by `id`, looked up in `index`) seen before its first sight, when `first` is
/// called with it; nulls are null keys. `None` once more than `most` values are distinct. The keys
/// are built directly (a vector of `Option<u32>` converted afterwards cost a third of the text
/// dictionaries' instructions), and the validity from the null rows.
fn first_seen_keys<T: Copy, K: Copy + Eq>(
    values: impl Iterator<Item = Option<T>>,
    mut index: impl KeyIndex<K>,
    id: impl Fn(T) -> K,
    most: usize,
    mut first: impl FnMut(T),
) -> Option<PrimitiveArray<u32>> {
    let mut distinct = 0_u32;
    let mut last: Option<(K, u32)> = None;
    let mut keys: Vec<u32> = Vec::with_capacity(values.size_hint().0);
    // The rows with a null, set as a validity afterwards (a bit pushed per row cost a fifth of
    // the loop).
    let mut nulls: Vec<usize> = Vec::new();
    for (row, value) in values.enumerate() {
        let Some(value) = value else {
            keys.push(0);
            nulls.push(row);
            continue;
        };
        let value_id = id(value);
        let key = match last {
            Some((last_id, key)) if last_id == value_id => key,
            _ => {
                let key = index.key(value_id, distinct);
                if key == distinct {
                    first(value);
                    distinct += 1;
                    if distinct as usize > most {
                        return None;
                    }
                }
                last = Some((value_id, key));
                key
            }
        };
        keys.push(key);
    }
    let validity = (!nulls.is_empty()).then(|| {
        let mut bits = MutableBitmap::from_len_set(keys.len());
        for row in nulls {
            bits.set(row, false);
        }
        bits.into()
    });
    Some(PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), validity))
}

/// Where [`first_seen_keys`] finds the key of each distinct value.
trait KeyIndex<K> {
    /// The key of `id`; on its first sight `next`, which becomes its key.
    fn key(&mut self, id: K, next: u32) -> u32;
}

impl<K: Eq + std::hash::Hash> KeyIndex<K> for FxHashMap<K, u32> {
    fn key(&mut self, id: K, next: u32) -> u32 {
        *self.entry(id).or_insert(next)
    }
}

/// Keys of 64-bit values (times, durations): an open-addressing table, linear probing from a
/// multiplicative hash, at most three quarters full, values and keys in two arrays (12 bytes a
/// slot, about what the general hash map takes). Half the instructions of the hash map here.
#[derive(Default)]
struct Probe {
    /// A power of two long; a slot is empty when its key is `u32::MAX`.
    values: Vec<i64>,
    keys: Vec<u32>,
    len: usize,
    /// `64 - log2(slots)`: the hash's top bits index the table.
    shift: u32,
}

impl Probe {
    fn grow(&mut self) {
        let size = (self.keys.len() * 2).max(1024);
        let values = std::mem::replace(&mut self.values, vec![0; size]);
        let keys = std::mem::replace(&mut self.keys, vec![u32::MAX; size]);
        self.shift = 64 - size.trailing_zeros();
        for (value, key) in values.into_iter().zip(keys) {
            if key != u32::MAX {
                let at = self.find(value);
                self.values[at] = value;
                self.keys[at] = key;
            }
        }
    }

    /// The slot holding `value`, or the empty one where it goes.
    #[inline]
    fn find(&self, value: i64) -> usize {
        let mask = self.keys.len() - 1;
        let mut at = ((value as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        while self.keys[at] != u32::MAX && self.values[at] != value {
            at = (at + 1) & mask;
        }
        at
    }
}

impl KeyIndex<i64> for Probe {
    #[inline]
    fn key(&mut self, id: i64, next: u32) -> u32 {
        if 4 * (self.len + 1) > 3 * self.keys.len() {
            self.grow();
        }
        let at = self.find(id);
        if self.keys[at] == u32::MAX {
            self.values[at] = id;
            self.keys[at] = next;
            self.len += 1;
        }
        self.keys[at]
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use polars::prelude::{DataFrame, ParquetReader, SerReader as _};
    use proptest::prelude::*;

    use super::*;
    use crate::frame::{
        TableFormat, events_to_df, read_events, sessions_to_df, write_df, write_events,
        write_events_parquet, write_sessions,
    };

    /// Both writers' files of `events`: (the DataFrame writer's, the direct one's, the direct
    /// one's with its columns in parallel).
    fn both(events: &[Event]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let paths = ["a", "b", "c"].map(|name| dir.path().join(format!("{name}.parquet")));
        let mut df = events_to_df(events).expect("a frame");
        write_df(&paths[0], &mut df, TableFormat::Parquet).expect("write a");
        write_events_parquet(&paths[1], events).expect("write b");
        write_events(&paths[2], events).expect("write c");
        let [a, b, c] = paths.map(|path| std::fs::read(path).expect("read back"));
        (a, b, c)
    }

    fn frame(bytes: &[u8]) -> DataFrame {
        ParquetReader::new(Cursor::new(bytes)).finish().expect("polars reads it")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn reads_back_like_the_dataframe_writer(
            events in proptest::collection::vec(dropscope_model::proptest::event(), 0..40),
        ) {
            let (a, b, c) = both(&events);
            prop_assert_eq!(read_events(&a, 0).expect("a"), read_events(&b, 0).expect("b"));
            prop_assert_eq!(&b, &c);
            let (a, b) = (frame(&a), frame(&b));
            prop_assert_eq!(a.schema(), b.schema());
            prop_assert!(a.equals_missing(&b));
        }

        #[test]
        fn sessions_read_back_like_the_dataframe_writer(
            sessions in proptest::collection::vec(dropscope_model::proptest::session(), 0..40),
        ) {
            let dir = tempfile::tempdir().expect("a temp dir");
            let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
            let mut df = sessions_to_df(&sessions).expect("a frame");
            write_df(&a, &mut df, TableFormat::Parquet).expect("write a");
            write_sessions(&b, &sessions).expect("write b");
            let (a, b) = (frame(&std::fs::read(a).expect("a")), frame(&std::fs::read(b).expect("b")));
            prop_assert_eq!(a.schema(), b.schema());
            prop_assert!(a.equals_missing(&b));
            prop_assert_eq!(b.height(), sessions.len());
        }

        #[test]
        fn sessions_in_row_groups_read_back_as_one_table(
            sessions in proptest::collection::vec(dropscope_model::proptest::session(), 0..40),
            cuts in (0_usize..40, 0_usize..40),
        ) {
            let (x, y) = (cuts.0.min(cuts.1).min(sessions.len()), cuts.0.max(cuts.1).min(sessions.len()));
            let mut file = SessionsParquet::new(Vec::new()).expect("a writer");
            for part in [&sessions[..x], &sessions[x..y], &sessions[y..]] {
                let mut columns = SessionColumns::default();
                columns.extend(part);
                file.write(&columns).expect("a row group");
            }
            let grouped = file.finish().expect("the footer");
            let groups = ParquetReader::new(Cursor::new(grouped.clone()))
                .get_metadata()
                .map(|m| m.row_groups.len())
                .expect("metadata");
            let non_empty = [x, y - x, sessions.len() - y].iter().filter(|&&n| n > 0).count();
            prop_assert_eq!(groups, non_empty);
            let mut df = sessions_to_df(&sessions).expect("a frame");
            let dir = tempfile::tempdir().expect("a temp dir");
            let path = dir.path().join("a.parquet");
            write_df(&path, &mut df, TableFormat::Parquet).expect("write");
            let (a, b) = (frame(&std::fs::read(path).expect("a")), frame(&grouped));
            prop_assert_eq!(a.schema(), b.schema());
            prop_assert!(a.equals_missing(&b));
        }
    }

    #[test]
    fn one_row_group_like_polars() {
        let event = Event::new(
            Timestamp(1_700_000_000_000_000_000),
            "hub",
            "d",
            dropscope_model::Operation::Connect,
        );
        let events = vec![event; 300_000];
        let (a, b, _) = both(&events);
        let (a, b) = (frame(&a), frame(&b));
        assert_eq!(b.height(), 300_000);
        assert!(a.equals_missing(&b));
        let groups = |bytes: &[u8]| {
            ParquetReader::new(Cursor::new(bytes.to_vec()))
                .get_metadata()
                .map(|m| m.row_groups.len())
                .expect("metadata")
        };
        let (a, b, c) = both(&events);
        assert_eq!(groups(&a), groups(&b));
        assert_eq!(groups(&a), groups(&c));
    }

    /// The probing table numbers values as the hash map does, through its growth.
    #[test]
    fn key_indexes_agree_with_the_hash_map() {
        let values: Vec<Option<i64>> = (0..20_000_i64)
            .map(|i| (i % 7 != 0).then_some((i * 7919 % 5003) * 1_000_000_000 - 3))
            .collect();
        let keys = |index: &mut dyn FnMut(i64, u32) -> u32| {
            let mut distinct = Vec::new();
            let mut probe = |v, next| index(v, next);
            let mut by_probe = Vec::new();
            let mut n = 0;
            for v in values.iter().flatten() {
                let key = probe(*v, n);
                if key == n {
                    n += 1;
                    distinct.push(*v);
                }
                by_probe.push(key);
            }
            (by_probe, distinct)
        };
        let mut map: FxHashMap<i64, u32> = FxHashMap::default();
        let mut probe = Probe::default();
        let expected = keys(&mut |v, next| map.key(v, next));
        assert_eq!(keys(&mut |v, next| probe.key(v, next)), expected);
        assert_eq!(expected.1.len(), 5003);
    }

    /// Texts become a first-seen dictionary with null keys for nulls, by the handle table (a
    /// column as long as the handles go) and by the hash map (a short column of late handles).
    #[test]
    fn texts_are_a_first_seen_dictionary() {
        let dtype = ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        );
        let decoded = |array: Box<dyn Array>| -> Vec<Option<String>> {
            let array = array.as_any().downcast_ref::<DictionaryArray<u32>>().expect("dictionary");
            let texts = array.values().as_any().downcast_ref::<Utf8ViewArray>().expect("texts");
            array.keys().iter().map(|k| k.map(|&k| texts.value(k as usize).to_owned())).collect()
        };
        for padding in [0, 2_000] {
            for n in 0..padding {
                Sym::new(&format!("texts_are_a_first_seen_dictionary {n}"));
            }
            let column: Vec<Option<Sym>> = ["b", "a", "", "b", "c", "a"]
                .iter()
                .enumerate()
                .map(|(i, t)| (i != 2).then(|| Sym::new(&format!("{t}{padding}"))))
                .collect();
            let expected: Vec<Option<String>> =
                column.iter().map(|s| s.map(|s| s.as_str().to_owned())).collect();
            let array = dictionary(&dtype, column.iter().copied()).expect("built");
            let keys: Vec<Option<u32>> = array
                .as_any()
                .downcast_ref::<DictionaryArray<u32>>()
                .expect("dictionary")
                .keys()
                .iter()
                .map(Option::<&u32>::copied)
                .collect();
            assert_eq!(keys, [Some(0), Some(1), None, Some(0), Some(2), Some(1)]);
            assert_eq!(decoded(array), expected);
        }
    }

    #[test]
    fn times_are_a_dictionary_unless_most_differ() {
        let dtype = ArrowDataType::Duration(polars_arrow::datatypes::TimeUnit::Nanosecond);
        let array = nanos(&dtype, &[Some(5), None, Some(3), Some(5)]).expect("built");
        let array = array.as_any().downcast_ref::<DictionaryArray<u32>>().expect("a dictionary");
        let keys: Vec<Option<u32>> = array.keys().iter().map(Option::<&u32>::copied).collect();
        assert_eq!(keys, [Some(0), None, Some(1), Some(0)]);
        let values = array.values().as_any().downcast_ref::<PrimitiveArray<i64>>().expect("i64");
        assert_eq!(values.values().as_slice(), [5, 3]);
        assert_eq!(values.dtype(), &dtype);
        // Past 128 rows, more than three quarters distinct: the values as they are.
        let distinct: Vec<Option<i64>> = (0..200).map(Some).collect();
        let array = nanos(&dtype, &distinct).expect("built");
        assert_eq!(array.dtype(), &dtype);
        assert_eq!(array.len(), 200);
    }
}
