//! The ranking's device/fleet split: what `dropscope diagnose --json` shows, tallied by parts of
//! the fleet apart (on Spark executors) and merged, with the answer [`crate::analyse`] gives on
//! one machine.
//!
//! A part holds every record of each of its devices (a device is `(hub, device_id, module_id)`),
//! in input order, with their verdicts as the whole fleet's classification left them
//! (`crate::classify::fleet`, after round 4). [`RankTally::of`] counts the part: each cause's
//! [`CauseTally`] (records, devices, offline time, reconnect delays, session ages, rules, codes,
//! /24s, SDK families, first and last time), the benign churn ([`BenignTally`]), the classified
//! records, and the disconnects and failed connects among all the records. All of it is local
//! to a device but for three things:
//!
//! - Distinct devices: the parts hold disjoint devices, so each part's count of the devices it
//!   saw adds up to the fleet's.
//! - The end of a gap no connect closed is its hub's last record in the whole fleet: the caller
//!   charges the part's offline time with the fleet's hub ends
//!   ([`crate::offline::charge_offline_until`], [`crate::offline::hub_ends`] of each part, which
//!   merge by taking the later time).
//! - A cause's mean confidence is its float sum of confidences over its records in input order,
//!   and float addition is not associative: no split of the sum gives the same bits. The caller
//!   sums them in input order ([`add_confidences`] over the verdicts streamed in input order,
//!   batch by batch), and [`RankTally::findings`] takes the sums.
//!
//! [`RankTally::merge`] is associative and commutative ([`RankTally::default`] is the identity),
//! and the merged tally with the input-order sums gives the findings `diagnose --json` renders
//! (its causes, benign churn and counts), equal to [`crate::analyse`]'s: the proptest below
//! checks it for any partition of the devices. [`crate::rank::rank_charged`] and the report's
//! benign churn run the same tallies, so the two cannot drift apart.
//!
//! The fleet's incidents (`incidents`, the report) are not split here: they need per-minute
//! counts of problem drops per hub and /24 (which add up), but then look at the minutes around
//! each (`crate::incidents`); `diagnose --json` does not show them.
//!
//! Sizes: a few hundred bytes per cause, plus 8 bytes per classified record with a reconnect
//! delay and per disconnect with a session age (the medians and the renewal band in the
//! evidence are exact order statistics), and a count per /24 of a network outage.
//!
//! # Bytes
//!
//! [`RankTally::to_bytes`], little-endian, in the form of `crate::classify::fleet`'s: a 4-byte
//! magic `DSR1`, a version byte (1), then: classified records `u64`, disconnects `u64`, failed
//! connects `u64`; the benign churn (records `u64`, devices `u64`, offline ns `i128`, by cause
//! (list of: cause text, `u64`), quick renewals `u64`, their devices `u64`); the causes (list of:
//! cause text, disconnects `u64`, failed connects `u64`, devices `u64`, offline ns `i128`, first
//! and last time `i64`, reconnect delays (list of `i64`), session ages (list of `i64`), rules
//! (list of: rule name text, `u64`), codes (list of: `u32`, `u64`), /24s and SDK families (lists
//! of: text, `u64`)). Texts are a `u32` byte length and UTF-8; a list is a `u64` count then its
//! items. Reading checks every length against the bytes left.

use std::collections::BTreeMap;

use dropscope_model::findings::Findings;
use dropscope_model::{Cause, Event};

use crate::classify::{Rule, Verdict};
use crate::findings::{BenignTally, operation_counts};
use crate::offline::Charged;
use crate::rank::{self, CauseTally, add_counts};
use crate::sessions::SessionTable;
use crate::{Error, Result};

/// What `diagnose --json` shows of a part of the fleet, but the confidences. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RankTally {
    causes: BTreeMap<Cause, CauseTally>,
    /// Classified records (verdicts).
    records: u64,
    /// Disconnects and failed connects among all the records.
    disconnects: u64,
    failed_connects: u64,
    benign: BenignTally,
}

