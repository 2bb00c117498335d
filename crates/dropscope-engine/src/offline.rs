//! Offline time: how long each disconnect or failed connect kept its device offline.
//!
//! A device's offline time runs from a classified record (a disconnect or failed connect) to its
//! next classified record or successful connect, or to the end of its hub's records, and is
//! charged to the record that opened the gap. So a throttled reconnect wave's time goes to
//! throttling, and a device locked out by bad credentials charges `auth_failure`. The walk knows
//! the sessions: a conflict that ended a session overlapped by the next one (a second client took
//! the identity) leaves the device connected, and at one instant disconnects come before
//! connects.
//!
//! [`crate::rank`] and [`crate::findings`] both charge offline time here, so the ranking and the
//! report's causes, benign churn and breakdowns show the same device-hours.

use std::collections::{BTreeMap, BTreeSet};

use dropscope_model::{Cause, Event, Operation};
use rayon::prelude::*;

use crate::classify::Verdict;
use crate::sessions::{EventRole, SessionTable};

/// Each event's device number (as in [`SessionTable::event_device`]) and index into `verdicts`.
pub(crate) fn device_and_verdict(
    events: &[Event],
    table: &SessionTable,
    verdicts: &[Verdict],
) -> (Vec<u32>, Vec<Option<u32>>) {
    let device: Vec<u32> = if table.event_device.len() == events.len() {
        table.event_device.clone()
    } else {
        device_numbers(events)
    };
    let mut verdict = vec![None; events.len()];
    for (verdict_idx, v) in verdicts.iter().enumerate() {
        if let Some(slot) = verdict.get_mut(v.event) {
            *slot = Some(verdict_idx as u32);
        }
    }
    (device, verdict)
}

/// The offline time charged to each cause, in ns, by [`charge_offline`]: what
/// [`crate::rank::rank`] ranks by, so that `diagnose` and the report agree.
pub(crate) fn offline_by_cause(
    events: &[Event],
    table: &SessionTable,
    verdicts: &[Verdict],
) -> BTreeMap<Cause, i64> {
    let (device, verdict) = device_and_verdict(events, table, verdicts);
    let offline = charge_offline(events, table, &device, &verdict);
    let mut by_cause: BTreeMap<Cause, i64> = BTreeMap::new();
    for v in verdicts {
        if let Some(&ns) = offline.get(v.event) {
            *by_cause.entry(v.cause).or_default() += ns;
        }
    }
    by_cause
}

/// Device numbers by sorted (hub, device, module), when the table does not have them.
fn device_numbers(events: &[Event]) -> Vec<u32> {
    let keys: BTreeSet<(&str, &str, Option<&str>)> = events
        .iter()
        .map(|e| (e.hub.as_str(), e.device_id.as_str(), e.module_id.as_deref()))
        .collect();
    let numbers: BTreeMap<_, u32> = keys.into_iter().zip(0..).collect();
    events
        .iter()
        .map(|e| numbers[&(e.hub.as_str(), e.device_id.as_str(), e.module_id.as_deref())])
        .collect()
}

/// Walks each device in time order and charges every gap (from a classified record to the next
/// classified record or successful connect, or the end of the device's hub's records) to the
/// record that opened it. The end is per hub so that the logs of an old, small hub read with a
/// recent one do not charge years of offline time. At one instant, disconnects come before connects (a reconnect in the same second ends the
/// gap), and a disconnect that ended a session overlapped by the next one (a second client took
/// the identity over) opens no gap: the device stayed connected.
pub(crate) fn charge_offline(
    events: &[Event],
    table: &SessionTable,
    device: &[u32],
    verdict: &[Option<u32>],
) -> Vec<i64> {
    let mut hub_end: BTreeMap<&str, i64> = BTreeMap::new();
    for event in events {
        let end = hub_end.entry(event.hub.as_str()).or_insert(event.time.0);
        *end = (*end).max(event.time.0);
    }
    let is_connect =
        |event: &Event| event.operation == Operation::Connect && !event.level.is_error();
    let mut order: Vec<u32> = (0..events.len() as u32).collect();
    order.par_sort_unstable_by_key(|&idx| {
        let event = &events[idx as usize];
        (device[idx as usize], event.time, is_connect(event), idx)
    });
    let overlapped = |idx: usize| match table.roles.get(idx) {
        Some(EventRole::Ended(s)) => table.next_of(*s as usize).is_some_and(|next| next.overlap),
        _ => false,
    };
    let mut offline = vec![0_i64; events.len()];
    let mut charged: Option<(usize, i64)> = None;
    let mut current_device = None;
    let mut window_end = 0;
    for &idx in &order {
        let idx = idx as usize;
        let (event, d) = (&events[idx], device[idx]);
        if current_device != Some(d) {
            if let Some((opened, since)) = charged.take() {
                offline[opened] += (window_end - since).max(0);
            }
            current_device = Some(d);
            window_end = hub_end.get(event.hub.as_str()).copied().unwrap_or(event.time.0);
        }
        let time = event.time.0;
        if is_connect(event) {
            if let Some((opened, since)) = charged.take() {
                offline[opened] += (time - since).max(0);
            }
        } else if verdict[idx].is_some()
            && !overlapped(idx)
            && let Some((opened, since)) = charged.replace((idx, time))
        {
            offline[opened] += (time - since).max(0);
        }
    }
    if let Some((opened, since)) = charged {
        offline[opened] += (window_end - since).max(0);
    }
    offline
}
