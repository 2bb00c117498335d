//! The classifier's device/fleet split: what it needs to know of the whole fleet, as statistics
//! each part of the devices gathers on its own and that merge associatively, so the devices can
//! be classified apart (on Spark executors) with the answer [`classify`] gives on one machine.
//!
//! A device's verdicts need its own records and a few fleet statistics, learned in rounds
//! because each needs the one before:
//!
//! 1. [`FleetStats::of`] (from the devices alone): every renewal sample's session age per SDK
//!    family, protocol and renewal kind, from which the SDK families' renewal bands are learned
//!    (`classify/lifetime.rs`); the devices seen behind each masked-IP /24; the earliest record;
//!    the number and span of connect attempts; the times of throttled records (429xxx).
//! 2. [`FleetTally::of`] (with round 1 merged): per SDK family and protocol, how many of the
//!    devices' renewals fall on their token clock's tick (which needs the SDK bands: a device's
//!    clock borrows its family's band), which decides whether that family's clocks run free of
//!    connections; and the connect attempts within five minutes of a throttled record, which
//!    tell a reconnect wave.
//! 3. [`decide`] (with both merged): every classified record's verdict, and the silent 404104s
//!    the device's own evidence leaves unexplained ([`SilentDrop`]).
//! 4. [`silent_verdicts`] over every part's silent drops together: the cross-device burst
//!    detectors (`classify/burst.rs`) give each its cause.
//!
//! Each round's statistics of a part merge with another part's by `merge` (associative and
//! commutative; [`FleetStats::default`] and [`FleetTally::default`] are the identities), so any
//! partition of the devices, merged in any grouping, gives the whole fleet's statistics: a
//! proptest (`classify/tests.rs`) checks it, and that verdicts decided part by part with the
//! merged statistics equal [`classify`]'s. [`classify_in`] runs the same rounds over the whole
//! input. A device is `(hub, device_id, module_id)` ([`Partition`]); a part must hold all of a
//! device's records, in input order.
//!
//! Sizes: round 1 holds 8 bytes per renewal sample (about one per token lifetime per device,
//! C 48 min to .NET 70 min) and a count per /24; round 2 a tally per SDK family and 8 bytes per
//! connect attempt near a throttled record; round 4 reads every silent drop at once.
//!
//! # Bytes
//!
//! For broadcast between machines each round's statistics have a binary form
//! ([`FleetStats::to_bytes`], [`FleetTally::to_bytes`]), little-endian throughout: a 4-byte
//! magic (`DSF1` round 1, `DSF2` round 2), a version byte (1), then the fields in the order
//! above. Texts are a `u32` byte length and UTF-8; an optional value is a tag byte (0 none,
//! 1 some) then the value; a list is a `u64` count then its items. Round 1: renewal ages (list
//! of: SDK family text?, protocol text?, kind byte (0 hub expiry, 1 client renewal), list of
//! `i64` ages), devices behind /24s (list of: prefix text, `u64`), earliest record `i64`?,
//! connect count `u64`, connect span (`i64` first, `i64` last)?, throttled times (list of
//! `i64`). Round 2: tick tallies (list of: SDK family text?, protocol text?, `u64` on a tick,
//! `u64` looked at), connect times near a throttled record (list of `i64`). Reading checks
//! every length against the bytes left, so bad bytes are an error, never a panic or a huge
//! allocation.
//!
//! [`classify`]: crate::classify::classify
//! [`classify_in`]: crate::classify::classify_in

use std::collections::BTreeMap;

use dropscope_model::{Cause, Event, Operation};
use rayon::prelude::*;

use crate::classify::burst::{self, BurstConfig, Drop};
use crate::classify::lifetime::{self, Lifetimes, RenewalKind, Sample, SdkBands, SdkKey};
use crate::classify::timeline::Walk;
use crate::classify::{ClassifyConfig, Rule, Verdict, WAVE_HALF_WIDTH, codes, timeline};
use crate::evaluate::is_classified;
use crate::partition::Partition;
use crate::{Error, Result};

/// An SDK family and protocol, owned.
type OwnedFamily = (Option<String>, Option<String>);

