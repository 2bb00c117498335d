//! Device connection-state events sent by message routing (data source
//! `DeviceConnectionStateEvents`), in the two JSON shapes users hold them, and their meaning as
//! an [`Event`].
//!
//! - As `az iot hub monitor-events` prints them ([`Form::RoutedMonitorEvents`]): an object
//!   `{"event": {...}}` whose `properties.application` holds `hubName`, `deviceId`, `moduleId`,
//!   `opType` and `operationTimestamp`, whose `annotations` hold `iothub-enqueuedtime` (epoch
//!   milliseconds) and `iothub-message-source`, and whose `payload` holds the `sequenceNumber`;
//!   the command prints one object after another, with status lines around them
//!   ([`is_monitor_status`]) that are not records.
//! - As the message itself ([`Form::RoutedJson`]): `{"EnqueuedTimeUtc", "Properties",
//!   "SystemProperties", "Body"}`, one a line, as routing to storage with JSON encoding writes
//!   it; `Properties` are the same application properties, and `Body` holds the sequence number,
//!   as a JSON object when the message says `application/json` in UTF-8, as base64 otherwise.
//!
//! The sources and the decisions (time, identity, duplicates of Event Grid events) are in
//! docs/research/iothub-logs.md, §2.3. Such an event carries no error code, level, protocol or
//! IP: the event has a null code and level Information, as an Event Grid event has.
//! `opType` is `deviceConnected` or `deviceDisconnected` for devices and modules alike (a
//! module's event also has a `moduleId`); `moduleConnected` and `moduleDisconnected` are read too.
//!
//! [`Fields`] is the one view both shapes (and the Avro records of routing and Capture) fill,
//! so what a field means is decided in one place, [`state_change`].

use std::borrow::Cow;

use dropscope_model::{Event, LastDate, Level, Operation, SeqNo, Sym, Timestamp};
use serde::Deserialize;

use crate::RejectReason;
use crate::read::record::{Lenient, Rejection, Scalar};

/// The application properties of a connection-state event: `event.properties.application` as
/// monitor-events prints them, `Properties` in a routed message.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AppProps<'a> {
    #[serde(borrow, default, rename = "hubName")]
    pub(crate) hub_name: Scalar<'a>,
    #[serde(borrow, default, rename = "deviceId")]
    pub(crate) device_id: Scalar<'a>,
    #[serde(borrow, default, rename = "moduleId")]
    pub(crate) module_id: Scalar<'a>,
    #[serde(borrow, default, rename = "opType")]
    pub(crate) op_type: Scalar<'a>,
    #[serde(borrow, default, rename = "iothub-message-schema")]
    pub(crate) schema: Scalar<'a>,
    #[serde(borrow, default, rename = "operationTimestamp")]
    pub(crate) operation_timestamp: Scalar<'a>,
}

/// `SystemProperties` of a routed message: the keys routing to storage writes (`enqueuedTime`,
/// `connectionDeviceId`, ...) and the AMQP annotation spellings monitor-events shows.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SystemProps<'a> {
    #[serde(borrow, default, rename = "connectionDeviceId", alias = "iothub-connection-device-id")]
    pub(crate) device_id: Scalar<'a>,
    #[serde(borrow, default, rename = "connectionModuleId", alias = "iothub-connection-module-id")]
    pub(crate) module_id: Scalar<'a>,
    #[serde(borrow, default, rename = "enqueuedTime", alias = "iothub-enqueuedtime")]
    pub(crate) enqueued_time: Scalar<'a>,
    #[serde(borrow, default, rename = "iothub-message-source", alias = "messageSource")]
    pub(crate) message_source: Scalar<'a>,
    #[serde(borrow, default, rename = "userId", alias = "user_id")]
    pub(crate) user_id: Scalar<'a>,
}

/// `event` as `az iot hub monitor-events` prints it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MonitorEvent<'a> {
    #[serde(borrow, default)]
    origin: Scalar<'a>,
    #[serde(borrow, default)]
    module: Scalar<'a>,
    #[serde(borrow, default)]
    properties: Lenient<MonitorProps<'a>>,
    #[serde(borrow, default)]
    annotations: Lenient<SystemProps<'a>>,
    /// The body: an object, or a string when the CLI could not decode it as JSON.
    #[serde(borrow, default)]
    payload: Scalar<'a>,
}

#[derive(Debug, Default, Deserialize)]
struct MonitorProps<'a> {
    #[serde(borrow, default)]
    system: Lenient<SystemProps<'a>>,
    #[serde(borrow, default)]
    application: Lenient<AppProps<'a>>,
}

