//! The Avro container the simulator writes (`simulate --format avro`): routed device
//! connection-state events as `EventData` records, in the schema of Event Hubs Capture
//! ([`CAPTURE_SCHEMA`]; docs/research/iothub-logs.md §2.4), deflated, with the `apache-avro`
//! crate writing the blocks. The header (magic, metadata, sync marker) is written here: the
//! crate's orders its metadata through a hash map and picks a random sync marker, and the
//! simulator's bytes must depend on its seed alone.

use std::collections::BTreeMap;
use std::io::{self, Write};

use apache_avro::{Codec, DeflateSettings, Schema, Writer};
use dropscope_model::{Event, Timestamp};
use serde::ser::{Serialize, Serializer};

use crate::write::{WriteOptions, event_id, push_routed_body, routed_op_type};

/// The schema of an Event Hubs Capture file (`avro-tools getschema`, in
/// event-hubs-capture-overview.md).
pub(crate) const CAPTURE_SCHEMA: &str = r#"{"type":"record","name":"EventData","namespace":"Microsoft.ServiceBus.Messaging","fields":[{"name":"SequenceNumber","type":"long"},{"name":"Offset","type":"string"},{"name":"EnqueuedTimeUtc","type":"string"},{"name":"SystemProperties","type":{"type":"map","values":["long","double","string","bytes"]}},{"name":"Properties","type":{"type":"map","values":["long","double","string","bytes"]}},{"name":"Body","type":["null","bytes"]}]}"#;

/// The first bytes of an Avro container file.
pub(crate) const MAGIC: &[u8; 4] = b"Obj\x01";

/// One `EventData` as the writer serialises it, fields in schema order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EventData<'a> {
    pub(crate) sequence_number: i64,
    pub(crate) offset: String,
    pub(crate) enqueued_time_utc: &'a str,
    pub(crate) system_properties: BTreeMap<&'static str, &'a str>,
    pub(crate) properties: BTreeMap<&'static str, &'a str>,
    pub(crate) body: Option<BodyBytes<'a>>,
}

/// A body serialised as Avro `bytes`.
pub(crate) struct BodyBytes<'a>(pub(crate) &'a [u8]);

impl Serialize for BodyBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Writes `events` as routed connection-state events in one Avro container (deflate), as
/// routing to storage or Capture would hold them. The output depends on the events alone.
pub(crate) fn write(out: &mut dyn Write, events: &[Event], opts: &WriteOptions) -> io::Result<()> {
    let to_io = |error: apache_avro::Error| io::Error::other(error.to_string());
    let schema = Schema::parse_str(CAPTURE_SCHEMA).map_err(to_io)?;
    // A fixed marker: any 16 bytes do, and the same events give the same file.
    let marker = *b"dropscope-avro-1";
    let mut header = Vec::with_capacity(CAPTURE_SCHEMA.len() + 64);
    header.extend_from_slice(MAGIC);
    // The metadata map: one block of two entries, then the empty block.
    put_long(&mut header, 2);
    for (key, value) in
        [("avro.codec", "deflate".as_bytes()), ("avro.schema", CAPTURE_SCHEMA.as_bytes())]
    {
        put_bytes(&mut header, key.as_bytes());
        put_bytes(&mut header, value);
    }
    put_long(&mut header, 0);
    header.extend_from_slice(&marker);
    out.write_all(&header)?;
    let mut writer = Writer::builder()
        .schema(&schema)
        .writer(out)
        .codec(Codec::Deflate(DeflateSettings::default()))
        .marker(marker)
        .has_header(true)
        .build()
        .map_err(to_io)?;
    let mut body = Vec::with_capacity(128);
    for (idx, event) in events.iter().enumerate() {
        let time = time_text(event.time, opts.frac_digits);
        let enqueued = time_text(event.time, 7);
        let correlation = event_id(event);
        body.clear();
        push_routed_body(&mut body, event);
        let mut properties = BTreeMap::from([
            ("hubName", event.hub.as_str()),
            ("deviceId", event.device_id.as_str()),
            ("opType", routed_op_type(event.operation)),
            ("iothub-message-schema", "deviceConnectionStateNotification"),
            ("operationTimestamp", time.as_str()),
        ]);
        if let Some(module) = &event.module_id {
            properties.insert("moduleId", module.as_str());
        }
        let system_properties = BTreeMap::from([
            ("correlationId", correlation.as_str()),
            ("userId", event.hub.as_str()),
            ("connectionDeviceId", event.device_id.as_str()),
            ("contentType", "application/json"),
            ("contentEncoding", "utf-8"),
            ("iothub-message-source", "deviceConnectionStateEvents"),
            ("enqueuedTime", enqueued.as_str()),
        ]);
        let record = EventData {
            sequence_number: idx as i64,
            offset: (idx * 512).to_string(),
            enqueued_time_utc: &enqueued,
            system_properties,
            properties,
            body: Some(BodyBytes(&body)),
        };
        writer.append_ser(record).map_err(to_io)?;
    }
    writer.flush().map_err(to_io)?;
    Ok(())
}

/// `time` as RFC 3339 text with `frac_digits` fractional digits.
fn time_text(time: Timestamp, frac_digits: u32) -> String {
    let mut text = String::with_capacity(32);
    time.write_rfc3339(&mut text, frac_digits);
    text
}

/// An Avro `long`: zig-zag, then 7 bits a byte, low first.
fn put_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    loop {
        let byte = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}
