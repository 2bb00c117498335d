//! The device partition: each event's device and each device's events, found once per run and
//! shared by every step that works device by device (sessions, the classifier, the offline
//! accounting, the ranking and the report's sections).
//!
//! A device is `(hub, device_id, module_id)`. Devices are numbered in that order (by text), so the
//! numbers never depend on the input order or the thread count. [`Partition::of`] keeps each
//! device's events in input order; [`crate::sessions::build_in`] sorts them into timeline order in
//! place, and a step that needs another order within a device sorts its own copy of the device's
//! few events (nearly sorted already, so an insertion sort).
//!
//! Memory: 4 bytes an event for the grouped indexes, 4 for each event's device number, and 16 a
//! device.

use std::cmp::Ordering;

use dropscope_model::{Event, FxHashMap, Sym, table_of};
use rayon::prelude::*;

/// Every event's device and every device's events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partition {
    /// Event indexes grouped by device, the devices in `(hub, device_id, module_id)` order.
    /// Within a device: input order from [`Partition::of`], timeline order once
    /// [`crate::sessions::build_in`] has walked them.
    pub order: Vec<u32>,
    /// Device `d`'s events are `order[runs[d].0..runs[d].1]`.
    pub runs: Vec<(usize, usize)>,
    /// The device number of every event, in input order.
    pub event_device: Vec<u32>,
}

impl Partition {
    /// Groups `events` by device, in parallel on the current rayon pool; the result does not
    /// depend on the thread count.
    pub fn of(events: &[Event]) -> Partition {
        let (order, runs, event_device) = device_runs(events);
        Partition { order, runs, event_device }
    }

    /// The number of devices.
    pub fn n_devices(&self) -> usize {
        self.runs.len()
    }

    /// The event indexes of device number `device` (empty when out of range).
    pub fn device(&self, device: usize) -> &[u32] {
        self.runs
            .get(device)
            .and_then(|&(start, end)| self.order.get(start..end))
            .unwrap_or_default()
    }

    /// Each device's events, in device order.
    pub fn devices(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        self.runs.iter().map(|&(start, end)| &self.order[start..end])
    }
}

/// A set of device numbers, a bit each: counting the distinct devices of millions of records
/// without a tree or a hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DeviceSet {
    bits: Vec<u64>,
    len: u64,
}

