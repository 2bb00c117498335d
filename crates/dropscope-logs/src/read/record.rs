//! One record's fields, decoded without a DOM, and their meaning as an [`Event`].
//!
//! [`RawRecord`] holds only the fields an event needs, borrowed from the input where the JSON has
//! no escapes; every other field is skipped with [`IgnoredAny`]. One decoder serves every JSON
//! form: resource-log records (`time`, `operationName`, `properties`), Log Analytics rows
//! (`TimeGenerated`, `OperationName`, `properties_s`), legacy flat records (`deviceId`,
//! `ipAddress`) and Event Grid / CloudEvents events (`eventType`/`type`, `data`). The nested
//! `properties` string is decoded into [`Props`], again borrowing from the unescaped string.
//!
//! A resource-log record becomes an event in one function, [`storage_event`], over a borrowed
//! [`Fields`] view that either a [`RawRecord`] or the fast reader's smaller record fills, so
//! both readers give the same events and rejects by construction.
//!
//! Each parsed chunk keeps a [`Recent`]: the last text and handle of each low-cardinality field
//! (protocol, SDK, result description, IP prefix...), so that a text repeated from the record
//! before is compared, not hashed and interned again (interning was a third of what turning a
//! record into an event cost), and the last date's day number, so that a timestamp on the same
//! date skips reading the date ([`Timestamp::parse_rfc3339_after`]). Device ids, which rarely
//! repeat from one record to the next, are interned directly.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use dropscope_model::{
    Event, LastDate, Level, Operation, ResultCode, SeqNo, Sym, Timestamp, hub_from_resource_id,
};
use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::read::record::routed::{MonitorEvent, RoutedMessage};
use crate::{Form, RejectReason};

pub(crate) mod routed;

/// A scalar field: text (numbers and booleans as their JSON text), null or absent, or an object
/// or array kept as compact JSON text (`authType` written as an object by hand-edited exports).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Scalar<'a> {
    /// Absent or null.
    #[default]
    Null,
    /// A string, number or boolean.
    Text(Cow<'a, str>),
    /// An object or array, as JSON text.
    Json(String),
}

impl<'a> Scalar<'a> {
    /// The text of a string/number/boolean, `None` for null or JSON.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Scalar::Text(t) => Some(t),
            Scalar::Null | Scalar::Json(_) => None,
        }
    }

    /// The text or JSON text, when not empty.
    fn non_empty(&self) -> Option<&str> {
        match self {
            Scalar::Text(t) if !t.is_empty() => Some(t),
            Scalar::Json(j) => Some(j),
            _ => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    /// A borrowed CSV cell: empty means absent.
    pub(crate) fn cell(text: &'a str) -> Scalar<'a> {
        if text.is_empty() { Scalar::Null } else { Scalar::Text(Cow::Borrowed(text)) }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor(PhantomData))
    }
}

struct ScalarVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
    type Value = Scalar<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Scalar::deserialize(d)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        // Rare (hand-edited exports): a DOM is acceptable here, off the hot path.
        let value = serde_json::Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Scalar::Json(value.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let value = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Scalar::Json(value.to_string()))
    }
}

/// The fields of the `properties` string (or object) that an event needs.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Props<'a> {
    #[serde(borrow, default)]
    pub(crate) device_id: Scalar<'a>,
    #[serde(borrow, default)]
    pub(crate) module_id: Scalar<'a>,
    #[serde(borrow, default)]
    pub(crate) protocol: Scalar<'a>,
    #[serde(borrow, default)]
    pub(crate) auth_type: Scalar<'a>,
    #[serde(borrow, default)]
    pub(crate) masked_ip_address: Scalar<'a>,
    #[serde(borrow, default)]
    pub(crate) sdk_version: Scalar<'a>,
    #[serde(borrow, default)]
    pub(crate) status_code: Scalar<'a>,
}

/// `properties`: usually a JSON string holding an object, sometimes the object itself.
#[derive(Debug, Default)]
pub(crate) enum PropsValue<'a> {
    /// Absent or null.
    #[default]
    Null,
    /// The usual JSON-encoded string.
    Text(Cow<'a, str>),
    /// An object: in hand-edited exports, or the usual string once [`crate::read::fast`] has
    /// decoded its fields.
    Object(Props<'a>),
    /// Something else (a number, an array).
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for PropsValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PropsVisitor(PhantomData))
    }
}

