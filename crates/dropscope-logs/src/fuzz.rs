//! Entry points for the cargo-fuzz targets in `fuzz/`: each takes arbitrary bytes and must not panic
//! (`read_jsonl_fast_agrees` panics only when two readers disagree).
//!
//! Each function is one target (`fuzz/fuzz_targets/<name>.rs`) and is also replayed over
//! `data/fuzz-regressions/<name>/` by an ordinary test.
//!
//! The fuzz crate uses this crate without its `tables` feature, so the targets build without
//! polars; only `read_parquet_no_panic` needs it, behind the fuzz crate's own `parquet` feature,
//! which CI's check of the fuzz crate leaves off.

use crate::{detect, ingest, read};

/// `detect_no_panic`: form detection.
pub fn detect_no_panic(data: &[u8]) {
    let _ = detect::detect(data);
}

/// `ingest_no_panic`: the whole reading pipeline (gzip, detection, every parser, de-duplication);
/// also checks that every record is accounted for.
pub fn ingest_no_panic(data: &[u8]) {
    let ingested = ingest::ingest_bytes("fuzz", data);
    let s = &ingested.stats;
    assert_eq!(s.parsed + s.duplicates + s.rejected, s.records_read, "accounting");
    assert_eq!(s.rejected, ingested.rejects.len() as u64, "rejects");
}

/// `read_jsonl_no_panic`: the JSON Lines parser.
pub fn read_jsonl_no_panic(data: &[u8]) {
    let _ = read::read_json_lines(data, 0);
}

/// `read_jsonl_fast_agrees`: the hand-written JSON Lines reader (with its memories of the last
/// date, text and escaped value) reads any input exactly as the serde decoder does; a difference
/// panics.
pub fn read_jsonl_fast_agrees(data: &[u8]) {
    read::lines::assert_fast_agrees(data);
}

/// `read_document_no_panic`: the multi-line JSON parser (pretty, envelope, arrays, Event Grid).
pub fn read_document_no_panic(data: &[u8]) {
    let _ = read::read_json_document(data, 0);
}

/// `read_csv_no_panic`: the Log Analytics CSV parser.
pub fn read_csv_no_panic(data: &[u8]) {
    let _ = read::read_csv(data, 0);
}

/// `read_parquet_no_panic`: the events table read from Parquet (the direct reader, then the
/// DataFrame one). polars' Parquet layer panics on some corrupt files and
/// [`dropscope_tables::frame::read_events`] turns those panics into errors, so this target looks
/// for what it cannot catch: aborts, memory blow-ups, hangs. Needs the `tables` feature
/// (`cargo fuzz run read_parquet_no_panic --features parquet`).
#[cfg(feature = "tables")]
pub fn read_parquet_no_panic(data: &[u8]) {
    let _ = dropscope_tables::frame::read_events(data, 0);
}

/// A fuzz target: takes arbitrary bytes.
pub type Target = fn(&[u8]);

/// Every target that builds without polars, by name.
pub const TARGETS: [(&str, Target); 6] = [
    ("detect_no_panic", detect_no_panic),
    ("ingest_no_panic", ingest_no_panic),
    ("read_jsonl_no_panic", read_jsonl_no_panic),
    ("read_jsonl_fast_agrees", read_jsonl_fast_agrees),
    ("read_document_no_panic", read_document_no_panic),
    ("read_csv_no_panic", read_csv_no_panic),
];

/// Every target this build has, by name, for the replay test: [`TARGETS`], and
/// `read_parquet_no_panic` with the `tables` feature.
pub fn targets() -> Vec<(&'static str, Target)> {
    #[cfg(feature = "tables")]
    let parquet: [(&'static str, Target); 1] = [("read_parquet_no_panic", read_parquet_no_panic)];
    #[cfg(not(feature = "tables"))]
    let parquet: [(&'static str, Target); 0] = [];
    TARGETS.iter().copied().chain(parquet).collect()
}