/// Round 1: what the devices tell before any decision. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// Renewal samples' session ages per SDK family, protocol and kind, ns, sorted.
    renewal_ages: BTreeMap<(Option<String>, Option<String>, RenewalKind), Vec<i64>>,
    /// Devices seen behind each masked-IP /24.
    devices_behind: BTreeMap<String, u64>,
    /// The earliest record's time, ns.
    window_start: Option<i64>,
    window_end: Option<i64>,
    /// Connect attempts.
    connects: u64,
    /// The first and last connect attempt, ns.
    connect_span: Option<(i64, i64)>,
    /// Times of throttled records (429xxx), ns, sorted, each once.
    throttle_times: Vec<i64>,
}

/// Round 2: what the devices tell once round 1 is merged. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetTally {
    /// Per SDK family and protocol: (renewals on a token clock's tick, renewals looked at).
    ticks: BTreeMap<OwnedFamily, (u64, u64)>,
    /// Connect attempts within [`WAVE_HALF_WIDTH`] of a throttled record, ns, sorted.
    wave_connects: Vec<i64>,
}

/// A 404104 its device's own evidence does not explain: the cross-device detectors decide it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SilentDrop<'a> {
    /// Index of the record in the events slice.
    pub event: usize,
    /// The record's time, ns since the epoch.
    pub time: i64,
    /// The masked-IP /24 (`24.9.142`) of the record or of the device's last connect.
    pub prefix: Option<&'a str>,
    /// Its verdict should no other device drop with it: cause, confidence, rule.
    pub alone: (Cause, f64, Rule),
    /// Time until the device's next successful connect, ns, when one was seen.
    pub reconnect_delay: Option<i64>,
}

/// The error of bytes that are not fleet statistics: `reason` says what is wrong.
fn bad(reason: &'static str) -> Error {
    Error::FleetBytes { reason }
}

/// Round 1 over the devices of `partition`: what the later rounds need of it.
pub(crate) struct Gather<'a> {
    /// The statistics.
    pub(crate) stats: FleetStats,
    /// Each device's renewal samples (by device number), which the later rounds learn from.
    pub(crate) samples: Vec<Vec<Sample<'a>>>,
    /// Each device's events in [`timeline::device_order`], laid out as `partition.order`: round
    /// 3 walks them again without sorting them again (4 bytes an event).
    pub(crate) timeline: Vec<u32>,
    /// Each device's number of classified records ([`is_classified`]): where round 3 writes
    /// each device's verdicts, counted here while the records are in cache (round 3 read every
    /// record again to count them).
    pub(crate) classified: Vec<u32>,
    /// Each event that repeats the time and operation of an earlier one of its device, with its
    /// count of such earlier ones (the `occurrence` of [`crate::evaluate::occurrences_in`], for
    /// the devices whose id is theirs alone), in no order: found in the timeline's walk, where
    /// such events are neighbours.
    pub(crate) repeats: Vec<(u32, u32)>,
}

/// Round 1 over the devices of `partition` ([`Gather`]).
pub(crate) fn gather<'a>(
    events: &'a [Event],
    partition: &Partition,
    config: &ClassifyConfig,
) -> Gather<'a> {
    // A device's statistics are added while its records are in cache from its contexts' walk.
    type Piece<'a> = (Gathered<'a>, Vec<(usize, Vec<Sample<'a>>, Vec<u32>, u32)>, Vec<(u32, u32)>);
    let pieces: Vec<Piece<'a>> = (0..partition.n_devices())
        .into_par_iter()
        .fold(
            || (Gathered::default(), Vec::new(), Vec::new()),
            |(mut gathered, mut samples, mut repeats), device| {
                let run = partition.device(device);
                let order = timeline::device_order(events, run);
                let contexts =
                    timeline::device_contexts(events, device, &order, config, Walk::RenewalSamples);
                let found = lifetime::device_samples(events, &contexts, config.quick_reconnect);
                gathered.add_device(events, run, &found);
                let mut count = 0;
                for pair in order.windows(2) {
                    let (a, b) = (&events[pair[0]], &events[pair[1]]);
                    if (a.time, a.operation) == (b.time, b.operation) {
                        count += 1;
                        repeats.push((pair[1] as u32, count));
                    } else {
                        count = 0;
                    }
                }
                let classified =
                    order.iter().filter(|&&idx| is_classified(&events[idx])).count() as u32;
                // Indexes into `events`, which the partition holds as u32s.
                let order = order.into_iter().map(|idx| idx as u32).collect();
                samples.push((device, found, order, classified));
                (gathered, samples, repeats)
            },
        )
        .collect();
    let mut samples: Vec<Vec<Sample<'a>>> = vec![Vec::new(); partition.n_devices()];
    let mut timeline = vec![0_u32; partition.order.len()];
    let mut classified = vec![0_u32; partition.n_devices()];
    let mut gathered = Gathered::default();
    let mut repeats = Vec::new();
    for (part, found, part_repeats) in pieces {
        gathered = gathered.merge(part);
        repeats.extend(part_repeats);
        for (device, found, order, count) in found {
            samples[device] = found;
            classified[device] = count;
            let (start, end) = partition.runs[device];
            timeline[start..end].copy_from_slice(&order);
        }
    }
    Gather { stats: gathered.into_stats(), samples, timeline, classified, repeats }
}

