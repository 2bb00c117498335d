//! Scenarios: the TOML that sets a fleet, a window, background behaviour, timed incidents and
//! export faults; and the library of named scenarios shipped in data/scenarios/.

use std::path::Path;

use dropscope_model::Timestamp;
use serde::Deserialize;

use crate::sdk::Sdk;
use crate::{Error, Result};

/// The named scenarios, embedded so the binary works from any directory.
const NAMED: [(&str, &str); 9] = [
    ("quiet-day", include_str!("../../../data/scenarios/quiet-day.toml")),
    ("token-churn", include_str!("../../../data/scenarios/token-churn.toml")),
    ("site-outage-storm", include_str!("../../../data/scenarios/site-outage-storm.toml")),
    ("hub-fault", include_str!("../../../data/scenarios/hub-fault.toml")),
    ("upgrade", include_str!("../../../data/scenarios/upgrade.toml")),
    ("duplicate-identity", include_str!("../../../data/scenarios/duplicate-identity.toml")),
    ("bad-credentials", include_str!("../../../data/scenarios/bad-credentials.toml")),
    ("mixed-day", include_str!("../../../data/scenarios/mixed-day.toml")),
    ("realistic-day", include_str!("../../../data/scenarios/realistic-day.toml")),
];

/// A whole scenario, as read from TOML.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, used in messages.
    pub name: String,
    /// The default seed; the CLI's `--seed` overrides it.
    #[serde(default)]
    pub seed: u64,
    /// The devices and the hub.
    pub fleet: Fleet,
    /// The simulated time window.
    pub window: Window,
    /// What every device does on an ordinary day.
    #[serde(default)]
    pub background: Background,
    /// Timed incidents.
    #[serde(default)]
    pub incidents: Vec<Incident>,
    /// How lossy the export is.
    #[serde(default)]
    pub export: ExportFaults,
}

/// The fleet and its hub.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// How many devices.
    pub devices: u32,
    /// Device ids are this prefix and a 6-digit index: `sensor-000042`.
    #[serde(default = "default_prefix")]
    pub device_prefix: String,
    /// The `IoT Hub` name.
    #[serde(default = "default_hub")]
    pub hub: String,
    /// The hub tier: F1, B1, B2, B3, S1, S2 or S3.
    #[serde(default = "default_tier")]
    pub tier: String,
    /// The number of units of the tier.
    #[serde(default = "one")]
    pub units: u32,
    /// The devices on the hub, when the simulated `devices` are a sample of them: the rest
    /// are not simulated but take their share of the hub's connection rate, so a sample keeps
    /// the storm the whole fleet would make (the hub admits the sample's share of its limit).
    /// Unset: the simulated devices are the whole fleet.
    #[serde(default)]
    pub hub_devices: Option<u32>,
    /// Shares of each SDK (normalised).
    #[serde(default)]
    pub sdk_mix: SdkMix,
    /// The share of non-Python devices on AMQP (Python has no AMQP).
    #[serde(default)]
    pub amqp_share: f64,
    /// The share of devices authenticating with X.509 (no token renewal).
    #[serde(default)]
    pub x509_share: f64,
    /// SAS token lifetime in seconds (60 min by default across SDKs).
    #[serde(default = "default_ttl")]
    pub token_ttl_secs: f64,
    /// Shares of the devices whose application sets another token lifetime (each SDK has the
    /// setting: C `OPTION_SAS_TOKEN_LIFETIME`, .NET `ClientOptions.SasTokenTimeToLive`, Java
    /// `ClientOptions.sasTokenExpiryTime`, Node `setTokenRenewalValues`, Python `sastoken_ttl`;
    /// docs/research/sdk-behaviour.md §1). The rest use `token_ttl_secs`.
    #[serde(default)]
    pub token_ttl_mix: Vec<TokenLife>,
    /// Sites and networks: each a masked-IP /24 prefix with a share of the fleet.
    #[serde(default = "default_sites")]
    pub sites: Vec<Site>,
}

