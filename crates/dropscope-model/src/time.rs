//! [`Timestamp`]: UTC nanoseconds since the Unix epoch, parsed from and written as RFC 3339;
//! [`Nullable`]: an optional time or duration in 8 bytes.

use std::fmt;
use std::marker::PhantomData;

const NS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// An instant in UTC, as nanoseconds since 1970-01-01T00:00:00Z.
///
/// IoT Hub writes whole seconds, seven fractional digits (.NET ticks) or an offset; all denote an
/// instant, and two spellings of one instant compare equal here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// Why a text is not an RFC 3339 timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampError {
    /// The text does not have the `YYYY-MM-DDTHH:MM:SS` shape.
    Shape,
    /// A field is out of range (month 13, second 61, ...).
    Range,
    /// The offset is neither `Z` nor `±HH:MM`.
    Offset,
    /// The year is outside 1678..=2261, which nanoseconds in an i64 cannot hold.
    OutOfRange,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimestampError::Shape => {
                "not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.f][Z|±HH:MM])"
            }
            TimestampError::Range => "a date or time field is out of range",
            TimestampError::Offset => "the UTC offset is not Z or ±HH:MM",
            TimestampError::OutOfRange => "the year is outside 1678..2261",
        })
    }
}

impl std::error::Error for TimestampError {}

impl Timestamp {
    /// Builds a timestamp from whole seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs * NS_PER_SEC)
    }

    /// Builds a timestamp from milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms * 1_000_000)
    }

    /// Nanoseconds since the epoch.
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (floor).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(NS_PER_SEC)
    }

    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1 to 9 digits, and `Z`,
    /// `z` or `±HH:MM`. A space is accepted in place of `T`, and a missing offset means UTC
    /// (Log Analytics exports write `2023-09-21 22:16:00.000`).
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimestampError> {
        Timestamp::parse_rfc3339_after(text, &mut LastDate::default())
    }

    /// [`Timestamp::parse_rfc3339`], which takes the days of a date equal to the one `last`
    /// remembers from there, and remembers this one's: the records of a log share a handful of
    /// dates, and reading one (digits, range checks, day count) was half the parse's
    /// instructions (240 against 121 a timestamp, callgrind).
    pub fn parse_rfc3339_after(
        text: &str,
        last: &mut LastDate,
    ) -> Result<Timestamp, TimestampError> {
        let b = text.as_bytes();
        if b.len() < 19 {
            return Err(TimestampError::Shape);
        }
        let days = if b[..10] == last.date {
            last.days
        } else {
            let year = digits(&b[0..4])?;
            if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
                return Err(TimestampError::Shape);
            }
            if b[13] != b':' || b[16] != b':' {
                return Err(TimestampError::Shape);
            }
            let month = digits(&b[5..7])?;
            let day = digits(&b[8..10])?;
            // The order of the checks, and so the error, is the same as with no date known.
            let (hour, minute, second) = clock(b)?;
            if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
                return Err(TimestampError::Range);
            }
            check_clock(hour, minute, second)?;
            let (frac_ns, offset_secs) = rest(b)?;
            if !(1678..=2261).contains(&year) {
                return Err(TimestampError::OutOfRange);
            }
            let days = days_from_civil(year, month, day);
            last.date.copy_from_slice(&b[..10]);
            last.days = days;
            return Ok(instant(days, hour, minute, second, frac_ns, offset_secs));
        };
        // The date is a valid one seen before: only the clock is left to check.
        if !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
            return Err(TimestampError::Shape);
        }
        let (hour, minute, second) = clock(b)?;
        check_clock(hour, minute, second)?;
        let (frac_ns, offset_secs) = rest(b)?;
        Ok(instant(days, hour, minute, second, frac_ns, offset_secs))
    }

    /// Writes RFC 3339 in UTC with `Z` and exactly `frac_digits` fractional digits (0 to 9);
    /// 0 writes whole seconds, 7 writes what .NET and IoT Hub write.
    pub fn to_rfc3339(self, frac_digits: u32) -> String {
        let mut out = String::with_capacity(30);
        self.write_rfc3339(&mut out, frac_digits);
        out
    }

    /// Appends the RFC 3339 form of [`Timestamp::to_rfc3339`] to `out`.
    pub fn write_rfc3339(self, out: &mut String, frac_digits: u32) {
        let frac_digits = frac_digits.min(9);
        let secs = self.0.div_euclid(NS_PER_SEC);
        let ns = self.0.rem_euclid(NS_PER_SEC);
        let days = secs.div_euclid(SECS_PER_DAY);
        let sod = secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        push_num(out, year, 4);
        out.push('-');
        push_num(out, month, 2);
        out.push('-');
        push_num(out, day, 2);
        out.push('T');
        push_num(out, sod / 3600, 2);
        out.push(':');
        push_num(out, sod / 60 % 60, 2);
        out.push(':');
        push_num(out, sod % 60, 2);
        if frac_digits > 0 {
            out.push('.');
            let scaled = ns / 10_i64.pow(9 - frac_digits);
            push_num(out, scaled, frac_digits as usize);
        }
        out.push('Z');
    }

    /// The shortest RFC 3339 form that loses nothing: whole seconds when the fraction is zero,
    /// else seven digits when that is exact, else nine.
    pub fn to_rfc3339_exact(self) -> String {
        let mut out = String::with_capacity(30);
        self.write_rfc3339_exact(&mut out);
        out
    }

    /// Appends [`Timestamp::to_rfc3339_exact`] to `out`.
    pub fn write_rfc3339_exact(self, out: &mut String) {
        let ns = self.0.rem_euclid(NS_PER_SEC);
        let digits = if ns == 0 {
            0
        } else if ns % 100 == 0 {
            7
        } else {
            9
        };
        self.write_rfc3339(out, digits);
    }

    /// The (year, month, day, hour) of this instant in UTC, for laying out hourly blobs.
    pub fn ymdh(self) -> (i64, i64, i64, i64) {
        let secs = self.secs();
        let (y, m, d) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
        (y, m, d, secs.rem_euclid(SECS_PER_DAY) / 3600)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_exact())
    }
}

