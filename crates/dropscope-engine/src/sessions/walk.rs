//! The walk over one device's ordered events that rebuilds its sessions (see [`crate::sessions`]).

use dropscope_model::{Event, Nullable, Operation, Repairs, Session};
use smallvec::SmallVec;

use crate::sessions::{
    CONFLICT_CODES, EventRole, MERGE_WINDOW_NS, OVERLAP_WINDOW_NS, is_connect, same_tie,
    sort_nearly_sorted,
};

/// One device's sessions (with device-local session numbers) and the role of each of its events.
pub(crate) struct DeviceTimeline {
    pub(crate) sessions: Vec<Session>,
    /// `(event index, role)`, session numbers local to the device.
    pub(crate) roles: Vec<(u32, EventRole)>,
    pub(crate) reordered_events: u64,
    pub(crate) lost_disconnects: u64,
}

/// The end of the last closed session, while nothing else has happened since.
#[derive(Clone, Copy)]
struct LastEnd {
    session: usize,
    code: Option<u32>,
    time: i64,
}

struct Walker<'a> {
    events: &'a [Event],
    /// The device's events in `(time, seq, content)` order.
    order: &'a [u32],
    /// Per position in `order`: whether the event arrived after a later event of the device.
    late: Vec<bool>,
    /// Per position in `order`: already assigned by a look-ahead (an overlap's end).
    consumed: Vec<bool>,
    out: DeviceTimeline,
    open: Option<usize>,
    /// The previous session's end time, when known (for `gap_before`).
    prev_end: Option<i64>,
    /// The last closed session's end, cleared by any later event (for merging ends).
    last_end: Option<LastEnd>,
    /// Failed connects (positions) waiting for the next session.
    pending_failed: Vec<usize>,
}

/// Rebuilds the sessions of one device from its events `order` (indexes into `events`), sorted by
/// `(time, seq, content)`.
pub(crate) fn walk(events: &[Event], order: &[u32]) -> DeviceTimeline {
    let late = late_positions(events, order);
    let reordered_events = late.iter().filter(|&&l| l).count() as u64;
    let mut walker = Walker {
        events,
        order,
        late,
        consumed: vec![false; order.len()],
        out: DeviceTimeline {
            // A session takes a connect and usually a disconnect: one allocation, seldom two.
            sessions: Vec::with_capacity(order.len() / 2 + 1),
            roles: Vec::with_capacity(order.len()),
            reordered_events,
            lost_disconnects: 0,
        },
        open: None,
        prev_end: None,
        last_end: None,
        pending_failed: Vec::new(),
    };
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && same_tie(walker.event(start), walker.event(end)) {
            end += 1;
        }
        walker.group(start, end);
        start = end;
    }
    walker.finish()
}

/// Marks the positions whose event came later in the input than an event of the same device with
/// a later time.
fn late_positions(events: &[Event], order: &[u32]) -> Vec<bool> {
    let mut by_input: Vec<usize> = (0..order.len()).collect();
    // Nearly always nearly in input order already.
    if !sort_nearly_sorted(&mut by_input, |&a, &b| order[a] < order[b]) {
        by_input.sort_unstable_by_key(|&pos| order[pos]);
    }
    let mut late = vec![false; order.len()];
    let mut max_time = None;
    for pos in by_input {
        let time = events[order[pos] as usize].time;
        if max_time.is_some_and(|max| time < max) {
            late[pos] = true;
        } else {
            max_time = Some(time);
        }
    }
    late
}

