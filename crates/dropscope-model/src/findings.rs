//! [`Findings`]: everything a post-mortem report shows, as plain data the report crate renders.
//!
//! The engine fills a [`Findings`] value; `dropscope-report` turns it into HTML, Markdown and
//! JSON without computing anything a reader would have to trust it for. So every figure that
//! appears in a report is a field here, already measured. Lists are in the order they are shown:
//! the engine sorts them (the sort key is documented on each field), and renderers never reorder.
//!
//! Durations are nanoseconds in `i64`, like [`Session::duration_ns`](crate::Session); shares
//! and confidences are fractions in `[0, 1]`, not percentages.
//!
//! ```
//! use dropscope_model::findings::{Findings, RankedCause};
//! use dropscope_model::Cause;
//!
//! let mut findings = Findings::new("Post-mortem: contoso-hub");
//! findings.causes.push(RankedCause::new(Cause::NetworkOutage));
//! assert_eq!(findings.causes[0].cause.as_str(), "network_outage");
//! ```

use std::collections::BTreeMap;

use crate::{Cause, Timestamp};

/// One minute in nanoseconds.
pub const MINUTE_NS: i64 = 60_000_000_000;

/// Everything a post-mortem report shows (docs/DESIGN.md "Report").
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Findings {
    /// The report's title, e.g. `Disconnect post-mortem: contoso-hub`.
    pub title: String,
    /// The hub names seen in the input, lower-cased, sorted, distinct.
    pub hubs: Vec<String>,
    /// The first record's time, `None` when no record was parsed.
    pub window_start: Option<Timestamp>,
    /// The last record's time, `None` when no record was parsed.
    pub window_end: Option<Timestamp>,
    /// Distinct devices seen (device id, plus module id when a module connected): the fleet size.
    pub devices: u64,
    /// Reconstructed sessions.
    pub sessions: u64,
    /// `deviceDisconnect` records after de-duplication.
    pub disconnects: u64,
    /// `deviceConnect` records at level Error or Critical (failed connects).
    pub failed_connects: u64,
    /// How much of the input was read, rejected, de-duplicated and repaired.
    pub quality: DataQuality,
    /// Every cause with at least one disconnect or failed connect, most impact first:
    /// device-hours offline, then devices, then events (disconnects plus failed connects), then
    /// taxonomy order. Benign causes are included, flagged with [`RankedCause::benign`].
    pub causes: Vec<RankedCause>,
    /// Benign churn (token renewals, clean closes, planned upgrades with quick reconnects),
    /// counted apart so that nobody is paged for it.
    pub benign: BenignChurn,
    /// The rebuilt Connected-devices curve, one point per minute of the window, in time order,
    /// with no missing minute.
    pub curve: Vec<CurvePoint>,
    /// The replay of the metric alert "Connected devices below N for M minutes" over
    /// [`Findings::curve`].
    pub alert: AlertReplay,
    /// Fleet incidents, in start-time order. [`AlertFiring::incident`] indexes this list.
    pub incidents: Vec<Incident>,
    /// Devices whose identity two clients seem to share, most conflicts first, then device id.
    pub duplicate_suspects: Vec<DuplicateSuspect>,
    /// The devices that disconnected most often (real problems, benign churn excluded), most
    /// disconnects first, then device id. The engine keeps the top few (about 10).
    pub flapping: Vec<FlappingDevice>,
    /// Devices, sessions and disconnects per SDK (the `sdkVersion` user agent as logged), most
    /// disconnects first, then key.
    pub by_sdk: Vec<Breakdown>,
    /// The same per protocol (`Mqtt`, `Amqp`, `MqttWs` ...), most disconnects first, then key.
    pub by_protocol: Vec<Breakdown>,
    /// Session-length histogram of closed sessions (both ends known), buckets in ascending
    /// order, contiguous. Token lifetimes show as spikes (45, 48, 60–70 min ...).
    pub session_lengths: Vec<HistogramBucket>,
}

