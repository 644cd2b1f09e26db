//! Ours vs ONNX Runtime, same process, same inputs, no Python: ONNX Runtime is driven through the `ort` crate
//! (`load-dynamic`) on the `libonnxruntime.so` shipped in the onnxruntime PyPI wheel.
//!
//! Run (see BENCHMARKS.md):
//! ```text
//! ORT_DYLIB_PATH=/work/venv-fixtures/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1 \
//!   cargo bench -p fraudstream-model --features ort-bench --bench vs_onnxruntime
//! ```
//!
//! Two models: the seed model (`pipeline_75.onnx`, 75 named `[N,1]` inputs, 58 float + 17 string) fed the 1,500 real
//! IEEE-CIS sample rows, and the 500-tree XGBoost fixture (`xgb_500.onnx`, one `[N,8]` float input) fed the
//! synthetic rows of `benches/seed_model.rs`. For each, at 1 and 2 threads (ours: a rayon pool via `pool.install`;
//! ONNX Runtime: `intra_op_num_threads`, `inter_op_num_threads = 1`, default graph optimisations and spinning):
//! - single-row latency: median and p99 µs over `SINGLE_CALLS` calls per round, each call scoring the next sample row;
//! - batch throughput: a 1,000-row batch, median time of `BATCH_REPS` calls per round, as rows/s.
//!
//! Both sides get their inputs ready-made (ours: a filled `InputBatch`; ONNX Runtime: pre-built `OrtValue`s), so the
//! timings are inference only, outputs included (ONNX Runtime builds the seed model's ZipMap sequence, ours its
//! `BinaryScores`). Rounds alternate ours / ONNX Runtime `ROUNDS` times and every sample is pooled, so drift from the
//! shared machine hits both alike. Before timing, the two sides' outputs on the batch are compared (labels and
//! probabilities), to show both did the same work.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{Calendar, EventTime, Row, Table};
use fraudstream_model::{BinaryScores, ElemType, InputBatch, Model};
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session, SessionInputValue, SessionOutputs};
use ort::value::{DynMapValueType, DynValue, Tensor as OrtTensor};

const SINGLE_CALLS: usize = 2_000;
const BATCH_ROWS: usize = 1_000;
const BATCH_REPS: usize = 10;
const ROUNDS: usize = 5;
const WARMUP: usize = 100;

/// One model input as columns of the benchmark rows: `width` values per row, row-major.
struct Column {
    name: String,
    width: usize,
    data: ColumnData,
}

enum ColumnData {
    F32(Vec<f32>),
    Str(Vec<String>),
}

/// A model and its benchmark rows.
struct Case {
    label: &'static str,
    path: PathBuf,
    model: Model,
    columns: Vec<Column>,
    rows: usize,
}

fn reference() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference")
}

/// The seed model's 75 inputs for the 1,500 sample rows, built as `tests/seed_model.rs` does: identity columns
/// joined on TransactionID, calendar features from TransactionDT, missing numbers NaN, missing strings "".
fn seed_case() -> Case {
    let path = reference().join("seed-model/pipeline_75.onnx");
    let model = Model::load(&path).expect("seed model");
    let dir = reference().join("ieee-cis-sample");
    let id = Table::Identity.catalog().col("TransactionID");
    let mut ids: HashMap<i64, Row> = HashMap::new();
    let mut r = TableReader::open(dir.join("train_identity.csv"), Table::Identity, 0).expect("identity csv");
    while let Some(row) = r.read_row().expect("identity row") {
        ids.insert(row.num(id).expect("identity id") as i64, row);
    }
    let mut tx = Vec::new();
    let mut r = TableReader::open(dir.join("train_transaction.csv"), Table::Transaction, 0).expect("tx csv");
    while let Some(row) = r.read_row().expect("tx row") {
        tx.push(row);
    }
    let tx_id = Table::Transaction.catalog().col("TransactionID");
    let dt = Table::Transaction.catalog().col("TransactionDT");
    let mut columns: Vec<Column> = model
        .inputs()
        .iter()
        .map(|info| Column {
            name: info.name.clone(),
            width: 1,
            data: match info.elem_type() {
                Some(ElemType::String) => ColumnData::Str(Vec::new()),
                _ => ColumnData::F32(Vec::new()),
            },
        })
        .collect();
    for t in &tx {
        let ident = ids.get(&(t.num(tx_id).expect("tx id") as i64));
        let cal = Calendar::of(EventTime::from_transaction_dt(t.num(dt).expect("TransactionDT") as i64));
        for col in &mut columns {
            let name = col.name.as_str();
            let (row, c) = match Table::Transaction.catalog().get(name) {
                Some(c) => (Some(t), Some(c)),
                None => (ident, Table::Identity.catalog().get(name)),
            };
            match &mut col.data {
                ColumnData::Str(v) => v.push(row.zip(c).and_then(|(r, c)| r.str(c)).unwrap_or("").to_string()),
                ColumnData::F32(v) => v.push(match name {
                    "DT_D" => cal.dt_d() as f32,
                    "DT_W" => cal.dt_w() as f32,
                    "DT_M" => cal.dt_m() as f32,
                    _ => row.zip(c).and_then(|(r, c)| r.num(c)).unwrap_or(f64::NAN) as f32,
                }),
            }
        }
    }
    Case { label: "seed model (pipeline_75, 1,100 trees)", path, model, columns, rows: tx.len() }
}

