//! Fleet incidents: windows where disconnects jump far above the fleet baseline.
//!
//! # Method
//!
//! 1. For every minute of the window (first to last event, minutes aligned to UTC), count the
//!    *distinct devices* that logged at least one disconnect. Counting devices rather than records
//!    keeps one flapping device (a duplicate identity, say) from looking like a fleet event.
//! 2. The baseline is robust: the median `m` of the per-minute counts over the whole window
//!    (quiet minutes count as zero) and their median absolute deviation `MAD`, scaled to a
//!    standard deviation `s = max(1.4826 * MAD, 1)` (the floor keeps a silent fleet from making
//!    every disconnect an incident).
//! 3. A minute is *hot* when its count is at least `max(min_devices, ceil(m + k * s))`, with
//!    `k = 5` and `min_devices = 5` by default ([`IncidentConfig`]).
//! 4. Hot minutes at most `max_gap_minutes` (default 1) quiet minutes apart merge into one
//!    incident, from the start of its first hot minute to the end of its last.
//! 5. Each incident reports its distinct devices, disconnects and failed connects inside it, the
//!    masked-IP /24 prefixes of the disconnecting devices with their share of the devices (a
//!    device counts once per prefix it disconnected from; the session's IP stands in when the
//!    record has none), and the error codes with their counts.
//!
//! Because the baseline is the window's own median, a storm covering more than half of the
//! window raises the baseline and is not reported: analyse a window wider than the storm.
//! Incidents are ordered by start time; prefixes by devices (descending) then prefix; codes by
//! count (descending) then code. Nothing depends on the input order or the thread count.

use std::collections::BTreeMap;

use dropscope_model::findings::{CodeCount, Incident, MINUTE_NS, NetworkShare};
use dropscope_model::{Cause, Event, Operation, Timestamp};
use rayon::prelude::*;

use crate::sessions::SessionTable;

/// How hot a minute must be to count as part of an incident.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IncidentConfig {
    /// How many robust standard deviations above the median a hot minute is.
    pub k: f64,
    /// The fewest disconnecting devices in a hot minute.
    pub min_devices: u64,
    /// Hot minutes at most this many quiet minutes apart are one incident.
    pub max_gap_minutes: u64,
}

impl Default for IncidentConfig {
    fn default() -> IncidentConfig {
        IncidentConfig { k: 5.0, min_devices: 5, max_gap_minutes: 1 }
    }
}

/// Finds the incidents in `events`, given their session table (built from the same slice).
/// None when the window is longer than [`crate::sessions::MAX_WINDOW_MINUTES`].
///
/// Every prefix is kept, and the dominant cause is left [`Cause::Unknown`] with share 0: it
/// needs the classifier's verdicts, and [`crate::findings::assemble`] fills it in.
pub fn detect(events: &[Event], table: &SessionTable, config: &IncidentConfig) -> Vec<Incident> {
    detect_counting(events, table, |_| true, config)
}

/// Like [`detect`], but only the events whose `counted[idx]` is true take part: in the
/// per-minute counts, the baseline and each incident's details. The report counts the real
/// problems only, because after a fleet-wide reconnect the token renewals come back in
/// synchronised waves an hour later, which would show as incidents and raise the baseline
/// enough to hide a real hub fault. Empty when `counted` is not one flag per event.
pub fn detect_among(
    events: &[Event],
    table: &SessionTable,
    counted: &[bool],
    config: &IncidentConfig,
) -> Vec<Incident> {
    if counted.len() != events.len() {
        return Vec::new();
    }
    detect_counting(events, table, |idx| counted[idx], config)
}

