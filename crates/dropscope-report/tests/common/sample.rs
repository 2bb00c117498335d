//! A fixed, small but realistic [`Findings`] value: a 2-hour window on a 400-device hub with a
//! site outage, a short hub fault, token churn, bad credentials and one shared identity. The
//! snapshot tests and the `sample_report` example render it.

use std::collections::BTreeMap;

use dropscope_model::findings::{
    BenignChurn, Breakdown, CodeCount, CurvePoint, DataQuality, DuplicateSuspect, Findings,
    FlappingDevice, HistogramBucket, Incident, MINUTE_NS, NetworkShare, RankedCause, RejectExample,
};
use dropscope_model::{Cause, Timestamp};
use dropscope_report::alert::{AlertConfig, replay};

/// `2026-11-26T17:30:00Z` plus `minutes`.
pub(crate) fn at(minutes: i64) -> Timestamp {
    Timestamp(1_795_714_200 * 1_000_000_000 + minutes * MINUTE_NS)
}

fn cause(
    cause: Cause,
    counts: (u64, u64, u64),
    device_hours_offline: f64,
    mean_confidence: f64,
    median_reconnect_s: Option<i64>,
    evidence: &str,
    resolution: &str,
) -> RankedCause {
    let (disconnects, failed_connects, devices) = counts;
    RankedCause {
        disconnects,
        failed_connects,
        devices,
        device_hours_offline,
        mean_confidence,
        median_reconnect_delay_ns: median_reconnect_s.map(|s| s * 1_000_000_000),
        evidence: evidence.to_owned(),
        resolution: resolution.to_owned(),
        ..RankedCause::new(cause)
    }
}

/// The connected average at minute `m` of the window: about 392 of 400, a deep dip for the
/// site outage at 18:02, a shallower one for the hub fault at 18:50.
fn connected(m: i64) -> f64 {
    let noise = ((m * 37) % 7) as f64 - 3.0;
    let base = 392.0 + noise;
    let outage = match m {
        32..=34 => 134.0 * (m - 31) as f64 / 3.0,
        35..=50 => 134.0,
        51..=65 => 134.0 * (66 - m) as f64 / 16.0,
        _ => 0.0,
    };
    let fault = match m {
        80..=86 => 45.0,
        87 => 20.0,
        _ => 0.0,
    };
    base - outage - fault
}

fn curve() -> Vec<CurvePoint> {
    (0..120)
        .map(|m| {
            let avg = connected(m);
            CurvePoint {
                minute: at(m),
                min: (avg - 2.0 - (m % 3) as f64).max(0.0) as u64,
                avg: (avg * 10.0).round() / 10.0,
                max: (avg + 2.0 + (m % 2) as f64) as u64,
            }
        })
        .collect()
}

fn histogram() -> Vec<HistogramBucket> {
    let mut buckets: Vec<HistogramBucket> = (0..120)
        .map(|m| {
            let spread = if m < 30 { 6 - m / 6 } else { 1 + (m * 13) % 3 };
            let spike = match m {
                45 => 96,
                48 => 71,
                58 => 38,
                65..=68 => 52 - (m - 65) * 9,
                _ => 0,
            };
            HistogramBucket {
                lower_ns: m * MINUTE_NS,
                upper_ns: (m + 1) * MINUTE_NS,
                sessions: (spread + spike) as u64,
            }
        })
        .collect();
    buckets.push(HistogramBucket { lower_ns: 120 * MINUTE_NS, upper_ns: i64::MAX, sessions: 212 });
    buckets
}

