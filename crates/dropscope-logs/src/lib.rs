//! Every export form of IoT Hub connection logs, read and written.
//!
//! Reading: [`ingest::ingest`] takes files, directories or stdin, detects each input's form from its
//! bytes ([`detect`]), parses records in parallel, removes duplicates across forms, and returns an
//! [`Ingested`]: the events in input order plus every reject with its file, line and reason, so
//! `parsed + duplicates + rejected == records_read` always holds.
//!
//! Writing: [`write`](mod@write) renders events in each text form (JSON Lines, the records envelope, pretty
//! objects, Log Analytics CSV and JSON, Event Grid and CloudEvents); with the `polars` feature,
//! [`frame`] converts events and sessions to polars DataFrames and reads and writes Parquet and
//! Arrow IPC. The simulator writes through this crate, so the reader reads exactly what it writes.

pub mod detect;
mod error;
#[cfg(feature = "polars")]
pub mod frame;
#[doc(hidden)]
pub mod fuzz;
pub mod ingest;
pub mod labels;
#[cfg(target_os = "linux")]
mod mapped;
#[cfg(feature = "polars")]
mod parquet_direct;
#[cfg(feature = "polars")]
mod parquet_keys;
#[cfg(feature = "polars")]
mod parquet_read;
pub mod read;
pub mod write;

pub use detect::Form;
pub use error::{Error, Result};
pub use ingest::{IngestStats, Ingested, Reject, RejectReason};
