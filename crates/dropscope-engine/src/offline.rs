//! Offline time: how long each disconnect or failed connect kept its device offline.
//!
//! A device's offline time runs from a classified record (a disconnect or failed connect) to its
//! next classified record or successful connect, or to the end of its hub's records, and is
//! charged to the record that opened the gap. So a throttled reconnect wave's time goes to
//! throttling, and a device locked out by bad credentials charges `auth_failure`. The walk knows
//! the sessions: a conflict that ended a session overlapped by the next one (a second client took
//! the identity) leaves the device connected, and at one instant disconnects come before
//! connects.
//!
//! [`crate::rank`] and [`crate::findings`] both charge offline time here, so the ranking and the
//! report's causes, benign churn and breakdowns show the same device-hours.

//!
//! The walk runs device by device over the shared [`crate::partition::Partition`], in parallel;
//! the time charged is kept per verdict (8 bytes a classified record), computed once by
//! [`crate::analyse`] and shared by the ranking and the report's sections. The same walk counts
//! the SDK family each verdict came after, for the ranking's evidence ([`Charged::sdks`]).
//! [`crate::analyse`] runs it inside the session rebuild ([`sessions_charged`]): each device is
//! charged right after its sessions are found, from the same timeline order, while its records
//! are in the cache, and the hubs' ends come from the same walk. [`charge_offline`] walks a
//! finished table instead, for callers that have one; a proptest holds the two equal.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering as AtomicOrdering};

use dropscope_model::{Cause, Event, Operation, Sym};
use rayon::prelude::*;
use smallvec::SmallVec;

use crate::classify::Verdict;
use crate::partition::Partition;
use crate::sessions::{DeviceTimeline, EventRole, SessionTable};

/// Finds the verdict of an event. The verdicts of [`crate::classify::classify_in`] are in event
/// order, one an event at most, so an event's position among them is the number of classified
/// events before it: a bit an event says which are classified, and a count a 64-event word says
/// how many came before the word, side by side so that one lookup reads one cache line (0.25
/// bytes an event; a table of each event's position took 4, and a binary search in the verdicts
/// was a cache miss a step, seconds on 10 M events). Verdicts in any other order get that table.
pub(crate) struct VerdictIndex<'v> {
    verdicts: &'v [Verdict],
    positions: Positions,
}

/// 64 events: which have a verdict, and how many verdicts came before them.
#[derive(Clone, Copy)]
struct Word {
    bits: u64,
    before: u32,
}

enum Positions {
    /// The verdicts are in strictly increasing event order: bit `e % 64` of word `e / 64` is
    /// set when event `e` has a verdict.
    Ranked(Vec<Word>),
    /// Any other order: each event's verdict position, `u32::MAX` for none (the last verdict of
    /// an event wins, as in any table written from them).
    Table(Vec<u32>),
}

impl<'v> VerdictIndex<'v> {
    pub(crate) fn new(verdicts: &'v [Verdict]) -> VerdictIndex<'v> {
        let len = verdicts.iter().map(|v| v.index() + 1).max().unwrap_or(0);
        let positions = if verdicts.is_sorted_by(|a, b| a.event < b.event) {
            let mut words = vec![Word { bits: 0, before: 0 }; len.div_ceil(64)];
            for verdict in verdicts {
                words[verdict.index() / 64].bits |= 1 << (verdict.index() % 64);
            }
            let mut seen = 0;
            for word in &mut words {
                word.before = seen;
                seen += word.bits.count_ones();
            }
            Positions::Ranked(words)
        } else {
            let mut positions = vec![u32::MAX; len];
            for (at, verdict) in (0..).zip(verdicts) {
                positions[verdict.index()] = at;
            }
            Positions::Table(positions)
        };
        VerdictIndex { verdicts, positions }
    }

    /// The position in the verdicts of `event`'s verdict.
    pub(crate) fn position(&self, event: usize) -> Option<usize> {
        match &self.positions {
            Positions::Ranked(words) => {
                let (word, bit) = (*words.get(event / 64)?, event % 64);
                (word.bits & (1 << bit) != 0).then(|| {
                    word.before as usize + (word.bits & ((1 << bit) - 1)).count_ones() as usize
                })
            }
            Positions::Table(positions) => {
                positions.get(event).filter(|&&at| at != u32::MAX).map(|&at| at as usize)
            }
        }
    }

    /// The verdict of `event`.
    pub(crate) fn get(&self, event: usize) -> Option<&'v Verdict> {
        self.verdicts.get(self.position(event)?)
    }
}

