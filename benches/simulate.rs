//! Criterion bench of generation: the mixed-day scenario written as JSON Lines (the real export
//! tree) and as Parquet, into a temp dir.
//!
//! `DROPSCOPE_BENCH_DEVICES` sets the fleet size (default 18 000 devices, about 1 M records).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dropscope_logs::Form;
use dropscope_logs::write::WriteOptions;
use dropscope_sim::{OutputConfig, Scenario, SimOptions};

fn devices() -> u32 {
    std::env::var("DROPSCOPE_BENCH_DEVICES").ok().and_then(|v| v.parse().ok()).unwrap_or(18_000)
}

fn simulate(c: &mut Criterion) {
    let mut scenario = Scenario::named("mixed-day").expect("a shipped scenario");
    scenario.resize_fleet(devices());
    let options = SimOptions { seed: 42, frac_digits: 0 };
    let n_records = dropscope_sim::simulate(&scenario, &options).expect("valid").n_records();
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n_records as u64));
    for (name, form) in [("jsonl", Form::JsonLines), ("parquet", Form::Parquet)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let dir = tempfile::tempdir().expect("a temp dir");
                let sim = dropscope_sim::simulate(&scenario, &options).expect("valid");
                let config = OutputConfig {
                    form,
                    gzip: false,
                    truth: false,
                    write: WriteOptions::default(),
                };
                sim.write(&config, dir.path(), &|_, _| {}).expect("written")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, simulate);
criterion_main!(benches);
