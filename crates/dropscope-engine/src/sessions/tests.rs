//! Golden tests of session reconstruction on small handmade timelines, and its invariants.

use std::fmt::Write as _;

use dropscope_model::{Event, Level, Operation, Repairs, ResultCode, Session, Sym, Timestamp};
use proptest::prelude::*;

use crate::sessions::{EventRole, SessionTable, build};

const BASE: i64 = 1_700_000_000;

/// Parses `"<device> <secs> <C|D|F> [code|-] [masked ip|-] [seq=<sequence number>]"` lines (`F`
/// is a failed connect, a code makes the record an error), in input order.
pub(crate) fn events(text: &str) -> Vec<Event> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let secs: f64 = fields[1].parse().unwrap();
            let time = Timestamp(BASE * 1_000_000_000 + (secs * 1e9).round() as i64);
            let operation =
                if fields[2] == "D" { Operation::Disconnect } else { Operation::Connect };
            let mut event = Event::new(time, "hub", fields[0], operation);
            if fields[2] == "F" {
                event.level = Level::Error;
            }
            if let Some(seq) = fields.iter().find_map(|f| f.strip_prefix("seq=")) {
                event.seq = Some(seq.into());
            }
            if let Some(code) = fields.get(3).filter(|c| **c != "-" && !c.starts_with("seq=")) {
                event.result_type = ResultCode::new(code.parse().unwrap());
                event.level = Level::Error;
            }
            event.masked_ip = fields
                .get(4)
                .filter(|ip| **ip != "-" && !ip.starts_with("seq="))
                .map(|ip| Sym::new(ip));
            event
        })
        .collect()
}

fn secs(t: Option<Timestamp>) -> String {
    t.map_or("-".to_owned(), |t| format!("{}", (t.0 - BASE * 1_000_000_000) / 1_000_000_000))
}

pub(crate) fn render(table: &SessionTable) -> String {
    let mut out = String::new();
    for s in &table.sessions {
        render_session(&mut out, s);
    }
    out
}

fn render_session(out: &mut String, s: &Session) {
    let end = match (s.end_result_type, s.end_level) {
        (Some(code), _) => code.to_string(),
        (None, Some(_)) => "info".to_owned(),
        (None, None) => "-".to_owned(),
    };
    let gap = s.gap_before_ns.get().map_or("-".to_owned(), |g| (g / 1_000_000_000).to_string());
    write!(
        out,
        "{}#{} {}..{} end={end} gap={gap} failed={}",
        s.device_id,
        s.session_id,
        secs(s.connect_time.get()),
        secs(s.disconnect_time.get()),
        s.failed_connects_before
    )
    .unwrap();
    if s.overlap {
        out.push_str(" overlap");
    }
    if !s.repaired.is_empty() {
        write!(out, " [{}]", s.repaired).unwrap();
    }
    out.push('\n');
}

