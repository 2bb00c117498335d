//! Replay of the documented metric alert "Connected devices below N for M minutes".
//!
//! IoT Hub's *Connected devices* metric (`connectedDeviceCount`) is what teams alert on, and it
//! cannot be exported after the fact; the engine rebuilds it per minute from the sessions. This
//! module replays an alert rule over that curve, so the report can say when the alert fired,
//! when it cleared, which incident each firing belongs to, and which firings were benign churn.
//!
//! The rule is evaluated like an Azure Monitor metric alert with aggregation *Average* and a
//! one-minute granularity: a minute counts as *below* when its time-weighted average of
//! connected devices is below N. The alert fires at the end of the M-th consecutive minute below
//! N (`fired_at = below_since + M`) and clears at the end of the first minute whose average is
//! back at or above N. A minute missing from the curve ends a run, as no data would.
//!
//! ```
//! use dropscope_model::findings::{CurvePoint, MINUTE_NS};
//! use dropscope_model::Timestamp;
//! use dropscope_report::alert::{AlertConfig, replay};
//!
//! let curve: Vec<CurvePoint> = [100.0, 40.0, 40.0, 100.0]
//!     .iter()
//!     .enumerate()
//!     .map(|(idx, avg)| CurvePoint {
//!         minute: Timestamp(idx as i64 * MINUTE_NS),
//!         min: *avg as u64,
//!         avg: *avg,
//!         max: *avg as u64,
//!     })
//!     .collect();
//! let config = AlertConfig { below: Some(90), for_ns: Some(2 * MINUTE_NS) };
//! let replayed = replay(&curve, &[], config);
//! assert_eq!(replayed.firings.len(), 1);
//! assert_eq!(replayed.firings[0].fired_at, Timestamp(3 * MINUTE_NS));
//! assert_eq!(replayed.firings[0].cleared_at, Some(Timestamp(4 * MINUTE_NS)));
//! ```

use dropscope_model::Timestamp;
use dropscope_model::findings::{AlertFiring, AlertReplay, CurvePoint, Incident, MINUTE_NS};

use crate::{Error, Result};

/// The default alert duration: 5 minutes, the shortest window teams commonly set.
pub const DEFAULT_FOR_NS: i64 = 5 * MINUTE_NS;

/// The default threshold as a fraction of the median per-minute connected devices.
pub const DEFAULT_THRESHOLD_FRACTION: f64 = 0.9;

/// The alert rule to replay; `None` fields take the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlertConfig {
    /// N: fire when fewer devices than this are connected. Default:
    /// [`default_threshold`] of the curve.
    pub below: Option<u64>,
    /// M: for this long, in nanoseconds, rounded up to whole minutes (at least one).
    /// Default: [`DEFAULT_FOR_NS`].
    pub for_ns: Option<i64>,
}

/// The default N for a fleet: 90% of the median per-minute average of connected devices, rounded
/// down, at least 1; 0 for an empty curve (which never fires). A fleet that usually has 40 000
/// devices connected gets "below 36 000".
pub fn default_threshold(curve: &[CurvePoint]) -> u64 {
    let mut averages: Vec<f64> =
        curve.iter().map(|point| point.avg).filter(|a| a.is_finite()).collect();
    if averages.is_empty() {
        return 0;
    }
    averages.sort_by(f64::total_cmp);
    let mid = averages.len() / 2;
    let median = if averages.len().is_multiple_of(2) {
        f64::midpoint(averages[mid - 1], averages[mid])
    } else {
        averages[mid]
    };
    ((median * DEFAULT_THRESHOLD_FRACTION).floor() as u64).max(1)
}