/// A routed message's top-level fields (the serde record decoder fills these).
#[derive(Debug, Default)]
pub(crate) struct RoutedMessage<'a> {
    pub(crate) enqueued_time_utc: Scalar<'a>,
    pub(crate) properties: Lenient<AppProps<'a>>,
    pub(crate) system_properties: Lenient<SystemProps<'a>>,
    pub(crate) body: Scalar<'a>,
    /// Whether any of the four keys was seen.
    pub(crate) seen: bool,
}

/// The body of a connection-state event.
#[derive(Debug, Default, Deserialize)]
struct StateBody<'a> {
    #[serde(borrow, default, rename = "sequenceNumber")]
    sequence_number: Scalar<'a>,
}

/// A message body as stored: bytes (Avro), JSON text, or base64 of either.
pub(crate) enum Body<'r> {
    /// Absent or null.
    None,
    /// The body's bytes (an Avro `Body`, or a body already decoded).
    Bytes(&'r [u8]),
    /// A JSON string value: the body as text, or base64 of it.
    Text(&'r str),
}

/// The fields of a connection-state event that [`state_change`] reads, whatever shape they
/// came in.
pub(crate) struct Fields<'r> {
    pub(crate) app: &'r AppProps<'r>,
    pub(crate) system: &'r SystemProps<'r>,
    /// The message's enqueued time as its container gives it (`EnqueuedTimeUtc`).
    pub(crate) enqueued: &'r Scalar<'r>,
    /// Last fallbacks for the device and module (monitor-events' `origin` and `module`).
    pub(crate) origin: &'r Scalar<'r>,
    pub(crate) origin_module: &'r Scalar<'r>,
    pub(crate) body: Body<'r>,
}

static ABSENT: Scalar<'static> = Scalar::Null;

impl MonitorEvent<'_> {
    /// The event this printed event describes, or why it describes none.
    pub(crate) fn to_event(&self, source: u32, line: u64) -> Result<Event, Rejection> {
        let props = self.properties.0.as_ref();
        let empty_app = AppProps::default();
        let empty_system = SystemProps::default();
        let app = props.and_then(|p| p.application.0.as_ref()).unwrap_or(&empty_app);
        // The annotations carry the device, enqueued time and source; `system` the hub (user_id).
        let annotations = self.annotations.0.as_ref().unwrap_or(&empty_system);
        let system_hub = props.and_then(|p| p.system.0.as_ref()).map_or(&ABSENT, |s| &s.user_id);
        let merged = SystemProps {
            device_id: annotations.device_id.clone(),
            module_id: annotations.module_id.clone(),
            enqueued_time: annotations.enqueued_time.clone(),
            message_source: annotations.message_source.clone(),
            user_id: if annotations.user_id.is_null() {
                system_hub.clone()
            } else {
                annotations.user_id.clone()
            },
        };
        let body = match &self.payload {
            Scalar::Null => Body::None,
            Scalar::Text(text) => Body::Text(text),
            Scalar::Json(json) => Body::Bytes(json.as_bytes()),
        };
        let fields = Fields {
            app,
            system: &merged,
            enqueued: &ABSENT,
            origin: &self.origin,
            origin_module: &self.module,
            body,
        };
        state_change(&fields, source, line)
    }
}

impl RoutedMessage<'_> {
    /// The event this routed message describes, or why it describes none.
    pub(crate) fn to_event(&self, source: u32, line: u64) -> Result<Event, Rejection> {
        let empty_app = AppProps::default();
        let empty_system = SystemProps::default();
        let body = match &self.body {
            Scalar::Null => Body::None,
            Scalar::Text(text) => Body::Text(text),
            Scalar::Json(json) => Body::Bytes(json.as_bytes()),
        };
        let fields = Fields {
            app: self.properties.0.as_ref().unwrap_or(&empty_app),
            system: self.system_properties.0.as_ref().unwrap_or(&empty_system),
            enqueued: &self.enqueued_time_utc,
            origin: &ABSENT,
            origin_module: &ABSENT,
            body,
        };
        state_change(&fields, source, line)
    }
}

fn reject<T>(reason: RejectReason, detail: String) -> Result<T, Rejection> {
    Err(Rejection { reason, detail })
}

/// `opType` as an operation: `deviceConnected`/`moduleConnected` or
/// `deviceDisconnected`/`moduleDisconnected`, in any case.
fn operation(op_type: &str) -> Option<Operation> {
    let t = op_type.trim();
    if t.eq_ignore_ascii_case("deviceConnected") || t.eq_ignore_ascii_case("moduleConnected") {
        Some(Operation::Connect)
    } else if t.eq_ignore_ascii_case("deviceDisconnected")
        || t.eq_ignore_ascii_case("moduleDisconnected")
    {
        Some(Operation::Disconnect)
    } else {
        None
    }
}