/// Round 1's statistics while they are gathered: keyed by text borrowed from the events, the
/// lists unsorted, so that a device adds its samples without copying a text and parts merge
/// without sorting; [`Gathered::into_stats`] makes the canonical [`FleetStats`] once.
#[derive(Default)]
struct Gathered<'a> {
    renewal_ages: BTreeMap<SdkKey<'a>, Vec<i64>>,
    devices_behind: BTreeMap<&'a str, u64>,
    window: Option<(i64, i64)>,
    connects: u64,
    connect_span: Option<(i64, i64)>,
    throttle_times: Vec<i64>,
}

impl<'a> Gathered<'a> {
    /// Adds one device: its records `run`, its renewal `samples`.
    fn add_device(&mut self, events: &'a [Event], run: &[u32], samples: &[Sample<'a>]) {
        for sample in samples {
            self.renewal_ages.entry(sample.key()).or_default().push(sample.age());
        }
        let mut prefixes: Vec<&str> = run
            .iter()
            .filter_map(|&idx| events[idx as usize].masked_ip.as_deref().and_then(burst::prefix))
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        for prefix in prefixes {
            *self.devices_behind.entry(prefix).or_default() += 1;
        }
        for event in run.iter().map(|&idx| &events[idx as usize]) {
            let time = event.time.nanos();
            self.window =
                Some(self.window.map_or((time, time), |(lo, hi)| (lo.min(time), hi.max(time))));
            if event.operation == Operation::Connect {
                self.connects += 1;
                self.connect_span = Some(
                    self.connect_span.map_or((time, time), |(lo, hi)| (lo.min(time), hi.max(time))),
                );
            }
            if event.code().is_some_and(codes::is_throttling) {
                self.throttle_times.push(time);
            }
        }
    }

    fn merge(mut self, other: Gathered<'a>) -> Gathered<'a> {
        for (key, ages) in other.renewal_ages {
            self.renewal_ages.entry(key).or_default().extend(ages);
        }
        for (prefix, devices) in other.devices_behind {
            *self.devices_behind.entry(prefix).or_default() += devices;
        }
        let span = |a: Option<(i64, i64)>, b: Option<(i64, i64)>| match (a, b) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        self.window = span(self.window, other.window);
        self.connects += other.connects;
        self.connect_span = span(self.connect_span, other.connect_span);
        self.throttle_times.extend(other.throttle_times);
        self
    }

    fn into_stats(self) -> FleetStats {
        let owned = |text: Option<&str>| text.map(str::to_owned);
        FleetStats {
            renewal_ages: self
                .renewal_ages
                .into_iter()
                .map(|((sdk, protocol, kind), ages)| ((owned(sdk), owned(protocol), kind), ages))
                .collect(),
            devices_behind: self
                .devices_behind
                .into_iter()
                .map(|(prefix, devices)| (prefix.to_owned(), devices))
                .collect(),
            window_start: self.window.map(|(start, _)| start),
            window_end: self.window.map(|(_, end)| end),
            connects: self.connects,
            connect_span: self.connect_span,
            throttle_times: self.throttle_times,
        }
        .normalised()
    }
}

impl FleetStats {
    /// Round 1 of the devices of `partition` (all of each device's records are in `events`).
    pub fn of(events: &[Event], partition: &Partition, config: &ClassifyConfig) -> FleetStats {
        gather(events, partition, config).stats
    }

    /// The canonical form: every list sorted, throttled times each once.
    fn normalised(mut self) -> FleetStats {
        for ages in self.renewal_ages.values_mut() {
            ages.sort_unstable();
        }
        self.throttle_times.sort_unstable();
        self.throttle_times.dedup();
        self
    }

