//! One test per fixture in `data/golden/fixtures/` with its exact rows, and the folder as a whole.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use dropscope_logs::ingest::{IngestConfig, ingest, ingest_bytes};
use dropscope_logs::{Form, Ingested};
use dropscope_testkit::data_path;

/// One line per event (device, time, operation, level, code, protocol, ip, sdk, hub and the rest)
/// then one per reject, then the forms.
fn render(ingested: &Ingested) -> String {
    let mut out = String::new();
    for e in &ingested.events {
        let opt = |v: Option<&str>| v.unwrap_or("-").to_owned();
        let _ = writeln!(
            out,
            "L{} {} {} {} {} {} {} {} {} hub={} module={} auth={} status={} desc={} seq={}",
            e.source_line,
            e.device_id,
            e.time.to_rfc3339_exact(),
            e.operation,
            e.level,
            e.code().map_or_else(|| "-".to_owned(), |c| c.to_string()),
            opt(e.protocol.as_deref()),
            opt(e.masked_ip.as_deref()),
            opt(e.sdk_version.as_deref()),
            e.hub,
            opt(e.module_id.as_deref()),
            opt(e.auth_type.as_deref()),
            opt(e.status_code.as_deref()),
            opt(e.result_description.as_deref()),
            opt(e.seq.as_deref()),
        );
    }
    for r in &ingested.rejects {
        let _ = writeln!(
            out,
            "REJECT L{} {} {:?} text={:?}",
            r.line,
            r.reason.as_str(),
            r.detail,
            r.text
        );
    }
    let forms: Vec<String> = ingested.stats.forms.iter().map(|(f, n)| format!("{f}={n}")).collect();
    let _ = write!(out, "forms {}", forms.join(" "));
    out
}