/// The sample findings.
pub(crate) fn findings() -> Findings {
    let mut rejected = BTreeMap::new();
    rejected.insert("truncated".to_owned(), 1);
    rejected.insert("bad_time".to_owned(), 2);
    let mut repairs = BTreeMap::new();
    repairs.insert("missing_connect".to_owned(), 391);
    repairs.insert("missing_disconnect".to_owned(), 396);
    repairs.insert("merged_end".to_owned(), 212);
    repairs.insert("duplicate_dropped".to_owned(), 57);
    let quality = DataQuality {
        files: 3,
        records_read: 3_463,
        parsed: 3_399,
        duplicates: 61,
        rejected,
        reject_examples: vec![
            RejectExample {
                file: "h=17/m=00/PT1H.json".to_owned(),
                line: 412,
                reason: "bad_time".to_owned(),
            },
            RejectExample {
                file: "h=19/m=00/PT1H.json".to_owned(),
                line: 1_288,
                reason: "truncated".to_owned(),
            },
        ],
        reordered: 143,
        repairs,
    };

    let mut causes = vec![
        cause(
            Cause::NetworkOutage,
            (141, 0, 134),
            52.3,
            0.93,
            Some(1_020),
            "134 devices behind 10.20.30.x and 10.20.31.x dropped with 404104 within 90 s at 18:02 while 266 devices on 23 other networks stayed up; they came back 14–22 min later.",
            "Check the site's network (router, ISP, cellular cell); the hub was not at fault.",
        ),
        cause(
            Cause::AuthFailure,
            (0, 96, 4),
            6.5,
            0.97,
            None,
            "4 devices retried 96 times with 401002 and never connected again.",
            "Check the devices' keys or certificates, their clocks (more than 5 min of drift fails), and that they are enabled.",
        ),
        cause(
            Cause::KeepaliveTimeout,
            (37, 0, 29),
            3.1,
            0.81,
            Some(240),
            "37 single 404104 disconnects on 29 devices, not periodic and not shared with other devices.",
            "Check the devices' connectivity and application health; keep the SDK's default keep-alive.",
        ),
        cause(
            Cause::TokenExpiry,
            (690, 0, 380),
            1.9,
            0.96,
            Some(6),
            "88% of these come 45, 48 or 65–68 min after connect, matching the Node, C and .NET SDK token lifetimes; 97% reconnect within 10 s.",
            "Benign SAS renewal: filter it from alerts. Renew before expiry if the volume matters.",
        ),
        cause(
            Cause::ServerError,
            (48, 0, 45),
            0.8,
            0.88,
            Some(55),
            "48 disconnects with 500001 and 503003 at 18:50–18:54 across 19 unrelated networks.",
            "Transient hub fault: retry with back-off and check the hub's Resource Health.",
        ),
        cause(
            Cause::DuplicateIdentity,
            (64, 0, 2),
            0.4,
            0.95,
            Some(3),
            "2 identities logged 64 conflicts (400027) alternating between two IPs every few seconds.",
            "Give each client its own device identity.",
        ),
        cause(
            Cause::ClientClose,
            (22, 0, 19),
            0.1,
            0.74,
            Some(31),
            "22 informational disconnects, not periodic and not correlated across devices.",
            "None: the devices closed cleanly (restart or deploy).",
        ),
    ];
    let total: u64 = causes.iter().map(RankedCause::events).sum();
    for c in &mut causes {
        c.share = c.events() as f64 / total as f64;
    }

    let incidents = vec![
        Incident {
            start: at(32),
            end: at(37),
            devices: 136,
            disconnects: 152,
            failed_connects: 0,
            peak_minute: at(32),
            peak_devices: 136,
            baseline: 2.0,
            threshold: 8,
            networks: vec![
                NetworkShare { prefix: "10.20.30".to_owned(), devices: 81, share: 81.0 / 136.0 },
                NetworkShare { prefix: "10.20.31".to_owned(), devices: 53, share: 53.0 / 136.0 },
                NetworkShare { prefix: "52.168.4".to_owned(), devices: 2, share: 2.0 / 136.0 },
            ],
            dominant_cause: Cause::NetworkOutage,
            dominant_share: 141.0 / 152.0,
            codes: vec![
                CodeCount { code: Some(404_104), disconnects: 149, failed_connects: 0 },
                CodeCount { code: None, disconnects: 3, failed_connects: 0 },
            ],
        },
        Incident {
            start: at(80),
            end: at(85),
            devices: 47,
            disconnects: 51,
            failed_connects: 0,
            peak_minute: at(80),
            peak_devices: 47,
            baseline: 2.0,
            threshold: 8,
            networks: vec![
                NetworkShare { prefix: "52.168.4".to_owned(), devices: 4, share: 4.0 / 47.0 },
                NetworkShare { prefix: "73.12.88".to_owned(), devices: 3, share: 3.0 / 47.0 },
            ],
            dominant_cause: Cause::ServerError,
            dominant_share: 48.0 / 51.0,
            codes: vec![
                CodeCount { code: Some(500_001), disconnects: 31, failed_connects: 0 },
                CodeCount { code: Some(503_003), disconnects: 17, failed_connects: 0 },
                CodeCount { code: Some(404_104), disconnects: 3, failed_connects: 0 },
            ],
        },
    ];

    let curve = curve();
    let alert = replay(&curve, &incidents, AlertConfig::default());

    let mut by_cause = BTreeMap::new();
    by_cause.insert(Cause::TokenExpiry, 690);
    by_cause.insert(Cause::ClientClose, 22);

    Findings {
        title: "Disconnect post-mortem: contoso-hub".to_owned(),
        hubs: vec!["contoso-hub".to_owned()],
        window_start: Some(at(0)),
        window_end: Some(at(120)),
        devices: 400,
        sessions: 1_498,
        disconnects: 1_002,
        failed_connects: 96,
        quality,
        causes,
        benign: BenignChurn {
            events: 712,
            devices: 384,
            device_hours_offline: 2.0,
            by_cause,
            quick_renewals: 650,
            quick_renewal_devices: 380,
        },
        curve,
        alert,
        incidents,
        duplicate_suspects: vec![
            DuplicateSuspect {
                device_id: "pump-0042".to_owned(),
                conflicts: 41,
                alternations: 39,
                masked_ips: vec!["10.20.30.XXX".to_owned(), "73.12.88.XXX".to_owned()],
                sdk_versions: vec![
                    "azure-iot-device/1.17.2 (node v18.17.0; Linux; x64)".to_owned(),
                ],
                first_seen: at(3),
                last_seen: at(117),
            },
            DuplicateSuspect {
                device_id: "pump-0117".to_owned(),
                conflicts: 23,
                alternations: 20,
                masked_ips: vec!["52.168.4.XXX".to_owned(), "52.168.9.XXX".to_owned()],
                sdk_versions: vec![
                    ".NET/1.42.0 (.NET 6.0.25; Linux; X64)".to_owned(),
                    "Microsoft.Azure.Devices.Client/1.41.3".to_owned(),
                ],
                first_seen: at(12),
                last_seen: at(109),
            },
        ],
        flapping: vec![
            FlappingDevice {
                device_id: "pump-0042".to_owned(),
                disconnects: 41,
                sessions: 43,
                median_session_ns: Some(95_000_000_000),
                dominant_cause: Cause::DuplicateIdentity,
                masked_ip: Some("73.12.88.XXX".to_owned()),
                sdk_version: Some("azure-iot-device/1.17.2 (node v18.17.0; Linux; x64)".to_owned()),
            },
            FlappingDevice {
                device_id: "sensor-000311".to_owned(),
                disconnects: 5,
                sessions: 6,
                median_session_ns: Some(1_260_000_000_000),
                dominant_cause: Cause::KeepaliveTimeout,
                masked_ip: Some("24.9.142.XXX".to_owned()),
                sdk_version: Some("azure-iot-sdk-c/1.11.0".to_owned()),
            },
            FlappingDevice {
                device_id: "gateway-07".to_owned(),
                disconnects: 3,
                sessions: 4,
                median_session_ns: None,
                dominant_cause: Cause::ServerError,
                masked_ip: None,
                sdk_version: None,
            },
        ],
        by_sdk: vec![
            Breakdown {
                key: ".NET/1.42.0 (.NET 6.0.25; Linux; X64)".to_owned(),
                devices: 160,
                sessions: 612,
                events: 455,
                problem_events: 141,
                device_hours_offline: 24.6,
                top_cause: Some(Cause::NetworkOutage),
            },
            Breakdown {
                key: "azure-iot-device/1.17.2 (node v18.17.0; Linux; x64)".to_owned(),
                devices: 120,
                sessions: 470,
                events: 388,
                problem_events: 151,
                device_hours_offline: 21.9,
                top_cause: Some(Cause::NetworkOutage),
            },
            Breakdown {
                key: "azure-iot-sdk-c/1.11.0".to_owned(),
                devices: 120,
                sessions: 416,
                events: 255,
                problem_events: 94,
                device_hours_offline: 18.6,
                top_cause: Some(Cause::AuthFailure),
            },
        ],
        by_protocol: vec![
            Breakdown {
                key: "Mqtt".to_owned(),
                devices: 320,
                sessions: 1_190,
                events: 902,
                problem_events: 320,
                device_hours_offline: 53.8,
                top_cause: Some(Cause::NetworkOutage),
            },
            Breakdown {
                key: "Amqp".to_owned(),
                devices: 80,
                sessions: 308,
                events: 196,
                problem_events: 66,
                device_hours_offline: 11.3,
                top_cause: Some(Cause::NetworkOutage),
            },
        ],
        session_lengths: histogram(),
    }
}