impl Walker<'_> {
    fn event(&self, pos: usize) -> &Event {
        &self.events[self.order[pos] as usize]
    }

    /// Splits the unconsumed events at positions `start..end` by kind.
    fn split(&self, start: usize, end: usize) -> TieGroup {
        // Each field built, not `..TieGroup::default()`: that one was built on the stack and
        // copied over, and the copy's loads waited on the stores (a tenth of the walk).
        let mut group = TieGroup {
            disconnects: Positions::new(),
            failed: Positions::new(),
            connects: Positions::new(),
            end,
        };
        for pos in start..end {
            if self.consumed[pos] {
                continue;
            }
            let event = self.event(pos);
            if event.operation == Operation::Disconnect {
                group.disconnects.push(pos);
            } else if is_connect(event) {
                group.connects.push(pos);
            } else {
                group.failed.push(pos);
            }
        }
        group
    }

    /// Emits one tie group in the order that needs the fewest repairs
    /// (see [`Walker::prefers_disconnect`]).
    fn group(&mut self, start: usize, end: usize) {
        let group = self.split(start, end);
        let disconnect_first = self.prefers_disconnect(&group);
        run_group(self, &group, disconnect_first);
    }

    /// Whether, with no session open, the group's disconnects should come before its connects.
    ///
    /// While a session is open the order is fixed: disconnects first (closing the open session
    /// costs nothing, a connect while open is a repair). With none open there are two readings of
    /// a group holding both: connect first (a short session) or disconnect first (the end of a
    /// session whose connect is not in the log, then a new one). Each reading is walked on a copy
    /// of the state, followed by the next group holding a connect or disconnect walked its
    /// cheaper way, and the one with fewer repairs wins; connect first on a tie. Costs:
    /// a disconnect with nothing open, except before the device's first session (the window
    /// opened mid-session); a connect while a session is open, unless a conflict disconnect
    /// marks an overlap; and a `400027`/`409002` disconnect ending a session opened in the same
    /// instant with no connect after it in that instant (the conflicting connection is missing).
    fn prefers_disconnect(&self, group: &TieGroup) -> bool {
        if self.open.is_some() || group.disconnects.is_empty() || group.connects.is_empty() {
            return false;
        }
        let before = SimState {
            is_open: false,
            open: None,
            last_end: self.last_end.map(|last| (last.code, last.time)),
            started: !self.out.sessions.is_empty(),
            cost: 0,
            orphan_conflict: false,
        };
        let next = self.next_group(group.end, i64::MAX);
        let total = |disconnect_first: bool| {
            let after = simulate(self, before, group, disconnect_first);
            let next_cost = next.as_ref().map_or(0, |next| {
                let reset = SimState { cost: 0, ..after };
                let connect_first = simulate(self, reset, next, false).cost;
                connect_first.min(simulate(self, reset, next, true).cost)
            });
            after.cost + next_cost
        };
        total(true) < total(false)
    }

    /// The first tie group at or after `from` that holds a connect or a disconnect, if it is at
    /// or before the time `until`.
    fn next_group(&self, from: usize, until: i64) -> Option<TieGroup> {
        let mut start = from;
        while start < self.order.len() && self.event(start).time.0 <= until {
            let mut end = start + 1;
            while end < self.order.len() && same_tie(self.event(start), self.event(end)) {
                end += 1;
            }
            let group = self.split(start, end);
            if !group.disconnects.is_empty() || !group.connects.is_empty() {
                return Some(group);
            }
            start = end;
        }
        None
    }

    fn failed_connect(&mut self, pos: usize) {
        self.last_end = None;
        self.pending_failed.push(pos);
    }

    fn connect(&mut self, pos: usize, group_end: usize) {
        let time = self.event(pos).time.0;
        let mut overlap = false;
        let mut gap = self.prev_end.map(|prev| time - prev);
        if let Some(last) = self.last_end
            && last.time == time
            && last.code.is_some_and(|c| CONFLICT_CODES.contains(&c))
        {
            overlap = true;
            gap = Some(0);
        }
        if let Some(open) = self.open.take() {
            if let Some(end_pos) = self.overlap_end(time, group_end) {
                self.consumed[end_pos] = true;
                self.close(open, end_pos);
                overlap = true;
                gap = Some(0);
            } else {
                // The disconnect was lost: the session ended by this connect at the latest.
                let session = &mut self.out.sessions[open];
                session.disconnect_time = Some(self.events[self.order[pos] as usize].time).into();
                session.repaired.insert(Repairs::MISSING_DISCONNECT);
                self.out.lost_disconnects += 1;
                gap = None;
            }
        }
        self.last_end = None;
        let event = self.event(pos);
        let session_idx = self.out.sessions.len();
        let mut session = new_session(event, session_idx as u32);
        session.connect_time = Some(event.time).into();
        session.gap_before_ns = gap.into();
        session.overlap = overlap;
        self.out.sessions.push(session);
        self.assign(pos, EventRole::Opened(session_idx as u32), session_idx);
        self.take_pending(session_idx);
        self.open = Some(session_idx);
    }

    /// Looks ahead, from `group_end`, for a conflict disconnect (400027/409002) that ends the
    /// open session because the connect at `time` opened a second connection, within
    /// [`OVERLAP_WINDOW_NS`]. Only the first later tie group holding a connect or a disconnect
    /// is searched, and a conflict disconnect there is taken only when the group holds more of
    /// them than connects: a conflict disconnect in the same instant as a connect is that
    /// connect's own kick-out of the connection before it. Taking it anyway would pair every
    /// later connect of a duplicate-identity chain with the wrong end once one record is lost.
    fn overlap_end(&self, time: i64, group_end: usize) -> Option<usize> {
        let group = self.next_group(group_end, time.saturating_add(OVERLAP_WINDOW_NS))?;
        let conflicts: Positions =
            group.disconnects.iter().copied().filter(|&pos| is_conflict(self.event(pos))).collect();
        let first = *conflicts.first()?;
        (conflicts.len() > group.connects.len()).then_some(first)
    }

    fn disconnect(&mut self, pos: usize) {
        if let Some(open) = self.open.take() {
            self.close(open, pos);
            return;
        }
        if self.merges(pos) {
            if let Some(last) = self.last_end.take() {
                self.out.sessions[last.session].repaired.insert(Repairs::MERGED_END);
                self.assign(pos, EventRole::MergedEnd(last.session as u32), last.session);
            }
            return;
        }
        // No connect before it: the window opened mid-session, or the connect was lost.
        let event = self.event(pos);
        let session_idx = self.out.sessions.len();
        let mut session = new_session(event, session_idx as u32);
        session.repaired.insert(Repairs::MISSING_CONNECT);
        self.out.sessions.push(session);
        self.take_pending(session_idx);
        self.close(session_idx, pos);
    }

    /// Whether the disconnect at `pos` is the second record of the last session's end.
    fn merges(&self, pos: usize) -> bool {
        let Some(last) = self.last_end else { return false };
        self.open.is_none()
            && token_pair(last.code, last.time, self.event(pos))
            && !self.out.sessions[last.session].repaired.contains(Repairs::MERGED_END)
    }

    /// Ends session `session_idx` with the disconnect at `pos`.
    fn close(&mut self, session_idx: usize, pos: usize) {
        let event = &self.events[self.order[pos] as usize];
        let session = &mut self.out.sessions[session_idx];
        session.disconnect_time = Some(event.time).into();
        session.end_result_type = event.code();
        session.end_level = Some(event.level);
        if session.protocol.is_none() {
            session.protocol.clone_from(&event.protocol);
        }
        if session.masked_ip.is_none() {
            session.masked_ip.clone_from(&event.masked_ip);
        }
        self.prev_end = Some(event.time.0);
        self.last_end =
            Some(LastEnd { session: session_idx, code: event.code(), time: event.time.0 });
        self.assign(pos, EventRole::Ended(session_idx as u32), session_idx);
    }

    /// Counts the waiting failed connects into session `session_idx`.
    fn take_pending(&mut self, session_idx: usize) {
        let pending = std::mem::take(&mut self.pending_failed);
        self.out.sessions[session_idx].failed_connects_before = pending.len() as u32;
        for pos in pending {
            let role = EventRole::FailedConnect { next_session: Some(session_idx as u32) };
            self.assign(pos, role, session_idx);
        }
    }

    fn assign(&mut self, pos: usize, role: EventRole, session_idx: usize) {
        if self.late[pos] {
            self.out.sessions[session_idx].repaired.insert(Repairs::REORDERED);
        }
        if self.event(pos).had_copies {
            self.out.sessions[session_idx].repaired.insert(Repairs::DUPLICATE_DROPPED);
        }
        if self.event(pos).subject_mismatch {
            self.out.sessions[session_idx].repaired.insert(Repairs::SUBJECT_MISMATCH);
        }
        self.out.roles.push((self.order[pos], role));
    }

    fn finish(mut self) -> DeviceTimeline {
        if let Some(open) = self.open.take() {
            self.out.sessions[open].repaired.insert(Repairs::MISSING_DISCONNECT);
        }
        for pos in std::mem::take(&mut self.pending_failed) {
            self.out.roles.push((self.order[pos], EventRole::FailedConnect { next_session: None }));
        }
        self.out
    }
}