/// The 500-tree XGBoost fixture on the deterministic synthetic rows of `benches/seed_model.rs`.
fn xgb_case() -> Case {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/xgb_500.onnx");
    let model = Model::load(&path).expect("xgb_500 fixture");
    let info = &model.inputs()[0];
    let width = info.row_width().expect("static input width");
    let rows = 1_500;
    let data: Vec<f32> = (0..rows * width).map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0).collect();
    let columns = vec![Column { name: info.name.clone(), width, data: ColumnData::F32(data) }];
    Case { label: "xgb_500 (XGBoost, 500 trees, 8 features)", path, model, columns, rows }
}

/// Our input for rows `lo..hi`.
fn our_batch(case: &Case, lo: usize, hi: usize) -> InputBatch {
    let mut batch = InputBatch::new(&case.model).expect("batch");
    for col in &case.columns {
        let i = case.model.input_index(&col.name).expect("input");
        let (a, b) = (lo * col.width, hi * col.width);
        match &col.data {
            ColumnData::F32(v) => v[a..b].iter().for_each(|&x| batch.push_f32(i, x).expect("push")),
            ColumnData::Str(v) => v[a..b].iter().for_each(|s| batch.push_str(i, s).expect("push")),
        }
    }
    batch
}

/// ONNX Runtime's input for rows `lo..hi`, in the session's input order.
fn ort_values(case: &Case, session: &Session, lo: usize, hi: usize) -> Vec<DynValue> {
    session
        .inputs()
        .iter()
        .map(|outlet| {
            let col = case.columns.iter().find(|c| c.name == outlet.name()).expect("ORT input is a model input");
            let shape = vec![(hi - lo) as i64, col.width as i64];
            let (a, b) = (lo * col.width, hi * col.width);
            match &col.data {
                ColumnData::F32(v) => OrtTensor::from_array((shape, v[a..b].to_vec())).expect("tensor").into_dyn(),
                ColumnData::Str(v) => OrtTensor::from_string_array((shape, &v[a..b])).expect("tensor").into_dyn(),
            }
        })
        .collect()
}

fn ort_session(env: &Environment, path: &Path, threads: usize) -> Session {
    Session::builder(env)
        .expect("builder")
        .with_intra_threads(threads)
        .expect("intra threads")
        .with_inter_threads(1)
        .expect("inter threads")
        // ORT's pool spins between runs by default; in this alternating bench the spinning threads would take the
        // second core from our measurement. Set FRAUDSTREAM_ORT_SPIN=1 to measure ORT with spinning on.
        .with_intra_op_spinning(std::env::var_os("FRAUDSTREAM_ORT_SPIN").is_some())
        .expect("intra-op spinning")
        .with_optimization_level(GraphOptimizationLevel::All)
        .expect("optimisation level")
        .commit_from_file(path)
        .expect("ONNX Runtime session")
}

fn ort_run<'s>(session: &'s mut Session, values: &[DynValue]) -> SessionOutputs<'s> {
    let inputs: Vec<SessionInputValue<'_>> = values.iter().map(SessionInputValue::from).collect();
    session.run(inputs.as_slice()).expect("ORT run")
}

