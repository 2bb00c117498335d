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
//! `hive` -> `frame` -> {`parquet_direct` -> `parquet_keys`, `parquet_read`} -> `schema`.
//! [`hive`] writes the events table as a hive-partitioned Parquet dataset, bucketed by device.
//!
//! The log export forms are dropscope-logs' business; it reads dropscope's Parquet and Arrow
//! inputs through this crate (its `tables` feature), so this crate knows nothing of them.
//!
//! # polars, and which of it
//!
//! Each polars feature is on for a reason: `parquet` and `ipc` are two of the table formats;
//! `dtype-datetime` holds `time` (and brings `dtype-duration`, which holds session durations);
//! `dtype-categorical` holds every repeated text column, built from [`Sym`](dropscope_model::Sym)
//! handles so each distinct text crosses the boundary once in each direction (only Event Grid's
//! `seq` is a plain string).
//!
//! The others are off, each for a reason too. `lazy` doubles the build (4.5 min debug and
//! 12.5 min release, against 1.9 and 5.5) and, with any IO feature, drags in a cloud and HTTP
//! stack (tokio, reqwest, rustls) that an offline tool does not want; nothing here needs a query
//! planner. `csv` and `json` are off because the CSV and JSON Lines table writers are a few lines
//! over the `csv` crate and our own JSON writer, and the log readers are purpose-built.
//! polars-core 0.55 always depends on tokio (through polars-async) for its async IO paths, but
//! nothing here starts a runtime, and no HTTP stack (reqwest, hyper, rustls, `object_store`) is in
//! the dependency tree.
//!
//! polars-arrow, polars-parquet and polars-buffer, pinned with polars and already in its tree,
//! are used directly by `parquet_direct`, `parquet_keys` and `parquet_read`, so the Parquet
//! that matters for speed never passes through a DataFrame: polars sends every text of every
//! row through its global categorical mapping, which was about half of the Parquet reading
//! time.
//!
//! A corrupt table file is an error, never a crash: [`frame::read_events`] catches the panics of
//! polars' readers, and `parquet_read` checks a Parquet file's footer and page headers before
//! polars allocates what they claim (a failed allocation aborts, which nothing catches).
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
pub mod hive;
mod parquet_direct;
mod parquet_keys;
mod parquet_read;
mod schema;

pub use error::{Error, Result};
