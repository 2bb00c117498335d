//! Form detection: which export form an input is, decided from its bytes, never its name.

use std::fmt;

/// An export form of IoT Hub connection logs.
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
    /// Parquet written by dropscope.
    Parquet,
    /// Arrow IPC (Feather v2) written by dropscope.
    ArrowIpc,
}

impl Form {
    /// Every form, in a fixed order.
    pub const ALL: [Form; 10] = [
        Form::JsonLines,
        Form::RecordsEnvelope,
        Form::PrettyConcatenated,
        Form::LogAnalyticsCsv,
        Form::LogAnalyticsJson,
        Form::EventGrid,
        Form::CloudEvents,
        Form::LegacyOperationsMonitoring,
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
            Form::Parquet => "parquet",
            Form::ArrowIpc => "arrow-ipc",
        }
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
