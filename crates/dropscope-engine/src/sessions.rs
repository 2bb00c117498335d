//! Session reconstruction: per-device timelines with repairs, computed in parallel.
//!
//! [`build`] turns the events (as the loader returns them: duplicates removed, in input order) into
//! a [`SessionTable`]: one [`Session`] per reconstructed connection, sorted by
//! `(hub, device_id, module_id, session_id)`, plus the role of every event (which session it
//! opened or ended, or which session a failed connect preceded) and a [`SessionSummary`].
//! [`stream`] rebuilds the same sessions without keeping them, handing them to a sink a batch of
//! whole devices at a time (for writing them out).
//!
//! # How the work is split
//!
//! A device is exactly its three interned handles (hub, device id, module id), and usually just
//! its device-id handle: interned texts are equal exactly when their handles are, and handles
//! are small dense numbers. So one parallel pass over the events, with tables indexed by the
//! device-id handle and no hashing, finds the ids that always come with one hub and one module,
//! each then one device; only the events of the other ids go through a hash map of full keys.
//! Only the distinct devices are sorted by their texts, and a counting sort groups the events
//! by device, each part of the events placing its own in its share of each device's run
//! ([`dropscope_model::shares`]), so each run stays in input order.
//!
//! Each device's events are then sorted into timeline order (below), by an insertion sort
//! first: a log in time order leaves each device's events sorted but for a few same-second
//! neighbours and late records, which a general sort spent far more on. A device that needs
//! more than a few moves an event is sorted in full.
//!
//! Devices are walked in parallel, in about 16 batches of whole devices, which depend on the
//! number of events only, never on the thread count. [`build`] merges each batch's sessions
//! into the table on one thread while the next batch is walked; [`stream`] hands each batch to
//! a sink instead, so a caller that only writes the sessions (`dropscope sessions` writes them
//! as Parquet row groups) holds a row group's worth of sessions in memory, not the table.
//!
//! # How one device's events are ordered
//!
//! Events are partitioned by device (`hub`, `device_id`, `module_id`) and sorted by `time`, then by
//! the sequence number `seq` when present, then by content (level, code, ...), so the order never
//! depends on the input order or the thread count.
//!
//! `seq` is the `sequenceNumber` of Event Grid, CloudEvents and routed connection-state events: a
//! 256-bit number as 64 hex digits, "strictly increasing, so the latest event has a higher number"
//! (docs/research/iothub-logs.md §2.2, §2.3). It is compared as a number (leading zeros dropped,
//! hex letters in either case) and only between events of one time: a batch that lists the newer
//! event first, or two changes stamped alike, are put in the order their numbers say, but it never
//! overrides the times, because one device's resource-log records, which have no number,
//! interleave with its numbered events by time alone. In every sample, and in the simulator,
//! a device's numbers grow with its times, so the two orders agree where both exist.
//!
//! Events that share `(time, seq)`, which whole-second timestamps make common, form a *tie group*
//! whose order is chosen while walking, as the reading that needs the fewest repairs:
//!
//! - While a session is open, its disconnects come first (a disconnect and a reconnect in the
//!   same second close the old session before opening the new one): closing costs nothing, while
//!   a connect while open is a repair.
//! - While none is open and the group holds both, there are two readings: failed connects and
//!   connects first (a connect and a disconnect in the same second are one short session), or
//!   disconnects first (the end of a session whose connect is not in the log, then a new one).
//!   Each is tried on a copy of the state, followed by the next group holding a connect or a
//!   disconnect (walked its cheaper way), and the cheaper wins; connect first on a tie. A repair
//!   costs one: a disconnect with nothing open (except before the device's first session: the
//!   window opened mid-session), a connect while open that no conflict disconnect marks as an
//!   overlap, and a `400027`/`409002` disconnect ending a session that opened in the same instant
//!   with no other connect of that instant after it (the conflicting connection is missing).
//!
//! So a device whose first records are a disconnect and a connect in one second, then a
//! disconnect, has two sessions, `[window start, t]` and `[t, next disconnect]`, and a
//! duplicate-identity chain (each connect's `400027` ending the previous connection in the same
//! second) that lost one connect resumes pairing at the next second instead of reading every
//! later pair as a zero-length session.
//!
//! # Repairs (each flagged on the session and counted in the summary)
//!
//! - A disconnect with no open session is a session with a null `connect_time`
//!   ([`Repairs::MISSING_CONNECT`]): the window opened mid-session (first session of the device)
//!   or the connect record was lost.
//! - Two connects in a row: if a `400027`/`409002` disconnect follows within
//!   [`OVERLAP_WINDOW_NS`] (in the next tie group holding a connect or disconnect, and more
//!   of them there than connects: a conflict disconnect in the same instant as a connect is that
//!   connect's kick-out of the connection before it), the second connection
//!   overlapped the first: that disconnect ends the first session and the second session has
//!   `overlap` set and a zero gap. Otherwise the first session's disconnect was lost: it ends at
//!   the second connect (an upper bound) with [`Repairs::MISSING_DISCONNECT`], and the next gap is
//!   unknown. A session that follows a `400027`/`409002` end at the same instant is an overlap too.
//! - A connect never closed is open at the window's end: null `disconnect_time`,
//!   [`Repairs::MISSING_DISCONNECT`].
//! - The .NET/Java token pattern, `401003` then `404104` within [`MERGE_WINDOW_NS`] with nothing
//!   in between, is one session end with two records ([`Repairs::MERGED_END`]); the session keeps
//!   the first record's time and code.
//! - A failed connect (a connect at level Error or Critical) is not a session: it counts into the
//!   next session's `failed_connects_before`.
//! - A session with a record that arrived out of time order in the input (an earlier input
//!   record of the same device has a later time) is flagged [`Repairs::REORDERED`].
//!
//! - A session with a record whose later copies the loader dropped ([`Event::had_copies`]) is
//!   flagged [`Repairs::DUPLICATE_DROPPED`].
//! - A session with an Event Grid record whose `subject` named another device or module than its
//!   `data` ([`Event::subject_mismatch`]; the reader took the data's) is flagged
//!   [`Repairs::SUBJECT_MISMATCH`].

