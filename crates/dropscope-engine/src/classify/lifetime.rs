//! `PeriodicRenewal`: each device's token lifetime, learned from its own history.
//!
//! A SAS renewal ends a session at a fixed age: the SDK's renewal point (C 48 min, Node 45,
//! Python ~58; informational disconnects) or the token's expiry plus the hub's 5-10 min grace
//! (.NET and Java: 401003 then 404104). Lifetimes are configurable, so nothing is assumed: the
//! ages of a device's quick-reconnect sessions are clustered, and the densest cluster, when it
//! holds enough of them, is the device's renewal band. Devices with too little history borrow the
//! band of their SDK family and protocol, pooled over the fleet.

use std::collections::{BTreeMap, HashMap};

use dropscope_model::Event;
use rayon::prelude::*;

use crate::classify::codes;
use crate::classify::timeline::{Context, is_informational, renewal_candidate};

const MINUTE: i64 = 60_000_000_000;

/// Which renewal a band describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum RenewalKind {
    /// The hub closes the expired connection (401003, then 404104): .NET, Java.
    HubExpiry,
    /// The SDK disconnects before expiry (an informational disconnect): C, Node, Python.
    ClientRenewal,
}

impl RenewalKind {
    /// The width of the densest-cluster window at a session age of `age`: the hub's grace
    /// spreads expiries over 5 minutes, a client's own timer hardly at all.
    fn width(self, age: i64) -> i64 {
        match self {
            RenewalKind::HubExpiry => (6 * MINUTE).max(age / 10),
            RenewalKind::ClientRenewal => (2 * MINUTE).max(age / 20),
        }
    }
}

/// Session ages, in nanoseconds, at which a device renews its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Band {
    /// The shortest renewal age seen.
    pub(crate) lo: i64,
    /// The longest renewal age seen.
    pub(crate) hi: i64,
    /// Sessions in the band.
    pub(crate) support: usize,
}

impl Band {
    /// Whether a session of `age` ends inside the band, with a little slack.
    pub(crate) fn contains(self, age: i64) -> bool {
        let slack = MINUTE.max(self.lo / 50);
        age >= self.lo - slack && age <= self.hi + slack
    }

    fn overlaps(self, other: Band) -> bool {
        self.lo <= other.hi + MINUTE && other.lo <= self.hi + MINUTE
    }
}

/// The densest window of `samples` (sorted in place) of width `kind.width`, as a band.
pub(crate) fn densest_band(samples: &mut [i64], kind: RenewalKind) -> Option<Band> {
    samples.sort_unstable();
    let mut best: Option<Band> = None;
    let mut end = 0;
    for start in 0..samples.len() {
        let limit = samples[start] + kind.width(samples[start]);
        end = end.max(start);
        while end + 1 < samples.len() && samples[end + 1] <= limit {
            end += 1;
        }
        let support = end - start + 1;
        if best.is_none_or(|b| support > b.support) {
            best = Some(Band { lo: samples[start], hi: samples[end], support });
        }
    }
    best
}

/// An SDK family and protocol.
pub(crate) type Family<'a> = (Option<&'a str>, Option<&'a str>);

/// An SDK family and protocol, and the renewal kind.
pub(crate) type SdkKey<'a> = (Option<&'a str>, Option<&'a str>, RenewalKind);

/// A device's token clock: the times of its renewal disconnects and their period. Python's
/// renewal alarm runs from client creation whatever the connection does (sdk-behaviour.md §1), so
/// a renewal after a reconnect sits a whole number of periods after an earlier renewal although
/// the session is younger than the renewal age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clock {
    /// Times of the device's renewal disconnects (in its band, quick reconnect), sorted.
    anchors: Vec<i64>,
    /// The time from one renewal disconnect to the next, ns.
    period: i64,
    /// The longest reconnect after one of those renewals, ns.
    reconnect: i64,
    /// The clock runs free of connections: learned per SDK family and protocol.
    free_running: bool,
}

