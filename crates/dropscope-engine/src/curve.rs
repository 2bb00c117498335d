//! The Connected-devices curve: per-minute min, avg and max of connected devices.
//!
//! The hub's *Connected devices* metric cannot be exported, so it is rebuilt from the sessions:
//! a device counts as connected from its session's connect to its disconnect (half-open
//! `[connect, disconnect)`), and several overlapping sessions of one device count once.
//! A session with no connect counts from the window's start when it is the device's first
//! (the device was connected when the window opened), else from the previous session's end (the
//! connect record was lost somewhere in between). A session with no disconnect counts to the
//! window's end inclusive. Each minute reports the minimum and maximum of the count over the part
//! of the minute inside the window, and its time-weighted average.
//!
//! The count is a sweep over session boundaries. Each device's sessions become its connected
//! intervals, merged where they overlap and clipped to the window, as `+1` and `-1` steps
//! (devices in parallel); the steps of all devices are sorted by time and swept once, minute by
//! minute, so the cost grows with the number of sessions and the number of minutes, not with
//! their product. Steps at one instant are applied together before the count is read, so a
//! reconnect in the same instant as a disconnect shows no dip.

use dropscope_model::findings::{CurvePoint, MINUTE_NS};
use dropscope_model::{Session, Timestamp};
use rayon::prelude::*;

use crate::sessions::Window;

/// The curve over `window`, one point per minute from the window's first minute to its last;
/// empty when the window is longer than [`crate::sessions::MAX_WINDOW_MINUTES`].
///
/// `sessions` must be grouped by device with each device's sessions in `session_id` order, as
/// [`crate::sessions::SessionTable::sessions`] is. The result does not depend on the thread count.
pub fn connected_devices(sessions: &[Session], window: Window) -> Vec<CurvePoint> {
    let (ws, we) = (window.start.0, window.end.0);
    let Some(n_minutes) = window.minutes() else { return Vec::new() };
    let mut runs: Vec<&[Session]> = Vec::new();
    let mut rest = sessions;
    while let Some(first) = rest.first() {
        let len = rest
            .iter()
            .position(|s| {
                s.device_id != first.device_id
                    || s.hub != first.hub
                    || s.module_id != first.module_id
            })
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(len);
        runs.push(run);
        rest = tail;
    }
    let mut steps: Vec<Step> =
        runs.par_iter().flat_map_iter(|run| device_deltas(run, ws, we)).collect();
    steps.par_sort_unstable();
    let time = |at: usize| steps[at].time(ws);

    let first_minute = ws.div_euclid(MINUTE_NS) * MINUTE_NS;
    let last_minute = we.div_euclid(MINUTE_NS) * MINUTE_NS;
    let mut points = Vec::with_capacity(n_minutes);
    let mut idx = 0;
    let mut count: i64 = 0;
    let mut minute = first_minute;
    while minute <= last_minute {
        let lo = minute.max(ws);
        let hi = (minute + MINUTE_NS).min(we);
        while idx < steps.len() && time(idx) <= lo {
            count += steps[idx].delta();
            idx += 1;
        }
        let (mut min, mut max) = (count, count);
        let mut integral: i128 = 0;
        let mut t = lo;
        while idx < steps.len() && time(idx) < hi {
            let at = time(idx);
            integral += i128::from(count) * i128::from(at - t);
            t = at;
            while idx < steps.len() && time(idx) == at {
                count += steps[idx].delta();
                idx += 1;
            }
            min = min.min(count);
            max = max.max(count);
        }
        integral += i128::from(count) * i128::from(hi - t);
        let avg = if hi > lo { integral as f64 / (hi - lo) as f64 } else { count as f64 };
        points.push(CurvePoint {
            minute: Timestamp(minute),
            min: min.max(0) as u64,
            avg,
            max: max.max(0) as u64,
        });
        minute += MINUTE_NS;
    }
    points
}

/// A `+1` or a `-1` to the count at a time in the window, in 8 bytes: the time's offset from the
/// window's start shifted left once, the low bit set for `+1`. Sorting steps sorts them by time
/// (steps at one instant are applied together, so their order there does not matter). Every
/// offset fits: the window is at most [`crate::sessions::MAX_WINDOW_MINUTES`] long (under 2^59
/// ns), and steps are clipped to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Step(u64);

