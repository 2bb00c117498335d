//! Parsers of each text export form: bytes of one input -> events plus rejects.
//!
//! [`read_json_lines`] reads storage-blob JSON Lines (the hot path: chunks parsed in parallel),
//! [`read_json_document`] reads every multi-line JSON form (pretty concatenated objects, the
//! `{"records":[...]}` envelope, arrays of Log Analytics rows or Event Grid events, single events,
//! routed connection-state events as `az iot hub monitor-events` prints them), and [`read_csv`]
//! reads the Log Analytics CSV export. [`read_text`] detects the form and dispatches. Every record read ends up as an event or a [`Reject`]; line numbers are 1-based and
//! point at the record's first byte.

#[cfg(feature = "avro")]
mod avro;
mod document;
mod fast;
mod la_csv;
pub(crate) mod lines;
mod marks;
pub(crate) mod record;
pub(crate) mod scan;

use std::collections::BTreeMap;

use dropscope_model::Event;

use crate::detect::{self, Layout};
use crate::{Form, Reject, RejectReason};

pub(crate) use la_csv::read_csv_stream;
pub(crate) use lines::{Chunks, parse_chunks, parse_lines_parallel, too_long};

/// The longest line a JSON Lines reader parses, by default: 32 MiB, far above any record IoT
/// Hub writes (a few KiB), low enough that a reader holds no more of a runaway line (a file of
/// one 1 GiB line, a binary file whose first bytes look like JSON) than this plus a block. A
/// longer line is [`RejectReason::TooLong`], skipped to its newline without being held
/// (`IngestConfig::max_line`, `--max-line`).
pub const DEFAULT_MAX_LINE: usize = 32 << 20;

/// What one input (or one part of it) holds: events and rejects, each in input order, and how
/// many records of each form were read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The events, in input order.
    pub events: Vec<Event>,
    /// The rejects, in input order.
    pub rejects: Vec<Reject>,
    /// Records read per form, rejects included.
    pub forms: BTreeMap<Form, u64>,
    /// The input is not empty but matches no form (a README beside the logs, a binary file): it
    /// holds no records and is skipped, and [`crate::Ingested::unrecognised`] lists it.
    pub unrecognised: bool,
}

impl Parsed {
    /// Records read: events plus rejects.
    pub fn records_read(&self) -> u64 {
        (self.events.len() + self.rejects.len()) as u64
    }

    /// Appends `other`, which comes after `self` in the input.
    pub(crate) fn append(&mut self, other: Parsed) {
        if self.events.is_empty() && self.events.capacity() < other.events.len() {
            // Take the other's allocation instead of copying it into a new one.
            self.events = other.events;
        } else {
            self.events.extend(other.events);
        }
        self.rejects.extend(other.rejects);
        self.unrecognised |= other.unrecognised;
        for (form, n) in other.forms {
            *self.forms.entry(form).or_default() += n;
        }
    }

    pub(crate) fn count(&mut self, form: Form) {
        *self.forms.entry(form).or_default() += 1;
    }

    /// Records a reject; `text` is cut to its first 200 characters.
    pub(crate) fn reject(
        &mut self,
        source: u32,
        line: u64,
        reason: RejectReason,
        detail: String,
        text: &[u8],
    ) {
        self.rejects.push(Reject { source, line, reason, detail, text: cut_text(text) });
    }
}

/// The first 200 characters of `text` (invalid UTF-8 replaced), for a reject.
pub(crate) fn cut_text(text: &[u8]) -> String {
    let head = &text[..text.len().min(800)];
    String::from_utf8_lossy(head).chars().take(200).collect()
}

/// Reads storage-blob JSON Lines: one record per line (a line may also hold a records envelope or
/// an array). Blank lines are skipped, `\r\n` is accepted, a cut-off last line is rejected as
/// [`RejectReason::Truncated`].
/// A line longer than [`DEFAULT_MAX_LINE`] bytes is [`RejectReason::TooLong`].
pub fn read_json_lines(bytes: &[u8], source: u32) -> Parsed {
    let bytes = strip_bom(bytes);
    let mut parsed = Parsed::default();
    let cut = !bytes.ends_with(b"\n");
    parse_lines_parallel(bytes, source, 1, cut, DEFAULT_MAX_LINE, &mut parsed);
    parsed
}

/// Reads a multi-line JSON document: pretty concatenated objects, `{"records":[...]}` envelopes,
/// arrays of records, Log Analytics rows or Event Grid events, or one event object.
pub fn read_json_document(bytes: &[u8], source: u32) -> Parsed {
    document::read(strip_bom(bytes), source)
}

/// Reads an Avro container of routed messages (see `read/avro.rs`); a corrupt one is a
/// [`RejectReason::BadAvro`], not an error. Without the `avro` feature, an
/// [`std::io::ErrorKind::Unsupported`] error.
pub fn read_avro(bytes: &[u8], source: u32) -> std::io::Result<Parsed> {
    #[cfg(feature = "avro")]
    return Ok(avro::read(bytes, source));
    #[cfg(not(feature = "avro"))]
    {
        let _ = (bytes, source);
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "Avro input needs dropscope-logs built with the `avro` feature",
        ))
    }
}

/// Reads a Log Analytics CSV export of `AzureDiagnostics`.
pub fn read_csv(bytes: &[u8], source: u32) -> Parsed {
    let bytes = strip_bom(bytes);
    // Reading from memory cannot fail.
    read_csv_stream(bytes, source).unwrap_or_default()
}

/// Detects the form of `bytes` (already decompressed) and reads it. Parquet and Arrow IPC are not
/// text: they are reported as one [`RejectReason::BadField`] reject here (see
/// [`crate::ingest::ingest`], which reads them with the `tables` feature). An input of no known
/// form is [`Parsed::unrecognised`].
pub fn read_text(bytes: &[u8], source: u32) -> Parsed {
    let bytes = strip_bom(bytes);
    match detect::sniff(bytes) {
        None => unrecognised(bytes),
        Some((_, Layout::Lines)) => read_json_lines(bytes, source),
        Some((_, Layout::Document)) => read_json_document(bytes, source),
        Some((_, Layout::Csv)) => read_csv(bytes, source),
        Some((form, Layout::Avro)) => read_avro(bytes, source).unwrap_or_else(|error| {
            let mut parsed = Parsed::default();
            parsed.count(form);
            parsed.reject(
                source,
                1,
                RejectReason::BadAvro,
                error.to_string(),
                &bytes[..bytes.len().min(16)],
            );
            parsed
        }),
        Some((form, Layout::Columnar)) => {
            let mut parsed = Parsed::default();
            parsed.reject(
                source,
                1,
                RejectReason::BadField,
                format!("{form} is not a text form"),
                &bytes[..bytes.len().min(16)],
            );
            parsed
        }
    }
}

/// An input with no recognisable form: nothing when it is empty or whitespace, otherwise marked
/// [`Parsed::unrecognised`].
pub(crate) fn unrecognised(bytes: &[u8]) -> Parsed {
    Parsed { unrecognised: scan::skip_ws(bytes, 0) < bytes.len(), ..Parsed::default() }
}

/// `bytes` without a leading UTF-8 byte-order mark.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}
