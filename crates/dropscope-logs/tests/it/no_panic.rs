//! Arbitrary bytes never panic detection or any parser, and every record is accounted for.

use dropscope_logs::{detect, fuzz};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// Bytes that look like log text often enough to reach the deep parser paths.
fn loggy_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(&b"{"[..]),
        Just(&b"}"[..]),
        Just(&b"["[..]),
        Just(&b"]"[..]),
        Just(&b","[..]),
        Just(&b"\n"[..]),
        Just(&b"\""[..]),
        Just(&b"\\"[..]),
        Just(&br#""records":"#[..]),
        Just(&br#""time":"2023-09-21T22:16:00Z","#[..]),
        Just(&br#""operationName":"deviceConnect","#[..]),
        Just(&br#""properties":"{\"deviceId\":\"d\"}""#[..]),
        Just(&br#""eventType":"Microsoft.Devices.DeviceConnected","data":{"deviceId":"x"}"#[..]),
        Just(&b"TimeGenerated,OperationName,properties_s\n"[..]),
        Just(&b"\x1f\x8b"[..]),
        Just(&b"\xEF\xBB\xBF"[..]),
    ];
    prop::collection::vec(
        prop_oneof![pieces.prop_map(<[u8]>::to_vec), prop::collection::vec(any::<u8>(), 0..8)],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for (_, target) in fuzz::TARGETS {
            target(&bytes);
        }
    }

    #[test]
    fn log_like_bytes_never_panic(bytes in loggy_bytes()) {
        let _ = detect::detect(&bytes);
        for (_, target) in fuzz::TARGETS {
            target(&bytes);
        }
    }
}
