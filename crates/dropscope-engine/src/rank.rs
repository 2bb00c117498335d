//! Ranking causes by impact, with evidence statements and documented resolutions.
//!
//! Impact is device-hours offline, then devices affected, then records. A device's offline time
//! runs from a disconnect to its next successful connect (or the end of its hub's records) and is
//! charged to the latest classified record in that gap, so a throttled reconnect wave's time goes
//! to throttling and a device locked out by bad credentials charges `auth_failure`. The
//! accounting is `crate::offline`'s (it knows the sessions, so a conflict overlapped by the
//! next session opens no gap). Benign causes (token renewals, clean closes, upgrades) are flagged,
//! so that nobody is paged for them.
//!
//! The ranking is built in two steps, so that parts of the fleet can be tallied apart
//! ([`fleet`], for Spark): [`cause_tallies`] counts each cause's records into a
//! [`CauseTally`] (counts, extremes, value lists: all of it merges by adding), and [`ranked`]
//! turns the tallies, each cause's sum of confidences ([`confidence_sums`]: a float sum in input
//! order, which does not merge) and the number of records into the ranking.

use std::collections::BTreeMap;

use dropscope_model::findings::{RankedCause, thousands};
use dropscope_model::{Cause, Event, FxHashMap, Operation};
use rayon::prelude::*;

use crate::classify::timeline::device_order;
use crate::classify::{Rule, Verdict};
use crate::offline::{VerdictIndex, charge_offline, offline_by_cause};
use crate::partition::DeviceSet;
use crate::sdk::sdk_family;
use crate::sessions::SessionTable;

pub mod fleet;

const SECOND: f64 = 1e9;
const HOUR_NS: f64 = 3_600e9;

/// The documented resolution of a cause (docs/research/iothub-logs.md §3, docs/DESIGN.md).
pub fn resolution(cause: Cause) -> &'static str {
    match cause {
        Cause::TokenExpiry => {
            "Benign churn: filter it from alerts (a disconnect followed by a connect within a minute); if the volume matters, renew before expiry (the C SDK does) or use AMQP, which refreshes tokens without disconnecting."
        }
        Cause::AuthFailure => {
            "Check the device's keys and certificates (expired, thumbprint registered), clock drift over 5 minutes (NTP), and that the device is enabled."
        }
        Cause::KeepaliveTimeout => {
            "Check device connectivity and application health; do not raise the keep-alive on unreliable networks, and use the latest SDK."
        }
        Cause::NetworkOutage => {
            "Check the site's network (ISP, cellular cell, firewall); the hub is not at fault."
        }
        Cause::ServerError => {
            "Transient hub-side fault: retry with back-off (at least 5 s), check Resource Health and Azure Status; fail over manually if it persists."
        }
        Cause::ServiceUpgrade => "None needed: planned service upgrade, retries succeed.",
        Cause::Throttling => {
            "Reconnect with back-off and jitter; compare the connection rate with the tier's limit (S1: max(100, 12 x units)/s) and add units if needed."
        }
        Cause::DuplicateIdentity => "Give each client its own device identity.",
        Cause::ReconnectRace => {
            "Look at the primary error before the conflict; open a new connection only after the old one has dropped."
        }
        Cause::ClientClose => "None: the device closed its connection (shutdown, restart, deploy).",
        Cause::Unknown => "Not enough evidence: inspect the device's timeline.",
    }
}

/// What the ranking counts of one cause's records, owned: parts of a fleet holding disjoint
/// devices tallied apart [`merge`](CauseTally::merge) into the whole fleet's tally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CauseTally {
    pub(crate) disconnects: u64,
    pub(crate) failed_connects: u64,
    /// Distinct devices hit (parts hold disjoint devices, so the counts add).
    pub(crate) devices: u64,
    /// Offline time charged, ns (an `i128`: a month of a large fleet's device-time overflows an
    /// `i64` of ns).
    pub(crate) offline_ns: i128,
    /// Reconnect delays, and session ages of token renewals' disconnects (the only evidence that
    /// reads them), ns, in no order.
    pub(crate) reconnects: Vec<i64>,
    pub(crate) ages: Vec<i64>,
    pub(crate) rules: BTreeMap<Rule, u64>,
    /// Result codes, 0 for none.
    pub(crate) codes: BTreeMap<u32, u64>,
    /// Masked IPs, counted for [`Cause::NetworkOutage`] only.
    pub(crate) prefixes: BTreeMap<String, u64>,
    /// SDK families of the device's last successful connect.
    pub(crate) sdks: BTreeMap<String, u64>,
    /// The earliest and latest record's time, ns (0 when there is none).
    pub(crate) first: i64,
    pub(crate) last: i64,
}