mod walk;

pub(crate) use walk::DeviceTimeline;

use crate::partition::Partition;

#[cfg(test)]
pub(crate) mod tests;

use std::cmp::Ordering;

use dropscope_model::{Event, Operation, Repairs, Session, Timestamp};
use rayon::prelude::*;

/// Two end records of one session (`401003` then `404104`) are merged when at most this far apart.
pub const MERGE_WINDOW_NS: i64 = 60 * 1_000_000_000;

/// A `400027`/`409002` disconnect at most this long after a second connect marks an overlap.
pub const OVERLAP_WINDOW_NS: i64 = 60 * 1_000_000_000;

/// The error codes the hub logs when it closes a connection because another one opened.
pub const CONFLICT_CODES: [u32; 2] = [400_027, 409_002];

/// The time span the logs cover: the first to the last event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The earliest event time.
    pub start: Timestamp,
    /// The latest event time.
    pub end: Timestamp,
}

/// The longest window, in minutes (ten years), that per-minute results ([`crate::curve`],
/// [`crate::incidents`]) cover; a longer one (a stray timestamp decades off) yields none, so
/// hostile input cannot exhaust memory.
pub const MAX_WINDOW_MINUTES: i64 = 10 * 366 * 24 * 60;

impl Window {
    /// The number of UTC minutes the window touches, or `None` when over [`MAX_WINDOW_MINUTES`].
    pub fn minutes(self) -> Option<usize> {
        const MINUTE_NS: i64 = 60 * 1_000_000_000;
        let n = self.end.0.div_euclid(MINUTE_NS) - self.start.0.div_euclid(MINUTE_NS) + 1;
        (1..=MAX_WINDOW_MINUTES).contains(&n).then_some(n as usize)
    }

    /// The window of `events`, or `None` when there are none.
    pub fn of(events: &[Event]) -> Option<Window> {
        events
            .par_iter()
            .map(|e| Window { start: e.time, end: e.time })
            .reduce_with(|a, b| Window { start: a.start.min(b.start), end: a.end.max(b.end) })
    }
}

/// What one event is in the rebuilt timelines. Session numbers index [`SessionTable::sessions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRole {
    /// A successful connect that opened this session.
    Opened(u32),
    /// The disconnect that ended this session (for a merged end, the first of the two records).
    Ended(u32),
    /// The second record of a merged end (`404104` after `401003`) of this session.
    MergedEnd(u32),
    /// A failed connect, counted into the next session of the device, if there is one.
    FailedConnect {
        /// The session it preceded.
        next_session: Option<u32>,
    },
}