struct PropsVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for PropsVisitor<'a> {
    type Value = PropsValue<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a properties string or object")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(PropsValue::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(PropsValue::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(PropsValue::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(PropsValue::Other)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(PropsValue::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PropsValue::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(PropsValue::Text(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(PropsValue::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(PropsValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        PropsValue::deserialize(d)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Props::deserialize(MapAccessDeserializer::new(map)).map(PropsValue::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(PropsValue::Other)
    }
}

/// A value decoded as `T` when it is an object, and skipped otherwise.
#[derive(Debug)]
pub(crate) struct Lenient<T>(pub(crate) Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LenientVisitor(PhantomData))
    }
}

struct LenientVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LenientVisitor<T> {
    type Value = Lenient<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Lenient::deserialize(d)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|v| Lenient(Some(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Lenient(None))
    }
}

/// Event Grid's `data` of a device connection event.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventGridData<'a> {
    #[serde(borrow, default)]
    hub_name: Scalar<'a>,
    #[serde(borrow, default)]
    device_id: Scalar<'a>,
    #[serde(borrow, default)]
    module_id: Scalar<'a>,
    #[serde(borrow, default)]
    device_connection_state_event_info: Lenient<SequenceInfo<'a>>,
}

/// `data.deviceConnectionStateEventInfo`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SequenceInfo<'a> {
    #[serde(borrow, default)]
    sequence_number: Scalar<'a>,
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor(PhantomData))
    }
}

struct KeyVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
    type Value = Key<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

/// The fields of one record an event needs, whatever form it came in.
#[derive(Debug, Default)]
pub(crate) struct RawRecord<'a> {
    pub(crate) time: Scalar<'a>,
    pub(crate) resource_id: Scalar<'a>,
    /// Log Analytics `Resource`: the hub name, a fallback when no resource id is given.
    pub(crate) resource: Scalar<'a>,
    pub(crate) operation: Scalar<'a>,
    pub(crate) category: Scalar<'a>,
    pub(crate) level: Scalar<'a>,
    pub(crate) result_type: Scalar<'a>,
    pub(crate) result_description: Scalar<'a>,
    pub(crate) properties: PropsValue<'a>,
    /// Top-level device fields: legacy operations-monitoring records, or flattened columns.
    pub(crate) flat: Props<'a>,
    /// Legacy `statusType` (the code) and `statusDescription`.
    pub(crate) status_type: Scalar<'a>,
    pub(crate) status_description: Scalar<'a>,
    /// Event Grid schema `eventType`.
    pub(crate) event_type: Scalar<'a>,
    /// CloudEvents `type`.
    pub(crate) ce_type: Scalar<'a>,
    /// Event Grid `topic` / CloudEvents `source`: the hub's resource id.
    pub(crate) topic: Scalar<'a>,
    pub(crate) subject: Scalar<'a>,
    pub(crate) data: Lenient<EventGridData<'a>>,
    /// The records of a `{"records":[...]}` envelope on one line.
    pub(crate) records: Option<Vec<RawRecord<'a>>>,
    /// `event`: a routed connection-state event as `az iot hub monitor-events` prints it.
    pub(crate) monitor: Lenient<MonitorEvent<'a>>,
    /// `EnqueuedTimeUtc`, `Properties`, `SystemProperties`, `Body`: a routed message.
    pub(crate) routed: RoutedMessage<'a>,
    /// Whether Log Analytics column names were seen.
    pub(crate) log_analytics: bool,
}

impl<'de: 'a, 'a> Deserialize<'de> for RawRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RecordVisitor(PhantomData))
    }
}

/// `records`: decoded when it is an array of objects, skipped otherwise.
struct Records<'a>(Option<Vec<RawRecord<'a>>>);

impl<'de: 'a, 'a> Deserialize<'de> for Records<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RecordsVisitor(PhantomData)).map(Records)
    }
}

struct RecordsVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for RecordsVisitor<'a> {
    type Value = Option<Vec<RawRecord<'a>>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(record) = seq.next_element::<RawRecord<'a>>()? {
            out.push(record);
        }
        Ok(Some(out))
    }
}

