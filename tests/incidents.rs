//! `dropscope incidents` end to end: the same incidents as the report's, in the report's shape.

use crate::util::{dropscope, simulate};

#[test]
fn incidents_are_the_reports() {
    // A small storm at a fixed seed: a site outage among a fleet whose token renewals go on.
    let dir = tempfile::tempdir().expect("a temp dir");
    simulate(dir.path(), "site-outage-storm");

    let run = dropscope(dir.path(), &["-q", "incidents", "--json", "sim/logs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let run = dropscope(dir.path(), &["-q", "report", "sim/logs", "-o", "x.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join("x.json")).expect("the report");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");

    let incidents = listed["incidents"].as_array().expect("an incidents array");
    assert!(
        incidents.iter().any(|i| i["dominant_cause"] == "network_outage"),
        "the outage is an incident: {listed}"
    );
    assert_eq!(listed["incidents"], report["incidents"]);
    assert_eq!(listed["schema_version"], report["schema_version"]);

    // The table names the same windows.
    let run = dropscope(dir.path(), &["-q", "incidents", "sim/logs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with(&format!("{} incident(s)", incidents.len())), "{}", run.stdout);
    for incident in incidents {
        let start = incident["start"].as_str().expect("a start");
        let start = start.split('.').next().unwrap_or(start).trim_end_matches('Z');
        assert!(run.stdout.contains(start), "{start} in {}", run.stdout);
    }
}
