//! The JSON rendering: serde output types mirroring [`Findings`], with a `schema_version`.
//!
//! These types exist only to be serialized (ARCHITECTURE.md: serde only on the report's JSON output
//! types); the schema is documented in docs/report-schema.md and docs/json.md, and a change to a
//! field's name or meaning bumps [`SCHEMA_VERSION`]. Timestamps are RFC 3339 strings in UTC,
//! durations are seconds, shares are fractions in `[0, 1]`, and absent values are `null`.
//!
//! Every `--json` output that shows a concept of the report uses the report's shape for it:
//! [`render_causes_json`] (`diagnose --json`) and [`render_incidents_json`] (`incidents --json`)
//! print parts of the same document, each with its own `schema_version`.

use std::collections::BTreeMap;

use dropscope_model::Timestamp;
use dropscope_model::findings::{
    AlertFiring, Breakdown, CodeCount, DuplicateSuspect, Findings, FlappingDevice, HistogramBucket,
    Incident, NetworkShare, RankedCause, RejectExample,
};
use serde::Serialize;

/// The version of the JSON report's schema (docs/report-schema.md).
pub const SCHEMA_VERSION: u32 = 1;

/// Renders the findings as pretty-printed JSON, ending with a newline.
pub fn render_json(findings: &Findings) -> String {
    let report = Report::from(findings);
    // Serializing plain structs of strings and numbers into a String cannot fail; the fallback
    // keeps the no-panic promise anyway.
    let mut out = serde_json::to_string_pretty(&report).unwrap_or_else(|err| {
        format!("{{\"schema_version\":{SCHEMA_VERSION},\"error\":\"{err}\"}}")
    });
    out.push('\n');
    out
}

/// The ranked causes and the benign churn, as `diagnose --json` prints them: one line of JSON
/// with `schema_version`, `classified_events`, `causes` and `benign_churn` shaped as in the
/// report, and `quick_renewals`.
pub fn render_causes_json(findings: &Findings) -> String {
    let document = CausesDocument {
        schema_version: SCHEMA_VERSION,
        classified_events: findings.classified_events(),
        causes: causes(findings),
        benign_churn: benign_churn(findings),
        quick_renewals: QuickRenewals {
            events: findings.benign.quick_renewals,
            devices: findings.benign.quick_renewal_devices,
        },
    };
    compact(&document)
}

/// The incidents, as `incidents --json` prints them: one line of JSON with `schema_version` and
/// `incidents` shaped as in the report.
pub fn render_incidents_json(findings: &Findings) -> String {
    let document = IncidentsDocument {
        schema_version: SCHEMA_VERSION,
        incidents: findings.incidents.iter().map(incident).collect(),
    };
    compact(&document)
}

/// One line of JSON and a newline.
fn compact(document: &impl Serialize) -> String {
    // As in render_json: plain structs of strings and numbers cannot fail to serialize.
    let mut out = serde_json::to_string(document).unwrap_or_else(|err| {
        format!("{{\"schema_version\":{SCHEMA_VERSION},\"error\":\"{err}\"}}")
    });
    out.push('\n');
    out
}

fn time(ts: Timestamp) -> String {
    ts.to_rfc3339_exact()
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    title: &'a str,
    hubs: &'a [String],
    window: Window,
    totals: Totals,
    data_quality: DataQuality<'a>,
    causes: Vec<Cause<'a>>,
    benign_churn: BenignChurn,
    curve: Vec<CurvePoint>,
    alert_replay: AlertReplay,
    incidents: Vec<IncidentJson<'a>>,
    duplicate_suspects: Vec<Suspect<'a>>,
    flapping_devices: Vec<Flapping<'a>>,
    by_sdk: Vec<BreakdownRow<'a>>,
    by_protocol: Vec<BreakdownRow<'a>>,
    session_lengths: Vec<Bucket>,
}

#[derive(Serialize)]
struct CausesDocument<'a> {
    schema_version: u32,
    classified_events: u64,
    causes: Vec<Cause<'a>>,
    benign_churn: BenignChurn,
    quick_renewals: QuickRenewals,
}

#[derive(Serialize)]
struct QuickRenewals {
    events: u64,
    devices: u64,
}

#[derive(Serialize)]
struct IncidentsDocument<'a> {
    schema_version: u32,
    incidents: Vec<IncidentJson<'a>>,
}

