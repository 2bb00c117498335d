//! Timed incidents that close many connections at once (site outage, hub fault, upgrade), and
//! the hub's admission of their reconnect attempts at the tier's connection-rate limit.
//!
//! Admission is the one place where devices interact, so it runs sequentially over the attempts
//! in time order (ties broken by device and incident index) and is deterministic by
//! construction. Each interruption draws from its own stream keyed by (seed, incident, device).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use dropscope_model::Cause;
use rayon::prelude::*;

use crate::fleet::{Device, tag};
use crate::rng::Rng;
use crate::scenario::{Incident, Scenario};
use crate::sdk::{GIVE_UP_SECS, Sdk};

/// How long the hub's traffic shaping holds a connect in its queue at most: about a minute,
/// "the service implemented timeout for processing connection requests" that the SDKs' 60 s
/// CONNACK timeouts were aligned with (azure-iot-sdk-csharp PR #2042/#2044, issue #2043:
/// "CONNECT requests can have a delay in being acknowledged"). A connect that would wait longer
/// finds the queue full and is refused (iot-hub-devguide-quotas-throttling.md, "Traffic
/// shaping": "eventually the queue fills up, and IoT Hub starts rejecting requests with 429").
const QUEUE_SECS: usize = 60;

/// The burst the hub admits above its limit before it starts queueing: "The first few of these
/// requests are processed immediately" (same doc). Its size is unverified: taken as five
/// seconds' worth of the limit, at most doubling the rate in any one second.
const BURST_SECS: u32 = 5;

/// Once its limit has been violated this long, the hub refuses with 429001 `ThrottlingException`,
/// returned "only after the limit is violated for too long a period"; before it, with 429002
/// `ThrottleBacklogLimitExceeded`, the backlog being full (troubleshoot-error-codes.md §429xxx).
/// Which code a refused connect gets is unverified; the 30 s is a modelling choice.
const SUSTAINED_SECS: f64 = 30.0;

/// The hub's admission state, shared by every attempt in time order.
struct Hub {
    capacity: u32,
    /// Connects accepted in each second of the window.
    accepted: Vec<u32>,
    /// What is left of the burst allowance.
    burst_left: u32,
    /// When the hub first went over its limit (a connect not admitted in its own second).
    first_over: f64,
}

/// What kind of mass closure an interruption is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Outage,
    Fault,
    Upgrade,
}

/// One device's part in one incident: when the hub closes its connection, its failed reconnect
/// attempts, and when it gets back (`f64::INFINITY`: not within the window).
#[derive(Debug, Clone)]
pub(crate) struct Interruption {
    pub(crate) incident: u8,
    pub(crate) kind: Kind,
    pub(crate) close: f64,
    pub(crate) close_code: u32,
    pub(crate) cause: Cause,
    /// For outages: when the device's last packet left before the network went down.
    pub(crate) last_packet: f64,
    pub(crate) attempts: Vec<(f64, u32, Cause)>,
    /// Connects the hub accepted after the client had given up on them (CONNACK timeout) and
    /// retried: each is closed by the next accepted connect.
    pub(crate) ghosts: Vec<f64>,
    pub(crate) connect: f64,
}

struct Pending {
    device: u32,
    sdk: Sdk,
    interruption: Interruption,
    rng: Rng,
    /// The end of the incident's window (faults and upgrades fail retries until then).
    end: f64,
    retry_fail: f64,
    attempt: u32,
    first_attempt: f64,
    /// The time of the attempt to process next.
    next: f64,
}

/// Plans every mass-closure incident. Returns each device's interruptions, sorted by close time.
pub(crate) fn plan(
    scenario: &Scenario,
    seed: u64,
    devices: &[Device],
    window_secs: f64,
) -> Vec<Vec<Interruption>> {
    let per_device: Vec<Vec<Pending>> = devices
        .par_iter()
        .enumerate()
        .map(|(idx, device)| pending_for(scenario, seed, idx as u32, device, window_secs))
        .collect();
    let mut pendings: Vec<Pending> = per_device.into_iter().flatten().collect();

    let capacity = admission_capacity(scenario, devices);
    let mut hub = Hub {
        capacity,
        accepted: vec![0u32; window_secs as usize + QUEUE_SECS + 2],
        burst_left: capacity.saturating_mul(BURST_SECS),
        first_over: f64::INFINITY,
    };
    let mut heap: BinaryHeap<Reverse<(i64, u32, u8, usize)>> = pendings
        .iter()
        .enumerate()
        .map(|(idx, p)| Reverse((key(p.first_attempt), p.device, p.interruption.incident, idx)))
        .collect();
    while let Some(Reverse((_, _, _, idx))) = heap.pop() {
        let p = &mut pendings[idx];
        let t = p.next;
        if t >= window_secs {
            continue;
        }
        if let Some(next) = step(p, t, &mut hub) {
            heap.push(Reverse((key(next), p.device, p.interruption.incident, idx)));
        }
    }
    let mut out: Vec<Vec<Interruption>> = vec![Vec::new(); devices.len()];
    for mut p in pendings {
        // A timed-out connect is logged when it ends, after later attempts may have started.
        p.interruption.attempts.sort_by(|a, b| a.0.total_cmp(&b.0));
        out[p.device as usize].push(p.interruption);
    }
    for list in &mut out {
        list.sort_by(|a, b| a.close.total_cmp(&b.close).then(a.incident.cmp(&b.incident)));
    }
    out
}

