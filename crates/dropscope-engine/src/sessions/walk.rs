//! The walk over one device's ordered events that rebuilds its sessions (see [`crate::sessions`]).

use dropscope_model::{Event, Operation, Repairs, Session};

use crate::sessions::{
    CONFLICT_CODES, EventRole, MERGE_WINDOW_NS, OVERLAP_WINDOW_NS, is_connect, same_tie,
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
            sessions: Vec::new(),
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
    by_input.sort_unstable_by_key(|&pos| order[pos]);
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

    /// Emits one tie group in the order the current state calls for.
    fn group(&mut self, start: usize, end: usize) {
        let mut disconnects = Vec::new();
        let mut failed = Vec::new();
        let mut connects = Vec::new();
        for pos in start..end {
            if self.consumed[pos] {
                continue;
            }
            let event = self.event(pos);
            if event.operation == Operation::Disconnect {
                disconnects.push(pos);
            } else if is_connect(event) {
                connects.push(pos);
            } else {
                failed.push(pos);
            }
        }
        let (mut disconnects, mut failed, mut connects) =
            (disconnects.into_iter().peekable(), failed.into_iter(), connects.into_iter());
        loop {
            if self.open.is_some() {
                if let Some(pos) = disconnects.next() {
                    self.disconnect(pos);
                    // The second record of a token-expiry end in the same second belongs here.
                    while let Some(&next) = disconnects.peek() {
                        if !self.merges(next) {
                            break;
                        }
                        self.disconnect(next);
                        disconnects.next();
                    }
                } else if let Some(pos) = failed.next() {
                    self.failed_connect(pos);
                } else if let Some(pos) = connects.next() {
                    self.connect(pos, end);
                } else {
                    break;
                }
            } else if let Some(pos) = failed.next() {
                self.failed_connect(pos);
            } else if let Some(pos) = connects.next() {
                self.connect(pos, end);
            } else if let Some(pos) = disconnects.next() {
                self.disconnect(pos);
            } else {
                break;
            }
        }
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
                session.disconnect_time = Some(self.events[self.order[pos] as usize].time);
                session.duration_ns = session.connect_time.map(|c| time - c.0);
                session.repaired.insert(Repairs::MISSING_DISCONNECT);
                self.out.lost_disconnects += 1;
                gap = None;
            }
        }
        self.last_end = None;
        let event = self.event(pos);
        let session_idx = self.out.sessions.len();
        let mut session = new_session(event, session_idx as u32);
        session.connect_time = Some(event.time);
        session.gap_before_ns = gap;
        session.overlap = overlap;
        self.out.sessions.push(session);
        self.assign(pos, EventRole::Opened(session_idx as u32), session_idx);
        self.take_pending(session_idx);
        self.open = Some(session_idx);
    }

    /// Looks ahead, from `group_end`, for a conflict disconnect (400027/409002) that ends the
    /// open session because the connect at `time` opened a second connection. Stops at the first
    /// tie group holding another disconnect or a connect, and after [`OVERLAP_WINDOW_NS`].
    fn overlap_end(&self, time: i64, group_end: usize) -> Option<usize> {
        let mut stop_at: Option<usize> = None;
        for pos in group_end..self.order.len() {
            let event = self.event(pos);
            if let Some(stop) = stop_at
                && !same_tie(self.event(stop), event)
            {
                return None;
            }
            if event.time.0 - time > OVERLAP_WINDOW_NS {
                return None;
            }
            if self.consumed[pos] {
                continue;
            }
            if event.operation == Operation::Disconnect
                && event.result_type.is_some_and(|c| CONFLICT_CODES.contains(&c))
            {
                return Some(pos);
            }
            if event.operation == Operation::Disconnect || is_connect(event) {
                stop_at.get_or_insert(pos);
            }
        }
        None
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
        const TOKEN_END: [u32; 2] = [401_003, 404_104];
        let Some(last) = self.last_end else { return false };
        let event = self.event(pos);
        let (Some(first), Some(second)) = (last.code, event.result_type) else { return false };
        self.open.is_none()
            && event.operation == Operation::Disconnect
            && first != second
            && TOKEN_END.contains(&first)
            && TOKEN_END.contains(&second)
            && (0..=MERGE_WINDOW_NS).contains(&(event.time.0 - last.time))
            && !self.out.sessions[last.session].repaired.contains(Repairs::MERGED_END)
    }

    /// Ends session `session_idx` with the disconnect at `pos`.
    fn close(&mut self, session_idx: usize, pos: usize) {
        let event = &self.events[self.order[pos] as usize];
        let session = &mut self.out.sessions[session_idx];
        session.disconnect_time = Some(event.time);
        session.duration_ns = session.connect_time.map(|c| event.time.0 - c.0);
        session.end_result_type = event.result_type;
        session.end_level = Some(event.level);
        if session.protocol.is_none() {
            session.protocol.clone_from(&event.protocol);
        }
        if session.masked_ip.is_none() {
            session.masked_ip.clone_from(&event.masked_ip);
        }
        self.prev_end = Some(event.time.0);
        self.last_end =
            Some(LastEnd { session: session_idx, code: event.result_type, time: event.time.0 });
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

/// A session of the event's device with the event's protocol, IP and SDK, no times yet.
fn new_session(event: &Event, session_id: u32) -> Session {
    Session {
        hub: event.hub.clone(),
        device_id: event.device_id.clone(),
        module_id: event.module_id.clone(),
        session_id,
        connect_time: None,
        disconnect_time: None,
        duration_ns: None,
        protocol: event.protocol.clone(),
        masked_ip: event.masked_ip.clone(),
        sdk_version: event.sdk_version.clone(),
        end_result_type: None,
        end_level: None,
        gap_before_ns: None,
        failed_connects_before: 0,
        overlap: false,
        repaired: Repairs::NONE,
    }
}