impl CauseTally {
    /// The records counted.
    pub(crate) fn records(&self) -> u64 {
        self.disconnects + self.failed_connects
    }

    /// Adds the counts of `other` (of other records of the same cause, on other devices).
    pub fn merge(&mut self, other: CauseTally) {
        if other.records() > 0 {
            if self.records() == 0 {
                (self.first, self.last) = (other.first, other.last);
            }
            self.first = self.first.min(other.first);
            self.last = self.last.max(other.last);
        }
        self.disconnects += other.disconnects;
        self.failed_connects += other.failed_connects;
        self.devices += other.devices;
        self.offline_ns += other.offline_ns;
        self.reconnects.extend(other.reconnects);
        self.ages.extend(other.ages);
        add_counts(&mut self.rules, other.rules);
        add_counts(&mut self.codes, other.codes);
        add_counts(&mut self.prefixes, other.prefixes);
        add_counts(&mut self.sdks, other.sdks);
    }
}

pub(crate) fn add_counts<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
    for (key, n) in from {
        *into.entry(key).or_default() += n;
    }
}

/// A [`CauseTally`] while the records are walked: devices as a bit set, texts borrowed.
#[derive(Default)]
struct Tally<'a> {
    disconnects: u64,
    failed_connects: u64,
    /// The devices hit, as a bit per device number.
    devices: DeviceSet,
    reconnects: Vec<i64>,
    ages: Vec<i64>,
    rules: BTreeMap<Rule, u64>,
    codes: BTreeMap<u32, u64>,
    /// Masked IPs, counted for [`Cause::NetworkOutage`] only.
    prefixes: BTreeMap<&'a str, u64>,
    first: i64,
    last: i64,
}

impl<'a> Tally<'a> {
    /// Counts one classified record (`device`: its device number).
    fn add(&mut self, event: &'a Event, verdict: &Verdict, device: Option<u32>) {
        let time = event.time.nanos();
        if self.disconnects + self.failed_connects == 0 {
            (self.first, self.last) = (time, time);
        }
        self.first = self.first.min(time);
        self.last = self.last.max(time);
        if event.operation == Operation::Disconnect {
            self.disconnects += 1;
            // Only token renewals' evidence reads session ages.
            if verdict.cause == Cause::TokenExpiry {
                self.ages.extend(verdict.session_age());
            }
        } else {
            self.failed_connects += 1;
        }
        self.reconnects.extend(verdict.reconnect_delay());
        if let Some(device) = device {
            self.devices.insert(device);
        }
        *self.rules.entry(verdict.rule).or_default() += 1;
        *self.codes.entry(event.code().unwrap_or(0)).or_default() += 1;
        // Only a network outage's evidence names its networks (millions of text keys otherwise).
        if verdict.cause == Cause::NetworkOutage
            && let Some(prefix) = event.masked_ip.as_deref()
        {
            *self.prefixes.entry(prefix).or_default() += 1;
        }
    }

    /// Adds the counts of `other` (of other records of the same cause).
    fn absorb(&mut self, other: Tally<'a>) {
        if other.disconnects + other.failed_connects > 0 {
            if self.disconnects + self.failed_connects == 0 {
                (self.first, self.last) = (other.first, other.last);
            }
            self.first = self.first.min(other.first);
            self.last = self.last.max(other.last);
        }
        self.disconnects += other.disconnects;
        self.failed_connects += other.failed_connects;
        self.devices.union(&other.devices);
        self.reconnects.extend(other.reconnects);
        self.ages.extend(other.ages);
        add_counts(&mut self.rules, other.rules);
        add_counts(&mut self.codes, other.codes);
        add_counts(&mut self.prefixes, other.prefixes);
    }

    fn owned(self) -> CauseTally {
        CauseTally {
            disconnects: self.disconnects,
            failed_connects: self.failed_connects,
            devices: self.devices.len(),
            offline_ns: 0,
            reconnects: self.reconnects,
            ages: self.ages,
            rules: self.rules,
            codes: self.codes,
            prefixes: self.prefixes.into_iter().map(|(k, n)| (k.to_owned(), n)).collect(),
            sdks: BTreeMap::new(),
            first: self.first,
            last: self.last,
        }
    }
}

