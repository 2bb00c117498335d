//! One device's day: a walk from the window start through its sessions, emitting the records
//! the hub logs. Background behaviour (token renewal, keep-alive timeouts, restarts, reconnect
//! races) comes from the device's own stream; incidents come from the plan.

use dropscope_model::Cause;

use crate::fleet::{Device, tag};
use crate::plan::{Interruption, Kind};
use crate::rng::Rng;
use crate::scenario::{Incident, Scenario};
use crate::sdk::{Auth, Protocol, Renewal, Sdk};

/// What a record says: an accepted connect, a failed connect, or a disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Op {
    Connect,
    Failed,
    Disconnect,
}

/// One generated record, compact (the strings live in the device profile), so 100 M fit in
/// memory. `code` 0 is an informational record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rec {
    pub(crate) time: i64,
    pub(crate) device: u32,
    pub(crate) seq: u32,
    pub(crate) code: u32,
    pub(crate) op: Op,
    /// Bit 0: 0 for the device, 1 for its twin (duplicate identity). Bits 1–7, for the device:
    /// the /24 of its site's address pool its connection leaves from.
    pub(crate) client: u8,
    /// The true cause, for disconnects and failed connects.
    pub(crate) cause: Cause,
    /// A connection-state change, which Event Grid reports: an accepted connect, or the first
    /// disconnect of an open connection (not a failed connect, nor the 404104 that completes a
    /// hub's 401003).
    pub(crate) state_change: bool,
}

// The crate doc promises about 24 bytes of memory a simulated record.
const _: () = assert!(size_of::<Rec>() == 24);

/// A keep-alive timeout as the hub saw it: the 404104's time and the device's last packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Silence {
    pub(crate) close_ns: i64,
    pub(crate) idle_secs: f64,
    pub(crate) last_packet_ns: i64,
}

/// Everything one device's walk produces.
#[derive(Debug, Default)]
pub(crate) struct DeviceLog {
    pub(crate) recs: Vec<Rec>,
    /// Bit i: incident i hit this device.
    pub(crate) hit: u64,
    pub(crate) silences: Vec<Silence>,
}

/// The fixed inputs of every walk.
pub(crate) struct WalkContext<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) seed: u64,
    pub(crate) start_ns: i64,
    /// The timestamp resolution in ns (1 s for whole seconds, 100 ns for 7 digits).
    pub(crate) res_ns: i64,
    pub(crate) window_secs: f64,
}

struct Walk<'a> {
    ctx: &'a WalkContext<'a>,
    device: &'a Device,
    index: u32,
    rng: Rng,
    log: DeviceLog,
    ints: &'a [Interruption],
    next_int: usize,
    revoke_at: f64,
    revoke_bit: u64,
    done: bool,
    /// Whether the hub holds an open connection for the identity (from its last state change).
    connected: bool,
    /// The /24 of the site's pool the device's connection leaves from.
    addr: u8,
    /// The number of /24s in the site's pool.
    pool: u32,
    /// The site's multiplexed-gateway drops: their shared stream and the next one.
    gateway: Option<Gateway>,
}

/// The drops of a site's multiplexed AMQP gateway connection, drawn from the site's own stream
/// so every device behind it sees the same ones.
struct Gateway {
    rng: Rng,
    mean: f64,
    /// The next drop: when the connection is lost, its last packet, and when it is back.
    next: (f64, f64, f64),
}

impl Gateway {
    fn advance(&mut self, after: f64) {
        let lost = after + self.rng.exp(self.mean);
        let last = lost - self.rng.range(0.0, crate::sdk::AMQP_IDLE_SECS / 2.0);
        let back = lost + self.rng.log_uniform(10.0, 600.0);
        self.next = (lost, last, back);
    }
}

const DAY: f64 = 86_400.0;

/// How a short network loss ends.
enum Loss {
    /// Nobody noticed: the connection lives on from this time.
    KeptThrough(f64),
    /// The connection was closed; the device reconnects at this time (`None`: window over).
    Reconnect(Option<f64>),
}

