//! Number and time formatting shared by the renderers: one spelling in every form. Durations are
//! [`Duration`]'s, the spelling every output of dropscope uses.

use dropscope_model::{Duration, Timestamp};

/// `2026-11-26 13:05:12` (UTC).
pub(crate) fn time(ts: Timestamp) -> String {
    ts.to_rfc3339(0).trim_end_matches('Z').replacen('T', " ", 1)
}

/// `2026-11-26 13:05` (UTC), for minute-aligned times.
pub(crate) fn minute(ts: Timestamp) -> String {
    let mut text = time(ts);
    text.truncate(16);
    text
}

/// `13:05`, the time of day.
pub(crate) fn clock(ts: Timestamp) -> String {
    time(ts).get(11..16).unwrap_or_default().to_owned()
}

/// The window as `2026-11-26 00:00 – 2026-11-27 00:00 UTC`, or `no records`.
pub(crate) fn window(start: Option<Timestamp>, end: Option<Timestamp>) -> String {
    match (start, end) {
        (Some(start), Some(end)) => format!("{} – {} UTC", time(start), time(end)),
        _ => "no records".to_owned(),
    }
}

/// An optional duration, `–` when unknown.
pub(crate) fn opt_duration(ns: Option<i64>) -> String {
    ns.map_or_else(|| "–".to_owned(), |ns| Duration(ns).to_string())
}

/// A fraction as a percentage: `12.3%`; `<0.1%` for tiny non-zero shares.
pub(crate) fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "–".to_owned();
    }
    let pct = fraction * 100.0;
    if pct > 0.0 && pct < 0.05 { "<0.1%".to_owned() } else { format!("{pct:.1}%") }
}

/// A count with thousands separators: `40,000`.
pub(crate) fn count(n: u64) -> String {
    dropscope_model::findings::thousands(n)
}

/// Device-hours with one decimal (`1,234.5`), or `–` when not a number.
pub(crate) fn hours(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_owned();
    }
    let tenths = (value.max(0.0) * 10.0).round() as u64;
    format!("{}.{}", count(tenths / 10), tenths % 10)
}

/// A confidence in `[0, 1]` with two decimals.
pub(crate) fn confidence(value: f64) -> String {
    if value.is_finite() { format!("{value:.2}") } else { "–".to_owned() }
}

/// A result code, or `info` for informational records, which have none.
pub(crate) fn code(code: Option<u32>) -> String {
    code.map_or_else(|| "info".to_owned(), |c| c.to_string())
}

/// A session-length bucket as `45–46 min`, `≥ 3 h`.
pub(crate) fn bucket(lower_ns: i64, upper_ns: i64) -> String {
    if upper_ns == i64::MAX {
        format!("≥ {}", Duration(lower_ns))
    } else {
        format!("{} – {}", Duration(lower_ns), Duration(upper_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(got: &str, expected: &str) {
        assert_eq!(got, expected);
    }

    #[test]
    fn formats_for_people() {
        let t = Timestamp::parse_rfc3339("2026-11-26T13:05:12.5Z").unwrap_or_default();
        check(&time(t), "2026-11-26 13:05:12");
        check(&minute(t), "2026-11-26 13:05");
        check(&clock(t), "13:05");
        check(&percent(0.1234), "12.3%");
        check(&percent(0.0001), "<0.1%");
        check(&percent(0.0), "0.0%");
        check(&percent(f64::NAN), "–");
        check(&count(0), "0");
        check(&count(40_000), "40,000");
        check(&count(1_234_567), "1,234,567");
        check(&hours(1234.56), "1,234.6");
        check(&opt_duration(Some(250_000_000)), "0.25 s");
        check(&opt_duration(None), "–");
        check(&code(None), "info");
        check(&bucket(0, 60_000_000_000), "0 s – 1 min");
        check(&bucket(10_800_000_000_000, i64::MAX), "≥ 3 h 00 min");
    }
}
