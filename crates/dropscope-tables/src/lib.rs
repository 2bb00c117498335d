//! dropscope's columnar table files: the events and sessions tables as polars DataFrames, and
//! as Parquet, Arrow IPC (Feather v2), CSV and JSON Lines files.
//!
//! [`frame`] is the API: events and sessions to DataFrames and back, [`frame::write_events`] and
//! [`frame::write_sessions`] (the format chosen by the output's extension, [`frame::TableFormat`]),
//! [`frame::SessionsFile`] for sessions streamed in batches, and [`frame::read_events`] for the
//! events of a Parquet or Arrow IPC file dropscope wrote. Parquet is written straight from the
//! rows (`parquet_direct`, its dictionary pages built by `parquet_keys`) and read straight into
//! events when it can (`parquet_read`); `schema` is the bottom module they all share (column
//! types, time bounds, interned names), so the modules depend one way only:
//! `frame` -> {`parquet_direct` -> `parquet_keys`, `parquet_read`} -> `schema`.
//!
//! The log export forms are dropscope-logs' business; it reads dropscope's Parquet and Arrow
//! inputs through this crate (its `tables` feature), so this crate knows nothing of them.
//!
//! ```
//! use dropscope_model::{Event, Operation, Timestamp};
//! use dropscope_tables::frame;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("events.parquet");
//! let event = Event::new(Timestamp::from_secs(60), "hub", "sensor-1", Operation::Connect);
//! frame::write_events(&path, &[event]).unwrap();
//! let events = frame::read_events(&std::fs::read(&path).unwrap(), 0).unwrap();
//! assert_eq!(events[0].device_id, "sensor-1");
//! ```

mod error;
pub mod frame;
mod parquet_direct;
mod parquet_keys;
mod parquet_read;
mod schema;

pub use error::{Error, Result};