/// A token lifetime some devices use instead of the fleet's default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenLife {
    /// The lifetime in seconds.
    pub secs: f64,
    /// The share of the fleet using it.
    pub share: f64,
}

/// Shares of each SDK in the fleet.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdkMix {
    /// azure-iot-sdk-c.
    #[serde(default)]
    pub c: f64,
    /// azure-iot-sdk-csharp.
    #[serde(default)]
    pub dotnet: f64,
    /// azure-iot-sdk-java.
    #[serde(default)]
    pub java: f64,
    /// azure-iot-sdk-node.
    #[serde(default)]
    pub node: f64,
    /// azure-iot-sdk-python.
    #[serde(default)]
    pub python: f64,
}

impl Default for SdkMix {
    fn default() -> SdkMix {
        SdkMix { c: 0.2, dotnet: 0.3, java: 0.15, node: 0.2, python: 0.15 }
    }
}

impl SdkMix {
    pub(crate) fn weights(&self) -> [(Sdk, f64); 5] {
        [
            (Sdk::C, self.c),
            (Sdk::Dotnet, self.dotnet),
            (Sdk::Java, self.java),
            (Sdk::Node, self.node),
            (Sdk::Python, self.python),
        ]
    }
}

/// A site or network: devices behind it share a masked-IP /24 prefix.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// The site's name, referenced by incidents.
    pub name: String,
    /// The first three octets, e.g. `24.9.142`.
    pub prefix: String,
    /// Its share of the fleet (normalised over all sites).
    pub share: f64,
    /// How many /24s the site's traffic leaves from, from `prefix` up (third octet, wrapping):
    /// a cellular carrier's NAT pool is many /24s, and a reconnect often leaves from another
    /// address (docs/research/sdk-behaviour.md §9; the pool size is a modelling choice). With
    /// more than one, each connect of a device picks a /24 anew. At most 128.
    #[serde(default = "one")]
    pub pool: u32,
    /// Drops per day of a multiplexed AMQP gateway's one connection, which carries every device
    /// of the site (Java `MultiplexingClient`; "A single AMQP connection can handle
    /// approximately 995 devices", Azure-Samples/Iot-Telemetry-Simulator): all of them are
    /// closed together from one address, and reconnect together. Devices of a gateway site use
    /// AMQP (and are never Python, which has no AMQP).
    #[serde(default)]
    pub gateway_drops_per_day: f64,
}

/// The simulated window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// RFC 3339 start, e.g. `2026-11-26T00:00:00Z`.
    pub start: String,
    /// Length in hours.
    pub hours: u32,
}

/// Background behaviour of every device (rates per device per day).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Background {
    /// Isolated network losses that end in a keep-alive timeout (404104).
    #[serde(default = "default_keepalive_rate")]
    pub keepalive_timeouts_per_day: f64,
    /// Clean client closes and restarts (informational disconnects).
    #[serde(default = "default_restart_rate")]
    pub restarts_per_day: f64,
    /// One-off reconnect races (409002 on AMQP, 400027 on MQTT).
    #[serde(default = "default_race_rate")]
    pub reconnect_races_per_day: f64,
    /// Crashes, reboots and TCP resets with no MQTT DISCONNECT: mostly 404104 at once (the OS
    /// closes the socket), for power losses a conflict or a keep-alive timeout.
    #[serde(default)]
    pub crashes_per_day: f64,
    /// Short network losses (seconds to minutes): kept through with no record when the network
    /// returns before either side notices; else a reconnect that closes the stale connection
    /// (400027/409002), or a keep-alive timeout when the hub notices first.
    #[serde(default)]
    pub short_losses_per_day: f64,
}

impl Default for Background {
    fn default() -> Background {
        Background {
            keepalive_timeouts_per_day: default_keepalive_rate(),
            restarts_per_day: default_restart_rate(),
            reconnect_races_per_day: default_race_rate(),
            crashes_per_day: 0.0,
            short_losses_per_day: 0.0,
        }
    }
}

