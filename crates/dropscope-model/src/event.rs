//! [`Event`]: one connection-log record after parsing, the row of the events table.
//!
//! An event holds no heap string: every repeated text (hub, device, module, result
//! description, protocol, IP prefix, SDK, auth type, status code) is a [`Sym`] and the error
//! code a [`ResultCode`] (4 bytes with or without one), so an event is 72 bytes and parsing a
//! record allocates nothing. The one exception is Event Grid's sequence number, unique per
//! record: interned, it would grow the process-wide table with the record count, so it stays a
//! heap text, [`SeqNo`], behind one thin pointer (8 bytes of an event without one).

use std::cell::RefCell;
use std::fmt;
use std::num::NonZeroU32;
use std::ops::Deref;

use crate::{Sym, Timestamp};

/// What the record reports: a device connected or disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// `deviceConnect` (Event Grid: `Microsoft.Devices.DeviceConnected`).
    Connect,
    /// `deviceDisconnect` (Event Grid: `Microsoft.Devices.DeviceDisconnected`).
    Disconnect,
}

impl Operation {
    /// The short name used in tables and `labels.csv`: `connect` or `disconnect`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Connect => "connect",
            Operation::Disconnect => "disconnect",
        }
    }

    /// The IoT Hub `operationName`: `deviceConnect` or `deviceDisconnect`.
    pub const fn operation_name(self) -> &'static str {
        match self {
            Operation::Connect => "deviceConnect",
            Operation::Disconnect => "deviceDisconnect",
        }
    }

    /// Accepts the short name, the IoT Hub operation name (any case) and the Event Grid type.
    pub fn parse(text: &str) -> Option<Operation> {
        // The spellings IoT Hub writes, on every record: compared whole before any folding.
        match text {
            "deviceConnect" => return Some(Operation::Connect),
            "deviceDisconnect" => return Some(Operation::Disconnect),
            _ => {}
        }
        let t = text.trim();
        if t.eq_ignore_ascii_case("deviceConnect")
            || t.eq_ignore_ascii_case("connect")
            || t.eq_ignore_ascii_case("Microsoft.Devices.DeviceConnected")
        {
            Some(Operation::Connect)
        } else if t.eq_ignore_ascii_case("deviceDisconnect")
            || t.eq_ignore_ascii_case("disconnect")
            || t.eq_ignore_ascii_case("Microsoft.Devices.DeviceDisconnected")
        {
            Some(Operation::Disconnect)
        } else {
            None
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The record's `level`. IoT Hub writes `Information` and `Error`; the generic Azure schema
/// also allows `Informational`, `Warning` and `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `Information` or `Informational`.
    Information,
    /// `Warning`.
    Warning,
    /// `Error`.
    Error,
    /// `Critical`.
    Critical,
}

impl Level {
    /// The spelling IoT Hub writes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Information => "Information",
            Level::Warning => "Warning",
            Level::Error => "Error",
            Level::Critical => "Critical",
        }
    }

    /// Accepts every spelling of the Azure schema, in any case.
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "Information" => return Some(Level::Information),
            "Error" => return Some(Level::Error),
            _ => {}
        }
        let t = text.trim();
        if t.eq_ignore_ascii_case("Information") || t.eq_ignore_ascii_case("Informational") {
            Some(Level::Information)
        } else if t.eq_ignore_ascii_case("Warning") {
            Some(Level::Warning)
        } else if t.eq_ignore_ascii_case("Error") {
            Some(Level::Error)
        } else if t.eq_ignore_ascii_case("Critical") {
            Some(Level::Critical)
        } else {
            None
        }
    }

    /// Error or Critical: a failed connect or an error disconnect.
    pub const fn is_error(self) -> bool {
        matches!(self, Level::Error | Level::Critical)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One connection-log record, whatever form it was read from: a row of the events table.
///
/// Two records are the same record (a duplicate) when every field but `source`, `source_line`
/// is equal; [`Event::same_record`] says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When the hub logged it.
    pub time: Timestamp,
    /// The hub name, lower-cased (the last segment of `resourceId`, or Event Grid's `hubName`).
    pub hub: Sym,
    /// The device identity.
    pub device_id: Sym,
    /// The module identity, when a module connected.
    pub module_id: Option<Sym>,
    /// Connect or disconnect.
    pub operation: Operation,
    /// Information, Warning, Error or Critical.
    pub level: Level,
    /// The error code (`resultType`, e.g. 404104), absent on informational records; see
    /// [`Event::code`] for it as a number.
    pub result_type: Option<ResultCode>,
    /// The error name (`resultDescription`, e.g. `DeviceConnectionClosedRemotely`).
    pub result_description: Option<Sym>,
    /// `Mqtt`, `Amqp`, `MqttWs`, `AmqpWs`, `Https` ...
    pub protocol: Option<Sym>,
    /// The masked IP (`24.9.142.XXX`).
    pub masked_ip: Option<Sym>,
    /// The SDK's user-agent string, logged on connects.
    pub sdk_version: Option<Sym>,
    /// The `authType` JSON text (`{"scope":"device","type":"sas",...}`), when not null.
    pub auth_type: Option<Sym>,
    /// `properties.statusCode` (`"404"`), when not null.
    pub status_code: Option<Sym>,
    /// The input file this record came from: its index among the inputs in path order.
    pub source: u32,
    /// The 1-based line of the record's first byte in that file (the row, for Parquet and Arrow).
    pub source_line: u64,
    /// Event Grid's `sequenceNumber`: orders one device's events when times tie.
    pub seq: Option<SeqNo>,
    /// The loader dropped later copies of this record (the same record read twice, from
    /// whatever forms): its session gets the `duplicate_dropped` repair. Not part of the
    /// record, like `source`: [`Event::same_record`] ignores it.
    pub had_copies: bool,
    /// The record's Event Grid `subject` named another device or module than its `data`, whose
    /// identity this event has: its session gets the `subject_mismatch` repair. Like
    /// `had_copies`, [`Event::same_record`] ignores it.
    pub subject_mismatch: bool,
}