impl Clock {
    /// Whether `time` is a whole number of periods from the device's last renewal before it, or,
    /// when the clock runs free of connections, from its next renewal after it. Only backwards
    /// where the clock restarts at each connect (C, Node): the renewal after any quick reconnect
    /// is one period later, so a look forwards would take every restart for a tick.
    pub(crate) fn in_phase(&self, time: i64) -> bool {
        let at = self.anchors.partition_point(|&a| a < time);
        let after = (self.free_running && at < self.anchors.len()).then_some(at);
        [at.checked_sub(1), after]
            .into_iter()
            .flatten()
            .any(|i| on_tick((time - self.anchors[i]).abs(), self.period))
    }

    /// Whether a reconnect after `delay` is as quick as the device's renewals' (or quicker): a
    /// restart that happens to fall on the clock takes longer to come back.
    pub(crate) fn quick(&self, delay: i64) -> bool {
        delay <= (2 * self.reconnect).max(5 * SECOND)
    }
}

/// Whether `gap` is a whole number (one or more) of `period`s, within the slack.
fn on_tick(gap: i64, period: i64) -> bool {
    let periods = (gap + period / 2) / period;
    periods >= 1 && (gap - periods * period).abs() <= PHASE_SLACK + periods * SECOND
}

const SECOND: i64 = 1_000_000_000;
/// How far from the token clock's tick a renewal may be: whole-second timestamps and the
/// export's reordering.
const PHASE_SLACK: i64 = 30 * SECOND;

/// One renewal sample of a device: a classified record that looks like a renewal
/// ([`renewal_sample`]), with the session age it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample<'a> {
    /// Index of the record in the events.
    event: usize,
    kind: RenewalKind,
    /// The SDK family and protocol of the record's context.
    family: Family<'a>,
    time: i64,
    age: i64,
    reconnect: i64,
}

/// The renewal samples among one device's classified records and their contexts. Round 1 holds
/// every device's until the fleet's bands are learned (millions on a 10 M-record day), so the
/// list is allocated once for the most there can be and cut to its length, not grown a push at a
/// time and kept with a quarter of it spare.
pub(crate) fn device_samples<'a>(
    events: &[Event],
    contexts: &[(usize, Context<'a>)],
    quick: i64,
) -> Vec<Sample<'a>> {
    let mut samples = Vec::with_capacity(contexts.len());
    samples.extend(contexts.iter().filter_map(|(idx, context)| {
        let event = &events[*idx];
        let kind = renewal_sample(event, context, quick)?;
        Some(Sample {
            event: *idx,
            kind,
            family: (context.sdk, context.protocol),
            time: event.time.nanos(),
            age: context.age?,
            reconnect: context.reconnect.unwrap_or(0),
        })
    }));
    samples.shrink_to_fit();
    samples
}

/// The SDK families' renewal bands, pooled over the fleet.
pub(crate) type SdkBands<'s> = HashMap<SdkKey<'s>, Band>;

/// The SDK families' bands from the renewal ages of the whole fleet's samples, per SDK family,
/// protocol and renewal kind (in any order: only the multiset of ages counts).
pub(crate) fn sdk_bands<'s>(ages: impl Iterator<Item = (SdkKey<'s>, &'s [i64])>) -> SdkBands<'s> {
    ages.filter_map(|(key, ages)| {
        let mut samples = ages.to_vec();
        let total = samples.len();
        let band = densest_band(&mut samples, key.2)?;
        (band.support >= 5 && band.support * 10 >= total * 3).then_some((key, band))
    })
    .collect()
}

impl<'a> Sample<'a> {
    /// The SDK family, protocol and renewal kind the sample pools into.
    pub(crate) fn key(&self) -> SdkKey<'a> {
        (self.family.0, self.family.1, self.kind)
    }

    /// The session age the sample ended, ns.
    pub(crate) fn age(&self) -> i64 {
        self.age
    }
}

/// A device's SDK family: that of its last sample in input order.
fn device_family<'a>(samples: &[Sample<'a>]) -> Option<Family<'a>> {
    samples.iter().max_by_key(|s| s.event).map(|s| s.family)
}

