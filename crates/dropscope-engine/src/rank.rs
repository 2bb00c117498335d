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
use dropscope_model::{Cause, Event, Operation};
use rayon::prelude::*;

use crate::classify::{Rule, Verdict};
use crate::offline::{Charged, charge_offline, offline_by_cause};
use crate::partition::DeviceSet;
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
    /// The figures of the two lists, once a whole fleet's were summarised list by list and
    /// dropped ([`cause_tallies`] for [`rank`]); a part of the fleet keeps its lists, to merge.
    pub(crate) summary: Option<Summary>,
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

    /// The figures of the lists (computed from them unless already summarised).
    fn summary(&mut self) -> Summary {
        self.summary.unwrap_or_else(|| Summary {
            median_reconnect: median(&mut self.reconnects),
            ages: AgeBand::of(&mut self.ages),
        })
    }
}

/// What the ranking reads of a cause's reconnect delays and session ages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    median_reconnect: Option<i64>,
    ages: AgeBand,
}

/// The band of a cause's session ages: the 10th and 90th percentile, how many ages lie between
/// them (both included), and how many there are (0, 0, 0, 0 for none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct AgeBand {
    lo: i64,
    hi: i64,
    within: u64,
    len: u64,
}

impl AgeBand {
    /// The band of `ages`, which it reorders.
    fn of(ages: &mut [i64]) -> AgeBand {
        let len = ages.len();
        if len == 0 {
            return AgeBand::default();
        }
        let lo = *ages.select_nth_unstable(len / 10).1;
        let hi = *ages.select_nth_unstable((len * 9 / 10).min(len - 1)).1;
        let within = ages.iter().filter(|&&age| age >= lo && age <= hi).count() as u64;
        AgeBand { lo, hi, within, len: len as u64 }
    }
}

/// The median (the upper one of an even count) of `values`, which it reorders.
fn median(values: &mut [i64]) -> Option<i64> {
    let middle = values.len() / 2;
    (!values.is_empty()).then(|| *values.select_nth_unstable(middle).1)
}

/// One of the two value lists of a [`CauseTally`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum List {
    Reconnects,
    Ages,
}

pub(crate) fn add_counts<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
    for (key, n) in from {
        *into.entry(key).or_default() += n;
    }
}

/// A [`CauseTally`] while the records are walked: devices as a bit set, texts borrowed, the few
/// rules of a cause in a short list (a tree lookup per record cost more than the rest of the
/// tally), and the value lists only counted: they are filled once their sizes are known.
#[derive(Default)]
struct Tally<'a> {
    disconnects: u64,
    failed_connects: u64,
    /// The devices hit, as a bit per device number.
    devices: DeviceSet,
    /// How many reconnect delays and session ages the lists will hold.
    reconnects: usize,
    ages: usize,
    rules: Vec<(Rule, u64)>,
    codes: BTreeMap<u32, u64>,
    /// Masked IPs, counted for [`Cause::NetworkOutage`] only.
    prefixes: BTreeMap<&'a str, u64>,
    first: i64,
    last: i64,
}