    /// The statistics of two disjoint parts of the fleet together.
    #[must_use]
    pub fn merge(mut self, other: FleetStats) -> FleetStats {
        self.absorb(other);
        self.normalised()
    }

    /// The statistics of many disjoint parts together: [`FleetStats::merge`] over them, with
    /// the lists sorted once.
    pub fn merge_all(parts: impl IntoIterator<Item = FleetStats>) -> FleetStats {
        let mut all = FleetStats::default();
        for part in parts {
            all.absorb(part);
        }
        all.normalised()
    }

    /// Adds `other`'s statistics, leaving the lists unsorted.
    fn absorb(&mut self, other: FleetStats) {
        for (key, ages) in other.renewal_ages {
            self.renewal_ages.entry(key).or_default().extend(ages);
        }
        for (prefix, devices) in other.devices_behind {
            *self.devices_behind.entry(prefix).or_default() += devices;
        }
        self.window_start = match (self.window_start, other.window_start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.window_end = match (self.window_end, other.window_end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.connects += other.connects;
        self.connect_span = match (self.connect_span, other.connect_span) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        self.throttle_times.extend(other.throttle_times);
    }

    /// The SDK families' renewal bands.
    pub(crate) fn sdk_bands(&self) -> SdkBands<'_> {
        lifetime::sdk_bands(self.renewal_ages.iter().map(|((sdk, protocol, kind), ages)| {
            ((sdk.as_deref(), protocol.as_deref(), *kind), ages.as_slice())
        }))
    }

    /// The earliest record's time, ns.
    pub fn window_start(&self) -> Option<i64> {
        self.window_start
    }

    /// The latest record's time, ns.
    pub fn window_end(&self) -> Option<i64> {
        self.window_end
    }

    /// The number of connect attempts, and the first and last one's time, ns.
    pub fn connects(&self) -> (u64, Option<(i64, i64)>) {
        (self.connects, self.connect_span)
    }

    /// The number of renewal samples, distinct /24s and throttled times held.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (
            self.renewal_ages.values().map(Vec::len).sum(),
            self.devices_behind.len(),
            self.throttle_times.len(),
        )
    }

    /// The binary form (module docs, "Bytes").
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Writer(Vec::new());
        out.header(*b"DSF1");
        out.len(self.renewal_ages.len());
        for ((sdk, protocol, kind), ages) in &self.renewal_ages {
            out.opt_text(sdk.as_deref());
            out.opt_text(protocol.as_deref());
            out.0.push(match kind {
                RenewalKind::HubExpiry => 0,
                RenewalKind::ClientRenewal => 1,
            });
            out.times(ages);
        }
        out.len(self.devices_behind.len());
        for (prefix, devices) in &self.devices_behind {
            out.text(prefix);
            out.u64(*devices);
        }
        out.opt_i64(self.window_start);
        out.opt_i64(self.window_end);
        out.u64(self.connects);
        out.0.push(u8::from(self.connect_span.is_some()));
        if let Some((first, last)) = self.connect_span {
            out.i64(first);
            out.i64(last);
        }
        out.times(&self.throttle_times);
        out.0
    }

    /// Reads [`FleetStats::to_bytes`]' form; any other bytes are an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<FleetStats> {
        let mut input = Reader(bytes);
        input.header(*b"DSF1")?;
        let mut stats = FleetStats::default();
        for _ in 0..input.len(3)? {
            let sdk = input.opt_text()?;
            let protocol = input.opt_text()?;
            let kind = match input.byte()? {
                0 => RenewalKind::HubExpiry,
                1 => RenewalKind::ClientRenewal,
                _ => return Err(bad("unknown renewal kind")),
            };
            let ages = input.times()?;
            stats.renewal_ages.entry((sdk, protocol, kind)).or_default().extend(ages);
        }
        for _ in 0..input.len(12)? {
            let prefix = input.text()?;
            let devices = input.u64()?;
            let count = stats.devices_behind.entry(prefix).or_default();
            *count = count.checked_add(devices).ok_or_else(|| bad("count overflows"))?;
        }
        stats.window_start = input.opt_i64()?;
        stats.window_end = input.opt_i64()?;
        stats.connects = input.u64()?;
        stats.connect_span = match input.byte()? {
            0 => None,
            1 => Some((input.i64()?, input.i64()?)),
            _ => return Err(bad("bad option tag")),
        };
        stats.throttle_times = input.times()?;
        input.end()?;
        Ok(stats.normalised())
    }
}

