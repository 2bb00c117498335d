//! Avro container files of routed messages, read with the `apache-avro` crate: what message
//! routing to storage and Event Hubs Capture write by default.
//!
//! Each record is an `EventData`: `SequenceNumber`, `Offset`, `EnqueuedTimeUtc`,
//! `SystemProperties` and `Properties` (maps of long, double, string or bytes) and a `Body` of
//! bytes (docs/research/iothub-logs.md §2.4, which cites the schema). A record is one of:
//!
//! - a routed device connection-state event, when its properties say so (`opType`, the schema
//!   `deviceConnectionStateNotification`, or the message source `deviceConnectionStateEvents`):
//!   read as the JSON forms read it, through [`state_change`];
//! - resource logs that diagnostic settings sent to Event Hubs (`{"records":[...]}`), which
//!   Capture then stored: the body is read by the JSON document reader, each log record one
//!   record of the file;
//! - anything else (telemetry, twin changes): a [`RejectReason::WrongCategory`].
//!
//! A record's "line" is its 1-based index in the file (every log record read from its body
//! shares it). The container's own codecs are read: null, deflate and snappy. A header that is
//! not an Avro container, or a block that cannot be decoded, is one [`RejectReason::BadAvro`]
//! for the rest of the file, with the records before it kept; never a panic. The crate bounds
//! each allocation it makes for one value at 512 MiB (its default).

use std::borrow::Cow;
use std::collections::BTreeMap;

use apache_avro::Reader;
use apache_avro::types::Value;

use crate::read::record::routed::{AppProps, Body, Fields, SystemProps, state_change};
use crate::read::record::{Rejection, Scalar};
use crate::read::{self, Parsed};
use crate::{Form, RejectReason};

/// Reads an Avro container of routed messages.
pub(crate) fn read(bytes: &[u8], source: u32) -> Parsed {
    let mut out = Parsed::default();
    let reader = match Reader::new(bytes) {
        Ok(reader) => reader,
        Err(error) => {
            out.count(Form::Avro);
            let detail = format!("not a readable Avro container: {error}");
            out.reject(source, 1, RejectReason::BadAvro, detail, &bytes[..bytes.len().min(64)]);
            return out;
        }
    };
    for (idx, value) in reader.enumerate() {
        let line = idx as u64 + 1;
        match value {
            Ok(value) => record(&value, source, line, &mut out),
            Err(error) => {
                // The reader stops at its first error: the rest of the file is this reject.
                out.count(Form::Avro);
                let detail = format!("Avro block cannot be decoded: {error}");
                out.reject(source, line, RejectReason::BadAvro, detail, b"");
            }
        }
    }
    out
}