struct RecordVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for RecordVisitor<'a> {
    type Value = RawRecord<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a log record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut rec = RawRecord::default();
        while let Some(Key(key)) = map.next_key::<Key<'a>>()? {
            let slot = match key.as_ref() {
                "time" | "eventTime" => &mut rec.time,
                "TimeGenerated" | "TimeGenerated [UTC]" => {
                    rec.log_analytics = true;
                    &mut rec.time
                }
                "resourceId" => &mut rec.resource_id,
                "_ResourceId" | "ResourceId" => {
                    rec.log_analytics = true;
                    &mut rec.resource_id
                }
                "Resource" => &mut rec.resource,
                "operationName" => &mut rec.operation,
                "OperationName" => {
                    rec.log_analytics = true;
                    &mut rec.operation
                }
                "category" | "Category" => &mut rec.category,
                "level" | "Level" => &mut rec.level,
                "resultType" | "ResultType" => &mut rec.result_type,
                "resultDescription" | "ResultDescription" => &mut rec.result_description,
                "properties" | "properties_s" => {
                    rec.log_analytics |= key == "properties_s";
                    rec.properties = map.next_value()?;
                    continue;
                }
                "deviceId" | "deviceId_s" => &mut rec.flat.device_id,
                "moduleId" | "moduleId_s" => &mut rec.flat.module_id,
                "protocol" | "protocol_s" => &mut rec.flat.protocol,
                "authType" | "authType_s" => &mut rec.flat.auth_type,
                "ipAddress" | "maskedIpAddress" | "maskedIpAddress_s" => {
                    &mut rec.flat.masked_ip_address
                }
                "sdkVersion" | "sdkVersion_s" => &mut rec.flat.sdk_version,
                "statusCode" | "statusCode_s" => &mut rec.flat.status_code,
                "statusType" => &mut rec.status_type,
                "statusDescription" => &mut rec.status_description,
                "eventType" => &mut rec.event_type,
                "type" => &mut rec.ce_type,
                "topic" | "source" => &mut rec.topic,
                "subject" => &mut rec.subject,
                "data" => {
                    rec.data = map.next_value()?;
                    continue;
                }
                "records" => {
                    rec.records = map.next_value::<Records<'a>>()?.0;
                    continue;
                }
                "event" => {
                    rec.monitor = map.next_value()?;
                    continue;
                }
                "EnqueuedTimeUtc" => {
                    rec.routed.seen = true;
                    &mut rec.routed.enqueued_time_utc
                }
                "Body" => {
                    rec.routed.seen = true;
                    &mut rec.routed.body
                }
                "Properties" => {
                    rec.routed.seen = true;
                    rec.routed.properties = map.next_value()?;
                    continue;
                }
                "SystemProperties" => {
                    rec.routed.seen = true;
                    rec.routed.system_properties = map.next_value()?;
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value: Scalar<'a> = map.next_value()?;
            // The first non-null spelling wins (`_ResourceId` and `ResourceId` in one row).
            if slot.is_null() {
                *slot = value;
            }
        }
        Ok(rec)
    }
}

/// The fields of a resource-log record that [`storage_event`] reads, borrowed from a
/// [`RawRecord`] or from the fast reader's smaller [`FastRecord`](crate::read::fast::FastRecord),
/// so that both become events through the same code.
pub(crate) struct Fields<'r, 'a> {
    pub(crate) time: &'r Scalar<'a>,
    pub(crate) resource_id: &'r Scalar<'a>,
    pub(crate) resource: &'r Scalar<'a>,
    pub(crate) operation: &'r Scalar<'a>,
    pub(crate) category: &'r Scalar<'a>,
    pub(crate) level: &'r Scalar<'a>,
    pub(crate) result_type: &'r Scalar<'a>,
    pub(crate) result_description: &'r Scalar<'a>,
    pub(crate) status_type: &'r Scalar<'a>,
    pub(crate) status_description: &'r Scalar<'a>,
    pub(crate) properties: &'r PropsValue<'a>,
    pub(crate) flat: &'r Props<'a>,
}

/// An absent field, for [`Fields`] of a record that has no such field.
pub(crate) static ABSENT: Scalar<'static> = Scalar::Null;

/// Absent top-level device fields.
pub(crate) static NO_FLAT: Props<'static> = Props {
    device_id: Scalar::Null,
    module_id: Scalar::Null,
    protocol: Scalar::Null,
    auth_type: Scalar::Null,
    masked_ip_address: Scalar::Null,
    sdk_version: Scalar::Null,
    status_code: Scalar::Null,
};