impl FleetTally {
    /// Round 2 of the devices of `partition` (all of each device's records are in `events`),
    /// with the whole fleet's round 1, `stats`.
    pub fn of(
        events: &[Event],
        partition: &Partition,
        stats: &FleetStats,
        config: &ClassifyConfig,
    ) -> FleetTally {
        let Gather { samples, .. } = gather(events, partition, config);
        let lifetimes = Lifetimes::learn(&samples, stats.sdk_bands());
        FleetTally::of_lifetimes(events, &lifetimes, &samples, stats)
    }

    /// Round 2 from the devices' lifetimes learned with the fleet's SDK bands.
    pub(crate) fn of_lifetimes(
        events: &[Event],
        lifetimes: &Lifetimes<'_>,
        samples: &[Vec<Sample<'_>>],
        stats: &FleetStats,
    ) -> FleetTally {
        let ticks = lifetimes
            .tick_tallies(samples)
            .into_iter()
            .map(|((sdk, protocol), (hits, total))| {
                ((sdk.map(str::to_owned), protocol.map(str::to_owned)), (hits as u64, total as u64))
            })
            .collect();
        let throttled = &stats.throttle_times;
        let near_throttle = |time: i64| {
            let at = throttled.partition_point(|&t| t < time - WAVE_HALF_WIDTH);
            throttled.get(at).is_some_and(|&t| t <= time + WAVE_HALF_WIDTH)
        };
        let mut wave_connects: Vec<i64> = if throttled.is_empty() {
            Vec::new()
        } else {
            events
                .par_iter()
                .filter(|e| e.operation == Operation::Connect)
                .map(|e| e.time.nanos())
                .filter(|&time| near_throttle(time))
                .collect()
        };
        wave_connects.par_sort_unstable();
        FleetTally { ticks, wave_connects }
    }

    /// Sets which of `lifetimes`' clocks run free of connections, from these (merged) tallies.
    pub(crate) fn run_free(&self, lifetimes: &mut Lifetimes<'_>, samples: &[Vec<Sample<'_>>]) {
        let ticks: BTreeMap<lifetime::Family<'_>, (u64, u64)> = self
            .ticks
            .iter()
            .map(|((sdk, protocol), tally)| ((sdk.as_deref(), protocol.as_deref()), *tally))
            .collect();
        lifetimes.run_free(samples, |family| ticks.get(&family).copied());
    }

    /// The statistics of two disjoint parts of the fleet together.
    #[must_use]
    pub fn merge(self, other: FleetTally) -> FleetTally {
        FleetTally::merge_all([self, other])
    }

    /// The statistics of many disjoint parts together: [`FleetTally::merge`] over them, with
    /// the list sorted once.
    pub fn merge_all(parts: impl IntoIterator<Item = FleetTally>) -> FleetTally {
        let mut all = FleetTally::default();
        for part in parts {
            for (family, (hits, total)) in part.ticks {
                let mine = all.ticks.entry(family).or_default();
                mine.0 += hits;
                mine.1 += total;
            }
            all.wave_connects.extend(part.wave_connects);
        }
        all.wave_connects.sort_unstable();
        all
    }

    /// Connect attempts near a throttled record, ns, sorted.
    pub(crate) fn wave_connects(&self) -> &[i64] {
        &self.wave_connects
    }

    /// The binary form (module docs, "Bytes").
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Writer(Vec::new());
        out.header(*b"DSF2");
        out.len(self.ticks.len());
        for ((sdk, protocol), (hits, total)) in &self.ticks {
            out.opt_text(sdk.as_deref());
            out.opt_text(protocol.as_deref());
            out.u64(*hits);
            out.u64(*total);
        }
        out.times(&self.wave_connects);
        out.0
    }

    /// Reads [`FleetTally::to_bytes`]' form; any other bytes are an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<FleetTally> {
        let mut input = Reader(bytes);
        input.header(*b"DSF2")?;
        let mut tally = FleetTally::default();
        for _ in 0..input.len(18)? {
            let family = (input.opt_text()?, input.opt_text()?);
            let (hits, total) = (input.u64()?, input.u64()?);
            let mine = tally.ticks.entry(family).or_default();
            mine.0 = mine.0.checked_add(hits).ok_or_else(|| bad("count overflows"))?;
            mine.1 = mine.1.checked_add(total).ok_or_else(|| bad("count overflows"))?;
        }
        tally.wave_connects = input.times()?;
        tally.wave_connects.sort_unstable();
        input.end()?;
        Ok(tally)
    }
}

