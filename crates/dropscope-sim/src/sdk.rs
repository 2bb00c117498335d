//! Per-SDK behaviour, from docs/research/simulator-facts.md: keep-alive, token renewal, retry back-off,
//! the `sdkVersion` user agent; and the `IoT Hub` error codes the simulator writes.

use serde::Deserialize;

use crate::rng::Rng;

/// A device SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sdk {
    /// azure-iot-sdk-c.
    C,
    /// azure-iot-sdk-csharp (v1).
    Dotnet,
    /// azure-iot-sdk-java.
    Java,
    /// azure-iot-sdk-node.
    Node,
    /// azure-iot-sdk-python (v2); MQTT only.
    Python,
}

/// The transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// MQTT (logged `Mqtt`).
    Mqtt,
    /// AMQP (logged `Amqp`).
    Amqp,
}

impl Protocol {
    pub(crate) const fn logged(self) -> &'static str {
        match self {
            Protocol::Mqtt => "Mqtt",
            Protocol::Amqp => "Amqp",
        }
    }
}

/// How a device authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    /// Shared access signature tokens: renewed, and they expire.
    Sas,
    /// X.509 certificates: no token renewal.
    X509,
}

impl Auth {
    /// The `authType` JSON text `IoT Hub` logs.
    pub(crate) const fn auth_type(self) -> &'static str {
        match self {
            Auth::Sas => {
                r#"{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}"#
            }
            Auth::X509 => {
                r#"{"scope":"device","type":"x509Certificate","issuer":"external","acceptingIpFilterRule":null}"#
            }
        }
    }
}

/// The hub's idle timeout cap for MQTT: 29.45 min (iot-mqtt-connect-to-iot-hub.md).
pub(crate) const IDLE_CAP_SECS: f64 = 1767.0;
/// The AMQP "remote idle" the hub applies (4 min, `iothub_client_options.h` comment).
pub(crate) const AMQP_IDLE_SECS: f64 = 240.0;
/// Java and Node give up reconnecting after the 4-min operation timeout (azure-iot-sdk-java
/// `transport/IotHubTransport.java` `DEFAULT_OPERATION_TIMEOUT`; azure-iot-sdk-node
/// `common/core/src/retry_operation.ts` `MAX_OPERATION_TIMEOUT = 240000`). .NET does not: its
/// background reconnect retries `int.MaxValue` times (docs/research/sdk-behaviour.md §0.2).
pub(crate) const GIVE_UP_SECS: f64 = 240.0;

/// What happens on an MQTT + SAS connection when its token must be renewed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Renewal {
    /// The client disconnects (informational) this many seconds after connecting, and reconnects.
    ClientReconnect(f64),
    /// The client keeps the connection; the hub closes it with 401003 then 404104 at token
    /// expiry plus a 5–10 min grace (.NET and Java).
    HubCloses,
}

impl Sdk {
    /// The MQTT keep-alive default in seconds.
    pub(crate) const fn keepalive_secs(self) -> f64 {
        match self {
            Sdk::C => 240.0,
            Sdk::Dotnet => 300.0,
            Sdk::Java => 230.0,
            Sdk::Node => 180.0,
            Sdk::Python => 60.0,
        }
    }

    /// How often the client sends a packet when otherwise idle. MQTT: the keep-alive, but .NET
    /// pings 4× per keep-alive. AMQP: the C SDK pings at half the hub's 240 s remote idle
    /// (azure-iot-sdk-c `iothub_client/src/iothubtransport_amqp_common.c`
    /// `DEFAULT_REMOTE_IDLE_PING_RATIO 0.50`; `iothub_client/inc/iothub_client_options.h`: "For
    /// AMQP remote idle set to 4 minutes, default client ping will be 2 minutes"); .NET
    /// advertises a 2-min idle (`ClientSettings/AmqpTransportSettings.cs`); the other AMQP
    /// libraries' ping cadence is unverified and taken as the same 120 s.
    pub(crate) const fn ping_interval_secs(self, protocol: Protocol) -> f64 {
        match (protocol, self) {
            (Protocol::Amqp, _) => AMQP_IDLE_SECS / 2.0,
            (Protocol::Mqtt, Sdk::Dotnet) => 75.0,
            (Protocol::Mqtt, other) => other.keepalive_secs(),
        }
    }

