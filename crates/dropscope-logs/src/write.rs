//! Writers of each text export form, so the simulator writes exactly what the reader reads.
//!
//! Every writer renders records the way IoT Hub (or Event Grid, or Log Analytics) does: the
//! storage record carries `properties` as a JSON *string* with `authType` a JSON string inside it,
//! `resourceId` upper-cased, `errorMessage` derived from the code. Fields the target form cannot
//! hold (Event Grid has no code or IP; storage records have no sequence number) are not written.

use std::io::{self, Write};

use dropscope_model::json::{push_escaped as push_json_escaped, push_str as push_json_str};
use dropscope_model::{Event, Level, Operation, Sym, Timestamp};

use crate::Form;

#[cfg(feature = "avro")]
pub(crate) mod avro;

/// How records are rendered: timestamp precision and the Azure resource they are filed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Fractional digits of timestamps: 0 (whole seconds, as diagnostic settings write) or 7.
    pub frac_digits: u32,
    /// The subscription of the `resourceId`.
    pub subscription_id: String,
    /// The resource group of the `resourceId`.
    pub resource_group: String,
    /// The Azure region written as `location`.
    pub location: String,
}

impl Default for WriteOptions {
    fn default() -> WriteOptions {
        WriteOptions {
            frac_digits: 0,
            subscription_id: "91D12660-3DEC-467A-BE2A-213B5544DDC0".to_owned(),
            resource_group: "RG-IOT".to_owned(),
            location: "westeurope".to_owned(),
        }
    }
}

/// Writes `events` in `form` to `out`, as one complete document (one blob, one export file).
/// `form` is a text form dropscope writes ([`Form::is_text`] and [`Form::is_written`]) or Avro
/// (with the `avro` feature): the others are an [`io::ErrorKind::Unsupported`] error
/// (dropscope-tables writes Parquet and Arrow IPC).
pub fn write_events(
    out: &mut dyn Write,
    form: Form,
    events: &[Event],
    opts: &WriteOptions,
) -> io::Result<()> {
    if form == Form::Avro {
        #[cfg(feature = "avro")]
        return avro::write(out, events, opts);
        #[cfg(not(feature = "avro"))]
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the avro form needs dropscope-logs built with the `avro` feature",
        ));
    }
    let mut buf = Vec::with_capacity(64 * 1024);
    match form {
        Form::JsonLines => {
            for event in events {
                push_json_line(&mut buf, event, opts);
                buf.push(b'\n');
                flush_if_big(out, &mut buf)?;
            }
        }
        Form::RecordsEnvelope => {
            buf.extend_from_slice(b"{\"records\":[\n");
            for (idx, event) in events.iter().enumerate() {
                if idx > 0 {
                    buf.extend_from_slice(b",\n");
                }
                push_json_line(&mut buf, event, opts);
                flush_if_big(out, &mut buf)?;
            }
            buf.extend_from_slice(b"\n]}\n");
        }
        Form::PrettyConcatenated => {
            for event in events {
                push_storage_record(&mut buf, event, opts, Some("    "));
                buf.push(b'\n');
                flush_if_big(out, &mut buf)?;
            }
        }
        Form::LogAnalyticsCsv => {
            buf.extend_from_slice(LA_HEADER.join(",").as_bytes());
            buf.push(b'\n');
            let mut fields = Vec::with_capacity(LA_HEADER.len());
            for event in events {
                log_analytics_fields(event, opts, &mut fields);
                for (idx, field) in fields.iter().enumerate() {
                    if idx > 0 {
                        buf.push(b',');
                    }
                    push_csv_field(&mut buf, field);
                }
                buf.push(b'\n');
                flush_if_big(out, &mut buf)?;
            }
        }
        Form::LogAnalyticsJson => {
            buf.push(b'[');
            let mut fields = Vec::with_capacity(LA_HEADER.len());
            for (idx, event) in events.iter().enumerate() {
                buf.extend_from_slice(if idx > 0 { b",\n" } else { b"\n" });
                log_analytics_fields(event, opts, &mut fields);
                buf.push(b'{');
                for (col_idx, (name, value)) in LA_HEADER.iter().zip(&fields).enumerate() {
                    if col_idx > 0 {
                        buf.push(b',');
                    }
                    push_json_str(&mut buf, name);
                    buf.push(b':');
                    push_json_str(&mut buf, value);
                }
                buf.push(b'}');
                flush_if_big(out, &mut buf)?;
            }
            buf.extend_from_slice(b"\n]\n");
        }
        Form::EventGrid | Form::CloudEvents => {
            buf.push(b'[');
            for (idx, event) in events.iter().enumerate() {
                buf.extend_from_slice(if idx > 0 { b",\n" } else { b"\n" });
                push_event_grid(&mut buf, event, opts, form == Form::CloudEvents);
                flush_if_big(out, &mut buf)?;
            }
            buf.extend_from_slice(b"\n]\n");
        }
        Form::RoutedJson => {
            for event in events {
                push_routed_json(&mut buf, event, opts);
                buf.push(b'\n');
                flush_if_big(out, &mut buf)?;
            }
        }
        Form::LegacyOperationsMonitoring
        | Form::RoutedMonitorEvents
        | Form::Avro
        | Form::Parquet
        | Form::ArrowIpc => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the {form} form is not one of the text forms dropscope writes"),
            ));
        }
    }
    out.write_all(&buf)
}