/// `text` with each line trimmed, blank lines dropped, every line ending in a newline.
pub(crate) fn trimmed_lines(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn check(input: &str, expected: &str) {
    let table = build(&events(input));
    assert_eq!(render(&table), trimmed_lines(expected), "input:\n{input}");
    assert_invariants(&events(input), &table);
}

#[test]
fn plain_sessions_with_gaps() {
    check(
        "a 0 C
         a 100 D 404104
         a 160 C
         a 200 D",
        "a#0 0..100 end=404104 gap=- failed=0
         a#1 160..200 end=info gap=60 failed=0",
    );
}

/// Sequence numbers order one device's events of the same time, whatever the input order (an
/// Event Grid batch lists the newer event first), hex letters in either case, leading zeros or
/// not: issue 19.
#[test]
fn sequence_numbers_order_events_of_one_time() {
    // Without them, a connect and a disconnect of one instant would be one short session.
    check(
        "a 10 D seq=0B
         a 10 C seq=0A",
        "a#0 10..10 end=info gap=- failed=0",
    );
    check(
        "a 10 C seq=0B
         a 10 D seq=0a",
        "a#0 -..10 end=info gap=- failed=0 [missing_connect]
         a#1 10..- end=- gap=0 failed=0 [missing_disconnect]",
    );
    check(
        "a 10 C seq=00000000000000000000000000000000000000000000000000000000000000B
         a 10 D seq=0A",
        "a#0 -..10 end=info gap=- failed=0 [missing_connect]
         a#1 10..- end=- gap=0 failed=0 [missing_disconnect]",
    );
    // Time comes first: a later time with a smaller number is still later.
    check(
        "a 20 D seq=01
         a 10 C seq=02",
        "a#0 10..20 end=info gap=- failed=0 [reordered]",
    );
}

/// An Event Grid record whose subject and data disagreed marks its session: issue 19.
#[test]
fn a_subject_mismatch_is_a_repair() {
    let mut input = events("a 0 C\n a 10 D\n a 20 C");
    input[1].subject_mismatch = true;
    let table = build(&input);
    assert_eq!(
        render(&table),
        trimmed_lines(
            "a#0 0..10 end=info gap=- failed=0 [subject_mismatch]
             a#1 20..- end=- gap=10 failed=0 [missing_disconnect]"
        )
    );
    assert_eq!(table.summary.subject_mismatch, 1);
}

#[test]
fn missing_connect_at_start_and_lost_mid_window() {
    check(
        "a 5 D
         a 10 C
         a 20 D
         a 40 D 404104",
        "a#0 -..5 end=info gap=- failed=0 [missing_connect]
         a#1 10..20 end=info gap=5 failed=0
         a#2 -..40 end=404104 gap=- failed=0 [missing_connect]",
    );
}

#[test]
fn open_at_window_end() {
    check(
        "a 0 C
         b 3 D",
        "a#0 0..- end=- gap=- failed=0 [missing_disconnect]
         b#0 -..3 end=info gap=- failed=0 [missing_connect]",
    );
}

#[test]
fn two_connects_without_conflict_is_a_lost_disconnect() {
    check(
        "a 0 C
         a 50 C
         a 90 D",
        "a#0 0..50 end=- gap=- failed=0 [missing_disconnect]
         a#1 50..90 end=info gap=- failed=0",
    );
}

#[test]
fn two_connects_then_conflict_is_an_overlap() {
    check(
        "a 0 C
         a 50 C
         a 51 D 400027
         a 90 D",
        "a#0 0..51 end=400027 gap=- failed=0
         a#1 50..90 end=info gap=0 failed=0 overlap",
    );
}

#[test]
fn conflict_at_the_same_second_as_the_new_connect_is_an_overlap() {
    check(
        "a 0 C
         a 50 C
         a 50 D 409002",
        "a#0 0..50 end=409002 gap=- failed=0
         a#1 50..- end=- gap=0 failed=0 overlap [missing_disconnect]",
    );
}

#[test]
fn token_expiry_pair_is_one_end() {
    check(
        "a 0 C
         a 3900 D 401003
         a 3902 D 404104
         a 3930 C",
        "a#0 0..3900 end=401003 gap=- failed=0 [merged_end]
         a#1 3930..- end=- gap=30 failed=0 [missing_disconnect]",
    );
    // The same second, listed in the other order.
    check(
        "a 0 C
         a 3900 D 404104
         a 3900 D 401003",
        "a#0 0..3900 end=401003 gap=- failed=0 [merged_end]",
    );
}

#[test]
fn token_pair_too_far_apart_is_not_merged() {
    check(
        "a 0 C
         a 100 D 401003
         a 300 D 404104",
        "a#0 0..100 end=401003 gap=- failed=0
         a#1 -..300 end=404104 gap=- failed=0 [missing_connect]",
    );
}

#[test]
fn failed_connects_count_into_the_next_session() {
    check(
        "a 0 C
         a 10 D 404104
         a 11 F 401003
         a 12 F 401003
         a 20 C
         a 30 F 429001",
        "a#0 0..10 end=404104 gap=- failed=0
         a#1 20..- end=- gap=10 failed=2 [missing_disconnect]",
    );
}

#[test]
fn same_second_disconnect_and_reconnect_close_then_open() {
    // Listed connect-first: the open session still closes first.
    check(
        "a 0 C
         a 10 C
         a 10 D",
        "a#0 0..10 end=info gap=- failed=0
         a#1 10..- end=- gap=0 failed=0 [missing_disconnect]",
    );
    // No session open: a connect and a disconnect in one second are one short session.
    check(
        "a 10 D
         a 10 C",
        "a#0 10..10 end=info gap=- failed=0",
    );
}

#[test]
fn same_second_disconnect_and_connect_at_the_window_start() {
    // The device's first records: the disconnect ends a session the window opened in, and the
    // connect opens the next one, which the later disconnect ends (no lost connect needed).
    check(
        "a 10 C
         a 10 D
         a 50 D",
        "a#0 -..10 end=info gap=- failed=0 [missing_connect]
         a#1 10..50 end=info gap=0 failed=0",
    );
    // A connect follows instead: the short session needs no repair either way; connect first.
    check(
        "a 10 D
         a 10 C
         a 50 C",
        "a#0 10..10 end=info gap=- failed=0
         a#1 50..- end=- gap=40 failed=0 [missing_disconnect]",
    );
}

#[test]
fn lost_connect_in_a_duplicate_identity_chain() {
    // The connect at 20 is lost: only the session it opened is affected, and the chain goes on
    // pairing each conflict end with the connect of the same second.
    check(
        "a 0 C
         a 10 C
         a 10 D 400027
         a 20 D 400027
         a 30 C
         a 30 D 400027
         a 40 C
         a 40 D 400027",
        "a#0 0..10 end=400027 gap=- failed=0
         a#1 10..20 end=400027 gap=0 failed=0 overlap
         a#2 -..30 end=400027 gap=- failed=0 [missing_connect]
         a#3 30..40 end=400027 gap=0 failed=0 overlap
         a#4 40..- end=- gap=0 failed=0 overlap [missing_disconnect]",
    );
}

#[test]
fn lost_conflict_end_in_a_duplicate_identity_chain() {
    // The 400027 at 20 is lost: the connect at 20 ends session 1 (an upper bound), and the
    // conflict at 30 belongs to the connect at 30, not to the one at 20.
    check(
        "a 0 C
         a 10 C
         a 10 D 400027
         a 20 C
         a 30 C
         a 30 D 400027
         a 40 C
         a 40 D 400027",
        "a#0 0..10 end=400027 gap=- failed=0
         a#1 10..20 end=- gap=0 failed=0 overlap [missing_disconnect]
         a#2 20..30 end=400027 gap=- failed=0
         a#3 30..40 end=400027 gap=0 failed=0 overlap
         a#4 40..- end=- gap=0 failed=0 overlap [missing_disconnect]",
    );
}

#[test]
fn out_of_order_records_are_sorted_and_flagged() {
    check(
        "a 10 C
         a 100 D
         a 50 C
         a 0 D",
        "a#0 -..0 end=info gap=- failed=0 [missing_connect|reordered]
         a#1 10..50 end=- gap=10 failed=0 [missing_disconnect]
         a#2 50..100 end=info gap=- failed=0 [reordered]",
    );
}

#[test]
fn duplicate_identity_chain_of_overlaps() {
    check(
        "a 0 C
         a 10 C
         a 10 D 400027
         a 20 C
         a 20 D 400027
         a 30 C
         a 30 D 400027",
        "a#0 0..10 end=400027 gap=- failed=0
         a#1 10..20 end=400027 gap=0 failed=0 overlap
         a#2 20..30 end=400027 gap=0 failed=0 overlap
         a#3 30..- end=- gap=0 failed=0 overlap [missing_disconnect]",
    );
}

#[test]
fn summary_and_roles() {
    let input = events(
        "a 0 C
         a 3900 D 401003
         a 3902 D 404104
         a 3910 F 401003
         a 3930 C
         b 5 D",
    );
    let table = build(&input);
    let s = &table.summary;
    assert_eq!(
        (s.sessions, s.devices, s.open_at_start, s.open_at_end, s.merged_ends, s.failed_connects),
        (3, 2, 1, 1, 1, 1)
    );
    assert_eq!(
        table.roles,
        [
            EventRole::Opened(0),
            EventRole::Ended(0),
            EventRole::MergedEnd(0),
            EventRole::FailedConnect { next_session: Some(1) },
            EventRole::Opened(1),
            EventRole::Ended(2),
        ]
    );
    let ending = table.ending(2).unwrap();
    assert!(ending.merged_second);
    assert_eq!(ending.age_ns(), Some(3900 * 1_000_000_000));
    assert_eq!(ending.gap_to_next_ns(), Some(30 * 1_000_000_000));
    assert_eq!(ending.next_failed_connects(), Some(1));
    assert!(table.ending(0).is_none());
    assert!(table.ending(5).unwrap().next.is_none());
    assert_eq!(table.device(1).len(), 1);
    assert_eq!(table.partition.event_device, [0, 0, 0, 0, 0, 1]);
}

#[test]
fn empty_input() {
    let table = build(&[]);
    assert!(table.sessions.is_empty() && table.window.is_none() && table.n_devices() == 0);
}

/// Every event is in exactly one session or is a failed connect, and one device's sessions never
/// overlap in time unless the later one is flagged.
pub(crate) fn assert_invariants(events: &[Event], table: &SessionTable) {
    assert_eq!(table.roles.len(), events.len());
    let mut counted = vec![0_u32; table.sessions.len()];
    for (event, role) in events.iter().zip(&table.roles) {
        let session = match *role {
            EventRole::Opened(s) => {
                assert!(event.operation == Operation::Connect && !event.level.is_error());
                s
            }
            EventRole::Ended(s) | EventRole::MergedEnd(s) => {
                assert_eq!(event.operation, Operation::Disconnect);
                s
            }
            EventRole::FailedConnect { next_session } => {
                assert!(event.is_failed_connect());
                let Some(s) = next_session else { continue };
                counted[s as usize] += 1;
                s
            }
        };
        let session = &table.sessions[session as usize];
        assert_eq!(
            (&session.hub, &session.device_id, &session.module_id),
            (&event.hub, &event.device_id, &event.module_id)
        );
    }
    for (s, n) in table.sessions.iter().zip(counted) {
        assert_eq!(s.failed_connects_before, n);
    }
    for pair in table.sessions.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.device_id != b.device_id || a.hub != b.hub || a.module_id != b.module_id {
            assert!((&a.hub, &a.device_id, &a.module_id) < (&b.hub, &b.device_id, &b.module_id));
            continue;
        }
        assert_eq!(b.session_id, a.session_id + 1);
        if let (Some(end), Some(start)) = (a.disconnect_time.get(), b.connect_time.get()) {
            assert!(end <= start || b.overlap, "{a:?} overlaps {b:?}");
        }
        if a.disconnect_time.is_none() {
            assert!(b.overlap);
        }
    }
    for s in &table.sessions {
        if let (Some(c), Some(d)) = (s.connect_time.get(), s.disconnect_time.get()) {
            assert!(c <= d);
            assert_eq!(s.duration_ns(), Some(d.0 - c.0));
        }
        assert_eq!(s.connect_time.is_none(), s.repaired.contains(Repairs::MISSING_CONNECT));
    }
}

