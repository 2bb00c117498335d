//! `--no-mmap`: JSON Lines read as streams give the same output as JSON Lines read from memory
//! maps, in every command's output (checked on `inspect --json` and the sessions table).

use std::path::Path;

use crate::util::{data, dropscope};

/// `inspect --json` and `sessions -o x.csv` on `input` (in `dir`), with `extra` flags first.
fn outputs(dir: &Path, input: &str, extra: &[&str]) -> (String, Vec<u8>) {
    let mut args = extra.to_vec();
    args.extend(["inspect", "--json", input]);
    let inspect = dropscope(dir, &args);
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    let mut args = extra.to_vec();
    args.extend(["sessions", "--quiet", "-o", "x.csv", input]);
    let sessions = dropscope(dir, &args);
    assert_eq!(sessions.code, 0, "{}", sessions.stderr);
    let table = std::fs::read(dir.join("x.csv")).expect("the sessions table");
    (inspect.stdout, table)
}

#[test]
fn no_mmap_reads_the_fixtures_as_the_maps_do() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fixtures = data("golden/fixtures");
    let input = fixtures.to_str().expect("utf-8 path");
    let (inspect, table) = outputs(dir.path(), input, &[]);
    let summary: serde_json::Value = serde_json::from_str(&inspect).expect("one JSON object");
    assert_eq!(summary["records_read"], 32);
    let (streamed_inspect, streamed_table) = outputs(dir.path(), input, &["--no-mmap"]);
    assert_eq!(streamed_inspect, inspect);
    assert_eq!(streamed_table, table);
}

#[test]
fn no_mmap_reads_a_simulated_export_as_the_maps_do() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let run = dropscope(
        dir.path(),
        &["simulate", "--scenario", "token-churn", "--devices", "40", "--hours", "2", "-o", "sim"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (inspect, table) = outputs(dir.path(), "sim/logs", &[]);
    let (streamed_inspect, streamed_table) = outputs(dir.path(), "sim/logs", &["--no-mmap"]);
    assert_eq!(streamed_inspect, inspect);
    assert_eq!(streamed_table, table);
}
