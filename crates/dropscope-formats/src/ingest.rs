//! Reading inputs: files, directories and stdin -> events plus rejects, every record accounted for.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dropscope_model::Event;

use crate::Form;

/// Why a record was rejected. Each reason has a stable name ([`RejectReason::as_str`]) used as a
/// key in summaries and in the rejects CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// The record is not valid JSON (or a CSV row is malformed).
    BadJson,
    /// The last line of a file is cut off, as after an interrupted download.
    Truncated,
    /// The time is missing or not a valid timestamp (e.g. the documented placeholder).
    InvalidTime,
    /// The record's category is not `Connections`, or its event type is not a connection event.
    WrongCategory,
    /// The operation is missing or not `deviceConnect`/`deviceDisconnect`.
    BadOperation,
    /// No device id.
    MissingDeviceId,
    /// A field has a value of the wrong kind (a non-numeric resultType, an unknown level, ...).
    BadField,
}

impl RejectReason {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::BadJson => "bad_json",
            RejectReason::Truncated => "truncated",
            RejectReason::InvalidTime => "invalid_time",
            RejectReason::WrongCategory => "wrong_category",
            RejectReason::BadOperation => "bad_operation",
            RejectReason::MissingDeviceId => "missing_device_id",
            RejectReason::BadField => "bad_field",
        }
    }
}

/// One rejected record: where it was and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Index into [`Ingested::sources`].
    pub source: u32,
    /// The 1-based line of the record's first byte.
    pub line: u64,
    /// Why it was rejected.
    pub reason: RejectReason,
    /// A human detail ("time \" UTC timestamp\" is not RFC 3339").
    pub detail: String,
    /// The start of the record's text, cut to at most 200 characters.
    pub text: String,
}

/// Counts that account for every record read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Input files read (after walking directories).
    pub files: usize,
    /// Records read: `parsed + duplicates + rejected`.
    pub records_read: u64,
    /// Distinct records kept.
    pub parsed: u64,
    /// Records dropped as copies of a kept record.
    pub duplicates: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Records read per form.
    pub forms: BTreeMap<Form, u64>,
    /// Rejects per reason.
    pub reject_reasons: BTreeMap<RejectReason, u64>,
}

/// The result of reading inputs.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    /// Distinct events, in input order: files in byte-wise order of their path relative to the
    /// input root, then by line.
    pub events: Vec<Event>,
    /// Every reject, in input order.
    pub rejects: Vec<Reject>,
    /// The counts.
    pub stats: IngestStats,
    /// The input files, indexed by `Event::source` and `Reject::source` (`-` for stdin).
    pub sources: Vec<PathBuf>,
}