fn flush_if_big(out: &mut dyn Write, buf: &mut Vec<u8>) -> io::Result<()> {
    if buf.len() >= 60 * 1024 {
        out.write_all(buf)?;
        buf.clear();
    }
    Ok(())
}

/// Appends one storage-blob record, compact, without a newline: the JSON Lines form.
pub fn push_json_line(out: &mut Vec<u8>, event: &Event, opts: &WriteOptions) {
    push_storage_record(out, event, opts, None);
}

/// The `resourceId` of a hub: `/SUBSCRIPTIONS/<sub>/RESOURCEGROUPS/<rg>/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/<HUB>`,
/// upper-cased as IoT Hub writes it.
pub fn resource_id(hub: &str, opts: &WriteOptions) -> String {
    format!(
        "/SUBSCRIPTIONS/{}/RESOURCEGROUPS/{}/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/{}",
        opts.subscription_id, opts.resource_group, hub
    )
    .to_ascii_uppercase()
}

/// The path of the hourly blob holding records received in `hour`, relative to the container
/// folder `insights-logs-connections/`:
/// `resourceId=/SUBSCRIPTIONS/.../IOTHUBS/<HUB>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`.
pub fn storage_blob_path(hub: &str, hour: Timestamp, opts: &WriteOptions) -> String {
    let (y, m, d, h) = hour.ymdh();
    format!(
        "resourceId={}/y={y:04}/m={m:02}/d={d:02}/h={h:02}/m=00/PT1H.json",
        resource_id(hub, opts)
    )
}

/// The documented `errorMessage` of an error record, as IoT Hub writes it in `properties`: this
/// text followed by the code.
const ERROR_MESSAGE_PREFIX: &str =
    "Device disconnected, see cause and resolution at https://aka.ms/iothub";

fn push_storage_record(
    out: &mut Vec<u8>,
    event: &Event,
    opts: &WriteOptions,
    indent: Option<&str>,
) {
    let mut obj = ObjectWriter::new(out, indent);
    obj.key("time");
    push_time(obj.out, event.time, opts.frac_digits);
    obj.key("resourceId");
    RESOURCE_ID.with_borrow_mut(|(hub, cached_opts, id)| {
        if *hub != Some(event.hub) || cached_opts != opts {
            *hub = Some(event.hub);
            cached_opts.clone_from(opts);
            *id = resource_id(&event.hub, opts);
        }
        push_json_str(obj.out, id);
    });
    obj.key("operationName");
    push_json_str(obj.out, event.operation.operation_name());
    obj.key("category");
    push_json_str(obj.out, "Connections");
    obj.key("level");
    push_json_str(obj.out, event.level.as_str());
    if let Some(code) = event.code() {
        obj.key("resultType");
        push_json_str(obj.out, &code.to_string());
    }
    if let Some(description) = &event.result_description {
        obj.key("resultDescription");
        push_json_str(obj.out, description);
    }
    obj.key("properties");
    PROPERTIES.with_borrow_mut(|properties| {
        properties.clear();
        push_properties(properties, event);
        obj.out.push(b'"');
        push_json_escaped(obj.out, properties);
        obj.out.push(b'"');
    });
    obj.key("location");
    push_json_str(obj.out, &opts.location);
    obj.finish();
}