impl Findings {
    /// Empty findings with a title: no record, no cause, no curve.
    pub fn new(title: &str) -> Findings {
        Findings { title: title.to_owned(), ..Findings::default() }
    }

    /// Disconnects plus failed connects: every event that carries a cause.
    pub fn classified_events(&self) -> u64 {
        self.disconnects + self.failed_connects
    }
}

/// What was read, rejected, de-duplicated and repaired.
///
/// Every record read is accounted for exactly once:
/// `records_read == parsed + duplicates + rejected.values().sum()`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataQuality {
    /// Input files read (after walking directories; stdin counts as one).
    pub files: u64,
    /// Records found in the input, whatever became of them.
    pub records_read: u64,
    /// Records kept: parsed and distinct.
    pub parsed: u64,
    /// Records dropped because an identical record was already kept (overlapping exports).
    pub duplicates: u64,
    /// Records rejected, by reason (the reject reason's short name, e.g. `bad_time`,
    /// `truncated`); a `BTreeMap` so the order is by name.
    pub rejected: BTreeMap<String, u64>,
    /// Up to a few rejected records as examples, in input order, so a reader can find them.
    pub reject_examples: Vec<RejectExample>,
    /// Records that arrived out of time order (in a later file, or later in a file, than a
    /// record with a later time); they were sorted into place.
    pub reordered: u64,
    /// Sessions with each repair (a [`Repairs`](crate::Repairs) flag name such as
    /// `missing_connect`), by name. A session with two repairs counts under both.
    pub repairs: BTreeMap<String, u64>,
}

impl DataQuality {
    /// All rejected records, whatever the reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// One rejected record, for the report's data-quality section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectExample {
    /// The file, as given on the command line or relative to the input directory.
    pub file: String,
    /// The 1-based line (or row) of the record in that file.
    pub line: u64,
    /// The reason's short name, as in [`DataQuality::rejected`].
    pub reason: String,
}

/// One root cause and its impact, a row of the ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedCause {
    /// The cause.
    pub cause: Cause,
    /// `deviceDisconnect` records given this cause.
    pub disconnects: u64,
    /// Failed connects given this cause (auth failures and throttling are mostly these).
    pub failed_connects: u64,
    /// Distinct devices with at least one such event.
    pub devices: u64,
    /// Device-hours offline after these disconnects: the sum, over the disconnects given this
    /// cause, of the time until the device's next session began (up to the window's end).
    pub device_hours_offline: f64,
    /// `(disconnects + failed_connects)` over all classified events ([`Findings::classified_events`]).
    pub share: f64,
    /// The classifier's mean confidence over these events, in `[0, 1]`.
    pub mean_confidence: f64,
    /// Median time from such a disconnect to the device's next successful connect, in
    /// nanoseconds; `None` when no device reconnected.
    pub median_reconnect_delay_ns: Option<i64>,
    /// One sentence of evidence built from measured figures, e.g. "91% of these disconnects come
    /// 65–70 min after connect on .NET and Java devices: SAS renewal".
    pub evidence: String,
    /// The documented resolution, in one or two sentences.
    pub resolution: String,
    /// Benign churn that should page nobody (token renewals, clean closes, planned upgrades).
    pub benign: bool,
}

impl RankedCause {
    /// A row with no event, for building one up; `benign` follows [`Cause::is_benign`].
    pub fn new(cause: Cause) -> RankedCause {
        RankedCause {
            cause,
            disconnects: 0,
            failed_connects: 0,
            devices: 0,
            device_hours_offline: 0.0,
            share: 0.0,
            mean_confidence: 0.0,
            median_reconnect_delay_ns: None,
            evidence: String::new(),
            resolution: String::new(),
            benign: cause.is_benign(),
        }
    }

    /// Disconnects plus failed connects.
    pub fn events(&self) -> u64 {
        self.disconnects + self.failed_connects
    }
}