fn detect_counting(
    events: &[Event],
    table: &SessionTable,
    counted: impl Fn(usize) -> bool + Sync,
    config: &IncidentConfig,
) -> Vec<Incident> {
    let Some(window) = table.window else { return Vec::new() };
    if table.partition.event_device.len() != events.len() {
        return Vec::new();
    }
    let Some(n_minutes) = window.minutes() else { return Vec::new() };
    let first_minute = window.start.0.div_euclid(MINUTE_NS);

    // Each (minute, device) as one number, the minute in the high half (a window has fewer than
    // 2^32 minutes, [`crate::sessions::MAX_WINDOW_MINUTES`]): sorting 8 bytes, not 16, a record.
    let mut minute_devices: Vec<u64> = events
        .par_iter()
        .zip(table.partition.event_device.par_iter())
        .enumerate()
        .filter(|(idx, (e, _))| e.operation == Operation::Disconnect && counted(*idx))
        .map(|(_, (e, &d))| {
            (((e.time.0.div_euclid(MINUTE_NS) - first_minute) as u64) << 32) | u64::from(d)
        })
        .collect();
    minute_devices.par_sort_unstable();
    minute_devices.dedup();
    let mut counts = vec![0_u64; n_minutes];
    for &minute_device in &minute_devices {
        counts[(minute_device >> 32) as usize] += 1;
    }
    drop(minute_devices);

    let (baseline, threshold) = hot_threshold(&counts, config);
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (minute, _) in counts.iter().enumerate().filter(|&(_, &c)| c >= threshold) {
        match spans.last_mut() {
            Some((_, last)) if (minute - *last) as u64 <= config.max_gap_minutes + 1 => {
                *last = minute;
            }
            _ => spans.push((minute, minute)),
        }
    }
    if spans.is_empty() {
        return Vec::new();
    }

    // Disconnects and failed connects inside an incident, by time, for the per-incident details.
    // Incidents cover minutes of a day: only those records are sorted.
    let span_ns: Vec<(i64, i64)> = spans
        .iter()
        .map(|&(first, last)| {
            (
                (first_minute + first as i64) * MINUTE_NS,
                (first_minute + last as i64 + 1) * MINUTE_NS,
            )
        })
        .collect();
    let inside = |time: i64| {
        let after = span_ns.partition_point(|&(start, _)| start <= time);
        after > 0 && time < span_ns[after - 1].1
    };
    let mut by_time: Vec<u32> = (0..events.len() as u32)
        .into_par_iter()
        .filter(|&i| {
            let e = &events[i as usize];
            (e.operation == Operation::Disconnect || e.is_failed_connect())
                && inside(e.time.0)
                && counted(i as usize)
        })
        .collect();
    by_time.par_sort_unstable_by_key(|&i| (events[i as usize].time, i));

    spans
        .into_par_iter()
        .map(|(first, last)| {
            let start = (first_minute + first as i64) * MINUTE_NS;
            let end = (first_minute + last as i64 + 1) * MINUTE_NS;
            let (peak, peak_devices) = (first..=last)
                .map(|m| (m, counts[m]))
                .fold((first, 0), |best, (m, c)| if c > best.1 { (m, c) } else { best });
            let lo = by_time.partition_point(|&i| events[i as usize].time.0 < start);
            let hi = by_time.partition_point(|&i| events[i as usize].time.0 < end);
            let mut incident = describe(events, table, &by_time[lo..hi]);
            incident.start = Timestamp(start);
            incident.end = Timestamp(end);
            incident.peak_minute = Timestamp((first_minute + peak as i64) * MINUTE_NS);
            incident.peak_devices = peak_devices;
            incident.baseline = baseline;
            incident.threshold = threshold;
            incident
        })
        .collect()
}

/// The median of the counts and the hot-minute threshold.
fn hot_threshold(counts: &[u64], config: &IncidentConfig) -> (f64, u64) {
    let center = median(counts.iter().map(|&c| c as f64).collect());
    let mad = median(counts.iter().map(|&c| (c as f64 - center).abs()).collect());
    let sigma = (1.4826_f64 * mad).max(1.0);
    let bar = (center + config.k * sigma).ceil();
    let bar = if bar.is_finite() && bar > 0.0 { bar as u64 } else { 0 };
    (center, bar.max(config.min_devices).max(1))
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { f64::midpoint(values[mid - 1], values[mid]) }
}

/// Devices, records, prefixes and codes of the events `idxs` (disconnects and failed connects).
fn describe(events: &[Event], table: &SessionTable, idxs: &[u32]) -> Incident {
    // The devices and (prefix, device) pairs are listed, then sorted and deduplicated once: a
    // set insertion a record was most of the step on a day's storms.
    let mut devices: Vec<u32> = Vec::new();
    let mut prefixes: Vec<(&str, u32)> = Vec::new();
    let mut codes: BTreeMap<Option<u32>, CodeCount> = BTreeMap::new();
    let (mut disconnects, mut failed_connects) = (0, 0);
    for &idx in idxs {
        let event = &events[idx as usize];
        let device = table.partition.event_device[idx as usize];
        let code = codes.entry(event.code()).or_insert(CodeCount {
            code: event.code(),
            disconnects: 0,
            failed_connects: 0,
        });
        if event.operation == Operation::Disconnect {
            disconnects += 1;
            code.disconnects += 1;
            devices.push(device);
            let ip = event.masked_ip.as_deref().or_else(|| {
                table.ending(idx as usize).and_then(|ending| ending.session.masked_ip.as_deref())
            });
            if let Some(ip) = ip {
                prefixes.push((prefix24(ip), device));
            }
        } else {
            failed_connects += 1;
            code.failed_connects += 1;
        }
    }
    devices.sort_unstable();
    devices.dedup();
    prefixes.sort_unstable();
    prefixes.dedup();
    let n_devices = devices.len() as u64;
    let mut networks: Vec<NetworkShare> = prefixes
        .chunk_by(|a, b| a.0 == b.0)
        .map(|pairs| NetworkShare {
            prefix: pairs[0].0.to_owned(),
            devices: pairs.len() as u64,
            share: if n_devices == 0 { 0.0 } else { pairs.len() as f64 / n_devices as f64 },
        })
        .collect();
    networks.sort_by(|a, b| b.devices.cmp(&a.devices).then_with(|| a.prefix.cmp(&b.prefix)));
    let mut codes: Vec<CodeCount> = codes.into_values().collect();
    codes.sort_by(|a, b| b.count().cmp(&a.count()).then_with(|| a.code.cmp(&b.code)));
    Incident {
        start: Timestamp::default(),
        end: Timestamp::default(),
        devices: n_devices,
        disconnects,
        failed_connects,
        peak_minute: Timestamp::default(),
        peak_devices: 0,
        baseline: 0.0,
        threshold: 0,
        networks,
        dominant_cause: Cause::Unknown,
        dominant_share: 0.0,
        codes,
    }
}