fn check(file: &str, expected: &str) {
    let path = data_path(&format!("golden/fixtures/{file}"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ingested = ingest_bytes(file, &bytes);
    let got = render(&ingested);
    assert_eq!(got.trim(), expected.trim(), "\n--- got for {file} ---\n{got}\n");
    let s = &ingested.stats;
    assert_eq!(s.parsed + s.duplicates + s.rejected, s.records_read);
}

const AZ220: &str = r#"
L1 asset-track9 2019-12-26T14:32:45Z connect Information - Amqp 67.176.115.XXX - hub=az-220-hub-dm121619 module=- auth={"scope":"device","type":"x509Certificate","issuer":"external","acceptingIpFilterRule":null} status=- desc=- seq=-
L2 asset-track10 2019-12-26T14:33:12Z connect Information - Amqp 67.176.115.XXX - hub=az-220-hub-dm121619 module=- auth={"scope":"device","type":"x509Certificate","issuer":"external","acceptingIpFilterRule":null} status=- desc=- seq=-
L3 asset-track8 2019-12-26T14:37:29Z disconnect Information - Amqp 67.176.115.XXX - hub=az-220-hub-dm121619 module=- auth=- status=- desc=- seq=-
L4 asset-track4 2019-12-26T14:37:29Z disconnect Information - Amqp 67.176.115.XXX - hub=az-220-hub-dm121619 module=- auth=- status=- desc=- seq=-
"#;

const LEARN: &str = r"
L1 sensor-th-2001 2023-09-21T22:16:00Z connect Information - Mqtt 24.9.142.XXX .NET/1.38.0 (.NET Core 3.1.19; Microsoft Windows 10.0.22000 WindowsProduct:0x00000030; X64; {FF88E933-1C12-457D-A098-A5093B53FBA2}) hub=iot-training-dm092121 module=- auth=- status=- desc=- seq=-
L2 sensor-th-2001 2023-09-21T22:33:34Z disconnect Error 404104 Mqtt 24.9.142.XXX - hub=iot-training-dm092121 module=- auth=- status=404 desc=DeviceConnectionClosedRemotely seq=-
";

/// `text` with each `L<n>` replaced by the line numbers given, in order.
fn with_lines(text: &str, lines: &[u64]) -> String {
    text.trim()
        .lines()
        .zip(lines)
        .map(|(row, line)| format!("L{line}{}", &row[row.find(' ').unwrap_or(0)..]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn learn_lab_2023_jsonl() {
    check("learn-lab-2023.jsonl", &format!("{}\nforms jsonl=2", LEARN.trim()));
}

#[test]
fn learn_lab_2023_pretty() {
    check(
        "learn-lab-2023.pretty.json",
        &format!("{}\nforms pretty=2", with_lines(LEARN, &[1, 10])),
    );
}

#[test]
fn az220_lab_2019_jsonl() {
    check("az220-lab-2019.jsonl", &format!("{}\nforms jsonl=4", AZ220.trim()));
}

#[test]
fn az220_lab_2019_pretty() {
    check(
        "az220-lab-2019.pretty.json",
        &format!("{}\nforms pretty=4", with_lines(AZ220, &[1, 10, 19, 28])),
    );
}

#[test]
fn records_envelope() {
    let rows = format!("{}\n{}", with_lines(LEARN, &[3, 12]), with_lines(AZ220, &[23, 32, 41, 50]));
    check("records-envelope.json", &format!("{rows}\nforms records-envelope=6"));
}

#[test]
fn tutorial_2018_properties_object() {
    check(
        "tutorial-2018-properties-object.json",
        r"
L1 Contoso-Test-Device 2018-12-17T18:11:25Z connect Information - Mqtt 73.162.215.XXX - hub=contosotesthub module=- auth=- status=- desc=- seq=-
L17 Contoso-Test-Device 2018-12-17T18:19:25Z disconnect Error 404104 Mqtt 73.162.215.XXX - hub=contosotesthub module=- auth=- status=404 desc=DeviceConnectionClosedRemotely seq=-
forms pretty=2
",
    );
}

#[test]
fn monref_placeholder_invalid_time() {
    check(
        "monref-placeholder-invalid-time.json",
        r#"
REJECT L4 invalid_time "time \"UTC timestamp\": not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.f][Z|±HH:MM])" text="{\n            \"time\": \" UTC timestamp\",\n            \"resourceId\": \"Resource Id\",\n            \"operationName\": \"deviceConnect\",\n            \"category\": \"Connections\",\n            \"level\": \"Information\""
forms records-envelope=1
"#,
    );
}

#[test]
fn legacy_opsmon_2017() {
    check(
        "legacy-opsmon-2017.jsonl",
        r#"
L1 IoTDevice42 2017-09-27T12:11:56.7184728Z connect Information - Amqp 88.159.202.XXX - hub= module=- auth={"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null} status=- desc=- seq=-
L2 IoTDevice42 2017-09-27T12:15:18.6506102Z disconnect Information - Amqp 88.159.202.XXX - hub= module=- auth=- status=- desc=- seq=-
L3 IoTDevice42 2017-09-27T12:19:16.2676792Z connect Information - Amqp 88.159.202.XXX - hub= module=- auth={"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null} status=- desc=- seq=-
forms legacy-opsmon=3
"#,
    );
}

const EVENT_GRID_ROW: &str = "L1 LogicAppTestDevice 2018-06-02T19:17:44.4383997Z connect Information - - - - hub=egtesthub1 module=DeviceModuleID auth=- status=- desc=- seq=000000000000000001D4132452F67CE200000002000000000000000000000001";

#[test]
fn eventgrid_schema() {
    check("eventgrid-schema.json", &format!("{EVENT_GRID_ROW}\nforms eventgrid=1"));
}

#[test]
fn eventgrid_cloudevents() {
    check("eventgrid-cloudevents.json", &format!("{EVENT_GRID_ROW}\nforms cloudevents=1"));
}

#[test]
fn eventgrid_offset_time() {
    check(
        "eventgrid-offset-time.json",
        "L1 48e44e11-1437-4907-83b1-4a8d7e89859e 2018-07-03T23:20:11.6921933Z connect Information - - - - hub=myiothub module=- auth=- status=- desc=- seq=000000000000000001D4132452F67CE200000002000000000000000000000001\nforms eventgrid=1",
    );
}

/// A routed device connection-state event as `az iot hub monitor-events` prints it: the time is
/// `operationTimestamp`, not the enqueued time 33 s later; no code; the payload's sequence number.
#[test]
fn routed_connstate_monitor_events() {
    check(
        "routed-connstate-monitor-events.json",
        "L1 contoso-device-1 2022-06-01T18:43:04.5561024Z disconnect Information - - - - hub=contoso-routing-hub module=- auth=- status=- desc=- seq=000000000000000001D8713FF7E0851400000002000000000000000000000007
forms routed-monitor-events=1",
    );
}

/// The same event as a terminal's output saved to a file holds it: the monitor's status lines
/// around it are skipped, not records.
#[test]
fn routed_connstate_saved_from_the_terminal() {
    let path = data_path("golden/fixtures/routed-connstate-monitor-events.json");
    let event =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let saved = format!(
        "Starting event monitor, filtering on device: contoso-device-1, use ctrl-c to stop...\n{event}\nStopping event monitor...\n"
    );
    let ingested = ingest_bytes("saved.txt", saved.as_bytes());
    let got = render(&ingested);
    assert!(
        got.starts_with("L2 contoso-device-1 2022-06-01T18:43:04.5561024Z disconnect"),
        "{got}"
    );
    assert!(got.ends_with("forms routed-monitor-events=1"), "{got}");
    assert_eq!(ingested.stats.records_read, 1);
}

/// A real IoT Edge batch: two modules of one device, subjects `devices/edge1/<module>`, the hub
/// spelt `iot-demo` in one `source` and `IOT-DEMO` in the other (one hub, lower-cased).
#[test]
fn edge_cloudevents_connected() {
    check(
        "edge-cloudevents-connected.json",
        "L2 edge1 2022-11-07T11:00:25.1191309Z connect Information - - - - hub=iot-demo module=SimulatedTemperatureSensor auth=- status=- desc=- seq=000000000000000001D8F268B5BC335E0000000200000000000000000000003B
L18 edge1 2022-11-07T11:00:25.2284564Z connect Information - - - - hub=iot-demo module=$edgeHub auth=- status=- desc=- seq=000000000000000001D8F268B5BC335E0000000200000000000000000000003C
forms cloudevents=2",
    );
}

/// The same modules' disconnects, the newer listed first (the batch is not in time order).
#[test]
fn edge_cloudevents_disconnected() {
    check(
        "edge-cloudevents-disconnected.json",
        "L2 edge1 2022-11-07T09:47:11.4366356Z disconnect Information - - - - hub=iot-demo module=$edgeHub auth=- status=- desc=- seq=000000000000000001D8F268B5BC335E0000000200000000000000000000003A
L18 edge1 2022-11-07T09:47:01.4991237Z disconnect Information - - - - hub=iot-demo module=SimulatedTemperatureSensor auth=- status=- desc=- seq=000000000000000001D8F268B5BC335E00000002000000000000000000000039
forms cloudevents=2",
    );
}

#[test]
fn the_fixture_folder_as_a_whole() {
    let ingested = ingest(&[data_path("golden/fixtures")], &IngestConfig::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let s = &ingested.stats;
    assert_eq!(
        (s.files, s.records_read, s.rejected, s.parsed, s.duplicates),
        (15, 32, 1, 18, 13),
        "{s:?}"
    );
    let devices: BTreeSet<&str> = ingested.events.iter().map(|e| e.device_id.as_str()).collect();
    assert_eq!(devices.len(), 11, "{devices:?}");
    // One hub for the Edge batches, whose resource ids spell it in two cases.
    let edge_hubs: BTreeSet<&str> =
        ingested.events.iter().filter(|e| e.device_id == "edge1").map(|e| e.hub.as_str()).collect();
    assert_eq!(edge_hubs, BTreeSet::from(["iot-demo"]));
    // EG-ORDER's sample names `devices/Demo-Device-1` in its subject and another device in its
    // data: the data's id is kept, and the event says so.
    let mismatched: Vec<&str> = ingested
        .events
        .iter()
        .filter(|e| e.subject_mismatch)
        .map(|e| e.device_id.as_str())
        .collect();
    assert_eq!(mismatched, ["48e44e11-1437-4907-83b1-4a8d7e89859e"]);
    // README.md is listed as unrecognised, not counted as a record.
    let unrecognised: Vec<String> = ingested
        .unrecognised
        .iter()
        .map(|&i| {
            ingested.sources[i as usize]
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(unrecognised, vec!["README.md".to_owned()]);
    // Files are read in byte-wise path order, and the first copy of each record is kept.
    let first = &ingested.events[0];
    assert_eq!(
        ingested.sources[first.source as usize].file_name().and_then(|n| n.to_str()),
        Some("az220-lab-2019.jsonl")
    );
    let forms: Vec<(Form, u64)> = s.forms.iter().map(|(f, n)| (*f, *n)).collect();
    assert_eq!(
        forms,
        vec![
            (Form::JsonLines, 6),
            (Form::RecordsEnvelope, 7),
            (Form::PrettyConcatenated, 8),
            (Form::EventGrid, 2),
            (Form::CloudEvents, 5),
            (Form::LegacyOperationsMonitoring, 3),
            (Form::RoutedMonitorEvents, 1),
        ]
    );
    let reject = &ingested.rejects[0];
    assert_eq!(
        (
            ingested.sources[reject.source as usize]
                .ends_with("monref-placeholder-invalid-time.json"),
            reject.line,
            reject.reason.as_str()
        ),
        (true, 4, "invalid_time")
    );
}