#[derive(Serialize)]
struct Window {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Serialize)]
struct Totals {
    devices: u64,
    sessions: u64,
    disconnects: u64,
    failed_connects: u64,
}

#[derive(Serialize)]
struct DataQuality<'a> {
    files: u64,
    records_read: u64,
    parsed: u64,
    duplicates: u64,
    rejected_total: u64,
    rejected: &'a BTreeMap<String, u64>,
    reject_examples: Vec<Reject<'a>>,
    reordered: u64,
    repairs: &'a BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct Reject<'a> {
    file: &'a str,
    line: u64,
    reason: &'a str,
}

#[derive(Serialize)]
struct Cause<'a> {
    rank: usize,
    #[allow(clippy::struct_field_names, reason = "the JSON key is `cause`")]
    cause: &'static str,
    benign: bool,
    events: u64,
    disconnects: u64,
    failed_connects: u64,
    devices: u64,
    device_hours_offline: f64,
    share: f64,
    mean_confidence: f64,
    median_reconnect_delay_s: Option<f64>,
    evidence: &'a str,
    resolution: &'a str,
}

#[derive(Serialize)]
struct BenignChurn {
    events: u64,
    devices: u64,
    device_hours_offline: f64,
    by_cause: BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
struct CurvePoint {
    minute: String,
    min: u64,
    avg: f64,
    max: u64,
}

#[derive(Serialize)]
struct AlertReplay {
    threshold: u64,
    for_s: f64,
    threshold_derived: bool,
    firings_total: usize,
    benign_firings: usize,
    firings: Vec<Firing>,
}

#[derive(Serialize)]
struct Firing {
    below_since: String,
    fired_at: String,
    cleared_at: Option<String>,
    lowest: u64,
    incident: Option<usize>,
    benign: bool,
}

#[derive(Serialize)]
struct IncidentJson<'a> {
    start: String,
    end: String,
    events: u64,
    devices: u64,
    dominant_cause: &'static str,
    dominant_share: f64,
    networks: Vec<Network<'a>>,
    codes: Vec<Code>,
}

#[derive(Serialize)]
struct Network<'a> {
    prefix: &'a str,
    devices: u64,
    share: f64,
}

#[derive(Serialize)]
struct Code {
    code: Option<u32>,
    count: u64,
}

#[derive(Serialize)]
struct Suspect<'a> {
    device_id: &'a str,
    conflicts: u64,
    alternations: u64,
    masked_ips: &'a [String],
    sdk_versions: &'a [String],
    first_seen: String,
    last_seen: String,
}

#[derive(Serialize)]
struct Flapping<'a> {
    device_id: &'a str,
    disconnects: u64,
    sessions: u64,
    median_session_s: Option<f64>,
    dominant_cause: &'static str,
    masked_ip: Option<&'a str>,
    sdk_version: Option<&'a str>,
}

#[derive(Serialize)]
struct BreakdownRow<'a> {
    key: &'a str,
    devices: u64,
    sessions: u64,
    events: u64,
    problem_events: u64,
    device_hours_offline: f64,
    top_cause: Option<&'static str>,
}

#[derive(Serialize)]
struct Bucket {
    lower_s: f64,
    upper_s: Option<f64>,
    sessions: u64,
}

impl<'a> From<&'a Findings> for Report<'a> {
    fn from(f: &'a Findings) -> Report<'a> {
        let q = &f.quality;
        Report {
            schema_version: SCHEMA_VERSION,
            title: &f.title,
            hubs: &f.hubs,
            window: Window { start: f.window_start.map(time), end: f.window_end.map(time) },
            totals: Totals {
                devices: f.devices,
                sessions: f.sessions,
                disconnects: f.disconnects,
                failed_connects: f.failed_connects,
            },
            data_quality: DataQuality {
                files: q.files,
                records_read: q.records_read,
                parsed: q.parsed,
                duplicates: q.duplicates,
                rejected_total: q.rejected_total(),
                rejected: &q.rejected,
                reject_examples: q.reject_examples.iter().map(reject).collect(),
                reordered: q.reordered,
                repairs: &q.repairs,
            },
            causes: causes(f),
            benign_churn: benign_churn(f),
            curve: f
                .curve
                .iter()
                .map(|p| CurvePoint { minute: time(p.minute), min: p.min, avg: p.avg, max: p.max })
                .collect(),
            alert_replay: AlertReplay {
                threshold: f.alert.threshold,
                for_s: secs(f.alert.for_ns),
                threshold_derived: f.alert.threshold_derived,
                firings_total: f.alert.firings.len(),
                benign_firings: f.alert.benign_firings(),
                firings: f.alert.firings.iter().map(firing).collect(),
            },
            incidents: f.incidents.iter().map(incident).collect(),
            duplicate_suspects: f.duplicate_suspects.iter().map(suspect).collect(),
            flapping_devices: f.flapping.iter().map(flapping).collect(),
            by_sdk: f.by_sdk.iter().map(breakdown).collect(),
            by_protocol: f.by_protocol.iter().map(breakdown).collect(),
            session_lengths: f.session_lengths.iter().map(bucket).collect(),
        }
    }
}