/// The learned renewal bands of every device and SDK family.
#[derive(Debug, Default)]
pub(crate) struct Lifetimes<'s> {
    /// Per device number: its bands, by [`RenewalKind`] (hub expiry, client renewal).
    device: Vec<[Option<Band>; 2]>,
    sdk: SdkBands<'s>,
    /// Per device number: its token clock.
    clocks: Vec<Option<Clock>>,
}

impl RenewalKind {
    const fn index(self) -> usize {
        match self {
            RenewalKind::HubExpiry => 0,
            RenewalKind::ClientRenewal => 1,
        }
    }
}

impl<'s> Lifetimes<'s> {
    /// Learns each device's bands and token clock from its renewal samples ([`device_samples`],
    /// indexed by device number) and the fleet's SDK bands ([`sdk_bands`]): a device's own band
    /// and clock need only its samples and those. No clock runs free of connections yet: that
    /// takes the fleet's tick tallies ([`Lifetimes::tick_tallies`], [`Lifetimes::run_free`]).
    pub(crate) fn learn(devices: &[Vec<Sample<'_>>], sdk: SdkBands<'s>) -> Lifetimes<'s> {
        let device_sdk: Vec<Option<Family<'_>>> =
            devices.iter().map(|samples| device_family(samples)).collect();
        let device: Vec<[Option<Band>; 2]> = devices
            .par_iter()
            .zip(&device_sdk)
            .map(|(samples, family)| {
                [RenewalKind::HubExpiry, RenewalKind::ClientRenewal].map(|kind| {
                    let mut ages: Vec<i64> =
                        samples.iter().filter(|s| s.kind == kind).map(|s| s.age).collect();
                    let total = ages.len();
                    let band = densest_band(&mut ages, kind)?;
                    let fleet_agrees = family
                        .and_then(|(family, protocol)| sdk.get(&(family, protocol, kind)))
                        .is_some_and(|other| band.overlaps(*other));
                    ((band.support >= 3 && band.support * 2 >= total)
                        || (band.support >= 2 && fleet_agrees))
                        .then_some(band)
                })
            })
            .collect();
        let clocks: Vec<Option<Clock>> = devices
            .par_iter()
            .zip(&device_sdk)
            .zip(&device)
            .map(|((samples, family), bands)| {
                let mut samples: Vec<(i64, i64, i64)> = samples
                    .iter()
                    .filter(|s| s.kind == RenewalKind::ClientRenewal)
                    .map(|s| (s.time, s.age, s.reconnect))
                    .collect();
                if samples.is_empty() {
                    return None;
                }
                let band = bands[RenewalKind::ClientRenewal.index()].or_else(|| {
                    family.and_then(|(family, protocol)| {
                        sdk.get(&(family, protocol, RenewalKind::ClientRenewal)).copied()
                    })
                })?;
                samples.sort_unstable();
                let in_band = || samples.iter().filter(|s| band.contains(s.1));
                let anchors: Vec<i64> = in_band().map(|s| s.0).collect();
                let reconnect = in_band().map(|s| s.2).max().unwrap_or(0);
                let mut gaps: Vec<i64> = anchors
                    .windows(2)
                    .map(|w| w[1] - w[0])
                    .filter(|&gap| band.contains(gap) || band.contains(gap - MINUTE))
                    .collect();
                gaps.sort_unstable();
                let period =
                    gaps.get(gaps.len() / 2).copied().unwrap_or(i64::midpoint(band.lo, band.hi));
                (!anchors.is_empty() && period > 0).then_some(Clock {
                    anchors,
                    period,
                    reconnect,
                    free_running: false,
                })
            })
            .collect();
        Lifetimes { device, sdk, clocks }
    }