/// A timed incident. `at` is the start as a fraction of the window (0.5 = the middle), so a
/// scenario keeps its shape when `--hours` changes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Incident {
    /// The named sites lose their network: their devices go silent, the hub closes them with
    /// 404104 at 1.5 × keep-alive, and they come back in a wave, throttled at the tier's rate.
    SiteOutage {
        /// Start, as a fraction of the window.
        at: f64,
        /// Duration in minutes.
        minutes: f64,
        /// The sites that go down.
        sites: Vec<String>,
    },
    /// A transient hub-side fault: a share of the fleet, across all networks, is dropped at once
    /// with 404104 or 500001; retries during the fault may fail with 500001, or time out with
    /// 500008.
    HubFault {
        /// Start, as a fraction of the window.
        at: f64,
        /// Duration in minutes.
        minutes: f64,
        /// The share of devices hit.
        share: f64,
        /// The chance that a retry during the fault fails too.
        #[serde(default = "half")]
        retry_fail: f64,
    },
    /// A rolling service upgrade: open connections closed with 400029, immediate retries
    /// rejected with 400030.
    Upgrade {
        /// Start, as a fraction of the window.
        at: f64,
        /// Duration in minutes over which connections are closed.
        minutes: f64,
        /// The share of devices hit.
        #[serde(default = "one_f")]
        share: f64,
        /// The chance that the immediate retry is rejected with 400030.
        #[serde(default = "third")]
        reject: f64,
    },
    /// Devices whose identity a second client also uses: every connect of one closes the other
    /// (400027 on MQTT, 409002 on AMQP), with alternating IPs.
    DuplicateIdentity {
        /// Start, as a fraction of the window.
        at: f64,
        /// Duration in minutes.
        minutes: f64,
        /// The share of devices with a twin (at least one device when above 0).
        share: f64,
        /// The range of seconds a kicked client waits before reconnecting, when its application
        /// adds a delay. Unset: each SDK's own first retry after a drop plus a connect's
        /// latency, sub-second to about 1 s (docs/research/sdk-behaviour.md §2, §10).
        #[serde(default)]
        kick_secs: Option<[f64; 2]>,
    },
    /// Devices whose credentials are revoked: closed with 401003, then failed connects with
    /// 401003 whenever the application retries, never connecting again.
    BadCredentials {
        /// Start, as a fraction of the window.
        at: f64,
        /// The share of devices hit (at least one device when above 0).
        share: f64,
    },
}

impl Incident {
    pub(crate) fn at(&self) -> f64 {
        match self {
            Incident::SiteOutage { at, .. }
            | Incident::HubFault { at, .. }
            | Incident::Upgrade { at, .. }
            | Incident::DuplicateIdentity { at, .. }
            | Incident::BadCredentials { at, .. } => *at,
        }
    }

    pub(crate) fn minutes(&self) -> f64 {
        match self {
            Incident::SiteOutage { minutes, .. }
            | Incident::HubFault { minutes, .. }
            | Incident::Upgrade { minutes, .. }
            | Incident::DuplicateIdentity { minutes, .. } => *minutes,
            Incident::BadCredentials { .. } => 0.0,
        }
    }
}

/// How lossy the export is: rates per record, and a count of malformed lines.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportFaults {
    /// The chance a record is lost.
    #[serde(default)]
    pub drop_rate: f64,
    /// The chance a record is written twice (overlapping exports).
    #[serde(default)]
    pub duplicate_rate: f64,
    /// The chance a record arrives minutes late (log-uniform 1–15 min): blobs are filed by the
    /// time received, so it lands later in its hour's blob, or in the next hour's when the
    /// delay crosses the hour ("it may take several minutes for events to be logged",
    /// monitor-iot-hub.md; "based on the time that the log was received", resource-logs.md).
    #[serde(default)]
    pub late_rate: f64,
    /// Minutes of the day in which the export misbehaves: when above 0, the drop, duplicate
    /// and late rates apply only inside such minutes, scaled up to keep their means, so faults
    /// come in bursts. A modelling parameter: no source quantifies bursts.
    #[serde(default)]
    pub burst_minutes_per_day: f64,
    /// Whole minutes of records lost per day (a lost batch), on top of `drop_rate`.
    #[serde(default)]
    pub lost_batches_per_day: f64,
    /// Malformed lines (cut-off records) written into JSON Lines blobs.
    #[serde(default)]
    pub malformed_lines: u32,
}