impl RankTally {
    /// The tally of `events` (whole devices, in input order; `table`: their sessions) and their
    /// `verdicts`, with `charged` the time charged to each verdict and the SDKs before them
    /// ([`crate::offline::charge_offline_until`] with the fleet's hub ends).
    pub fn of(
        events: &[Event],
        table: &SessionTable,
        verdicts: &[Verdict],
        charged: &Charged,
    ) -> RankTally {
        let mut causes = rank::cause_tallies(events, verdicts, table, charged);
        for tally in causes.values_mut() {
            tally.reconnects.sort_unstable();
            tally.ages.sort_unstable();
        }
        let (disconnects, failed_connects) = operation_counts(events);
        RankTally {
            causes,
            records: verdicts.len() as u64,
            disconnects,
            failed_connects,
            benign: BenignTally::of(verdicts, &table.partition.event_device, &charged.offline_ns),
        }
    }

    /// The tally of this part and `other` (of other devices) together.
    #[must_use]
    pub fn merge(self, other: RankTally) -> RankTally {
        RankTally::merge_all([self, other])
    }

    /// Every part's tally together.
    pub fn merge_all(parts: impl IntoIterator<Item = RankTally>) -> RankTally {
        let mut all = RankTally::default();
        for part in parts {
            for (cause, tally) in part.causes {
                all.causes.entry(cause).or_default().merge(tally);
            }
            all.records += part.records;
            all.disconnects += part.disconnects;
            all.failed_connects += part.failed_connects;
            all.benign.merge(part.benign);
        }
        // Sorted, so that equal tallies compare equal whatever the grouping.
        for tally in all.causes.values_mut() {
            tally.reconnects.sort_unstable();
            tally.ages.sort_unstable();
        }
        all
    }

    /// The findings `diagnose --json` renders (the ranked causes, the benign churn, the
    /// disconnect and failed-connect counts; the rest left at their defaults), with each cause's
    /// sum of confidences in input order (`confidence`, by `cause as usize`: [`add_confidences`]).
    pub fn findings(self, confidence: &[f64; Cause::ALL.len()]) -> Findings {
        Findings {
            disconnects: self.disconnects,
            failed_connects: self.failed_connects,
            benign: self.benign.churn(),
            causes: rank::ranked(self.causes, confidence, self.records),
            ..Findings::default()
        }
    }

    /// The binary form (module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(b"DSR1");
        w.0.push(1);
        w.u64(self.records);
        w.u64(self.disconnects);
        w.u64(self.failed_connects);
        let benign = &self.benign;
        w.u64(benign.events);
        w.u64(benign.devices);
        w.i128(benign.offline_ns);
        w.u64(benign.by_cause.len() as u64);
        for (cause, n) in &benign.by_cause {
            w.text(cause.as_str());
            w.u64(*n);
        }
        w.u64(benign.quick_renewals);
        w.u64(benign.quick_renewal_devices);
        w.u64(self.causes.len() as u64);
        for (cause, t) in &self.causes {
            w.text(cause.as_str());
            w.u64(t.disconnects);
            w.u64(t.failed_connects);
            w.u64(t.devices);
            w.i128(t.offline_ns);
            w.i64(t.first);
            w.i64(t.last);
            w.times(&t.reconnects);
            w.times(&t.ages);
            w.u64(t.rules.len() as u64);
            for (rule, n) in &t.rules {
                w.text(rule.name());
                w.u64(*n);
            }
            w.u64(t.codes.len() as u64);
            for (code, n) in &t.codes {
                w.u64(u64::from(*code));
                w.u64(*n);
            }
            w.counts(&t.prefixes);
            w.counts(&t.sdks);
        }
        w.0
    }

    /// Reads [`RankTally::to_bytes`]'s form back.
    pub fn from_bytes(bytes: &[u8]) -> Result<RankTally> {
        let mut r = Reader(bytes);
        if r.take(4)? != b"DSR1" {
            return Err(bad("not the ranking's tally"));
        }
        if r.take(1)? != [1] {
            return Err(bad("unknown version"));
        }
        let mut tally = RankTally {
            records: r.u64()?,
            disconnects: r.u64()?,
            failed_connects: r.u64()?,
            ..RankTally::default()
        };
        let benign = &mut tally.benign;
        benign.events = r.u64()?;
        benign.devices = r.u64()?;
        benign.offline_ns = r.i128()?;
        for _ in 0..r.len(12)? {
            let cause = r.cause()?;
            *benign.by_cause.entry(cause).or_default() += r.u64()?;
        }
        benign.quick_renewals = r.u64()?;
        benign.quick_renewal_devices = r.u64()?;
        for _ in 0..r.len(100)? {
            let cause = r.cause()?;
            let mut t = CauseTally {
                disconnects: r.u64()?,
                failed_connects: r.u64()?,
                devices: r.u64()?,
                offline_ns: r.i128()?,
                first: r.i64()?,
                last: r.i64()?,
                reconnects: r.times()?,
                ages: r.times()?,
                ..CauseTally::default()
            };
            for _ in 0..r.len(12)? {
                let rule = rule_named(&r.text()?).ok_or_else(|| bad("unknown rule"))?;
                *t.rules.entry(rule).or_default() += r.u64()?;
            }
            for _ in 0..r.len(16)? {
                let code = u32::try_from(r.u64()?).map_err(|_| bad("result code too large"))?;
                *t.codes.entry(code).or_default() += r.u64()?;
            }
            t.prefixes = r.counts()?;
            t.sdks = r.counts()?;
            if t.records() == 0 {
                return Err(bad("a cause without records"));
            }
            tally.causes.entry(cause).or_default().merge(t);
        }
        if !r.0.is_empty() {
            return Err(bad("bytes after the end"));
        }
        Ok(tally)
    }
}

