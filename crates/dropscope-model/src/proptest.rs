//! proptest strategies for model types, behind the `proptest` feature.

use proptest::prelude::*;

use crate::{Event, Level, Operation, Repairs, ResultCode, Session, Sym, Timestamp};

/// Timestamps between 2015 and 2035 with whole seconds or a 7-digit fraction, as IoT Hub writes.
pub fn timestamp() -> impl Strategy<Value = Timestamp> {
    (1_420_070_400_i64..2_051_222_400, prop_oneof![Just(0_i64), 0_i64..10_000_000])
        .prop_map(|(secs, ticks)| Timestamp(secs * 1_000_000_000 + ticks * 100))
}

/// Text that can hold anything a hostile log line could: quotes, backslashes, markup, unicode.
pub fn wild_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.-]{1,24}",
        "[\"\\\\<>&'=+@,;\n\r\t a-z\u{e9}\u{1F600}]{1,16}",
        Just("<script>alert(1)</script>".to_owned()),
        Just("](javascript:alert(1))".to_owned()),
    ]
}

/// A whole event with any optional field set or not. `source` and `source_line` are 0.
pub fn event() -> impl Strategy<Value = Event> {
    (
        timestamp(),
        "[a-z0-9-]{1,20}",
        wild_text(),
        proptest::option::of(wild_text()),
        any::<bool>(),
        prop_oneof![
            Just(Level::Information),
            Just(Level::Warning),
            Just(Level::Error),
            Just(Level::Critical)
        ],
        proptest::option::of((100_000_u32..600_000, "[A-Za-z]{1,30}")),
        proptest::option::of(prop_oneof![
            Just("Mqtt"),
            Just("Amqp"),
            Just("MqttWs"),
            Just("Https")
        ]),
        proptest::option::of("[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.XXX"),
        proptest::option::of(wild_text()),
        proptest::option::of(Just(
            r#"{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}"#,
        )),
        proptest::option::of("[0-9]{3}"),
    )
        .prop_map(
            |(
                time,
                hub,
                device_id,
                module_id,
                connect,
                level,
                result,
                protocol,
                masked_ip,
                sdk_version,
                auth_type,
                status_code,
            )| {
                let operation = if connect { Operation::Connect } else { Operation::Disconnect };
                let mut event = Event::new(time, &hub, &device_id, operation);
                event.module_id = module_id.map(Sym::from);
                event.level = level;
                if let Some((code, description)) = result {
                    // Every code of the range is held (`ResultCode` holds all but `u32::MAX`).
                    event.result_type = ResultCode::new(code);
                    event.result_description = Some(Sym::from(description));
                }
                event.protocol = protocol.map(Sym::new);
                event.masked_ip = masked_ip.map(Sym::from);
                event.sdk_version = sdk_version.map(Sym::from);
                event.auth_type = auth_type.map(Sym::new);
                event.status_code = status_code.map(Sym::from);
                event
            },
        )
}

/// A session with any optional field set or not (the fields need not agree with each other).
pub fn session() -> impl Strategy<Value = Session> {
    (
        (event(), proptest::option::of(timestamp()), proptest::option::of(timestamp())),
        (0_u32..50, proptest::option::of(0_i64..1_000_000_000_000), 0_u32..5, any::<bool>()),
        (proptest::option::of(0_usize..4), 0_u8..64),
    )
        .prop_map(
            |((event, connect, disconnect), (session_id, gap, failed, overlap), (level, bits))| {
                let levels = [Level::Information, Level::Warning, Level::Error, Level::Critical];
                let mut repaired = Repairs::NONE;
                for (bit, flag) in [
                    Repairs::MISSING_CONNECT,
                    Repairs::MISSING_DISCONNECT,
                    Repairs::DUPLICATE_DROPPED,
                    Repairs::REORDERED,
                    Repairs::MERGED_END,
                    Repairs::SUBJECT_MISMATCH,
                ]
                .into_iter()
                .enumerate()
                {
                    if bits & (1 << bit) != 0 {
                        repaired.insert(flag);
                    }
                }
                Session {
                    hub: event.hub,
                    device_id: event.device_id,
                    module_id: event.module_id,
                    session_id,
                    connect_time: connect.into(),
                    disconnect_time: disconnect.into(),
                    protocol: event.protocol,
                    masked_ip: event.masked_ip,
                    sdk_version: event.sdk_version,
                    end_result_type: event.code(),
                    end_level: level.map(|l| levels[l]),
                    gap_before_ns: gap.into(),
                    failed_connects_before: failed,
                    overlap,
                    repaired,
                }
            },
        )
}