impl<'a> RawRecord<'a> {
    /// The fields [`storage_event`] reads.
    fn fields(&self) -> Fields<'_, 'a> {
        Fields {
            time: &self.time,
            resource_id: &self.resource_id,
            resource: &self.resource,
            operation: &self.operation,
            category: &self.category,
            level: &self.level,
            result_type: &self.result_type,
            result_description: &self.result_description,
            status_type: &self.status_type,
            status_description: &self.status_description,
            properties: &self.properties,
            flat: &self.flat,
        }
    }

    /// An Event Grid or CloudEvents event rather than a resource-log record.
    fn is_event_grid(&self) -> bool {
        !self.event_type.is_null() || (!self.ce_type.is_null() && self.data.0.is_some())
    }

    /// The form this record counts as, given the form of its container.
    pub(crate) fn form(&self, container: Form) -> Form {
        if self.monitor.0.is_some() {
            Form::RoutedMonitorEvents
        } else if self.routed.seen {
            Form::RoutedJson
        } else if !self.event_type.is_null() {
            Form::EventGrid
        } else if self.is_event_grid() {
            Form::CloudEvents
        } else if self.log_analytics {
            if container == Form::LogAnalyticsCsv {
                Form::LogAnalyticsCsv
            } else {
                Form::LogAnalyticsJson
            }
        } else if matches!(self.properties, PropsValue::Null) && !self.flat.device_id.is_null() {
            Form::LegacyOperationsMonitoring
        } else {
            container
        }
    }
}

/// Why a record is not an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) reason: RejectReason,
    pub(crate) detail: String,
}

fn reject<T>(reason: RejectReason, detail: String) -> Result<T, Rejection> {
    Err(Rejection { reason, detail })
}

fn owned(value: &Scalar<'_>) -> Option<Sym> {
    value.non_empty().map(Sym::new)
}

fn first_owned(a: &Scalar<'_>, b: &Scalar<'_>) -> Option<Sym> {
    owned(a).or_else(|| owned(b))
}

/// The fields [`Recent`] remembers.
#[derive(Clone, Copy)]
enum Field {
    Module,
    Description,
    Protocol,
    Ip,
    Sdk,
    Auth,
    Status,
}

/// The last text interned for each low-cardinality field, and its handle. Records in a row
/// mostly repeat a protocol, an SDK, a result description, an IP prefix: comparing with the
/// last one finds those, where [`Sym::new`] hashes the text and looks it up (interning was a
/// third of what turning a record into an event cost). Device ids, which rarely repeat from
/// one record to the next, are interned directly.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    last: [Option<(&'static str, Sym)>; 7],
    /// The last date read, for the time.
    date: LastDate,
}

impl Recent {
    fn intern(&mut self, field: Field, text: &str) -> Sym {
        let last = &mut self.last[field as usize];
        match *last {
            Some((seen, sym)) if seen == text => sym,
            _ => {
                let sym = Sym::new(text);
                *last = Some((sym.as_str(), sym));
                sym
            }
        }
    }

    /// [`first_owned`] through the memory of `field`.
    fn first(&mut self, field: Field, a: &Scalar<'_>, b: &Scalar<'_>) -> Option<Sym> {
        let text = a.non_empty().or_else(|| b.non_empty())?;
        Some(self.intern(field, text))
    }
}

/// `text` without the whitespace around it: `str::trim`, with no call when it has none at either
/// end, as nearly every value (a `char::is_whitespace` character is ASCII whitespace, or starts
/// with a byte above 0x7f).
fn trimmed(text: &str) -> &str {
    let clean = |b: u8| b < 0x80 && !b.is_ascii_whitespace() && b != 0x0b;
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(&first), Some(&last)) if clean(first) && clean(last) => text,
        _ => text.trim(),
    }
}

fn parse_time(value: &Scalar<'_>, date: &mut LastDate) -> Result<Timestamp, Rejection> {
    let text = match value {
        Scalar::Text(t) => trimmed(t),
        Scalar::Null => return reject(RejectReason::InvalidTime, "no time".to_owned()),
        Scalar::Json(j) => {
            return reject(RejectReason::InvalidTime, format!("time {j} is not a string"));
        }
    };
    match Timestamp::parse_rfc3339_after(text, date) {
        Ok(time) => Ok(time),
        Err(error) => parse_portal_time(text).ok_or_else(|| Rejection {
            reason: RejectReason::InvalidTime,
            detail: format!("time {text:?}: {error}"),
        }),
    }
}