/// The text of a string value, when not empty; kept as it is (an id is not trimmed, as in the
/// other forms).
fn non_empty<'s>(value: &'s Scalar<'_>) -> Option<&'s str> {
    value.text().filter(|t| !t.is_empty())
}

/// The event a connection-state message describes, or why it describes none.
pub(crate) fn state_change(rec: &Fields<'_>, source: u32, line: u64) -> Result<Event, Rejection> {
    let Some(op_type) = non_empty(&rec.app.op_type).filter(|t| !t.trim().is_empty()) else {
        let what = non_empty(&rec.system.message_source)
            .or_else(|| non_empty(&rec.app.schema))
            .unwrap_or("no opType");
        return reject(
            RejectReason::WrongCategory,
            format!("routed message ({what}) is not a device connection state event"),
        );
    };
    let Some(operation) = operation(op_type) else {
        return reject(
            RejectReason::WrongCategory,
            format!("opType {op_type:?} is not deviceConnected or deviceDisconnected"),
        );
    };
    let time = event_time(rec)?;
    let device_id = non_empty(&rec.app.device_id)
        .or_else(|| non_empty(&rec.system.device_id))
        .or_else(|| non_empty(rec.origin));
    let Some(device_id) = device_id else {
        return reject(RejectReason::MissingDeviceId, "no deviceId".to_owned());
    };
    let module_id = non_empty(&rec.app.module_id)
        .or_else(|| non_empty(&rec.system.module_id))
        .or_else(|| non_empty(rec.origin_module));
    // `hubName`, else `user-id`, which is "the name of IoT Hub that generated the event";
    // lower-cased as every hub name is.
    let hub = non_empty(&rec.app.hub_name)
        .or_else(|| non_empty(&rec.system.user_id))
        .and_then(dropscope_model::hub_from_resource_id)
        .unwrap_or_default();
    let seq = sequence_number(&rec.body)?;
    let mut event = Event::of(time, hub, Sym::new(device_id), operation);
    event.level = Level::Information;
    event.module_id = module_id.map(Sym::new);
    event.source = source;
    event.source_line = line;
    event.seq = seq.map(|s| SeqNo::from(s.as_ref()));
    Ok(event)
}

/// `operationTimestamp`, the time of the state change; the enqueued time when it is absent
/// (about half a minute later in the documented sample).
fn event_time<'r>(rec: &'r Fields<'r>) -> Result<Timestamp, Rejection> {
    let parse = |text: &str| {
        Timestamp::parse_rfc3339_after(text, &mut LastDate::default()).map_err(|error| Rejection {
            reason: RejectReason::InvalidTime,
            detail: format!("time {text:?}: {error}"),
        })
    };
    let trimmed = |value: &'r Scalar<'_>| non_empty(value).map(str::trim).filter(|t| !t.is_empty());
    if let Some(text) = trimmed(&rec.app.operation_timestamp) {
        return parse(text);
    }
    if let Some(text) = trimmed(rec.enqueued) {
        return parse(text);
    }
    match trimmed(&rec.system.enqueued_time) {
        // `iothub-enqueuedtime` as monitor-events prints it: epoch milliseconds.
        Some(text) if text.bytes().all(|b| b.is_ascii_digit()) => {
            // Up to year 2262, the last that nanoseconds in an i64 hold.
            match text.parse::<i64>() {
                Ok(ms) if ms < i64::MAX / 1_000_000 => Ok(Timestamp::from_millis(ms)),
                _ => reject(
                    RejectReason::InvalidTime,
                    format!("enqueued time {text} is out of range"),
                ),
            }
        }
        Some(text) => parse(text),
        None => reject(RejectReason::InvalidTime, "no operationTimestamp".to_owned()),
    }
}