/// Ranks the causes of `verdicts` (from [`crate::classify::classify`] on the same `events`):
/// every cause with at least one record, most impact first (device-hours offline, then devices,
/// then records, then taxonomy order), benign causes among them, flagged
/// ([`RankedCause::benign`]).
pub fn rank(events: &[Event], verdicts: &[Verdict], table: &SessionTable) -> Vec<RankedCause> {
    rank_charged(events, verdicts, table, &charge_offline(events, table, verdicts))
}

/// [`rank`], with the offline time charged to each verdict already counted
/// ([`charge_offline`], which [`crate::analyse`] shares with the report's sections).
pub fn rank_charged(
    events: &[Event],
    verdicts: &[Verdict],
    table: &SessionTable,
    offline: &[i64],
) -> Vec<RankedCause> {
    ranked(
        cause_tallies(events, verdicts, table, offline),
        &confidence_sums(events, verdicts),
        verdicts.len() as u64,
    )
}

/// Each cause's sum of the confidences of its verdicts (indexed by `cause as usize`), summed
/// in the verdicts' order: a float sum depends on the order, so it is the one figure of the
/// ranking that parts of the fleet cannot sum apart.
pub fn confidence_sums(events: &[Event], verdicts: &[Verdict]) -> [f64; Cause::ALL.len()] {
    let mut confidence = [0.0_f64; Cause::ALL.len()];
    for verdict in verdicts.iter().filter(|v| v.index() < events.len()) {
        confidence[verdict.cause as usize] += verdict.confidence;
    }
    confidence
}

/// What the ranking counts of each cause of `verdicts` (of `events`, with `offline`: the time
/// charged to each, [`charge_offline`]) but the confidences.
pub fn cause_tallies(
    events: &[Event],
    verdicts: &[Verdict],
    table: &SessionTable,
    offline: &[i64],
) -> BTreeMap<Cause, CauseTally> {
    let device_of = &table.partition.event_device;
    let index = VerdictIndex::new(verdicts);
    // Everything in a tally is a count, an extreme or a list sorted later, so the verdicts are
    // tallied in parallel.
    let tallies = verdicts
        .par_iter()
        .fold(BTreeMap::new, |mut tallies: BTreeMap<Cause, Tally<'_>>, verdict| {
            if let Some(event) = events.get(verdict.index()) {
                let device = device_of.get(verdict.index()).copied();
                tallies.entry(verdict.cause).or_default().add(event, verdict, device);
            }
            tallies
        })
        .reduce(BTreeMap::new, |mut all, part| {
            for (cause, tally) in part {
                all.entry(cause).or_default().absorb(tally);
            }
            all
        });
    let mut tallies: BTreeMap<Cause, CauseTally> =
        tallies.into_iter().map(|(cause, tally)| (cause, tally.owned())).collect();

    // SDKs, walking each device in time order; each device's pairs are counted as it goes, so
    // memory holds a few pairs a device, not one a verdict.
    // A few texts are every connect's user agent: each is parsed once per worker.
    let device_sdks: Vec<Vec<((Cause, &str), u64)>> = (0..table.partition.n_devices())
        .into_par_iter()
        .map_init(FxHashMap::<u32, &'static str>::default, |families, device| {
            let mut found = Vec::new();
            let mut sdk: Option<&str> = None;
            for idx in device_order(events, table.partition.device(device)) {
                let event = &events[idx];
                if event.operation == Operation::Connect && !event.level.is_error() {
                    let family = event.sdk_version.map(|agent| {
                        *families
                            .entry(agent.handle())
                            .or_insert_with(|| sdk_family(agent.as_str()))
                    });
                    sdk = family.or(sdk);
                    continue;
                }
                if let Some(verdict) = index.get(idx)
                    && let Some(family) = sdk
                {
                    found.push((verdict.cause, family));
                }
            }
            found.sort_unstable();
            let mut counted: Vec<((Cause, &str), u64)> = Vec::new();
            for pair in found {
                match counted.last_mut() {
                    Some((last, n)) if *last == pair => *n += 1,
                    _ => counted.push((pair, 1)),
                }
            }
            counted
        })
        .collect();
    let mut sdks: BTreeMap<(Cause, &str), u64> = BTreeMap::new();
    for (pair, n) in device_sdks.into_iter().flatten() {
        *sdks.entry(pair).or_default() += n;
    }
    for ((cause, family), n) in sdks {
        tallies.entry(cause).or_default().sdks.insert(family.to_owned(), n);
    }
    for (cause, ns) in offline_by_cause(verdicts, offline) {
        tallies.entry(cause).or_default().offline_ns = ns;
    }
    tallies
}