fn key(t: f64) -> i64 {
    (t * 1e7) as i64
}

/// Processes one attempt at `t`; returns the time of the next attempt, if any.
fn step(p: &mut Pending, t: f64, hub: &mut Hub) -> Option<f64> {
    let sdk = p.sdk;
    // Incident-specific refusals come first: the hub is faulty or being upgraded. During a
    // fault a connect fails with 500001 at once, or is never completed: 500008 "IoT Hub
    // couldn't complete the connection request before timing out" (troubleshoot-error-codes.md
    // §500xxx), logged when the attempt ends, at the hub's ~60 s connect-processing timeout or
    // the client's own connect timeout, whichever is first; the client then retries.
    let mut logged = t;
    let mut timed_out = false;
    let refusal = match p.interruption.kind {
        Kind::Fault if t < p.end && p.rng.chance(p.retry_fail) => {
            if p.rng.chance(0.5) {
                timed_out = true;
                logged = t + p.rng.range(55.0, 60.0).min(sdk.connect_timeout_secs());
                Some((500_008, Cause::ServerError))
            } else {
                Some((500_001, Cause::ServerError))
            }
        }
        Kind::Upgrade if p.attempt == 0 && t < p.end && p.rng.chance(p.retry_fail) => {
            Some((400_030, Cause::ServiceUpgrade))
        }
        _ => None,
    };
    let mut throttled = false;
    let mut refusal = refusal;
    if refusal.is_none() {
        let sec = t as usize;
        let accepted = &mut hub.accepted;
        let end = (sec + QUEUE_SECS).min(accepted.len());
        let at_once = accepted.get(sec).is_some_and(|n| *n < hub.capacity);
        if !at_once {
            hub.first_over = hub.first_over.min(t);
        }
        let burst_room = accepted.get(sec).is_some_and(|n| *n < 2 * hub.capacity);
        if !at_once && hub.burst_left > 0 && burst_room {
            // Above the limit, within the burst allowance: processed at once.
            hub.burst_left -= 1;
            accepted[sec] += 1;
            p.interruption.connect = t;
            return None;
        }
        if let Some(s) = (sec..end).find(|&s| accepted[s] < hub.capacity) {
            {
                let at = if s == sec { t } else { s as f64 + p.rng.range(0.0, 0.99) };
                let timeout = sdk.connect_timeout_secs();
                if at - t <= timeout {
                    accepted[s] += 1;
                    p.interruption.connect = at;
                    return None;
                }
                // The client's CONNACK timeout fires first: it abandons the socket and retries,
                // but the hub still accepts the queued connect: a second connection the
                // retry's accept will close with 400027/409002 (docs/research/sdk-behaviour.md
                // §2: derived, no source describes the double accept). Once per interruption:
                // later abandoned connects are taken as dropped from the queue (the client closed
                // the socket), or a client whose timeout is shorter than the queue would hold a
                // slot at every try and never get in.
                if p.interruption.ghosts.is_empty() {
                    accepted[s] += 1;
                    p.interruption.ghosts.push(at);
                }
                p.attempt += 1;
                let next = t + timeout + sdk.retry_delay_secs(p.attempt, false, &mut p.rng);
                p.next = next.max(at + 0.01);
                return Some(p.next);
            }
        }
        throttled = true;
        let code = if t - hub.first_over > SUSTAINED_SECS { 429_001 } else { 429_002 };
        refusal = Some((code, Cause::Throttling));
    }
    let (code, cause) = refusal.unwrap_or((429_002, Cause::Throttling));
    p.interruption.attempts.push((logged, code, cause));
    p.attempt += 1;
    let mut next = logged + sdk.retry_delay_secs(p.attempt, throttled, &mut p.rng).max(1.0);
    if timed_out {
        next = next.max(t + sdk.connect_timeout_secs());
    }
    if sdk.gives_up() && next - p.first_attempt > GIVE_UP_SECS {
        // The SDK gave up; the application recreates the client a little later.
        next = t + p.rng.range(30.0, 120.0);
        p.attempt = 0;
        p.first_attempt = next;
    }
    p.next = next;
    Some(next)
}