impl Event {
    /// A connect or disconnect with no optional field set, for tests and the simulator.
    pub fn new(time: Timestamp, hub: &str, device_id: &str, operation: Operation) -> Event {
        Event::of(time, Sym::new(hub), Sym::new(device_id), operation)
    }

    /// [`Event::new`] with texts already interned: the base readers fill in with struct update
    /// syntax (`Event { level, ..Event::of(...) }`).
    pub fn of(time: Timestamp, hub: Sym, device_id: Sym, operation: Operation) -> Event {
        Event {
            time,
            hub,
            device_id,
            module_id: None,
            operation,
            level: Level::Information,
            result_type: None,
            result_description: None,
            protocol: None,
            masked_ip: None,
            sdk_version: None,
            auth_type: None,
            status_code: None,
            source: 0,
            source_line: 0,
            seq: None,
            had_copies: false,
            subject_mismatch: false,
        }
    }

    /// Whether `other` is the same record, ignoring where each copy was read.
    pub fn same_record(&self, other: &Event) -> bool {
        self.time == other.time
            && self.operation == other.operation
            && self.level == other.level
            && self.result_type == other.result_type
            && self.device_id == other.device_id
            && self.hub == other.hub
            && self.module_id == other.module_id
            && self.result_description == other.result_description
            && self.protocol == other.protocol
            && self.masked_ip == other.masked_ip
            && self.sdk_version == other.sdk_version
            && self.auth_type == other.auth_type
            && self.status_code == other.status_code
            && self.seq == other.seq
    }

    /// A failed connect: a `deviceConnect` at level Error or Critical.
    pub fn is_failed_connect(&self) -> bool {
        self.operation == Operation::Connect && self.level.is_error()
    }

    /// The error code as a number (`result_type`'s), absent on informational records.
    pub fn code(&self) -> Option<u32> {
        self.result_type.map(ResultCode::get)
    }
}

/// An error code (`resultType`, e.g. 404104): any `u32` but `u32::MAX`, held as the code plus
/// one so that `Option<ResultCode>` takes 4 bytes of every event where an `Option<u32>` took 8
/// (an event is 72 bytes, not 80). Readers reject the one code it cannot hold as they reject a
/// code that is not a `u32` (IoT Hub's codes have six digits). Orders as the codes do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResultCode(NonZeroU32);

impl ResultCode {
    /// `code`, or `None` for `u32::MAX`, the one code not held.
    pub const fn new(code: u32) -> Option<ResultCode> {
        // Only `u32::MAX` wraps to zero.
        match NonZeroU32::new(code.wrapping_add(1)) {
            Some(stored) => Some(ResultCode(stored)),
            None => None,
        }
    }