/// ONNX Runtime's labels and positive-class probabilities (a ZipMap sequence or an `[N,2]` tensor).
fn ort_scores(out: &SessionOutputs<'_>) -> BinaryScores {
    let labels = out[0].try_extract_tensor::<i64>().expect("label tensor").1.to_vec();
    let p_positive = match out[1].try_extract_tensor::<f32>() {
        Ok((shape, p)) => {
            let k = shape[1] as usize;
            p.chunks(k).map(|r| r[1]).collect()
        }
        Err(_) => out[1]
            .try_extract_sequence::<DynMapValueType>()
            .expect("ZipMap sequence")
            .iter()
            .map(|m| {
                let kv = m.try_extract_key_values::<i64, f32>().expect("map");
                kv.iter().find(|(k, _)| *k == 1).expect("class 1").1
            })
            .collect(),
    };
    BinaryScores { labels, p_positive }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn p99(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

struct Stats {
    median_us: f64,
    p99_us: f64,
}

fn stats(mut samples: Vec<f64>) -> Stats {
    Stats { median_us: median(&mut samples) * 1e6, p99_us: p99(&mut samples) * 1e6 }
}

/// Prints one table row; returns the parity note for the batch.
fn bench(case: &Case, threads: usize, ort_sessions: &mut [Session]) -> String {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
    let session = &mut ort_sessions[threads - 1];
    let singles_n = case.rows.min(SINGLE_CALLS);
    let mut ours_single: Vec<InputBatch> = (0..singles_n).map(|r| our_batch(case, r, r + 1)).collect();
    let ort_single: Vec<Vec<DynValue>> = (0..singles_n).map(|r| ort_values(case, session, r, r + 1)).collect();
    let mut ours_batch = our_batch(case, 0, BATCH_ROWS);
    let ort_batch = ort_values(case, session, 0, BATCH_ROWS);

    // Same work: compare the two sides' outputs on the batch.
    let ours = pool.install(|| case.model.predict_proba(&mut ours_batch)).expect("ours");
    let theirs = ort_scores(&ort_run(session, &ort_batch));
    let label_diff = ours.labels.iter().zip(&theirs.labels).filter(|(a, b)| a != b).count();
    let max_dp = ours.p_positive.iter().zip(&theirs.p_positive).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert_eq!(ours.labels.len(), theirs.labels.len());
    let parity =
        format!("{threads} thread(s), {BATCH_ROWS}-row batch: {label_diff} label differences, max |Δp| = {max_dp:e}");

    // Warm-up.
    for k in 0..WARMUP {
        black_box(case.model.predict_proba(&mut ours_single[k % singles_n]).expect("ours"));
        black_box(ort_run(session, &ort_single[k % singles_n]).len());
    }

    let (mut o1, mut t1, mut ob, mut tb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        // Single rows: ours runs them on the calling thread (no rayon below 256 rows), so no `pool.install` here —
        // that is how a caller scores one row; ONNX Runtime uses its own intra-op pool setting.
        for k in 0..SINGLE_CALLS {
            let b = &mut ours_single[k % singles_n];
            let t = Instant::now();
            black_box(case.model.predict_proba(b).expect("ours"));
            o1.push(t.elapsed().as_secs_f64());
        }
        for k in 0..SINGLE_CALLS {
            let v = &ort_single[k % singles_n];
            let t = Instant::now();
            black_box(ort_run(session, v).len());
            t1.push(t.elapsed().as_secs_f64());
        }
        for _ in 0..BATCH_REPS {
            let t = Instant::now();
            black_box(pool.install(|| case.model.predict_proba(&mut ours_batch)).expect("ours"));
            ob.push(t.elapsed().as_secs_f64());
        }
        for _ in 0..BATCH_REPS {
            let t = Instant::now();
            black_box(ort_run(session, &ort_batch).len());
            tb.push(t.elapsed().as_secs_f64());
        }
    }
    let (o1, t1) = (stats(o1), stats(t1));
    let (ob, tb) = (median(&mut ob), median(&mut tb));
    let (ours_rps, ort_rps) = (BATCH_ROWS as f64 / ob, BATCH_ROWS as f64 / tb);
    println!(
        "| {} | {threads} | {:.1} / {:.1} | {:.1} / {:.1} | {:.3}× | {:.0} | {:.0} | {:.1}× |",
        case.label,
        o1.median_us,
        o1.p99_us,
        t1.median_us,
        t1.p99_us,
        o1.median_us / t1.median_us,
        ours_rps,
        ort_rps,
        ours_rps / ort_rps
    );
    parity
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let dylib = std::env::var("ORT_DYLIB_PATH").unwrap_or_else(|_| {
        eprintln!(
            "set ORT_DYLIB_PATH to the libonnxruntime.so of the onnxruntime wheel, e.g. \
             <venv>/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1"
        );
        std::process::exit(2);
    });
    let env = ort::init_from(&dylib).expect("load libonnxruntime").with_name("fraudstream-bench").build().expect("env");
    println!("ONNX Runtime: {dylib}");
    for case in [seed_case(), xgb_case()] {
        println!("\n{} — {} rows available, file {}", case.label, case.rows, case.path.display());
        let mut sessions: Vec<Session> = (1..=2).map(|t| ort_session(&env, &case.path, t)).collect();
        println!(
            "| model | threads | ours single row µs (median / p99) | ORT single row µs (median / p99) | \
             latency ours/ORT | ours rows/s ({BATCH_ROWS}-row batch) | ORT rows/s | throughput ours/ORT |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let parity: Vec<String> = [1, 2].into_iter().map(|t| bench(&case, t, &mut sessions)).collect();
        println!("\nours vs ONNX Runtime outputs: {}", parity.join("; "));
    }
}
