//! Per-device context of each classified record: session age, what follows, what came before.
//!
//! Each device's records are put in time order ([`device_order`]) and walked a few times; devices
//! are independent, so the classifier processes them in parallel and the result does not depend
//! on the thread count.

use dropscope_model::{Event, Level, Operation};

use crate::classify::ClassifyConfig;
use crate::classify::codes;
use crate::evaluate::is_classified;
use crate::sdk::sdk_family;

/// What the device's own history says around one classified record.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Context<'a> {
    /// The device number ([`crate::partition::Partition`]).
    pub(crate) device: usize,
    /// Time since the device's last successful connect, when one was seen.
    pub(crate) age: Option<i64>,
    /// Time until the device's next successful connect, when one was seen.
    pub(crate) reconnect: Option<i64>,
    /// Failed connects with an auth code between this record and the next successful connect.
    pub(crate) auth_failures_after: u32,
    /// For a failed auth connect: the length of its run of failed auth connects.
    pub(crate) auth_run: u32,
    /// A successful connect follows this record.
    pub(crate) success_after: bool,
    /// Time until the device's next record of any kind, when one follows.
    pub(crate) next_record: Option<i64>,
    /// For a 404104: a 401003 of the same connection within the pair window.
    pub(crate) paired_expiry: Option<usize>,
    /// Another (non-conflict) error of the device shortly before.
    pub(crate) prior_error: bool,
    /// Conflict disconnects (400027/409002) of the device within the conflict window.
    pub(crate) conflicts_near: u32,
    /// The device's connects within the conflict window alternate between IPs or SDKs.
    pub(crate) alternating: bool,
    /// The masked IP of the record, else of the last connect.
    pub(crate) ip: Option<&'a str>,
    /// The SDK family ([`sdk_family`]) of the last connect.
    pub(crate) sdk: Option<&'a str>,
    /// The protocol of the record or of the last connect.
    pub(crate) protocol: Option<&'a str>,
}

/// One device's events (`run`, indexes into `events`, in any order) in the classifier's time
/// order. Within one timestamp a disconnect goes before a connect: whole-second stamps put a
/// renewal's reconnect in the second of its disconnect, and an export out of order would
/// otherwise make a session of age zero. Ties keep input order.
pub(crate) fn device_order(events: &[Event], run: &[u32]) -> Vec<usize> {
    let key = |idx: usize| {
        let event = &events[idx];
        (event.time, event.operation != Operation::Disconnect, idx)
    };
    let mut order: Vec<usize> = run.iter().map(|&idx| idx as usize).collect();
    // The run is in input or timeline order: nearly sorted by this key already.
    if !crate::sessions::sort_nearly_sorted(&mut order, |&a, &b| key(a) < key(b)) {
        order.sort_unstable_by_key(|&idx| key(idx));
    }
    order
}

fn is_success(event: &Event) -> bool {
    event.operation == Operation::Connect && !event.level.is_error()
}

fn is_auth_failed_connect(event: &Event) -> bool {
    event.is_failed_connect() && event.code().is_some_and(codes::is_auth)
}

/// What a walk of [`device_contexts`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// Every classified record's whole context: what round 3 decides from.
    Full,
    /// Only the records that may be renewal samples
    /// ([`renewal_candidate`]), with the fields a sample reads (age,
    /// reconnect, auth failures after, SDK family, protocol): round 1, which learns from the
    /// samples alone, skips the conflict and pairing look-arounds.
    RenewalSamples,
}

