//! Assembling [`dropscope_model::findings::Findings`] from the engine results: what a report shows.
//!
//! The engine's passes each answer one question (sessions, the curve, incidents, a cause per
//! record, a ranking); [`assemble`] joins their results into the one value the report crate
//! renders, and measures what only the join can: the dominant cause of each incident, the
//! duplicate-identity suspects with the IPs and SDKs they alternate between, the flapping
//! devices, the breakdowns by SDK family and protocol, and the session-length histogram.
//!
//! Offline time is charged by `crate::offline`, as [`crate::rank`] charges it: the causes, the
//! benign churn and the breakdowns all use this one accounting, so their device-hours add up.
//!
//! Everything is sorted or kept in `BTreeMap`s: the output depends neither on the input order of
//! equal keys nor on the thread count.
//!
//! The alert replay ([`Findings::alert`]) is left empty: it depends on the user's alert rule, and
//! `dropscope_report::alert::replay` fills it from the assembled curve and incidents.

use std::collections::{BTreeMap, BTreeSet};

use dropscope_model::findings::{
    BenignChurn, Breakdown, CurvePoint, DataQuality, DuplicateSuspect, Findings, FlappingDevice,
    HistogramBucket, Incident, MINUTE_NS, RankedCause,
};
use dropscope_model::{Cause, Event, FxHashMap, Operation, Session, Sym, Timestamp};
use rayon::prelude::*;

use crate::classify::Verdict;
use crate::offline::VerdictIndex;
use crate::partition::DeviceSet;
use crate::sdk::{NONE_KEY, sdk_family, short_agent};
use crate::sessions::{EventRole, SessionTable};

/// Flapping devices kept in [`Findings::flapping`].
pub const TOP_FLAPPING: usize = 10;

/// A device needs at least this many problem disconnects to count as flapping: one drop in a
/// fleet-wide outage is not flapping.
pub const MIN_FLAPPING_DISCONNECTS: u64 = 2;

/// Networks kept per incident.
pub const TOP_NETWORKS: usize = 5;

/// The session-length histogram has one-minute buckets up to this many minutes, then one
/// open-ended bucket.
pub const HISTOGRAM_MINUTES: i64 = 180;

const HOUR_NS: f64 = 3_600e9;

/// A token renewal counts as quick ([`BenignChurn::quick_renewals`]) when the device is back
/// within this long (two minutes).
const QUICK_RENEWAL_NS: i64 = 120_000_000_000;

/// Everything [`assemble`] joins, as the engine's passes returned it for one events slice.
#[derive(Debug, Clone, Copy)]
pub struct FindingsInput<'a> {
    /// The distinct events, in input order (the slice every other field was computed from).
    pub events: &'a [Event],
    /// [`crate::sessions::build`] of `events`.
    pub table: &'a SessionTable,
    /// [`crate::curve::connected_devices`] of the table's sessions over its window (empty when
    /// there is no window).
    pub curve: &'a [CurvePoint],
    /// [`crate::incidents::detect`] (or [`crate::incidents::detect_among`]) of `events`.
    pub incidents: &'a [Incident],
    /// [`crate::classify::classify`] of `events`.
    pub verdicts: &'a [Verdict],
    /// [`crate::rank::rank`] of `events` and `verdicts`.
    pub ranking: &'a [RankedCause],
    /// The offline time charged to each of `verdicts`
    /// ([`crate::offline::charge_offline`]), in ns.
    pub offline_ns: &'a [i64],
    /// What the reader counted: files, records read, parsed, duplicates, rejects by reason and
    /// a few reject examples. [`assemble`] adds the reordered records and the session repairs.
    pub quality: &'a DataQuality,
}

/// Joins the engine's results into the findings a report shows. The alert replay is left at its
/// default (see the module docs).
pub fn assemble(input: FindingsInput<'_>) -> Findings {
    let join = Join::new(&input);
    let hubs = hubs(&input);
    let mut findings = Findings::new(&title(&hubs));
    findings.hubs = hubs;
    findings.window_start = input.table.window.map(|w| w.start);
    findings.window_end = input.table.window.map(|w| w.end);
    findings.devices = input.table.summary.devices;
    findings.sessions = input.table.summary.sessions;
    (findings.disconnects, findings.failed_connects) = operation_counts(input.events);
    findings.quality = quality(&input);
    findings.causes = input.ranking.to_vec();
    findings.curve = input.curve.to_vec();
    findings.session_lengths = session_lengths(&input.table.sessions);
    // The sections read the same inputs and write apart: they run side by side.
    let sdk_family = |agent: &'static str| sdk_family(agent);
    let ((benign, incidents, duplicate_suspects), (flapping, (by_sdk, by_protocol))) = rayon::join(
        || {
            let timed = timed_inside(&input);
            let incidents = input.incidents.iter().map(|i| incident(&timed, i)).collect();
            (benign_churn(&input, &join), incidents, duplicate_suspects(&input, &join))
        },
        || {
            rayon::join(
                || flapping(&input, &join),
                || {
                    rayon::join(
                        || {
                            breakdown(
                                &input,
                                &join,
                                |s| s.sdk_version,
                                |e| e.sdk_version,
                                sdk_family,
                            )
                        },
                        || breakdown(&input, &join, |s| s.protocol, |e| e.protocol, |p| p),
                    )
                },
            )
        },
    );
    findings.benign = benign;
    findings.incidents = incidents;
    findings.duplicate_suspects = duplicate_suspects;
    findings.flapping = flapping;
    findings.by_sdk = by_sdk;
    findings.by_protocol = by_protocol;
    findings
}