/// The ranking from each cause's tally, its sum of confidences ([`confidence_sums`]) and the
/// number of classified records: every cause with at least one record, most impact first.
pub fn ranked(
    tallies: BTreeMap<Cause, CauseTally>,
    confidence: &[f64; Cause::ALL.len()],
    records: u64,
) -> Vec<RankedCause> {
    let mut causes = Vec::new();
    for (cause, mut tally) in tallies {
        let n = tally.records();
        if n == 0 {
            continue;
        }
        tally.reconnects.par_sort_unstable();
        tally.ages.par_sort_unstable();
        let mut ranked = RankedCause::new(cause);
        ranked.disconnects = tally.disconnects;
        ranked.failed_connects = tally.failed_connects;
        ranked.devices = tally.devices;
        ranked.device_hours_offline = tally.offline_ns as f64 / HOUR_NS;
        ranked.share = n as f64 / records.max(1) as f64;
        ranked.mean_confidence = confidence[cause as usize] / n as f64;
        ranked.median_reconnect_delay_ns = median(&tally.reconnects);
        ranked.evidence = evidence(cause, &tally);
        resolution(cause).clone_into(&mut ranked.resolution);
        causes.push(ranked);
    }
    causes.sort_by(|a, b| {
        b.device_hours_offline
            .total_cmp(&a.device_hours_offline)
            .then(b.devices.cmp(&a.devices))
            .then(b.events().cmp(&a.events()))
            .then(a.cause.cmp(&b.cause))
    });
    causes
}

fn median(sorted: &[i64]) -> Option<i64> {
    sorted.get(sorted.len() / 2).copied()
}

fn percent(part: u64, whole: u64) -> u64 {
    (part * 100 + whole / 2).checked_div(whole).unwrap_or(0)
}

fn top<K: Clone + Ord>(counts: &BTreeMap<K, u64>, n: usize) -> Vec<(K, u64)> {
    let mut items: Vec<(K, u64)> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    items.truncate(n);
    items
}