/// Adds each of `verdicts`' confidences to its cause's sum (`sums`, by `cause as usize`), in the
/// order given: fed the fleet's verdicts in input order, the sums are [`crate::rank::rank`]'s.
pub fn add_confidences(
    sums: &mut [f64; Cause::ALL.len()],
    verdicts: impl IntoIterator<Item = (Cause, f64)>,
) {
    for (cause, confidence) in verdicts {
        sums[cause as usize] += confidence;
    }
}

/// The error of bytes that are not a ranking tally.
fn bad(reason: &'static str) -> Error {
    Error::FleetBytes { reason }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn i64(&mut self, value: i64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn i128(&mut self, value: i128) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn text(&mut self, text: &str) {
        // Texts here are cause and rule names, /24s and SDK families: far below 4 GiB.
        let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_le_bytes());
        self.0.extend_from_slice(&text.as_bytes()[..len as usize]);
    }

    fn times(&mut self, times: &[i64]) {
        self.u64(times.len() as u64);
        for &time in times {
            self.i64(time);
        }
    }

    fn counts(&mut self, counts: &BTreeMap<String, u64>) {
        self.u64(counts.len() as u64);
        for (text, n) in counts {
            self.text(text);
            self.u64(*n);
        }
    }
}

struct Reader<'b>(&'b [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.0.len() < n {
            return Err(bad("cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn i64(&mut self) -> Result<i64> {
        self.array().map(i64::from_le_bytes)
    }

    fn i128(&mut self) -> Result<i128> {
        self.array().map(i128::from_le_bytes)
    }

    /// A list's length, each item at least `item` bytes: never more items than bytes left.
    fn len(&mut self, item: usize) -> Result<usize> {
        let len = usize::try_from(self.u64()?).map_err(|_| bad("list too long"))?;
        if len > self.0.len() / item {
            return Err(bad("list longer than the bytes"));
        }
        Ok(len)
    }

    fn text(&mut self) -> Result<String> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| bad("text not UTF-8"))
    }

    fn cause(&mut self) -> Result<Cause> {
        Cause::parse(&self.text()?).ok_or_else(|| bad("unknown cause"))
    }

    fn times(&mut self) -> Result<Vec<i64>> {
        let len = self.len(8)?;
        (0..len).map(|_| self.i64()).collect()
    }

    fn counts(&mut self) -> Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        for _ in 0..self.len(12)? {
            let text = self.text()?;
            add_counts(&mut counts, BTreeMap::from([(text, self.u64()?)]));
        }
        Ok(counts)
    }
}

