//! `PeriodicRenewal`: each device's token lifetime, learned from its own history.
//!
//! A SAS renewal ends a session at a fixed age: the SDK's renewal point (C 48 min, Node 45,
//! Python ~58; informational disconnects) or the token's expiry plus the hub's 5-10 min grace
//! (.NET and Java: 401003 then 404104). Lifetimes are configurable, so nothing is assumed: the
//! ages of a device's quick-reconnect sessions are clustered, and the densest cluster, when it
//! holds enough of them, is the device's renewal band. Devices with too little history borrow the
//! band of their SDK family and protocol, pooled over the fleet.

use std::collections::{BTreeMap, HashMap};

use dropscope_model::{Event, Operation};

use crate::classify::codes;
use crate::classify::timeline::{Context, is_informational};

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
type Family<'a> = (Option<&'a str>, Option<&'a str>);

/// An SDK family and protocol, and the renewal kind.
type SdkKey<'a> = (Option<&'a str>, Option<&'a str>, RenewalKind);

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

/// The learned renewal bands of every device and SDK family.
#[derive(Debug, Default)]
pub(crate) struct Lifetimes<'a> {
    device: HashMap<(usize, RenewalKind), Band>,
    sdk: HashMap<SdkKey<'a>, Band>,
    clocks: HashMap<usize, Clock>,
}

impl<'a> Lifetimes<'a> {
    /// Learns from every classified record's context.
    pub(crate) fn learn(
        events: &'a [Event],
        contexts: &[Option<Context<'a>>],
        quick: i64,
    ) -> Lifetimes<'a> {
        let mut per_device: BTreeMap<(usize, RenewalKind), Vec<i64>> = BTreeMap::new();
        let mut per_sdk: BTreeMap<SdkKey<'a>, Vec<i64>> = BTreeMap::new();
        let mut device_sdk: HashMap<usize, (Option<&'a str>, Option<&'a str>)> = HashMap::new();
        let mut renewals: BTreeMap<usize, Vec<(i64, i64, i64)>> = BTreeMap::new();
        for (event, context) in events.iter().zip(contexts) {
            let Some(context) = context else { continue };
            let Some(kind) = renewal_sample(event, context, quick) else { continue };
            let Some(age) = context.age else { continue };
            if kind == RenewalKind::ClientRenewal {
                let reconnect = context.reconnect.unwrap_or(0);
                renewals.entry(context.device).or_default().push((
                    event.time.nanos(),
                    age,
                    reconnect,
                ));
            }
            per_device.entry((context.device, kind)).or_default().push(age);
            device_sdk.insert(context.device, (context.sdk, context.protocol));
            per_sdk.entry((context.sdk, context.protocol, kind)).or_default().push(age);
        }
        let sdk: HashMap<_, _> = per_sdk
            .into_iter()
            .filter_map(|(key, mut samples)| {
                let total = samples.len();
                let band = densest_band(&mut samples, key.2)?;
                (band.support >= 5 && band.support * 10 >= total * 3).then_some((key, band))
            })
            .collect();
        let mut device = HashMap::new();
        for ((id, kind), mut samples) in per_device {
            let total = samples.len();
            let Some(band) = densest_band(&mut samples, kind) else { continue };
            let fleet_agrees = device_sdk
                .get(&id)
                .and_then(|&(family, protocol)| sdk.get(&(family, protocol, kind)))
                .is_some_and(|other| band.overlaps(*other));
            if (band.support >= 3 && band.support * 2 >= total)
                || (band.support >= 2 && fleet_agrees)
            {
                device.insert((id, kind), band);
            }
        }
        let mut clocks = HashMap::new();
        for (id, mut samples) in renewals {
            let Some(band) = device.get(&(id, RenewalKind::ClientRenewal)).copied().or_else(|| {
                device_sdk.get(&id).and_then(|&(family, protocol)| {
                    sdk.get(&(family, protocol, RenewalKind::ClientRenewal)).copied()
                })
            }) else {
                continue;
            };
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
            if !anchors.is_empty() && period > 0 {
                clocks.insert(id, Clock { anchors, period, reconnect, free_running: false });
            }
        }
        // A clock runs free of connections (Python's alarm) when renewals more than a period
        // apart, with other disconnects between them, still fall on its ticks; one restarted
        // at each connect (C, Node) lands there only by chance. Learned per SDK family.
        // (renewals on a tick, renewals looked at) per SDK family and protocol.
        let mut ticks: BTreeMap<Family<'a>, (usize, usize)> = BTreeMap::new();
        #[allow(
            clippy::iter_over_hash_type,
            reason = "counting: the order cannot reach the output"
        )]
        for (id, clock) in &clocks {
            let key = device_sdk.get(id).copied().unwrap_or((None, None));
            let tally = ticks.entry(key).or_default();
            for w in clock.anchors.windows(2) {
                let gap = w[1] - w[0];
                if gap * 2 > clock.period * 3 {
                    tally.1 += 1;
                    tally.0 += usize::from(on_tick(gap, clock.period));
                }
            }
        }
        #[allow(clippy::iter_over_hash_type, reason = "each clock is set on its own")]
        for (id, clock) in &mut clocks {
            let key = device_sdk.get(id).copied().unwrap_or((None, None));
            clock.free_running =
                ticks.get(&key).is_some_and(|&(hits, total)| total >= 3 && hits * 2 >= total);
        }
        Lifetimes { device, sdk, clocks }
    }

    /// The token clock of the record's device, when it renews by disconnecting.
    pub(crate) fn clock(&self, context: &Context<'a>) -> Option<&Clock> {
        self.clocks.get(&context.device)
    }

    /// The band of the record's device, else of its SDK family and protocol.
    pub(crate) fn band(&self, context: &Context<'a>, kind: RenewalKind) -> Option<Band> {
        self.device
            .get(&(context.device, kind))
            .or_else(|| self.sdk.get(&(context.sdk, context.protocol, kind)))
            .copied()
    }
}

/// Whether a record looks like a renewal sample: a 401003 disconnect the device recovers from,
/// or an informational disconnect followed by a quick reconnect.
fn renewal_sample(event: &Event, context: &Context<'_>, quick: i64) -> Option<RenewalKind> {
    if event.operation != Operation::Disconnect {
        return None;
    }
    let reconnect = context.reconnect?;
    match event.result_type {
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
