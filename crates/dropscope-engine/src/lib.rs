//! dropscope's engine: from the events table to sessions, the Connected-devices curve, fleet
//! incidents and the cause of every disconnect. It never opens a file.
//!
//! [`analyse`] runs the whole analysis and returns [`dropscope_model::findings::Findings`]; the
//! modules are its steps, each usable alone. Results are `dropscope-model` types, which the
//! report crate and the CLI write out at the edge; the one form written here is the fleet
//! statistics' own binary form ([`classify::fleet`], [`rank::fleet`]), which the Python
//! package ships between Spark tasks.
//!
//! The engine works on slices of events partitioned by device with rayon, not on polars
//! DataFrames: session reconstruction is a per-device walk, and the measurements in
//! docs/research/polars-feasibility.md found a purpose-built scan, sort and pairing faster
//! than polars' group-by and window plans on this workload (pairing a device's consecutive
//! records, for one, took 0.15 s by hand against 0.56-1.7 s in polars on 5 M records).
//! Keeping polars out also keeps the engine's build and tests fast.
//!
//! It owns the one rayon pool ([`thread_pool`]), which the CLI installs around every command;
//! nothing here configures a global pool. Output is identical at any thread count and for any
//! input order (but for the flags that describe that order,
//! [`dropscope_model::Repairs::REORDERED`]), and the engine never opens a file, reads the
//! environment or reads the clock.
//!
//! ```
//! use dropscope_engine::{AnalyseConfig, analyse};
//! use dropscope_model::findings::DataQuality;
//! use dropscope_model::{Event, Operation, Timestamp};
//!
//! let t = Timestamp::parse_rfc3339("2026-11-26T13:00:00Z").unwrap();
//! let events = [
//!     Event::new(t, "contoso-hub", "sensor-1", Operation::Connect),
//!     Event::new(Timestamp(t.0 + 600_000_000_000), "contoso-hub", "sensor-1", Operation::Disconnect),
//! ];
//! let findings = analyse(&events, &DataQuality::default(), &AnalyseConfig::default());
//! assert_eq!(findings.title, "Disconnect post-mortem: contoso-hub");
//! assert_eq!((findings.sessions, findings.disconnects), (1, 1));
//! assert_eq!(findings.causes.len(), 1);
//! ```
#![warn(clippy::disallowed_methods, reason = "no wall clock, no global rayon pool in the engine")]
#![warn(missing_docs)]

mod analyse;
pub mod classify;
pub mod curve;
mod error;
pub mod evaluate;
pub mod findings;
pub mod incidents;
pub mod offline;
pub mod partition;
pub mod rank;
pub mod sdk;
pub mod sessions;

pub use analyse::{AnalyseConfig, Step, analyse, analyse_observed};
pub use error::{Error, Result};

/// Builds the one rayon pool every command runs in: `threads` workers, or one per core.
/// Work inside it (`pool.install`) gives the same output at any thread count.
pub fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|source| Error::ThreadPool { source })
}