/// Benign churn, counted apart from the real problems.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BenignChurn {
    /// Disconnects and failed connects classified as benign churn.
    pub events: u64,
    /// Distinct devices with benign churn.
    pub devices: u64,
    /// Device-hours offline caused by benign churn (small: reconnects are quick).
    pub device_hours_offline: f64,
    /// The same events by cause.
    pub by_cause: BTreeMap<Cause, u64>,
    /// Token renewals the device came back from at once: `token_expiry` disconnects and failed
    /// connects followed by a successful connect within two minutes.
    pub quick_renewals: u64,
    /// Distinct devices with at least one quick renewal.
    pub quick_renewal_devices: u64,
}

/// One minute of the Connected-devices curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// The minute's start, a whole minute.
    pub minute: Timestamp,
    /// The fewest devices connected at any instant of the minute.
    pub min: u64,
    /// The time-weighted mean number of devices connected over the minute.
    pub avg: f64,
    /// The most devices connected at any instant of the minute.
    pub max: u64,
}

/// The replay of the documented metric alert "Connected devices below N for M minutes".
///
/// A firing starts when the per-minute average ([`CurvePoint::avg`]) has stayed below
/// [`AlertReplay::threshold`] for [`AlertReplay::for_ns`]; it clears at the end of the first
/// minute whose average is back at or above the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertReplay {
    /// N: the alert fires when fewer devices than this are connected.
    pub threshold: u64,
    /// M: how long the curve must stay below N, in nanoseconds (a whole number of minutes).
    pub for_ns: i64,
    /// Whether N was derived from the fleet (not given by the user); the report says so.
    pub threshold_derived: bool,
    /// Each firing, in time order.
    pub firings: Vec<AlertFiring>,
}

impl AlertReplay {
    /// Firings that were benign churn.
    pub fn benign_firings(&self) -> usize {
        self.firings.iter().filter(|firing| firing.benign).count()
    }
}

/// One firing of the replayed alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFiring {
    /// The start of the first minute below the threshold.
    pub below_since: Timestamp,
    /// When the alert would have fired: `below_since` plus the alert's duration.
    pub fired_at: Timestamp,
    /// When it would have cleared; `None` when still firing at the window's end.
    pub cleared_at: Option<Timestamp>,
    /// The lowest per-minute average while below the threshold, rounded down.
    pub lowest: u64,
    /// The index in [`Findings::incidents`] of the incident this firing overlaps most, if any.
    pub incident: Option<usize>,
    /// Benign churn: it overlaps no incident, or only an incident whose dominant cause is
    /// benign ([`Cause::is_benign`]). Such a firing would have paged someone for nothing.
    pub benign: bool,
}

/// A fleet incident: a window where disconnects jumped far above the fleet's own baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The first minute of the incident.
    pub start: Timestamp,
    /// The end of the last minute of the incident (exclusive).
    pub end: Timestamp,
    /// Distinct devices that disconnected inside the window.
    pub devices: u64,
    /// Disconnect records inside the window.
    pub disconnects: u64,
    /// Failed connects inside the window.
    pub failed_connects: u64,
    /// The hottest minute's start.
    pub peak_minute: Timestamp,
    /// Disconnecting devices in the hottest minute.
    pub peak_devices: u64,
    /// The median per-minute count of disconnecting devices over the whole window.
    pub baseline: f64,
    /// The count of disconnecting devices from which a minute was hot.
    pub threshold: u64,
    /// Masked-IP /24 prefixes of the devices involved (`24.9.142`), most devices first, then
    /// prefix; the findings keep the top few.
    pub networks: Vec<NetworkShare>,
    /// The cause of most of the incident's events.
    pub dominant_cause: Cause,
    /// The share of the incident's events with the dominant cause, in `[0, 1]`.
    pub dominant_share: f64,
    /// Error codes of the incident's events, most frequent first, then code.
    pub codes: Vec<CodeCount>,
}