/// The Azure portal's CSV export writes `TimeGenerated [UTC]` as `9/21/2023, 10:16:00.000 PM`.
fn parse_portal_time(text: &str) -> Option<Timestamp> {
    let (date, rest) = text.split_once(',')?;
    let mut date_parts = date.trim().split('/');
    let month: u32 = date_parts.next()?.trim().parse().ok()?;
    let day: u32 = date_parts.next()?.trim().parse().ok()?;
    let year: u32 = date_parts.next()?.trim().parse().ok()?;
    if date_parts.next().is_some() {
        return None;
    }
    let (clock, meridiem) = rest.trim().rsplit_once(' ')?;
    let (hour, minute_second) = clock.split_once(':')?;
    let hour: u32 = hour.parse().ok()?;
    if !(1..=12).contains(&hour) || minute_second.len() < 5 {
        return None;
    }
    let hour = match meridiem {
        m if m.eq_ignore_ascii_case("AM") => hour % 12,
        m if m.eq_ignore_ascii_case("PM") => hour % 12 + 12,
        _ => return None,
    };
    let rfc = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute_second}Z");
    Timestamp::parse_rfc3339(&rfc).ok()
}

/// The event a record describes, or why it describes none.
pub(crate) fn to_event(rec: &RawRecord<'_>, source: u32, line: u64) -> Result<Event, Rejection> {
    if let Some(monitor) = &rec.monitor.0 {
        return monitor.to_event(source, line);
    }
    if rec.routed.seen {
        return rec.routed.to_event(source, line);
    }
    if rec.is_event_grid() {
        return event_grid(rec, source, line);
    }
    storage_event(&rec.fields(), &mut Recent::default(), source, line)
}

/// The event a resource-log record describes, or why it describes none; `recent` remembers
/// the texts of the records before it (a fresh one will do).
pub(crate) fn storage_event(
    rec: &Fields<'_, '_>,
    recent: &mut Recent,
    source: u32,
    line: u64,
) -> Result<Event, Rejection> {
    match rec.category {
        Scalar::Null => {}
        Scalar::Text(c) if trimmed(c).eq_ignore_ascii_case("Connections") => {}
        other => {
            let shown = other.non_empty().unwrap_or_default();
            return reject(
                RejectReason::WrongCategory,
                format!("category {shown:?} is not Connections"),
            );
        }
    }
    let operation = match rec.operation {
        Scalar::Text(t) => Operation::parse(t).ok_or_else(|| Rejection {
            reason: RejectReason::BadOperation,
            detail: format!("operationName {t:?} is not deviceConnect or deviceDisconnect"),
        })?,
        Scalar::Null => return reject(RejectReason::BadOperation, "no operationName".to_owned()),
        Scalar::Json(j) => {
            return reject(
                RejectReason::BadOperation,
                format!("operationName {j} is not a string"),
            );
        }
    };
    let time = parse_time(rec.time, &mut recent.date)?;
    let nested: Props<'_>;
    let props = match rec.properties {
        PropsValue::Null => rec.flat,
        PropsValue::Text(text) if text.trim().is_empty() => rec.flat,
        PropsValue::Text(text) => {
            nested = serde_json::from_str(text).map_err(|error| Rejection {
                reason: RejectReason::BadJson,
                detail: format!("properties: {error}"),
            })?;
            &nested
        }
        PropsValue::Object(object) => object,
        PropsValue::Other => {
            return reject(
                RejectReason::BadField,
                "properties is neither a JSON string nor an object".to_owned(),
            );
        }
    };
    let Some(device_id) = first_owned(&props.device_id, &rec.flat.device_id) else {
        return reject(RejectReason::MissingDeviceId, "no deviceId".to_owned());
    };
    let code = if rec.result_type.is_null() { rec.status_type } else { rec.result_type };
    let result_type = match code {
        Scalar::Null => None,
        Scalar::Text(t) if trimmed(t).is_empty() => None,
        // `u32::MAX` is the one `u32` a `ResultCode` does not hold: rejected as a code past it.
        Scalar::Text(t) => {
            Some(trimmed(t).parse::<u32>().ok().and_then(ResultCode::new).ok_or_else(|| {
                Rejection {
                    reason: RejectReason::BadField,
                    detail: format!("resultType {t:?} is not a numeric code"),
                }
            })?)
        }
        Scalar::Json(j) => {
            return reject(RejectReason::BadField, format!("resultType {j} is not a code"));
        }
    };
    let level = match rec.level {
        Scalar::Null => {
            if result_type.is_some() {
                Level::Error
            } else {
                Level::Information
            }
        }
        Scalar::Text(t) => Level::parse(t).ok_or_else(|| Rejection {
            reason: RejectReason::BadField,
            detail: format!("level {t:?} is not Information, Warning, Error or Critical"),
        })?,
        Scalar::Json(j) => {
            return reject(RejectReason::BadField, format!("level {j} is not a string"));
        }
    };
    let hub = rec
        .resource_id
        .non_empty()
        .and_then(hub_from_resource_id)
        .or_else(|| rec.resource.non_empty().and_then(hub_from_resource_id))
        .unwrap_or_default();
    Ok(Event {
        time,
        hub,
        device_id,
        module_id: recent.first(Field::Module, &props.module_id, &rec.flat.module_id),
        operation,
        level,
        result_type,
        result_description: recent.first(
            Field::Description,
            rec.result_description,
            rec.status_description,
        ),
        protocol: recent.first(Field::Protocol, &props.protocol, &rec.flat.protocol),
        masked_ip: recent.first(Field::Ip, &props.masked_ip_address, &rec.flat.masked_ip_address),
        sdk_version: recent.first(Field::Sdk, &props.sdk_version, &rec.flat.sdk_version),
        auth_type: recent.first(Field::Auth, &props.auth_type, &rec.flat.auth_type),
        status_code: recent.first(Field::Status, &props.status_code, &rec.flat.status_code),
        source,
        source_line: line,
        seq: None,
        had_copies: false,
        subject_mismatch: false,
    })
}

