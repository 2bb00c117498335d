//! Criterion bench of each stage of the analysis on about 10 M simulated records: read (Parquet,
//! as `simulate --format parquet` writes it), sessions, the sessions with the offline charge in
//! their walk (what `analyse` runs), classify, rank (a walk of the finished table for the offline
//! charge, then the ranking), the ranking alone, and the report's sections (assembling the
//! findings and rendering them).
//! `benches/analysis.sh` times the same work as whole commands, with peak memory.
//!
//! `DROPSCOPE_BENCH_DEVICES` sets the fleet size (default 160 000 devices of the mixed-day
//! scenario, about 10.2 M records in 24 h).

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dropscope_engine::classify::{ClassifyConfig, classify_in};
use dropscope_engine::findings::{FindingsInput, assemble};
use dropscope_engine::incidents::{IncidentConfig, detect};
use dropscope_engine::offline::{charge_offline, sessions_charged};
use dropscope_engine::partition::Partition;
use dropscope_engine::rank::rank_charged;
use dropscope_engine::{curve, sessions};
use dropscope_logs::Form;
use dropscope_logs::ingest::{IngestConfig, ingest};
use dropscope_logs::write::WriteOptions;
use dropscope_model::findings::DataQuality;
use dropscope_sim::{OutputConfig, Scenario, SimOptions};

fn devices() -> u32 {
    std::env::var("DROPSCOPE_BENCH_DEVICES").ok().and_then(|v| v.parse().ok()).unwrap_or(160_000)
}

fn analysis(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut scenario = Scenario::named("mixed-day").expect("a shipped scenario");
    scenario.resize_fleet(devices());
    let sim = dropscope_sim::simulate(&scenario, &SimOptions { seed: 5, frac_digits: 0 })
        .expect("the scenario is valid");
    let output = OutputConfig {
        form: Form::Parquet,
        gzip: false,
        truth: false,
        write: WriteOptions::default(),
    };
    sim.write(&output, dir.path(), &|_, _| {}).expect("writing the logs");
    drop(sim);
    let inputs: Vec<PathBuf> = vec![dir.path().join("logs")];
    let read = || ingest(&inputs, &IngestConfig::default()).expect("reading the logs");
    let events = read().events;
    let config = ClassifyConfig::default();
    let table = sessions::build(&events);
    let verdicts = classify_in(&events, &table.partition, &config);
    let offline = charge_offline(&events, &table, &verdicts);
    let ranking = rank_charged(&events, &verdicts, &table, &offline);
    let curve =
        table.window.map(|w| curve::connected_devices(&table.sessions, w)).unwrap_or_default();
    let incidents = detect(&events, &table, &IncidentConfig::default());
    let quality = DataQuality::default();
    let input = FindingsInput {
        events: &events,
        table: &table,
        curve: &curve,
        incidents: &incidents,
        verdicts: &verdicts,
        ranking: &ranking,
        offline_ns: &offline.offline_ns,
        quality: &quality,
    };
    let findings = assemble(input);

    let mut group = c.benchmark_group("analysis");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("read", |b| b.iter(read));
    group.bench_function("sessions", |b| {
        b.iter(|| sessions::build_in(&events, Partition::of(&events)));
    });
    group.bench_function("sessions and offline charge", |b| {
        b.iter(|| sessions_charged(&events, Partition::of(&events), &verdicts));
    });
    group
        .bench_function("classify", |b| b.iter(|| classify_in(&events, &table.partition, &config)));
    group.bench_function("rank", |b| {
        b.iter(|| {
            let offline = charge_offline(&events, &table, &verdicts);
            rank_charged(&events, &verdicts, &table, &offline)
        });
    });
    group.bench_function("ranking", |b| {
        b.iter(|| rank_charged(&events, &verdicts, &table, &offline));
    });
    group.bench_function("report sections", |b| {
        b.iter(|| {
            let findings = assemble(input);
            dropscope_report::render(dropscope_report::Format::Html, &findings)
        });
    });
    group.bench_function("render", |b| {
        b.iter(|| dropscope_report::render(dropscope_report::Format::Html, &findings));
    });
    group.finish();
}

criterion_group!(benches, analysis);
criterion_main!(benches);