/// What every section needs: each event's device and verdict, and each device's name.
struct Join<'a> {
    /// The device number of each event ([`crate::partition::Partition::event_device`]).
    device: &'a [u32],
    /// Each event's verdict.
    verdicts: VerdictIndex<'a>,
    /// Per device: its display name (`device` or `device/module`).
    names: Vec<String>,
}

impl<'a> Join<'a> {
    fn new(input: &FindingsInput<'a>) -> Join<'a> {
        let partition = &input.table.partition;
        let names = partition
            .devices()
            .map(|run| run.first().map(|&idx| device_name(&input.events[idx as usize])))
            .map(Option::unwrap_or_default)
            .collect();
        Join { device: &partition.event_device, verdicts: VerdictIndex::new(input.verdicts), names }
    }

    fn name(&self, device: u32) -> &str {
        self.names.get(device as usize).map_or("", String::as_str)
    }
}

/// `device` or `device/module`.
fn device_name(event: &Event) -> String {
    match &event.module_id {
        Some(module) => format!("{}/{module}", event.device_id),
        None => event.device_id.to_string(),
    }
}

fn title(hubs: &[String]) -> String {
    match hubs.len() {
        0 => "Disconnect post-mortem".to_owned(),
        1..=3 => format!("Disconnect post-mortem: {}", hubs.join(", ")),
        n => format!("Disconnect post-mortem: {n} hubs"),
    }
}

/// The hub names, without the empty one of records that carried no resource id: the hub of
/// each device's first record, since the hub is part of a device's identity.
fn hubs(input: &FindingsInput<'_>) -> Vec<String> {
    let hubs: BTreeSet<&str> = input
        .table
        .partition
        .devices()
        .filter_map(|run| Some(input.events[*run.first()? as usize].hub.as_str()))
        .filter(|hub| !hub.is_empty())
        .collect();
    hubs.into_iter().map(str::to_owned).collect()
}

/// The reader's counts, plus the reordered records and the session repairs. Sessions cut by the
/// window's edges (open at its start or end) are not repairs and are not counted; a connect or
/// disconnect lost in the middle of the window is.
fn quality(input: &FindingsInput<'_>) -> DataQuality {
    let summary = &input.table.summary;
    let mut quality = input.quality.clone();
    quality.reordered = summary.reordered_events;
    let repairs = [
        ("missing_connect", summary.lost_connects),
        ("missing_disconnect", summary.lost_disconnects),
        ("merged_end", summary.merged_ends),
        ("overlap", summary.overlaps),
        ("reordered", summary.reordered_sessions),
        ("duplicate_dropped", summary.duplicate_dropped),
        ("subject_mismatch", summary.subject_mismatch),
    ];
    for (name, n) in repairs {
        if n > 0 {
            quality.repairs.insert(name.to_owned(), n);
        }
    }
    quality
}

fn benign_churn(input: &FindingsInput<'_>, join: &Join<'_>) -> BenignChurn {
    BenignTally::of(input.verdicts, join.device, input.offline_ns).churn()
}

/// What [`BenignChurn`] counts, with the devices as counts and the offline time in ns: parts of
/// a fleet holding disjoint devices tallied apart [`merge`](BenignTally::merge) into the whole
/// fleet's (`crate::rank::fleet`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenignTally {
    pub(crate) events: u64,
    pub(crate) devices: u64,
    pub(crate) offline_ns: i128,
    pub(crate) by_cause: BTreeMap<Cause, u64>,
    pub(crate) quick_renewals: u64,
    pub(crate) quick_renewal_devices: u64,
}

impl BenignTally {
    /// The benign churn among `verdicts` (`device`: each event's device number, `offline`: the
    /// time charged to each verdict).
    pub(crate) fn of(verdicts: &[Verdict], device: &[u32], offline: &[i64]) -> BenignTally {
        let mut churn = BenignTally::default();
        let mut devices = DeviceSet::default();
        let mut quick_devices = DeviceSet::default();
        let mut by_cause = [0_u64; Cause::ALL.len()];
        for (at, verdict) in verdicts.iter().enumerate().filter(|(_, v)| v.cause.is_benign()) {
            let Some(&device) = device.get(verdict.index()) else { continue };
            churn.events += 1;
            by_cause[verdict.cause as usize] += 1;
            devices.insert(device);
            churn.offline_ns += i128::from(offline.get(at).copied().unwrap_or(0));
            if verdict.cause == Cause::TokenExpiry
                && verdict.reconnect_delay().is_some_and(|delay| delay <= QUICK_RENEWAL_NS)
            {
                churn.quick_renewals += 1;
                quick_devices.insert(device);
            }
        }
        churn.by_cause = Cause::ALL.into_iter().zip(by_cause).filter(|&(_, n)| n > 0).collect();
        churn.devices = devices.len();
        churn.quick_renewal_devices = quick_devices.len();
        churn
    }

    /// Adds the counts of `other` (of other devices).
    pub fn merge(&mut self, other: BenignTally) {
        self.events += other.events;
        self.devices += other.devices;
        self.offline_ns += other.offline_ns;
        crate::rank::add_counts(&mut self.by_cause, other.by_cause);
        self.quick_renewals += other.quick_renewals;
        self.quick_renewal_devices += other.quick_renewal_devices;
    }