fn and_list(names: &[String]) -> String {
    match names {
        [] => "unidentified".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// One sentence of measured figures for a cause (`tally`'s lists sorted).
fn evidence(cause: Cause, tally: &CauseTally) -> String {
    let count = tally.records();
    let n = thousands(count);
    let devices = thousands(tally.devices);
    let rule_share = |rules: &[Rule]| {
        percent(rules.iter().map(|r| tally.rules.get(r).copied().unwrap_or(0)).sum(), count)
    };
    let median_reconnect = median(&tally.reconnects)
        .map_or("never".to_owned(), |ns| format!("after {}", dropscope_model::Duration(ns)));
    let sdks: Vec<String> = top(&tally.sdks, 2).into_iter().map(|(name, _)| name).collect();
    let span = dropscope_model::Duration(tally.last - tally.first).to_string();
    match cause {
        Cause::TokenExpiry => {
            let (lo, hi) = match tally.ages.len() {
                0 => (0, 0),
                len => (tally.ages[len / 10], tally.ages[(len * 9 / 10).min(len - 1)]),
            };
            let in_range = tally.ages.iter().filter(|&&a| a >= lo && a <= hi).count() as u64;
            format!(
                "{}% of these disconnects come {:.0}–{:.0} min after connect on {} devices, and the median reconnect is {}: SAS token renewal.",
                percent(in_range, tally.ages.len() as u64),
                lo as f64 / SECOND / 60.0,
                hi as f64 / SECOND / 60.0,
                and_list(&sdks),
                median_reconnect.trim_start_matches("after ")
            )
        }
        Cause::AuthFailure => format!(
            "{devices} devices were refused {n} times ({}% in runs of repeated refusals), median reconnect {median_reconnect}: credentials the hub rejects.",
            rule_share(&[Rule::CredentialsRejected])
        ),
        Cause::KeepaliveTimeout => format!(
            "{n} silent drops (404104) on {devices} devices, each alone on its network at the time, median reconnect {median_reconnect}: devices that went quiet."
        ),
        Cause::NetworkOutage => {
            let networks: Vec<String> =
                top(&tally.prefixes, 2).into_iter().map(|(p, _)| p).collect();
            format!(
                "{n} drops on {devices} devices behind {} within {span}, other networks unaffected; median reconnect {median_reconnect}.",
                and_list(&networks)
            )
        }
        Cause::ServerError => format!(
            "{}% carry hub-side codes (5xx) and {}% are simultaneous drops across many networks, on {devices} devices within {span}.",
            rule_share(&[Rule::ServerFault]),
            rule_share(&[Rule::FleetWideBurst])
        ),
        Cause::ServiceUpgrade => format!(
            "{n} upgrade closures and refusals (400029/400030) on {devices} devices within {span}, median reconnect {median_reconnect}."
        ),
        Cause::Throttling => format!(
            "{n} 429xxx refusals on {devices} devices within {span}, {}% of them during a reconnect wave.",
            percent(tally.rules.get(&Rule::ReconnectWaveThrottle).copied().unwrap_or(0), count)
        ),
        Cause::DuplicateIdentity => format!(
            "{n} connection conflicts (400027/409002) on {devices} devices; {}% while the identity's connects alternated between IPs or SDKs.",
            rule_share(&[Rule::IdentityAlternation])
        ),
        Cause::ReconnectRace => format!(
            "{n} one-off conflicts on {devices} devices, {}% within 10 min of another error on the same device.",
            rule_share(&[Rule::ConflictAfterError])
        ),
        Cause::ClientClose => format!(
            "{n} informational disconnects on {devices} devices away from any renewal age, median reconnect {median_reconnect}."
        ),
        Cause::Unknown => {
            let codes: Vec<String> = top(&tally.codes, 3)
                .into_iter()
                .map(|(code, _)| if code == 0 { "no code".to_owned() } else { code.to_string() })
                .collect();
            format!(
                "{n} records on {devices} devices with codes no rule explains ({}).",
                and_list(&codes)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::tests::events;
    use crate::classify::{ClassifyConfig, classify};

    fn check(lines: &[&str], expected: &str) {
        let events = events(lines);
        let verdicts = classify(&events, &ClassifyConfig::default());
        let causes = rank(&events, &verdicts, &crate::sessions::build(&events));
        let line = |r: &RankedCause| {
            format!(
                "{} n={}+{} dev={} h={:.2} med={:?}",
                r.cause,
                r.disconnects,
                r.failed_connects,
                r.devices,
                r.device_hours_offline,
                r.median_reconnect_delay_ns.map(|ns| ns as f64 / SECOND)
            )
        };
        let mut got: Vec<String> = causes.iter().filter(|r| !r.benign).map(line).collect();
        got.push("--".to_owned());
        got.extend(causes.iter().filter(|r| r.benign).map(line));
        assert_eq!(got.join("\n"), expected);
        for ranked in &causes {
            assert!(ranked.evidence.ends_with('.'), "{}", ranked.evidence);
            assert!(!ranked.resolution.is_empty());
        }
    }

    #[test]
    fn ranks_by_offline_time_and_flags_the_benign() {
        check(
            &[
                "a 0 c 10.0.1.XXX",
                "a 1h d 404104",
                "a 1h30m c",
                "b 0 c 10.0.2.XXX",
                "b 1h d 401003",
                "b 1h1s f 401003",
                "b 1h2s f 401003",
                "b 3h f 401003",
                "c 0 c 10.0.3.XXX sdk=.NET",
                "c 1h6m d 401003",
                "c 1h6m d 404104",
                "c 1h6m5s c",
                "c 2h d",
                "c 2h10m c",
            ],
            "auth_failure n=1+3 dev=1 h=2.00 med=None\n\
             keepalive_timeout n=1+0 dev=1 h=0.50 med=Some(1800.0)\n\
             --\n\
             client_close n=1+0 dev=1 h=0.17 med=Some(600.0)\n\
             token_expiry n=2+0 dev=1 h=0.00 med=Some(5.0)",
        );
    }

    #[test]
    fn evidence_quotes_the_measured_figures() {
        let events = events(&["a 0 c 10.0.1.XXX", "a 1h d 400029", "a 1h5s c"]);
        let verdicts = classify(&events, &ClassifyConfig::default());
        let causes = rank(&events, &verdicts, &crate::sessions::build(&events));
        assert_eq!(
            causes[0].evidence,
            "1 upgrade closures and refusals (400029/400030) on 1 devices within 0 s, median reconnect after 5 s."
        );
    }
}