/// When a device's SAS token makes its MQTT connection end, as each SDK runs its token clock
/// (docs/research/sdk-behaviour.md §1, checked in the SDK sources).
#[derive(Debug, Clone, Copy)]
enum TokenClock {
    /// No renewal disconnects: X.509, or AMQP (tokens are renewed over CBS on the open link).
    None,
    /// The client renews `after` seconds after each connect and reconnects (informational);
    /// the clock restarts at every connect. C: `mqtt_connect_time` is reset on each CONNECT and
    /// renewal is at 0.8 × TTL (azure-iot-sdk-c `iothub_client/src/iothubtransport_mqtt_common.c`
    /// `SAS_REFRESH_MULTIPLIER`, `SendMqttConnectMsg`). Node: the `disconnected` state calls
    /// `SharedAccessKeyAuthenticationProvider.stop()`, so each connect mints a token and a new
    /// TTL − 900 s timer (azure-iot-sdk-node `device/core/src/sak_authentication_provider.ts`,
    /// `device/transport/mqtt/src/mqtt.ts`).
    PerConnect { after: f64 },
    /// Java mints a token at every MQTT open and does not renew it on MQTT: the hub flags it
    /// 5–10 min after expiry (azure-iot-sdk-java
    /// `iothub/device/iot-device-client/src/main/java/com/microsoft/azure/sdk/iot/device/auth/IotHubSasTokenSoftwareAuthenticationProvider.java`
    /// `getSasToken`; `transport/mqtt/MqttIotHubConnection.java` `open`).
    HubPerConnect { ttl: f64 },
    /// .NET reuses its cached token across reconnects until 15 % of its life is left, and the
    /// MQTT transport never refreshes it in place: the hub closes the connection 5–10 min after
    /// the token's own expiry, whenever the device last reconnected (azure-iot-sdk-csharp
    /// `iothub/device/src/Authentication/AuthenticationWithTokenRefresh.cs` `GetTokenAsync`,
    /// `IsExpiring`; `DeviceAuthenticationWithTokenRefresh.cs` `DefaultBufferPercentage = 15`).
    Reused { ttl: f64, issued: f64, grace: f64 },
    /// Python's token-update alarm is armed when the client is created and re-armed after each
    /// renewal, TTL − 120 s apart, whatever the connection does; when it fires on an open
    /// connection the client disconnects and reconnects (azure-iot-sdk-python
    /// `azure-iot-device/azure/iot/device/common/pipeline/pipeline_stages_base.py` `SasTokenStage`
    /// `DEFAULT_TOKEN_UPDATE_MARGIN = 120`, `_start_token_update_alarm`).
    Alarm { anchor: f64, period: f64 },
}

/// The hub flags an expired token on an open MQTT connection 5–10 min late ("within 5-10
/// minutes", Azure/azure-iot-sdk-java#304; "every 65 minutes", troubleshoot-error-codes.md
/// §404104): a range, not a documented distribution.
fn hub_grace(rng: &mut Rng) -> f64 {
    rng.range(300.0, 600.0)
}

impl TokenClock {
    fn new(sdk: Sdk, ttl: f64) -> TokenClock {
        match (sdk, sdk.renewal(ttl)) {
            (Sdk::Python, Renewal::ClientReconnect(period)) => {
                TokenClock::Alarm { anchor: 0.0, period }
            }
            (_, Renewal::ClientReconnect(after)) => TokenClock::PerConnect { after },
            (Sdk::Dotnet, Renewal::HubCloses) => {
                TokenClock::Reused { ttl, issued: 0.0, grace: 0.0 }
            }
            (_, Renewal::HubCloses) => TokenClock::HubPerConnect { ttl },
        }
    }

    /// What the device does when the clock fires.
    fn renewal(self) -> Renewal {
        match self {
            TokenClock::None | TokenClock::PerConnect { .. } | TokenClock::Alarm { .. } => {
                Renewal::ClientReconnect(0.0)
            }
            TokenClock::HubPerConnect { .. } | TokenClock::Reused { .. } => Renewal::HubCloses,
        }
    }

    /// The first renewal of a device connected at the window start with a token of random age.
    fn first(&mut self, rng: &mut Rng) -> f64 {
        match self {
            TokenClock::None => f64::INFINITY,
            TokenClock::PerConnect { after } => *after * (1.0 - rng.unit()),
            TokenClock::HubPerConnect { ttl } => (*ttl + hub_grace(rng)) * (1.0 - rng.unit()),
            TokenClock::Reused { ttl, issued, grace } => {
                *grace = hub_grace(rng);
                *issued = -(*ttl + *grace) * rng.unit();
                *issued + *ttl + *grace
            }
            TokenClock::Alarm { anchor, period } => {
                *anchor = -*period * rng.unit();
                *anchor + *period
            }
        }
    }