/// The days since the epoch of the last valid date [`Timestamp::parse_rfc3339_after`] read.
#[derive(Debug, Clone, Copy, Default)]
pub struct LastDate {
    /// The date's text, `YYYY-MM-DD`; all zero bytes (never a date) until one is read.
    date: [u8; 10],
    days: i64,
}

/// The hour, minute and second digits of a `YYYY-MM-DDTHH:MM:SS` text (at least 19 bytes).
fn clock(b: &[u8]) -> Result<(i64, i64, i64), TimestampError> {
    Ok((digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?))
}

fn check_clock(hour: i64, minute: i64, second: i64) -> Result<(), TimestampError> {
    if hour > 23 || minute > 59 || second > 60 {
        return Err(TimestampError::Range);
    }
    Ok(())
}

/// The fraction in nanoseconds and the UTC offset in seconds that follow the seconds.
fn rest(b: &[u8]) -> Result<(i64, i64), TimestampError> {
    let mut idx = 19;
    let mut frac_ns: i64 = 0;
    if idx < b.len() && b[idx] == b'.' {
        idx += 1;
        let start = idx;
        while idx < b.len() && b[idx].is_ascii_digit() {
            if idx - start < 9 {
                frac_ns = frac_ns * 10 + i64::from(b[idx] - b'0');
            }
            idx += 1;
        }
        let n_digits = idx - start;
        if n_digits == 0 {
            return Err(TimestampError::Shape);
        }
        for _ in n_digits..9 {
            frac_ns *= 10;
        }
    }
    let offset_secs = match &b[idx..] {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return Err(TimestampError::Offset);
            }
            let secs = hours * 3600 + minutes * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return Err(TimestampError::Offset),
    };
    Ok((frac_ns, offset_secs))
}

fn instant(
    days: i64,
    hour: i64,
    minute: i64,
    second: i64,
    frac_ns: i64,
    offset_secs: i64,
) -> Timestamp {
    let secs = days * SECS_PER_DAY + hour * 3600 + minute * 60 + second - offset_secs;
    Timestamp(secs * NS_PER_SEC + frac_ns)
}

fn digits(b: &[u8]) -> Result<i64, TimestampError> {
    let mut value = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return Err(TimestampError::Shape);
        }
        value = value * 10 + i64::from(c - b'0');
    }
    Ok(value)
}