/// Whether `event` is a disconnect closing a connection because another one opened.
fn is_conflict(event: &Event) -> bool {
    event.operation == Operation::Disconnect
        && event.code().is_some_and(|c| CONFLICT_CODES.contains(&c))
}

/// Whether the disconnect `event` is the second record (`401003`/`404104`) of a session end whose
/// first record had `first_code` at `first_time`.
fn token_pair(first_code: Option<u32>, first_time: i64, event: &Event) -> bool {
    const TOKEN_END: [u32; 2] = [401_003, 404_104];
    let (Some(first), Some(second)) = (first_code, event.code()) else { return false };
    event.operation == Operation::Disconnect
        && first != second
        && TOKEN_END.contains(&first)
        && TOKEN_END.contains(&second)
        && (0..=MERGE_WINDOW_NS).contains(&(event.time.0 - first_time))
}

/// The unconsumed events of one tie group by kind (positions in the device's order), and the
/// position after the group.
struct TieGroup {
    disconnects: Positions,
    failed: Positions,
    connects: Positions,
    end: usize,
}

/// Positions of one kind in a tie group: nearly always none or one, so held inline (a
/// heap allocation per group was a tenth of the rebuilding time).
type Positions = SmallVec<[usize; 2]>;

/// The steps a tie group is walked with: the real walk, or a simulation counting repairs.
trait Steps {
    fn is_open(&self) -> bool;
    fn merges(&self, pos: usize) -> bool;
    fn disconnect(&mut self, pos: usize);
    fn failed_connect(&mut self, pos: usize);
    fn connect(&mut self, pos: usize, group_end: usize);
}