    /// A clock runs free of connections (Python's alarm) when renewals more than a period
    /// apart, with other disconnects between them, still fall on its ticks; one restarted at
    /// each connect (C, Node) lands there only by chance. Learned per SDK family and protocol:
    /// (renewals on a tick, renewals looked at) of these devices' clocks, which sum over parts
    /// of the fleet. `devices` are the samples [`Lifetimes::learn`] learned from.
    pub(crate) fn tick_tallies<'a>(
        &self,
        devices: &[Vec<Sample<'a>>],
    ) -> BTreeMap<Family<'a>, (usize, usize)> {
        let mut ticks: BTreeMap<Family<'a>, (usize, usize)> = BTreeMap::new();
        for (clock, samples) in self.clocks.iter().zip(devices) {
            let Some(clock) = clock else { continue };
            let tally = ticks.entry(device_family(samples).unwrap_or((None, None))).or_default();
            for w in clock.anchors.windows(2) {
                let gap = w[1] - w[0];
                if gap * 2 > clock.period * 3 {
                    tally.1 += 1;
                    tally.0 += usize::from(on_tick(gap, clock.period));
                }
            }
        }
        ticks
    }

    /// Sets which clocks run free of connections from the whole fleet's tick tallies: `ticks`
    /// gives (renewals on a tick, renewals looked at) of an SDK family and protocol.
    pub(crate) fn run_free(
        &mut self,
        devices: &[Vec<Sample<'_>>],
        ticks: impl Fn(Family<'_>) -> Option<(u64, u64)>,
    ) {
        for (clock, samples) in self.clocks.iter_mut().zip(devices) {
            let Some(clock) = clock else { continue };
            let key = device_family(samples).unwrap_or((None, None));
            clock.free_running =
                ticks(key).is_some_and(|(hits, total)| total >= 3 && hits * 2 >= total);
        }
    }

    /// The token clock of the record's device, when it renews by disconnecting.
    pub(crate) fn clock(&self, context: &Context<'_>) -> Option<&Clock> {
        self.clocks.get(context.device)?.as_ref()
    }

    /// The band learned from the record's device's own renewals, if it has one.
    pub(crate) fn device_band(&self, context: &Context<'_>, kind: RenewalKind) -> Option<Band> {
        self.device.get(context.device).and_then(|bands| bands[kind.index()])
    }

    /// The band of the record's device, else of its SDK family and protocol.
    pub(crate) fn band(&self, context: &Context<'_>, kind: RenewalKind) -> Option<Band> {
        self.device
            .get(context.device)
            .and_then(|bands| bands[kind.index()])
            .or_else(|| self.sdk.get(&(context.sdk, context.protocol, kind)).copied())
    }
}

/// Whether a record looks like a renewal sample: a 401003 disconnect the device recovers from,
/// or an informational disconnect followed by a quick reconnect.
fn renewal_sample(event: &Event, context: &Context<'_>, quick: i64) -> Option<RenewalKind> {
    if !renewal_candidate(event) {
        return None;
    }
    let reconnect = context.reconnect?;
    match event.code() {
        Some(codes::IOTHUB_UNAUTHORIZED)
            if context.auth_failures_after == 0 && reconnect <= 5 * quick =>
        {
            Some(RenewalKind::HubExpiry)
        }
        None if is_informational(event) && reconnect <= quick => Some(RenewalKind::ClientRenewal),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(minutes: &[f64], kind: RenewalKind, expected: Option<(f64, f64, usize)>) {
        let mut samples: Vec<i64> = minutes.iter().map(|m| (m * MINUTE as f64) as i64).collect();
        let got = densest_band(&mut samples, kind)
            .map(|b| (b.lo as f64 / MINUTE as f64, b.hi as f64 / MINUTE as f64, b.support));
        assert_eq!(got, expected, "{minutes:?}");
    }

    #[test]
    fn finds_the_renewal_cluster() {
        // .NET: 60 min token + 5-10 min grace, plus two keep-alive cuts.
        check(&[65.5, 12.0, 69.8, 67.0, 31.0, 66.2], RenewalKind::HubExpiry, Some((65.5, 69.8, 4)));
        // C SDK: 48 min, to the second; a restart at 20 min is left out.
        check(&[48.0, 48.1, 20.0, 48.05], RenewalKind::ClientRenewal, Some((48.0, 48.1, 3)));
        check(&[], RenewalKind::ClientRenewal, None);
    }

    #[test]
    fn band_has_slack() {
        let band = Band { lo: 48 * MINUTE, hi: 48 * MINUTE, support: 3 };
        assert!(band.contains(48 * MINUTE + MINUTE / 2));
        assert!(!band.contains(45 * MINUTE));
    }
}