/// Replays the rule over `curve` (one point per minute, in time order) and links each firing
/// to the incident it overlaps most (`incidents` in start order; an incident counts as
/// overlapping when it is within a minute of the firing, since the dip follows the disconnects).
pub fn replay(curve: &[CurvePoint], incidents: &[Incident], config: AlertConfig) -> AlertReplay {
    let threshold_derived = config.below.is_none();
    let threshold = config.below.unwrap_or_else(|| default_threshold(curve));
    let for_ns = config.for_ns.unwrap_or(DEFAULT_FOR_NS).max(1);
    let for_minutes = (for_ns / MINUTE_NS + i64::from(for_ns % MINUTE_NS != 0)).max(1);
    let for_ns = for_minutes.saturating_mul(MINUTE_NS);
    let mut firings = Vec::new();

    // The current run of minutes below the threshold: (start, length, lowest average).
    let mut run: Option<(Timestamp, i64, f64)> = None;
    let mut firing: Option<AlertFiring> = None;
    let mut previous: Option<Timestamp> = None;
    for point in curve {
        let contiguous =
            previous.is_none_or(|prev| point.minute.0 == prev.0.saturating_add(MINUTE_NS));
        if !contiguous {
            // No data for the missing minutes: the run ends where the data ends.
            if let (Some(mut open), Some(prev)) = (firing.take(), previous) {
                open.cleared_at = Some(Timestamp(prev.0.saturating_add(MINUTE_NS)));
                firings.push(open);
            }
            run = None;
        }
        previous = Some(point.minute);
        let below = point.avg < threshold as f64;
        if below {
            let (start, length, lowest) = run.get_or_insert((point.minute, 0, point.avg));
            *length += 1;
            *lowest = lowest.min(point.avg);
            if let Some(open) = firing.as_mut() {
                open.lowest = open.lowest.min(lowest_count(*lowest));
            } else if *length >= for_minutes {
                firing = Some(AlertFiring {
                    below_since: *start,
                    fired_at: Timestamp(start.0.saturating_add(for_ns)),
                    cleared_at: None,
                    lowest: lowest_count(*lowest),
                    incident: None,
                    benign: true,
                });
            }
        } else {
            if let Some(mut open) = firing.take() {
                open.cleared_at = Some(Timestamp(point.minute.0.saturating_add(MINUTE_NS)));
                firings.push(open);
            }
            run = None;
        }
    }
    if let Some(open) = firing {
        firings.push(open);
    }

    let window_end = curve.last().map(|point| Timestamp(point.minute.0.saturating_add(MINUTE_NS)));
    for firing in &mut firings {
        let end = firing.cleared_at.or(window_end).unwrap_or(firing.fired_at);
        firing.incident = overlapping_incident(incidents, firing.below_since, end);
        firing.benign = firing
            .incident
            .and_then(|idx| incidents.get(idx))
            .is_none_or(|incident| incident.dominant_cause.is_benign());
    }
    AlertReplay { threshold, for_ns, threshold_derived, firings }
}

fn lowest_count(avg: f64) -> u64 {
    if avg.is_finite() && avg > 0.0 { avg.floor() as u64 } else { 0 }
}

/// The index of the incident overlapping `[start, end)` most, widened by a minute on each side;
/// the earliest on a tie.
fn overlapping_incident(incidents: &[Incident], start: Timestamp, end: Timestamp) -> Option<usize> {
    let mut best: Option<(usize, i64)> = None;
    for (idx, incident) in incidents.iter().enumerate() {
        let from = incident.start.0.saturating_sub(MINUTE_NS).max(start.0);
        let to = incident.end.0.saturating_add(MINUTE_NS).min(end.0);
        let overlap = to.saturating_sub(from);
        if overlap > 0 && best.is_none_or(|(_, most)| overlap > most) {
            best = Some((idx, overlap));
        }
    }
    best.map(|(idx, _)| idx)
}

/// Reads an alert duration: a number followed by `s`, `m`/`min`, or `h`, e.g. `5m`, `90s`,
/// `1h`, `1.5h`; a bare number is minutes. Returns nanoseconds.
pub fn parse_duration(text: &str) -> Result<i64> {
    let invalid = || Error::Duration { text: text.to_owned() };
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let unit_ns = match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1e9,
        "" | "m" | "min" | "mins" | "minute" | "minutes" => 60e9,
        "h" | "hr" | "hour" | "hours" => 3600e9,
        _ => return Err(invalid()),
    };
    let ns = value * unit_ns;
    // A week is far beyond any alert window and far inside i64.
    if !ns.is_finite() || ns <= 0.0 || ns > 7.0 * 86_400e9 {
        return Err(invalid());
    }
    Ok(ns.round() as i64)
}

#[cfg(test)]
mod tests {
    use dropscope_model::Cause;

    use super::*;

    fn curve(avgs: &[f64]) -> Vec<CurvePoint> {
        avgs.iter()
            .enumerate()
            .map(|(idx, avg)| CurvePoint {
                minute: Timestamp(idx as i64 * MINUTE_NS),
                min: *avg as u64,
                avg: *avg,
                max: *avg as u64,
            })
            .collect()
    }

    fn incident(start_min: i64, end_min: i64, cause: Cause) -> Incident {
        Incident {
            start: Timestamp(start_min * MINUTE_NS),
            end: Timestamp(end_min * MINUTE_NS),
            devices: 10,
            disconnects: 10,
            failed_connects: 0,
            peak_minute: Timestamp(start_min * MINUTE_NS),
            peak_devices: 10,
            baseline: 0.0,
            threshold: 5,
            networks: Vec::new(),
            dominant_cause: cause,
            dominant_share: 1.0,
            codes: Vec::new(),
        }
    }