/// One `EventData` record.
fn record(value: &Value, source: u32, line: u64, out: &mut Parsed) {
    let Value::Record(fields) = value else {
        out.count(Form::Avro);
        let detail = "the file's records are not EventData records".to_owned();
        out.reject(source, line, RejectReason::BadAvro, detail, b"");
        return;
    };
    let field = |name: &str| fields.iter().find(|(key, _)| key == name).map(|(_, v)| v);
    let properties = field("Properties").map(map).unwrap_or_default();
    let system = field("SystemProperties").map(map).unwrap_or_default();
    let body = field("Body").and_then(bytes_of).unwrap_or_default();
    let text = |map: &BTreeMap<&str, Cow<'_, str>>, key: &str| {
        map.get(key).map_or(Scalar::Null, |v| Scalar::Text(Cow::Owned(v.clone().into_owned())))
    };
    let message_source = text(&system, "iothub-message-source");
    let app = AppProps {
        hub_name: text(&properties, "hubName"),
        device_id: text(&properties, "deviceId"),
        module_id: text(&properties, "moduleId"),
        op_type: text(&properties, "opType"),
        schema: text(&properties, "iothub-message-schema"),
        operation_timestamp: text(&properties, "operationTimestamp"),
    };
    let routed = !app.op_type.is_null()
        || !app.schema.is_null()
        || message_source
            .text()
            .is_some_and(|s| s.eq_ignore_ascii_case("deviceConnectionStateEvents"));
    // A message a device sent (telemetry) names its device; what Azure Monitor sent does not.
    let device_message = !message_source.is_null()
        || system.contains_key("connectionDeviceId")
        || system.contains_key("iothub-connection-device-id");
    let trimmed = body.trim_ascii_start();
    if !routed && !device_message && (trimmed.starts_with(b"{") || trimmed.starts_with(b"[")) {
        // Resource logs: the JSON reader's records, numbered by this record.
        let mut logs = read::read_json_document(body.as_ref(), source);
        let n = logs.records_read();
        for event in &mut logs.events {
            event.source_line = line;
        }
        for reject in &mut logs.rejects {
            reject.line = line;
        }
        logs.forms.clear();
        logs.forms.insert(Form::Avro, n);
        out.append(logs);
        return;
    }
    out.count(Form::Avro);
    let system = SystemProps {
        device_id: text(&system, "connectionDeviceId")
            .or(text(&system, "iothub-connection-device-id")),
        module_id: text(&system, "connectionModuleId")
            .or(text(&system, "iothub-connection-module-id")),
        enqueued_time: text(&system, "enqueuedTime").or(text(&system, "iothub-enqueuedtime")),
        message_source,
        user_id: text(&system, "userId").or(text(&system, "user-id")),
    };
    let enqueued = field("EnqueuedTimeUtc")
        .and_then(string_of)
        .map_or(Scalar::Null, |s| Scalar::Text(Cow::Owned(s.into_owned())));
    let absent = Scalar::Null;
    let fields = Fields {
        app: &app,
        system: &system,
        enqueued: &enqueued,
        origin: &absent,
        origin_module: &absent,
        body: if body.is_empty() { Body::None } else { Body::Bytes(&body) },
    };
    match state_change(&fields, source, line) {
        Ok(event) => out.events.push(event),
        Err(Rejection { reason, detail }) => {
            out.reject(source, line, reason, detail, &body[..body.len().min(800)]);
        }
    }
}

impl Scalar<'_> {
    /// `self` unless null, else `other`.
    fn or(self, other: Self) -> Self {
        if self.is_null() { other } else { self }
    }
}

/// A map of properties, its values as text (numbers in decimal, bytes as UTF-8), in key order.
fn map(value: &Value) -> BTreeMap<&str, Cow<'_, str>> {
    match unwrap(value) {
        Value::Map(entries) => {
            entries.iter().filter_map(|(k, v)| Some((k.as_str(), string_of(v)?))).collect()
        }
        _ => BTreeMap::new(),
    }
}

fn unwrap(value: &Value) -> &Value {
    match value {
        Value::Union(_, inner) => unwrap(inner),
        other => other,
    }
}

fn string_of(value: &Value) -> Option<Cow<'_, str>> {
    match unwrap(value) {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b)),
        Value::Long(n) => Some(Cow::Owned(n.to_string())),
        Value::Int(n) => Some(Cow::Owned(n.to_string())),
        Value::Double(x) => Some(Cow::Owned(x.to_string())),
        _ => None,
    }
}