    /// The next renewal after a connect at `t`.
    fn after_connect(&mut self, t: f64, rng: &mut Rng) -> f64 {
        match self {
            TokenClock::None => f64::INFINITY,
            TokenClock::PerConnect { after } => t + *after,
            TokenClock::HubPerConnect { ttl } => t + *ttl + hub_grace(rng),
            TokenClock::Reused { ttl, issued, grace } => {
                if t - *issued >= 0.85 * *ttl {
                    *issued = t;
                    *grace = hub_grace(rng);
                }
                *issued + *ttl + *grace
            }
            TokenClock::Alarm { anchor, period } => {
                let k = ((t - *anchor) / *period).floor() + 1.0;
                *anchor + k * *period
            }
        }
    }
}

/// Walks one device through the window.
pub(crate) fn walk(
    ctx: &WalkContext<'_>,
    index: u32,
    device: &Device,
    ints: &[Interruption],
) -> DeviceLog {
    let scenario = ctx.scenario;
    let n_devices = scenario.fleet.devices;
    let mut revoke: Option<(u8, f64)> = None;
    let mut dups: Vec<(u8, f64, f64, Option<[f64; 2]>)> = Vec::new();
    for (inc_idx, incident) in scenario.incidents.iter().enumerate() {
        let start = incident.at() * ctx.window_secs;
        let chosen = |share: f64| {
            let mut select = Rng::new(&[ctx.seed, tag::SELECT, inc_idx as u64, u64::from(index)]);
            let forced =
                Rng::new(&[ctx.seed, tag::SELECT, inc_idx as u64]).below(u64::from(n_devices));
            select.chance(share) || (share > 0.0 && forced == u64::from(index))
        };
        match incident {
            Incident::BadCredentials { share, .. }
                if chosen(*share) && revoke.is_none_or(|(_, at)| start < at) =>
            {
                revoke = Some((inc_idx as u8, start));
            }
            Incident::DuplicateIdentity { share, minutes, kick_secs, .. } if chosen(*share) => {
                dups.push((inc_idx as u8, start, start + minutes * 60.0, *kick_secs));
            }
            _ => {}
        }
    }
    let mut w = Walk {
        ctx,
        device,
        index,
        rng: Rng::new(&[ctx.seed, tag::WALK, u64::from(index)]),
        log: DeviceLog::default(),
        ints,
        next_int: 0,
        revoke_at: revoke.map_or(f64::INFINITY, |(_, at)| at),
        revoke_bit: revoke.map_or(0, |(idx, _)| 1 << idx),
        done: false,
        connected: true,
        addr: device.addr,
        pool: scenario.fleet.sites.get(device.site).map_or(1, |s| s.pool),
        gateway: scenario.fleet.sites.get(device.site).and_then(|site| {
            (site.gateway_drops_per_day > 0.0).then(|| {
                let mut gateway = Gateway {
                    rng: Rng::new(&[ctx.seed, tag::GATEWAY, device.site as u64]),
                    mean: DAY / site.gateway_drops_per_day,
                    next: (0.0, 0.0, 0.0),
                };
                gateway.advance(0.0);
                gateway
            })
        }),
    };
    w.run(&dups);
    w.log
}