    /// How long the client waits for the hub to accept a connect before it gives up on that
    /// socket and retries: C 30 s (`iothub_client/src/iothubtransport_mqtt_common.c`
    /// `DEFAULT_CONNACK_TIMEOUT 30`); .NET 60 s (`ClientSettings/MqttTransportSettings.cs`
    /// `s_defaultConnectArrivalTimeout`); Java 60 s (`transport/mqtt/Mqtt.java`
    /// `CONNECTION_TIMEOUT`); Node 60 s (`common/transport/mqtt/src/mqtt_base.ts`
    /// `connectTimeout`); Python 60 s (`common/pipeline/pipeline_stages_mqtt.py`
    /// `WATCHDOG_INTERVAL`). docs/research/sdk-behaviour.md §2.
    pub(crate) const fn connect_timeout_secs(self) -> f64 {
        match self {
            Sdk::C => 30.0,
            Sdk::Dotnet | Sdk::Java | Sdk::Node | Sdk::Python => 60.0,
        }
    }

    /// How long after its last packet the client itself finds a dead connection, tears it down
    /// and starts reconnecting. .NET MQTT sends PINGREQ once idle over 75 s (checked every 75 s)
    /// and waits 30 s for PINGRESP (azure-iot-sdk-csharp
    /// `iothub/device/src/Transport/Mqtt/MqttIotHubAdapter.cs` `s_pingResponseTimeout`,
    /// `PingServerAsync`): 105–180 s. The other MQTT clients (paho, mqtt.js, umqtt): a ping
    /// interval plus a 30 s response wait, unverified. AMQP: the client's own idle timeout (.NET
    /// 2 min, `AmqpTransportSettings.cs`; Java 230 s, `AmqpsIotHubConnection.java`; C 240 s,
    /// `DEFAULT_SERVICE_KEEP_ALIVE_FREQ_SECS`; Node unverified, taken as 240 s).
    pub(crate) fn dead_peer_secs(self, protocol: Protocol, rng: &mut Rng) -> f64 {
        match (protocol, self) {
            (Protocol::Mqtt, Sdk::Dotnet) => rng.range(75.0, 150.0) + 30.0,
            (Protocol::Mqtt, other) => other.keepalive_secs() + 30.0,
            (Protocol::Amqp, Sdk::Dotnet) => 120.0,
            (Protocol::Amqp, Sdk::Java) => 230.0,
            (Protocol::Amqp, _) => 240.0,
        }
    }

    /// When the hub closes a silent MQTT connection after its last packet: 1.5 × keep-alive,
    /// capped at 1 767 s. AMQP links use the hub's 4-min remote idle.
    pub(crate) fn idle_close_secs(self, protocol: Protocol) -> f64 {
        match protocol {
            Protocol::Mqtt => (1.5 * self.keepalive_secs()).min(IDLE_CAP_SECS),
            Protocol::Amqp => AMQP_IDLE_SECS,
        }
    }

    /// The renewal behaviour on MQTT + SAS for a token life of `ttl` seconds.
    pub(crate) fn renewal(self, ttl: f64) -> Renewal {
        match self {
            Sdk::C => Renewal::ClientReconnect(0.8 * ttl),
            Sdk::Node => Renewal::ClientReconnect((ttl - 900.0).max(0.5 * ttl)),
            Sdk::Python => Renewal::ClientReconnect((ttl - 120.0).max(0.5 * ttl)),
            Sdk::Dotnet | Sdk::Java => Renewal::HubCloses,
        }
    }