fn bytes_of(value: &Value) -> Option<Cow<'_, [u8]>> {
    match unwrap(value) {
        Value::Bytes(b) => Some(Cow::Borrowed(b)),
        Value::String(s) => Some(Cow::Borrowed(s.as_bytes())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use dropscope_model::{Operation, Timestamp};

    use super::*;
    use crate::write::WriteOptions;
    use crate::write::avro::{BodyBytes, CAPTURE_SCHEMA, EventData, MAGIC, write};
    use apache_avro::{Codec, DeflateSettings, Schema, Writer};
    use dropscope_model::Event;

    fn events() -> Vec<Event> {
        let time = Timestamp::parse_rfc3339("2022-11-07T11:00:25.1191309Z").expect("valid");
        let mut connected = Event::new(time, "iot-demo", "edge1", Operation::Connect);
        connected.module_id = Some("$edgeHub".into());
        connected.seq =
            Some("000000000000000001D8F268B5BC335E0000000200000000000000000000003C".into());
        let mut disconnected = Event::new(time, "iot-demo", "d2", Operation::Disconnect);
        disconnected.time = Timestamp(time.nanos() + 1_000_000_000);
        vec![connected, disconnected]
    }

    fn written() -> Vec<u8> {
        let mut out = Vec::new();
        let opts = WriteOptions { frac_digits: 7, ..WriteOptions::default() };
        write(&mut out, &events(), &opts).expect("writing to a Vec");
        out
    }

    #[test]
    fn reads_back_what_it_writes_byte_for_byte_the_same_each_time() {
        let bytes = written();
        assert_eq!(bytes, written());
        assert!(bytes.starts_with(MAGIC));
        let parsed = read(&bytes, 0);
        assert!(parsed.rejects.is_empty(), "{:?}", parsed.rejects);
        let mut expected = events();
        for (idx, event) in expected.iter_mut().enumerate() {
            event.source_line = idx as u64 + 1;
        }
        assert_eq!(parsed.events, expected);
        assert_eq!(parsed.forms.get(&Form::Avro), Some(&2));
    }

    /// A container written by the crate itself, with each codec, holding what Capture stores
    /// from a diagnostic setting (resource logs) and from a telemetry route.
    #[test]
    fn reads_every_codec_and_resource_logs_in_bodies() {
        let schema = Schema::parse_str(CAPTURE_SCHEMA).expect("the schema parses");
        let logs = br#"{"records":[{"time":"2023-09-21T22:33:34Z","resourceId":"/X/IOTHUBS/HUB1","operationName":"deviceDisconnect","category":"Connections","level":"Error","resultType":"404104","properties":"{\"deviceId\":\"d1\"}"},{"time":"bad","operationName":"deviceConnect","properties":"{\"deviceId\":\"d1\"}"}]}"#;
        for codec in [Codec::Null, Codec::Deflate(DeflateSettings::default()), Codec::Snappy] {
            let mut writer = Writer::with_codec(&schema, Vec::new(), codec).expect("a writer");
            let telemetry = BTreeMap::from([
                ("iothub-message-source", "Telemetry"),
                ("connectionDeviceId", "d9"),
            ]);
            for (body, system_properties) in
                [(&logs[..], BTreeMap::new()), (b"{\"temperature\":21.5}", telemetry)]
            {
                let record = EventData {
                    sequence_number: 7,
                    offset: "0".to_owned(),
                    enqueued_time_utc: "9/21/2023 10:33:40 PM",
                    system_properties,
                    properties: BTreeMap::new(),
                    body: Some(BodyBytes(body)),
                };
                writer.append_ser(record).expect("appended");
            }
            let bytes = writer.into_inner().expect("written");
            let parsed = read(&bytes, 0);
            let got: Vec<String> = parsed
                .events
                .iter()
                .map(|e| format!("{}:{} {:?}", e.source_line, e.device_id, e.code()))
                .chain(parsed.rejects.iter().map(|r| format!("{}:{}", r.line, r.reason.as_str())))
                .collect();
            assert_eq!(
                got,
                ["1:d1 Some(404104)", "1:invalid_time", "2:wrong_category"],
                "{codec:?}"
            );
            assert_eq!(parsed.forms.get(&Form::Avro), Some(&3), "{codec:?}");
        }
    }

    #[test]
    fn corrupt_containers_are_rejects() {
        let bytes = written();
        let check = |bytes: &[u8], expected: &str| {
            let parsed = read(bytes, 0);
            let got: Vec<String> = parsed
                .events
                .iter()
                .map(|e| format!("{}:{}", e.source_line, e.device_id))
                .chain(parsed.rejects.iter().map(|r| format!("{}:{}", r.line, r.reason.as_str())))
                .collect();
            assert_eq!(got.join(" "), expected);
        };
        check(MAGIC, "1:bad_avro");
        check(&bytes[..40], "1:bad_avro");
        check(&bytes[..bytes.len() - 20], "1:bad_avro");
        // The sync marker after the block.
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        check(&flipped, "1:bad_avro");
        // Any byte changed, any cut: never a panic, every record accounted for (deflate has no
        // checksum, so a changed byte in a block may still decode, into other records).
        for at in 0..bytes.len() {
            for (cut, flip) in [(bytes.len(), 0x01_u8), (bytes.len(), 0x80), (at, 0)] {
                let mut changed = bytes[..cut].to_vec();
                if let Some(byte) = changed.get_mut(at) {
                    *byte ^= flip;
                }
                let parsed = read(&changed, 0);
                let n: u64 = parsed.forms.values().sum();
                assert_eq!(n, parsed.records_read(), "{at} {cut} {flip}");
            }
        }
    }
}