/// Counts over a [`SessionTable`]: what was rebuilt and what was repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionSummary {
    /// Events read.
    pub events: u64,
    /// Sessions rebuilt.
    pub sessions: u64,
    /// Distinct devices (hub, device, module).
    pub devices: u64,
    /// Devices already connected when the window opened (first session has no connect).
    pub open_at_start: u64,
    /// Sessions still open at the window's end (null `disconnect_time`).
    pub open_at_end: u64,
    /// Failed connects.
    pub failed_connects: u64,
    /// Failed connects after the device's last session (no session to count them into).
    pub trailing_failed_connects: u64,
    /// Sessions with [`Repairs::MISSING_CONNECT`] (including those open at the start).
    pub missing_connect: u64,
    /// Of those, connects lost in the middle of the window (not the device's first session).
    pub lost_connects: u64,
    /// Sessions with [`Repairs::MISSING_DISCONNECT`] (including those open at the end).
    pub missing_disconnect: u64,
    /// Of those, disconnects lost in the middle of the window (a second connect followed).
    pub lost_disconnects: u64,
    /// Sessions with `overlap`.
    pub overlaps: u64,
    /// Sessions with [`Repairs::MERGED_END`].
    pub merged_ends: u64,
    /// Sessions with [`Repairs::REORDERED`].
    pub reordered_sessions: u64,
    /// Sessions with [`Repairs::DUPLICATE_DROPPED`].
    pub duplicate_dropped: u64,
    /// Sessions with [`Repairs::SUBJECT_MISMATCH`].
    pub subject_mismatch: u64,
    /// Events that arrived after a later event of the same device.
    pub reordered_events: u64,
}

/// The rebuilt sessions of every device, with the role of every event.
#[derive(Debug, Clone, Default)]
pub struct SessionTable {
    /// Sorted by `(hub, device_id, module_id, session_id)`.
    pub sessions: Vec<Session>,
    /// One per input event, in input order.
    pub roles: Vec<EventRole>,
    /// Every event's device and every device's events, each device's in timeline order; the
    /// device numbers index [`SessionTable::device`].
    pub partition: Partition,
    /// For device number `d`, its sessions are `sessions[device_sessions[d]..device_sessions[d + 1]]`.
    pub device_sessions: Vec<u32>,
    /// The first to the last event time; `None` when there are no events.
    pub window: Option<Window>,
    /// The counts.
    pub summary: SessionSummary,
}

/// What the classifier needs about the session a disconnect ended.
#[derive(Debug, Clone, Copy)]
pub struct Ending<'a> {
    /// Index of the session in [`SessionTable::sessions`].
    pub session_idx: usize,
    /// The session the disconnect ended.
    pub session: &'a Session,
    /// The device's next session, if any.
    pub next: Option<&'a Session>,
    /// Whether the event is the second record of a merged end.
    pub merged_second: bool,
}

impl Ending<'_> {
    /// The session's age when it ended (`duration`), in ns, when its connect is known.
    pub fn age_ns(&self) -> Option<i64> {
        self.session.duration_ns()
    }

    /// Offline time until the device's next successful connect, in ns (0 for an overlap).
    pub fn gap_to_next_ns(&self) -> Option<i64> {
        let next = self.next?;
        if next.overlap {
            return Some(0);
        }
        Some(next.connect_time.get()?.0 - self.session.disconnect_time.get()?.0)
    }

    /// Failed connects before the device's next session (or after this one, when none followed).
    pub fn next_failed_connects(&self) -> Option<u32> {
        self.next.map(|next| next.failed_connects_before)
    }
}

impl SessionTable {
    /// The session that the disconnect at `event_idx` ended, with its successor; `None` for
    /// connects, failed connects and out-of-range indexes.
    pub fn ending(&self, event_idx: usize) -> Option<Ending<'_>> {
        let (session, merged_second) = match *self.roles.get(event_idx)? {
            EventRole::Ended(s) => (s as usize, false),
            EventRole::MergedEnd(s) => (s as usize, true),
            EventRole::Opened(_) | EventRole::FailedConnect { .. } => return None,
        };
        Some(Ending {
            session_idx: session,
            session: self.sessions.get(session)?,
            next: self.next_of(session),
            merged_second,
        })
    }

    /// The session at index `session_idx`'s successor on the same device.
    pub fn next_of(&self, session_idx: usize) -> Option<&Session> {
        let current = self.sessions.get(session_idx)?;
        let next = self.sessions.get(session_idx + 1)?;
        (next.session_id == current.session_id + 1 && same_device_session(current, next))
            .then_some(next)
    }

    /// The sessions of the device number `device`.
    pub fn device(&self, device: usize) -> &[Session] {
        match (self.device_sessions.get(device), self.device_sessions.get(device + 1)) {
            (Some(&start), Some(&end)) => {
                self.sessions.get(start as usize..end as usize).unwrap_or_default()
            }
            _ => &[],
        }
    }

    /// Number of distinct devices.
    pub fn n_devices(&self) -> usize {
        self.device_sessions.len().saturating_sub(1)
    }
}