/// The offline time charged to each cause, in ns, by [`charge_offline`]'s `offline` (one per
/// verdict): what [`crate::rank::rank`] ranks by, so that `diagnose` and the report agree.
/// The sums are `i128`s: a month of a large fleet's device-time, in ns, overflows an `i64`.
/// Integer sums, so parts of the verdicts are summed in parallel, each cause in an array slot.
pub(crate) fn offline_by_cause(verdicts: &[Verdict], offline: &[i64]) -> BTreeMap<Cause, i128> {
    let zeros = || ([0_i128; Cause::ALL.len()], [false; Cause::ALL.len()]);
    let (sums, seen) = verdicts
        .par_iter()
        .zip(offline)
        .fold(zeros, |(mut sums, mut seen), (v, &ns)| {
            sums[v.cause as usize] += i128::from(ns);
            seen[v.cause as usize] = true;
            (sums, seen)
        })
        .reduce(zeros, |(mut sums, mut seen), (part_sums, part_seen)| {
            for at in 0..Cause::ALL.len() {
                sums[at] += part_sums[at];
                seen[at] |= part_seen[at];
            }
            (sums, seen)
        });
    Cause::ALL
        .into_iter()
        .filter(|&cause| seen[cause as usize])
        .map(|c| (c, sums[c as usize]))
        .collect()
}

/// Each hub's last record's time, ns: where [`charge_offline`] ends a gap no connect closed.
pub fn hub_ends<'e>(events: &'e [Event], partition: &Partition) -> BTreeMap<&'e str, i64> {
    // Each hub's last record, from each device's.
    let device_last: Vec<Option<(&str, i64)>> = partition
        .devices()
        .collect::<Vec<_>>()
        .par_iter()
        .map(|run| {
            let first = &events[*run.first()? as usize];
            let last = run.iter().map(|&idx| events[idx as usize].time.0).max()?;
            Some((first.hub.as_str(), last))
        })
        .collect();
    let mut hub_end: BTreeMap<&str, i64> = BTreeMap::new();
    for &(hub, last) in device_last.iter().flatten() {
        let end = hub_end.entry(hub).or_insert(last);
        *end = (*end).max(last);
    }
    hub_end
}

/// What the walk of each device's time line finds ([`charge_offline`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Charged {
    /// The time charged to each verdict, ns.
    pub offline_ns: Vec<i64>,
    /// How many verdicts of each cause came after a successful connect by each SDK family (of
    /// the device's latest successful connect with a user agent before the verdict): the
    /// ranking's SDK evidence, counted in the same walk so that each device is sorted once.
    pub sdks: BTreeMap<(Cause, &'static str), u64>,
}

/// Walks each device in time order and charges every gap (from a classified record to the next
/// classified record or successful connect, or the end of the device's hub's records) to the
/// record that opened it: the time charged to each of `verdicts`, in ns, and the SDKs before
/// them ([`Charged`]). The end is per hub so that the logs of an old, small hub read with a
/// recent one do not charge years of offline time. At one instant, disconnects come before
/// connects (a reconnect in the same second ends the gap), and a disconnect that ended a session
/// overlapped by the next one (a second client took the identity over) opens no gap: the device
/// stayed connected.
pub fn charge_offline(events: &[Event], table: &SessionTable, verdicts: &[Verdict]) -> Charged {
    charge_offline_until(events, table, verdicts, &hub_ends(events, &table.partition))
}