/// Appends a non-negative number zero-padded to `width` digits, without allocating.
fn push_num(out: &mut String, value: i64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut n = value.unsigned_abs();
    let mut len = 0;
    while n > 0 || len == 0 {
        digits[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
    }
    if value < 0 {
        out.push('-');
    }
    for _ in len..width {
        out.push('0');
    }
    for &d in digits[..len].iter().rev() {
        out.push(char::from(d));
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<&str, TimestampError>) {
        let got = Timestamp::parse_rfc3339(text).map(|t| t.to_rfc3339(7));
        assert_eq!(got.as_deref().map_err(|e| *e), expected, "{text}");
    }

    #[test]
    fn parses_every_documented_spelling() {
        check("2023-09-21T22:16:00Z", Ok("2023-09-21T22:16:00.0000000Z"));
        check("2016-11-07T22:10:28.5889858Z", Ok("2016-11-07T22:10:28.5889858Z"));
        check("2018-07-03T23:20:11.6921933+00:00", Ok("2018-07-03T23:20:11.6921933Z"));
        check("2018-07-03T23:20:11-02:30", Ok("2018-07-04T01:50:11.0000000Z"));
        check("2023-09-21 22:16:00.123", Ok("2023-09-21T22:16:00.1230000Z"));
        check("1969-12-31T23:59:59.5Z", Ok("1969-12-31T23:59:59.5000000Z"));
    }

    #[test]
    fn rejects_placeholders_and_garbage() {
        check(" UTC timestamp", Err(TimestampError::Shape));
        check("2023-13-01T00:00:00Z", Err(TimestampError::Range));
        check("2023-02-29T00:00:00Z", Err(TimestampError::Range));
        check("2023-02-01T00:00:00.Z", Err(TimestampError::Shape));
        check("2023-02-01T00:00:00+0100", Err(TimestampError::Offset));
        check("9999-02-01T00:00:00Z", Err(TimestampError::OutOfRange));
        check("2023-02-01T00:00:00Zjunk", Err(TimestampError::Offset));
    }

    /// Every one-byte change of a few timestamps, read after a valid text of the same date (so
    /// the remembered date applies) and after one of another date: each gives what a fresh
    /// parse gives, error included.
    #[test]
    fn a_remembered_date_changes_no_result() {
        let bases =
            ["2023-09-21T22:16:00Z", "2016-11-07T22:10:28.5889858+01:30", "2024-02-29 23:59:60"];
        for base in bases {
            for at in 0..base.len() {
                for byte in [b'0', b'9', b'3', b'T', b' ', b':', b'-', b'Z', b'.', b'x'] {
                    let mut text = base.as_bytes().to_vec();
                    text[at] = byte;
                    let text = String::from_utf8(text).unwrap();
                    let fresh = Timestamp::parse_rfc3339(&text);
                    for before in [base, "2001-01-01T00:00:00Z"] {
                        let mut last = LastDate::default();
                        let _ = Timestamp::parse_rfc3339_after(before, &mut last);
                        assert_eq!(
                            Timestamp::parse_rfc3339_after(&text, &mut last),
                            fresh,
                            "{text}"
                        );
                        // And what it remembered from this one serves the next.
                        assert_eq!(
                            Timestamp::parse_rfc3339_after(base, &mut last),
                            Timestamp::parse_rfc3339(base)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (-150_000..150_000).step_by(17) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn exact_form_is_shortest_lossless() {
        assert_eq!(Timestamp::from_secs(0).to_rfc3339_exact(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(100).to_rfc3339_exact(), "1970-01-01T00:00:00.0000001Z");
        assert_eq!(Timestamp(1).to_rfc3339_exact(), "1970-01-01T00:00:00.000000001Z");
    }
}

/// A time or a span of nanoseconds: what a [`Nullable`] holds.
pub trait Nanos: Copy {
    /// The value in nanoseconds.
    fn to_nanos(self) -> i64;
    /// The value of `nanos` nanoseconds.
    fn from_nanos(nanos: i64) -> Self;
}

impl Nanos for Timestamp {
    fn to_nanos(self) -> i64 {
        self.0
    }

    fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }
}

impl Nanos for i64 {
    fn to_nanos(self) -> i64 {
        self
    }

    fn from_nanos(nanos: i64) -> Self {
        nanos
    }
}

/// An `Option<T>` of a time or a duration in 8 bytes, not the 16 of `Option<i64>`: `i64::MIN`
/// stands for `None`. No time a reader accepts is `i64::MIN` nanoseconds (the RFC 3339 parser
/// and the table readers take the years 1678 to 2261 only), and no difference of two such times
/// is either, so every value the sessions hold fits. The session table holds millions of these
/// (`Session`'s four of them took it from 112 to 72 bytes a session).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nullable<T> {
    nanos: i64,
    kind: PhantomData<T>,
}

impl<T: Nanos> Nullable<T> {
    /// `None`.
    pub const NULL: Nullable<T> = Nullable { nanos: i64::MIN, kind: PhantomData };

    /// `value`, or `None` (also for a value of `i64::MIN` nanoseconds, which no reader accepts).
    pub fn new(value: Option<T>) -> Nullable<T> {
        Nullable { nanos: value.map_or(i64::MIN, T::to_nanos), kind: PhantomData }
    }

    /// The value, if any.
    pub fn get(self) -> Option<T> {
        (self.nanos != i64::MIN).then(|| T::from_nanos(self.nanos))
    }

    /// Whether there is no value.
    pub fn is_none(self) -> bool {
        self.nanos == i64::MIN
    }

    /// Whether there is a value.
    pub fn is_some(self) -> bool {
        !self.is_none()
    }
}

impl<T: Nanos> Default for Nullable<T> {
    fn default() -> Self {
        Nullable::NULL
    }
}

impl<T: Nanos> From<Option<T>> for Nullable<T> {
    fn from(value: Option<T>) -> Self {
        Nullable::new(value)
    }
}

impl<T: Nanos + fmt::Debug> fmt::Debug for Nullable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}