    /// Whether the SDK stops retrying after [`GIVE_UP_SECS`] (the application then recreates the
    /// client later).
    pub(crate) const fn gives_up(self) -> bool {
        matches!(self, Sdk::Java | Sdk::Node)
    }

    /// The delay in seconds before retry number `attempt` (0 = the first retry after a drop),
    /// with each SDK's default policy and jitter. `throttled` selects Node's throttling policy.
    pub(crate) fn retry_delay_secs(self, attempt: u32, throttled: bool, rng: &mut Rng) -> f64 {
        let n = attempt.min(30);
        let pow = f64::from(1u32 << n.min(20));
        match self {
            // iothub_client_retry_control.c: first retry immediate, then
            // min(2^(n-1) s, 30 s) × (1 + U[0, 0.05]).
            Sdk::C => {
                if n == 0 {
                    0.0
                } else {
                    (pow / 2.0).min(30.0) * (1.0 + rng.range(0.0, 0.05))
                }
            }
            // ExponentialBackoff(100 ms, 10 s, 100 ms): min((2^n − 1) × U[80,120) ms + 100 ms, 10 s),
            // with no fast first retry (`RetryStrategyAdapter`: `base(null, false)`) and attempts
            // at least 1 s apart after the first (`RetryPolicy.RunWithRetryAsync`
            // `minimumTimeBetweenRetries`).
            Sdk::Dotnet => {
                let delay = ((pow - 1.0) * rng.range(0.080, 0.120) + 0.100).min(10.0);
                if n == 0 { delay } else { delay.max(1.0) }
            }
            // ExponentialBackoffWithJitter, first fast retry.
            Sdk::Java => {
                if n == 0 {
                    0.0
                } else {
                    (0.100 + (pow - 1.0) * rng.range(0.080, 0.120)).min(10.0)
                }
            }
            // retry_policy.ts: the jitter term is Math.random() × 0.25 c.
            Sdk::Node => {
                let half = pow / 2.0;
                if throttled {
                    (10.0 + (half - 1.0).max(0.0) * rng.range(0.0, 1.25)).min(60.0)
                } else if n == 0 {
                    0.0
                } else {
                    (0.100 + (half - 1.0).max(0.0) * rng.range(0.0, 0.025)).min(10.0)
                }
            }
            // Python v2: the first reconnect after a drop 0.01 s later, then a fixed 10 s after
            // each failed attempt (`common/pipeline/pipeline_stages_base.py`
            // `ConnectionStateStage`: `_start_reconnect_timer(0.01)`; `connection_retry_interval`).
            Sdk::Python => {
                if n == 0 {
                    0.01
                } else {
                    10.0
                }
            }
        }
    }