/// [`charge_offline`] with each hub's last record's time given (`hub_end`, ns; [`hub_ends`] of
/// the whole fleet): for a part of the fleet, whose own records may end before its hubs' do.
/// A hub missing from `hub_end` ends at the device's first record.
pub fn charge_offline_until<H: std::borrow::Borrow<str> + Ord + Sync>(
    events: &[Event],
    table: &SessionTable,
    verdicts: &[Verdict],
    hub_end: &BTreeMap<H, i64>,
) -> Charged {
    let partition = &table.partition;
    let charger = Charger::new(events, verdicts);
    let overlapped = |idx: u32| match table.roles.get(idx as usize) {
        Some(EventRole::Ended(s)) => table.next_of(*s as usize).is_some_and(|next| next.overlap),
        _ => false,
    };
    let walked = (0..partition.n_devices())
        .into_par_iter()
        .fold(Walked::default, |mut walked, device| {
            walked.add(charger.device(partition.device(device), overlapped));
            walked
        })
        .reduce(Walked::default, Walked::merge);
    charger.finish(&walked, |hub| hub_end.get(hub).copied())
}

/// Rebuilds the sessions ([`crate::sessions::build_in`]) and charges the offline time
/// ([`charge_offline`]) in one walk: each device is charged right after its sessions are
/// rebuilt, while its events are still in the cache (a second walk fetched every event again),
/// and each hub's end is found from the same walk. The result is exactly theirs.
pub fn sessions_charged(
    events: &[Event],
    partition: Partition,
    verdicts: &[Verdict],
) -> (SessionTable, Charged) {
    let charger = Charger::new(events, verdicts);
    let mut walked = Walked::default();
    let table = crate::sessions::build_visiting(
        events,
        partition,
        |order, timeline| charger.device(order, overlapped_in(timeline)),
        |device| walked.add(device),
    );
    let charged = charger.finish(&walked, |hub| walked.hub_last.get(hub).copied());
    (table, charged)
}

/// Whether the event at an index ended a session overlapped by the device's next one, from one
/// device's timeline (the roles and sessions [`SessionTable`] would hold for it: the last role
/// of an event wins, as in the table).
fn overlapped_in(timeline: &DeviceTimeline) -> impl Fn(u32) -> bool + use<> {
    let sessions = &timeline.sessions;
    let mut ended: SmallVec<[u32; 4]> = SmallVec::new();
    if sessions.iter().any(|session| session.overlap) {
        for &(idx, role) in &timeline.roles {
            let overlapped = match role {
                EventRole::Ended(s) => {
                    let s = s as usize;
                    sessions.get(s).zip(sessions.get(s + 1)).is_some_and(|(current, next)| {
                        next.session_id == current.session_id + 1
                            && next.device_id == current.device_id
                            && next.hub == current.hub
                            && next.module_id == current.module_id
                            && next.overlap
                    })
                }
                _ => false,
            };
            if overlapped {
                ended.push(idx);
            } else if !ended.is_empty() {
                ended.retain(|&mut seen| seen != idx);
            }
        }
    }
    move |idx| ended.contains(&idx)
}

/// The per-verdict slots every device's walk writes, and what it reads them by.
struct Charger<'e, 'v> {
    events: &'e [Event],
    verdicts: &'v [Verdict],
    index: VerdictIndex<'v>,
    /// The time charged to each verdict. Each verdict is charged by its own device's walk only,
    /// at most once (it opens one gap), so the walks write in place, with no list of charges to
    /// gather. Stores, not reads: a verdict read in device order was a cache miss each.
    offline: Vec<AtomicI64>,
    /// The user agent of the latest successful connect before each verdict (a handle; 0 for
    /// none).
    agents: Vec<AtomicU32>,
}

/// What one device's walk leaves for after every device is walked.
struct DeviceCharge {
    /// The verdict (its position) whose gap no connect closed, and the gap's start.
    open: Option<(usize, i64)>,
    hub: Sym,
    /// The device's first and last record times.
    first: i64,
    last: i64,
    /// The user agents stored for the device's verdicts.
    agents: SmallVec<[Sym; 2]>,
}