    /// The report's figures.
    pub(crate) fn churn(&self) -> BenignChurn {
        BenignChurn {
            events: self.events,
            devices: self.devices,
            device_hours_offline: self.offline_ns as f64 / HOUR_NS,
            by_cause: self.by_cause.clone(),
            quick_renewals: self.quick_renewals,
            quick_renewal_devices: self.quick_renewal_devices,
        }
    }
}

/// The disconnects and the failed connects among `events` ([`Findings::disconnects`],
/// [`Findings::failed_connects`]).
pub(crate) fn operation_counts(events: &[Event]) -> (u64, u64) {
    events
        .par_iter()
        .map(|e| {
            (u64::from(e.operation == Operation::Disconnect), u64::from(e.is_failed_connect()))
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// The most frequent cause of `causes` and its share; ties go to taxonomy order.
fn dominant(causes: &BTreeMap<Cause, u64>) -> Option<(Cause, f64)> {
    let total: u64 = causes.values().sum();
    let (&cause, &n) = causes.iter().rev().max_by_key(|(_, n)| **n)?;
    Some((cause, n as f64 / total.max(1) as f64))
}

/// The times and causes of the verdicts inside some incident, sorted: what [`incident`] counts.
/// Only those are kept: incidents cover minutes of a day, the verdicts all of it.
fn timed_inside(input: &FindingsInput<'_>) -> Vec<(Timestamp, Cause)> {
    // The union of the incidents' spans `[start, end)`, sorted and disjoint.
    let mut spans: Vec<(Timestamp, Timestamp)> =
        input.incidents.iter().map(|i| (i.start, i.end)).collect();
    spans.sort_unstable();
    let mut union: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match union.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => union.push((start, end)),
        }
    }
    let inside = |time: Timestamp| {
        let after = union.partition_point(|&(start, _)| start <= time);
        after > 0 && time < union[after - 1].1
    };
    let mut timed: Vec<(Timestamp, Cause)> = input
        .verdicts
        .par_iter()
        .filter_map(|v| Some((input.events.get(v.index())?.time, v.cause)))
        .filter(|&(time, _)| inside(time))
        .collect();
    timed.par_sort_unstable();
    timed
}

/// One incident, with the dominant cause of the classified records inside it (`timed`: their
/// times and causes, sorted). Benign churn goes on during an incident (token renewals never
/// stop), so the dominant cause is taken among the real problems when there are any, and among
/// all records only when the incident is benign through and through (an upgrade).
fn incident(timed: &[(Timestamp, Cause)], found: &Incident) -> Incident {
    let from = timed.partition_point(|(time, _)| *time < found.start);
    let to = timed.partition_point(|(time, _)| *time < found.end);
    let inside = timed.get(from..to).unwrap_or_default();
    let mut problems: BTreeMap<Cause, u64> = BTreeMap::new();
    let mut all: BTreeMap<Cause, u64> = BTreeMap::new();
    for (_, cause) in inside {
        *all.entry(*cause).or_default() += 1;
        if !cause.is_benign() {
            *problems.entry(*cause).or_default() += 1;
        }
    }
    let causes = if problems.is_empty() { &all } else { &problems };
    let (dominant_cause, dominant_share) = dominant(causes).unwrap_or((Cause::Unknown, 0.0));
    let mut incident = found.clone();
    incident.dominant_cause = dominant_cause;
    incident.dominant_share = dominant_share;
    incident.networks.truncate(TOP_NETWORKS);
    incident
}

/// Devices with a disconnect classified `duplicate_identity`, with the IPs and SDKs their
/// sessions alternate between.
fn duplicate_suspects(input: &FindingsInput<'_>, join: &Join<'_>) -> Vec<DuplicateSuspect> {
    let mut suspects: Vec<u32> = input
        .verdicts
        .iter()
        .filter(|v| v.cause == Cause::DuplicateIdentity)
        .filter_map(|v| join.device.get(v.index()).copied())
        .collect();
    suspects.par_sort_unstable();
    suspects.dedup();
    // Each suspect device's row apart, in parallel: a large fleet has hundreds of thousands.
    let mut rows: Vec<DuplicateSuspect> = suspects
        .par_iter()
        .filter_map(|&device| {
            // Conflicts, and the classified times as a fallback when no conflict code was logged.
            let mut conflicts: Option<(u64, Timestamp, Timestamp)> = None;
            let mut classified: Option<(Timestamp, Timestamp)> = None;
            for &idx in input.table.partition.device(device as usize) {
                let idx = idx as usize;
                let event = &input.events[idx];
                let time = event.time;
                if event.operation == Operation::Disconnect
                    && event
                        .code()
                        .is_some_and(|code| crate::sessions::CONFLICT_CODES.contains(&code))
                {
                    let entry = conflicts.get_or_insert((0, time, time));
                    entry.0 += 1;
                    entry.1 = entry.1.min(time);
                    entry.2 = entry.2.max(time);
                }
                if join.verdicts.get(idx).is_some_and(|v| v.cause == Cause::DuplicateIdentity) {
                    let entry = classified.get_or_insert((time, time));
                    entry.0 = entry.0.min(time);
                    entry.1 = entry.1.max(time);
                }
            }
            let (n_conflicts, first_seen, last_seen) = if let Some(found) = conflicts {
                found
            } else {
                let (first, last) = classified?;
                (0, first, last)
            };
            let sessions = input.table.device(device as usize);
            let masked_ips: BTreeSet<&str> =
                sessions.iter().filter_map(|s| s.masked_ip.as_deref()).collect();
            let sdk_versions: BTreeSet<String> =
                sessions.iter().filter_map(|s| s.sdk_version.as_deref()).map(short_agent).collect();
            let mut alternations = 0;
            let mut previous: Option<(Option<&str>, Option<&str>)> = None;
            for session in sessions {
                let current = (session.masked_ip.as_deref(), session.sdk_version.as_deref());
                if current == (None, None) {
                    continue;
                }
                if let Some(before) = previous
                    && before != current
                {
                    alternations += 1;
                }
                previous = Some(current);
            }
            Some(DuplicateSuspect {
                device_id: join.name(device).to_owned(),
                conflicts: n_conflicts,
                alternations,
                masked_ips: masked_ips.into_iter().map(str::to_owned).collect(),
                sdk_versions: sdk_versions.into_iter().collect(),
                first_seen,
                last_seen,
            })
        })
        .collect();
    rows.sort_by(|a, b| b.conflicts.cmp(&a.conflicts).then_with(|| a.device_id.cmp(&b.device_id)));
    rows
}

/// The devices with the most problem disconnects (at least [`MIN_FLAPPING_DISCONNECTS`]).
/// Duplicate-identity conflicts are left out: two clients on one identity kick each other out
/// every few seconds, would fill the list, and have their own section
/// ([`Findings::duplicate_suspects`]).
fn flapping(input: &FindingsInput<'_>, join: &Join<'_>) -> Vec<FlappingDevice> {
    // Each counted disconnect as (device, cause) in one number, sorted in parallel: a device's
    // disconnects are then one run (a map of maps, an entry per disconnect on one thread, took
    // longer and more memory than these 8 bytes a disconnect).
    let counted = |cause: Cause| !cause.is_benign() && cause != Cause::DuplicateIdentity;
    let mut pairs: Vec<u64> = input
        .verdicts
        .par_iter()
        .filter(|v| counted(v.cause))
        .filter_map(|verdict| {
            let event = input.events.get(verdict.index())?;
            // The second record of a merged end is the same disconnect.
            if event.operation != Operation::Disconnect
                || matches!(input.table.roles.get(verdict.index()), Some(EventRole::MergedEnd(_)))
            {
                return None;
            }
            let device = *join.device.get(verdict.index())?;
            Some((u64::from(device) << 32) | verdict.cause as u64)
        })
        .collect();
    pairs.par_sort_unstable();
    // The devices with enough disconnects, in device order, ranked; rows only for the top.
    let mut candidates: Vec<(u32, u64, u64, std::ops::Range<usize>)> = Vec::new();
    let mut start = 0;
    for run in pairs.chunk_by(|a, b| a >> 32 == b >> 32) {
        let range = start..start + run.len();
        start = range.end;
        let disconnects = run.len() as u64;
        if disconnects < MIN_FLAPPING_DISCONNECTS {
            continue;
        }
        let device = (run[0] >> 32) as u32;
        candidates.push((
            device,
            disconnects,
            input.table.device(device as usize).len() as u64,
            range,
        ));
    }
    candidates.sort_by(|a, b| {
        b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then_with(|| join.name(a.0).cmp(join.name(b.0)))
    });
    candidates.truncate(TOP_FLAPPING);
    let rows: Vec<FlappingDevice> = candidates
        .into_iter()
        .filter_map(|(device, disconnects, _, range)| {
            let mut causes: BTreeMap<Cause, u64> = BTreeMap::new();
            for &pair in &pairs[range] {
                let cause = Cause::ALL[(pair & 0xff) as usize];
                *causes.entry(cause).or_default() += 1;
            }
            let (dominant_cause, _) = dominant(&causes)?;
            let sessions = input.table.device(device as usize);
            let mut lengths: Vec<i64> = sessions.iter().filter_map(Session::duration_ns).collect();
            lengths.sort_unstable();
            let last = sessions.last();
            Some(FlappingDevice {
                device_id: join.name(device).to_owned(),
                disconnects,
                sessions: sessions.len() as u64,
                median_session_ns: lengths.get(lengths.len() / 2).copied(),
                dominant_cause,
                masked_ip: last.and_then(|s| s.masked_ip.map(|ip| ip.to_string())),
                sdk_version: last.and_then(|s| s.sdk_version.as_deref()).map(short_agent),
            })
        })
        .collect();
    rows
}

#[derive(Default)]
struct Group {
    devices: DeviceSet,
    sessions: u64,
    events: u64,
    problem_events: u64,
    offline_ns: i64,
    /// Per problem cause (at `cause as usize`): the devices it hit, then its events.
    causes: [(DeviceSet, u64); Cause::ALL.len()],
}

impl Group {
    /// The problem cause that hit the most devices, then had the most events; ties go to
    /// taxonomy order. By devices, because a few devices stuck in a loop (two clients on one
    /// identity) log far more records than a fleet-wide fault.
    fn top_cause(&self) -> Option<Cause> {
        let (cause, _) = Cause::ALL
            .into_iter()
            .zip(&self.causes)
            .filter(|(_, (_, events))| *events > 0)
            .rev()
            .max_by_key(|(_, (devices, events))| (devices.len(), *events))?;
        Some(cause)
    }
}

/// The groups of a [`breakdown`], found by key text or by interned key.
#[derive(Default)]
struct Groups {
    all: Vec<(&'static str, Group)>,
    by_name: BTreeMap<&'static str, usize>,
    /// A key's handle ([`Sym::handle`]) to its group: the name of each distinct key is found
    /// once.
    by_key: FxHashMap<u32, usize>,
}

impl Groups {
    /// The group named `name`, made when new.
    fn of_name(&mut self, name: &'static str) -> usize {
        *self.by_name.entry(name).or_insert_with(|| {
            self.all.push((name, Group::default()));
            self.all.len() - 1
        })
    }

    /// The group of `key`, named `name(key)`.
    fn of_key(&mut self, key: Sym, name: &impl Fn(&'static str) -> &'static str) -> usize {
        if let Some(&at) = self.by_key.get(&key.handle()) {
            return at;
        }
        let at = self.of_name(name(key.as_str()));
        self.by_key.insert(key.handle(), at);
        at
    }
}

/// Devices, sessions and classified events grouped by `name` of a key of the session (or, for an
/// event, of the record itself, then of its session, then of the device's first session that
/// has one). Keys are interned texts, so `name` (an SDK family's parse) runs once per distinct
/// text, not per record.
fn breakdown(
    input: &FindingsInput<'_>,
    join: &Join<'_>,
    session_key: fn(&Session) -> Option<Sym>,
    event_key: fn(&Event) -> Option<Sym>,
    name: impl Fn(&'static str) -> &'static str,
) -> Vec<Breakdown> {
    let table = input.table;
    let mut groups = Groups::default();
    let mut device_group: Vec<Option<usize>> = Vec::with_capacity(table.n_devices());
    for device in 0..table.n_devices() {
        let sessions = table.device(device);
        let fallback = sessions.iter().find_map(session_key).map(|key| groups.of_key(key, &name));
        device_group.push(fallback);
        for session in sessions {
            let at = session_key(session)
                .map(|key| groups.of_key(key, &name))
                .or(fallback)
                .unwrap_or_else(|| groups.of_name(NONE_KEY));
            let group = &mut groups.all[at].1;
            group.sessions += 1;
            group.devices.insert(device as u32);
        }
    }
    // Each record's key (its own, else its session's), looked up in parallel: a session lookup
    // is a cache miss, and a disconnect has no SDK of its own.
    let keys: Vec<Option<Sym>> = input
        .verdicts
        .par_iter()
        .map(|verdict| {
            let event = input.events.get(verdict.index())?;
            event_key(event).or_else(|| {
                let session = match table.roles.get(verdict.index()) {
                    Some(
                        EventRole::Ended(s)
                        | EventRole::MergedEnd(s)
                        | EventRole::Opened(s)
                        | EventRole::FailedConnect { next_session: Some(s) },
                    ) => table.sessions.get(*s as usize),
                    _ => None,
                };
                session.and_then(session_key)
            })
        })
        .collect();
    for ((at, verdict), key) in input.verdicts.iter().enumerate().zip(keys) {
        if input.events.get(verdict.index()).is_none() {
            continue;
        }
        let Some(&device) = join.device.get(verdict.index()) else { continue };
        let group = key
            .map(|key| groups.of_key(key, &name))
            .or_else(|| device_group.get(device as usize).copied().flatten())
            .unwrap_or_else(|| groups.of_name(NONE_KEY));
        let group = &mut groups.all[group].1;
        group.devices.insert(device);
        group.events += 1;
        if !verdict.cause.is_benign() {
            group.problem_events += 1;
            group.offline_ns += input.offline_ns.get(at).copied().unwrap_or(0);
            let (devices, events) = &mut group.causes[verdict.cause as usize];
            devices.insert(device);
            *events += 1;
        }
    }
    let mut rows: Vec<Breakdown> = groups
        .all
        .into_iter()
        .map(|(key, group)| Breakdown {
            key: key.to_owned(),
            devices: group.devices.len(),
            sessions: group.sessions,
            events: group.events,
            problem_events: group.problem_events,
            device_hours_offline: group.offline_ns as f64 / HOUR_NS,
            top_cause: group.top_cause(),
        })
        .collect();
    rows.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.key.cmp(&b.key)));
    rows
}

/// One-minute buckets of closed sessions up to [`HISTOGRAM_MINUTES`], then one open bucket;
/// empty when no session has both ends.
fn session_lengths(sessions: &[Session]) -> Vec<HistogramBucket> {
    let n_buckets = HISTOGRAM_MINUTES as usize + 1;
    let mut counts = vec![0_u64; n_buckets];
    let mut any = false;
    for length in sessions.iter().filter_map(Session::duration_ns) {
        let bucket = (length.max(0) / MINUTE_NS).min(HISTOGRAM_MINUTES) as usize;
        counts[bucket] += 1;
        any = true;
    }
    if !any {
        return Vec::new();
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(bucket, sessions)| {
            let lower_ns = bucket as i64 * MINUTE_NS;
            let upper_ns =
                if bucket as i64 == HISTOGRAM_MINUTES { i64::MAX } else { lower_ns + MINUTE_NS };
            HistogramBucket { lower_ns, upper_ns, sessions }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use dropscope_model::Sym;
    use std::fmt::Write as _;

    use dropscope_model::{Level, ResultCode};

    use super::*;
    use crate::classify::Rule;
    use crate::incidents::IncidentConfig;
    use crate::offline::charge_offline;
    use crate::rank::rank;
    use crate::sessions::build;
    use crate::{curve, incidents};

    // A whole UTC minute, so incident bounds read as whole minutes.
    const BASE_NS: i64 = 1_699_999_980 * 1_000_000_000;

    fn agent(short: &str) -> Option<String> {
        let agent = match short {
            "net" => ".NET/1.38.0 (.NET 6.0.20; Linux; X64; {FF88E933})",
            "java" => "com.microsoft.azure.sdk.iot.iot-device-client/1.30.0 (Linux; amd64)",
            "node" => "azure-iot-device/1.17.0 (node v18.16.0; Linux 5.15.0; x64)",
            "py" => "azure-iot-device-iothub-py/2.10.0 (3.10.12; Linux-5.15.0-x86_64; x86_64)",
            "c" => "iothubclient/1.11.0 (native; Linux; x86_64)",
            _ => return None,
        };
        Some(agent.to_owned())
    }

    /// Parses `"[<hub>:]<device> <minutes> <C|D|F> [code] [ip] [sdk] [protocol] [cause]"` lines (`-` for
    /// an absent field; `F` is a failed connect; a code makes the record an error). The cause,
    /// on a disconnect or failed connect, is its verdict.
    fn parse(text: &str) -> (Vec<Event>, Vec<Verdict>) {
        let mut events = Vec::new();
        let mut verdicts = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let field = |idx: usize| fields.get(idx).copied().filter(|f| *f != "-");
            let minutes: f64 = fields[1].parse().unwrap();
            let time = Timestamp(BASE_NS + (minutes * 60e9).round() as i64);
            let operation =
                if fields[2] == "D" { Operation::Disconnect } else { Operation::Connect };
            let (hub, device) = fields[0].split_once(':').unwrap_or(("contoso-hub", fields[0]));
            let mut event = Event::new(time, hub, device, operation);
            if fields[2] == "F" {
                event.level = Level::Error;
            }
            if let Some(code) = field(3) {
                event.result_type = ResultCode::new(code.parse().unwrap());
                event.level = Level::Error;
            }
            event.masked_ip = field(4).map(Sym::new);
            event.sdk_version = field(5).and_then(agent).map(Sym::from);
            event.protocol = field(6).map(Sym::new);
            if let Some(cause) = field(7) {
                verdicts.push(Verdict::new(
                    events.len(),
                    (Cause::parse(cause).unwrap(), 0.5, Rule::UnrecognisedCode),
                    None,
                    None,
                ));
            }
            events.push(event);
        }
        (events, verdicts)
    }

    fn at(t: Timestamp) -> String {
        let secs = (t.0 - BASE_NS) / 1_000_000_000;
        format!("{}:{:02}", secs / 60, secs % 60)
    }

    fn minutes(ns: i64) -> String {
        format!("{:.1}m", ns as f64 / 60e9)
    }

    fn render(f: &Findings) -> String {
        let mut out = String::new();
        let q = &f.quality;
        let _ = writeln!(
            out,
            "{} | hubs {:?} | {}..{} | devices {} sessions {} disconnects {} failed {}",
            f.title,
            f.hubs,
            f.window_start.map_or("-".to_owned(), at),
            f.window_end.map_or("-".to_owned(), at),
            f.devices,
            f.sessions,
            f.disconnects,
            f.failed_connects
        );
        let _ = writeln!(
            out,
            "quality: files {} read {} parsed {} dup {} rejected {:?} reordered {} repairs {:?}",
            q.files, q.records_read, q.parsed, q.duplicates, q.rejected, q.reordered, q.repairs
        );
        for c in &f.causes {
            let _ = writeln!(
                out,
                "cause {} disc {} failed {} devices {} hours {:.3} share {:.2} benign {}",
                c.cause,
                c.disconnects,
                c.failed_connects,
                c.devices,
                c.device_hours_offline,
                c.share,
                c.benign
            );
        }
        let b = &f.benign;
        let _ = writeln!(
            out,
            "benign: events {} devices {} hours {:.3} {:?}",
            b.events, b.devices, b.device_hours_offline, b.by_cause
        );
        let low = f.curve.iter().map(|p| p.min).min();
        let high = f.curve.iter().map(|p| p.max).max();
        let _ = writeln!(out, "curve: {} points, min {low:?} max {high:?}", f.curve.len());
        for i in &f.incidents {
            let networks: Vec<String> =
                i.networks.iter().map(|n| format!("{}={}", n.prefix, n.devices)).collect();
            let codes: Vec<String> =
                i.codes.iter().map(|c| format!("{:?}x{}", c.code, c.count())).collect();
            let _ = writeln!(
                out,
                "incident {}..{} events {} devices {} {} {:.2} nets {networks:?} codes {codes:?}",
                at(i.start),
                at(i.end),
                i.events(),
                i.devices,
                i.dominant_cause,
                i.dominant_share
            );
        }
        for s in &f.duplicate_suspects {
            let sdks: Vec<&str> = s.sdk_versions.iter().map(|v| sdk_family(v)).collect();
            let _ = writeln!(
                out,
                "suspect {} conflicts {} alternations {} ips {:?} sdks {sdks:?} {}..{}",
                s.device_id,
                s.conflicts,
                s.alternations,
                s.masked_ips,
                at(s.first_seen),
                at(s.last_seen)
            );
        }
        for d in &f.flapping {
            let _ = writeln!(
                out,
                "flapping {} disc {} sessions {} median {} {} ip {:?}",
                d.device_id,
                d.disconnects,
                d.sessions,
                d.median_session_ns.map_or("-".to_owned(), minutes),
                d.dominant_cause,
                d.masked_ip
            );
        }
        for (name, rows) in [("sdk", &f.by_sdk), ("protocol", &f.by_protocol)] {
            for r in rows {
                let _ = writeln!(
                    out,
                    "{name} {} devices {} sessions {} events {} problems {} hours {:.3} top {:?}",
                    r.key,
                    r.devices,
                    r.sessions,
                    r.events,
                    r.problem_events,
                    r.device_hours_offline,
                    r.top_cause.map(Cause::as_str)
                );
            }
        }
        let bars: Vec<String> = f
            .session_lengths
            .iter()
            .filter(|b| b.sessions > 0)
            .map(|b| format!("{}={}", b.lower_ns / MINUTE_NS, b.sessions))
            .collect();
        let _ = writeln!(out, "lengths: {} buckets {bars:?}", f.session_lengths.len());
        out
    }

    fn check(text: &str, expected: &str) {
        let (events, verdicts) = parse(text);
        let table = build(&events);
        let curve = table
            .window
            .map(|window| curve::connected_devices(&table.sessions, window))
            .unwrap_or_default();
        let config = IncidentConfig { k: 1.0, min_devices: 2, max_gap_minutes: 1 };
        let incidents = incidents::detect(&events, &table, &config);
        let ranking = rank(&events, &verdicts, &table);
        let offline_ns = charge_offline(&events, &table, &verdicts).offline_ns;
        let mut quality = DataQuality {
            files: 1,
            records_read: events.len() as u64 + 1,
            parsed: events.len() as u64,
            ..DataQuality::default()
        };
        quality.rejected.insert("truncated".to_owned(), 1);
        let findings = assemble(FindingsInput {
            events: &events,
            table: &table,
            curve: &curve,
            incidents: &incidents,
            verdicts: &verdicts,
            ranking: &ranking,
            offline_ns: &offline_ns,
            quality: &quality,
        });
        let actual = render(&findings);
        let expected: String = expected
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .flat_map(|l| [l, "\n"])
            .collect();
        assert_eq!(actual, expected, "\nactual:\n{actual}");
        // Input order does not matter.
        let mut reversed = events.clone();
        reversed.reverse();
        let n = events.len();
        let reversed_verdicts: Vec<Verdict> = verdicts
            .iter()
            .map(|&verdict| {
                let mut reversed = verdict;
                reversed.event = (n - 1 - verdict.index()) as u32;
                reversed
            })
            .collect();
        let table = build(&reversed);
        let incidents = incidents::detect(&reversed, &table, &config);
        let ranking = rank(&reversed, &reversed_verdicts, &table);
        let offline_ns = charge_offline(&reversed, &table, &reversed_verdicts).offline_ns;
        let again = assemble(FindingsInput {
            events: &reversed,
            table: &table,
            curve: &curve,
            incidents: &incidents,
            verdicts: &reversed_verdicts,
            ranking: &ranking,
            offline_ns: &offline_ns,
            quality: &quality,
        });
        let mut again = render(&again);
        // Reordering is measured on the input order, so it differs by design.
        again =
            again.replace(&first_line_of(&again, "quality:"), &first_line_of(&actual, "quality:"));
        assert_eq!(again, actual, "the input order changed the findings");
    }

    fn first_line_of(text: &str, prefix: &str) -> String {
        text.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_owned()
    }

    #[test]
    fn empty_input_has_no_findings() {
        check(
            "",
            "
            Disconnect post-mortem | hubs [] | -..- | devices 0 sessions 0 disconnects 0 failed 0
            quality: files 1 read 1 parsed 0 dup 0 rejected {\"truncated\": 1} reordered 0 repairs {}
            benign: events 0 devices 0 hours 0.000 {}
            curve: 0 points, min None max None
            lengths: 0 buckets []
            ",
        );
    }

    #[test]
    fn a_small_day() {
        check(
            "
            # A site outage at minute 10 on 10.0.1.
            n1 0 C - 10.0.1.XXX net Mqtt
            n2 0 C - 10.0.1.XXX net Mqtt
            n3 0 C - 10.0.1.XXX node Amqp
            n4 0 C - 10.0.1.XXX node Amqp
            n1 10 D 404104 10.0.1.XXX - Mqtt network_outage
            n2 10 D 404104 10.0.1.XXX - Mqtt network_outage
            n3 10 D 404104 10.0.1.XXX - Amqp network_outage
            n4 10.5 D 404104 10.0.1.XXX - Amqp network_outage
            n1 14 C - 10.0.1.XXX net Mqtt
            n2 14 C - 10.0.1.XXX net Mqtt
            n3 15 C - 10.0.1.XXX node Amqp
            n4 30 C - 10.0.1.XXX node Amqp
            # Two clients on one identity.
            dup 1 C - 81.2.69.XXX java Mqtt
            dup 3 C - 81.2.69.XXX net Mqtt
            dup 3 D 400027 81.2.69.XXX - Mqtt duplicate_identity
            dup 5 C - 24.9.142.XXX java Mqtt
            dup 5 D 400027 24.9.142.XXX - Mqtt duplicate_identity
            # A device that keeps going silent.
            flap 0 C - 67.176.115.XXX py Mqtt
            flap 4 D 404104 67.176.115.XXX - Mqtt keepalive_timeout
            flap 6 C - 67.176.115.XXX py Mqtt
            flap 9 D 404104 67.176.115.XXX - Mqtt keepalive_timeout
            flap 12 C - 67.176.115.XXX py Mqtt
            flap 16 D 404104 67.176.115.XXX - Mqtt keepalive_timeout
            flap 20 C - 67.176.115.XXX py Mqtt
            # A token renewal, and a device with bad credentials.
            tok 0 C - 100.64.17.XXX c Mqtt
            tok 20 D - 100.64.17.XXX - Mqtt token_expiry
            tok 20.5 C - 100.64.17.XXX c Mqtt
            bad 2 F 401003 - - Mqtt auth_failure
            bad 3 F 401003 - - Mqtt auth_failure
            # A renewal during the outage does not make it benign.
            tok2 0 C - 100.64.17.XXX c Mqtt
            tok2 10 D - 100.64.17.XXX - Mqtt token_expiry
            tok2 10.5 C - 100.64.17.XXX c Mqtt
            ",
            r#"
            Disconnect post-mortem: contoso-hub | hubs ["contoso-hub"] | 0:00..30:00 | devices 9 sessions 19 disconnects 11 failed 2
            quality: files 1 read 33 parsed 32 dup 0 rejected {"truncated": 1} reordered 0 repairs {"overlap": 2}
            cause network_outage disc 4 failed 0 devices 4 hours 0.542 share 0.31 benign false
            cause auth_failure disc 0 failed 2 devices 1 hours 0.467 share 0.15 benign false
            cause keepalive_timeout disc 3 failed 0 devices 1 hours 0.150 share 0.23 benign false
            cause token_expiry disc 2 failed 0 devices 2 hours 0.017 share 0.15 benign true
            cause duplicate_identity disc 2 failed 0 devices 1 hours 0.000 share 0.15 benign false
            benign: events 2 devices 2 hours 0.017 {TokenExpiry: 2}
            curve: 31 points, min Some(3) max Some(8)
            incident 10:00..11:00 events 5 devices 5 network_outage 1.00 nets ["10.0.1=4", "100.64.17=1"] codes ["Some(404104)x4", "Nonex1"]
            suspect dup conflicts 2 alternations 2 ips ["24.9.142.XXX", "81.2.69.XXX"] sdks [".NET", "Java"] 3:00..5:00
            flapping flap disc 3 sessions 4 median 4.0m keepalive_timeout ip Some("67.176.115.XXX")
            sdk .NET devices 3 sessions 5 events 3 problems 3 hours 0.133 top Some("network_outage")
            sdk Python devices 1 sessions 4 events 3 problems 3 hours 0.150 top Some("keepalive_timeout")
            sdk (none) devices 1 sessions 0 events 2 problems 2 hours 0.467 top Some("auth_failure")
            sdk C devices 2 sessions 4 events 2 problems 0 hours 0.000 top None
            sdk Node.js devices 2 sessions 4 events 2 problems 2 hours 0.408 top Some("network_outage")
            sdk Java devices 1 sessions 2 events 1 problems 1 hours 0.000 top Some("duplicate_identity")
            protocol Mqtt devices 7 sessions 15 events 11 problems 9 hours 0.750 top Some("network_outage")
            protocol Amqp devices 2 sessions 4 events 2 problems 2 hours 0.408 top Some("network_outage")
            lengths: 181 buckets ["2=2", "3=1", "4=2", "10=5", "20=1"]
            "#,
        );
    }

    #[test]
    fn offline_time_ends_with_the_hub_records() {
        check(
            "
            old:a 0 C - 10.0.0.XXX - Mqtt
            old:a 5 D 404104 10.0.0.XXX - Mqtt keepalive_timeout
            old:b 10 C - 10.0.0.XXX - Mqtt
            :e 11 C - - - -
            new:c 1000 C - 10.0.0.XXX c Mqtt
            new:c 1010 D - 10.0.0.XXX - Mqtt client_close
            ",
            r#"
            Disconnect post-mortem: new, old | hubs ["new", "old"] | 0:00..1010:00 | devices 4 sessions 4 disconnects 2 failed 0
            quality: files 1 read 7 parsed 6 dup 0 rejected {"truncated": 1} reordered 0 repairs {}
            cause keepalive_timeout disc 1 failed 0 devices 1 hours 0.083 share 0.50 benign false
            cause client_close disc 1 failed 0 devices 1 hours 0.000 share 0.50 benign true
            benign: events 1 devices 1 hours 0.000 {ClientClose: 1}
            curve: 1011 points, min Some(0) max Some(3)
            sdk (none) devices 3 sessions 3 events 1 problems 1 hours 0.083 top Some("keepalive_timeout")
            sdk C devices 1 sessions 1 events 1 problems 0 hours 0.000 top None
            protocol Mqtt devices 3 sessions 3 events 2 problems 1 hours 0.083 top Some("keepalive_timeout")
            protocol (none) devices 1 sessions 1 events 0 problems 0 hours 0.000 top None
            lengths: 181 buckets ["5=1", "10=1"]
            "#,
        );
    }
}