impl Step {
    fn new(ws: i64, time: i64, up: bool) -> Step {
        Step(((time - ws) as u64) << 1 | u64::from(up))
    }

    fn time(self, ws: i64) -> i64 {
        ws + (self.0 >> 1) as i64
    }

    fn delta(self) -> i64 {
        if self.0 & 1 == 1 { 1 } else { -1 }
    }
}

/// The steps of one device's connected intervals, merged, clipped to the window. An interval
/// still open at the window's end gets no `-1`.
fn device_deltas(run: &[Session], ws: i64, we: i64) -> Vec<Step> {
    let mut intervals: Vec<(i64, Option<i64>)> = Vec::with_capacity(run.len());
    let mut prev_end: Option<i64> = None;
    for session in run {
        let start = match session.connect_time.get() {
            Some(t) => t.0,
            None => prev_end.unwrap_or(ws),
        }
        .max(ws);
        let end = session.disconnect_time.get().map(|t| t.0);
        prev_end = end.or(prev_end);
        if end.is_some_and(|e| e <= start) {
            continue;
        }
        intervals.push((start, end));
    }
    intervals.sort_unstable_by_key(|&(start, end)| (start, end.unwrap_or(i64::MAX)));
    let mut deltas = Vec::new();
    let mut current: Option<(i64, Option<i64>)> = None;
    for (start, end) in intervals {
        current = match current {
            Some((cs, ce)) if ce.is_none_or(|ce| start <= ce) => {
                Some((cs, if ce.is_none() || end.is_none() { None } else { ce.max(end) }))
            }
            Some(done) => {
                push_interval(&mut deltas, done, ws, we);
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some(done) = current {
        push_interval(&mut deltas, done, ws, we);
    }
    deltas
}

fn push_interval(deltas: &mut Vec<Step>, (start, end): (i64, Option<i64>), ws: i64, we: i64) {
    if start > we {
        return;
    }
    deltas.push(Step::new(ws, start, true));
    if let Some(end) = end
        && end <= we
    {
        deltas.push(Step::new(ws, end, false));
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::sessions::build;
    use crate::sessions::tests::{events, trimmed_lines};

    /// Renders `minute-offset min avg max` lines, minutes counted from the window's first minute.
    fn check(input: &str, expected: &str) {
        let events = events(input);
        let table = build(&events);
        let Some(window) = table.window else { panic!("no window") };
        let points = connected_devices(&table.sessions, window);
        let mut got = String::new();
        let first = points.first().map_or(0, |p| p.minute.0);
        for p in &points {
            writeln!(got, "{} {} {:.2} {}", (p.minute.0 - first) / MINUTE_NS, p.min, p.avg, p.max)
                .unwrap();
        }
        assert_eq!(got, trimmed_lines(expected));
    }

    #[test]
    fn counts_sessions_and_open_ends() {
        // BASE is 20 s past a minute. `a` is connected before the window opens and drops at
        // 60 s; `b` connects at 30 s and stays; `c` is up for 10 s.
        check(
            "a 60 D
             b 30 C
             c 0 C
             c 10 D
             b 100 C",
            "0 1 1.50 2
             1 1 1.33 2
             2 1 1.00 1",
        );
    }

    #[test]
    fn overlapping_sessions_of_one_device_count_once() {
        check(
            "a 0 C
             a 10 C
             a 11 D 400027
             a 30 D",
            "0 1 1.00 1",
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn min_avg_max_are_ordered_and_bounded(events in crate::sessions::tests::timeline()) {
            let table = build(&events);
            let Some(window) = table.window else { return Ok(()) };
            let points = connected_devices(&table.sessions, window);
            proptest::prop_assert!(!points.is_empty());
            for p in points {
                proptest::prop_assert!(p.min <= p.max && p.max <= table.n_devices() as u64);
                proptest::prop_assert!(p.min as f64 <= p.avg + 1e-9 && p.avg <= p.max as f64 + 1e-9);
            }
        }
    }

    #[test]
    fn a_window_of_decades_gives_no_curve() {
        check("a 0 C\na 3200000000 D", "");
    }

    #[test]
    fn lost_connect_counts_from_previous_end() {
        check(
            "a 0 C
             a 10 D
             a 30 D",
            "0 1 1.00 1",
        );
    }
}