impl DeviceSet {
    /// Adds `device`; returns whether it was new.
    pub(crate) fn insert(&mut self, device: u32) -> bool {
        let (word, bit) = (device as usize / 64, device % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let new = self.bits[word] & (1 << bit) == 0;
        self.bits[word] |= 1 << bit;
        self.len += u64::from(new);
        new
    }

    /// Adds every device of `other`.
    pub(crate) fn union(&mut self, other: &DeviceSet) {
        if other.bits.len() > self.bits.len() {
            self.bits.resize(other.bits.len(), 0);
        }
        for (word, theirs) in self.bits.iter_mut().zip(&other.bits) {
            *word |= theirs;
        }
        self.len = self.bits.iter().map(|word| u64::from(word.count_ones())).sum();
    }

    /// The number of devices in the set.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

fn cmp_device(a: &Event, b: &Event) -> Ordering {
    a.hub
        .cmp(&b.hub)
        .then_with(|| a.device_id.cmp(&b.device_id))
        .then_with(|| a.module_id.cmp(&b.module_id))
}

/// Groups the events by device: returns the event indexes grouped by device, the devices in
/// `(hub, device_id, module_id)` order (each group in input order), each device's `start..end`
/// range in it, and each event's device number (its index among the ranges).
///
/// Interned texts are equal exactly when their handles are, and handles are small dense
/// numbers, so a device is usually just its device-id handle: one parallel pass over the events,
/// with tables indexed by that handle and no hashing, finds which ids always come with the same
/// hub and module (each then one device) and notes each event's id; a pass over those ids
/// numbers and counts the devices. Only the events of ids seen with several hubs or modules are
/// read again, for a hash map of their full keys. Only the distinct devices are sorted by their
/// strings, and a counting sort places the indexes.
pub(crate) fn device_runs(events: &[Event]) -> (Vec<u32>, Vec<(usize, usize)>, Vec<u32>) {
    // A pass keeps two tables the size of the ids per chunk: at most four chunks.
    let parts = rayon::current_num_threads().min(4);
    device_runs_in_chunks(events, (1 << 16).max(events.len().div_ceil(parts)))
}

/// [`device_runs`], its parallel passes over `chunk` events at a time (the result is the same for
/// any `chunk`).
pub(crate) fn device_runs_in_chunks(
    events: &[Event],
    chunk: usize,
) -> (Vec<u32>, Vec<(usize, usize)>, Vec<u32>) {
    // The hub and module of an event; `SEEN_NONE` and `SEEN_MANY` are never one (a hub handle is
    // never 0).
    const SEEN_NONE: (u32, u32) = (0, 0);
    const SEEN_MANY: (u32, u32) = (0, 1);
    let id = |e: &Event| e.device_id.handle() as usize;
    let rest = |e: &Event| (e.hub.handle(), e.module_id.map_or(0, Sym::handle));
    let meet = |seen: &mut (u32, u32), other: (u32, u32)| {
        if *seen == SEEN_NONE {
            *seen = other;
        } else if *seen != other && other != SEEN_NONE {
            *seen = SEEN_MANY;
        }
    };
    let chunk = chunk.max(1);
    // What each device id comes with, one hub and module or several, and each event's id: the
    // one pass that reads the events (72 bytes each) for all of them, instead of one per step.
    let mut event_device = vec![0_u32; events.len()];
    let seen = events
        .par_chunks(chunk)
        .zip(event_device.par_chunks_mut(chunk))
        .map(|(part, ids)| {
            let mut seen: Vec<(u32, u32)> = Vec::new();
            for (event, to) in part.iter().zip(ids) {
                let at = id(event);
                if at >= seen.len() {
                    seen.resize((at + 1).next_power_of_two(), SEEN_NONE);
                }
                meet(&mut seen[at], rest(event));
                *to = at as u32;
            }
            seen
        })
        .reduce_with(|mut a, mut b| {
            if a.len() < b.len() {
                std::mem::swap(&mut a, &mut b);
            }
            for (a, b) in a.iter_mut().zip(b) {
                meet(a, b);
            }
            a
        })
        .unwrap_or_default();
    let ids = seen.len();
    // The devices of ids with several hubs or modules, numbered after the ids.
    let mut shared: Vec<(u32, u32, u32)> = if seen.contains(&SEEN_MANY) {
        events
            .par_iter()
            .zip(&event_device)
            .filter(|&(_, &at)| seen[at as usize] == SEEN_MANY)
            .map(|(e, &at)| (at, e.hub.handle(), e.module_id.map_or(0, Sym::handle)))
            .collect()
    } else {
        Vec::new()
    };
    shared.par_sort_unstable();
    shared.dedup();
    let shared: FxHashMap<(u32, u32, u32), u32> = shared.into_iter().zip(ids as u32..).collect();
    let n_devices = ids + shared.len();
    // Each event's device number (its id's, unless the id is shared), and each device's events
    // and first event.
    let counted: Vec<(Vec<u32>, Vec<u32>)> = event_device
        .par_chunks_mut(chunk)
        .enumerate()
        .map(|(n, devices)| {
            // Incremented at random: written whole first (see `table_of`).
            let mut counts = table_of(n_devices, 0_u32);
            let mut first = vec![u32::MAX; n_devices];
            for (idx, device) in ((n * chunk) as u32..).zip(devices) {
                let at = *device as usize;
                let number = if seen[at] == SEEN_MANY {
                    let (hub, module) = rest(&events[idx as usize]);
                    shared[&(at as u32, hub, module)] as usize
                } else {
                    at
                };
                *device = number as u32;
                if counts[number] == 0 {
                    first[number] = idx;
                }
                counts[number] += 1;
            }
            (counts, first)
        })
        .collect();
    drop(seen);
    let mut counts = vec![0_usize; n_devices];
    let mut first = vec![u32::MAX; n_devices];
    for (part_counts, part_first) in &counted {
        for (device, (&n, &at)) in part_counts.iter().zip(part_first).enumerate() {
            counts[device] += n as usize;
            first[device] = first[device].min(at);
        }
    }
    // Distinct devices are distinct strings, so this order is total.
    let mut by_name: Vec<u32> = (0..n_devices as u32).filter(|&d| counts[d as usize] > 0).collect();
    by_name.par_sort_unstable_by(|&a, &b| {
        cmp_device(&events[first[a as usize] as usize], &events[first[b as usize] as usize])
    });
    let mut rank = vec![0_u32; n_devices];
    let mut runs = Vec::with_capacity(by_name.len());
    let mut at = 0;
    for (r, &device) in (0_u32..).zip(&by_name) {
        rank[device as usize] = r;
        runs.push((at, at + counts[device as usize]));
        at += counts[device as usize];
    }
    // The counting sort's placing, in parallel over the parts counted above (serial, its random
    // writes were 25 ms of one core on 2 M events while the other waited): each part writes its
    // events into its own share of each device's run, after the earlier parts' shares, so each
    // run stays in input order.
    let mut order = vec![0_u32; events.len()];
    let in_order = by_name.iter().map(|&device| device as usize);
    let shares = dropscope_model::shares(&mut order, counted.len(), n_devices, in_order, |p, d| {
        counted[p].0[d] as usize
    });
    drop(counted);
    event_device.par_chunks_mut(chunk).zip(shares).enumerate().for_each(
        |(n, (devices, mut share))| {
            for (idx, device) in ((n * chunk) as u32..).zip(devices) {
                dropscope_model::put(&mut share[*device as usize], idx);
                *device = rank[*device as usize];
            }
        },
    );
    (order, runs, event_device)
}
