//! Client-feature throughput over generated data: every transaction of a full-size set through a fresh
//! [`ClientFeatures`], in TransactionID order, single-threaded.
//!
//! Goal: well over 1 M records/s, i.e. the 590,540-row set well under 1 s — the stage runs on every transaction of
//! the stream. The data is generated once (~10 s), held compactly and replayed through one reusable record (see
//! `support/replay.rs`), so the figure is the client stage plus ~25 field stores per record, not CSV parsing.
//! Run: `cargo bench -p fraudstream-features --bench client`.
//!
//! Measured (2-core AMD EPYC shared with other builds, load average ~5): `observe/590540` 614 ms median wall
//! (531-720 ms, 0.96 M rows/s); the same pass takes 450-500 ms of CPU time (1.2-1.3 M rows/s) per
//! `examples/client_lift.rs`, which reports CPU time. Wall time on a loaded machine overstates the cost of this
//! memory-bound stage (~70k client keys live, ~20 MB of state competing for the shared L3). `replay_only` is 7 ms.

#[path = "support/replay.rs"]
mod replay;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fraudstream_data::generate::FULL_ROWS;
use fraudstream_features::{ClientFeature, ClientFeatures};

fn bench_client(c: &mut Criterion) {
    let mut data = replay::generated(FULL_ROWS, 42);
    let mut group = c.benchmark_group("client_features");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(data.records.len() as u64));
    group.bench_function("observe/590540", |b| {
        b.iter(|| {
            let mut state = ClientFeatures::default();
            let mut out = [0.0; ClientFeature::COUNT];
            data.for_each(|row, _| {
                state.observe(row, &mut out);
                black_box(&out);
            });
            state.entities()
        })
    });
    // The replay alone, to show how much of the above is the harness.
    group.bench_function("replay_only/590540", |b| {
        b.iter(|| {
            let mut n = 0.0;
            data.for_each(|row, _| n += row.transaction.row.nums[3]);
            n
        })
    });
    group.finish();
}

criterion_group!(benches, bench_client);
criterion_main!(benches);