thread_local! {
    /// The `properties` text of the record being written, reused across records.
    static PROPERTIES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The last hub's `resourceId`: records of one hub follow each other, so one entry serves.
    static RESOURCE_ID: std::cell::RefCell<(Option<Sym>, WriteOptions, String)> =
        std::cell::RefCell::new((None, WriteOptions::default(), String::new()));
}

/// The `properties` object as IoT Hub writes it (the text that is then embedded as a string).
fn properties_json(event: &Event) -> String {
    let mut buf = Vec::with_capacity(256);
    push_properties(&mut buf, event);
    String::from_utf8(buf).expect("JSON built from str is UTF-8")
}

fn push_properties(buf: &mut Vec<u8>, event: &Event) {
    buf.extend_from_slice(b"{\"deviceId\":");
    push_json_str(buf, &event.device_id);
    if let Some(module_id) = &event.module_id {
        buf.extend_from_slice(b",\"moduleId\":");
        push_json_str(buf, module_id);
    }
    if let Some(sdk) = &event.sdk_version {
        buf.extend_from_slice(b",\"sdkVersion\":");
        push_json_str(buf, sdk);
    }
    buf.extend_from_slice(b",\"protocol\":");
    push_opt_str(buf, event.protocol.as_deref());
    buf.extend_from_slice(b",\"authType\":");
    push_opt_str(buf, event.auth_type.as_deref());
    buf.extend_from_slice(b",\"maskedIpAddress\":");
    push_opt_str(buf, event.masked_ip.as_deref());
    buf.extend_from_slice(b",\"statusCode\":");
    push_opt_str(buf, event.status_code.as_deref());
    buf.extend_from_slice(b",\"errorMessage\":");
    match event.code() {
        Some(code) if event.level != Level::Information => {
            buf.push(b'"');
            buf.extend_from_slice(ERROR_MESSAGE_PREFIX.as_bytes());
            buf.extend_from_slice(code.to_string().as_bytes());
            buf.push(b'"');
        }
        _ => buf.extend_from_slice(b"\"\""),
    }
    buf.push(b'}');
}

/// The column names of the `AzureDiagnostics` export, in the order written.
pub const LA_HEADER: [&str; 14] = [
    "TenantId",
    "TimeGenerated",
    "ResourceId",
    "Category",
    "ResourceGroup",
    "SubscriptionId",
    "ResourceProvider",
    "Resource",
    "ResourceType",
    "OperationName",
    "ResultType",
    "Level",
    "ResultDescription",
    "properties_s",
];

fn log_analytics_fields(event: &Event, opts: &WriteOptions, fields: &mut Vec<String>) {
    fields.clear();
    fields.push("00000000-0000-0000-0000-000000000000".to_owned());
    fields.push(event.time.to_rfc3339(opts.frac_digits));
    fields.push(resource_id(&event.hub, opts));
    fields.push("Connections".to_owned());
    fields.push(opts.resource_group.to_ascii_uppercase());
    fields.push(opts.subscription_id.clone());
    fields.push("MICROSOFT.DEVICES".to_owned());
    fields.push(event.hub.to_ascii_uppercase());
    fields.push("IOTHUBS".to_owned());
    fields.push(event.operation.operation_name().to_owned());
    fields.push(event.code().map(|code| code.to_string()).unwrap_or_default());
    fields.push(event.level.as_str().to_owned());
    fields.push(event.result_description.as_deref().unwrap_or_default().to_owned());
    fields.push(properties_json(event));
}