/// Whether a verdict's session age goes into its cause's list: only token renewals' evidence
/// reads session ages.
fn keeps_age(event: &Event, verdict: &Verdict) -> bool {
    event.operation == Operation::Disconnect && verdict.cause == Cause::TokenExpiry
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
        } else {
            self.failed_connects += 1;
        }
        self.ages += usize::from(keeps_age(event, verdict) && verdict.session_age().is_some());
        self.reconnects += usize::from(verdict.reconnect_delay().is_some());
        if let Some(device) = device {
            self.devices.insert(device);
        }
        match self.rules.iter_mut().find(|(rule, _)| *rule == verdict.rule) {
            Some((_, n)) => *n += 1,
            None => self.rules.push((verdict.rule, 1)),
        }
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
        self.reconnects += other.reconnects;
        self.ages += other.ages;
        for (rule, n) in other.rules {
            match self.rules.iter_mut().find(|(r, _)| *r == rule) {
                Some((_, have)) => *have += n,
                None => self.rules.push((rule, n)),
            }
        }
        add_counts(&mut self.codes, other.codes);
        add_counts(&mut self.prefixes, other.prefixes);
    }

    /// The owned tally, its value lists allocated to their size but still empty.
    fn owned(self) -> CauseTally {
        CauseTally {
            disconnects: self.disconnects,
            failed_connects: self.failed_connects,
            devices: self.devices.len(),
            offline_ns: 0,
            reconnects: Vec::with_capacity(self.reconnects),
            ages: Vec::with_capacity(self.ages),
            rules: self.rules.into_iter().collect(),
            codes: self.codes,
            prefixes: self.prefixes.into_iter().map(|(k, n)| (k.to_owned(), n)).collect(),
            summary: None,
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
    charged: &Charged,
) -> Vec<RankedCause> {
    ranked(
        summarised_tallies(events, verdicts, table, charged),
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

/// What the ranking counts of each cause of `verdicts` (of `events`, with `charged`: the time
/// charged to each and the SDKs before them, [`charge_offline`]) but the confidences, each
/// cause's value lists whole (a part of the fleet's, to merge).
pub fn cause_tallies(
    events: &[Event],
    verdicts: &[Verdict],
    table: &SessionTable,
    charged: &Charged,
) -> BTreeMap<Cause, CauseTally> {
    let mut tallies = counted_tallies(events, verdicts, table, charged);
    fill_lists(events, verdicts, &mut tallies, |_, _| true);
    tallies
}

/// [`cause_tallies`] of a whole fleet, each value list summarised ([`CauseTally::summary`]) and
/// dropped. The lists are filled a few at a time, the longest alone, so that no more values are
/// held at once than the longest list has (all at once took 80 MB on 10 M records, at the run's
/// peak).
fn summarised_tallies(
    events: &[Event],
    verdicts: &[Verdict],
    table: &SessionTable,
    charged: &Charged,
) -> BTreeMap<Cause, CauseTally> {
    let mut tallies = counted_tallies(events, verdicts, table, charged);
    let mut lists: Vec<(usize, Cause, List)> = tallies
        .iter()
        .flat_map(|(&cause, tally)| {
            [
                (tally.reconnects.capacity(), cause, List::Reconnects),
                (tally.ages.capacity(), cause, List::Ages),
            ]
        })
        .filter(|&(len, ..)| len > 0)
        .collect();
    lists.sort_unstable_by(|a, b| b.cmp(a));
    let budget = lists.first().map_or(0, |&(len, ..)| len);
    let mut passes: Vec<(usize, Vec<(Cause, List)>)> = Vec::new();
    for (len, cause, list) in lists {
        match passes.iter_mut().find(|(held, _)| held + len <= budget) {
            Some((held, pass)) => {
                *held += len;
                pass.push((cause, list));
            }
            None => passes.push((len, vec![(cause, list)])),
        }
    }
    for tally in tallies.values_mut() {
        tally.summary = Some(Summary::default());
    }
    for (_, pass) in passes {
        fill_lists(events, verdicts, &mut tallies, |cause, list| pass.contains(&(cause, list)));
        for (cause, list) in pass {
            let Some(tally) = tallies.get_mut(&cause) else { continue };
            let summary = tally.summary.get_or_insert_default();
            match list {
                List::Reconnects => {
                    summary.median_reconnect = median(&mut tally.reconnects);
                    tally.reconnects = Vec::new();
                }
                List::Ages => {
                    summary.ages = AgeBand::of(&mut tally.ages);
                    tally.ages = Vec::new();
                }
            }
        }
    }
    tallies
}

/// Fills the value lists that `wanted` picks (by cause and list) of `tallies` (from
/// [`counted_tallies`], each list allocated to its size), in the verdicts' order.
fn fill_lists(
    events: &[Event],
    verdicts: &[Verdict],
    tallies: &mut BTreeMap<Cause, CauseTally>,
    wanted: impl Fn(Cause, List) -> bool,
) {
    let mut wants = [(false, false); Cause::ALL.len()];
    // Each cause's tally at `cause as usize`: no map lookup a verdict.
    let mut slots: [Option<&mut CauseTally>; Cause::ALL.len()] = Default::default();
    for (&cause, tally) in tallies.iter_mut() {
        wants[cause as usize] = (wanted(cause, List::Reconnects), wanted(cause, List::Ages));
        slots[cause as usize] = Some(tally);
    }
    for verdict in verdicts {
        let (reconnects, ages) = wants[verdict.cause as usize];
        if !(reconnects || ages) {
            continue;
        }
        let (Some(event), Some(tally)) =
            (events.get(verdict.index()), slots[verdict.cause as usize].as_deref_mut())
        else {
            continue;
        };
        if reconnects {
            tally.reconnects.extend(verdict.reconnect_delay());
        }
        if ages && keeps_age(event, verdict) {
            tally.ages.extend(verdict.session_age());
        }
    }
}

/// [`cause_tallies`] with the value lists allocated to their size but left empty.
fn counted_tallies(
    events: &[Event],
    verdicts: &[Verdict],
    table: &SessionTable,
    charged: &Charged,
) -> BTreeMap<Cause, CauseTally> {
    let device_of = &table.partition.event_device;
    // Everything in a tally is a count or an extreme, so parts of the verdicts are tallied in
    // parallel; the value lists are filled after, in the verdicts' order, each allocated once to
    // its size (growing them while tallying held them up to twice over).
    let part = verdicts.len().div_ceil(4 * rayon::current_num_threads()).max(1 << 14);
    let tallies = verdicts
        .par_chunks(part)
        .map(|part| {
            let mut tallies: [Tally<'_>; Cause::ALL.len()] = Default::default();
            for verdict in part {
                if let Some(event) = events.get(verdict.index()) {
                    let device = device_of.get(verdict.index()).copied();
                    tallies[verdict.cause as usize].add(event, verdict, device);
                }
            }
            tallies
        })
        .reduce_with(|mut all, part| {
            for (all, part) in all.iter_mut().zip(part) {
                all.absorb(part);
            }
            all
        })
        .unwrap_or_default();
    let mut tallies: BTreeMap<Cause, CauseTally> = Cause::ALL
        .into_iter()
        .zip(tallies)
        .filter(|(_, tally)| tally.disconnects + tally.failed_connects > 0)
        .map(|(cause, tally)| (cause, tally.owned()))
        .collect();
    for (&(cause, family), &n) in &charged.sdks {
        tallies.entry(cause).or_default().sdks.insert(family.to_owned(), n);
    }
    for (cause, ns) in offline_by_cause(verdicts, &charged.offline_ns) {
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
        let summary = tally.summary();
        let mut ranked = RankedCause::new(cause);
        ranked.disconnects = tally.disconnects;
        ranked.failed_connects = tally.failed_connects;
        ranked.devices = tally.devices;
        ranked.device_hours_offline = tally.offline_ns as f64 / HOUR_NS;
        ranked.share = n as f64 / records.max(1) as f64;
        ranked.mean_confidence = confidence[cause as usize] / n as f64;
        ranked.median_reconnect_delay_ns = summary.median_reconnect;
        ranked.evidence = evidence(cause, &tally, &summary);
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

/// One sentence of measured figures for a cause (`summary`: of `tally`'s lists).
fn evidence(cause: Cause, tally: &CauseTally, summary: &Summary) -> String {
    let count = tally.records();
    let n = thousands(count);
    let devices = thousands(tally.devices);
    let rule_share = |rules: &[Rule]| {
        percent(rules.iter().map(|r| tally.rules.get(r).copied().unwrap_or(0)).sum(), count)
    };
    let median_reconnect = summary
        .median_reconnect
        .map_or("never".to_owned(), |ns| format!("after {}", dropscope_model::Duration(ns)));
    let sdks: Vec<String> = top(&tally.sdks, 2).into_iter().map(|(name, _)| name).collect();
    let span = dropscope_model::Duration(tally.last - tally.first).to_string();
    match cause {
        Cause::TokenExpiry => {
            let AgeBand { lo, hi, within, len } = summary.ages;
            format!(
                "{}% of these disconnects come {:.0}–{:.0} min after connect on {} devices, and the median reconnect is {}: SAS token renewal.",
                percent(within, len),
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

    proptest::proptest! {
        /// The selections find what the sorted list shows: its middle value, its 10th and 90th
        /// percentile and the values between them.
        #[test]
        fn summaries_select_what_a_sorted_list_shows(
            values in proptest::collection::vec(-50_i64..50, 0..60),
        ) {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            proptest::prop_assert_eq!(median(&mut values.clone()), sorted.get(sorted.len() / 2).copied());
            let band = AgeBand::of(&mut values.clone());
            let len = sorted.len();
            let expected = if len == 0 {
                AgeBand::default()
            } else {
                let (lo, hi) = (sorted[len / 10], sorted[(len * 9 / 10).min(len - 1)]);
                let within = sorted.iter().filter(|&&v| v >= lo && v <= hi).count() as u64;
                AgeBand { lo, hi, within, len: len as u64 }
            };
            proptest::prop_assert_eq!(band, expected);
        }
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