fn default_prefix() -> String {
    "sensor-".to_owned()
}
fn default_hub() -> String {
    "contoso-hub".to_owned()
}
fn default_tier() -> String {
    "S1".to_owned()
}
const fn one() -> u32 {
    1
}
const fn one_f() -> f64 {
    1.0
}
const fn half() -> f64 {
    0.5
}
const fn third() -> f64 {
    0.3
}
const fn default_ttl() -> f64 {
    3600.0
}
const fn default_keepalive_rate() -> f64 {
    0.05
}
const fn default_restart_rate() -> f64 {
    0.1
}
const fn default_race_rate() -> f64 {
    0.02
}
fn default_sites() -> Vec<Site> {
    // The cellular site is a carrier's public NAT range: 100.64.0.0/10 (RFC 6598 carrier-grade
    // NAT) never reaches the hub as a source address.
    [("plant-a", "24.9.142", 0.4), ("plant-b", "67.176.115", 0.3), ("cellular", "172.58.17", 0.3)]
        .into_iter()
        .map(|(name, prefix, share)| Site {
            name: name.to_owned(),
            prefix: prefix.to_owned(),
            share,
            pool: 1,
            gateway_drops_per_day: 0.0,
        })
        .collect()
}

impl Scenario {
    /// Resizes the fleet to `devices` and scales the hub's units in proportion (never below the
    /// scenario's own), as an operator would size a hub for a bigger fleet: a storm's throttled
    /// reconnect wave then keeps the shape the scenario describes, instead of one unit's 100
    /// connects per second admitting a 100 000-device wave over hours.
    ///
    /// A smaller fleet is simulated as a sample of the scenario's hub (`hub_devices` keeps the
    /// fleet it stood for), so its storm keeps its shape: the sample's reconnect wave meets
    /// the sample's share of the hub's rate, where a whole 100/s hub would admit it at once.
    pub fn resize_fleet(&mut self, devices: u32) {
        let before = self.fleet.devices.max(1);
        let hub = self.fleet.hub_devices.unwrap_or(before).max(before);
        if devices > before {
            // The connect limit grows with the fleet, so each device keeps its share of it. Units
            // alone do not scale it at first: S1's limit is 100/s up to 8 units (12/s a unit),
            // so a fourfold fleet on 4 units would meet the same 100/s and its storm would
            // collapse into endless refusals.
            let target =
                u64::from(self.connect_limit_per_sec()) * u64::from(devices) / u64::from(before);
            let per_unit = u64::from(per_unit(&self.fleet.tier.to_ascii_uppercase()));
            let proportional =
                (u64::from(self.fleet.units) * u64::from(devices)).div_ceil(u64::from(before));
            let scaled = target.div_ceil(per_unit).max(proportional);
            let units = u32::try_from(scaled).unwrap_or(u32::MAX).max(self.fleet.units);
            (self.fleet.tier, self.fleet.units) = fit_tier(&self.fleet.tier, units);
            let scaled = u64::from(hub) * u64::from(devices) / u64::from(before);
            self.fleet.hub_devices =
                self.fleet.hub_devices.map(|_| u32::try_from(scaled).unwrap_or(u32::MAX));
        } else if devices < before {
            self.fleet.hub_devices = Some(hub);
        }
        self.fleet.devices = devices;
    }
}

