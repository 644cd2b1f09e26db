//! Synthetic data generation throughput: both Kaggle files written to a scratch directory.
//!
//! Goal: the full training-set size (590,540 transactions, ~141k identity rows, ~710 MB) in under 15 s on 2 cores.
//! `generate/59054` is a quick tenth-size check; `generate/590540` is the goal itself (about 10 samples × ~9 s).
//! Run: `cargo bench -p fraudstream-data --bench generate`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fraudstream_data::generate::{generate, GenerateConfig, FULL_ROWS};

fn bench_generate(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("fraudstream-bench-generate-{}", std::process::id()));
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    for rows in [FULL_ROWS / 10, FULL_ROWS] {
        group.throughput(Throughput::Elements(rows));
        group.measurement_time(Duration::from_secs(if rows == FULL_ROWS { 100 } else { 12 }));
        group.bench_with_input(BenchmarkId::from_parameter(rows), &rows, |b, &rows| {
            let config = GenerateConfig::new(rows, 42, &dir);
            b.iter(|| generate(&config).expect("generate"));
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_generate);
criterion_main!(benches);