/// The devices' walks, gathered.
#[derive(Default)]
struct Walked {
    /// Each hub's last record's time.
    hub_last: BTreeMap<&'static str, i64>,
    /// The gaps no connect closed: verdict position, start, hub, the device's first record.
    open: Vec<(usize, i64, Sym, i64)>,
    /// The SDK family of each user agent stored.
    families: BTreeMap<u32, &'static str>,
}

impl Walked {
    fn add(&mut self, device: Option<DeviceCharge>) {
        let Some(device) = device else { return };
        let last = self.hub_last.entry(device.hub.as_str()).or_insert(device.last);
        *last = (*last).max(device.last);
        if let Some((at, since)) = device.open {
            self.open.push((at, since, device.hub, device.first));
        }
        for agent in device.agents {
            // A few texts are every connect's user agent: each is parsed once.
            self.families
                .entry(agent.handle())
                .or_insert_with(|| crate::sdk::sdk_family(agent.as_str()));
        }
    }

    fn merge(mut self, other: Walked) -> Walked {
        for (hub, last) in other.hub_last {
            let mine = self.hub_last.entry(hub).or_insert(last);
            *mine = (*mine).max(last);
        }
        self.open.extend(other.open);
        self.families.extend(other.families);
        self
    }
}

impl<'e, 'v> Charger<'e, 'v> {
    fn new(events: &'e [Event], verdicts: &'v [Verdict]) -> Charger<'e, 'v> {
        Charger {
            events,
            verdicts,
            index: VerdictIndex::new(verdicts),
            offline: (0..verdicts.len()).map(|_| AtomicI64::new(0)).collect(),
            agents: (0..verdicts.len()).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Walks one device's events (`order`, indexes; in timeline order, or at least by time,
    /// else they are sorted so) and charges its closed gaps; `overlapped` says which events
    /// ended a session the next one overlapped. `None` for a device with no events.
    fn device(&self, order: &[u32], overlapped: impl Fn(u32) -> bool) -> Option<DeviceCharge> {
        let events = self.events;
        let time = |idx: u32| events[idx as usize].time;
        let is_connect =
            |event: &Event| event.operation == Operation::Connect && !event.level.is_error();
        let sorted: Vec<u32>;
        let order = if order.is_sorted_by_key(|&idx| time(idx)) {
            order
        } else {
            sorted = {
                let mut sorted = order.to_vec();
                sorted.sort_by_key(|&idx| time(idx));
                sorted
            };
            &sorted
        };
        let first = &events[*order.first()? as usize];
        let last = events[*order.last()? as usize].time.0;
        let charge =
            |at: usize, ns: i64| self.offline[at].store(ns.max(0), AtomicOrdering::Relaxed);
        let mut charged: Option<(usize, i64)> = None;
        let mut agent: Option<Sym> = None;
        let mut agents: SmallVec<[Sym; 2]> = SmallVec::new();
        // Each record: a successful connect (its user agent, the gap it closes) or a record
        // with its verdict's position, looked up once for both the SDK and the gap.
        let step = |idx: u32| {
            let event = &events[idx as usize];
            if is_connect(event) { None } else { Some(self.index.position(idx as usize)) }
        };
        let mut sdk_step = |idx: u32, at: Option<Option<usize>>| match at {
            None => {
                if let Some(seen) = events[idx as usize].sdk_version {
                    agent = Some(seen);
                }
            }
            Some(Some(at)) => {
                if let Some(agent) = agent {
                    self.agents[at].store(agent.handle(), AtomicOrdering::Relaxed);
                    if !agents.contains(&agent) {
                        agents.push(agent);
                    }
                }
            }
            Some(None) => {}
        };
        let mut gap_step = |idx: u32, at: Option<Option<usize>>| {
            let time = events[idx as usize].time.0;
            match at {
                None => {
                    if let Some((opened, since)) = charged.take() {
                        charge(opened, time - since);
                    }
                }
                Some(Some(at)) => {
                    if !overlapped(idx)
                        && let Some((opened, since)) = charged.replace((at, time))
                    {
                        charge(opened, time - since);
                    }
                }
                Some(None) => {}
            }
        };
        for group in order.chunk_by(|&a, &b| time(a) == time(b)) {
            if let [idx] = group {
                let at = step(*idx);
                sdk_step(*idx, at);
                gap_step(*idx, at);
                continue;
            }
            // The SDK of a record is the last one connected before it with disconnects first at
            // one instant, then connects, failed or not, in input order (the order the
            // classifier reads); the gaps take every failure first, then the connects.
            let mut in_order: SmallVec<[(u32, Option<Option<usize>>); 8]> =
                group.iter().map(|&idx| (idx, step(idx))).collect();
            in_order.sort_unstable_by_key(|&(idx, _)| {
                (events[idx as usize].operation != Operation::Disconnect, idx)
            });
            in_order.iter().for_each(|&(idx, at)| sdk_step(idx, at));
            in_order.sort_unstable_by_key(|&(idx, at)| (at.is_none(), idx));
            in_order.into_iter().for_each(|(idx, at)| gap_step(idx, at));
        }
        Some(DeviceCharge { open: charged, hub: first.hub, first: first.time.0, last, agents })
    }

    /// Charges the gaps still open at each device's end up to its hub's end (`hub_end`, else
    /// the device's first record), and counts the SDK families before the verdicts.
    fn finish(self, walked: &Walked, hub_end: impl Fn(&str) -> Option<i64>) -> Charged {
        for &(at, since, hub, first) in &walked.open {
            let end = hub_end(hub.as_str()).unwrap_or(first);
            self.offline[at].store((end - since).max(0), AtomicOrdering::Relaxed);
        }
        // Each stored agent's family as a slot among the distinct families, by its handle:
        // handles are small dense numbers, so the count is two array reads a verdict, and runs
        // in parallel (a hash map per verdict, on one thread, took 0.1 s on 5.9 M verdicts).
        let mut names: Vec<&'static str> = Vec::new();
        let top = walked.families.keys().max().map_or(0, |&handle| handle as usize + 1);
        let mut slot_of = vec![u32::MAX; top];
        for (&handle, &family) in &walked.families {
            let slot = names.iter().position(|&name| name == family).unwrap_or_else(|| {
                names.push(family);
                names.len() - 1
            });
            slot_of[handle as usize] = slot as u32;
        }
        let zeros = || vec![[0_u64; Cause::ALL.len()]; names.len()];
        let counts = self
            .verdicts
            .par_iter()
            .zip(self.agents.par_iter())
            .fold(zeros, |mut counts, (verdict, agent)| {
                let handle = agent.load(AtomicOrdering::Relaxed) as usize;
                if let Some(&slot) = slot_of.get(handle)
                    && let Some(counts) = counts.get_mut(slot as usize)
                {
                    counts[verdict.cause as usize] += 1;
                }
                counts
            })
            .reduce(zeros, |mut all, part| {
                for (all, part) in all.iter_mut().zip(part) {
                    for (all, part) in all.iter_mut().zip(part) {
                        *all += part;
                    }
                }
                all
            });
        let mut sdks: BTreeMap<(Cause, &'static str), u64> = BTreeMap::new();
        for (family, counts) in names.into_iter().zip(counts) {
            for (cause, n) in Cause::ALL.into_iter().zip(counts).filter(|&(_, n)| n > 0) {
                *sdks.entry((cause, family)).or_default() += n;
            }
        }
        Charged { offline_ns: self.offline.into_iter().map(AtomicI64::into_inner).collect(), sdks }
    }
}

#[cfg(test)]
mod tests {
    use dropscope_model::{Cause, Operation, Sym};
    use proptest::prelude::*;

    use super::VerdictIndex;
    use crate::classify::{Rule, Verdict};

    fn verdict(event: usize) -> Verdict {
        Verdict::new(event, (Cause::Unknown, 0.5, Rule::UnrecognisedCode), None, None)
    }

    proptest! {
        /// The bit index of verdicts in event order finds what a table of positions finds.
        #[test]
        fn the_ranked_index_agrees_with_the_table(classified in proptest::collection::vec(any::<bool>(), 0..400)) {
            let verdicts: Vec<Verdict> =
                classified.iter().enumerate().filter(|&(_, &c)| c).map(|(e, _)| verdict(e)).collect();
            let index = VerdictIndex::new(&verdicts);
            let ranked = matches!(index.positions, super::Positions::Ranked(_));
            prop_assert!(ranked);
            for event in 0..classified.len() + 70 {
                let expected = verdicts.iter().position(|v| v.index() == event);
                prop_assert_eq!(index.position(event), expected);
                prop_assert_eq!(index.get(event).map(Verdict::index), expected.map(|_| event));
            }
        }
    }

    /// At one instant a verdict's SDK is the one connected before it in the classifier's order:
    /// disconnects first, then connects, failed or not, in input order (the gaps' order, every
    /// failure first, would give both records here the other SDK).
    #[test]
    fn the_sdk_before_a_verdict_reads_an_instant_as_the_classifier_does() {
        let events = crate::classify::tests::events(&[
            "a 0 c 10.0.1.XXX sdk=.NET",
            "a 1h c 10.0.1.XXX sdk=com.microsoft.azure.sdk.iot",
            "a 1h f 401003",
            "b 0 c 10.0.2.XXX sdk=.NET",
            "b 1h c 10.0.2.XXX sdk=com.microsoft.azure.sdk.iot",
            "b 1h d 404104",
        ]);
        let table = crate::sessions::build(&events);
        let verdicts =
            crate::classify::classify(&events, &crate::classify::ClassifyConfig::default());
        let charged = super::charge_offline(&events, &table, &verdicts);
        let mut by_family: Vec<(&str, u64)> = Vec::new();
        for (&(_, family), &n) in &charged.sdks {
            match by_family.iter_mut().find(|(f, _)| *f == family) {
                Some((_, total)) => *total += n,
                None => by_family.push((family, n)),
            }
        }
        by_family.sort_unstable();
        assert_eq!(by_family, [(".NET", 1), ("Java", 1)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The walk fused into the session rebuild charges what a walk of the finished table
        /// charges, and finds the same hub ends.
        #[test]
        fn charging_in_the_session_walk_agrees_with_the_table(
            mut events in crate::sessions::tests::timeline(),
        ) {
            for event in &mut events {
                let secs = event.time.0 / 1_000_000_000;
                if matches!(event.device_id.as_str(), "c" | "d") {
                    event.hub = Sym::new("hub-b");
                }
                if event.operation == Operation::Connect && secs % 3 != 0 {
                    let agent = [".NET/1.0", "com.microsoft.azure.sdk.iot/2.0"][(secs % 2) as usize];
                    event.sdk_version = Some(Sym::new(agent));
                }
            }
            let verdicts =
                crate::classify::classify(&events, &crate::classify::ClassifyConfig::default());
            let (table, fused) = super::sessions_charged(
                &events,
                crate::partition::Partition::of(&events),
                &verdicts,
            );
            let built = crate::sessions::build(&events);
            prop_assert_eq!(&table.sessions, &built.sessions);
            prop_assert_eq!(&table.roles, &built.roles);
            prop_assert_eq!(&table.partition, &built.partition);
            prop_assert_eq!(&fused, &super::charge_offline(&events, &built, &verdicts));
        }
    }

    #[test]
    fn verdicts_out_of_event_order_get_a_table() {
        let verdicts = [verdict(5), verdict(2), verdict(64), verdict(5)];
        let index = VerdictIndex::new(&verdicts);
        assert!(matches!(index.positions, super::Positions::Table(_)));
        assert_eq!(index.position(5), Some(3));
        assert_eq!(index.position(2), Some(1));
        assert_eq!(index.position(64), Some(2));
        assert_eq!(index.position(3), None);
        assert_eq!(index.position(1000), None);
    }
}