/// The most units a hub of `tier` can have: "up to 200 units for a size 1 or 2 IoT hub, or up to
/// 10 units for a size 3 IoT hub" (MicrosoftDocs/azure-docs `articles/iot-hub/iot-hub-scaling.md`,
/// "Tier editions and units"; docs/research/sdk-behaviour.md §12). F1 has one (unverified).
fn max_units(tier: &str) -> u32 {
    match tier.to_ascii_uppercase().as_str() {
        "F1" => 1,
        "B3" | "S3" => 10,
        _ => 200,
    }
}

/// A tier and unit count with at least the connection rate of `units` of `tier`, within the
/// tier's maximum: past it, the next size up (S1 → S2 → S3, B1 → B2 → B3), then the largest hub.
fn fit_tier(tier: &str, units: u32) -> (String, u32) {
    let upper = tier.to_ascii_uppercase();
    let mut tier = upper.clone();
    let mut rate = u64::from(units) * u64::from(per_unit(&tier));
    let mut units = units;
    while units > max_units(&tier) {
        let next = match tier.as_str() {
            "F1" | "S1" => "S2",
            "B1" => "B2",
            "S2" => "S3",
            "B2" => "B3",
            _ => return (tier.clone(), max_units(&tier)),
        };
        next.clone_into(&mut tier);
        units = u32::try_from(rate.div_ceil(u64::from(per_unit(&tier)))).unwrap_or(u32::MAX);
        rate = u64::from(units) * u64::from(per_unit(&tier));
    }
    (tier, units)
}

/// New connections per second per unit (iot-hub-devguide-quotas-throttling.md).
fn per_unit(tier: &str) -> u32 {
    match tier {
        "B2" | "S2" => 120,
        "B3" | "S3" => 6000,
        _ => 12,
    }
}

/// The shipped name an alias stands for; other names are returned as they are.
fn canonical_name(name: &str) -> &str {
    match name {
        "upgrade-storm" => "upgrade",
        other => other,
    }
}

