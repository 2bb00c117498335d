//! [`Session`]: one reconstructed connection of one device, the row of the sessions table.

use std::fmt;

use crate::{Level, Nullable, Sym, Timestamp};

/// What the session builder inferred or repaired for one session: a small set of flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Repairs(u8);

impl Repairs {
    /// No connect before the disconnect: the window opened mid-session or the connect was lost.
    pub const MISSING_CONNECT: Repairs = Repairs(1);
    /// No disconnect after the connect: a lost disconnect, or still open at the window's end.
    pub const MISSING_DISCONNECT: Repairs = Repairs(1 << 1);
    /// A duplicate record of this session was dropped.
    pub const DUPLICATE_DROPPED: Repairs = Repairs(1 << 2);
    /// Its records arrived out of time order.
    pub const REORDERED: Repairs = Repairs(1 << 3);
    /// Two end records (401003 then 404104) were merged into one session end.
    pub const MERGED_END: Repairs = Repairs(1 << 4);
    /// An Event Grid record's `subject` named another device (or module) than its
    /// `data.deviceId` (`data.moduleId`); the data's identity was taken.
    pub const SUBJECT_MISMATCH: Repairs = Repairs(1 << 5);

    const NAMES: [(Repairs, &'static str); 6] = [
        (Repairs::MISSING_CONNECT, "missing_connect"),
        (Repairs::MISSING_DISCONNECT, "missing_disconnect"),
        (Repairs::DUPLICATE_DROPPED, "duplicate_dropped"),
        (Repairs::REORDERED, "reordered"),
        (Repairs::MERGED_END, "merged_end"),
        (Repairs::SUBJECT_MISMATCH, "subject_mismatch"),
    ];

    /// No repair.
    pub const NONE: Repairs = Repairs(0);

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Repairs) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: Repairs) {
        self.0 |= other.0;
    }

    /// The names of the set flags, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Repairs::NAMES.into_iter().filter(move |(flag, _)| self.contains(*flag)).map(|(_, n)| n)
    }

    /// Parses the `|`-separated form written by [`Display`](fmt::Display); empty is none.
    pub fn parse(text: &str) -> Option<Repairs> {
        let mut repairs = Repairs::NONE;
        for name in text.split('|').filter(|n| !n.is_empty()) {
            let (flag, _) = Repairs::NAMES.into_iter().find(|(_, n)| *n == name)?;
            repairs.insert(flag);
        }
        Some(repairs)
    }
}

impl fmt::Display for Repairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (idx, name) in self.names().enumerate() {
            if idx > 0 {
                f.write_str("|")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// One reconstructed connection of one device (docs/DESIGN.md "sessions table").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The hub name.
    pub hub: Sym,
    /// The device identity.
    pub device_id: Sym,
    /// The module identity, when a module connected.
    pub module_id: Option<Sym>,
    /// 0-based index of the session among the device's sessions.
    pub session_id: u32,
    /// When it connected; null when the window opened mid-session.
    pub connect_time: Nullable<Timestamp>,
    /// When it disconnected; null when still connected at the window's end.
    pub disconnect_time: Nullable<Timestamp>,
    /// The protocol of the connect (or of the disconnect when the connect is missing).
    pub protocol: Option<Sym>,
    /// The masked IP of the connect (or of the disconnect).
    pub masked_ip: Option<Sym>,
    /// The SDK user agent logged on the connect.
    pub sdk_version: Option<Sym>,
    /// The error code that ended the session, if any.
    pub end_result_type: Option<u32>,
    /// The level of the record that ended the session.
    pub end_level: Option<Level>,
    /// Offline time since the previous session ended, in nanoseconds.
    pub gap_before_ns: Nullable<i64>,
    /// Failed connects (level Error) between the previous session and this one.
    pub failed_connects_before: u32,
    /// A connect arrived while the previous session was still open.
    pub overlap: bool,
    /// What was inferred or repaired.
    pub repaired: Repairs,
}

impl Session {
    /// `disconnect_time - connect_time` in nanoseconds (the table's `duration`), when both are
    /// known.
    pub fn duration_ns(&self) -> Option<i64> {
        Some(self.disconnect_time.get()?.0 - self.connect_time.get()?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_takes_72_bytes_and_a_nullable_time_8() {
        // The session table holds about 0.43 sessions a record; each byte here is 4 MB of a
        // report's peak memory on a 10 M-record day.
        assert_eq!(size_of::<Session>(), 72);
        assert_eq!(size_of::<Nullable<Timestamp>>(), 8);
    }

    #[test]
    fn a_nullable_gives_back_what_it_was_given() {
        for value in [None, Some(Timestamp(0)), Some(Timestamp(-1)), Some(Timestamp(i64::MAX))] {
            assert_eq!(Nullable::new(value).get(), value);
        }
        assert_eq!(Nullable::<i64>::NULL.get(), None);
        assert!(Nullable::<i64>::default().is_none());
        assert!(Nullable::new(Some(0_i64)).is_some());
        assert_eq!(format!("{:?}", Nullable::new(Some(5_i64))), "Some(5)");
    }
}
