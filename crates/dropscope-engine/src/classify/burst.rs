//! `SharedNetworkBurst` and `FleetWideBurst`: disconnects that many devices share in time.
//!
//! A silent drop is logged as 404104 when the hub's idle timer fires, 1.5 x keep-alive after the
//! last packet, so one outage spreads its 404104s over a few minutes. When a large share of the
//! devices behind one masked-IP /24 drop within that window, a shared network path failed
//! (`network_outage`). When the same happens behind many /24s at once, or the whole fleet's rate of
//! unexplained drops jumps with no network standing out, the hub's side failed (`server_error`).

use std::collections::{BTreeMap, HashMap};

/// One unexplained 404104: a silent drop not explained by a token renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drop<'a> {
    /// Nanoseconds since the epoch.
    pub(crate) time: i64,
    /// The masked-IP /24 (`24.9.142`), when known.
    pub(crate) prefix: Option<&'a str>,
}

/// What a drop belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Burst {
    /// Its /24 lost this share of its devices at once; few other networks did.
    SharedNetwork {
        /// Drops in the window over devices behind the /24.
        share: f64,
    },
    /// Many networks, or the whole fleet, dropped at once.
    FleetWide {
        /// /24s hit in the window (0 when the fleet's rate jumped with no /24 standing out).
        networks: usize,
    },
}

/// Thresholds of the burst detectors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BurstConfig {
    /// Half-width of the correlation window, ns.
    pub(crate) window: i64,
    /// Fewest drops behind one /24 that make a shared-network burst.
    pub(crate) min_devices: usize,
    /// Smallest share of the /24's devices that make a shared-network burst.
    pub(crate) min_share: f64,
}

/// The /24 of a masked IP: `24.9.142.XXX` -> `24.9.142`; IPv6 drops the last group.
pub(crate) fn prefix(masked_ip: &str) -> Option<&str> {
    let cut = masked_ip.rfind(['.', ':'])?;
    let prefix = &masked_ip[..cut];
    (!prefix.is_empty()).then_some(prefix)
}