/// Walks one tie group: while a session is open its disconnects first (with the second record of
/// a token-expiry end right after the first), then failed connects, then connects; while none is
/// open, failed connects, then connects, then disconnects, or disconnects first when
/// `disconnect_first`.
fn run_group(steps: &mut impl Steps, group: &TieGroup, disconnect_first: bool) {
    let mut disconnects = group.disconnects.iter().copied().peekable();
    let mut failed = group.failed.iter().copied();
    let mut connects = group.connects.iter().copied();
    loop {
        if steps.is_open() {
            if let Some(pos) = disconnects.next() {
                steps.disconnect(pos);
                // The second record of a token-expiry end in the same second belongs here.
                while let Some(&next) = disconnects.peek() {
                    if !steps.merges(next) {
                        break;
                    }
                    steps.disconnect(next);
                    disconnects.next();
                }
            } else if let Some(pos) = failed.next() {
                steps.failed_connect(pos);
            } else if let Some(pos) = connects.next() {
                steps.connect(pos, group.end);
            } else {
                break;
            }
        } else if let Some(pos) = disconnects.next_if(|_| disconnect_first) {
            steps.disconnect(pos);
        } else if let Some(pos) = failed.next() {
            steps.failed_connect(pos);
        } else if let Some(pos) = connects.next() {
            steps.connect(pos, group.end);
        } else if let Some(pos) = disconnects.next() {
            steps.disconnect(pos);
        } else {
            break;
        }
    }
}

