//! Every export form of IoT Hub connection logs, read and written.
//!
//! Reading: [`ingest::ingest`] takes files, directories or stdin, detects each input's form from its
//! bytes ([`detect`]), parses records in parallel, removes duplicates across forms, and returns an
//! [`Ingested`]: the events in input order plus every reject with its file, line and reason, so
//! `parsed + duplicates + rejected == records_read` always holds. A malformed record is data, a
//! reject, never an `Err` and never a panic; only IO and configuration failures are errors.
//!
//! [`Form`] is the one enum of the export forms: what detection tells, what the writers and the
//! simulator write.
//!
//! Writing: [`write`](mod@write) renders events in each text form (JSON Lines, the records envelope, pretty
//! objects, Log Analytics CSV and JSON, Event Grid and CloudEvents, routed connection-state
//! events as JSON). The simulator writes through
//! this crate, so the reader reads exactly what it writes. [`labels`] reads and writes the
//! ground-truth and prediction CSVs.
//!
//! dropscope's own Parquet and Arrow IPC files are read through dropscope-tables, with the
//! `tables` feature (on by default); without it (the fuzz targets) this crate builds in seconds,
//! without polars, and such an input is an error.

pub mod detect;
mod error;
mod form;
#[doc(hidden)]
pub mod fuzz;
pub mod ingest;
pub mod labels;
#[cfg(target_os = "linux")]
mod mapped;
pub mod read;
pub mod write;

pub use error::{Error, Result};
pub use form::Form;
pub use ingest::{IngestStats, Ingested, Reject, RejectReason};
