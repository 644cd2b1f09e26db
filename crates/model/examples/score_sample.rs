//! Profiling driver: scores the 1,500 IEEE-CIS sample rows with the seed model, for instruction counts
//! (`valgrind --tool=callgrind`) and quick wall-clock checks.
//!
//! Usage: `score_sample [batch|single|explain|xgb-batch|xgb-single] [reps] [threads] [batch_rows]` (defaults: batch
//! 20 1 1000). `batch` scores the rows in batches of `batch_rows`; `single` scores them one row per call; `explain`
//! computes their reason codes (TreeSHAP) in batches of `batch_rows` — a handful, like the alerts of one micro-batch;
//! `explain-cold` does the same but writes a 64 MiB buffer before each call, out of the timing, as a stream scores
//! other batches between explanations: the caches hold none of the explainer's trees when it starts; the `xgb-`
//! modes score the 500-tree XGBoost fixture on the benchmark's synthetic 8-feature rows instead. Prints rows/s and
//! µs/row.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{Calendar, EventTime, Row, Table};
use fraudstream_model::{ElemType, InputBatch, Model, Tensor};

fn reference() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference")
}

struct Sample {
    tx: Row,
    ident: Option<Row>,
}

fn samples() -> Vec<Sample> {
    let dir = reference().join("ieee-cis-sample");
    let id = Table::Identity.catalog().col("TransactionID");
    let mut ids: HashMap<i64, Row> = HashMap::new();
    let mut r = TableReader::open(dir.join("train_identity.csv"), Table::Identity, 0).expect("identity csv");
    while let Some(row) = r.read_row().expect("identity row") {
        ids.insert(row.num(id).unwrap_or(0.0) as i64, row);
    }
    let tx_id = Table::Transaction.catalog().col("TransactionID");
    let mut out = Vec::new();
    let mut r = TableReader::open(dir.join("train_transaction.csv"), Table::Transaction, 0).expect("tx csv");
    while let Some(row) = r.read_row().expect("tx row") {
        let ident = ids.remove(&(row.num(tx_id).unwrap_or(0.0) as i64));
        out.push(Sample { tx: row, ident });
    }
    out
}

fn push(model: &Model, batch: &mut InputBatch, s: &Sample) {
    let dt = Table::Transaction.catalog().col("TransactionDT");
    let cal = Calendar::of(EventTime::from_transaction_dt(s.tx.num(dt).unwrap_or(0.0) as i64));
    for (i, info) in model.inputs().iter().enumerate() {
        let name = info.name.as_str();
        let (row, col) = match Table::Transaction.catalog().get(name) {
            Some(c) => (Some(&s.tx), Some(c)),
            None => (s.ident.as_ref(), Table::Identity.catalog().get(name)),
        };
        if info.elem_type() == Some(ElemType::String) {
            let v = row.zip(col).and_then(|(r, c)| r.str(c)).unwrap_or("");
            batch.push_str(i, v).expect("push_str");
        } else {
            let v = match name {
                "DT_D" => cal.dt_d() as f64,
                "DT_W" => cal.dt_w() as f64,
                "DT_M" => cal.dt_m() as f64,
                _ => row.zip(col).and_then(|(r, c)| r.num(c)).unwrap_or(f64::NAN),
            };
            batch.push_f64(i, v).expect("push_f64");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("batch", String::as_str).to_string();
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let batch_rows: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1000);
    if let Some(kind) = mode.strip_prefix("xgb-") {
        return xgb(kind, reps, threads, batch_rows);
    }
    let model = Model::load(reference().join("seed-model/pipeline_75.onnx")).expect("model");
    let samples = samples();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
    let mut checksum = 0f64;
    let mut rows = 0usize;
    // Time inside the calls alone (`explain-cold`).
    let mut cold = std::time::Duration::ZERO;
    let start;
    if mode == "single" {
        let mut batches: Vec<InputBatch> = samples
            .iter()
            .map(|s| {
                let mut b = InputBatch::new(&model).expect("batch");
                push(&model, &mut b, s);
                b
            })
            .collect();
        start = Instant::now();
        pool.install(|| {
            for _ in 0..reps {
                for b in &mut batches {
                    let out = model.predict_proba(b).expect("score");
                    checksum += f64::from(out.p_positive[0]);
                    rows += 1;
                }
            }
        });
    } else {
        let mut batches = Vec::new();
        for chunk in samples.chunks(batch_rows) {
            let mut b = InputBatch::new(&model).expect("batch");
            for s in chunk {
                push(&model, &mut b, s);
            }
            batches.push(b);
        }
        let mut evict = if mode == "explain-cold" { vec![0u8; 64 << 20] } else { Vec::new() };
        start = Instant::now();
        pool.install(|| {
            for _ in 0..reps {
                for b in &mut batches {
                    if mode == "explain-cold" {
                        evict.iter_mut().for_each(|v| *v = v.wrapping_add(1));
                        let began = Instant::now();
                        let out = model.explain(b).expect("explain");
                        cold += began.elapsed();
                        checksum += out.values.iter().sum::<f64>();
                        rows += out.rows();
                        continue;
                    }
                    if mode == "explain" {
                        let out = model.explain(b).expect("explain");
                        checksum += out.values.iter().sum::<f64>();
                        rows += out.rows();
                        continue;
                    }
                    let out = model.predict_proba(b).expect("score");
                    checksum += out.p_positive.iter().map(|&p| f64::from(p)).sum::<f64>();
                    rows += out.p_positive.len();
                }
            }
        });
    }
    let secs = if cold.is_zero() { start.elapsed() } else { cold }.as_secs_f64();
    println!(
        "mode={mode} threads={threads} rows={rows} rows_per_s={:.0} us_per_row={:.2} checksum={checksum:.6}",
        rows as f64 / secs,
        secs * 1e6 / rows as f64
    );
}

/// The 500-tree XGBoost fixture on the benchmark's synthetic rows.
fn xgb(kind: &str, reps: usize, threads: usize, batch_rows: usize) {
    let model = Model::load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/xgb_500.onnx")).expect("model");
    let rows = if kind == "single" { 1 } else { batch_rows };
    let data: Vec<f32> = (0..rows * 8).map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0).collect();
    let x = Tensor::from_f32(vec![rows, 8], data).expect("tensor");
    let calls = if kind == "single" { reps * 1500 } else { reps };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
    let start = Instant::now();
    let mut n = 0usize;
    pool.install(|| {
        for _ in 0..calls {
            let out = model.run(&[("input", x.clone())]).expect("score");
            n += out.iter().count().min(1) * rows;
        }
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "mode=xgb-{kind} threads={threads} rows={n} rows_per_s={:.0} us_per_row={:.2}",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}