/// Round 3 over the devices of `partition` (all of each device's records are in `events`),
/// with the whole fleet's merged rounds 1 and 2: every classified record's verdict, in input
/// order, and the silent drops among them, in input order. A silent drop's verdict is its
/// verdict alone ([`SilentDrop::alone`]) until [`silent_verdicts`] has seen every part's.
pub fn decide<'a>(
    events: &'a [Event],
    partition: &Partition,
    stats: &FleetStats,
    tally: &FleetTally,
    config: &ClassifyConfig,
) -> (Vec<Verdict>, Vec<SilentDrop<'a>>) {
    let Gather { samples, timeline, classified, .. } = gather(events, partition, config);
    let mut lifetimes = Lifetimes::learn(&samples, stats.sdk_bands());
    tally.run_free(&mut lifetimes, &samples);
    drop(samples);
    let timeline = crate::classify::Timeline { order: &timeline, classified: &classified };
    crate::classify::decide_with(events, partition, timeline, &lifetimes, stats, tally, config)
}

/// Round 4: the cause, confidence and rule of each of the whole fleet's silent drops (every
/// part's, in any order), from the bursts they make together, in the order given.
pub fn silent_verdicts(
    drops: &[SilentDrop<'_>],
    stats: &FleetStats,
    config: &ClassifyConfig,
) -> Vec<(Cause, f64, Rule)> {
    let found: Vec<Drop<'_>> =
        drops.iter().map(|drop| Drop { time: drop.time, prefix: drop.prefix }).collect();
    let burst_config = BurstConfig {
        window: config.burst_window,
        min_devices: config.burst_min_devices,
        min_share: config.burst_min_share,
    };
    burst::bursts(&found, &stats.devices_behind, burst_config)
        .into_iter()
        .zip(drops)
        .map(|(burst, drop)| {
            let (cause, confidence, rule) = crate::classify::silent_drop(burst, drop);
            (cause, confidence.clamp(0.0, 1.0), rule)
        })
        .collect()
}

struct Writer(Vec<u8>);

impl Writer {
    fn header(&mut self, magic: [u8; 4]) {
        self.0.extend_from_slice(&magic);
        self.0.push(1);
    }

    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn i64(&mut self, value: i64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn len(&mut self, len: usize) {
        self.u64(len as u64);
    }

    fn text(&mut self, text: &str) {
        // Texts here are SDK names, protocols and /24s: far below 4 GiB.
        self.0.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_le_bytes());
        self.0.extend_from_slice(&text.as_bytes()[..text.len().min(u32::MAX as usize)]);
    }

    fn opt_text(&mut self, text: Option<&str>) {
        self.0.push(u8::from(text.is_some()));
        if let Some(text) = text {
            self.text(text);
        }
    }

    fn opt_i64(&mut self, value: Option<i64>) {
        self.0.push(u8::from(value.is_some()));
        if let Some(value) = value {
            self.i64(value);
        }
    }

    fn times(&mut self, times: &[i64]) {
        self.len(times.len());
        for &time in times {
            self.i64(time);
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

    fn header(&mut self, magic: [u8; 4]) -> Result<()> {
        if self.array::<4>()? != magic {
            return Err(bad("not this round's statistics"));
        }
        match self.byte()? {
            1 => Ok(()),
            _ => Err(bad("unknown version")),
        }
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn i64(&mut self) -> Result<i64> {
        self.array().map(i64::from_le_bytes)
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

    fn opt_text(&mut self) -> Result<Option<String>> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.text().map(Some),
            _ => Err(bad("bad option tag")),
        }
    }

    fn opt_i64(&mut self) -> Result<Option<i64>> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.i64().map(Some),
            _ => Err(bad("bad option tag")),
        }
    }

    fn times(&mut self) -> Result<Vec<i64>> {
        let len = self.len(8)?;
        (0..len).map(|_| self.i64()).collect()
    }

    fn end(&self) -> Result<()> {
        if self.0.is_empty() { Ok(()) } else { Err(bad("bytes after the end")) }
    }
}