/// The context of each classified record of one device (`order`: its events in
/// [`device_order`]), or of its possible renewal samples only ([`Walk`]).
pub(crate) fn device_contexts<'a>(
    events: &'a [Event],
    device: usize,
    order: &[usize],
    config: &ClassifyConfig,
    walk: Walk,
) -> Vec<(usize, Context<'a>)> {
    let n = order.len();
    let ev = |pos: usize| &events[order[pos]];
    let time = |pos: usize| events[order[pos]].time.nanos();

    // Backward pass: next success, auth failures until it, backward run of auth failures.
    // A disconnect before the next success (other than the 404104 completing a 401003) means the
    // export lost that connect: the reconnect delay is then unknown.
    let mut next_success = vec![None; n];
    let mut auth_after = vec![0_u32; n];
    let mut run_back = vec![0_u32; n];
    let mut next: Option<i64> = None;
    let mut next_end: Option<i64> = None;
    let mut count = 0_u32;
    let mut run = 0_u32;
    let full = walk == Walk::Full;
    // The records the walk gives a context, and the successful connects, counted while the
    // records are in cache, so that both lists are allocated once at their size: grown a push
    // at a time, each list was copied as it doubled, in both rounds (the contexts are about
    // 140 bytes each).
    let (mut wanted, mut successes) = (0, 0);
    for pos in (0..n).rev() {
        let event = ev(pos);
        let t = time(pos);
        wanted += usize::from(is_classified(event) && (full || renewal_candidate(event)));
        successes += usize::from(is_success(event));
        next_success[pos] = match next_end {
            Some(end) if end - t > config.pair_window => None,
            _ => next,
        };
        auth_after[pos] = count;
        if event.operation == Operation::Disconnect {
            next_end = Some(t);
        }
        if is_success(event) {
            next = Some(t);
            next_end = None;
            count = 0;
            run = 0;
        } else if is_auth_failed_connect(event) {
            count += 1;
            run += 1;
            run_back[pos] = run;
        }
    }

    let conflict_times: Vec<i64> = (0..n)
        .filter(|_| full)
        .filter(|&pos| {
            ev(pos).operation == Operation::Disconnect
                && ev(pos).code().is_some_and(codes::is_conflict)
        })
        .map(time)
        .collect();
    let mut connects: Vec<(i64, Option<&str>, Option<&str>)> =
        Vec::with_capacity(if full { successes } else { 0 });
    connects.extend(
        (0..n)
            .filter(|&pos| full && is_success(ev(pos)))
            .map(|pos| (time(pos), ev(pos).masked_ip.as_deref(), ev(pos).sdk_version.as_deref())),
    );

    // Before the device's first connect in the window, its first connect says which SDK and
    // network it uses.
    let first_connect = (0..n).find(|&pos| is_success(ev(pos)));
    // The SDK family of a connect's user agent, parsed once per connect, not per record.
    let family_of =
        |pos: Option<usize>| pos.and_then(|c| ev(c).sdk_version.as_deref()).map(sdk_family);
    let mut connect_family = family_of(first_connect);
    let mut out = Vec::with_capacity(wanted);
    let mut last_connect: Option<usize> = None;
    // The last disconnect since the last connect: a second one (not the 404104 completing a
    // 401003) means the export lost the connect between them, which renewals make within
    // seconds, so the session's age is counted from that disconnect.
    let mut last_end: Option<i64> = None;
    let mut run_forward = 0_u32;
    // The time of the device's last error so far that is neither a conflict nor a success
    // ([`Context::prior_error`]): the records are in time order, so an error within the window
    // exists exactly when the last one is within it.
    let mut last_error: Option<i64> = None;
    for pos in 0..n {
        let event = ev(pos);
        let t = time(pos);
        if is_success(event) {
            last_connect = Some(pos);
            connect_family = family_of(last_connect);
            last_end = None;
            run_forward = 0;
            continue;
        }
        if is_auth_failed_connect(event) {
            run_forward += 1;
        }
        let prior_error = last_error.is_some_and(|e| t - e <= config.prior_error_window);
        if event.level.is_error() && !event.code().is_some_and(codes::is_conflict) {
            last_error = Some(t);
        }
        if !is_classified(event) {
            continue;
        }
        if !full && !renewal_candidate(event) {
            if event.operation == Operation::Disconnect {
                last_end = Some(t);
            }
            continue;
        }
        let connect = last_connect.or(first_connect).map(ev);
        let mut context = Context {
            device,
            age: match last_end {
                Some(end)
                    if event.operation == Operation::Disconnect && t - end > config.pair_window =>
                {
                    Some(t - end)
                }
                _ => last_connect.map(|c| t - time(c)),
            },
            reconnect: next_success[pos].map(|s| s - t),
            auth_failures_after: auth_after[pos],
            auth_run: if is_auth_failed_connect(event) {
                run_forward + run_back[pos] - 1
            } else {
                0
            },
            success_after: next_success[pos].is_some(),
            next_record: (pos + 1 < n).then(|| time(pos + 1) - t),
            ip: event.masked_ip.as_deref().or(connect.and_then(|c| c.masked_ip.as_deref())),
            sdk: connect_family.or_else(|| event.sdk_version.as_deref().map(sdk_family)),
            protocol: event.protocol.as_deref().or(connect.and_then(|c| c.protocol.as_deref())),
            ..Context::default()
        };
        if event.code() == Some(codes::DEVICE_CONNECTION_CLOSED_REMOTELY) {
            context.paired_expiry = paired_expiry(events, order, pos, config.pair_window);
        }
        context.prior_error = prior_error;
        if event.code().is_some_and(codes::is_conflict) {
            let lo = conflict_times.partition_point(|&c| c < t - config.conflict_window);
            let hi = conflict_times.partition_point(|&c| c <= t + config.conflict_window);
            context.conflicts_near = (hi - lo) as u32;
            let lo = connects.partition_point(|c| c.0 < t - config.conflict_window);
            let hi = connects.partition_point(|c| c.0 <= t + config.conflict_window);
            // Cellular carriers hand a device a new address at each reconnect, so addresses
            // alone alternate for one client too: they count only with repeated conflicts.
            let near = &connects[lo..hi];
            context.alternating = if context.conflicts_near >= 2 {
                alternates_by(near, |c| (c.1, c.2))
            } else {
                alternates_by(near, |c| c.2)
            };
        }
        if event.operation == Operation::Disconnect {
            last_end = Some(t);
        }
        out.push((order[pos], context));
    }
    out
}