fn push_event_grid(out: &mut Vec<u8>, event: &Event, opts: &WriteOptions, cloud_events: bool) {
    let mut obj = ObjectWriter::new(out, None);
    obj.key("id");
    push_json_str(obj.out, &event_id(event));
    obj.key(if cloud_events { "source" } else { "topic" });
    push_json_str(obj.out, &resource_id(&event.hub, opts));
    obj.key("subject");
    let subject = match &event.module_id {
        Some(module) => format!("devices/{}/modules/{module}", event.device_id),
        None => format!("devices/{}", event.device_id),
    };
    push_json_str(obj.out, &subject);
    obj.key(if cloud_events { "type" } else { "eventType" });
    push_json_str(
        obj.out,
        match event.operation {
            Operation::Connect => "Microsoft.Devices.DeviceConnected",
            Operation::Disconnect => "Microsoft.Devices.DeviceDisconnected",
        },
    );
    obj.key(if cloud_events { "time" } else { "eventTime" });
    push_time(obj.out, event.time, opts.frac_digits);
    obj.key("data");
    obj.out.extend_from_slice(b"{\"deviceConnectionStateEventInfo\":{");
    if let Some(seq) = &event.seq {
        obj.out.extend_from_slice(b"\"sequenceNumber\":");
        push_json_str(obj.out, seq);
    }
    obj.out.extend_from_slice(b"},\"hubName\":");
    push_json_str(obj.out, &event.hub);
    obj.out.extend_from_slice(b",\"deviceId\":");
    push_json_str(obj.out, &event.device_id);
    obj.out.extend_from_slice(b",\"moduleId\":");
    push_json_str(obj.out, event.module_id.as_deref().unwrap_or(""));
    obj.out.push(b'}');
    if cloud_events {
        obj.key("specversion");
        push_json_str(obj.out, "1.0");
    } else {
        obj.key("dataVersion");
        push_json_str(obj.out, "1");
        obj.key("metadataVersion");
        push_json_str(obj.out, "1");
    }
    obj.finish();
}

/// Appends one routed connection-state event as routing to storage with JSON encoding writes a
/// message, compact, without a newline: `EnqueuedTimeUtc`, the application `Properties`
/// (docs/research/iothub-logs.md §2.3), `SystemProperties`, and the `Body` with the sequence
/// number, as a JSON object because the event says `application/json` in `utf-8`. The enqueued
/// time is the event's time: what the delay was is not known here, and the reader takes
/// `operationTimestamp`.
pub fn push_routed_json(out: &mut Vec<u8>, event: &Event, opts: &WriteOptions) {
    let mut obj = ObjectWriter::new(out, None);
    obj.key("EnqueuedTimeUtc");
    push_time(obj.out, event.time, 7);
    obj.key("Properties");
    obj.out.extend_from_slice(b"{\"hubName\":");
    push_json_str(obj.out, &event.hub);
    obj.out.extend_from_slice(b",\"deviceId\":");
    push_json_str(obj.out, &event.device_id);
    if let Some(module_id) = &event.module_id {
        obj.out.extend_from_slice(b",\"moduleId\":");
        push_json_str(obj.out, module_id);
    }
    obj.out.extend_from_slice(b",\"opType\":");
    push_json_str(obj.out, routed_op_type(event.operation));
    obj.out.extend_from_slice(
        b",\"iothub-message-schema\":\"deviceConnectionStateNotification\",\"operationTimestamp\":",
    );
    push_time(obj.out, event.time, opts.frac_digits);
    obj.out.push(b'}');
    obj.key("SystemProperties");
    obj.out.extend_from_slice(b"{\"correlationId\":");
    push_json_str(obj.out, &event_id(event));
    obj.out.extend_from_slice(b",\"userId\":");
    push_json_str(obj.out, &event.hub);
    obj.out.extend_from_slice(b",\"connectionDeviceId\":");
    push_json_str(obj.out, &event.device_id);
    obj.out.extend_from_slice(
        b",\"contentType\":\"application/json\",\"contentEncoding\":\"utf-8\",\"iothub-message-source\":\"deviceConnectionStateEvents\",\"enqueuedTime\":",
    );
    push_time(obj.out, event.time, 7);
    obj.out.push(b'}');
    obj.key("Body");
    push_routed_body(obj.out, event);
    obj.finish();
}