/// Few devices, few distinct seconds and codes, so ties, pairs and overlaps are common.
fn timeline_event() -> impl Strategy<Value = Event> {
    (
        0_usize..4,
        0_i64..40,
        0_u8..4,
        prop_oneof![
            Just(None),
            Just(Some(401_003)),
            Just(Some(404_104)),
            Just(Some(400_027)),
            Just(Some(500_001))
        ],
        proptest::option::of(0_u8..3),
    )
        .prop_map(|(device, secs, kind, code, seq)| {
            let operation = if kind < 2 { Operation::Connect } else { Operation::Disconnect };
            let device = ["a", "b", "c", "d"][device];
            let mut event =
                Event::new(Timestamp::from_secs(BASE + secs * 7), "hub", device, operation);
            if kind == 1 {
                event.level = Level::Error;
            }
            if operation == Operation::Disconnect && code.is_some() {
                event.level = Level::Error;
                event.result_type = code.and_then(ResultCode::new);
            }
            event.seq = seq.map(|s| s.to_string().into());
            event.masked_ip = Some(format!("10.0.{}.XXX", secs % 3).into());
            event
        })
}

/// Distinct events (as the loader gives them), in generated order.
pub(crate) fn timeline() -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec(timeline_event(), 0..60).prop_map(|mut events| {
        let mut kept: Vec<Event> = Vec::with_capacity(events.len());
        for event in events.drain(..) {
            if !kept.iter().any(|k| k.same_record(&event)) {
                kept.push(event);
            }
        }
        kept
    })
}

