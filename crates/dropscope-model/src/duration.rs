//! [`Duration`]: a length of time in nanoseconds, written for people in one spelling everywhere
//! (the report, the evidence sentences, `diagnose` and `timeline`).
//!
//! The spelling is the report's: `42 s`, `12 min 30 s`, `1 h 05 min`, `2 d 03 h`, with the
//! coarser units rounded to whole seconds and shown to two levels. Under a second the
//! milliseconds are kept (`0.25 s`): reconnects a quarter second apart are what `timeline` is
//! read for, and a median reconnect of half a second should not read `1 s`. From one to ten
//! seconds one decimal is kept (`3.3 s`), from ten on none (`59 s`): a report's reader wants the
//! size of a delay, not its milliseconds. A whole number of seconds has no decimals.

use std::fmt;

const NS_PER_MS: u64 = 1_000_000;
const NS_PER_SEC: u64 = 1_000_000_000;

/// A length of time in nanoseconds; negative when the second instant came first.
///
/// ```
/// use dropscope_model::Duration;
///
/// assert_eq!(Duration(750_000_000_000).to_string(), "12 min 30 s");
/// assert_eq!(Duration(250_000_000).to_string(), "0.25 s");
/// assert_eq!(Duration::from_secs_f64(5400.0).to_string(), "1 h 30 min");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub i64);

impl Duration {
    /// The duration nearest to `secs` seconds (saturating; `NaN` is zero).
    pub fn from_secs_f64(secs: f64) -> Duration {
        Duration((secs * NS_PER_SEC as f64).round() as i64)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = self.0.unsigned_abs();
        let ms = (abs + NS_PER_MS / 2) / NS_PER_MS;
        // A duration that rounds to zero has no sign.
        let sign = if self.0 < 0 && ms > 0 { "-" } else { "" };
        if ms < 1000 {
            if ms == 0 {
                return write!(f, "0 s");
            }
            let digits = format!("{ms:03}");
            return write!(f, "{sign}0.{} s", digits.trim_end_matches('0'));
        }
        let tenths = (ms + 50) / 100;
        if tenths < 100 {
            let (secs, tenth) = (tenths / 10, tenths % 10);
            if tenth == 0 {
                return write!(f, "{sign}{secs} s");
            }
            return write!(f, "{sign}{secs}.{tenth} s");
        }
        let secs = (abs + NS_PER_SEC / 2) / NS_PER_SEC;
        if secs < 60 {
            write!(f, "{sign}{secs} s")
        } else if secs < 3600 {
            let (m, s) = (secs / 60, secs % 60);
            if s == 0 { write!(f, "{sign}{m} min") } else { write!(f, "{sign}{m} min {s} s") }
        } else if secs < 86_400 {
            write!(f, "{sign}{} h {:02} min", secs / 3600, secs % 3600 / 60)
        } else {
            write!(f, "{sign}{} d {:02} h", secs / 86_400, secs % 86_400 / 3600)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ns: i64, expected: &str) {
        assert_eq!(Duration(ns).to_string(), expected, "{ns} ns");
    }

    const MS: i64 = 1_000_000;
    const SEC: i64 = 1_000 * MS;

    #[test]
    fn whole_seconds_read_as_in_the_report() {
        check(0, "0 s");
        check(42 * SEC, "42 s");
        check(60 * SEC, "1 min");
        check(750 * SEC, "12 min 30 s");
        check(3_900 * SEC, "1 h 05 min");
        check(5_400 * SEC, "1 h 30 min");
        check(97_200 * SEC, "1 d 03 h");
        check(10_800 * SEC, "3 h 00 min");
    }

    #[test]
    fn parts_of_a_second_are_kept_as_far_as_they_matter() {
        check(250 * MS, "0.25 s");
        check(MS, "0.001 s");
        check(999 * MS, "0.999 s");
        check(1_500 * MS, "1.5 s");
        check(3_258 * MS, "3.3 s");
        check(2 * SEC + 7 * MS, "2 s");
        check(9_960 * MS, "10 s");
        check(58_868 * MS, "59 s");
        check(59_999 * MS, "1 min");
    }

    #[test]
    fn rounding_carries_into_the_next_unit() {
        check(499_999, "0 s");
        check(500_000, "0.001 s");
        check(59_999_600_000, "1 min");
        check(90 * SEC + 400 * MS, "1 min 30 s");
        check(90 * SEC + 500 * MS, "1 min 31 s");
        check(3_599 * SEC + 600 * MS, "1 h 00 min");
    }

    #[test]
    fn negative_durations_keep_their_sign() {
        check(-250 * MS, "-0.25 s");
        check(-750 * SEC, "-12 min 30 s");
        check(-5, "0 s");
        check(i64::MIN, "-106751 d 23 h");
    }

    #[test]
    fn from_seconds() {
        assert_eq!(Duration::from_secs_f64(0.25), Duration(250 * MS));
        assert_eq!(Duration::from_secs_f64(5_400.0), Duration(5_400 * SEC));
        assert_eq!(Duration::from_secs_f64(f64::NAN), Duration(0));
    }
}
