//! Throughput and latency of the seed model (single row; 1,000-row batch on 1 and 2 threads) and of the 500-tree
//! XGBoost fixture (the same three). Run: `cargo bench -p fraudstream-model --bench seed_model`.
//!
//! For the comparison with ONNX Runtime (no Python, same process, same inputs) see `benches/vs_onnxruntime.rs`
//! (feature `ort-bench`) and BENCHMARKS.md: the machine is shared and absolute numbers drift between runs.

use std::collections::HashMap;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{Calendar, EventTime, Row, Table};
use fraudstream_model::{ElemType, InputBatch, Model, Tensor};

fn reference() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference")
}

/// Reads the sample and fills `batch` with the first `rows` rows (cycled).
fn fill(model: &Model, batch: &mut InputBatch, rows: usize) {
    let dir = reference().join("ieee-cis-sample");
    let id = Table::Identity.catalog().col("TransactionID");
    let mut ids: HashMap<i64, Row> = HashMap::new();
    let mut r = TableReader::open(dir.join("train_identity.csv"), Table::Identity, 0).unwrap();
    while let Some(row) = r.read_row().unwrap() {
        ids.insert(row.num(id).unwrap() as i64, row);
    }
    let mut tx = Vec::new();
    let mut r = TableReader::open(dir.join("train_transaction.csv"), Table::Transaction, 0).unwrap();
    while let Some(row) = r.read_row().unwrap() {
        tx.push(row);
    }
    let tx_id = Table::Transaction.catalog().col("TransactionID");
    let dt = Table::Transaction.catalog().col("TransactionDT");
    batch.clear();
    for t in tx.iter().cycle().take(rows) {
        let ident = ids.get(&(t.num(tx_id).unwrap() as i64));
        let cal = Calendar::of(EventTime::from_transaction_dt(t.num(dt).unwrap() as i64));
        for (i, info) in model.inputs().iter().enumerate() {
            let name = info.name.as_str();
            let (row, col) = match Table::Transaction.catalog().get(name) {
                Some(c) => (Some(t), Some(c)),
                None => (ident, Table::Identity.catalog().get(name)),
            };
            if info.elem_type() == Some(ElemType::String) {
                let s = row.zip(col).and_then(|(r, c)| r.str(c)).unwrap_or("");
                batch.push_str(i, s).unwrap();
            } else {
                let v = match name {
                    "DT_D" => cal.dt_d() as f64,
                    "DT_W" => cal.dt_w() as f64,
                    "DT_M" => cal.dt_m() as f64,
                    _ => row.zip(col).and_then(|(r, c)| r.num(c)).unwrap_or(f64::NAN),
                };
                batch.push_f64(i, v).unwrap();
            }
        }
    }
}

fn seed(c: &mut Criterion) {
    let model = Model::load(reference().join("seed-model/pipeline_75.onnx")).unwrap();
    let mut one = InputBatch::new(&model).unwrap();
    fill(&model, &mut one, 1);
    let mut thousand = InputBatch::new(&model).unwrap();
    fill(&model, &mut thousand, 1000);
    let mut g = c.benchmark_group("seed_model");
    // Single rows run on the calling thread (no rayon below 256 rows), so they are measured without
    // `pool.install`, whose cross-thread hand-off alone costs about as much as scoring the row.
    g.throughput(Throughput::Elements(1));
    g.bench_function("single_row", |b| b.iter(|| model.predict_proba(&mut one).unwrap()));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        g.throughput(Throughput::Elements(1000));
        g.bench_with_input(BenchmarkId::new("batch_1000", threads), &threads, |b, _| {
            b.iter(|| pool.install(|| model.predict_proba(&mut thousand).unwrap()))
        });
    }
    g.finish();
}

fn xgb_500(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let model = Model::load(dir.join("xgb_500.onnx")).unwrap();
    let mut g = c.benchmark_group("xgb_500_trees");
    let input = |rows: usize| {
        let data: Vec<f32> = (0..rows * 8).map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0).collect();
        Tensor::from_f32(vec![rows, 8], data).unwrap()
    };
    let one = input(1);
    g.throughput(Throughput::Elements(1));
    g.bench_function("single_row", |b| b.iter(|| model.run(&[("input", one.clone())]).unwrap()));
    let thousand = input(1000);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        g.throughput(Throughput::Elements(1000));
        g.bench_with_input(BenchmarkId::new("batch_1000", threads), &threads, |b, _| {
            b.iter(|| pool.install(|| model.run(&[("input", thousand.clone())]).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, seed, xgb_500);
criterion_main!(benches);