/// The body's `sequenceNumber`, when it has one. A body that is neither JSON nor base64 of JSON
/// is a [`RejectReason::BadField`].
fn sequence_number<'r>(body: &Body<'r>) -> Result<Option<Cow<'r, str>>, Rejection> {
    let bad = |detail: String| Rejection { reason: RejectReason::BadField, detail };
    let decoded: Vec<u8>;
    let bytes: &[u8] = match body {
        Body::None => return Ok(None),
        Body::Bytes(bytes) => bytes,
        Body::Text(text) => {
            let trimmed = text.trim_ascii_start();
            if trimmed.starts_with('{') {
                trimmed.as_bytes()
            } else {
                decoded = base64_decode(text.as_bytes())
                    .ok_or_else(|| bad("Body is neither JSON nor base64".to_owned()))?;
                &decoded
            }
        }
    };
    let bytes = bytes.trim_ascii();
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.first() != Some(&b'{') {
        return Err(bad("Body is not a JSON object".to_owned()));
    }
    let body: StateBody<'_> = serde_json::from_slice(bytes)
        .map_err(|error| bad(format!("Body is not a JSON object: {error}")))?;
    Ok(non_empty(&body.sequence_number).map(|s| Cow::Owned(s.to_owned())))
}

/// Whether `line` is one of the status lines `az iot hub monitor-events` prints among the events
/// on stdout (Azure/azure-iot-cli-extension, `azext_iot/monitor/runner.py` and
/// `handlers/common_handler.py`): "Starting event monitor, ... use ctrl-c to stop...",
/// "Successfully parsed N message(s)." and "Stopping event monitor...". A saved output holds
/// them; they are not records.
pub(crate) fn is_monitor_status(line: &[u8]) -> bool {
    let line = line.trim_ascii();
    let contains = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
    (line.starts_with(b"Starting ")
        && contains(b"event monitor,")
        && line.ends_with(b"use ctrl-c to stop..."))
        || line == b"Stopping event monitor..."
        || (line.starts_with(b"Successfully parsed ") && line.ends_with(b" message(s)."))
}

