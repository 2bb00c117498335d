//! Criterion bench of ingest: parse and de-duplicate a generated storage-blob JSON Lines file of
//! about 1 M realistic records (properties as a JSON string), from bytes in memory.
//!
//! `DROPSCOPE_BENCH_DEVICES` sets the fleet size (default 18 000 devices of the mixed-day
//! scenario, about 1 M records in 24 h).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dropscope_logs::Form;
use dropscope_logs::write::{WriteOptions, write_events};
use dropscope_model::Event;
use dropscope_sim::{Scenario, SimOptions};

fn devices() -> u32 {
    std::env::var("DROPSCOPE_BENCH_DEVICES").ok().and_then(|v| v.parse().ok()).unwrap_or(18_000)
}

fn jsonl() -> Vec<u8> {
    let mut scenario = Scenario::named("mixed-day").expect("a shipped scenario");
    scenario.resize_fleet(devices());
    let sim = dropscope_sim::simulate(&scenario, &SimOptions { seed: 42, frac_digits: 0 })
        .expect("the scenario is valid");
    let events: Vec<Event> = sim.events().map(|labelled| labelled.event).collect();
    let mut bytes = Vec::new();
    write_events(&mut bytes, Form::JsonLines, &events, &WriteOptions::default())
        .expect("writing to memory");
    bytes
}

fn ingest(c: &mut Criterion) {
    let bytes = jsonl();
    let n_records = bytecount_lines(&bytes);
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("jsonl", |b| {
        b.iter(|| {
            let ingested = dropscope_logs::ingest::ingest_bytes("bench.jsonl", &bytes);
            assert_eq!(ingested.stats.records_read, n_records);
            ingested
        });
    });
    group.finish();
}

fn bytecount_lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

criterion_group!(benches, ingest);
criterion_main!(benches);
