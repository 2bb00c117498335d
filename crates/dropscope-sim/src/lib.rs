//! The disconnect-storm simulator: (seed, scenario) -> `IoT Hub` connection logs plus ground truth.
//!
//! A [`Scenario`] (TOML; the named ones ship in `data/scenarios/` and are embedded) sets a fleet,
//! a window, background behaviour, timed incidents and export faults. [`simulate`] walks every
//! device through the window in parallel, each from its own random stream keyed by the seed, a
//! purpose and its index (`rng.rs`: our own `SplitMix64`, since `rand`'s streams may change between
//! versions), after planning the incidents that close many connections at once and admitting
//! their reconnects at the hub tier's connection-rate limit; the devices' records are then merged
//! in (time, device, sequence) order.
//!
//! The result, a [`Simulation`], holds compact 24-byte records (`walk::Rec`), so memory grows by
//! about 24 bytes a record, not by its text; [`Simulation::write`] renders them hour by hour
//! through dropscope-logs' writers into the real export layout (Parquet and Arrow through
//! dropscope-tables, behind the `tables` feature), applies the export faults, and writes the
//! ground truth (`labels.csv`, `sessions.csv`, `incidents.csv`) of docs/DESIGN.md.
//!
//! Every behaviour it simulates cites its source, an SDK's code or Microsoft's documentation, in
//! a comment beside it, mostly through docs/research/sdk-behaviour.md and
//! docs/research/simulator-facts.md.
//!
//! Output depends only on (seed, scenario): never on the thread count or the wall clock.
//!
//! ```
//! use dropscope_sim::{Scenario, SimOptions, simulate};
//!
//! let mut scenario = Scenario::named("token-churn").unwrap();
//! scenario.fleet.devices = 20;
//! scenario.window.hours = 2;
//! let sim = simulate(&scenario, &SimOptions { seed: 1, frac_digits: 0 }).unwrap();
//! assert!(sim.events().any(|e| e.cause == Some(dropscope_model::Cause::TokenExpiry)));
//! ```
#![warn(clippy::disallowed_methods, reason = "output must depend only on (seed, scenario)")]

mod fleet;
mod output;
mod plan;
mod rng;
mod scenario;
mod sdk;
mod truth;
mod walk;

use std::path::PathBuf;

use dropscope_model::{Cause, Event, Level, Operation, ResultCode, Sym, Timestamp};
use rayon::prelude::*;

pub use crate::output::{OutputConfig, Summary};
pub use crate::scenario::{
    Background, ExportFaults, Fleet, Incident, Scenario, SdkMix, Site, TokenLife, Window,
};
pub use crate::sdk::{Auth, Protocol, Sdk};
pub use crate::truth::{IncidentTruth, TrueSession};

use crate::fleet::Device;
use crate::walk::{Op, Rec, Silence, WalkContext};