fn without_reordered(table: &SessionTable) -> Vec<Session> {
    let mut sessions = table.sessions.clone();
    for s in &mut sessions {
        let mut repaired = Repairs::NONE;
        for name in s.repaired.names().filter(|n| *n != "reordered") {
            repaired.insert(Repairs::parse(name).unwrap_or_default());
        }
        s.repaired = repaired;
    }
    sessions
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn invariants_hold(events in timeline()) {
        let table = build(&events);
        assert_invariants(&events, &table);
    }

    #[test]
    fn thread_count_does_not_matter(events in timeline()) {
        let one = pool(1).install(|| build(&events));
        let four = pool(4).install(|| build(&events));
        prop_assert_eq!(&one.sessions, &four.sessions);
        prop_assert_eq!(&one.roles, &four.roles);
        prop_assert_eq!(&one.summary, &four.summary);
    }

    #[test]
    fn input_order_does_not_matter(events in timeline(), seed in any::<u64>()) {
        // A deterministic shuffle from the seed.
        let mut shuffled: Vec<(u64, Event)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| ((i as u64 + 1).wrapping_mul(seed | 1).rotate_left(17) ^ seed, e.clone()))
            .collect();
        shuffled.sort_by_key(|(k, _)| *k);
        let shuffled: Vec<Event> = shuffled.into_iter().map(|(_, e)| e).collect();
        let a = build(&events);
        let b = build(&shuffled);
        prop_assert_eq!(without_reordered(&a), without_reordered(&b));
        // Interleaving devices but keeping each device's own order keeps even the flags.
        let mut by_device = events.clone();
        by_device.sort_by_key(|x| x.device_id);
        prop_assert_eq!(&a.sessions, &build(&by_device).sessions);
    }
}

