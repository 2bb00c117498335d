//! Ground truth: the true sessions and the injected incidents (labels are written with the logs,
//! in output.rs, because their `occurrence` depends on the written order).

use dropscope_model::{Cause, Timestamp};

use crate::scenario::{Incident, Scenario};
use crate::walk::{DeviceLog, Op, Rec};

/// One true connectivity interval of a device; `None` means before or after the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrueSession {
    /// The device's index in the fleet.
    pub device: u32,
    /// When the accepted connect was logged.
    pub connect: Option<Timestamp>,
    /// When the connection was closed (its first disconnect record).
    pub disconnect: Option<Timestamp>,
}

/// One injected incident, as written to `incidents.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentTruth {
    /// Its start.
    pub start: Timestamp,
    /// Its end.
    pub end: Timestamp,
    /// Its kind: the cause name of the records it produced.
    pub kind: Cause,
    /// How many devices it hit.
    pub devices: u64,
}

/// The sessions of one device, from its records in emission order.
pub(crate) fn sessions_of(device: u32, recs: &[Rec]) -> Vec<TrueSession> {
    let mut out = Vec::new();
    // Connected at the window start, since an unknown time.
    let mut open: Option<Option<Timestamp>> = Some(None);
    for rec in recs {
        let t = Timestamp(rec.time);
        match rec.op {
            Op::Connect => {
                if let Some(connect) = open.replace(Some(t)) {
                    out.push(TrueSession { device, connect, disconnect: Some(t) });
                }
            }
            Op::Disconnect => {
                if let Some(connect) = open.take() {
                    out.push(TrueSession { device, connect, disconnect: Some(t) });
                }
            }
            Op::Failed => {}
        }
    }
    if let Some(connect) = open {
        out.push(TrueSession { device, connect, disconnect: None });
    }
    out
}

/// The incidents of the scenario with the devices each hit, plus the throttled reconnect wave
/// (from the first to the last 429 failed connect) when there was one.
pub(crate) fn incidents(
    scenario: &Scenario,
    start: Timestamp,
    window_secs: f64,
    logs: &[DeviceLog],
) -> Vec<IncidentTruth> {
    let at = |secs: f64| Timestamp(start.nanos() + (secs.min(window_secs) * 1e9) as i64);
    let mut out = Vec::new();
    for (idx, incident) in scenario.incidents.iter().enumerate() {
        let begin = incident.at() * window_secs;
        let (kind, end) = match incident {
            Incident::SiteOutage { .. } => {
                (Cause::NetworkOutage, begin + incident.minutes() * 60.0)
            }
            Incident::HubFault { .. } => (Cause::ServerError, begin + incident.minutes() * 60.0),
            Incident::Upgrade { .. } => (Cause::ServiceUpgrade, begin + incident.minutes() * 60.0),
            Incident::DuplicateIdentity { .. } => {
                (Cause::DuplicateIdentity, begin + incident.minutes() * 60.0)
            }
            Incident::BadCredentials { .. } => (Cause::AuthFailure, window_secs),
        };
        let devices = logs.iter().filter(|log| log.hit & (1 << idx) != 0).count() as u64;
        out.push(IncidentTruth { start: at(begin), end: at(end), kind, devices });
    }
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    let mut devices = 0;
    for log in logs {
        let mut throttled = false;
        for rec in log.recs.iter().filter(|r| r.op == Op::Failed && r.cause == Cause::Throttling) {
            first = first.min(rec.time);
            last = last.max(rec.time);
            throttled = true;
        }
        devices += u64::from(throttled);
    }
    if devices > 0 {
        out.push(IncidentTruth {
            start: Timestamp(first),
            end: Timestamp(last),
            kind: Cause::Throttling,
            devices,
        });
    }
    out.sort_by_key(|i| (i.start, i.end, i.kind));
    out
}