fn causes(f: &Findings) -> Vec<Cause<'_>> {
    f.causes.iter().enumerate().map(|(idx, c)| cause(idx, c)).collect()
}

fn benign_churn(f: &Findings) -> BenignChurn {
    BenignChurn {
        events: f.benign.events,
        devices: f.benign.devices,
        device_hours_offline: f.benign.device_hours_offline,
        by_cause: f.benign.by_cause.iter().map(|(c, n)| (c.as_str(), *n)).collect(),
    }
}

fn reject(r: &RejectExample) -> Reject<'_> {
    Reject { file: &r.file, line: r.line, reason: &r.reason }
}

fn cause(idx: usize, c: &RankedCause) -> Cause<'_> {
    Cause {
        rank: idx + 1,
        cause: c.cause.as_str(),
        benign: c.benign,
        events: c.events(),
        disconnects: c.disconnects,
        failed_connects: c.failed_connects,
        devices: c.devices,
        device_hours_offline: c.device_hours_offline,
        share: c.share,
        mean_confidence: c.mean_confidence,
        median_reconnect_delay_s: c.median_reconnect_delay_ns.map(secs),
        evidence: &c.evidence,
        resolution: &c.resolution,
    }
}

fn firing(f: &AlertFiring) -> Firing {
    Firing {
        below_since: time(f.below_since),
        fired_at: time(f.fired_at),
        cleared_at: f.cleared_at.map(time),
        lowest: f.lowest,
        incident: f.incident,
        benign: f.benign,
    }
}

fn incident(i: &Incident) -> IncidentJson<'_> {
    IncidentJson {
        start: time(i.start),
        end: time(i.end),
        events: i.events(),
        devices: i.devices,
        dominant_cause: i.dominant_cause.as_str(),
        dominant_share: i.dominant_share,
        networks: i.networks.iter().map(network).collect(),
        codes: i
            .codes
            .iter()
            .map(|c: &CodeCount| Code { code: c.code, count: c.count() })
            .collect(),
    }
}

fn network(n: &NetworkShare) -> Network<'_> {
    Network { prefix: &n.prefix, devices: n.devices, share: n.share }
}

fn suspect(s: &DuplicateSuspect) -> Suspect<'_> {
    Suspect {
        device_id: &s.device_id,
        conflicts: s.conflicts,
        alternations: s.alternations,
        masked_ips: &s.masked_ips,
        sdk_versions: &s.sdk_versions,
        first_seen: time(s.first_seen),
        last_seen: time(s.last_seen),
    }
}

fn flapping(d: &FlappingDevice) -> Flapping<'_> {
    Flapping {
        device_id: &d.device_id,
        disconnects: d.disconnects,
        sessions: d.sessions,
        median_session_s: d.median_session_ns.map(secs),
        dominant_cause: d.dominant_cause.as_str(),
        masked_ip: d.masked_ip.as_deref(),
        sdk_version: d.sdk_version.as_deref(),
    }
}

fn breakdown(b: &Breakdown) -> BreakdownRow<'_> {
    BreakdownRow {
        key: &b.key,
        devices: b.devices,
        sessions: b.sessions,
        events: b.events,
        problem_events: b.problem_events,
        device_hours_offline: b.device_hours_offline,
        top_cause: b.top_cause.map(dropscope_model::Cause::as_str),
    }
}

fn bucket(b: &HistogramBucket) -> Bucket {
    Bucket {
        lower_s: secs(b.lower_ns),
        upper_s: (b.upper_ns != i64::MAX).then(|| secs(b.upper_ns)),
        sessions: b.sessions,
    }
}
