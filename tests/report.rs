//! `dropscope report` and `dropscope demo` end to end: the report in every form on a simulated
//! storm, hostile device ids rendered as text, and clear errors for bad arguments.

use crate::util::{data, dropscope};

fn simulate(dir: &std::path::Path, scenario: &str) {
    let run = dropscope(
        dir,
        &["--quiet", "simulate", "--scenario", scenario, "--devices", "300", "--hours", "6"],
    );
    assert_eq!(run.code, 2, "simulate needs -o: {}", run.stderr);
    crate::util::simulate(dir, scenario);
}

#[test]
fn report_names_the_outage_in_every_form() {
    let dir = tempfile::tempdir().expect("a temp dir");
    simulate(dir.path(), "site-outage-storm");
    for out in ["r.json", "r.md", "r.html"] {
        let run = dropscope(dir.path(), &["--quiet", "report", "sim/logs", "-o", out]);
        assert_eq!(run.code, 0, "{out}: {}", run.stderr);
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).expect("written"))
            .expect("valid JSON");
    assert_eq!(json["schema_version"], 1);
    let text = json.to_string();
    assert!(text.contains("network_outage"), "the outage is a ranked cause");
    let quality = &json["data_quality"];
    let count = |key: &str| quality[key].as_u64().expect("a count");
    assert_eq!(
        count("parsed") + count("duplicates") + count("rejected_total"),
        count("records_read")
    );
    let outage_incident = json["incidents"]
        .as_array()
        .expect("a list")
        .iter()
        .any(|incident| incident.to_string().contains("network_outage"));
    assert!(outage_incident, "an incident's dominant cause is the outage: {}", json["incidents"]);
    let markdown = std::fs::read_to_string(dir.path().join("r.md")).expect("written");
    assert!(markdown.contains("network_outage"), "{markdown}");
    let html = std::fs::read_to_string(dir.path().join("r.html")).expect("written");
    assert!(html.contains("<svg"), "charts are inline SVG");
    assert!(!html.contains("<script"), "the page runs no script");
    assert!(!html.contains("src=\"http"), "the page loads nothing");
}

#[test]
fn hostile_device_ids_render_as_text() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let record = |device: &str, op: &str, time: &str| {
        let properties = serde_json::json!({
            "deviceId": device, "protocol": "Mqtt", "authType": null,
            "maskedIpAddress": "10.0.0.XXX", "statusCode": null,
        })
        .to_string();
        serde_json::json!({
            "time": time, "resourceId": "/SUBSCRIPTIONS/X/RESOURCEGROUPS/Y/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/HUB",
            "operationName": op, "category": "Connections", "level": "Information",
            "properties": properties,
        })
        .to_string()
    };
    let mut lines = Vec::new();
    for (idx, device) in ["<script>alert(1)</script>", "](javascript:alert(1))"].iter().enumerate()
    {
        lines.push(record(device, "deviceConnect", &format!("2026-11-26T10:0{idx}:00Z")));
        lines.push(record(device, "deviceDisconnect", &format!("2026-11-26T10:1{idx}:00Z")));
        lines.push(record(device, "deviceConnect", &format!("2026-11-26T10:2{idx}:00Z")));
        lines.push(record(device, "deviceDisconnect", &format!("2026-11-26T10:3{idx}:00Z")));
    }
    std::fs::write(dir.path().join("hostile.jsonl"), lines.join("\n") + "\n").expect("written");
    for out in ["r.html", "r.md"] {
        let run = dropscope(dir.path(), &["--quiet", "report", "hostile.jsonl", "-o", out]);
        assert_eq!(run.code, 0, "{out}: {}", run.stderr);
    }
    let html = std::fs::read_to_string(dir.path().join("r.html")).expect("written");
    assert!(!html.contains("<script>alert(1)</script>"), "escaped in HTML");
    let markdown = std::fs::read_to_string(dir.path().join("r.md")).expect("written");
    assert!(!markdown.contains("](javascript:alert(1))"), "no Markdown link is formed");
}

#[test]
fn bad_report_arguments_exit_2_with_a_hint() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fixtures = data("golden/fixtures");
    let fixtures = fixtures.to_str().expect("utf-8");
    let run = dropscope(dir.path(), &["report", fixtures, "-o", "out.txt"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("hint: name the output .html, .md or .json"), "{}", run.stderr);
    let run = dropscope(dir.path(), &["report", fixtures, "-o", "r.html", "--alert-for", "5x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = dropscope(dir.path(), &["--quiet", "report", fixtures, "-o", "r.md"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// The demo takes seconds in release and longer in debug: run with `DROPSCOPE_SLOW_TESTS=1`.
#[test]
fn demo_writes_three_reports_and_can_run_again() {
    if std::env::var_os("DROPSCOPE_SLOW_TESTS").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    for _ in 0..2 {
        let run = dropscope(dir.path(), &["demo", "-o", "demo"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains("open"), "{}", run.stdout);
    }
    for name in ["report.html", "report.md", "report.json"] {
        assert!(dir.path().join("demo").join(name).is_file(), "{name}");
    }
}

/// The Markdown and JSON of a fixed small simulated storm, as snapshots: any change to what the
/// report says is a reviewed change (`cargo insta review`).
#[test]
fn report_of_a_fixed_small_storm_is_stable() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let run = dropscope(
        dir.path(),
        &[
            "--quiet",
            "simulate",
            "--scenario",
            "site-outage-storm",
            "--devices",
            "60",
            "--hours",
            "2",
            "--seed",
            "3",
            "-o",
            "sim",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    for out in ["r.md", "r.json"] {
        let run = dropscope(dir.path(), &["--quiet", "report", "sim/logs", "-o", out]);
        assert_eq!(run.code, 0, "{out}: {}", run.stderr);
    }
    let markdown = std::fs::read_to_string(dir.path().join("r.md")).expect("written");
    insta::assert_snapshot!("small_storm_markdown", markdown);
    let json = std::fs::read_to_string(dir.path().join("r.json")).expect("written");
    insta::assert_snapshot!("small_storm_json", json);
}
