//! The export forms of IoT Hub connection logs, as one enum: [`Form`].

use std::fmt;

/// An export form of IoT Hub connection logs: what [`detect`](crate::detect::detect) tells
/// from an input's bytes, what [`write`](crate::write::write_events) renders, and what the
/// simulator writes. The one definition of the forms; what a reader or a writer needs to know
/// about a form beyond its name is a method here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Form {
    /// Storage-blob JSON Lines: one record per line (since Nov 2018).
    JsonLines,
    /// `{"records":[...]}`: Event Hubs payloads and storage blobs before Nov 2018.
    RecordsEnvelope,
    /// Pretty-printed concatenated objects, as pasted from the portal or a training lab.
    PrettyConcatenated,
    /// Log Analytics CSV export of `AzureDiagnostics`.
    LogAnalyticsCsv,
    /// Log Analytics JSON export of `AzureDiagnostics`: an array of rows.
    LogAnalyticsJson,
    /// Event Grid `Microsoft.Devices.DeviceConnected/Disconnected`, Event Grid schema.
    EventGrid,
    /// The same events in the CloudEvents schema.
    CloudEvents,
    /// Legacy operations-monitoring records (flat `deviceId`, `ipAddress`), retired 2019.
    LegacyOperationsMonitoring,
    /// Device connection-state events of message routing (`DeviceConnectionStateEvents`) as
    /// `az iot hub monitor-events` prints them: `{"event": {...}}` objects, one after another.
    RoutedMonitorEvents,
    /// The same events as routed messages, `{"EnqueuedTimeUtc", "Properties",
    /// "SystemProperties", "Body"}`, one a line: routing to storage with JSON encoding.
    RoutedJson,
    /// An Avro container of routed messages (`EventData` records: properties and a `Body` of
    /// bytes), as routing to storage and Event Hubs Capture write by default: connection-state
    /// events, or resource logs a diagnostic setting sent to Event Hubs.
    Avro,
    /// Parquet written by dropscope.
    Parquet,
    /// Arrow IPC (Feather v2) written by dropscope.
    ArrowIpc,
}

impl Form {
    /// Every form, in a fixed order.
    pub const ALL: [Form; 13] = [
        Form::JsonLines,
        Form::RecordsEnvelope,
        Form::PrettyConcatenated,
        Form::LogAnalyticsCsv,
        Form::LogAnalyticsJson,
        Form::EventGrid,
        Form::CloudEvents,
        Form::LegacyOperationsMonitoring,
        Form::RoutedMonitorEvents,
        Form::RoutedJson,
        Form::Avro,
        Form::Parquet,
        Form::ArrowIpc,
    ];

    /// A stable short name, used as a key in JSON summaries.
    pub const fn as_str(self) -> &'static str {
        match self {
            Form::JsonLines => "jsonl",
            Form::RecordsEnvelope => "records-envelope",
            Form::PrettyConcatenated => "pretty",
            Form::LogAnalyticsCsv => "log-analytics-csv",
            Form::LogAnalyticsJson => "log-analytics-json",
            Form::EventGrid => "eventgrid",
            Form::CloudEvents => "cloudevents",
            Form::LegacyOperationsMonitoring => "legacy-opsmon",
            Form::RoutedMonitorEvents => "routed-monitor-events",
            Form::RoutedJson => "routed-json",
            Form::Avro => "avro",
            Form::Parquet => "parquet",
            Form::ArrowIpc => "arrow-ipc",
        }
    }

    /// Whether this form is text (JSON or CSV, which gzip compresses); the others are
    /// dropscope's own columnar tables and Avro containers, compressed inside.
    pub const fn is_text(self) -> bool {
        !self.is_table() && !matches!(self, Form::Avro)
    }

    /// Whether this form is one of dropscope's columnar tables (Parquet, Arrow IPC), read and
    /// written through dropscope-tables.
    pub const fn is_table(self) -> bool {
        matches!(self, Form::Parquet | Form::ArrowIpc)
    }

    /// Whether this is an Event Grid form (either schema): it holds only connection-state
    /// changes (`DeviceConnected` on an accepted connect, `DeviceDisconnected` once per closed
    /// connection), each with its `sequenceNumber`.
    pub const fn is_event_grid(self) -> bool {
        matches!(self, Form::EventGrid | Form::CloudEvents)
    }

    /// Whether this form holds only connection-state changes, with no error code, level,
    /// protocol or IP: the Event Grid forms and the routed connection-state events, which come
    /// from the same notifications (the same `sequenceNumber` layout) and are rebuilt into
    /// sessions alike.
    /// An Avro container counts as the routed events the simulator writes in it; read, it may
    /// hold resource logs too.
    pub const fn is_state_changes(self) -> bool {
        matches!(
            self,
            Form::EventGrid
                | Form::CloudEvents
                | Form::RoutedMonitorEvents
                | Form::RoutedJson
                | Form::Avro
        )
    }

    /// Whether dropscope writes this form: all but the legacy operations-monitoring records,
    /// retired in 2019, and the routed events as monitor-events prints them (a console's
    /// view of a stream, not an export), which it only reads.
    pub const fn is_written(self) -> bool {
        !matches!(self, Form::LegacyOperationsMonitoring | Form::RoutedMonitorEvents)
    }

    /// The extension of a file of this form, without the dot: `json` (JSON Lines blobs are
    /// `PT1H.json`), `csv`, `parquet`, `arrow`.
    pub const fn extension(self) -> &'static str {
        match self {
            Form::LogAnalyticsCsv => "csv",
            Form::Parquet => "parquet",
            Form::ArrowIpc => "arrow",
            Form::Avro => "avro",
            Form::JsonLines
            | Form::RecordsEnvelope
            | Form::PrettyConcatenated
            | Form::LogAnalyticsJson
            | Form::EventGrid
            | Form::CloudEvents
            | Form::LegacyOperationsMonitoring
            | Form::RoutedMonitorEvents
            | Form::RoutedJson => "json",
        }
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