impl Walk<'_> {
    fn run(&mut self, dups: &[(u8, f64, f64, Option<[f64; 2]>)]) {
        let scenario = self.ctx.scenario;
        let renews = self.device.protocol == Protocol::Mqtt && self.device.auth == Auth::Sas;
        let mut clock = if renews {
            TokenClock::new(self.device.sdk, self.device.ttl)
        } else {
            TokenClock::None
        };
        let renewal = clock.renewal();
        let bg = &scenario.background;
        let mean = |rate: f64| if rate > 0.0 { DAY / rate } else { f64::INFINITY };
        let (ka_mean, restart_mean, race_mean, crash_mean, loss_mean) = (
            mean(bg.keepalive_timeouts_per_day),
            mean(bg.restarts_per_day),
            mean(bg.reconnect_races_per_day),
            mean(bg.crashes_per_day),
            mean(bg.short_losses_per_day),
        );
        // Connected at the window start, with a session (and a token) of random age.
        let mut renew_at = clock.first(&mut self.rng);
        let mut now = 0.0;
        let mut next_dup = 0;
        let w_end = self.ctx.window_secs;
        while !self.done {
            while self.ints.get(self.next_int).is_some_and(|i| i.close < now) {
                self.next_int += 1;
            }
            while dups.get(next_dup).is_some_and(|d| d.1 < now) {
                next_dup += 1;
            }
            let ka = now + self.rng.exp(ka_mean);
            let restart = now + self.rng.exp(restart_mean);
            let race = now + self.rng.exp(race_mean);
            let int = self.ints.get(self.next_int).map_or(f64::INFINITY, |i| i.close);
            let revoke = if self.revoke_at >= now { self.revoke_at } else { now };
            let dup = dups.get(next_dup).map_or(f64::INFINITY, |d| d.1);
            // Drawn only when the scenario has crashes, so other scenarios keep their streams.
            let crash =
                if crash_mean.is_finite() { now + self.rng.exp(crash_mean) } else { f64::INFINITY };
            let loss =
                if loss_mean.is_finite() { now + self.rng.exp(loss_mean) } else { f64::INFINITY };
            let gateway = self.gateway.as_mut().map_or(f64::INFINITY, |g| {
                while g.next.0 < now {
                    let after = g.next.0;
                    g.advance(after);
                }
                g.next.0
            });
            let candidates = [renew_at, ka, restart, race, int, revoke, dup, crash, loss, gateway];
            let (which, at) = candidates
                .iter()
                .copied()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, f64::INFINITY));
            if at >= w_end {
                break;
            }
            let reconnect_at = match which {
                0 => self.renewal(at, renewal),
                1 => self.keepalive_timeout(at),
                2 => {
                    self.emit(at, Op::Disconnect, 0, Cause::ClientClose, 0);
                    Some(at + self.rng.range(5.0, 120.0))
                }
                3 => self.race(at),
                4 => self.interruption(),
                5 => {
                    self.revoked(at, true);
                    None
                }
                6 => {
                    let d = dups[next_dup];
                    next_dup += 1;
                    self.duplicate(d.0, at, d.2, d.3)
                }
                7 => self.crash(at),
                9 => self.gateway_drop(),
                _ => match self.short_loss(at) {
                    Loss::KeptThrough(back) => {
                        now = back;
                        // A renewal due during the loss happens once the network is back.
                        renew_at = renew_at.max(back);
                        continue;
                    }
                    Loss::Reconnect(r) => r,
                },
            };
            let Some(r) = reconnect_at else { break };
            match self.reconnect(r) {
                Some(t) => {
                    now = t;
                    renew_at = clock.after_connect(t, &mut self.rng);
                }
                None => break,
            }
        }
    }

    /// Emits a record at `t` (seconds into the window) unless the window is over.
    fn emit(&mut self, t: f64, op: Op, code: u32, cause: Cause, client: u8) -> Option<f64> {
        if self.done || t >= self.ctx.window_secs {
            self.done = true;
            return None;
        }
        let res = self.ctx.res_ns;
        let mut ns = self.ctx.start_ns + ((t * 1e9) as i64).div_euclid(res) * res;
        // Bit 0: the twin; the device's own records carry its /24 in the bits above.
        let stored = if client == 0 { self.addr << 1 } else { client };
        if let Some(prev) = self.log.recs.last() {
            ns = ns.max(prev.time);
            // Two identical records would be one record to a reader: keep them a tick apart,
            // against every record of the same tick (sub-second kicks make several).
            while self
                .log
                .recs
                .iter()
                .rev()
                .take_while(|r| r.time == ns)
                .any(|r| r.op == op && r.code == code && r.client == stored)
            {
                ns += res;
            }
        }
        let seq = self.log.recs.len() as u32;
        let state_change = match op {
            Op::Connect => true,
            Op::Failed => false,
            Op::Disconnect => self.connected,
        };
        self.connected = match op {
            Op::Connect => true,
            Op::Failed => self.connected,
            Op::Disconnect => false,
        };
        self.log.recs.push(Rec {
            time: ns,
            device: self.index,
            seq,
            code,
            op,
            client: stored,
            cause,
            state_change,
        });
        Some(t)
    }

    fn renewal(&mut self, at: f64, renewal: Renewal) -> Option<f64> {
        match renewal {
            Renewal::ClientReconnect(_) => {
                self.emit(at, Op::Disconnect, 0, Cause::TokenExpiry, 0)?;
                Some(at + self.rng.range(0.5, 3.0))
            }
            // The hub flags the expired token (401003) and the connection completes its close
            // (404104): troubleshoot-error-codes.md §401003.
            Renewal::HubCloses => {
                self.emit(at, Op::Disconnect, 401_003, Cause::TokenExpiry, 0)?;
                let completes = at + self.rng.range(0.0, 1.0);
                self.emit(completes, Op::Disconnect, 404_104, Cause::TokenExpiry, 0)?;
                Some(at + self.rng.range(2.0, 60.0))
            }
        }
    }

    fn keepalive_timeout(&mut self, lost: f64) -> Option<f64> {
        let sdk = self.device.sdk;
        let last =
            (lost - self.rng.range(0.0, sdk.ping_interval_secs(self.device.protocol))).max(0.0);
        let idle = sdk.idle_close_secs(self.device.protocol);
        let close = self.silent_close(last, idle)?;
        let back = lost + self.rng.log_uniform(60.0, 1800.0);
        Some((back + self.rng.range(0.0, 10.0)).max(close + 1.0))
    }

    /// The application crashes, the device reboots or a middlebox resets the TCP connection,
    /// with no MQTT DISCONNECT (troubleshoot-error-codes.md §404104: "The device sent a TCP/IP-level
    /// reset but didn't send an application-level MQTT DISCONNECT", "The device side application
    /// crashed"). With the OS alive its FIN/RST reaches the hub, which logs 404104 at once: no
    /// keep-alive silence before it; the app restarts seconds to minutes later. A power loss
    /// sends nothing: the hub times the connection out at 1.5 × keep-alive after the last packet,
    /// unless the device is back first, when its connect closes the stale connection with
    /// 400027/409002 (docs/research/sdk-behaviour.md §5; the timing is derived, the 70/30 split a
    /// modelling choice). Labels: the 404104s are `keepalive_timeout` (docs/DESIGN.md: "one device went
    /// silent (lost network, hung or crashed app)"); the conflict is `reconnect_race` ("the device
    /// reconnected before the hub saw the old link drop").
    fn crash(&mut self, at: f64) -> Option<f64> {
        if self.rng.chance(0.7) {
            self.emit(at, Op::Disconnect, 404_104, Cause::KeepaliveTimeout, 0)?;
            return Some(at + self.rng.log_uniform(5.0, 300.0));
        }
        let sdk = self.device.sdk;
        let last =
            (at - self.rng.range(0.0, sdk.ping_interval_secs(self.device.protocol))).max(0.0);
        let idle = sdk.idle_close_secs(self.device.protocol);
        let back = at + self.rng.log_uniform(20.0, 600.0);
        if back < last + idle {
            let code = self.conflict_code();
            self.emit(back, Op::Disconnect, code, Cause::ReconnectRace, 0)?;
            return Some(back);
        }
        self.silent_close(last, idle)?;
        Some(back.max(last + idle + 1.0))
    }

    /// A short network loss of seconds to minutes (log-uniform 2 s – 15 min, a modelling
    /// choice). Whichever side notices first acts: if the network is back before the client's
    /// dead-peer check and the hub's timeout, TCP retransmits and nothing is logged; if the
    /// client notices first, it reconnects once the network is back, and when that is before
    /// the hub's timeout, its connect closes the stale connection with 400027 (MQTT) or 409002
    /// (AMQP) and no 404104 (troubleshoot-error-codes.md §409002, "the most common case";
    /// docs/research/sdk-behaviour.md §5); else the hub's 404104 comes first. Labels:
    /// `reconnect_race` for the conflict, `keepalive_timeout` for the 404104.
    fn short_loss(&mut self, lost: f64) -> Loss {
        let (sdk, protocol) = (self.device.sdk, self.device.protocol);
        let last = (lost - self.rng.range(0.0, sdk.ping_interval_secs(protocol))).max(0.0);
        let back = lost + self.rng.log_uniform(2.0, 900.0);
        let hub = last + sdk.idle_close_secs(protocol);
        let client = last + sdk.dead_peer_secs(protocol, &mut self.rng);
        if back < hub.min(client) {
            return Loss::KeptThrough(back);
        }
        // Retries fail without reaching the hub until the network is back.
        let mut t = client.max(lost);
        let mut attempt = 0;
        while t < back {
            t += sdk.retry_delay_secs(attempt, false, &mut self.rng) + 1.0;
            attempt += 1;
        }
        let r = t + self.rng.range(0.1, 1.0);
        if client < hub && r < hub {
            let code = self.conflict_code();
            if self.emit(r, Op::Disconnect, code, Cause::ReconnectRace, 0).is_none() {
                return Loss::Reconnect(None);
            }
            return Loss::Reconnect(Some(r));
        }
        if self.silent_close(last, hub - last).is_none() {
            return Loss::Reconnect(None);
        }
        Loss::Reconnect(Some(r.max(hub + 1.0)))
    }

    /// The site's multiplexed gateway loses its one AMQP connection: the hub closes every device
    /// on it with 404104 at once, 240 s after the connection's last frame, and they come back
    /// together when the gateway reconnects, each device's links within a couple of seconds.
    /// Label: `network_outage` (docs/DESIGN.md: "a shared network path failed"; a burst of 404104
    /// among devices behind the same address).
    fn gateway_drop(&mut self) -> Option<f64> {
        let g = self.gateway.as_mut()?;
        let (lost, last, back) = g.next;
        g.advance(lost);
        let close = last + crate::sdk::AMQP_IDLE_SECS;
        self.emit(close, Op::Disconnect, 404_104, Cause::NetworkOutage, 0)?;
        let close_ns = self.log.recs.last().map_or(0, |r| r.time);
        let last_packet_ns = self.ctx.start_ns + (last * 1e9) as i64;
        self.log.silences.push(Silence {
            close_ns,
            idle_secs: crate::sdk::AMQP_IDLE_SECS,
            last_packet_ns,
        });
        Some(back.max(close + 1.0) + self.rng.range(0.0, 2.0))
    }

    /// The hub's keep-alive timeout of a silent connection: 404104 `idle` seconds after the last
    /// packet.
    fn silent_close(&mut self, last: f64, idle: f64) -> Option<f64> {
        let close = last + idle;
        self.emit(close, Op::Disconnect, 404_104, Cause::KeepaliveTimeout, 0)?;
        let close_ns = self.log.recs.last().map_or(0, |r| r.time);
        let last_packet_ns = self.ctx.start_ns + (last * 1e9) as i64;
        self.log.silences.push(Silence { close_ns, idle_secs: idle, last_packet_ns });
        Some(close)
    }

    fn race(&mut self, at: f64) -> Option<f64> {
        let mut t = at;
        if self.rng.chance(0.5) {
            t += self.rng.range(0.2, 2.0);
            self.emit(t, Op::Failed, 500_008, Cause::ServerError, 0)?;
        }
        t += self.rng.range(1.0, 3.0);
        let code = self.conflict_code();
        self.emit(t, Op::Disconnect, code, Cause::ReconnectRace, 0)?;
        Some(t)
    }

    fn conflict_code(&self) -> u32 {
        match self.device.protocol {
            Protocol::Mqtt => 400_027,
            Protocol::Amqp => 409_002,
        }
    }

    /// The hub closes the device for an incident; the device retries as planned.
    fn interruption(&mut self) -> Option<f64> {
        let int = self.ints.get(self.next_int)?.clone();
        self.next_int += 1;
        self.log.hit |= 1 << int.incident;
        self.emit(int.close, Op::Disconnect, int.close_code, int.cause, 0)?;
        if int.kind == Kind::Outage {
            let close_ns = self.log.recs.last().map_or(0, |r| r.time);
            let last_packet_ns = self.ctx.start_ns + (int.last_packet * 1e9) as i64;
            let idle_secs = int.close - int.last_packet;
            self.log.silences.push(Silence { close_ns, idle_secs, last_packet_ns });
        }
        self.attempts(&int, f64::NEG_INFINITY)?;
        Some(int.connect)
    }

    /// Emits an interruption's failed attempts after `after`, in time order with the connects
    /// the hub accepted after their client had given up (each closing the one before with the
    /// conflict code); the last of those is closed when the final connect is accepted. Label
    /// of the conflicts: `reconnect_race` (docs/DESIGN.md: the device reconnected before the hub saw
    /// its old link drop; here the old link is the socket it abandoned).
    fn attempts(&mut self, int: &Interruption, after: f64) -> Option<()> {
        let code = self.conflict_code();
        let mut ghosts = int.ghosts.iter().copied().filter(|g| *g > after).peekable();
        let mut open = false;
        for &(t, failed, cause) in int.attempts.iter().filter(|a| a.0 > after) {
            while let Some(g) = ghosts.next_if(|g| *g <= t) {
                if open {
                    self.emit(g, Op::Disconnect, code, Cause::ReconnectRace, 0)?;
                }
                self.emit(g, Op::Connect, 0, Cause::Unknown, 0)?;
                open = true;
            }
            self.emit(t, Op::Failed, failed, cause, 0)?;
        }
        for g in ghosts {
            if open {
                self.emit(g, Op::Disconnect, code, Cause::ReconnectRace, 0)?;
            }
            self.emit(g, Op::Connect, 0, Cause::Unknown, 0)?;
            open = true;
        }
        if open && int.connect < self.ctx.window_secs {
            self.emit(int.connect, Op::Disconnect, code, Cause::ReconnectRace, 0)?;
        }
        Some(())
    }

    /// Connects at `r`, unless an incident or a revocation got in the way while offline.
    fn reconnect(&mut self, mut r: f64) -> Option<f64> {
        while let Some(int) = self.ints.get(self.next_int).filter(|i| i.close < r) {
            self.next_int += 1;
            // The site is still down when the device tries: it joins the reconnect wave.
            if int.kind == Kind::Outage && int.connect > r {
                let int = int.clone();
                self.log.hit |= 1 << int.incident;
                self.attempts(&int, r)?;
                r = int.connect;
            }
        }
        if self.revoke_at <= r {
            self.revoked(r.max(self.revoke_at), false);
            return None;
        }
        if self.pool > 1 {
            // A cellular reconnect leaves from another address of the carrier's NAT pool.
            self.addr = self.rng.below(u64::from(self.pool)) as u8;
        }
        self.emit(r, Op::Connect, 0, Cause::Unknown, 0)
    }

    /// Credentials revoked: closed with 401003 (when connected), then a failed connect with
    /// 401003 each time the application recreates the client (the SDKs treat authentication
    /// errors as unrecoverable), for the rest of the window.
    fn revoked(&mut self, at: f64, connected: bool) {
        self.log.hit |= self.revoke_bit;
        let mut t = at;
        if connected {
            if self.emit(t, Op::Disconnect, 401_003, Cause::AuthFailure, 0).is_none() {
                return;
            }
            t += self.rng.range(1.0, 10.0);
        }
        while self.emit(t, Op::Failed, 401_003, Cause::AuthFailure, 0).is_some() {
            t += self.rng.range(60.0, 600.0);
        }
        self.done = true;
    }

    /// A twin uses the identity from `start` to about `end`: each connect closes the other.
    /// The episode ends when the device kicks the twin out after `end` (the twin is switched
    /// off); the device's final connect is emitted by [`Walk::reconnect`].
    ///
    /// A kicked client reconnects after its SDK's first retry (C and Java at once, .NET 0.1 s,
    /// Node 0.1 s, Python 0.01 s: `Sdk::retry_delay_secs(0)`), and the connect takes a TLS and
    /// CONNECT round trip (0.2–1 s, a modelling choice), unless the scenario sets `kick_secs`.
    fn duplicate(
        &mut self,
        incident: u8,
        start: f64,
        end: f64,
        kick: Option<[f64; 2]>,
    ) -> Option<f64> {
        self.log.hit |= 1 << incident;
        let code = self.conflict_code();
        let mut holder = 0u8;
        let mut t = start;
        loop {
            self.emit(t, Op::Disconnect, code, Cause::DuplicateIdentity, holder)?;
            let next = holder ^ 1;
            if next == 0 && t >= end {
                return Some(t);
            }
            self.emit(t, Op::Connect, 0, Cause::Unknown, next)?;
            holder = next;
            // The client just kicked out is the one that reconnects next.
            let kicked = if holder == 0 { self.device.twin_sdk } else { self.device.sdk };
            t += match kick {
                Some([lo, hi]) => self.rng.range(lo, hi),
                None => kicked.retry_delay_secs(0, false, &mut self.rng) + self.rng.range(0.2, 1.0),
            };
        }
    }
}