    /// The `sdkVersion` the hub logs: the user agent each SDK puts in the MQTT username's
    /// `DeviceClientType=` (AMQP: the `com.microsoft:client-version` link property), built
    /// exactly as the SDK builds it, for a device on Windows or Linux. `variant` picks a
    /// released version and runtime. docs/research/sdk-behaviour.md §3 gives each source:
    /// - C, `make_product_info` and c-shared-utility `platform_get_platform_info`
    ///   (`adapters/platform_linux.c`): `iothubclient/1.15.0 (native; Linux; x86_64)`.
    /// - .NET, `ProductInfo.ToString` (azure-iot-sdk-csharp `iothub/device/src/ProductInfo.cs`):
    ///   `.NET/{version} ({runtime}; {OSDescription}[ WindowsProduct:0x%08X]; {arch}[; {sqmId}])`,
    ///   the product type and the `{GUID}` (the SQM machine id from the Windows registry) only
    ///   on Windows, the GUID only where that registry value exists.
    /// - Java, `TransportUtils.USER_AGENT_STRING`: `(javaVersion; osName; arch)`.
    /// - Node, `device/core/src/utils.ts` and `common/core/src/utils.ts`
    ///   `getAgentPlatformString`: `(node v18.19.0; Ubuntu 22.04; x64)`, the distro on Linux
    ///   and `os.type() os.release()` elsewhere.
    /// - Python, `azure-iot-device/azure/iot/device/user_agent.py`: no space before `(`, `;`
    ///   with no spaces, and `platform.version()`, the kernel build string on Linux.
    pub(crate) fn user_agent(self, variant: u64, windows: bool) -> String {
        const KERNEL: &str = "#60~20.04.1-Ubuntu SMP Fri Nov 3 10:22:11 UTC 2023";
        let pick = |list: &[&'static str], salt: u64| {
            list[(crate::rng::mix(&[variant, salt]) % list.len() as u64) as usize]
        };
        match (self, windows) {
            (Sdk::C, _) => format!(
                "iothubclient/{} (native; Linux; {})",
                pick(&["1.15.0", "1.14.0", "1.13.0", "1.12.0", "1.9.0"], 1),
                pick(&["x86_64", "x86_64", "armv7l", "aarch64"], 2)
            ),
            (Sdk::Dotnet, false) => format!(
                ".NET/{} ({}; Linux 5.15.0-1052-azure {KERNEL}; X64)",
                pick(&["1.42.3", "1.42.0", "1.41.3", "1.40.0", "1.38.0"], 1),
                pick(&[".NET 6.0.25", ".NET 6.0.16", ".NET 8.0.0", ".NET Core 3.1.32"], 3)
            ),
            (Sdk::Dotnet, true) => {
                let sqm = if crate::rng::mix(&[variant, 4]) % 10 < 6 {
                    format!("; {{{}}}", guid(variant))
                } else {
                    String::new()
                };
                format!(
                    ".NET/{} ({}; {}; {}{sqm})",
                    pick(&["1.42.3", "1.41.3", "1.38.0", "1.36.0", "1.21.2"], 1),
                    pick(&[".NET 6.0.25", ".NET Core 3.1.19", ".NET Framework 4.8.4200.0"], 3),
                    pick(
                        &[
                            "Microsoft Windows 10.0.22000 WindowsProduct:0x00000030",
                            "Microsoft Windows 10.0.17763 WindowsProduct:0x00000004",
                            "Microsoft Windows 10.0.19045 WindowsProduct:0x00000030",
                        ],
                        5
                    ),
                    pick(&["X64", "X64", "X86"], 6)
                )
            }
            (Sdk::Java, _) => format!(
                "com.microsoft.azure.sdk.iot.iot-device-client/{} ({}; {}; amd64)",
                pick(&["2.5.1", "2.4.1", "2.1.5", "1.34.3", "1.30.1"], 1),
                pick(&["17.0.9", "11.0.21", "1.8.0_392"], 3),
                if windows { "Windows 10" } else { "Linux" }
            ),
            (Sdk::Node, false) => format!(
                "azure-iot-device/{} (node {}; {}; x64)",
                pick(&["1.18.4", "1.18.2", "1.17.3", "1.17.1"], 1),
                pick(&["v18.19.0", "v16.20.2", "v20.10.0"], 3),
                pick(&["Ubuntu 22.04", "Ubuntu 20.04", "Debian 11"], 5)
            ),
            (Sdk::Node, true) => format!(
                "azure-iot-device/{} (node {}; Windows_NT 10.0.19045; x64)",
                pick(&["1.18.4", "1.18.2", "1.17.3", "1.17.1"], 1),
                pick(&["v18.19.0", "v16.20.2", "v20.10.0"], 3)
            ),
            (Sdk::Python, false) => format!(
                "azure-iot-device-iothub-py/{}({};Linux {KERNEL};{})",
                pick(&["2.14.0", "2.13.1", "2.12.0", "2.11.0"], 1),
                pick(&["3.10.12", "3.8.10", "3.11.4"], 3),
                pick(&["x86_64", "x86_64", "aarch64", "armv7l"], 2)
            ),
            (Sdk::Python, true) => format!(
                "azure-iot-device-iothub-py/{}({};Windows 10.0.19045;AMD64)",
                pick(&["2.14.0", "2.13.1", "2.12.0", "2.11.0"], 1),
                pick(&["3.10.12", "3.11.4"], 3)
            ),
        }
    }