/// Standard base64 (RFC 4648 §4, padding optional, ASCII whitespace ignored); `None` on any
/// other byte or a dangling bit group.
pub(crate) fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    fn value(b: u8) -> Option<u32> {
        Some(u32::from(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0_u32, 0_u32);
    let mut padding = 0;
    for &b in text {
        if b.is_ascii_whitespace() {
            continue;
        }
        if b == b'=' {
            padding += 1;
            continue;
        }
        if padding > 0 {
            return None;
        }
        acc = (acc << 6) | value(b)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits cannot end a valid encoding; 2 or 4 are the padding's.
    (bits < 6 && padding <= 2).then_some(out)
}

/// Standard base64 with padding, the encoding routing uses for a body it does not store as JSON.
#[cfg(test)]
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0_u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::record::RawRecord;
    use crate::read::record::to_event;

    fn check(json: &str, expected: Result<&str, RejectReason>) {
        let got = serde_json::from_str::<RawRecord<'_>>(json)
            .map_err(|_| RejectReason::BadJson)
            .and_then(|rec| to_event(&rec, 0, 1).map_err(|r| r.reason))
            .map(|e| {
                format!(
                    "{} {} {} {:?} {} {:?} {:?}",
                    e.time.to_rfc3339_exact(),
                    e.hub,
                    e.device_id,
                    e.module_id.as_deref(),
                    e.operation,
                    e.code(),
                    e.seq.as_deref()
                )
            });
        assert_eq!(got.as_deref().map_err(|r| *r), expected, "{json}");
    }

    const SEQ: &str = "000000000000000001D8713FF7E0851400000002000000000000000000000007";

    #[test]
    fn reads_monitor_events() {
        let event = |app: &str, annotations: &str, payload: &str| {
            format!(
                r#"{{"event":{{"origin":"o","module":"","properties":{{"system":{{"user_id":"Sys-Hub"}},"application":{{{app}}}}},"annotations":{{{annotations}}},"payload":{payload}}}}}"#
            )
        };
        check(
            &event(
                r#""hubName":"Contoso-Hub","deviceId":"d1","opType":"deviceDisconnected","operationTimestamp":"2022-06-01T18:43:04.5561024Z""#,
                r#""iothub-enqueuedtime":1654109018051"#,
                &format!(r#"{{"sequenceNumber":"{SEQ}"}}"#),
            ),
            Ok(&format!(
                "2022-06-01T18:43:04.5561024Z contoso-hub d1 None disconnect None Some(\"{SEQ}\")"
            )),
        );
        // A module, its time from the enqueued time, its hub from user_id, its device from
        // the annotations.
        check(
            &event(
                r#""moduleId":"$edgeHub","opType":"moduleConnected""#,
                r#""iothub-connection-device-id":"edge1","iothub-enqueuedtime":1654109018051"#,
                "null",
            ),
            Ok("2022-06-01T18:43:38.0510000Z sys-hub edge1 Some(\"$edgeHub\") connect None None"),
        );
        check(
            &event(r#""deviceId":"d","opType":"updateTwin""#, "", "{}"),
            Err(RejectReason::WrongCategory),
        );
        check(
            &event(r#""deviceId":"d""#, r#""iothub-message-source":"Telemetry""#, "{}"),
            Err(RejectReason::WrongCategory),
        );
        check(&event(r#""opType":"deviceConnected""#, "", "{}"), Err(RejectReason::InvalidTime));
        check(
            &event(
                r#""opType":"deviceConnected""#,
                r#""iothub-enqueuedtime":99999999999999999"#,
                "{}",
            ),
            Err(RejectReason::InvalidTime),
        );
        check(
            r#"{"event":{"properties":{"application":{"opType":"deviceConnected","operationTimestamp":"2022-06-01T18:43:04Z"}}}}"#,
            Err(RejectReason::MissingDeviceId),
        );
    }

    #[test]
    fn reads_routed_messages() {
        let body = base64_encode(format!(r#"{{"sequenceNumber":"{SEQ}"}}"#).as_bytes());
        let message = |props: &str, body: &str| {
            format!(
                r#"{{"EnqueuedTimeUtc":"2022-06-01T18:43:38.0510000Z","Properties":{{{props}}},"SystemProperties":{{"connectionDeviceId":"d2","enqueuedTime":"2022-06-01T18:43:38.0510000Z"}},"Body":{body}}}"#
            )
        };
        let props = r#""hubName":"HUB","opType":"deviceConnected","operationTimestamp":"2022-06-01T18:43:04Z""#;
        let expected = format!("2022-06-01T18:43:04Z hub d2 None connect None Some(\"{SEQ}\")");
        check(&message(props, &format!("\"{body}\"")), Ok(&expected));
        check(&message(props, &format!(r#"{{"sequenceNumber":"{SEQ}"}}"#)), Ok(&expected));
        check(&message(props, &format!(r#""{{\"sequenceNumber\":\"{SEQ}\"}}""#)), Ok(&expected));
        check(&message(props, "\"not base64!\""), Err(RejectReason::BadField));
        check(
            &message(props, &format!("\"{}\"", base64_encode(b"[1]"))),
            Err(RejectReason::BadField),
        );
        check(
            &message(r#""opType":"deviceDisconnected""#, "null"),
            Ok("2022-06-01T18:43:38.0510000Z  d2 None disconnect None None"),
        );
        check(&message("", "{}"), Err(RejectReason::WrongCategory));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(100))]
        /// What the routed JSON writer writes, the reader reads back: the identity, the time, the
        /// operation and the sequence number, which is all such an event carries.
        #[test]
        fn written_routed_json_reads_back(
            events in proptest::collection::vec(dropscope_model::proptest::event(), 1..6),
            seqs in proptest::collection::vec(proptest::option::of("[0-9A-F]{64}"), 6),
        ) {
            let carried: Vec<Event> = events
                .iter()
                .zip(&seqs)
                .enumerate()
                .map(|(idx, (e, seq))| {
                    let mut event = Event::of(e.time, e.hub, e.device_id, e.operation);
                    event.module_id = e.module_id.filter(|m| !m.is_empty());
                    event.seq = seq.as_deref().map(SeqNo::from);
                    event.source_line = idx as u64 + 1;
                    event
                })
                .collect();
            let mut text = Vec::new();
            let opts = crate::write::WriteOptions { frac_digits: 7, ..Default::default() };
            crate::write::write_events(&mut text, crate::Form::RoutedJson, &carried, &opts)
                .expect("writing to a Vec");
            let parsed = crate::read::read_text(&text, 0);
            proptest::prop_assert!(parsed.rejects.is_empty(), "{:?}", parsed.rejects);
            proptest::prop_assert_eq!(&parsed.events, &carried);
            let n = carried.len() as u64;
            proptest::prop_assert_eq!(parsed.forms.get(&crate::Form::RoutedJson), Some(&n));
        }
    }

    #[test]
    fn base64_round_trips() {
        for text in ["", "a", "ab", "abc", "abcd", "{\"sequenceNumber\":\"0A\"}"] {
            let encoded = base64_encode(text.as_bytes());
            assert_eq!(base64_decode(encoded.as_bytes()).as_deref(), Some(text.as_bytes()));
            assert_eq!(
                base64_decode(encoded.trim_end_matches('=').as_bytes()).as_deref(),
                Some(text.as_bytes())
            );
        }
        assert_eq!(base64_encode(b"abcd"), "YWJjZA==");
        assert_eq!(base64_decode(b"YQ=x"), None);
        assert_eq!(base64_decode(b"Y"), None);
        assert_eq!(base64_decode(b"Y!"), None);
    }
}