/// The body of a connection-state event: `{"sequenceNumber":"..."}`, or `{}` without one.
pub(crate) fn push_routed_body(out: &mut Vec<u8>, event: &Event) {
    out.push(b'{');
    if let Some(seq) = &event.seq {
        out.extend_from_slice(b"\"sequenceNumber\":");
        push_json_str(out, seq);
    }
    out.push(b'}');
}

/// The `opType` of a connection-state event: devices and modules alike use `deviceConnected`
/// and `deviceDisconnected` (iot-hub-non-telemetry-event-schema.md).
pub(crate) const fn routed_op_type(operation: Operation) -> &'static str {
    match operation {
        Operation::Connect => "deviceConnected",
        Operation::Disconnect => "deviceDisconnected",
    }
}

/// A stable, UUID-shaped event id derived from the record's identity (FNV-1a), so the same event
/// written twice, in either Event Grid schema, carries the same id.
pub(crate) fn event_id(event: &Event) -> String {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u128::from(b);
            hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
        hash ^= 0xff;
    };
    feed(event.hub.as_bytes());
    feed(event.device_id.as_bytes());
    feed(event.module_id.as_deref().unwrap_or("").as_bytes());
    feed(&event.time.nanos().to_le_bytes());
    feed(event.operation.as_str().as_bytes());
    feed(event.seq.as_deref().unwrap_or("").as_bytes());
    let hex = format!("{hash:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Writes a JSON object key by key, compact or indented.
struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    indent: Option<&'a str>,
    n_keys: usize,
}

impl<'a> ObjectWriter<'a> {
    fn new(out: &'a mut Vec<u8>, indent: Option<&'a str>) -> ObjectWriter<'a> {
        out.push(b'{');
        ObjectWriter { out, indent, n_keys: 0 }
    }

    fn key(&mut self, key: &str) {
        if self.n_keys > 0 {
            self.out.push(b',');
        }
        if let Some(indent) = self.indent {
            self.out.push(b'\n');
            self.out.extend_from_slice(indent.as_bytes());
        }
        push_json_str(self.out, key);
        self.out.push(b':');
        if self.indent.is_some() {
            self.out.push(b' ');
        }
        self.n_keys += 1;
    }

    fn finish(self) {
        if self.indent.is_some() {
            self.out.push(b'\n');
        }
        self.out.push(b'}');
    }
}