    /// The share of this SDK's devices running on Windows (a modelling choice: gateways and
    /// PCs run .NET on Windows; the others run mostly on Linux boards).
    pub(crate) const fn windows_percent(self) -> u64 {
        match self {
            Sdk::C => 0,
            Sdk::Dotnet => 50,
            Sdk::Java | Sdk::Node | Sdk::Python => 20,
        }
    }
}

fn guid(variant: u64) -> String {
    let a = crate::rng::mix(&[variant, 1]);
    let b = crate::rng::mix(&[variant, 2]);
    format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFFF,
        b >> 48,
        b & 0xFFFF_FFFF_FFFF
    )
}

/// The `IoT Hub` error codes the simulator writes: (`resultType`, `resultDescription`, `statusCode`).
/// The error codes [`code_info`] knows.
pub(crate) const CODES: [u32; 10] =
    [400_027, 400_029, 400_030, 401_003, 404_104, 409_002, 429_001, 429_002, 500_001, 500_008];

pub(crate) const fn code_info(code: u32) -> (&'static str, &'static str) {
    match code {
        400_027 => ("ConnectionForcefullyClosedOnNewConnection", "400"),
        400_029 => ("ConnectionForcefullyClosedOnFaultInjection", "400"),
        400_030 => ("ConnectionRejectedOnFaultInjection", "400"),
        401_003 => ("IoTHubUnauthorized", "401"),
        404_104 => ("DeviceConnectionClosedRemotely", "404"),
        409_002 => ("LinkCreationConflict", "409"),
        429_001 => ("ThrottlingException", "429"),
        429_002 => ("ThrottleBacklogLimitExceeded", "429"),
        500_001 => ("ServerError", "500"),
        500_008 => ("GenericTimeout", "500"),
        _ => ("", ""),
    }
}

#[cfg(test)]
mod tests {
    use crate::rng::Rng;
    use crate::sdk::{Protocol, Renewal, Sdk};

    fn check(sdk: Sdk, idle: f64, renewal: Renewal) {
        assert!((sdk.idle_close_secs(Protocol::Mqtt) - idle).abs() < 1e-9, "{sdk:?}");
        assert_eq!(sdk.renewal(3600.0), renewal, "{sdk:?}");
    }

    #[test]
    fn documented_defaults() {
        check(Sdk::C, 360.0, Renewal::ClientReconnect(2880.0));
        check(Sdk::Dotnet, 450.0, Renewal::HubCloses);
        check(Sdk::Java, 345.0, Renewal::HubCloses);
        check(Sdk::Node, 270.0, Renewal::ClientReconnect(2700.0));
        check(Sdk::Python, 90.0, Renewal::ClientReconnect(3480.0));
    }

    #[test]
    fn back_off_is_capped_per_sdk() {
        let mut rng = Rng::new(&[3]);
        for attempt in 0..40 {
            assert!(Sdk::C.retry_delay_secs(attempt, false, &mut rng) <= 31.5);
            assert!(Sdk::Dotnet.retry_delay_secs(attempt, false, &mut rng) <= 10.0);
            assert!(Sdk::Java.retry_delay_secs(attempt, false, &mut rng) <= 10.0);
            assert!(Sdk::Node.retry_delay_secs(attempt, true, &mut rng) <= 60.0);
            let python = Sdk::Python.retry_delay_secs(attempt, false, &mut rng);
            let want = if attempt == 0 { 0.01 } else { 10.0 };
            assert!((python - want).abs() < 1e-9);
        }
        assert!(Sdk::C.retry_delay_secs(0, false, &mut rng).abs() < 1e-9);
        assert!(Sdk::Node.retry_delay_secs(0, true, &mut rng) >= 10.0);
    }
}