impl Scenario {
    /// The names of the shipped scenarios.
    pub fn names() -> impl Iterator<Item = &'static str> {
        NAMED.iter().map(|(name, _)| *name)
    }

    /// A shipped scenario by name (or by an alias: `upgrade-storm` is docs/DESIGN.md's name for
    /// `upgrade`).
    pub fn named(name: &str) -> Option<Scenario> {
        let name = canonical_name(name);
        let (_, text) = NAMED.iter().find(|(n, _)| *n == name)?;
        Scenario::from_toml(name, text).ok()
    }

    /// Parses and validates a scenario; `origin` names it in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Scenario> {
        let scenario: Scenario = toml::from_str(text)
            .map_err(|source| Error::ScenarioToml { origin: origin.to_owned(), source })?;
        scenario.validate(origin)?;
        Ok(scenario)
    }

    /// A shipped scenario when `name_or_path` names one, else the TOML file at that path.
    pub fn load(name_or_path: &str) -> Result<Scenario> {
        let canonical = canonical_name(name_or_path);
        if let Some((name, text)) = NAMED.iter().find(|(n, _)| *n == canonical) {
            return Scenario::from_toml(name, text);
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::ScenarioRead { path: path.to_path_buf(), source })?;
        Scenario::from_toml(name_or_path, &text)
    }

    /// The window start.
    pub fn start(&self) -> Result<Timestamp> {
        Timestamp::parse_rfc3339(&self.window.start).map_err(|err| Error::ScenarioInvalid {
            origin: self.name.clone(),
            field: "window.start",
            message: err.to_string(),
        })
    }

    /// The hub's limit on new device connections per second (iot-hub-devguide-quotas-throttling):
    /// F1/B1/S1 max(100, 12 × units), B2/S2 120 × units, B3/S3 6 000 × units.
    pub fn connect_limit_per_sec(&self) -> u32 {
        let units = self.fleet.units.max(1);
        match self.fleet.tier.to_ascii_uppercase().as_str() {
            "B2" | "S2" => units.saturating_mul(120),
            "B3" | "S3" => units.saturating_mul(6000),
            _ => units.saturating_mul(12).max(100),
        }
    }

    pub(crate) fn validate(&self, origin: &str) -> Result<()> {
        let invalid = |field: &'static str, message: &str| Error::ScenarioInvalid {
            origin: origin.to_owned(),
            field,
            message: message.to_owned(),
        };
        let share_ok = |x: f64| (0.0..=1.0).contains(&x);
        if self.fleet.devices == 0 {
            return Err(invalid("fleet.devices", "must be at least 1"));
        }
        if self.fleet.devices > 10_000_000 {
            return Err(invalid("fleet.devices", "must be at most 10 000 000"));
        }
        if self.window.hours == 0 || self.window.hours > 24 * 366 {
            return Err(invalid("window.hours", "must be between 1 and 8784"));
        }
        let start = self.start()?;
        // The window must end before the latest time a timestamp holds (2261-12-31).
        let end_secs = start.secs() + i64::from(self.window.hours) * 3600 + 3600;
        if end_secs > 9_214_646_399 {
            return Err(invalid("window.start", "the window must end before 2262"));
        }
        if self.fleet.units == 0 || self.fleet.units > max_units(&self.fleet.tier) {
            return Err(invalid(
                "fleet.units",
                "must be 1 to 200 for a size 1 or 2 tier (B1, S1, B2, S2), 1 to 10 for size 3 (B3, S3), 1 for F1",
            ));
        }
        if !["F1", "B1", "B2", "B3", "S1", "S2", "S3"]
            .contains(&self.fleet.tier.to_ascii_uppercase().as_str())
        {
            return Err(invalid("fleet.tier", "must be one of F1, B1, B2, B3, S1, S2, S3"));
        }
        if !(self.fleet.token_ttl_secs >= 60.0 && self.fleet.token_ttl_secs <= 365.0 * 86_400.0) {
            return Err(invalid("fleet.token_ttl_secs", "must be between 60 and 31536000"));
        }
        let mix_total: f64 = self.fleet.token_ttl_mix.iter().map(|l| l.share).sum();
        if self
            .fleet
            .token_ttl_mix
            .iter()
            .any(|l| !(l.secs >= 60.0 && l.secs <= 365.0 * 86_400.0 && share_ok(l.share)))
            || mix_total > 1.0
        {
            return Err(invalid(
                "fleet.token_ttl_mix",
                "lifetimes must be between 60 and 31536000 s and shares sum to at most 1",
            ));
        }
        if !share_ok(self.fleet.amqp_share) || !share_ok(self.fleet.x509_share) {
            return Err(invalid("fleet", "amqp_share and x509_share must be in [0, 1]"));
        }
        let mix = self.fleet.sdk_mix.weights();
        if mix.iter().any(|(_, w)| !(*w >= 0.0 && w.is_finite()))
            || mix.iter().map(|(_, w)| w).sum::<f64>() <= 0.0
        {
            return Err(invalid("fleet.sdk_mix", "shares must be ≥ 0 with a positive sum"));
        }
        if self.fleet.sites.is_empty()
            || self.fleet.sites.iter().any(|s| !(s.share >= 0.0 && s.share.is_finite()))
            || self.fleet.sites.iter().map(|s| s.share).sum::<f64>() <= 0.0
        {
            return Err(invalid(
                "fleet.sites",
                "need at least one site and a positive total share",
            ));
        }
        for site in &self.fleet.sites {
            let octets: Vec<&str> = site.prefix.split('.').collect();
            if octets.len() != 3 || octets.iter().any(|o| o.parse::<u8>().is_err()) {
                return Err(invalid("fleet.sites.prefix", "must be three octets like 24.9.142"));
            }
            // RFC 6598 shared address space (carrier-grade NAT): never a source the hub sees.
            let second = octets[1].parse::<u8>().unwrap_or(0);
            if octets[0] == "100" && (64..128).contains(&second) {
                return Err(invalid(
                    "fleet.sites.prefix",
                    "100.64.0.0/10 is carrier-grade NAT space (RFC 6598), which the hub never logs",
                ));
            }
            if !(1..=128).contains(&site.pool)
                || !(0.0..=1000.0).contains(&site.gateway_drops_per_day)
            {
                return Err(invalid(
                    "fleet.sites",
                    "pool must be 1 to 128 and gateway_drops_per_day in [0, 1000]",
                ));
            }
        }
        let bg = &self.background;
        for rate in [
            bg.keepalive_timeouts_per_day,
            bg.restarts_per_day,
            bg.reconnect_races_per_day,
            bg.crashes_per_day,
            bg.short_losses_per_day,
        ] {
            if !(0.0..=1000.0).contains(&rate) {
                return Err(invalid("background", "rates must be in [0, 1000] per day"));
            }
        }
        for incident in &self.incidents {
            if !share_ok(incident.at()) || !(0.0..=100_000.0).contains(&incident.minutes()) {
                return Err(invalid("incidents", "`at` must be in [0, 1] and minutes ≥ 0"));
            }
            match incident {
                Incident::SiteOutage { sites, .. } => {
                    if let Some(bad) =
                        sites.iter().find(|name| !self.fleet.sites.iter().any(|s| &s.name == *name))
                    {
                        return Err(invalid(
                            "incidents.sites",
                            &format!("no site named {bad:?} in fleet.sites"),
                        ));
                    }
                }
                Incident::HubFault { share, retry_fail: p, .. }
                | Incident::Upgrade { share, reject: p, .. } => {
                    if !share_ok(*share) || !share_ok(*p) {
                        return Err(invalid("incidents", "shares and chances must be in [0, 1]"));
                    }
                }
                Incident::DuplicateIdentity { share, kick_secs, .. } => {
                    if !share_ok(*share)
                        || kick_secs.is_some_and(|k| {
                            k[0].is_nan() || k[0] < 0.01 || k[1] < k[0] || !k[1].is_finite()
                        })
                    {
                        return Err(invalid(
                            "incidents",
                            "share must be in [0, 1] and kick_secs a finite increasing pair ≥ 0.01",
                        ));
                    }
                }
                Incident::BadCredentials { share, .. } => {
                    if !share_ok(*share) {
                        return Err(invalid("incidents", "share must be in [0, 1]"));
                    }
                }
            }
        }
        if self.incidents.len() > 64 {
            return Err(invalid("incidents", "at most 64 incidents"));
        }
        let ex = &self.export;
        if !share_ok(ex.drop_rate) || !share_ok(ex.duplicate_rate) || !share_ok(ex.late_rate) {
            return Err(invalid("export", "rates must be in [0, 1]"));
        }
        if !(0.0..=1440.0).contains(&ex.burst_minutes_per_day)
            || !(0.0..=1440.0).contains(&ex.lost_batches_per_day)
        {
            return Err(invalid("export", "minutes per day must be in [0, 1440]"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    fn check(text: &str, expected_error: Option<&str>) {
        let got = Scenario::from_toml("test", text).err().map(|e| e.to_string());
        match (got, expected_error) {
            (None, None) => {}
            (Some(got), Some(want)) => assert!(got.contains(want), "{got}"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    const MINIMAL: &str = "name = \"t\"\n[fleet]\ndevices = 3\n[window]\nstart = \"2026-11-26T00:00:00Z\"\nhours = 1\n";

    #[test]
    fn every_named_scenario_parses() {
        for name in Scenario::names() {
            assert!(Scenario::named(name).is_some(), "{name}");
            assert!(Scenario::load(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn validates_fields() {
        check(MINIMAL, None);
        check(&MINIMAL.replace("devices = 3", "devices = 0"), Some("fleet.devices"));
        check(&MINIMAL.replace("2026-11-26T00:00:00Z", "yesterday"), Some("window.start"));
        check(
            &format!(
                "{MINIMAL}[[incidents]]\nkind = \"site_outage\"\nat = 0.5\nminutes = 5\nsites = [\"nowhere\"]\n"
            ),
            Some("nowhere"),
        );
        check(&format!("{MINIMAL}[[incidents]]\nkind = \"meteor\"\nat = 0.5\n"), Some("meteor"));
        check(&format!("{MINIMAL}[export]\ndrop_rate = 2.0\n"), Some("export"));
        let site = "[[fleet.sites]]\nname = \"c\"\nshare = 1.0\n";
        check(&format!("{MINIMAL}{site}prefix = \"100.70.1\"\n"), Some("RFC 6598"));
        check(&format!("{MINIMAL}{site}prefix = \"100.1.1\"\npool = 64\n"), None);
        let twins =
            "[[incidents]]\nkind = \"duplicate_identity\"\nat = 0.5\nminutes = 5\nshare = 0.1\n";
        check(&format!("{MINIMAL}{twins}kick_secs = [1.0, 5.0]\n"), None);
        check(&format!("{MINIMAL}{twins}kick_secs = [1.0, inf]\n"), Some("incidents"));
        check(&format!("{MINIMAL}{twins}kick_secs = [0.5, 5.0]\n"), None);
        check(&format!("{MINIMAL}{twins}kick_secs = [0.0, 5.0]\n"), Some("incidents"));
        check(&format!("{MINIMAL}{twins}"), None);
    }

    #[test]
    fn a_bigger_fleet_gets_a_proportionally_bigger_hub() {
        let mut scenario = Scenario::named("mixed-day").expect("shipped");
        let (devices, limit) = (scenario.fleet.devices, scenario.connect_limit_per_sec());
        // Fourfold on S1 (1 unit, 100/s): 4 units would still give 100/s, 34 give 408/s.
        scenario.resize_fleet(devices * 4);
        assert_eq!((scenario.fleet.tier.as_str(), scenario.fleet.units), ("S1", 34));
        let grown = scenario.connect_limit_per_sec();
        assert!(grown >= limit * 4 && grown < limit * 4 + 12, "{grown}");
        scenario.resize_fleet(10);
        assert_eq!(scenario.fleet.units, 34, "a smaller fleet keeps the hub");
        assert_eq!(scenario.fleet.devices, 10);
        // Past 200 S1 units, the next size up with at least the same rate.
        let mut scenario = Scenario::named("mixed-day").expect("shipped");
        scenario.resize_fleet(devices * 32);
        assert_eq!((scenario.fleet.tier.as_str(), scenario.fleet.units), ("S2", 27));
        assert!(scenario.connect_limit_per_sec() >= limit * 32);
        assert!(scenario.validate("t").is_ok());
        assert_eq!(super::fit_tier("S2", 2000), ("S3".to_owned(), 10));
        assert_eq!(super::fit_tier("B1", 201), ("B2".to_owned(), 21));
    }

    #[test]
    fn units_within_the_tier_maximum() {
        check(&MINIMAL.replace("devices = 3", "devices = 3\nunits = 200"), None);
        check(&MINIMAL.replace("devices = 3", "devices = 3\nunits = 201"), Some("fleet.units"));
        let s3 = "devices = 3\ntier = \"S3\"\nunits = ";
        check(&MINIMAL.replace("devices = 3", &format!("{s3}10")), None);
        check(&MINIMAL.replace("devices = 3", &format!("{s3}11")), Some("fleet.units"));
    }

    #[test]
    fn connect_limits_follow_the_tier() {
        let mut scenario = Scenario::from_toml("t", MINIMAL).unwrap_or_else(|e| panic!("{e}"));
        for (tier, units, limit) in
            [("S1", 1, 100), ("S1", 9, 108), ("S2", 2, 240), ("S3", 1, 6000)]
        {
            scenario.fleet.tier = tier.to_owned();
            scenario.fleet.units = units;
            assert_eq!(scenario.connect_limit_per_sec(), limit, "{tier} {units}");
        }
    }
}
