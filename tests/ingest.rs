//! `dropscope inspect` and `dropscope ingest` on the fixtures from Microsoft's documentation.

use crate::util::{data, dropscope};

#[test]
fn inspect_accounts_for_every_fixture_record() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fixtures = data("golden/fixtures");
    let run = dropscope(dir.path(), &["inspect", "--json", fixtures.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    assert_eq!(summary["records_read"], 32);
    assert_eq!(summary["rejected"], 1);
    assert_eq!(summary["reject_reasons"]["invalid_time"], 1);
    assert_eq!(summary["parsed"], 18);
    assert_eq!(summary["duplicates"], 13);
    assert_eq!(summary["devices"], 11);
    assert_eq!(summary["forms"]["routed-monitor-events"], 1);
    assert_eq!(summary["time_min"], "2017-09-27T12:11:56.7184728Z");
    assert_eq!(summary["time_max"], "2023-09-21T22:33:34Z");
    let read = summary["records_read"].as_u64().expect("a count");
    let accounted =
        ["parsed", "duplicates", "rejected"].map(|k| summary[k].as_u64().expect("a count"));
    assert_eq!(accounted.iter().sum::<u64>(), read);
    assert!(
        run.stderr.contains("32 records: 18 parsed, 13 duplicates, 1 rejected"),
        "{}",
        run.stderr
    );
}

#[test]
fn strict_fails_on_the_placeholder_record_and_rejects_lists_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fixture = data("golden/fixtures/monref-placeholder-invalid-time.json");
    let run = dropscope(
        dir.path(),
        &["inspect", "--strict", "--rejects", "rejects.csv", fixture.to_str().expect("utf-8 path")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("rejected under --strict"), "{}", run.stderr);
    let rejects = std::fs::read_to_string(dir.path().join("rejects.csv")).expect("rejects written");
    let mut lines = rejects.lines();
    assert_eq!(lines.next(), Some("file,line,reason,detail,text"));
    let row = lines.next().expect("one reject");
    assert!(row.contains("monref-placeholder-invalid-time.json,4,invalid_time,"), "{row}");
}

#[test]
fn ingest_writes_every_table_form_and_reads_it_back() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fixtures = data("golden/fixtures");
    for out in ["e.parquet", "e.arrow", "e.csv", "e.jsonl"] {
        let run = dropscope(
            dir.path(),
            &["--quiet", "ingest", fixtures.to_str().expect("utf-8"), "-o", out],
        );
        assert_eq!(run.code, 0, "{out}: {}", run.stderr);
    }
    // Parquet and Arrow are input forms too: reading them back loses and adds nothing.
    for table in ["e.parquet", "e.arrow"] {
        let run = dropscope(dir.path(), &["inspect", "--json", table]);
        assert_eq!(run.code, 0, "{table}: {}", run.stderr);
        let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        assert_eq!(summary["parsed"], 18, "{table}");
        assert_eq!(summary["rejected"], 0, "{table}");
        assert_eq!(summary["devices"], 11, "{table}");
    }
    let csv = std::fs::read_to_string(dir.path().join("e.csv")).expect("csv written");
    assert!(csv.starts_with("time,hub,device_id,module_id,operation,level,result_type,"), "{csv}");
    assert!(csv.contains(
        "2023-09-21T22:33:34Z,iot-training-dm092121,sensor-th-2001,,disconnect,Error,404104,"
    ));
}