fn same_device_session(a: &Session, b: &Session) -> bool {
    a.device_id == b.device_id && a.hub == b.hub && a.module_id == b.module_id
}

/// Sequence numbers are hex strings (64 upper-case digits in every sample) or, from tests and
/// older tables, decimal ones: compared as numbers, leading zeros dropped, so shorter is smaller,
/// then digit by digit with hex letters in either case; the text itself breaks what is left of a
/// tie. An event without one sorts first.
pub(crate) fn cmp_seq(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => {
            let (xd, yd) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
            xd.len()
                .cmp(&yd.len())
                .then_with(|| {
                    xd.bytes()
                        .map(|b| b.to_ascii_uppercase())
                        .cmp(yd.bytes().map(|b| b.to_ascii_uppercase()))
                })
                .then_with(|| x.cmp(y))
        }
    }
}

/// Whether two events of one device fall in the same tie group: same time and sequence number.
pub(crate) fn same_tie(a: &Event, b: &Event) -> bool {
    a.time == b.time && cmp_seq(a.seq.as_deref(), b.seq.as_deref()) == Ordering::Equal
}

/// A total order on event content (every field but the device and the position in the input),
/// used inside a tie group so the order never depends on the input order.
pub(crate) fn cmp_content(a: &Event, b: &Event) -> Ordering {
    a.operation
        .cmp(&b.operation)
        .then_with(|| a.level.cmp(&b.level))
        .then_with(|| a.result_type.cmp(&b.result_type))
        .then_with(|| a.result_description.cmp(&b.result_description))
        .then_with(|| a.protocol.cmp(&b.protocol))
        .then_with(|| a.masked_ip.cmp(&b.masked_ip))
        .then_with(|| a.sdk_version.cmp(&b.sdk_version))
        .then_with(|| a.auth_type.cmp(&b.auth_type))
        .then_with(|| a.status_code.cmp(&b.status_code))
}

fn cmp_timeline(a: &Event, b: &Event) -> Ordering {
    a.time
        .cmp(&b.time)
        .then_with(|| cmp_seq(a.seq.as_deref(), b.seq.as_deref()))
        .then_with(|| cmp_content(a, b))
}

/// Rebuilds every device's sessions from `events` (any order; duplicates already removed).
///
/// Runs on the current rayon pool; the result is identical at any thread count, and for any
/// input order except the [`Repairs::REORDERED`] flags, which describe the input order.
pub fn build(events: &[Event]) -> SessionTable {
    build_in(events, Partition::of(events))
}

/// [`build`] over the device partition of `events` ([`Partition::of`]), which the table keeps,
/// each device's events sorted into timeline order.
pub fn build_in(events: &[Event], partition: Partition) -> SessionTable {
    build_visiting(events, partition, |_, _| (), |()| {})
}

/// [`build_in`], also handing each device, just walked (while its events are still in the
/// cache), to `visit`: its event indexes in timeline order and its timeline. What `visit`
/// returns is given to `take` on one thread, in device order.
pub(crate) fn build_visiting<X: Send>(
    events: &[Event],
    mut partition: Partition,
    visit: impl Fn(&[u32], &DeviceTimeline) -> X + Sync,
    mut take: impl FnMut(X) + Send,
) -> SessionTable {
    let n_events = events.len();
    let runs = std::mem::take(&mut partition.runs);
    let mut order = std::mem::take(&mut partition.order);

    let mut table = SessionTable {
        // Each event opens or ends at most one session: the bound is never exceeded, so the
        // vector never moves, and the pages it does not fill are never touched.
        sessions: Vec::with_capacity(n_events),
        roles: vec![EventRole::FailedConnect { next_session: None }; n_events],
        partition: Partition::default(),
        device_sessions: Vec::with_capacity(runs.len() + 1),
        window: Window::of(events),
        summary: SessionSummary::default(),
    };
    table.summary.events = n_events as u64;
    table.summary.devices = runs.len() as u64;

    let merged: Result<(), std::convert::Infallible> =
        walk_batches(events, &mut order, &runs, visit, |timelines| {
            for (timeline, visited) in timelines {
                add_device(&mut table, timeline);
                take(visited);
            }
            Ok(())
        });
    let Ok(()) = merged;
    table.device_sessions.push(table.sessions.len() as u32);
    partition.order = order;
    partition.runs = runs;
    table.partition = partition;
    table
}

