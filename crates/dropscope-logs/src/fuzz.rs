//! Entry points for the cargo-fuzz targets in `fuzz/`: each takes arbitrary bytes and must not panic
//! (`read_jsonl_fast_agrees` panics only when two readers disagree).
//!
//! Each function is one target (`fuzz/fuzz_targets/<name>.rs`) and is also replayed over
//! `data/fuzz-regressions/<name>/` by an ordinary test.
//!
//! The fuzz crate uses this crate without its `tables` and `avro` features, so the targets build
//! without polars and apache-avro; only `read_parquet_no_panic` and `read_avro_no_panic` need
//! them, behind the fuzz crate's own `parquet` and `avro` features.

use crate::{detect, ingest, read};

/// `detect_no_panic`: form detection.
pub fn detect_no_panic(data: &[u8]) {
    let _ = detect::detect(data);
}

/// `ingest_no_panic`: the whole reading pipeline (gzip, detection, every parser, de-duplication);
/// also checks that every record is accounted for. Read twice: with the default bounds, and
/// with bounds small enough for fuzzed inputs to cross (1 KiB blocks, lines of at most 300
/// bytes, gzip to 4 times its size past 2 KiB), where a line past the bound is skipped unread.
pub fn ingest_no_panic(data: &[u8]) {
    let small = ingest::IngestConfig {
        block_size: 1024,
        max_line: 300,
        max_gzip_ratio: 4,
        gzip_floor: 2048,
        ..ingest::IngestConfig::default()
    };
    for ingested in
        [ingest::ingest_bytes("fuzz", data), ingest::ingest_bytes_with("fuzz", data, &small)]
    {
        let s = &ingested.stats;
        assert_eq!(s.parsed + s.duplicates + s.rejected, s.records_read, "accounting");
        assert_eq!(s.rejected, ingested.rejects.len() as u64, "rejects");
    }
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

/// `read_routed_no_panic`: the routed connection-state readers on arbitrary field values. The
/// bytes, cut at NUL bytes, are the `opType`, the `operationTimestamp`, the device id, the
/// enqueued time and the body (as text, as base64 or as a JSON object's text), set into a routed
/// JSON record and into an `az iot hub monitor-events` event, read as JSON Lines and as a
/// document; the bytes are also read as a routed body and as base64. Every record must be an
/// event or a reject.
pub fn read_routed_no_panic(data: &[u8]) {
    let _ = read::record::routed::base64_decode(data);
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let mut next = || parts.next().unwrap_or_default().to_owned();
    let (op_type, time, device, enqueued, body) = (next(), next(), next(), next(), next());
    let body_value = serde_json::from_str::<serde_json::Value>(&body)
        .unwrap_or(serde_json::Value::String(body.clone()));
    let routed = serde_json::json!({
        "EnqueuedTimeUtc": enqueued,
        "Properties": {"opType": op_type, "operationTimestamp": time, "deviceId": device},
        "SystemProperties": {"enqueuedTime": enqueued, "connectionDeviceId": device},
        "Body": body_value,
    });
    let monitor = serde_json::json!({"event": {
        "origin": device,
        "properties": {"application": {"opType": op_type, "operationTimestamp": time}},
        "annotations": {"iothub-enqueuedtime": enqueued},
        "payload": body_value,
    }});
    for value in [routed, monitor] {
        let line = value.to_string();
        for parsed in [
            read::read_json_lines(line.as_bytes(), 0),
            read::read_json_document(line.as_bytes(), 0),
        ] {
            assert_eq!(parsed.records_read(), 1, "one record: {line}");
        }
    }
}

/// `read_avro_no_panic`: the Avro container reader (routing to storage, Event Hubs Capture),
/// with its codecs and the JSON readers on the bodies; also checks that every record read is
/// counted under a form. Needs the `avro` feature (`cargo fuzz run read_avro_no_panic
/// --features avro`).
#[cfg(feature = "avro")]
pub fn read_avro_no_panic(data: &[u8]) {
    if let Ok(parsed) = read::read_avro(data, 0) {
        let counted: u64 = parsed.forms.values().sum();
        assert_eq!(counted, parsed.records_read(), "accounting");
    }
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
pub const TARGETS: [(&str, Target); 7] = [
    ("detect_no_panic", detect_no_panic),
    ("ingest_no_panic", ingest_no_panic),
    ("read_jsonl_no_panic", read_jsonl_no_panic),
    ("read_jsonl_fast_agrees", read_jsonl_fast_agrees),
    ("read_document_no_panic", read_document_no_panic),
    ("read_csv_no_panic", read_csv_no_panic),
    ("read_routed_no_panic", read_routed_no_panic),
];

/// Every target this build has, by name, for the replay test: [`TARGETS`],
/// `read_parquet_no_panic` with the `tables` feature and `read_avro_no_panic` with `avro`.
pub fn targets() -> Vec<(&'static str, Target)> {
    #[cfg(feature = "tables")]
    let parquet: [(&'static str, Target); 1] = [("read_parquet_no_panic", read_parquet_no_panic)];
    #[cfg(not(feature = "tables"))]
    let parquet: [(&'static str, Target); 0] = [];
    #[cfg(feature = "avro")]
    let avro: [(&'static str, Target); 1] = [("read_avro_no_panic", read_avro_no_panic)];
    #[cfg(not(feature = "avro"))]
    let avro: [(&'static str, Target); 0] = [];
    TARGETS.iter().copied().chain(parquet).chain(avro).collect()
}