fn event_grid(rec: &RawRecord<'_>, source: u32, line: u64) -> Result<Event, Rejection> {
    let kind = if rec.event_type.is_null() { &rec.ce_type } else { &rec.event_type };
    let kind = kind.non_empty().unwrap_or_default();
    let Some(operation) = Operation::parse(kind) else {
        return reject(
            RejectReason::WrongCategory,
            format!("event type {kind:?} is not DeviceConnected or DeviceDisconnected"),
        );
    };
    let time = parse_time(&rec.time, &mut LastDate::default())?;
    let empty = EventGridData::default();
    let data = rec.data.0.as_ref().unwrap_or(&empty);
    // `subject` is `devices/{deviceId}`, with `/modules/{moduleId}` (EG-IOT) or, in a real IoT
    // Edge batch, `/{moduleId}` for a module. `data` wins where the two disagree, and the event
    // says so (docs/research/iothub-logs.md §2.1).
    let (subject_device, subject_module) = subject_identity(rec.subject.text());
    let data_device = data.device_id.non_empty();
    let Some(device_id) = data_device.or(subject_device) else {
        return reject(RejectReason::MissingDeviceId, "no data.deviceId".to_owned());
    };
    let device_id = Sym::new(device_id);
    // An empty `data.moduleId` says "no module" (EG-ORDER's sample); an absent one says nothing.
    let data_module = match &data.module_id {
        Scalar::Null => None,
        Scalar::Text(text) => Some(text.as_ref()),
        Scalar::Json(json) => Some(json.as_str()),
    };
    let module_id = data_module.or(subject_module).filter(|m| !m.is_empty());
    let subject_mismatch = subject_device.is_some_and(|d| d != device_id.as_str())
        || subject_module.is_some_and(|m| data_module.is_some_and(|dm| dm != m));
    let hub = data
        .hub_name
        .non_empty()
        .and_then(hub_from_resource_id)
        .or_else(|| rec.topic.non_empty().and_then(hub_from_resource_id))
        .unwrap_or_default();
    let seq = data
        .device_connection_state_event_info
        .0
        .as_ref()
        .and_then(|i| i.sequence_number.non_empty().map(SeqNo::from));
    let mut event = Event::of(time, hub, device_id, operation);
    event.module_id = module_id.map(Sym::new);
    event.source = source;
    event.source_line = line;
    event.seq = seq;
    event.subject_mismatch = subject_mismatch;
    Ok(event)
}

