//! Behaviour tests of the simulator: determinism, each documented SDK and hub behaviour, and a
//! round trip through dropscope-logs' readers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use dropscope_logs::Form;
use dropscope_logs::ingest::{IngestConfig, ingest};
use dropscope_logs::write::WriteOptions;
use dropscope_model::{Cause, Operation, Sym};

use crate::sdk::{Protocol, Sdk};
use crate::{OutputConfig, Scenario, SimOptions, Simulation, simulate};

fn sim(name: &str, devices: u32, hours: u32, seed: u64) -> Simulation {
    let mut scenario = Scenario::named(name).unwrap_or_else(|| panic!("no scenario {name}"));
    scenario.fleet.devices = devices;
    scenario.window.hours = hours;
    simulate(&scenario, &SimOptions { seed, frac_digits: 0 }).unwrap_or_else(|e| panic!("{e}"))
}

fn jsonl(truth: bool) -> OutputConfig {
    OutputConfig { form: Form::JsonLines, gzip: false, truth, write: WriteOptions::default() }
}

fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{e}")) {
                stack.push(entry.unwrap_or_else(|e| panic!("{e}")).path());
            }
        } else {
            let rel = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
            out.insert(rel, std::fs::read(&path).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    out
}

fn write_in_pool(threads: usize, dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    pool.install(|| {
        let sim = sim("mixed-day", 150, 6, 11);
        sim.write(&jsonl(true), dir, &|_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    });
    read_tree(dir)
}

#[test]
fn same_bytes_at_one_and_many_threads() {
    let one = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let many = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let a = write_in_pool(1, one.path());
    let b = write_in_pool(4, many.path());
    assert!(a.len() > 3, "{:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(b.get(path) == Some(bytes), "{path} differs");
    }
}

/// The times (s) of each device's disconnects with `cause`, for devices matching `keep`.
fn disconnect_times(
    sim: &Simulation,
    cause: Cause,
    keep: impl Fn(Sdk, Protocol) -> bool,
) -> BTreeMap<String, Vec<(i64, Option<u32>)>> {
    let mut out: BTreeMap<String, Vec<(i64, Option<u32>)>> = BTreeMap::new();
    for rec in &sim.records {
        let device = &sim.devices[rec.device as usize];
        if rec.op == crate::walk::Op::Disconnect
            && rec.cause == cause
            && keep(device.sdk, device.protocol)
        {
            out.entry(device.id.to_string())
                .or_default()
                .push((rec.time / 1_000_000_000, (rec.code != 0).then_some(rec.code)));
        }
    }
    out
}

fn check_renewal_gaps(sdk: Sdk, lo: i64, hi: i64) {
    let sim = sim("token-churn", 60, 6, 3);
    let by_device =
        disconnect_times(&sim, Cause::TokenExpiry, |s, p| s == sdk && p == Protocol::Mqtt);
    let mut n_gaps = 0;
    for times in by_device.values() {
        let starts: Vec<i64> =
            times.iter().filter(|(_, code)| *code != Some(404_104)).map(|t| t.0).collect();
        for pair in starts.windows(2) {
            let gap = pair[1] - pair[0];
            assert!((lo..=hi).contains(&gap), "{sdk:?}: gap {gap} s not in {lo}..={hi}");
            n_gaps += 1;
        }
    }
    assert!(n_gaps > 5, "{sdk:?}: only {n_gaps} gaps");
}

#[test]
fn token_renewal_cadence_per_sdk() {
    // C renews at 48 min, Node at 45, Python at 58, each plus a reconnect of a few seconds.
    check_renewal_gaps(Sdk::C, 2880, 2884);
    check_renewal_gaps(Sdk::Node, 2700, 2704);
    check_renewal_gaps(Sdk::Python, 3480, 3484);
    // .NET and Java: the hub closes at expiry + a 5-10 min grace, the device reconnects within
    // a minute: 65-71 min apart.
    check_renewal_gaps(Sdk::Dotnet, 3900, 4262);
    check_renewal_gaps(Sdk::Java, 3900, 4262);
}

#[test]
fn dotnet_expiry_is_401003_then_404104() {
    let sim = sim("token-churn", 60, 3, 3);
    let by_device =
        disconnect_times(&sim, Cause::TokenExpiry, |s, p| s == Sdk::Dotnet && p == Protocol::Mqtt);
    assert!(!by_device.is_empty());
    for times in by_device.values() {
        for pair in times.chunks(2) {
            assert_eq!(pair[0].1, Some(401_003));
            if let Some(second) = pair.get(1) {
                assert_eq!(second.1, Some(404_104));
                assert!(second.0 - pair[0].0 <= 1);
            }
        }
    }
}

#[test]
fn silent_java_device_closed_345_s_after_last_packet() {
    let mut scenario = Scenario::named("quiet-day").unwrap_or_else(|| panic!("quiet-day"));
    scenario.fleet.devices = 200;
    scenario.window.hours = 12;
    scenario.background.keepalive_timeouts_per_day = 4.0;
    let sim = simulate(&scenario, &SimOptions { seed: 5, frac_digits: 7 })
        .unwrap_or_else(|e| panic!("{e}"));
    let mut n_java = 0;
    for (device, silence) in &sim.silences {
        let profile = &sim.devices[*device as usize];
        let expected = match (profile.protocol, profile.sdk) {
            (Protocol::Amqp, _) => 240.0,
            (Protocol::Mqtt, Sdk::C) => 360.0,
            (Protocol::Mqtt, Sdk::Dotnet) => 450.0,
            (Protocol::Mqtt, Sdk::Java) => 345.0,
            (Protocol::Mqtt, Sdk::Node) => 270.0,
            (Protocol::Mqtt, Sdk::Python) => 90.0,
        };
        let gap = (silence.close_ns - silence.last_packet_ns) as f64 / 1e9;
        assert!((gap - expected).abs() < 1e-3, "{:?}: {gap}", profile.sdk);
        let rec = sim.records.iter().find(|r| r.device == *device && r.time == silence.close_ns);
        assert_eq!(rec.map(|r| (r.code, r.cause)), Some((404_104, Cause::KeepaliveTimeout)));
        n_java += usize::from(profile.sdk == Sdk::Java && profile.protocol == Protocol::Mqtt);
    }
    assert!(n_java > 0);
}

#[test]
fn duplicate_identity_alternates_ips() {
    let sim = sim("duplicate-identity", 300, 12, 4);
    let mut dups: BTreeSet<u32> = BTreeSet::new();
    for rec in &sim.records {
        if rec.cause == Cause::DuplicateIdentity {
            dups.insert(rec.device);
        }
    }
    assert!(!dups.is_empty());
    for device in dups {
        let events: Vec<_> =
            sim.events().filter(|e| e.event.device_id == sim.devices[device as usize].id).collect();
        let first =
            events.iter().position(|e| e.cause == Some(Cause::DuplicateIdentity)).unwrap_or(0);
        let last =
            events.iter().rposition(|e| e.cause == Some(Cause::DuplicateIdentity)).unwrap_or(0);
        let ips: Vec<&str> = events[first..=last + 1.min(events.len() - 1 - last)]
            .iter()
            .filter(|e| e.event.operation == Operation::Connect)
            .filter_map(|e| e.event.masked_ip.as_deref())
            .collect();
        assert!(ips.len() >= 2);
        for pair in ips.windows(2) {
            assert_ne!(pair[0], pair[1], "IPs do not alternate");
        }
        let code = match sim.devices[device as usize].protocol {
            Protocol::Mqtt => 400_027,
            Protocol::Amqp => 409_002,
        };
        assert!(
            events
                .iter()
                .filter(|e| e.cause == Some(Cause::DuplicateIdentity))
                .all(|e| e.event.code() == Some(code))
        );
    }
}

#[test]
fn revoked_devices_never_come_back() {
    let sim = sim("bad-credentials", 300, 8, 2);
    let mut revoked: BTreeMap<Sym, usize> = BTreeMap::new();
    let mut after: BTreeSet<Sym> = BTreeSet::new();
    for e in sim.events() {
        if e.cause == Some(Cause::AuthFailure) {
            assert_eq!(e.event.code(), Some(401_003));
            *revoked.entry(e.event.device_id).or_default() += 1;
        } else if revoked.contains_key(&e.event.device_id)
            && e.event.operation == Operation::Connect
        {
            after.insert(e.event.device_id);
        }
    }
    assert!(!revoked.is_empty());
    assert!(revoked.values().all(|n| *n >= 3), "{revoked:?}");
    assert!(after.is_empty(), "{after:?} connected again");
}

#[test]
fn every_cause_appears_in_mixed_day() {
    let sim = sim("mixed-day", 5000, 24, 8);
    let causes: BTreeSet<Cause> = sim.events().filter_map(|e| e.cause).collect();
    let want: BTreeSet<Cause> = Cause::ALL.into_iter().filter(|c| *c != Cause::Unknown).collect();
    assert_eq!(causes, want);
}

#[test]
fn round_trip_through_the_readers() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sim = sim("mixed-day", 120, 6, 21);
    let summary = sim.write(&jsonl(true), dir.path(), &|_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    assert!(summary.malformed > 0 && summary.duplicated > 0 && summary.dropped > 0, "{summary:?}");
    let logs = dir.path().join("logs");
    let ingested = ingest(&[logs], &IngestConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ingested.stats.rejected, summary.malformed, "{:?}", ingested.rejects);
    assert_eq!(ingested.stats.duplicates, summary.duplicated);
    assert_eq!(ingested.stats.parsed, summary.written - summary.duplicated);
    assert_eq!(ingested.stats.parsed, summary.records - summary.dropped);

    // Every label points at a record: (device, time, operation, occurrence).
    let labels = dropscope_logs::labels::read_labels(&dir.path().join("truth/labels.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(labels.len() as u64, summary.labels);
    let mut distinct: BTreeMap<(String, i64, Operation), u32> = BTreeMap::new();
    for event in &ingested.events {
        *distinct
            .entry((event.device_id.to_string(), event.time.nanos(), event.operation))
            .or_default() += 1;
    }
    for label in &labels {
        let key = (label.device_id.clone(), label.time.nanos(), label.operation);
        let n = distinct.get(&key).copied().unwrap_or(0);
        assert!(label.occurrence < n, "{label:?} points at no record");
    }
    let failed = ingested
        .events
        .iter()
        .filter(|e| e.is_failed_connect() || e.operation == Operation::Disconnect)
        .count();
    assert_eq!(labels.len(), failed);
}

/// Writes `form`, reads it back, and checks what only the Event Grid and routed forms promise: one event per
/// connection-state change, each with a sequence number that grows per device, nothing
/// collapsing into a duplicate but the injected copies, and labels for the written records only.
fn check_event_grid(form: Form) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sim = sim("mixed-day", 120, 6, 21);
    let config = OutputConfig { form, ..jsonl(true) };
    let summary = sim.write(&config, dir.path(), &|_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    // Event Grid's 60 s snapshots leave out changes undone within a window.
    let changes = sim.records.iter().filter(|r| r.state_change).count() as u64;
    assert!(summary.records < changes && summary.records > 0, "{summary:?}");
    assert!(changes < sim.n_records() as u64, "no failed connect or 404104 left out");
    assert!(summary.duplicated > 0, "{summary:?}");

    let logs = dir.path().join("logs");
    let ingested = ingest(&[logs], &IngestConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ingested.stats.rejected, 0, "{:?}", ingested.rejects);
    assert_eq!(ingested.stats.duplicates, summary.duplicated, "{form:?}");
    assert_eq!(ingested.stats.parsed, summary.records - summary.dropped, "{form:?}");
    assert!(ingested.events.iter().all(|e| !e.is_failed_connect()));

    // Per device, in time order, sequence numbers are 64 hex digits and strictly increasing.
    let mut by_device: BTreeMap<&str, Vec<(i64, &str)>> = BTreeMap::new();
    for event in &ingested.events {
        let seq = event.seq.as_deref().unwrap_or_else(|| panic!("no seq: {event:?}"));
        assert!(seq.len() == 64 && seq.bytes().all(|b| b.is_ascii_hexdigit()), "{seq}");
        by_device.entry(&event.device_id).or_default().push((event.time.nanos(), seq));
    }
    for (device, mut events) in by_device {
        events.sort_unstable();
        for pair in events.windows(2) {
            assert!(pair[0].1 < pair[1].1, "{device}: {pair:?} not increasing");
        }
    }

    // Labels cover the written disconnects only, each pointing at a record.
    let labels = dropscope_logs::labels::read_labels(&dir.path().join("truth/labels.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    let disconnects =
        ingested.events.iter().filter(|e| e.operation == Operation::Disconnect).count();
    assert_eq!(labels.len(), disconnects);
    assert!(labels.iter().all(|l| l.operation == Operation::Disconnect));
}

#[test]
fn event_grid_holds_state_changes_with_sequence_numbers() {
    check_event_grid(Form::EventGrid);
    check_event_grid(Form::CloudEvents);
}

/// `--format routed-json` (issue 19): the routed connection-state events read back as what
/// was written, like the Event Grid forms.
#[test]
fn routed_json_holds_state_changes_with_sequence_numbers() {
    check_event_grid(Form::RoutedJson);
    check_event_grid(Form::Avro);
}

fn check_seq(time: i64, seq: u32, expected: &str) {
    let rec = crate::walk::Rec {
        time,
        device: 0,
        seq,
        code: 0,
        op: crate::walk::Op::Connect,
        client: 0,
        cause: Cause::Unknown,
        state_change: true,
    };
    assert_eq!(crate::output::sequence_number(&rec), expected);
}

#[test]
fn sequence_numbers_are_filetime_then_counter() {
    // The FILETIME of Microsoft's sample, 2018-07-03T23:19:43.2222946Z.
    check_seq(
        1_530_659_983_222_294_600,
        0,
        "000000000000000001D4132452F67CE200000002000000000000000000000001",
    );
    check_seq(0, 41, "0000000000000000019DB1DED53E80000000000200000000000000000000002A");
}

#[test]
fn a_form_dropscope_only_reads_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = OutputConfig { form: Form::LegacyOperationsMonitoring, ..jsonl(false) };
    let err = sim("quiet-day", 5, 1, 1).write(&config, dir.path(), &|_, _| {}).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some(
            "cannot write the legacy-opsmon form: dropscope reads this form but does not write it"
        )
    );
    assert!(!dir.path().join("logs").exists());
}
