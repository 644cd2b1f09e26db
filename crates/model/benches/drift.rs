//! Cost of drift monitoring on the stream: observing one row of 30 inputs (20 numeric, 10 categorical, the shape
//! of `model.json`'s top-30 baseline) into a full 10,000-row window, and one check + report.
//! Run: `cargo bench -p fraudstream-model --bench drift`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fraudstream_data::rng::SplitMix64;
use fraudstream_model::drift::{
    Baseline, BaselineConfig, DriftConfig, DriftMonitor, InputSample, InputSpec, SampleValues,
};

const NUMERIC: usize = 20;
const CATEGORICAL: usize = 10;
const ROWS: usize = 4096;
const DOMAINS: [&str; 12] = [
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "anonymous.com",
    "aol.com",
    "comcast.net",
    "icloud.com",
    "outlook.com",
    "msn.com",
    "att.net",
    "live.com",
    "",
];

/// Row-major values: `ROWS` rows of NUMERIC numbers and CATEGORICAL strings, plus scores.
fn data(seed: u64) -> (Vec<f64>, Vec<&'static str>, Vec<f64>) {
    let mut g = SplitMix64::new(seed);
    let mut nums = Vec::with_capacity(ROWS * NUMERIC);
    let mut strs = Vec::with_capacity(ROWS * CATEGORICAL);
    let mut scores = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        for j in 0..NUMERIC {
            nums.push(if g.unit() < 0.3 { f64::NAN } else { (g.unit() * 100.0 * (j + 1) as f64).floor() });
        }
        for _ in 0..CATEGORICAL {
            strs.push(DOMAINS[(g.next_u64() % DOMAINS.len() as u64) as usize]);
        }
        scores.push(g.unit().powi(4));
    }
    (nums, strs, scores)
}

fn monitor() -> DriftMonitor {
    let (nums, strs, scores) = data(1);
    let num_cols: Vec<Vec<f64>> =
        (0..NUMERIC).map(|j| nums.iter().skip(j).step_by(NUMERIC).copied().collect()).collect();
    let str_cols: Vec<Vec<&str>> =
        (0..CATEGORICAL).map(|j| strs.iter().skip(j).step_by(CATEGORICAL).copied().collect()).collect();
    let names: Vec<String> = (0..NUMERIC + CATEGORICAL).map(|i| format!("input_{i}")).collect();
    let mut samples = Vec::new();
    for (j, col) in num_cols.iter().enumerate() {
        samples.push(InputSample { name: &names[j], values: SampleValues::Numeric(col) });
    }
    for (j, col) in str_cols.iter().enumerate() {
        samples.push(InputSample { name: &names[NUMERIC + j], values: SampleValues::Categorical(col) });
    }
    let baseline = Baseline::from_samples(&samples, &scores, &BaselineConfig::default()).expect("baseline");
    let specs: Vec<InputSpec> = names
        .iter()
        .enumerate()
        .map(|(i, n)| if i < NUMERIC { InputSpec::numeric(n.clone()) } else { InputSpec::categorical(n.clone()) })
        .collect();
    DriftMonitor::new(&specs, Some(baseline), DriftConfig::default()).expect("monitor")
}

fn observe_all(m: &mut DriftMonitor, nums: &[f64], strs: &[&str], scores: &[f64]) {
    for ((n, s), &score) in nums.chunks_exact(NUMERIC).zip(strs.chunks_exact(CATEGORICAL)).zip(scores) {
        let mut row = m.row();
        for (j, &x) in n.iter().enumerate() {
            row.num(j, x);
        }
        for (j, &v) in s.iter().enumerate() {
            row.str(NUMERIC + j, v);
        }
        row.finish(score);
    }
}

fn bench(c: &mut Criterion) {
    let mut m = monitor();
    let (nums, strs, scores) = data(2);
    // Fill the window, so every observation also evicts one.
    for _ in 0..3 {
        observe_all(&mut m, &nums, &strs, &scores);
    }
    let mut group = c.benchmark_group("drift");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("observe 30 inputs (rows)", |b| b.iter(|| observe_all(&mut m, &nums, &strs, &scores)));
    group.finish();
    c.bench_function("drift check + report (30 inputs)", |b| {
        b.iter(|| {
            let alerts = m.check();
            (alerts.len(), m.report().inputs.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