fn push_time(out: &mut Vec<u8>, time: Timestamp, frac_digits: u32) {
    thread_local! {
        static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    TEXT.with_borrow_mut(|text| {
        text.clear();
        time.write_rfc3339(text, frac_digits);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    });
}

fn push_opt_str(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(text) => push_json_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_csv_field(out: &mut Vec<u8>, field: &str) {
    if field.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in field.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use dropscope_model::ResultCode;

    use super::*;

    fn sample() -> Event {
        let mut event = Event::new(
            Timestamp::parse_rfc3339("2023-09-21T22:33:34Z").expect("valid"),
            "iot-training-dm092121",
            "sensor-th-2001",
            Operation::Disconnect,
        );
        event.level = Level::Error;
        event.result_type = ResultCode::new(404_104);
        event.result_description = Some("DeviceConnectionClosedRemotely".into());
        event.protocol = Some("Mqtt".into());
        event.masked_ip = Some("24.9.142.XXX".into());
        event.status_code = Some("404".into());
        event
    }

    fn check(form: Form, expected: &str) {
        let opts = WriteOptions {
            subscription_id: "AE82FF3B-4BD0-462B-8449-D713DD18E11E".to_owned(),
            resource_group: "SandboxResourceGroup".to_owned(),
            location: "centralus".to_owned(),
            ..WriteOptions::default()
        };
        let mut out = Vec::new();
        write_events(&mut out, form, &[sample()], &opts).expect("writing to a Vec");
        assert_eq!(String::from_utf8(out).expect("utf-8"), expected);
    }

    #[test]
    fn json_lines_match_the_learn_lab_capture() {
        // The 2023 Learn lab record (data/golden/fixtures/learn-lab-2023.jsonl, line 2), except that
        // the resource group is upper-cased as in every other capture.
        check(
            Form::JsonLines,
            concat!(
                r#"{"time":"2023-09-21T22:33:34Z","resourceId":"/SUBSCRIPTIONS/AE82FF3B-4BD0-462B-8449-D713DD18E11E/RESOURCEGROUPS/SANDBOXRESOURCEGROUP/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/IOT-TRAINING-DM092121","operationName":"deviceDisconnect","category":"Connections","level":"Error","resultType":"404104","resultDescription":"DeviceConnectionClosedRemotely","properties":"{\"deviceId\":\"sensor-th-2001\",\"protocol\":\"Mqtt\",\"authType\":null,\"maskedIpAddress\":\"24.9.142.XXX\",\"statusCode\":\"404\",\"errorMessage\":\"Device disconnected, see cause and resolution at https://aka.ms/iothub404104\"}","location":"centralus"}"#,
                "\n"
            ),
        );
    }

    #[test]
    fn event_grid_has_only_what_event_grid_carries() {
        let mut event = sample();
        event.seq = Some("000000000000000001D4132452F67CE200000002000000000000000000000001".into());
        let mut out = Vec::new();
        write_events(&mut out, Form::EventGrid, &[event.clone()], &WriteOptions::default())
            .expect("writing to a Vec");
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        let first = &doc[0];
        assert_eq!(first["eventType"], "Microsoft.Devices.DeviceDisconnected");
        assert_eq!(first["subject"], "devices/sensor-th-2001");
        assert_eq!(first["eventTime"], "2023-09-21T22:33:34Z");
        assert_eq!(first["data"]["hubName"], "iot-training-dm092121");
        assert_eq!(first["data"]["moduleId"], "");
        assert_eq!(
            first["data"]["deviceConnectionStateEventInfo"]["sequenceNumber"],
            event.seq.as_deref().expect("set above")
        );
        assert!(first.get("resultType").is_none());

        let mut cloud = Vec::new();
        write_events(&mut cloud, Form::CloudEvents, &[event], &WriteOptions::default())
            .expect("writing to a Vec");
        let cloud: serde_json::Value = serde_json::from_slice(&cloud).expect("valid JSON");
        assert_eq!(cloud[0]["id"], first["id"], "both schemas carry the same event id");
        assert_eq!(cloud[0]["type"], "Microsoft.Devices.DeviceDisconnected");
        assert_eq!(cloud[0]["specversion"], "1.0");
    }

    #[test]
    fn log_analytics_csv_quotes_properties() {
        let mut out = Vec::new();
        write_events(&mut out, Form::LogAnalyticsCsv, &[sample()], &WriteOptions::default())
            .expect("writing to a Vec");
        let text = String::from_utf8(out).expect("utf-8");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().expect("a header").clone();
        assert_eq!(headers.iter().collect::<Vec<_>>(), LA_HEADER);
        let row = reader.records().next().expect("one row").expect("valid CSV");
        assert_eq!(&row[1], "2023-09-21T22:33:34Z");
        assert_eq!(&row[10], "404104");
        let properties: serde_json::Value = serde_json::from_str(&row[13]).expect("JSON");
        assert_eq!(properties["deviceId"], "sensor-th-2001");
    }

    #[test]
    fn pretty_records_are_concatenated_objects() {
        let mut out = Vec::new();
        write_events(
            &mut out,
            Form::PrettyConcatenated,
            &[sample(), sample()],
            &WriteOptions::default(),
        )
        .expect("writing to a Vec");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.starts_with("{\n    \"time\": \"2023-09-21T22:33:34Z\",\n"));
        let n_docs =
            serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>().count();
        assert_eq!(n_docs, 2);
    }

    #[test]
    fn blob_path_is_the_storage_export_layout() {
        let hour = Timestamp::parse_rfc3339("2026-11-26T13:00:05Z").expect("valid");
        assert_eq!(
            storage_blob_path("hub-prod-01", hour, &WriteOptions::default()),
            "resourceId=/SUBSCRIPTIONS/91D12660-3DEC-467A-BE2A-213B5544DDC0/RESOURCEGROUPS/RG-IOT/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/HUB-PROD-01/y=2026/m=11/d=26/h=13/m=00/PT1H.json"
        );
    }
}