/// The device and module an Event Grid `subject` names: `devices/{d}`, `devices/{d}/modules/{m}`
/// or `devices/{d}/{m}`; `None` for what it does not name.
fn subject_identity(subject: Option<&str>) -> (Option<&str>, Option<&str>) {
    let Some(rest) = subject.map(str::trim).and_then(|s| s.strip_prefix("devices/")) else {
        return (None, None);
    };
    let mut parts = rest.split('/');
    let device = parts.next().filter(|d| !d.is_empty());
    let module = match (parts.next(), parts.next()) {
        (Some("modules"), Some(module)) | (Some(module), None) => Some(module),
        _ => None,
    };
    (device, module.filter(|m| !m.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_as_str_trim_does() {
        let chars =
            (0..0x250).filter_map(char::from_u32).chain(['\u{1680}', '\u{2003}', '\u{3000}']);
        for c in chars {
            for text in [format!("{c}a{c}"), format!("a{c}"), format!("{c}a"), c.to_string()] {
                assert_eq!(trimmed(&text), text.trim(), "{c:?}");
            }
        }
        assert_eq!(trimmed(""), "");
    }

    fn check(json: &str, expected: Result<&str, RejectReason>) {
        let got = serde_json::from_str::<RawRecord<'_>>(json)
            .map_err(|_| RejectReason::BadJson)
            .and_then(|rec| to_event(&rec, 0, 1).map_err(|r| r.reason))
            .map(|e| {
                format!(
                    "{} {} {} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                    e.time.to_rfc3339(0),
                    e.hub,
                    e.device_id,
                    e.operation,
                    e.level,
                    e.code(),
                    e.protocol,
                    e.masked_ip,
                    e.auth_type,
                    e.status_code,
                    e.seq
                )
            });
        assert_eq!(got.as_deref().map_err(|r| *r), expected, "{json}");
    }

    #[test]
    fn decodes_each_record_shape() {
        check(
            r#"{"time":"2023-09-21T22:33:34Z","resourceId":"/X/IOTHUBS/HUB1","operationName":"deviceDisconnect","category":"Connections","level":"Error","resultType":"404104","properties":"{\"deviceId\":\"d1\",\"protocol\":\"Mqtt\",\"authType\":null,\"maskedIpAddress\":\"1.2.3.XXX\",\"statusCode\":\"404\"}"}"#,
            Ok(
                r#"2023-09-21T22:33:34Z hub1 d1 disconnect Error Some(404104) Some("Mqtt") Some("1.2.3.XXX") None Some("404") None"#,
            ),
        );
        check(
            r#"{"time":"2017-09-27T12:11:56Z","operationName":"deviceConnect","category":"Connections","level":"Information","deviceId":"d2","ipAddress":"8.8.8.XXX","statusCode":401,"statusType":401002,"authType":"{\"a\":1}"}"#,
            Ok(
                r#"2017-09-27T12:11:56Z  d2 connect Information Some(401002) None Some("8.8.8.XXX") Some("{\"a\":1}") Some("401") None"#,
            ),
        );
        check(
            r#"{"eventType":"Microsoft.Devices.DeviceDisconnected","eventTime":"2018-07-03T23:20:11+00:00","subject":"devices/d3","data":{"hubName":"HUB","deviceConnectionStateEventInfo":{"sequenceNumber":"0A"}}}"#,
            Ok(
                r#"2018-07-03T23:20:11Z hub d3 disconnect Information None None None None None Some("0A")"#,
            ),
        );
        check(
            r#"{"TimeGenerated":"9/21/2023, 10:16:00.000 PM","OperationName":"deviceConnect","Category":"Connections","Level":"Information","ResultType":"","Type":"AzureDiagnostics","Resource":"HUB2","properties_s":"{\"deviceId\":\"d4\",\"authType\":{\"scope\":\"device\"}}"}"#,
            Ok(
                r#"2023-09-21T22:16:00Z hub2 d4 connect Information None None None Some("{\"scope\":\"device\"}") None None"#,
            ),
        );
    }

    #[test]
    fn rejects_with_a_reason() {
        let base = r#""operationName":"deviceConnect","properties":"{\"deviceId\":\"d\"}""#;
        check(&format!(r#"{{"time":" UTC timestamp",{base}}}"#), Err(RejectReason::InvalidTime));
        check(
            &format!(r#"{{"time":"2020-01-01T00:00:00Z","category":"Routes",{base}}}"#),
            Err(RejectReason::WrongCategory),
        );
        check(
            r#"{"time":"2020-01-01T00:00:00Z","operationName":"deviceTelemetry"}"#,
            Err(RejectReason::BadOperation),
        );
        check(
            r#"{"time":"2020-01-01T00:00:00Z","operationName":"deviceConnect","properties":"{}"}"#,
            Err(RejectReason::MissingDeviceId),
        );
        check(
            &format!(r#"{{"time":"2020-01-01T00:00:00Z","level":"Verbose",{base}}}"#),
            Err(RejectReason::BadField),
        );
        check(
            &format!(r#"{{"time":"2020-01-01T00:00:00Z","resultType":"Success",{base}}}"#),
            Err(RejectReason::BadField),
        );
        check(
            r#"{"time":"2020-01-01T00:00:00Z","operationName":"deviceConnect","properties":"{\"deviceId\""}"#,
            Err(RejectReason::BadJson),
        );
        check(
            r#"{"type":"Microsoft.Devices.DeviceTelemetry","time":"2020-01-01T00:00:00Z","data":{"deviceId":"d"}}"#,
            Err(RejectReason::WrongCategory),
        );
        check("[1]", Err(RejectReason::BadJson));
    }

    /// A code is any `u32` but `u32::MAX`, which a `ResultCode` does not hold: that one is
    /// rejected as a code past `u32` is, with the same reason and detail, never read as no code.
    #[test]
    fn rejects_a_code_that_is_not_held() {
        let base = r#""operationName":"deviceDisconnect","properties":"{\"deviceId\":\"d\"}""#;
        let read = |code: &str| {
            let json = format!(r#"{{"time":"2020-01-01T00:00:00Z","resultType":"{code}",{base}}}"#);
            let rec = serde_json::from_str::<RawRecord<'_>>(&json).expect("valid JSON");
            to_event(&rec, 0, 1).map(|e| e.code()).map_err(|r| (r.reason, r.detail))
        };
        for code in ["99999999999", "4294967295", "-1"] {
            let detail = format!("resultType \"{code}\" is not a numeric code");
            assert_eq!(read(code), Err((RejectReason::BadField, detail)), "{code}");
        }
        assert_eq!(read("4294967294"), Ok(Some(4_294_967_294)));
        assert_eq!(read(" 404104 "), Ok(Some(404_104)));
    }

    /// IoT Edge: a module's subject is `devices/{d}/{m}` in a real batch, `devices/{d}/modules/{m}`
    /// in the docs; where `subject` and `data` disagree, `data` wins and the event says so.
    #[test]
    fn takes_the_identity_from_data_and_flags_a_mismatch() {
        let event = |subject: &str, data: &str| {
            let json = format!(
                r#"{{"type":"Microsoft.Devices.DeviceConnected","time":"2022-11-07T11:00:25Z","subject":"{subject}","data":{{"hubName":"IOT-Demo"{data}}}}}"#
            );
            let rec = serde_json::from_str::<RawRecord<'_>>(&json).expect("valid JSON");
            let e = to_event(&rec, 0, 1).expect("an event");
            format!(
                "{}/{} {} {}",
                e.device_id,
                e.module_id.as_deref().unwrap_or("-"),
                e.hub,
                e.subject_mismatch
            )
        };
        let edge = r#","deviceId":"edge1","moduleId":"$edgeHub""#;
        assert_eq!(event("devices/edge1/$edgeHub", edge), "edge1/$edgeHub iot-demo false");
        assert_eq!(event("devices/edge1/modules/$edgeHub", edge), "edge1/$edgeHub iot-demo false");
        assert_eq!(event("devices/edge1/$edgeHub", ""), "edge1/$edgeHub iot-demo false");
        assert_eq!(
            event("devices/edge1", r#","deviceId":"edge1","moduleId":"""#),
            "edge1/- iot-demo false"
        );
        assert_eq!(event("devices/other/$edgeHub", edge), "edge1/$edgeHub iot-demo true");
        assert_eq!(event("devices/edge1/other", edge), "edge1/$edgeHub iot-demo true");
        assert_eq!(event("devices/edge1", edge), "edge1/$edgeHub iot-demo false");
        assert_eq!(event("", edge), "edge1/$edgeHub iot-demo false");
    }

    #[test]
    fn reads_portal_times() {
        assert_eq!(
            parse_portal_time("12/1/2023, 12:05:09.5 AM").map(|t| t.to_rfc3339(1)),
            Some("2023-12-01T00:05:09.5Z".to_owned())
        );
        assert_eq!(parse_portal_time("1/2/2023, 13:00:00 PM"), None);
        assert_eq!(parse_portal_time("garbage"), None);
    }
}
