//! The events table written to Parquet straight from events, as Arrow arrays through polars'
//! own Parquet writer: no DataFrame, and no trip of every text through polars' global
//! categorical mapping and back to a per-file dictionary (together a quarter of the
//! simulator's Parquet time). The file is the one [`crate::frame::write_df`] writes: the same
//! Arrow schema (taken from polars, categorical metadata included), dictionary-encoded texts,
//! zstd, one row group (polars writes a one-chunk frame as one).

use std::io::Write;
use std::sync::Arc;

use dropscope_model::{Event, FxHashMap, Sym, columns};
use polars::prelude::{CompatLevel, PolarsResult, SchemaExt as _, polars_bail};
use polars_arrow::array::{
    Array, DictionaryArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray,
};
use polars_arrow::datatypes::ArrowDataType;
use polars_arrow::record_batch::RecordBatchT;
use polars_parquet::write::{
    CompressionOptions, Encoding, FileWriter, RowGroupIterator, StatisticsOptions, Version,
    WriteOptions, get_dtype_encoding,
};

use crate::frame::{Names, events_to_df};

/// Writes `events` as Parquet to `out`.
pub(crate) fn write(out: impl Write, events: &[Event]) -> PolarsResult<()> {
    let schema = events_to_df(&[])?.schema().to_arrow(CompatLevel::newest());
    let names = Names::new();
    let arrays = schema
        .iter_values()
        .map(|field| column(field.name.as_str(), &field.dtype, events, &names))
        .collect::<PolarsResult<Vec<_>>>()?;
    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        compression: CompressionOptions::Zstd(None),
        version: Version::V1,
        data_page_size: None,
    };
    let encodings: Vec<Vec<Encoding>> =
        schema.iter_values().map(|field| get_dtype_encoding(&field.dtype)).collect();
    // No rows, no row group: as polars writes an empty frame.
    let batch = (!events.is_empty())
        .then(|| RecordBatchT::try_new(events.len(), Arc::new(schema.clone()), arrays));
    let groups = RowGroupIterator::try_new(batch.into_iter(), &schema, options, encodings.into())?;
    let mut writer = FileWriter::try_new(out, schema, options)?;
    for group in groups {
        writer.write(events.len() as u64, group?)?;
    }
    writer.end(None)?;
    Ok(())
}

/// The column `name` of the events table as an Arrow array of type `dtype`.
fn column(
    name: &str,
    dtype: &ArrowDataType,
    events: &[Event],
    names: &Names,
) -> PolarsResult<Box<dyn Array>> {
    let texts = |f: fn(&Event) -> Option<Sym>| dictionary(dtype, events.iter().map(f));
    Ok(match name {
        columns::TIME => {
            let times: Vec<i64> = events.iter().map(|e| e.time.nanos()).collect();
            PrimitiveArray::from_vec(times).to(dtype.clone()).boxed()
        }
        columns::HUB => texts(|e| Some(e.hub))?,
        columns::DEVICE_ID => texts(|e| Some(e.device_id))?,
        columns::MODULE_ID => texts(|e| e.module_id)?,
        columns::OPERATION => {
            dictionary(dtype, events.iter().map(|e| Some(names.operation(e.operation))))?
        }
        columns::LEVEL => dictionary(dtype, events.iter().map(|e| Some(names.level(e.level))))?,
        columns::RESULT_TYPE => {
            let codes: Vec<Option<u32>> = events.iter().map(|e| e.result_type).collect();
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
    let mut index: FxHashMap<u32, u32> = FxHashMap::default();
    let mut texts = MutableBinaryViewArray::<str>::new();
    let mut last: Option<(Sym, u32)> = None;
    let keys: Vec<Option<u32>> = values
        .map(|value| {
            let sym = value?;
            if let Some((last_sym, key)) = last
                && last_sym == sym
            {
                return Some(key);
            }
            let key = *index.entry(sym.handle()).or_insert_with(|| {
                texts.push_value(sym.as_str());
                (texts.len() - 1) as u32
            });
            last = Some((sym, key));
            Some(key)
        })
        .collect();
    let texts: Utf8ViewArray = texts.into();
    let keys = PrimitiveArray::from(keys);
    Ok(DictionaryArray::<u32>::try_new(dtype.clone(), keys, texts.boxed())?.boxed())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use polars::prelude::{DataFrame, ParquetReader, SerReader as _};
    use proptest::prelude::*;

    use super::*;
    use crate::frame::{read_events, write_events, write_events_parquet};

    /// Both writers' files of `events`: (the DataFrame writer's, the direct one's).
    fn both(events: &[Event]) -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        write_events(&a, events).expect("write a");
        write_events_parquet(&b, events).expect("write b");
        (std::fs::read(a).expect("read a"), std::fs::read(b).expect("read b"))
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
            let (a, b) = both(&events);
            prop_assert_eq!(read_events(&a, 0).expect("a"), read_events(&b, 0).expect("b"));
            let (a, b) = (frame(&a), frame(&b));
            prop_assert_eq!(a.schema(), b.schema());
            prop_assert!(a.equals_missing(&b));
        }
    }

    #[test]
    fn one_row_group_like_polars() {
        let event = Event::new(
            dropscope_model::Timestamp(1_700_000_000_000_000_000),
            "hub",
            "d",
            dropscope_model::Operation::Connect,
        );
        let events = vec![event; 300_000];
        let (a, b) = both(&events);
        let (a, b) = (frame(&a), frame(&b));
        assert_eq!(b.height(), 300_000);
        assert!(a.equals_missing(&b));
        let groups = |bytes: &[u8]| {
            ParquetReader::new(Cursor::new(bytes.to_vec()))
                .get_metadata()
                .map(|m| m.row_groups.len())
                .expect("metadata")
        };
        let (a, b) = both(&events);
        assert_eq!(groups(&a), groups(&b));
    }
}