/// Every rule, to read one back from its name ([`Rule::name`]): [`rule_named`], and a match that
/// stops compiling when the classifier gains a rule not listed here.
macro_rules! every_rule {
    ($($rule:ident),+ $(,)?) => {
        /// The rule [`Rule::name`] calls `name`.
        pub fn rule_named(name: &str) -> Option<Rule> {
            [$(Rule::$rule),+].into_iter().find(|rule| rule.name() == name)
        }

        const _: fn(Rule) = |rule| match rule {
            $(Rule::$rule)|+ => {}
        };
    };
}

every_rule!(
    HubTokenExpiry,
    TokenRenewalPair,
    PeriodicRenewal,
    RenewalPhase,
    UnseenRenewal,
    ExpiredWithoutReturn,
    CredentialsRejected,
    OneOffAuthReject,
    UpgradeClose,
    ServerFault,
    ReconnectWaveThrottle,
    SharedNetworkBurst,
    FleetWideBurst,
    IsolatedSilence,
    IdentityAlternation,
    RepeatedConflict,
    ConflictAfterError,
    LoneConflict,
    CleanClose,
    StateChangeRenewal,
    StateChangeQuickReturn,
    StateChangeSilence,
    StateChangeBurst,
    StateChangeOnly,
    UnrecognisedCode,
);

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use dropscope_model::findings::DataQuality;

    use super::*;
    use crate::analyse::{AnalyseConfig, analyse};
    use crate::classify::{ClassifyConfig, classify_in};
    use crate::offline::{charge_offline_until, hub_ends};
    use crate::partition::Partition;
    use crate::sessions;

    /// A simulated mixed day (renewals of every SDK, bad credentials, duplicates, a hub fault, a
    /// site outage, an upgrade) on two hubs, once per test binary.
    fn fleet() -> &'static [Event] {
        static FLEET: OnceLock<Vec<Event>> = OnceLock::new();
        FLEET.get_or_init(|| {
            let mut scenario = dropscope_sim::Scenario::named("mixed-day").unwrap();
            scenario.resize_fleet(250);
            scenario.window.hours = 24;
            let options = dropscope_sim::SimOptions { seed: 9, frac_digits: 0 };
            dropscope_sim::simulate(&scenario, &options)
                .unwrap()
                .events()
                .map(|e| e.event)
                .collect()
        })
    }

    /// `events` split into `parts` by device, by a hash of the device number and `seed`: each
    /// part's records in input order, with their indexes in `events`.
    fn split(events: &[Event], seed: u64, parts: usize) -> Vec<(Vec<Event>, Vec<usize>)> {
        let partition = Partition::of(events);
        let mut out = vec![(Vec::new(), Vec::new()); parts];
        for (idx, event) in events.iter().enumerate() {
            let device = u64::from(partition.event_device[idx]);
            let part = ((device + 1).wrapping_mul(seed | 1).rotate_left(23) ^ seed) % parts as u64;
            out[part as usize].0.push(event.clone());
            out[part as usize].1.push(idx);
        }
        out
    }

    /// The whole fleet's `verdicts` of a part's records (`indexes`: their places in the
    /// fleet), by their places in the part.
    fn verdicts_of(verdicts: &[Verdict], indexes: &[usize]) -> Vec<Verdict> {
        let place: BTreeMap<usize, usize> =
            indexes.iter().enumerate().map(|(at, &idx)| (idx, at)).collect();
        verdicts
            .iter()
            .filter_map(|v| {
                let mut v = *v;
                v.event = u32::try_from(*place.get(&v.index())?).ok()?;
                Some(v)
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8))]

        /// For any partition of the devices, the parts' ranking tallies (each with the whole
        /// fleet's verdicts of its records and the fleet's hub ends) merged in any grouping, and
        /// through their bytes, equal the whole's, and give `analyse`'s causes and benign churn.
        #[test]
        fn ranking_tallies_merge_over_any_partition(
            seed in proptest::prelude::any::<u64>(),
            parts in 1_usize..9,
        ) {
            let events = fleet();
            let table = sessions::build_in(events, Partition::of(events));
            let verdicts = classify_in(events, &table.partition, &ClassifyConfig::default());
            let ends: BTreeMap<String, i64> = hub_ends(events, &table.partition)
                .into_iter()
                .map(|(hub, end)| (hub.to_owned(), end))
                .collect();
            let whole_offline = charge_offline_until(events, &table, &verdicts, &ends);
            let whole = RankTally::of(events, &table, &verdicts, &whole_offline);

            let mut tallies = Vec::new();
            for (part, indexes) in split(events, seed, parts) {
                let part_table = sessions::build_in(&part, Partition::of(&part));
                let part_verdicts = verdicts_of(&verdicts, &indexes);
                let offline = charge_offline_until(&part, &part_table, &part_verdicts, &ends);
                let tally = RankTally::of(&part, &part_table, &part_verdicts, &offline);
                tallies.push(RankTally::from_bytes(&tally.to_bytes()).unwrap());
            }
            let backwards = tallies.iter().rev().cloned().fold(RankTally::default(), RankTally::merge);
            let merged = RankTally::merge_all(tallies);
            proptest::prop_assert_eq!(&merged, &whole);
            proptest::prop_assert_eq!(&backwards, &whole);

            let mut sums = [0.0; Cause::ALL.len()];
            add_confidences(&mut sums, verdicts.iter().map(|v| (v.cause, v.confidence)));
            let ours = merged.findings(&sums);
            let theirs = analyse(events, &DataQuality::default(), &AnalyseConfig::default());
            proptest::prop_assert_eq!(&ours.causes, &theirs.causes);
            proptest::prop_assert_eq!(&ours.benign, &theirs.benign);
            proptest::prop_assert_eq!(
                (ours.disconnects, ours.failed_connects),
                (theirs.disconnects, theirs.failed_connects)
            );
        }
    }

    /// The fleet above has what makes the split matter: several causes with offline time, a
    /// network outage's /24s, SDK families, and devices whose gaps end at their hub's end.
    #[test]
    fn the_simulated_fleet_exercises_the_tally() {
        let events = fleet();
        let findings = analyse(events, &DataQuality::default(), &AnalyseConfig::default());
        assert!(findings.causes.len() >= 6, "{:?}", findings.causes);
        assert!(findings.causes.iter().filter(|c| c.device_hours_offline > 0.0).count() >= 4);
        assert!(findings.benign.quick_renewals > 0);
        assert!(findings.causes.iter().any(|c| c.cause == Cause::NetworkOutage));
        let table = sessions::build_in(events, Partition::of(events));
        let verdicts = classify_in(events, &table.partition, &ClassifyConfig::default());
        let ends = hub_ends(events, &table.partition);
        let offline = charge_offline_until(events, &table, &verdicts, &ends);
        let bytes = RankTally::of(events, &table, &verdicts, &offline).to_bytes();
        assert!(RankTally::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(RankTally::from_bytes(&[bytes.as_slice(), &[0]].concat()).is_err());
    }

    /// A part's own records may end before its hub's: a device that never came back is offline
    /// until the hub's last record, which only the fleet knows.
    #[test]
    fn a_gap_no_connect_closed_ends_at_the_fleets_hub_end() {
        let events = crate::classify::tests::events(&[
            "a 0 c 10.0.1.XXX",
            "a 1h d 404104",
            "b 0 c 10.0.2.XXX",
            "b 5h d",
        ]);
        let table = sessions::build_in(&events, Partition::of(&events));
        let verdicts = classify_in(&events, &table.partition, &ClassifyConfig::default());
        let ends = hub_ends(&events, &table.partition);
        let part: Vec<Event> = events[..2].to_vec();
        let part_table = sessions::build_in(&part, Partition::of(&part));
        let part_verdicts = verdicts_of(&verdicts, &[0, 1]);
        let own = crate::offline::charge_offline(&part, &part_table, &part_verdicts).offline_ns;
        let fleet = charge_offline_until(&part, &part_table, &part_verdicts, &ends).offline_ns;
        assert_eq!((own, fleet), (vec![0], vec![4 * 3_600_000_000_000]));
    }

    #[test]
    fn every_rule_reads_back_from_its_name() {
        for rule in [Rule::HubTokenExpiry, Rule::StateChangeBurst, Rule::UnrecognisedCode] {
            assert_eq!(rule_named(rule.name()), Some(rule));
        }
        assert_eq!(rule_named("no such rule"), None);
    }
}