/// The /24 prefix of a masked IPv4 address (`24.9.142.XXX` → `24.9.142`); other text as is.
pub fn prefix24(ip: &str) -> &str {
    let ip = ip.trim();
    match ip.rfind('.') {
        Some(dot) if ip[..dot].bytes().filter(|&b| b == b'.').count() == 2 => &ip[..dot],
        _ => ip,
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::sessions::build;
    use crate::sessions::tests::{events, trimmed_lines};

    /// Renders each incident as `start..end devices disc failed peak prefixes codes`, times in
    /// seconds from the first event.
    fn check(input: &str, expected: &str) {
        let events = events(input);
        let table = build(&events);
        let base = table.window.map_or(0, |w| w.start.0);
        let mut got = String::new();
        for i in detect(&events, &table, &IncidentConfig::default()) {
            write!(
                got,
                "{}..{} dev={} disc={} failed={} peak={} thr={}",
                (i.start.0 - base) / 1_000_000_000,
                (i.end.0 - base) / 1_000_000_000,
                i.devices,
                i.disconnects,
                i.failed_connects,
                i.peak_devices,
                i.threshold
            )
            .unwrap();
            for p in &i.networks {
                write!(got, " {}={:.2}", p.prefix, p.share).unwrap();
            }
            for c in &i.codes {
                let code = c.code.map_or("info".to_owned(), |c| c.to_string());
                write!(got, " {code}:{}/{}", c.disconnects, c.failed_connects).unwrap();
            }
            got.push('\n');
        }
        assert_eq!(got, trimmed_lines(expected));
    }

    /// Each device connects every 30 minutes for 25 minutes, devices spread over the cycle,
    /// over `minutes`; then `extra`.
    fn fleet(devices: usize, minutes: i64, extra: &str) -> String {
        let mut text = String::new();
        for d in 0..devices {
            for m in (0..minutes).step_by(30) {
                let t = m * 60 + d as i64 * 89;
                writeln!(text, "dev{d} {t} C - 10.0.{}.XXX", d % 4).unwrap();
                writeln!(text, "dev{d} {} D - 10.0.{}.XXX", t + 1500, d % 4).unwrap();
            }
        }
        text.push_str(extra);
        text
    }

    #[test]
    fn quiet_fleet_has_no_incident() {
        check(&fleet(20, 120, ""), "");
    }

    #[test]
    fn site_outage_is_one_incident_with_its_prefix() {
        let mut outage = String::new();
        for d in 0..24 {
            // Half the disconnect records lack the IP: the session's connect IP stands in.
            let (connect_ip, disconnect_ip) =
                if d % 2 == 0 { ("-", "10.9.9.XXX") } else { ("10.9.9.XXX", "-") };
            writeln!(outage, "site{d} 2400 C - {connect_ip}").unwrap();
            writeln!(outage, "site{d} {} D 404104 {disconnect_ip}", 3620 + d * 2).unwrap();
            writeln!(outage, "site{d} {} F 500001", 3650 + d).unwrap();
        }
        // 24 site devices plus one of the fleet's usual disconnects in those two minutes.
        check(
            &fleet(20, 120, &outage),
            "3580..3700 dev=25 disc=25 failed=24 peak=15 thr=6 10.9.9=0.96 10.0.0=0.04 \
             404104:24/0 500001:0/24 info:1/0",
        );
    }

    #[test]
    fn only_counted_events_make_incidents() {
        let mut outage = String::new();
        for d in 0..24 {
            writeln!(outage, "site{d} 2400 C - 10.9.9.XXX").unwrap();
            writeln!(outage, "site{d} {} D 404104 10.9.9.XXX", 3620 + d * 2).unwrap();
        }
        let events = events(&fleet(20, 120, &outage));
        let table = build(&events);
        let config = IncidentConfig::default();
        let all = vec![true; events.len()];
        assert_eq!(detect_among(&events, &table, &all, &config), detect(&events, &table, &config));
        assert_eq!(detect(&events, &table, &config).len(), 1);
        // Counting only the fleet's usual disconnects leaves the outage out.
        let usual: Vec<bool> = events.iter().map(|e| !e.device_id.starts_with("site")).collect();
        assert!(detect_among(&events, &table, &usual, &config).is_empty());
        assert!(detect_among(&events, &table, &all[1..], &config).is_empty(), "one flag per event");
    }

    #[test]
    fn prefixes_of_masked_ips() {
        assert_eq!(prefix24("24.9.142.XXX"), "24.9.142");
        assert_eq!(prefix24(" 10.0.0.1 "), "10.0.0");
        assert_eq!(prefix24("fe80::1"), "fe80::1");
    }
}
