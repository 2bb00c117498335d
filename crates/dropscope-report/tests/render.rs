//! Renders fixed findings in every form: insta snapshots of the Markdown and JSON, the HTML's
//! self-containment, escaping of hostile log strings, determinism, and empty findings.

#[path = "common/sample.rs"]
mod sample;

use dropscope_model::Cause;
use dropscope_model::findings::{
    Breakdown, DuplicateSuspect, Findings, FlappingDevice, RankedCause, RejectExample,
};
use dropscope_report::{Format, render, render_html, render_json, render_markdown};

const SCRIPT: &str = "<script>alert(1)</script>";
const LINK: &str = "](javascript:alert(1))";

#[test]
fn sample_markdown_snapshot() {
    insta::assert_snapshot!("sample_markdown", render_markdown(&sample::findings()));
}

#[test]
fn sample_json_snapshot() {
    // The curve and the histogram have one entry per minute; five of each show their shape.
    let mut findings = sample::findings();
    findings.curve.truncate(5);
    findings.session_lengths.drain(5..findings.session_lengths.len() - 1);
    insta::assert_snapshot!("sample_json", render_json(&findings));
}

#[test]
fn sample_alert_replay_finds_the_outage_and_the_fault() {
    let findings = sample::findings();
    let firings: Vec<(Option<usize>, bool)> =
        findings.alert.firings.iter().map(|f| (f.incident, f.benign)).collect();
    assert_eq!(firings, [(Some(0), false), (Some(1), false)]);
    assert_eq!(findings.alert.threshold, 351);
}

#[test]
fn html_is_self_contained_with_charts_and_ranking() {
    let html = render_html(&sample::findings());
    assert_eq!(html.matches("<svg").count(), 3, "three charts");
    assert!(html.contains("<table id=\"ranking\">"));
    assert!(html.contains("default-src 'none'"));
    for forbidden in [
        "<script",
        "<link",
        "<img",
        "<iframe",
        "@import",
        "url(",
        "src=",
        "href=\"http",
        "href=\"//",
    ] {
        assert!(!html.contains(forbidden), "the page must load nothing: found {forbidden}");
    }
    // The only absolute URL is the SVG namespace, which is a name, not a load.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(urls, html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());
}

/// Findings whose every log-derived string is hostile.
fn hostile() -> Findings {
    let mut findings = Findings::new(SCRIPT);
    findings.hubs = vec![LINK.to_owned()];
    let mut cause = RankedCause::new(Cause::DuplicateIdentity);
    cause.disconnects = 2;
    cause.evidence = format!("seen on {SCRIPT} and {LINK}");
    cause.resolution = String::from("[click](javascript:alert(1))");
    findings.causes.push(cause);
    findings.quality.reject_examples.push(RejectExample {
        file: SCRIPT.to_owned(),
        line: 1,
        reason: LINK.to_owned(),
    });
    findings.duplicate_suspects.push(DuplicateSuspect {
        device_id: SCRIPT.to_owned(),
        conflicts: 2,
        alternations: 1,
        masked_ips: vec![LINK.to_owned(), "<img src=x onerror=alert(1)>".to_owned()],
        sdk_versions: vec!["`code` | *bold* _it_".to_owned()],
        first_seen: sample::at(0),
        last_seen: sample::at(1),
    });
    findings.flapping.push(FlappingDevice {
        device_id: LINK.to_owned(),
        disconnects: 2,
        sessions: 2,
        median_session_ns: None,
        dominant_cause: Cause::DuplicateIdentity,
        masked_ip: Some(SCRIPT.to_owned()),
        sdk_version: Some("\"><svg onload=alert(1)>".to_owned()),
    });
    findings.by_sdk.push(Breakdown {
        key: format!("{SCRIPT}\n| injected | row |"),
        devices: 1,
        sessions: 1,
        events: 1,
        problem_events: 1,
        device_hours_offline: 0.0,
        top_cause: None,
    });
    findings
}

#[test]
fn html_escapes_log_strings() {
    let html = render_html(&hostile());
    assert!(!html.contains("<script"), "a device id must not become a script");
    assert!(!html.contains("<img"));
    assert!(!html.contains("<svg onload"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "it renders as text");
    assert!(html.contains("&quot;&gt;&lt;svg onload=alert(1)&gt;"));
}

#[test]
fn markdown_escapes_log_strings() {
    let md = render_markdown(&hostile());
    assert!(!md.contains("](javascript:"), "no link may be formed");
    assert!(md.contains("\\]\\(javascript:alert\\(1\\)\\)"));
    let unescaped =
        md.char_indices().filter(|(idx, c)| *c == '<' && !md[..*idx].ends_with('\\')).count();
    assert_eq!(unescaped, 0, "no raw HTML");
    assert!(md.contains("\\<script\\>alert\\(1\\)\\</script\\>"));
    assert!(md.contains("\\`code\\` \\| \\*bold\\* \\_it\\_"));
    // A line break in a log string cannot start a new table row.
    assert!(!md.contains("\n\\| injected"));
    assert!(md.lines().all(|line| !line.starts_with("| injected")));
}

#[test]
fn json_carries_log_strings_verbatim_and_parses() {
    let json = render_json(&hostile());
    let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["duplicate_suspects"][0]["device_id"], SCRIPT);
    assert_eq!(value["flapping_devices"][0]["device_id"], LINK);
}

#[test]
fn output_is_deterministic() {
    for format in [Format::Html, Format::Markdown, Format::Json] {
        assert_eq!(render(format, &sample::findings()), render(format, &sample::findings()));
    }
}

#[test]
fn empty_findings_render_in_every_form() {
    let findings = Findings::new("nothing");
    let html = render_html(&findings);
    assert!(html.contains("No chart"));
    assert!(render_markdown(&findings).contains("No disconnect or failed connect"));
    let value: serde_json::Value =
        serde_json::from_str(&render_json(&findings)).unwrap_or_default();
    assert_eq!(value["window"]["start"], serde_json::Value::Null);
}