/// Why a simulation could not run or be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario is not valid TOML or has unknown or mistyped fields.
    #[error("scenario {origin}: {source}")]
    ScenarioToml {
        /// The scenario name or path.
        origin: String,
        /// The TOML error, with its line and column.
        source: toml::de::Error,
    },
    /// A scenario field is out of range.
    #[error("scenario {origin}: {field}: {message}")]
    ScenarioInvalid {
        /// The scenario name or path.
        origin: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Neither a named scenario nor a readable file.
    #[error("no scenario named {} and cannot read it as a file (named scenarios: {})", path.display(), Scenario::names().collect::<Vec<_>>().join(", "))]
    ScenarioRead {
        /// The name or path given.
        path: PathBuf,
        /// The IO error from reading it as a file.
        source: std::io::Error,
    },
    /// Writing an output file failed.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The export form cannot be written (by this build).
    #[error("cannot write the {form} form: {reason}")]
    Form {
        /// The form asked for.
        form: dropscope_logs::Form,
        /// Why not.
        reason: &'static str,
    },
    /// Writing a Parquet or Arrow file failed.
    #[cfg(feature = "tables")]
    #[error("writing {}: {source}", path.display())]
    Table {
        /// The file.
        path: PathBuf,
        /// The writer's error.
        source: dropscope_tables::Error,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to generate: the seed, and the timestamp precision (0 = whole seconds, as diagnostic
/// settings write; 7 = .NET ticks). Times are generated at that precision, so a label's time is
/// exactly the record's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimOptions {
    /// The random seed.
    pub seed: u64,
    /// Fractional digits of timestamps (0 to 7).
    pub frac_digits: u32,
}

/// A generated day: every record the hub logged (before export faults), with its true cause.
#[derive(Debug)]
pub struct Simulation {
    scenario: Scenario,
    options: SimOptions,
    start: Timestamp,
    hub: Sym,
    devices: Vec<Device>,
    /// Sorted by (time, device, seq).
    records: Vec<Rec>,
    sessions: Vec<TrueSession>,
    incidents: Vec<IncidentTruth>,
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the behaviour tests"))]
    silences: Vec<(u32, Silence)>,
    /// Each error code's result description and status code, interned once.
    codes: Vec<(u32, Sym, Sym)>,
    /// Each site's masked addresses, one per /24 of its pool.
    site_ips: Vec<Vec<Sym>>,
}

/// One record as the hub logged it, with its true cause (disconnects and failed connects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledEvent {
    /// The record.
    pub event: Event,
    /// The true cause; `None` for accepted connects.
    pub cause: Option<Cause>,
}

/// Generates the scenario: plans incidents, then walks every device in parallel and merges
/// the records in (time, device, sequence) order.
pub fn simulate(scenario: &Scenario, options: &SimOptions) -> Result<Simulation> {
    scenario.validate(&scenario.name)?;
    let scenario = scenario.clone();
    let start = scenario.start()?;
    let seed = options.seed;
    let frac_digits = options.frac_digits.min(7);
    let window_secs = f64::from(scenario.window.hours) * 3600.0;
    let devices: Vec<Device> = (0..scenario.fleet.devices)
        .into_par_iter()
        .map(|idx| Device::build(&scenario, seed, idx))
        .collect();
    let interruptions = plan::plan(&scenario, seed, &devices, window_secs);
    let ctx = WalkContext {
        scenario: &scenario,
        seed,
        start_ns: start.nanos(),
        res_ns: 10_i64.pow(9 - frac_digits),
        window_secs,
    };
    let logs: Vec<walk::DeviceLog> = devices
        .par_iter()
        .zip(interruptions.par_iter())
        .enumerate()
        .map(|(idx, (device, ints))| walk::walk(&ctx, idx as u32, device, ints))
        .collect();
    let sessions: Vec<TrueSession> = logs
        .par_iter()
        .enumerate()
        .flat_map_iter(|(idx, log)| truth::sessions_of(idx as u32, &log.recs))
        .collect();
    let incidents = truth::incidents(&scenario, start, window_secs, &logs);
    let silences: Vec<(u32, Silence)> = logs
        .iter()
        .enumerate()
        .flat_map(|(idx, log)| log.silences.iter().map(move |s| (idx as u32, *s)))
        .collect();
    // Sized once: collecting an iterator of unknown length would grow it by doubling.
    let mut records: Vec<Rec> = Vec::with_capacity(logs.iter().map(|log| log.recs.len()).sum());
    for log in logs {
        records.extend(log.recs);
    }
    // By (time, device, seq), packed into one integer: one comparison instead of three.
    records.par_sort_unstable_by_key(|r| {
        let time = (r.time as u64) ^ (1 << 63);
        u128::from(time) << 64 | u128::from(r.device) << 32 | u128::from(r.seq)
    });
    let site_ips: Vec<Vec<Sym>> = scenario
        .fleet
        .sites
        .iter()
        .map(|site| {
            let mut octets = site.prefix.split('.').map(|o| o.parse::<u32>().unwrap_or(0));
            let (a, b, c) = (
                octets.next().unwrap_or(0),
                octets.next().unwrap_or(0),
                octets.next().unwrap_or(0),
            );
            (0..site.pool).map(|k| Sym::from(format!("{a}.{b}.{}.XXX", (c + k) % 256))).collect()
        })
        .collect();
    Ok(Simulation {
        hub: Sym::from(scenario.fleet.hub.to_ascii_lowercase()),
        scenario,
        options: SimOptions { seed, frac_digits },
        start,
        devices,
        records,
        sessions,
        incidents,
        silences,
        site_ips,
        codes: sdk::CODES
            .iter()
            .map(|&code| {
                let (description, status) = sdk::code_info(code);
                (code, Sym::new(description), Sym::new(status))
            })
            .collect(),
    })
}

impl Simulation {
    /// The scenario as simulated.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The seed and precision used.
    pub fn options(&self) -> SimOptions {
        self.options
    }

    /// The window start.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The number of records the hub logged (before export faults).
    pub fn n_records(&self) -> usize {
        self.records.len()
    }

    /// Every record the hub logged, in time order, with its true cause (a lossless export).
    pub fn events(&self) -> impl Iterator<Item = LabelledEvent> + '_ {
        self.records.iter().map(|rec| LabelledEvent {
            event: self.event(rec),
            cause: (rec.op != Op::Connect).then_some(rec.cause),
        })
    }

    /// The true connectivity intervals, by device then time.
    pub fn sessions(&self) -> &[TrueSession] {
        &self.sessions
    }

    /// The injected incidents.
    pub fn incidents(&self) -> &[IncidentTruth] {
        &self.incidents
    }

    /// The event `rec` describes.
    fn event(&self, rec: &Rec) -> Event {
        let device = &self.devices[rec.device as usize];
        // Bit 0: the twin; the rest: the /24 of the device's site pool.
        let client = usize::from(rec.client & 1);
        let ip = match (client, usize::from(rec.client >> 1)) {
            (0, 0) => device.ips[0],
            (0, k) => self.site_ips[device.site][k],
            _ => device.ips[1],
        };
        let connect = rec.op != Op::Disconnect;
        let info = (rec.code != 0).then(|| self.code_syms(rec.code));
        Event {
            time: Timestamp(rec.time),
            hub: self.hub,
            device_id: device.id,
            module_id: None,
            operation: if connect { Operation::Connect } else { Operation::Disconnect },
            level: if info.is_some() { Level::Error } else { Level::Information },
            result_type: info.and_then(|_| ResultCode::new(rec.code)),
            result_description: info.map(|(description, _)| description),
            protocol: Some(device.logged.0),
            masked_ip: Some(ip),
            sdk_version: (connect && !(device.no_agent && client == 0))
                .then_some(device.agents[client]),
            auth_type: (connect && !(device.auth_null && client == 0)).then_some(device.logged.1),
            status_code: info.map(|(_, status)| status),
            source: 0,
            source_line: 0,
            seq: None,
            had_copies: false,
            subject_mismatch: false,
        }
    }

    /// The result description and status code of error `code`.
    fn code_syms(&self, code: u32) -> (Sym, Sym) {
        self.codes.iter().find(|c| c.0 == code).map_or_else(
            || {
                let (description, status) = sdk::code_info(code);
                (Sym::new(description), Sym::new(status))
            },
            |&(_, description, status)| (description, status),
        )
    }
}

#[cfg(test)]
mod readback;
#[cfg(test)]
mod tests;
