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

/// The CSV `ingest` writes of a table, without the columns that name where each row was read
/// (`source`, `source_line`: a file's number and row differ between one file and a tree of them),
/// its rows sorted.
fn rows_without_origin(dir: &std::path::Path, table: &str, out: &str) -> Vec<String> {
    let run = dropscope(dir, &["--quiet", "ingest", table, "-o", out]);
    assert_eq!(run.code, 0, "{table}: {}", run.stderr);
    let text = std::fs::read_to_string(dir.join(out)).expect("csv written");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] != "source" && header[i] != "source_line")
        .collect();
    let mut rows: Vec<String> = lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            keep.iter().map(|&i| cells[i]).collect::<Vec<_>>().join(",")
        })
        .collect();
    rows.sort_unstable();
    rows
}

/// Issue 20: `--partition-by device` writes `OUT/bucket=NN/part-0.parquet`, every device in one
/// bucket, and reading the tree back gives the flat file's events and sessions.
#[test]
fn ingest_partitioned_by_device_reads_back_as_the_flat_table() {
    let dir = tempfile::tempdir().expect("a temp dir");
    crate::util::simulate(dir.path(), "mixed-day");
    let run = dropscope(dir.path(), &["--quiet", "ingest", "sim/logs", "-o", "flat.parquet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let args = ["ingest", "sim/logs", "-o", "tree", "--partition-by", "device", "--buckets", "8"];
    let run = dropscope(dir.path(), &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("buckets hold devices"), "{}", run.stderr);
    let mut buckets: Vec<String> = std::fs::read_dir(dir.path().join("tree"))
        .expect("the tree")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    buckets.sort_unstable();
    assert_eq!(buckets.len(), 8, "300 devices fill 8 buckets: {buckets:?}");
    assert_eq!(buckets[0], "bucket=00");
    assert_eq!(buckets[7], "bucket=07");
    for bucket in &buckets {
        assert!(dir.path().join("tree").join(bucket).join("part-0.parquet").is_file(), "{bucket}");
    }

    // The same events, and each device in one bucket only.
    let flat = rows_without_origin(dir.path(), "flat.parquet", "flat.csv");
    let tree = rows_without_origin(dir.path(), "tree", "tree.csv");
    assert!(flat.len() > 1000, "{}", flat.len());
    assert_eq!(flat, tree);
    let mut seen: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for bucket in &buckets {
        let table = format!("tree/{bucket}/part-0.parquet");
        for row in rows_without_origin(dir.path(), &table, "one.csv") {
            let device = row.split(',').nth(2).expect("device_id").to_owned();
            let before = seen.insert(device.clone(), bucket.clone());
            assert!(
                before.as_ref().is_none_or(|b| b == bucket),
                "{device} in {before:?} and {bucket}"
            );
        }
    }

    // The same summary and the same sessions.
    let inspect = |input: &str| {
        let run = dropscope(dir.path(), &["inspect", "--json", input]);
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
        let mut summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        summary["files"] = serde_json::Value::Null;
        summary
    };
    assert_eq!(inspect("flat.parquet"), inspect("tree"));
    let sessions = |input: &str, out: &str| {
        let run = dropscope(dir.path(), &["--quiet", "sessions", input, "-o", out]);
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
        let text = std::fs::read_to_string(dir.path().join(out)).expect("sessions written");
        let mut rows: Vec<String> = text.lines().map(str::to_owned).collect();
        rows.sort_unstable();
        rows
    };
    let flat_sessions = sessions("flat.parquet", "flat-sessions.csv");
    assert!(flat_sessions.len() > 500, "{}", flat_sessions.len());
    assert_eq!(flat_sessions, sessions("tree", "tree-sessions.csv"));
}

#[test]
fn ingest_partitioned_refuses_what_it_cannot_write() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fixtures = data("golden/fixtures");
    let fixtures = fixtures.to_str().expect("utf-8");
    std::fs::create_dir(dir.path().join("full")).expect("a dir");
    std::fs::write(dir.path().join("full/old.parquet"), b"old").expect("a file");
    for (args, message) in [
        (vec!["-o", "full"], "is not empty"),
        (vec!["-o", "-"], "not stdout"),
        (vec!["-o", "out", "--format", "csv"], "Parquet only"),
    ] {
        let mut all = vec!["--quiet", "ingest", fixtures, "--partition-by", "device"];
        all.extend(args);
        let run = dropscope(dir.path(), &all);
        assert_eq!(run.code, 2, "{all:?}");
        assert!(run.stderr.contains(message), "{all:?}: {}", run.stderr);
    }
    let run = dropscope(
        dir.path(),
        &["--quiet", "ingest", fixtures, "-o", "e.parquet", "--buckets", "4"],
    );
    assert_eq!(run.code, 2, "--buckets needs --partition-by");
    let run = dropscope(
        dir.path(),
        &["--quiet", "ingest", fixtures, "-o", "t", "--partition-by", "device", "--buckets", "0"],
    );
    assert_eq!(run.code, 2, "no bucket");
    assert_eq!(std::fs::read(dir.path().join("full/old.parquet")).expect("kept"), b"old");
}