/// Rebuilds every device's sessions from `events` like [`build`], but hands them to `sink` a
/// batch of whole devices at a time, in table order, instead of keeping them (nor the events'
/// roles): for callers that only write the sessions, whose memory then holds one batch. The
/// batches depend on the number of events only, never on the thread count. Returns the summary,
/// or the first error of `sink` (no batch is handed over after it).
pub fn stream<E: Send>(
    events: &[Event],
    mut sink: impl FnMut(&[Session]) -> Result<(), E> + Send,
) -> Result<SessionSummary, E> {
    let Partition { mut order, runs, .. } = Partition::of(events);
    let mut summary = SessionSummary {
        events: events.len() as u64,
        devices: runs.len() as u64,
        ..SessionSummary::default()
    };
    let mut batch: Vec<Session> = Vec::new();
    walk_batches(
        events,
        &mut order,
        &runs,
        |_, _| (),
        |timelines| {
            batch.clear();
            for (timeline, ()) in timelines {
                count_timeline(&mut summary, &timeline);
                batch.extend(timeline.sessions);
            }
            sink(&batch)
        },
    )?;
    Ok(summary)
}

/// Devices are walked in about this many batches (see [`walk_batches`]).
const BATCHES: usize = 16;

/// Sorts and walks each device's events (`order`, cut by `runs`) in parallel, a batch of devices
/// (about `1 / BATCHES` of the events) at a time, and hands each batch's timelines, each with
/// what `visit` made of the device after its walk, in device order, to `merge`, which runs on
/// one thread while the next batch is walked. Stops at the first error of `merge`.
fn walk_batches<X: Send, E: Send>(
    events: &[Event],
    order: &mut [u32],
    runs: &[(usize, usize)],
    visit: impl Fn(&[u32], &DeviceTimeline) -> X + Sync,
    mut merge: impl FnMut(Vec<(DeviceTimeline, X)>) -> Result<(), E> + Send,
) -> Result<(), E> {
    let mut slices: Vec<&mut [u32]> = Vec::with_capacity(runs.len());
    let mut rest = order;
    for &(start, end) in runs {
        let (slice, tail) = rest.split_at_mut(end - start);
        slices.push(slice);
        rest = tail;
    }
    let batch_events = (events.len() / BATCHES).max(1 << 16);
    let mut slices = slices.into_iter().peekable();
    let mut walked: Vec<(DeviceTimeline, X)> = Vec::new();
    while slices.peek().is_some() || !walked.is_empty() {
        let mut batch = Vec::new();
        let mut size = 0;
        while size < batch_events
            && let Some(slice) = slices.next()
        {
            size += slice.len();
            batch.push(slice);
        }
        let previous = std::mem::take(&mut walked);
        let (next, merged) = rayon::join(
            || {
                batch
                    .into_par_iter()
                    .map(|slice| {
                        sort_device(events, slice);
                        let timeline = walk::walk(events, slice);
                        let visited = visit(slice, &timeline);
                        (timeline, visited)
                    })
                    .collect()
            },
            || if previous.is_empty() { Ok(()) } else { merge(previous) },
        );
        merged?;
        walked = next;
    }
    Ok(())
}

/// Sorts one device's events (`slice`, indexes into `events`) into timeline order
/// ([`cmp_in_device`]). The times are gathered first, in one pass whose loads overlap, and
/// compared in a compact buffer; only equal times compare the events.
fn sort_device(events: &[Event], slice: &mut [u32]) {
    // The walk then reads each event's kind, which can sit on another cache line than its time
    // (an event is 72 bytes): both are loaded here, where the loads of all the device's events
    // overlap, instead of one miss at a time in the walk (half its time).
    let mut kinds = 0_u8;
    let mut keyed: Vec<(i64, u32)> = slice
        .iter()
        .map(|&idx| {
            let event = &events[idx as usize];
            kinds ^= event.operation as u8 ^ event.level as u8 ^ u8::from(event.had_copies);
            (event.time.0, idx)
        })
        .collect();
    std::hint::black_box(kinds);
    if keyed.is_sorted_by(|a, b| a.0 < b.0) {
        return;
    }
    let less = |a: &(i64, u32), b: &(i64, u32)| {
        a.0 < b.0 || (a.0 == b.0 && cmp_in_device(events, a.1, b.1) == Ordering::Less)
    };
    if !sort_nearly_sorted(&mut keyed, less) {
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| cmp_in_device(events, a.1, b.1)));
    }
    for (to, (_, idx)) in slice.iter_mut().zip(keyed) {
        *to = idx;
    }
}