/// A 401003 disconnect of the same connection within `window` of the 404104 at `pos`: no
/// successful connect between them.
fn paired_expiry(events: &[Event], order: &[usize], pos: usize, window: i64) -> Option<usize> {
    let t = events[order[pos]].time.nanos();
    let is_expiry = |event: &Event| {
        event.operation == Operation::Disconnect && event.code().is_some_and(codes::is_auth)
    };
    let backward = (0..pos).rev().map(|p| order[p]);
    let forward = (pos + 1..order.len()).map(|p| order[p]);
    for idx in backward {
        let event = &events[idx];
        if t - event.time.nanos() > window || is_success(event) {
            break;
        }
        if is_expiry(event) {
            return Some(idx);
        }
    }
    // Whole-second timestamps can put the 401003 after the 404104 in the same second.
    for idx in forward {
        let event = &events[idx];
        if event.time.nanos() - t > window.min(1_000_000_000) || is_success(event) {
            break;
        }
        if is_expiry(event) {
            return Some(idx);
        }
    }
    None
}

/// Two or more clients on one identity: the connects' keys (their (IP, SDK) pairs, or SDKs)
/// switch at least twice and come back to one seen before (A, B, A), which one device moving
/// networks does not, or switch three times. Looks at the keys in place, without collecting them:
/// a device whose two clients kick each other out has hundreds of connects within a window.
fn alternates_by<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> bool {
    let mut switches = 0;
    for (at, item) in items.iter().enumerate().skip(1) {
        let (current, before) = (key(item), key(&items[at - 1]));
        if current != before {
            switches += 1;
            if at >= 2 && current == key(&items[at - 2]) {
                return true;
            }
        }
    }
    switches >= 3
}

/// Whether `event` may be a renewal sample (`classify/lifetime.rs`), whatever its context: a
/// disconnect with the hub's expiry code (401003) or an informational one without a code.
pub(crate) fn renewal_candidate(event: &Event) -> bool {
    event.operation == Operation::Disconnect
        && match event.code() {
            Some(code) => code == codes::IOTHUB_UNAUTHORIZED,
            None => is_informational(event),
        }
}

/// Whether the record is at level Information or Warning (no error).
pub(crate) fn is_informational(event: &Event) -> bool {
    matches!(event.level, Level::Information | Level::Warning)
}

/// Whether the record is a bare connection-state change: an Event Grid or CloudEvents
/// `DeviceConnected`/`DeviceDisconnected`, or a routed `DeviceConnectionStateEvents` message.
/// These forms carry a sequence number and no error code, protocol or IP (the Event Grid IoT Hub
/// schema and the non-telemetry event schema, docs/research/iothub-logs.md §2.1, §2.3); the resource
/// logs carry no sequence number, so their records never take this path.
pub(crate) fn is_state_change(event: &Event) -> bool {
    event.seq.is_some() && event.code().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(keys: &[(&str, &str)], expected: bool) {
        let connects: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, (ip, sdk))| (i as i64, Some(*ip), Some(*sdk)))
            .collect();
        assert_eq!(alternates_by(&connects, |c| (c.1, c.2)), expected, "{keys:?}");
    }

    #[test]
    fn alternation_needs_a_return() {
        check(&[("1.2.3.XXX", "C"), ("1.2.3.XXX", "C")], false);
        check(&[("1.2.3.XXX", "C"), ("5.6.7.XXX", "C"), ("5.6.7.XXX", "C")], false);
        check(&[("1.2.3.XXX", "C"), ("5.6.7.XXX", "C"), ("1.2.3.XXX", "C")], true);
        check(&[("1.2.3.XXX", "C"), ("1.2.3.XXX", ".NET"), ("1.2.3.XXX", "C")], true);
    }
}
