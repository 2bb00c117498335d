//! Criterion bench of session rebuilding on about 10 M simulated events, in memory.
//!
//! `DROPSCOPE_BENCH_DEVICES` sets the fleet size (default 180 000 devices of the mixed-day
//! scenario, about 10 M records in 24 h).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dropscope_model::Event;
use dropscope_sim::{Scenario, SimOptions};

fn devices() -> u32 {
    std::env::var("DROPSCOPE_BENCH_DEVICES").ok().and_then(|v| v.parse().ok()).unwrap_or(180_000)
}

fn sessions(c: &mut Criterion) {
    let mut scenario = Scenario::named("mixed-day").expect("a shipped scenario");
    scenario.resize_fleet(devices());
    let sim = dropscope_sim::simulate(&scenario, &SimOptions { seed: 42, frac_digits: 0 })
        .expect("the scenario is valid");
    let events: Vec<Event> = sim.events().map(|labelled| labelled.event).collect();
    drop(sim);
    let mut group = c.benchmark_group("sessions");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("build", |b| b.iter(|| dropscope_engine::sessions::build(&events)));
    group.bench_function("classify", |b| {
        b.iter(|| {
            dropscope_engine::classify::classify(
                &events,
                &dropscope_engine::classify::ClassifyConfig::default(),
            )
        });
    });
    group.finish();
}

criterion_group!(benches, sessions);
criterion_main!(benches);