/// The per-second capacity left for incident reconnects: the tier's limit less a reserve for
/// the background connects (token renewals, restarts) that keep arriving meanwhile, so the
/// total stays under the limit (mean + 6 σ of a Poisson background).
///
/// When the simulated devices are a sample of the hub's fleet (`hub_devices`), the reserve is
/// for the whole fleet's background, and the sample gets its share of what is left.
fn admission_capacity(scenario: &Scenario, devices: &[Device]) -> u32 {
    let bg = &scenario.background;
    let per_day = 86_400.0_f64.recip()
        * (bg.keepalive_timeouts_per_day
            + bg.restarts_per_day
            + 2.0 * bg.reconnect_races_per_day
            + bg.crashes_per_day
            + 2.0 * bg.short_losses_per_day);
    let token = (scenario.fleet.token_ttl_secs * 0.75).recip();
    let simulated = devices.len().max(1) as f64;
    let hub = scenario.fleet.hub_devices.map_or(simulated, f64::from).max(simulated);
    let rate = hub * (per_day + token);
    let limit = scenario.connect_limit_per_sec();
    // Never reserve more than half: a hub whose background alone needs the whole limit is
    // undersized, and starving the wave to one connect a second would only pile up refusals.
    let reserve = ((rate + 6.0 * rate.sqrt() + 2.0).ceil() as u32).min(limit / 2);
    let left = f64::from(limit.saturating_sub(reserve));
    ((left * simulated / hub).round() as u32).max(1)
}

fn pending_for(
    scenario: &Scenario,
    seed: u64,
    device_idx: u32,
    device: &Device,
    window_secs: f64,
) -> Vec<Pending> {
    let mut out = Vec::new();
    for (inc_idx, incident) in scenario.incidents.iter().enumerate() {
        let start = incident.at() * window_secs;
        let end = start + incident.minutes() * 60.0;
        let mut rng = Rng::new(&[seed, tag::INCIDENT, inc_idx as u64, u64::from(device_idx)]);
        let mut select = Rng::new(&[seed, tag::SELECT, inc_idx as u64, u64::from(device_idx)]);
        let sdk = device.sdk;
        let (kind, close, close_code, cause, last_packet, first, p) = match incident {
            Incident::SiteOutage { sites, .. } => {
                let site_name = scenario.fleet.sites.get(device.site).map(|s| s.name.as_str());
                if !sites.iter().any(|s| Some(s.as_str()) == site_name) {
                    continue;
                }
                // The network fails within a few seconds; the device's last packet left at most
                // one ping interval before; the hub closes it at 1.5 × keep-alive after that.
                let down = start + rng.range(0.0, 5.0);
                let last = down - rng.range(0.0, sdk.ping_interval_secs(device.protocol));
                let close = last + sdk.idle_close_secs(device.protocol);
                // When the network returns: C is backing off (≤ 30 s), Python retries every 10 s,
                // the others reconnect on link-up, Beta(3,4)-like over 10 s (3GPP TR 37.868).
                let arrival = match sdk {
                    Sdk::C => rng.range(0.0, 30.0),
                    Sdk::Python => rng.range(0.0, 10.0),
                    _ => 10.0 * beta34(&mut rng),
                };
                let first = (end + arrival).max(close + 1.0);
                (Kind::Outage, close, 404_104, Cause::NetworkOutage, last, first, 0.0)
            }
            Incident::HubFault { share, retry_fail, .. } => {
                if !select.chance(*share) {
                    continue;
                }
                // The faulty nodes drop their devices at once, within seconds, and the hub logs
                // mostly 404104 with some 500001 ("many devices disconnect at once ... more
                // 404104 DeviceConnectionClosedRemotely and 500xxx Internal errors than usual",
                // troubleshoot-error-codes.md §404104). 500008 is a connect that timed out, never
                // a close code (§500xxx); the 70/30 split is a modelling choice.
                let close = start + rng.range(0.0, 5.0);
                let code = if rng.chance(0.7) { 404_104 } else { 500_001 };
                let first = close + sdk.retry_delay_secs(0, false, &mut rng).max(1.0);
                (Kind::Fault, close, code, Cause::ServerError, close, first, *retry_fail)
            }
            Incident::Upgrade { share, reject, .. } => {
                if !select.chance(*share) {
                    continue;
                }
                let close = rng.range(start, end.max(start + 1.0));
                let first = close + sdk.retry_delay_secs(0, false, &mut rng).max(1.0);
                (Kind::Upgrade, close, 400_029, Cause::ServiceUpgrade, close, first, *reject)
            }
            Incident::DuplicateIdentity { .. } | Incident::BadCredentials { .. } => continue,
        };
        if close >= window_secs {
            continue;
        }
        out.push(Pending {
            device: device_idx,
            sdk,
            interruption: Interruption {
                incident: inc_idx as u8,
                kind,
                close,
                close_code,
                cause,
                last_packet,
                attempts: Vec::new(),
                ghosts: Vec::new(),
                connect: f64::INFINITY,
            },
            rng,
            end,
            retry_fail: p,
            attempt: 0,
            first_attempt: first,
            next: first,
        });
    }
    out
}

/// A Beta(3, 4) draw: the 3rd smallest of 6 uniforms.
fn beta34(rng: &mut Rng) -> f64 {
    let mut u: [f64; 6] = [0.0; 6];
    for x in &mut u {
        *x = rng.unit();
    }
    u.sort_by(f64::total_cmp);
    u[2]
}