/// Moves one device's timeline into the table: its sessions, the roles of its events (session
/// numbers shifted to the table's) and its counts.
fn add_device(table: &mut SessionTable, timeline: DeviceTimeline) {
    let offset = table.sessions.len() as u32;
    table.device_sessions.push(offset);
    count_timeline(&mut table.summary, &timeline);
    for (event_idx, role) in timeline.roles {
        let shift = |s: u32| s + offset;
        table.roles[event_idx as usize] = match role {
            EventRole::Opened(s) => EventRole::Opened(shift(s)),
            EventRole::Ended(s) => EventRole::Ended(shift(s)),
            EventRole::MergedEnd(s) => EventRole::MergedEnd(shift(s)),
            EventRole::FailedConnect { next_session } => {
                EventRole::FailedConnect { next_session: next_session.map(shift) }
            }
        };
    }
    table.sessions.extend(timeline.sessions);
}

/// Adds one device's timeline to the counts.
fn count_timeline(summary: &mut SessionSummary, timeline: &DeviceTimeline) {
    for (_, role) in &timeline.roles {
        if let EventRole::FailedConnect { next_session } = role {
            summary.failed_connects += 1;
            if next_session.is_none() {
                summary.trailing_failed_connects += 1;
            }
        }
    }
    summary.reordered_events += timeline.reordered_events;
    summary.lost_disconnects += timeline.lost_disconnects;
    for session in &timeline.sessions {
        count_session(summary, session);
    }
}

fn count_session(summary: &mut SessionSummary, session: &Session) {
    summary.sessions += 1;
    let repaired = session.repaired;
    if session.connect_time.is_none() {
        summary.missing_connect += 1;
        if session.session_id == 0 {
            summary.open_at_start += 1;
        } else {
            summary.lost_connects += 1;
        }
    }
    if repaired.contains(Repairs::MISSING_DISCONNECT) {
        summary.missing_disconnect += 1;
    }
    if session.disconnect_time.is_none() {
        summary.open_at_end += 1;
    }
    summary.overlaps += u64::from(session.overlap);
    summary.merged_ends += u64::from(repaired.contains(Repairs::MERGED_END));
    summary.reordered_sessions += u64::from(repaired.contains(Repairs::REORDERED));
    summary.duplicate_dropped += u64::from(repaired.contains(Repairs::DUPLICATE_DROPPED));
    summary.subject_mismatch += u64::from(repaired.contains(Repairs::SUBJECT_MISMATCH));
}

/// Sorts `items` by `less` (a strict total order) with an insertion sort, for the usual input:
/// already sorted but for a few neighbours (a log in time order whose same-second records come
/// in another order than the timeline's, a few late records). Gives up, returning `false` with
/// `items` permuted, after more than a few moves per item: the caller then sorts it in full.
/// (pdqsort spent 90 instructions an event sorting such nearly sorted devices.)
pub(crate) fn sort_nearly_sorted<T: Copy>(items: &mut [T], less: impl Fn(&T, &T) -> bool) -> bool {
    let mut budget = 4 * items.len() + 64;
    for i in 1..items.len() {
        let item = items[i];
        let mut j = i;
        while j > 0 && less(&item, &items[j - 1]) {
            if budget == 0 {
                items[j] = item;
                return false;
            }
            items[j] = items[j - 1];
            j -= 1;
            budget -= 1;
        }
        items[j] = item;
    }
    true
}

/// The order of two events of one device: [`cmp_timeline`], then the input position.
fn cmp_in_device(events: &[Event], x: u32, y: u32) -> Ordering {
    let (a, b) = (&events[x as usize], &events[y as usize]);
    cmp_timeline(a, b)
        .then_with(|| a.source.cmp(&b.source))
        .then_with(|| a.source_line.cmp(&b.source_line))
        .then_with(|| x.cmp(&y))
}

/// Whether `event` is a successful connect.
pub(crate) fn is_connect(event: &Event) -> bool {
    event.operation == Operation::Connect && !event.level.is_error()
}