    /// Firings as `(below_since, fired_at, cleared_at, lowest, incident, benign)`, times in minutes.
    type Row = (i64, i64, Option<i64>, u64, Option<usize>, bool);

    fn check(avgs: &[f64], incidents: &[Incident], below: u64, for_min: i64, expected: &[Row]) {
        let config = AlertConfig { below: Some(below), for_ns: Some(for_min * MINUTE_NS) };
        let replayed = replay(&curve(avgs), incidents, config);
        let got: Vec<Row> = replayed
            .firings
            .iter()
            .map(|f| {
                (
                    f.below_since.0 / MINUTE_NS,
                    f.fired_at.0 / MINUTE_NS,
                    f.cleared_at.map(|t| t.0 / MINUTE_NS),
                    f.lowest,
                    f.incident,
                    f.benign,
                )
            })
            .collect();
        assert_eq!(got, expected, "{avgs:?}");
    }

    #[test]
    fn fires_after_the_duration_and_clears_on_recovery() {
        check(&[100.0, 50.0, 40.0, 60.0, 100.0], &[], 90, 2, &[(1, 3, Some(5), 40, None, true)]);
        // Two minutes below with a three-minute rule: never fires.
        check(&[100.0, 50.0, 40.0, 100.0], &[], 90, 3, &[]);
        // Exactly at the threshold is not below.
        check(&[90.0, 90.0, 90.0], &[], 90, 1, &[]);
        // Still firing at the window's end.
        check(&[100.0, 10.0, 10.0], &[], 90, 1, &[(1, 2, None, 10, None, true)]);
        // Two separate dips.
        check(
            &[10.0, 100.0, 10.0, 20.0],
            &[],
            90,
            1,
            &[(0, 1, Some(2), 10, None, true), (2, 3, None, 10, None, true)],
        );
        check(&[], &[], 90, 5, &[]);
    }

    #[test]
    fn links_firings_to_incidents_and_flags_benign_churn() {
        let incidents = [incident(0, 1, Cause::TokenExpiry), incident(2, 4, Cause::NetworkOutage)];
        check(
            &[100.0, 100.0, 30.0, 30.0, 30.0, 100.0],
            &incidents,
            90,
            2,
            &[(2, 4, Some(6), 30, Some(1), false)],
        );
        check(&[100.0, 20.0, 100.0], &incidents[..1], 90, 1, &[(1, 2, Some(3), 20, Some(0), true)]);
    }

    #[test]
    fn a_gap_in_the_curve_ends_a_run() {
        let mut points = curve(&[10.0, 10.0, 10.0]);
        points[2].minute = Timestamp(5 * MINUTE_NS);
        let config = AlertConfig { below: Some(90), for_ns: Some(MINUTE_NS) };
        let replayed = replay(&points, &[], config);
        let cleared: Vec<_> =
            replayed.firings.iter().map(|f| f.cleared_at.map(|t| t.0 / MINUTE_NS)).collect();
        assert_eq!(cleared, [Some(2), None]);
    }

    #[test]
    fn default_threshold_is_ninety_percent_of_the_median() {
        assert_eq!(default_threshold(&curve(&[100.0, 200.0, 100.0])), 90);
        assert_eq!(default_threshold(&curve(&[1000.0, 40_000.0, 40_000.0, 40_000.0])), 36_000);
        assert_eq!(default_threshold(&curve(&[0.5])), 1);
        assert_eq!(default_threshold(&[]), 0);
        let replayed = replay(&curve(&[100.0; 3]), &[], AlertConfig::default());
        assert_eq!(
            (replayed.threshold, replayed.for_ns, replayed.threshold_derived),
            (90, DEFAULT_FOR_NS, true)
        );
    }

    #[test]
    fn parses_durations() {
        let ok = |text: &str, ns: i64| assert_eq!(parse_duration(text), Ok(ns), "{text}");
        ok("5m", 5 * MINUTE_NS);
        ok("90s", 90_000_000_000);
        ok("1h", 60 * MINUTE_NS);
        ok("1.5h", 90 * MINUTE_NS);
        ok("10", 10 * MINUTE_NS);
        ok(" 2 min ", 2 * MINUTE_NS);
        for bad in ["", "m", "5x", "-5m", "0s", "1e400h", "5m5", "nan", "9999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