/// Assigns each drop to a burst, or `None` when it stands alone. `devices_behind` gives the
/// number of distinct devices seen behind each /24. A drop's burst depends on the set of drops,
/// not on their order: every window is counted by time, whatever order ties come in.
pub(crate) fn bursts(
    drops: &[Drop<'_>],
    devices_behind: &BTreeMap<String, u64>,
    config: BurstConfig,
) -> Vec<Option<Burst>> {
    let window = config.window;
    let mut out = vec![None; drops.len()];

    // Shared-network hits, per /24.
    let mut by_prefix: BTreeMap<&str, Vec<(i64, usize)>> = BTreeMap::new();
    for (i, drop) in drops.iter().enumerate() {
        if let Some(prefix) = drop.prefix {
            by_prefix.entry(prefix).or_default().push((drop.time, i));
        }
    }
    let mut hits: Vec<(i64, usize, usize)> = Vec::new(); // (time, prefix number, drop)
    let mut shares = vec![0.0; drops.len()];
    for (prefix_no, (prefix, list)) in by_prefix.iter_mut().enumerate() {
        list.sort_unstable();
        let behind = devices_behind.get(*prefix).copied().unwrap_or(1).max(1);
        for &(time, i) in list.iter() {
            let lo = list.partition_point(|&(t, _)| t < time - window);
            let hi = list.partition_point(|&(t, _)| t <= time + window);
            let local = hi - lo;
            let share = (local as f64 / behind as f64).min(1.0);
            if local >= config.min_devices && share >= config.min_share {
                hits.push((time, prefix_no, i));
                shares[i] = share;
            }
        }
    }

    // How many /24s are hit around each hit: one or a few is a network, most of them is the hub.
    hits.sort_unstable();
    let networks = by_prefix
        .keys()
        .filter(|p| devices_behind.get(**p).copied().unwrap_or(0) >= 2)
        .count()
        .max(1);
    let mut in_window: HashMap<usize, usize> = HashMap::new();
    let (mut lo, mut hi) = (0, 0);
    for &(time, _, i) in &hits {
        while hi < hits.len() && hits[hi].0 <= time + window {
            *in_window.entry(hits[hi].1).or_default() += 1;
            hi += 1;
        }
        while hits[lo].0 < time - window {
            if let Some(count) = in_window.get_mut(&hits[lo].1) {
                *count -= 1;
                if *count == 0 {
                    in_window.remove(&hits[lo].1);
                }
            }
            lo += 1;
        }
        let hit_networks = in_window.len();
        out[i] = Some(if hit_networks >= 3 && hit_networks * 2 >= networks {
            Burst::FleetWide { networks: hit_networks }
        } else {
            Burst::SharedNetwork { share: shares[i] }
        });
    }

    // The rest: a fleet-wide jump of the drop rate with no /24 standing out.
    let mut residual: Vec<(i64, Option<&str>, usize)> = (0..drops.len())
        .filter(|&i| out[i].is_none())
        .map(|i| (drops[i].time, drops[i].prefix, i))
        .collect();
    residual.sort_unstable();
    if let (Some(first), Some(last)) = (residual.first(), residual.last()) {
        let span = (last.0 - first.0).max(2 * window);
        let expected = residual.len() as f64 * (2 * window) as f64 / span as f64;
        let threshold = (5.0 * expected).max(10.0);
        let mut residual_by_prefix: HashMap<&str, Vec<i64>> = HashMap::new();
        for &(time, prefix, _) in &residual {
            if let Some(prefix) = prefix {
                residual_by_prefix.entry(prefix).or_default().push(time);
            }
        }
        for &(time, own_prefix, i) in &residual {
            let lo = residual.partition_point(|r| r.0 < time - window);
            let hi = residual.partition_point(|r| r.0 <= time + window);
            let count = hi - lo;
            if (count as f64) < threshold {
                continue;
            }
            let own = own_prefix.and_then(|p| residual_by_prefix.get(p)).map_or(0, |times| {
                times.partition_point(|&t| t <= time + window)
                    - times.partition_point(|&t| t < time - window)
            });
            out[i] = Some(if own >= config.min_devices && own * 2 >= count {
                Burst::SharedNetwork { share: 0.0 }
            } else {
                Burst::FleetWide { networks: 0 }
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;
    const CONFIG: BurstConfig = BurstConfig { window: 8 * MIN, min_devices: 3, min_share: 0.25 };

    /// `drops` as (minute, /24); every /24 has `behind` devices.
    fn check(drops: &[(i64, &str)], behind: u64, expected: &str) {
        let drops: Vec<Drop<'_>> =
            drops.iter().map(|&(m, p)| Drop { time: m * MIN, prefix: Some(p) }).collect();
        let mut devices_behind: BTreeMap<String, u64> = BTreeMap::new();
        for p in ["10.0.1", "10.0.2", "10.0.3", "10.0.4", "10.0.5"] {
            devices_behind.insert(p.to_owned(), behind);
        }
        let got: Vec<&str> = bursts(&drops, &devices_behind, CONFIG)
            .iter()
            .map(|b| match b {
                None => "-",
                Some(Burst::SharedNetwork { .. }) => "net",
                Some(Burst::FleetWide { .. }) => "fleet",
            })
            .collect();
        assert_eq!(got.join(" "), expected);
    }

    #[test]
    fn one_site_is_a_network_outage() {
        check(
            &[
                (100, "10.0.1"),
                (101, "10.0.1"),
                (103, "10.0.1"),
                (104, "10.0.1"),
                (102, "10.0.2"),
                (300, "10.0.1"),
            ],
            10,
            "net net net net - -",
        );
    }

    #[test]
    fn most_sites_at_once_is_the_hub() {
        let mut drops = Vec::new();
        for p in ["10.0.1", "10.0.2", "10.0.3", "10.0.4"] {
            drops.extend([(100, p), (101, p), (102, p)]);
        }
        check(&drops, 10, &["fleet"; 12].join(" "));
    }

    #[test]
    fn sporadic_drops_stand_alone() {
        check(&[(10, "10.0.1"), (100, "10.0.1"), (200, "10.0.2"), (205, "10.0.3")], 10, "- - - -");
    }

    #[test]
    fn prefix_of_masked_ip() {
        assert_eq!(prefix("24.9.142.XXX"), Some("24.9.142"));
        assert_eq!(prefix("nope"), None);
        assert_eq!(prefix(".XXX"), None);
    }
}