    /// The code.
    pub const fn get(self) -> u32 {
        self.0.get() - 1
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.get(), f)
    }
}

/// Event Grid's `sequenceNumber` text behind one thin pointer: `Option<SeqNo>` takes 8 bytes of
/// every event where an `Option<Box<str>>` took 16 (an event is 72 bytes, not 80), and only
/// Event Grid records have one, so the second allocation is rare. Dereferences to `str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(clippy::box_collection)] // the point: a `Box<String>` is one pointer, a `String` three
pub struct SeqNo(Box<String>);

impl SeqNo {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for SeqNo {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SeqNo {
    fn from(text: &str) -> SeqNo {
        SeqNo(Box::new(text.to_owned()))
    }
}

impl From<String> for SeqNo {
    fn from(text: String) -> SeqNo {
        SeqNo(Box::new(text))
    }
}

impl fmt::Debug for SeqNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The hub name of an Azure `resourceId`: its last path segment, lower-cased (resource ids
/// differ in case between exports). `None` when the id has no non-empty last segment.
pub fn hub_from_resource_id(resource_id: &str) -> Option<Sym> {
    thread_local! {
        /// The last resource id seen and its hub: a log repeats one or a few hubs, so this
        /// saves the search and the lower-casing on nearly every record.
        static LAST: RefCell<(String, Option<Sym>)> = const { RefCell::new((String::new(), None)) };
    }
    LAST.with_borrow_mut(|(last_id, last_hub)| {
        if last_id != resource_id {
            last_id.clear();
            last_id.push_str(resource_id);
            let last = resource_id.trim().trim_end_matches('/').rsplit('/').next().unwrap_or("");
            *last_hub = if last.is_empty() {
                None
            } else if last.bytes().any(|b| b.is_ascii_uppercase()) {
                Some(Sym::new(&last.to_ascii_lowercase()))
            } else {
                Some(Sym::new(last))
            };
        }
        *last_hub
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Millions of events are held at once: their size is the tool's memory.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn an_event_is_72_bytes() {
        assert_eq!(size_of::<Event>(), 72);
        assert_eq!(size_of::<Option<ResultCode>>(), 4);
        assert_eq!(size_of::<Option<SeqNo>>(), 8);
        let seq = SeqNo::from("0001");
        assert_eq!((&*seq, format!("{seq:?}")), ("0001", "\"0001\"".to_owned()));
    }

    #[test]
    fn a_result_code_is_any_u32_but_the_largest() {
        for code in [0, 1, 404_104, u32::MAX - 1] {
            let held = ResultCode::new(code).expect("held");
            assert_eq!((held.get(), held.to_string()), (code, code.to_string()));
        }
        assert_eq!(ResultCode::new(u32::MAX), None);
        let codes = [0, 1, 401_003, 404_104, u32::MAX - 1].map(ResultCode::new);
        assert!(codes.is_sorted(), "{codes:?}");
        let mut event = Event::new(Timestamp(0), "hub", "d1", Operation::Disconnect);
        assert_eq!(event.code(), None);
        event.result_type = ResultCode::new(404_104);
        assert_eq!(event.code(), Some(404_104));
    }

    #[test]
    fn hub_is_last_segment_lower_cased() {
        let id = "/SUBSCRIPTIONS/AE82/RESOURCEGROUPS/AZ-220/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/AZ-220-HUB-DM121619";
        assert_eq!(hub_from_resource_id(id).as_deref(), Some("az-220-hub-dm121619"));
        assert_eq!(hub_from_resource_id("Resource Id").as_deref(), Some("resource id"));
        assert_eq!(hub_from_resource_id("/"), None);
    }

    #[test]
    fn parses_every_operation_and_level_spelling() {
        assert_eq!(Operation::parse("DeviceConnect"), Some(Operation::Connect));
        assert_eq!(
            Operation::parse("Microsoft.Devices.DeviceDisconnected"),
            Some(Operation::Disconnect)
        );
        assert_eq!(Operation::parse("deviceTelemetry"), None);
        assert_eq!(Level::parse("Informational"), Some(Level::Information));
        assert_eq!(Level::parse("critical"), Some(Level::Critical));
        assert_eq!(Level::parse("Verbose"), None);
    }
}
