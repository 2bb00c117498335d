//! IoT Hub result codes seen on connection records, grouped as the error-code reference groups them
//! (docs/research/iothub-logs.md §3.2).

/// 404104 `DeviceConnectionClosedRemotely`: the hub closed a connection it lost.
pub(crate) const DEVICE_CONNECTION_CLOSED_REMOTELY: u32 = 404_104;
/// 401003 `IoTHubUnauthorized`: an expired or rejected token.
pub(crate) const IOTHUB_UNAUTHORIZED: u32 = 401_003;

/// 401xxx, 403012 `DeviceDisabled` and 404001 `DeviceNotFound`: the hub refused the credentials or
/// the identity. 403002 (daily quota) is not an auth failure.
pub(crate) fn is_auth(code: u32) -> bool {
    matches!(code, 401_000..=401_999 | 403_012 | 404_001)
}

/// 400027 `ConnectionForcefullyClosedOnNewConnection` (MQTT) and 409002 `LinkCreationConflict` (AMQP):
/// a new connection for an identity that already had one.
pub(crate) fn is_conflict(code: u32) -> bool {
    matches!(code, 400_027 | 409_002)
}

/// 400029 and 400030: connections closed or rejected during service and platform upgrades.
pub(crate) fn is_upgrade(code: u32) -> bool {
    matches!(code, 400_029 | 400_030)
}

/// 429xxx: throttling.
pub(crate) fn is_throttling(code: u32) -> bool {
    (429_000..=429_999).contains(&code)
}

/// 500xxx, 503xxx, 504xxx and 404012 `IotHubFailingOver`: the hub's side failed.
pub(crate) fn is_server(code: u32) -> bool {
    matches!(code, 500_000..=500_999 | 503_000..=504_999 | 404_012)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_disjoint() {
        let groups: [fn(u32) -> bool; 5] =
            [is_auth, is_conflict, is_upgrade, is_throttling, is_server];
        for code in [
            401_003, 401_002, 403_012, 404_001, 400_027, 409_002, 400_029, 400_030, 429_001,
            500_001, 503_005, 404_012,
        ] {
            assert_eq!(groups.iter().filter(|group| group(code)).count(), 1, "{code}");
        }
        for code in [404_104, 403_002, 499_000] {
            assert_eq!(groups.iter().filter(|group| group(code)).count(), 0, "{code}");
        }
    }
}