/// Events on a few hubs, devices and modules, named so that byte order and length disagree.
fn device_mix() -> impl Strategy<Value = Vec<Event>> {
    let event =
        (0_usize..3, 0_usize..4, 0_usize..3, 0_i64..5).prop_map(|(hub, dev, module, secs)| {
            let mut event = Event::new(
                Timestamp::from_secs(BASE + secs),
                ["hub", "hub-b", "a"][hub],
                ["d", "d1", "c", "dd"][dev],
                Operation::Connect,
            );
            event.module_id = [None, Some(Sym::new("m")), Some(Sym::new(""))][module];
            event
        });
    proptest::collection::vec(event, 0..40)
}

/// The grouping by sorting every index by its device's strings, which [`device_runs`] replaces.
fn reference_runs(events: &[Event]) -> (Vec<u32>, Vec<(usize, usize)>) {
    let key = |e: &Event| (e.hub, e.device_id, e.module_id);
    let mut order: Vec<u32> = (0..events.len() as u32).collect();
    order.sort_by_key(|&idx| (key(&events[idx as usize]), idx));
    let mut runs = Vec::new();
    let mut start = 0;
    for pos in 1..=order.len() {
        if pos == order.len()
            || key(&events[order[pos - 1] as usize]) != key(&events[order[pos] as usize])
        {
            runs.push((start, pos));
            start = pos;
        }
    }
    (order, runs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn device_runs_group_in_device_order(events in device_mix(), chunk in 1_usize..12) {
        use crate::partition::{device_runs, device_runs_in_chunks};
        let (order, runs, event_device) = device_runs(&events);
        prop_assert_eq!((order.clone(), runs.clone()), reference_runs(&events));
        // Any number of chunks in the parallel passes gives the same grouping.
        prop_assert_eq!(
            device_runs_in_chunks(&events, chunk),
            (order.clone(), runs.clone(), event_device.clone())
        );
        for (device, &(start, end)) in runs.iter().enumerate() {
            for &idx in &order[start..end] {
                prop_assert_eq!(event_device[idx as usize] as usize, device);
            }
        }
    }
}

proptest! {
    /// The insertion sort sorts, or gives up leaving a permutation, on any input.
    #[test]
    fn nearly_sorted_sorting_sorts_or_gives_up(
        mut items in proptest::collection::vec(0_u32..50, 0..200),
        swaps in proptest::collection::vec((0_usize..200, 0_usize..200), 0..300),
    ) {
        items.sort_unstable();
        let n = items.len();
        for (a, b) in swaps.into_iter().filter(|_| n > 0) {
            items.swap(a % n, b % n);
        }
        let mut sorted = items.clone();
        sorted.sort_unstable();
        let mut ours = items.clone();
        if crate::sessions::sort_nearly_sorted(&mut ours, |a, b| a < b) {
            prop_assert_eq!(ours, sorted);
        } else {
            ours.sort_unstable();
            prop_assert_eq!(ours, sorted);
        }
    }
}

/// Streaming hands over the table's sessions, in order, in several batches of whole devices,
/// with the table's summary, at any thread count.
#[test]
fn streaming_gives_the_table_in_batches() {
    let mut scenario = dropscope_sim::Scenario::named("mixed-day").unwrap();
    scenario.fleet.devices = 3000;
    scenario.window.hours = 24;
    let sim =
        dropscope_sim::simulate(&scenario, &dropscope_sim::SimOptions { seed: 3, frac_digits: 0 })
            .unwrap();
    let events: Vec<Event> = sim.events().map(|e| e.event).collect();
    assert!(events.len() > 2 * (1 << 16), "{} events: too few for two batches", events.len());
    let table = build(&events);
    for threads in [1, 3] {
        let mut batches: Vec<Vec<Session>> = Vec::new();
        let summary = pool(threads)
            .install(|| {
                crate::sessions::stream(&events, |batch| {
                    batches.push(batch.to_vec());
                    Ok::<(), ()>(())
                })
            })
            .unwrap();
        assert!(batches.len() > 1);
        for pair in batches.windows(2) {
            let (last, first) = (pair[0].last().unwrap(), &pair[1][0]);
            assert!(
                (last.hub, last.device_id, last.module_id)
                    != (first.hub, first.device_id, first.module_id)
            );
        }
        assert_eq!(batches.concat(), table.sessions);
        assert_eq!(summary, table.summary);
    }
    // The sink's error stops the stream.
    let mut calls = 0;
    let stopped = crate::sessions::stream(&events, |_| {
        calls += 1;
        Err("full disk")
    });
    assert_eq!((stopped, calls), (Err("full disk"), 1));
}

proptest! {
    /// Occurrences counted per device over the partition equal a count over every record's key
    /// in input order, with device ids seen on several hubs and modules.
    #[test]
    fn occurrences_by_device_equal_a_count_of_all_keys(events in device_mix()) {
        let mut seen: std::collections::HashMap<(Sym, i64, Operation), u32> =
            std::collections::HashMap::new();
        let expected: Vec<u32> = events
            .iter()
            .map(|e| {
                let count = seen.entry((e.device_id, e.time.nanos(), e.operation)).or_default();
                *count += 1;
                *count - 1
            })
            .collect();
        prop_assert_eq!(crate::evaluate::occurrences(&events), expected.clone());
        // And as the classifier finds them on its way.
        let partition = crate::partition::Partition::of(&events);
        let config = crate::classify::ClassifyConfig::default();
        let (verdicts, occurrence) =
            crate::classify::classify_with_occurrences(&events, &partition, &config);
        prop_assert_eq!(occurrence, expected);
        prop_assert_eq!(verdicts, crate::classify::classify_in(&events, &partition, &config));
    }
}
