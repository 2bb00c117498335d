//! Domain types of dropscope, shared by every other crate.
//!
//! The main types are [`Event`], one connection-log record after parsing, whatever export form it
//! came in; [`Timestamp`], an instant in UTC nanoseconds with an RFC 3339 parser and writer;
//! [`Duration`], a length of time with the one spelling every output uses; [`Operation`] and
//! [`Level`]; and [`Cause`], the root-cause taxonomy whose names are the label vocabulary of
//! `labels.csv`, and [`Label`], one row of it. [`columns`] names the columns of the events and
//! sessions tables.
//!
//! This crate has no polars and does no IO, so every crate (and the fuzz targets) can use it.
//!
//! ```
//! use dropscope_model::{Cause, Timestamp};
//!
//! let t = Timestamp::parse_rfc3339("2023-09-21T22:16:00.5+01:00").unwrap();
//! assert_eq!(t.to_rfc3339(7), "2023-09-21T21:16:00.5000000Z");
//! assert_eq!(Cause::parse("token_expiry"), Some(Cause::TokenExpiry));
//! ```
#![warn(missing_docs)]

mod cause;
pub mod columns;
mod duration;
mod event;
pub mod findings;
mod hash;
pub mod json;
mod label;
#[cfg(feature = "proptest")]
pub mod proptest;
mod session;
mod shares;
mod sym;
mod time;

pub use cause::Cause;
pub use duration::Duration;
pub use event::{Event, Level, Operation, ResultCode, SeqNo, hub_from_resource_id};
pub use hash::{FxHashMap, FxHashSet, FxHasher, table_of};
pub use label::Label;
pub use session::{Repairs, Session};
pub use shares::{put, shares};
pub use sym::Sym;
pub use time::{LastDate, Nanos, Nullable, Timestamp, TimestampError};