impl Steps for Walker<'_> {
    fn is_open(&self) -> bool {
        self.open.is_some()
    }

    fn merges(&self, pos: usize) -> bool {
        Walker::merges(self, pos)
    }

    fn disconnect(&mut self, pos: usize) {
        Walker::disconnect(self, pos);
    }

    fn failed_connect(&mut self, pos: usize) {
        Walker::failed_connect(self, pos);
    }

    fn connect(&mut self, pos: usize, group_end: usize) {
        Walker::connect(self, pos, group_end);
    }
}

/// The part of the walk's state a tie group's order depends on, and the repairs counted so far.
#[derive(Clone, Copy)]
struct SimState {
    is_open: bool,
    /// The open session's connect time.
    open: Option<i64>,
    /// The last closed session's end `(code, time)`, while nothing else has happened since.
    last_end: Option<(Option<u32>, i64)>,
    /// Whether the device has a session yet.
    started: bool,
    cost: u32,
    /// A conflict disconnect ended a session opened in the same instant, and no connect of that
    /// instant has followed yet.
    orphan_conflict: bool,
}

/// A dry run of the walk over one tie group, on a copy of its state.
struct Sim<'w, 'a> {
    walker: &'w Walker<'a>,
    state: SimState,
}

/// Walks `group` in the order `disconnect_first` gives from `state`, returning the state after it
/// with the repairs it needed added to `cost`.
fn simulate(
    walker: &Walker<'_>,
    state: SimState,
    group: &TieGroup,
    disconnect_first: bool,
) -> SimState {
    let mut sim = Sim { walker, state };
    run_group(&mut sim, group, disconnect_first);
    let mut state = sim.state;
    if state.orphan_conflict {
        state.cost += 1;
        state.orphan_conflict = false;
    }
    state
}

impl Steps for Sim<'_, '_> {
    fn is_open(&self) -> bool {
        self.state.is_open
    }

    fn merges(&self, pos: usize) -> bool {
        let Some((code, time)) = self.state.last_end else { return false };
        !self.state.is_open && token_pair(code, time, self.walker.event(pos))
    }

    fn disconnect(&mut self, pos: usize) {
        let event = self.walker.event(pos);
        let merges = self.merges(pos);
        let state = &mut self.state;
        if state.is_open {
            if is_conflict(event) && state.open == Some(event.time.0) {
                state.orphan_conflict = true;
            }
        } else if merges {
            state.last_end = None;
            return;
        } else if state.started {
            // A lost connect; before the device's first session the window opened mid-session.
            state.cost += 1;
        }
        state.is_open = false;
        state.open = None;
        state.started = true;
        state.last_end = Some((event.code(), event.time.0));
    }

    fn failed_connect(&mut self, _pos: usize) {
        self.state.last_end = None;
    }

    fn connect(&mut self, pos: usize, group_end: usize) {
        let time = self.walker.event(pos).time.0;
        let state = &mut self.state;
        if state.is_open && self.walker.overlap_end(time, group_end).is_none() {
            state.cost += 1;
        }
        state.is_open = true;
        state.open = Some(time);
        state.started = true;
        state.last_end = None;
        state.orphan_conflict = false;
    }
}

/// A session of the event's device with the event's protocol, IP and SDK, no times yet.
fn new_session(event: &Event, session_id: u32) -> Session {
    Session {
        hub: event.hub,
        device_id: event.device_id,
        module_id: event.module_id,
        session_id,
        connect_time: Nullable::NULL,
        disconnect_time: Nullable::NULL,
        protocol: event.protocol,
        masked_ip: event.masked_ip,
        sdk_version: event.sdk_version,
        end_result_type: None,
        end_level: None,
        gap_before_ns: Nullable::NULL,
        failed_connects_before: 0,
        overlap: false,
        repaired: Repairs::NONE,
    }
}
