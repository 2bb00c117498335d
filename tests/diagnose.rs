//! `dropscope classify`, `evaluate` and `diagnose` end to end on a small simulated mixed day.

use std::fmt::Write as _;
use std::path::Path;

use crate::util::{Run, dropscope};

/// Simulates a small mixed day (200 devices, 12 h) with truth into `dir/out`.
fn mixed_day(dir: &Path) {
    simulate_mixed_day(dir, "200", "12", "31", &["--truth"]);
}

/// Simulates a mixed day of `devices` devices over `hours` hours into `dir/out`.
fn simulate_mixed_day(dir: &Path, devices: &str, hours: &str, seed: &str, extra: &[&str]) {
    let mut args = vec!["-q", "simulate", "--scenario", "mixed-day", "--devices", devices];
    args.extend(["--hours", hours, "--seed", seed, "-o", "out"]);
    args.extend(extra);
    let run = dropscope(dir, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

fn json(run: &Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn figure(value: &serde_json::Value, key: &str) -> f64 {
    value[key].as_f64().unwrap_or_else(|| panic!("{key} is a number in {value}"))
}

#[test]
fn classify_writes_predictions_for_every_label() {
    let dir = tempfile::tempdir().expect("a temp dir");
    mixed_day(dir.path());
    let run = dropscope(dir.path(), &["-q", "classify", "out/logs", "-o", "predictions.csv"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join("predictions.csv")).expect("written");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("device_id,time,operation,occurrence,cause,confidence"));
    let rows: Vec<&str> = lines.collect();
    let labels = std::fs::read_to_string(dir.path().join("out/truth/labels.csv")).expect("labels");
    // One prediction per labelled record (the export's lost records have no label and no row).
    assert_eq!(rows.len(), labels.lines().count() - 1);
    let causes = [
        "token_expiry",
        "auth_failure",
        "keepalive_timeout",
        "network_outage",
        "server_error",
        "service_upgrade",
        "throttling",
        "duplicate_identity",
        "reconnect_race",
        "client_close",
        "unknown",
    ];
    for row in &rows {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields.len(), 6, "{row}");
        assert!(["connect", "disconnect"].contains(&fields[2]), "{row}");
        assert!(fields[3].parse::<u32>().is_ok(), "{row}");
        assert!(causes.contains(&fields[4]), "{row}");
        let confidence: f64 = fields[5].parse().expect("a confidence");
        assert!((0.0..=1.0).contains(&confidence), "{row}");
    }
    // Scoring the file we wrote gives the same figures as evaluating the logs directly.
    let from_file = json(&dropscope(
        dir.path(),
        &[
            "evaluate",
            "--predictions",
            "predictions.csv",
            "--truth",
            "out/truth/labels.csv",
            "--json",
        ],
    ));
    let from_logs = json(&dropscope(
        dir.path(),
        &["-q", "evaluate", "out/logs", "--truth", "out/truth/labels.csv", "--json"],
    ));
    assert_eq!(from_file["accuracy"], from_logs["accuracy"]);
    assert_eq!(from_file["confusion"], from_logs["confusion"]);
    // The file keeps three decimals of each confidence, so the calibration agrees to about that.
    let (ece_file, ece_logs) = (figure(&from_file, "ece"), figure(&from_logs, "ece"));
    assert!(
        (ece_file - ece_logs).abs() < 1e-3,
        "ECE {ece_file} from the file, {ece_logs} from the logs"
    );
}

#[test]
fn evaluate_beats_the_baseline_on_a_mixed_day() {
    let dir = tempfile::tempdir().expect("a temp dir");
    mixed_day(dir.path());
    let scores = json(&dropscope(
        dir.path(),
        &["-q", "evaluate", "out/logs", "--truth", "out/truth/labels.csv", "--json"],
    ));
    for key in ["accuracy", "macro_f1", "per_class", "confusion", "baseline"] {
        assert!(scores.get(key).is_some(), "no {key} in {scores}");
    }
    let macro_f1 = figure(&scores, "macro_f1");
    let baseline = figure(&scores["baseline"], "macro_f1");
    assert!(macro_f1 >= 0.95, "macro-F1 {macro_f1}: {scores}");
    assert!(figure(&scores, "accuracy") >= 0.97, "{scores}");
    assert!(baseline < macro_f1, "baseline {baseline} >= ours {macro_f1}");
    assert!(baseline < 0.6, "baseline macro-F1 {baseline} should be far lower");
    let per_class = scores["per_class"].as_object().expect("per_class is an object");
    // mixed-day has every cause but unknown.
    for cause in ["token_expiry", "auth_failure", "duplicate_identity", "server_error"] {
        let class = &per_class[cause];
        assert!(figure(class, "support") > 0.0, "{cause}: {class}");
        for key in ["precision", "recall", "f1"] {
            let x = figure(class, key);
            assert!((0.0..=1.0).contains(&x), "{cause} {key} {x}");
        }
    }
    // The human rendering shows both columns.
    let run =
        dropscope(dir.path(), &["-q", "evaluate", "out/logs", "--truth", "out/truth/labels.csv"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("dropscope") && run.stdout.contains("baseline"), "{}", run.stdout);
    assert!(run.stdout.contains("macro-F1"), "{}", run.stdout);
}

#[test]
fn evaluate_scores_a_predictions_file() {
    let dir = tempfile::tempdir().expect("a temp dir");
    mixed_day(dir.path());
    let truth = "out/truth/labels.csv";
    let perfect = json(&dropscope(
        dir.path(),
        &["evaluate", "--predictions", truth, "--truth", truth, "--json"],
    ));
    assert!((figure(&perfect, "accuracy") - 1.0).abs() < 1e-12, "{perfect}");
    assert!((figure(&perfect, "macro_f1") - 1.0).abs() < 1e-12, "{perfect}");
    // No logs, so no baseline.
    assert!(perfect["baseline"].is_null(), "{perfect}");

    // Everything predicted as token_expiry: accuracy is that class's share, and macro-F1 drops.
    let labels = std::fs::read_to_string(dir.path().join(truth)).expect("labels");
    let mut lines = labels.lines();
    let mut naive = format!("{}\n", lines.next().expect("a header"));
    let (mut total, mut token) = (0_u32, 0_u32);
    for line in lines {
        let (key, cause) = line.rsplit_once(',').expect("five columns");
        total += 1;
        token += u32::from(cause == "token_expiry");
        let _ = writeln!(naive, "{key},token_expiry");
    }
    std::fs::write(dir.path().join("naive.csv"), naive).expect("written");
    let scores = json(&dropscope(
        dir.path(),
        &["evaluate", "--predictions", "naive.csv", "--truth", truth, "--json"],
    ));
    let expected = f64::from(token) / f64::from(total);
    assert!((figure(&scores, "accuracy") - expected).abs() < 1e-9, "{scores}");
    assert!(figure(&scores, "macro_f1") < 0.5, "{scores}");
}

#[test]
fn diagnose_ranks_the_causes() {
    let dir = tempfile::tempdir().expect("a temp dir");
    mixed_day(dir.path());
    let ranking = json(&dropscope(dir.path(), &["-q", "diagnose", "--json", "out/logs"]));
    assert_eq!(ranking["schema_version"], 1, "{ranking}");
    let causes = ranking["causes"].as_array().expect("a causes array");
    let (benign, problems): (Vec<_>, Vec<_>) =
        causes.iter().partition(|c| c["benign"].as_bool().expect("a benign flag"));
    assert!(!problems.is_empty(), "{ranking}");
    // Token renewals are benign churn, never a problem to page on.
    assert!(benign.iter().any(|c| c["cause"] == "token_expiry"), "{ranking}");
    assert!(problems.iter().all(|c| c["cause"] != "token_expiry"), "{ranking}");
    // Ranked by impact: device-hours offline, non-increasing.
    let hours: Vec<f64> = causes.iter().map(|c| figure(c, "device_hours_offline")).collect();
    assert!(hours.windows(2).all(|w| w[0] >= w[1]), "{hours:?}");
    for cause in causes {
        assert!(!cause["evidence"].as_str().unwrap_or_default().is_empty(), "{cause}");
        assert!(!cause["resolution"].as_str().unwrap_or_default().is_empty(), "{cause}");
        let confidence = figure(cause, "mean_confidence");
        assert!((0.0..=1.0).contains(&confidence), "{cause}");
    }
    let renewals = &ranking["quick_renewals"];
    assert!(figure(renewals, "events") <= figure(&ranking["benign_churn"], "events"), "{ranking}");
    let run = dropscope(dir.path(), &["-q", "diagnose", "out/logs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Problems, by impact"), "{}", run.stdout);
    assert!(run.stdout.contains("resolution:"), "{}", run.stdout);
}

#[test]
fn diagnose_shows_the_causes_of_the_report() {
    // The seed of the check that found them apart: client_close 0.97 against 0.22 device-hours.
    let dir = tempfile::tempdir().expect("a temp dir");
    simulate_mixed_day(dir.path(), "500", "6", "3", &[]);
    let ranking = json(&dropscope(dir.path(), &["-q", "diagnose", "--json", "out/logs"]));
    let run = dropscope(dir.path(), &["-q", "report", "out/logs", "-o", "report.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join("report.json")).expect("the report");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let causes = report["causes"].as_array().expect("a causes array");
    assert!(causes.iter().any(|c| c["cause"] == "client_close"), "{causes:?}");
    // The same causes, figures, evidence and order; the same benign churn.
    assert_eq!(ranking["causes"], report["causes"]);
    assert_eq!(ranking["benign_churn"], report["benign_churn"]);
    assert_eq!(ranking["schema_version"], report["schema_version"]);
}