impl Incident {
    /// Disconnects plus failed connects inside the window.
    pub fn events(&self) -> u64 {
        self.disconnects + self.failed_connects
    }
}

/// One network (masked-IP /24 prefix) involved in an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkShare {
    /// The /24 prefix as logged, without the masked octet: `24.9.142`; the whole text when it
    /// is not dotted IPv4.
    pub prefix: String,
    /// Devices of the incident behind this prefix.
    pub devices: u64,
    /// `devices` over the incident's devices, in `[0, 1]`.
    pub share: f64,
}

/// How often an error code appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeCount {
    /// The `resultType` (404104), or `None` for informational records, which have none.
    pub code: Option<u32>,
    /// Disconnects with this code.
    pub disconnects: u64,
    /// Failed connects with this code.
    pub failed_connects: u64,
}

impl CodeCount {
    /// Records with this code: disconnects plus failed connects.
    pub fn count(&self) -> u64 {
        self.disconnects + self.failed_connects
    }
}

/// A device whose identity two clients seem to share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateSuspect {
    /// The device identity.
    pub device_id: String,
    /// 400027 and 409002 records (connection conflicts) of this device.
    pub conflicts: u64,
    /// How often consecutive sessions switched between masked IPs or SDK versions.
    pub alternations: u64,
    /// The distinct masked IPs the identity connected from, sorted.
    pub masked_ips: Vec<String>,
    /// The distinct SDK versions it connected with, sorted.
    pub sdk_versions: Vec<String>,
    /// The first conflict.
    pub first_seen: Timestamp,
    /// The last conflict.
    pub last_seen: Timestamp,
}

/// A device that disconnected often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlappingDevice {
    /// The device identity.
    pub device_id: String,
    /// Disconnects that were not benign churn.
    pub disconnects: u64,
    /// Its sessions in the window.
    pub sessions: u64,
    /// The median length of its closed sessions, in nanoseconds.
    pub median_session_ns: Option<i64>,
    /// The cause of most of its disconnects.
    pub dominant_cause: Cause,
    /// The masked IP of its last session.
    pub masked_ip: Option<String>,
    /// The SDK version of its last session.
    pub sdk_version: Option<String>,
}

/// One row of a breakdown by SDK or protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// The SDK user agent or protocol as logged; `(none)` when absent.
    pub key: String,
    /// Distinct devices.
    pub devices: u64,
    /// Sessions.
    pub sessions: u64,
    /// Disconnects and failed connects.
    pub events: u64,
    /// Of these, events that were not benign churn.
    pub problem_events: u64,
    /// Device-hours offline after those events.
    pub device_hours_offline: f64,
    /// The most frequent cause among the problem events, if any.
    pub top_cause: Option<Cause>,
}

/// One bucket of the session-length histogram: sessions with `lower_ns <= length < upper_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistogramBucket {
    /// Inclusive lower bound, in nanoseconds.
    pub lower_ns: i64,
    /// Exclusive upper bound, in nanoseconds; the last bucket may be open-ended (`i64::MAX`).
    pub upper_ns: i64,
    /// Sessions in the bucket.
    pub sessions: u64,
}

/// A count with thousands separators, as every report and evidence sentence prints counts:
/// `40,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (idx, c) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up() {
        let mut quality = DataQuality::default();
        quality.rejected.insert("truncated".to_owned(), 2);
        quality.rejected.insert("bad_time".to_owned(), 3);
        assert_eq!(quality.rejected_total(), 5);
        let mut findings = Findings::new("t");
        findings.disconnects = 7;
        findings.failed_connects = 2;
        assert_eq!(findings.classified_events(), 9);
        assert!(RankedCause::new(Cause::TokenExpiry).benign);
        assert!(!RankedCause::new(Cause::NetworkOutage).benign);
    }
}
