//! The fleet: one profile per device (SDK, protocol, auth, site, IPs, user agents), drawn from
//! the device's own random stream.

use dropscope_model::Sym;

use crate::rng::Rng;
use crate::scenario::Scenario;
use crate::sdk::{Auth, Protocol, Sdk};

/// Purpose tags of the random streams, so each purpose of each device has its own stream.
pub(crate) mod tag {
    pub(crate) const PROFILE: u64 = 1;
    pub(crate) const WALK: u64 = 2;
    pub(crate) const INCIDENT: u64 = 3;
    pub(crate) const SELECT: u64 = 4;
    pub(crate) const EXPORT: u64 = 5;
    pub(crate) const MALFORMED: u64 = 6;
    pub(crate) const GATEWAY: u64 = 7;
}

/// One simulated device.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub(crate) id: Sym,
    pub(crate) sdk: Sdk,
    /// The SDK of its twin, when a duplicate identity gives it one.
    pub(crate) twin_sdk: Sdk,
    pub(crate) protocol: Protocol,
    pub(crate) auth: Auth,
    pub(crate) site: usize,
    /// The masked IPs of the device (0) and of its twin, when it has one (1).
    pub(crate) ips: [Sym; 2],
    /// The `sdkVersion` of the device (0) and of its twin (1).
    pub(crate) agents: [Sym; 2],
    /// The logged protocol name and `authType` text, interned once.
    pub(crate) logged: (Sym, Sym),
    /// The SAS token lifetime its application sets, in seconds.
    pub(crate) ttl: f64,
    /// Its connects are logged with `authType` null.
    pub(crate) auth_null: bool,
    /// Its connects are logged with no `sdkVersion`.
    pub(crate) no_agent: bool,
    /// The /24 of its site's pool it first connects from.
    pub(crate) addr: u8,
}

impl Device {
    pub(crate) fn build(scenario: &Scenario, seed: u64, index: u32) -> Device {
        let mut rng = Rng::new(&[seed, tag::PROFILE, u64::from(index)]);
        let mix = scenario.fleet.sdk_mix.weights();
        let weights: Vec<f64> = mix.iter().map(|(_, w)| *w).collect();
        let mut sdk = mix[rng.weighted(&weights)].0;
        let amqp = rng.chance(scenario.fleet.amqp_share);
        let mut protocol = if sdk != Sdk::Python && amqp { Protocol::Amqp } else { Protocol::Mqtt };
        let auth = if rng.chance(scenario.fleet.x509_share) { Auth::X509 } else { Auth::Sas };
        let shares: Vec<f64> = scenario.fleet.sites.iter().map(|s| s.share).collect();
        let site = rng.weighted(&shares);
        let site_cfg = scenario.fleet.sites.get(site);
        if site_cfg.is_some_and(|s| s.gateway_drops_per_day > 0.0) {
            // A multiplexed gateway: AMQP only (Java's MultiplexingClient; Python has no AMQP).
            protocol = Protocol::Amqp;
            if sdk == Sdk::Python {
                sdk = Sdk::Java;
            }
        }
        let prefix = scenario.fleet.sites.get(site).map_or("10.0.0", |s| s.prefix.as_str());
        // The twin sits on another network: a public prefix of its own.
        let twin_ip = format!("{}.{}.{}.XXX", 31 + rng.below(190), rng.below(256), rng.below(256));
        let variant = rng.next_u64();
        let mut twin_sdk = mix[rng.weighted(&weights)].0;
        if protocol == Protocol::Amqp && twin_sdk == Sdk::Python {
            // The twin speaks the device's protocol, and Python v2 has no AMQP transport
            // (azure-iot-sdk-python `azure-iot-device/azure/iot/device/common/` has only MQTT and
            // HTTP): another SDK, by the same weights.
            let amqp: Vec<f64> =
                mix.iter().map(|(s, w)| if *s == Sdk::Python { 0.0 } else { *w }).collect();
            twin_sdk =
                if amqp.iter().sum::<f64>() > 0.0 { mix[rng.weighted(&amqp)].0 } else { Sdk::C };
        }
        let pool = site_cfg.map_or(1, |s| s.pool);
        let twin_variant = variant.rotate_left(17);
        // Real .NET MQTT SAS connects carry `"authType":null` (a 2023 .NET/1.38.0 record and a
        // 2018 tutorial's, iothub-logs.md §1.6); 2019 AMQP X.509 connects carry no sdkVersion
        // (AZ220-LAB). The hub decides both; the shares are modelling choices
        // (docs/research/sdk-behaviour.md §3).
        let auth_null = sdk == Sdk::Dotnet && crate::rng::mix(&[variant, 7]).is_multiple_of(2);
        let no_agent = protocol == Protocol::Amqp && auth == Auth::X509;
        let mut ttl = scenario.fleet.token_ttl_secs;
        if !scenario.fleet.token_ttl_mix.is_empty() {
            let mut x = rng.unit();
            for life in &scenario.fleet.token_ttl_mix {
                if x < life.share {
                    ttl = life.secs;
                    break;
                }
                x -= life.share;
            }
        }
        Device {
            id: Sym::from(format!("{}{index:06}", scenario.fleet.device_prefix)),
            sdk,
            twin_sdk,
            protocol,
            auth,
            site,
            ips: [Sym::from(format!("{prefix}.XXX")), Sym::from(twin_ip)],
            agents: [
                Sym::from(sdk.user_agent(variant, on_windows(sdk, variant))),
                Sym::from(twin_sdk.user_agent(twin_variant, on_windows(twin_sdk, twin_variant))),
            ],
            logged: (Sym::new(protocol.logged()), Sym::new(auth.auth_type())),
            ttl,
            auth_null,
            no_agent,
            addr: if pool > 1 { rng.below(u64::from(pool)) as u8 } else { 0 },
        }
    }
}

/// Whether a device of `sdk` runs on Windows, from its `variant`.
fn on_windows(sdk: Sdk, variant: u64) -> bool {
    crate::rng::mix(&[variant, 8]) % 100 < sdk.windows_percent()
}
