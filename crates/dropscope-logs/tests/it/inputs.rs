//! Inputs at the edges: gzip, stdin-like bytes, cut last lines, CRLF, BOM, empty files, directory
//! walking, the same record across forms, and JSON Lines mapped or streamed.

use std::io::Write as _;
use std::path::PathBuf;

use dropscope_logs::RejectReason;
use dropscope_logs::ingest::{IngestConfig, ingest, ingest_bytes};
use dropscope_testkit::data_path;
use flate2::Compression;
use flate2::write::GzEncoder;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(data_path(&format!("golden/fixtures/{name}"))).unwrap_or_default()
}

/// (records read, parsed, duplicates, rejects as `line:reason`).
fn check(bytes: &[u8], expected: (u64, u64, u64, &[&str])) {
    let ingested = ingest_bytes("input", bytes);
    let s = &ingested.stats;
    let rejects: Vec<String> =
        ingested.rejects.iter().map(|r| format!("{}:{}", r.line, r.reason.as_str())).collect();
    assert_eq!(
        (s.records_read, s.parsed, s.duplicates, rejects),
        (
            expected.0,
            expected.1,
            expected.2,
            expected.3.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
        )
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

#[test]
fn gzip_by_magic_bytes() {
    check(&gzip(&fixture("az220-lab-2019.jsonl")), (4, 4, 0, &[]));
    check(&gzip(&fixture("records-envelope.json")), (6, 6, 0, &[]));
    // Two concatenated gzip members, as `cat a.gz b.gz` makes.
    let mut two = gzip(&fixture("learn-lab-2023.jsonl"));
    two.extend(gzip(&fixture("az220-lab-2019.jsonl")));
    check(&two, (6, 6, 0, &[]));
}

#[test]
fn gzip_cut_short_keeps_what_came_before() {
    let text = fixture("az220-lab-2019.jsonl").repeat(50);
    let full = gzip(&text);
    let ingested = ingest_bytes("cut.gz", &full[..full.len() * 3 / 4]);
    let s = &ingested.stats;
    assert!(s.parsed == 4 && s.duplicates > 50, "{s:?}");
    assert_eq!(ingested.rejects.last().map(|r| r.reason), Some(RejectReason::Truncated));
    assert_eq!(s.parsed + s.duplicates + s.rejected, s.records_read);
}

#[test]
fn cut_last_line_crlf_bom_and_empty() {
    let text = fixture("learn-lab-2023.jsonl");
    check(&text[..text.len() - 40], (2, 1, 0, &["2:truncated"]));
    let crlf = String::from_utf8_lossy(&text).replace('\n', "\r\n");
    check(crlf.as_bytes(), (2, 2, 0, &[]));
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(&fixture("az220-lab-2019.pretty.json"));
    check(&bom, (4, 4, 0, &[]));
    check(b"", (0, 0, 0, &[]));
    check(b"\n\n  \r\n", (0, 0, 0, &[]));
    let pretty = fixture("learn-lab-2023.pretty.json");
    check(&pretty[..pretty.len() - 30], (2, 1, 0, &["10:truncated"]));
}

#[test]
fn csv_rows_are_the_same_records_as_blob_lines() {
    let csv = concat!(
        "\u{feff}TenantId,TimeGenerated [UTC],ResourceId,Category,ResourceGroup,OperationName,ResultType,ResultDescription,Level,properties_s,Type,_ResourceId\r\n",
        r#"t1,"9/21/2023, 10:33:34.000 PM",/SUBSCRIPTIONS/AE82FF3B-4BD0-462B-8449-D713DD18E11E/RESOURCEGROUPS/SANDBOXRESOURCEGROUP/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/IOT-TRAINING-DM092121,Connections,SANDBOXRESOURCEGROUP,deviceDisconnect,404104,DeviceConnectionClosedRemotely,Error,"{""deviceId"":""sensor-th-2001"",""protocol"":""Mqtt"",""authType"":null,""maskedIpAddress"":""24.9.142.XXX"",""statusCode"":""404"",""errorMessage"":""Device disconnected""}",AzureDiagnostics,/subscriptions/ae82ff3b-4bd0-462b-8449-d713dd18e11e/resourcegroups/sandboxresourcegroup/providers/microsoft.devices/iothubs/iot-training-dm092121"#,
        "\r\n",
        r#"t1,2023-09-21T22:16:00Z,,Routes,,deviceConnect,,,Information,{},AzureDiagnostics,"#,
        "\r\n",
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::write(dir.path().join("a.jsonl"), fixture("learn-lab-2023.jsonl"));
    let _ = std::fs::write(dir.path().join("b.csv"), csv);
    let ingested = ingest(&[dir.path().to_owned()], &IngestConfig::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let s = &ingested.stats;
    assert_eq!((s.records_read, s.parsed, s.duplicates, s.rejected), (4, 2, 1, 1), "{s:?}");
    assert_eq!(ingested.rejects[0].line, 3);
    assert_eq!(ingested.rejects[0].reason, RejectReason::WrongCategory);
    assert_eq!(s.forms.get(&dropscope_logs::Form::LogAnalyticsCsv), Some(&2));
}

#[test]
fn log_analytics_json_rows() {
    let rows = r#"[
  {"TenantId":"t","TimeGenerated":"2023-09-21T22:33:34Z","OperationName":"deviceDisconnect","Category":"Connections","Level":"Error","ResultType":"404104","ResultDescription":"DeviceConnectionClosedRemotely","properties_s":"{\"deviceId\":\"sensor-th-2001\",\"protocol\":\"Mqtt\",\"authType\":null,\"maskedIpAddress\":\"24.9.142.XXX\",\"statusCode\":\"404\"}","_ResourceId":"/x/iothubs/IOT-TRAINING-DM092121","DurationMs":0},
  {"TimeGenerated":"2023-09-21T22:34:00Z","OperationName":"deviceConnect","Category":"Connections","Level":"Information","properties_s":"{\"deviceId\":\"d2\"}","ResourceId":"/x/iothubs/h"}
]"#;
    let ingested = ingest_bytes("rows.json", rows.as_bytes());
    assert_eq!(ingested.stats.forms.get(&dropscope_logs::Form::LogAnalyticsJson), Some(&2));
    let got: Vec<String> = ingested
        .events
        .iter()
        .map(|e| format!("{}:{}:{}:{:?}", e.source_line, e.device_id, e.hub, e.code()))
        .collect();
    assert_eq!(got, vec!["2:sensor-th-2001:iot-training-dm092121:Some(404104)", "3:d2:h:None"]);
}

#[test]
fn directories_are_walked_in_byte_order_without_hidden_files() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path();
    let hour = root.join("resourceId=/SUBSCRIPTIONS/S/IOTHUBS/H/y=2023/m=09/d=21/h=22/m=00");
    let _ = std::fs::create_dir_all(&hour);
    let _ = std::fs::create_dir_all(root.join(".git"));
    let _ = std::fs::write(hour.join("PT1H.json"), fixture("learn-lab-2023.jsonl"));
    let _ = std::fs::write(root.join("B.json"), fixture("az220-lab-2019.jsonl"));
    let _ = std::fs::write(root.join("a.json.gz"), gzip(&fixture("eventgrid-schema.json")));
    let _ = std::fs::write(root.join(".hidden.json"), fixture("legacy-opsmon-2017.jsonl"));
    let _ = std::fs::write(root.join(".git/x.json"), fixture("legacy-opsmon-2017.jsonl"));
    let ingested =
        ingest(&[root.to_owned()], &IngestConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<PathBuf> = ingested
        .sources
        .iter()
        .map(|p| p.strip_prefix(root).map(PathBuf::from).unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        vec![
            PathBuf::from("B.json"),
            PathBuf::from("a.json.gz"),
            PathBuf::from(
                "resourceId=/SUBSCRIPTIONS/S/IOTHUBS/H/y=2023/m=09/d=21/h=22/m=00/PT1H.json"
            ),
        ]
    );
    assert_eq!(ingested.stats.parsed, 7);
    let sources: Vec<u32> = ingested.events.iter().map(|e| e.source).collect();
    assert_eq!(sources, vec![0, 0, 0, 0, 1, 2, 2]);
}

#[test]
fn progress_sees_every_byte_and_missing_inputs_are_errors() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let total = AtomicU64::new(0);
    let progress = |n: u64| {
        total.fetch_add(n, Ordering::Relaxed);
    };
    let config =
        IngestConfig { progress: Some(&progress), block_size: 1024, ..IngestConfig::default() };
    let path = data_path("golden/fixtures/az220-lab-2019.pretty.json");
    let ingested = ingest(std::slice::from_ref(&path), &config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ingested.stats.parsed, 4);
    assert_eq!(total.load(Ordering::Relaxed), std::fs::metadata(&path).map_or(0, |m| m.len()));
    assert!(ingest(&[PathBuf::from("/nonexistent/x.json")], &IngestConfig::default()).is_err());
}

#[test]
fn json_lines_read_the_same_mapped_or_streamed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("PT1H.json");
    let mut text = Vec::new();
    for name in ["learn-lab-2023.jsonl", "az220-lab-2019.jsonl"] {
        text.extend_from_slice(fixture(name).trim_ascii_end());
        text.push(b'\n');
    }
    text.extend_from_slice(b"{\"time\": \"2023-09-21T22:16:00Z\", \"operat");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let read = |mmap: bool| {
        let config = IngestConfig { block_size: 1024, mmap, ..IngestConfig::default() };
        ingest(std::slice::from_ref(&path), &config).unwrap_or_else(|e| panic!("{e}"))
    };
    let (mapped, streamed) = (read(true), read(false));
    assert!(mapped.stats.parsed > 0 && mapped.stats.rejected == 1, "{:?}", mapped.stats);
    assert_eq!(mapped.events, streamed.events);
    assert_eq!(mapped.rejects, streamed.rejects);
    assert_eq!(mapped.stats, streamed.stats);
}
