//! Parity with onnxruntime on the reference seed model: the 1,500 sample rows must get the same labels and
//! probabilities (|Δp| ≤ 1e-6) as `onnxruntime_outputs.csv`, whether scored as one batch, row by row, on one
//! thread or two, through `run` with named tensors or through `InputBatch` + `predict_proba`.

use std::collections::HashMap;
use std::path::PathBuf;

use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{Calendar, EventTime, Row, Table};
use fraudstream_model::{ElemType, InputBatch, Model, Tensor, TensorData, Threads, Value};

const TOLERANCE: f32 = 1e-6;

fn reference_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference");
    assert!(dir.is_dir(), "shared reference data not found at {} — it is required for this test", dir.display());
    dir
}

/// One sample transaction with its identity row (if any): the raw material of the model's 75 inputs.
struct Sample {
    id: i64,
    transaction: Row,
    identity: Option<Row>,
}

fn read_samples() -> Vec<Sample> {
    let dir = reference_dir().join("ieee-cis-sample");
    let id_col = Table::Identity.catalog().col("TransactionID");
    let mut identities = HashMap::new();
    let mut reader = TableReader::open(dir.join("train_identity.csv"), Table::Identity, 0).expect("identity csv");
    while let Some(row) = reader.read_row().expect("identity row") {
        identities.insert(row.num(id_col).expect("identity TransactionID") as i64, row);
    }
    let tx_id = Table::Transaction.catalog().col("TransactionID");
    let mut reader =
        TableReader::open(dir.join("train_transaction.csv"), Table::Transaction, 0).expect("transaction csv");
    let mut samples = Vec::new();
    while let Some(row) = reader.read_row().expect("transaction row") {
        let id = row.num(tx_id).expect("TransactionID") as i64;
        samples.push(Sample { id, identity: identities.remove(&id), transaction: row });
    }
    samples
}

/// The value of one model input for one sample: missing numbers are NaN, missing strings "".
enum Feature<'a> {
    Num(f64),
    Str(&'a str),
}

fn feature<'a>(sample: &'a Sample, name: &str, want: ElemType) -> Feature<'a> {
    let tx_dt = Table::Transaction.catalog().col("TransactionDT");
    let calendar = || Calendar::of(EventTime::from_transaction_dt(sample.transaction.num(tx_dt).unwrap_or(0.0) as i64));
    match name {
        "DT_D" => return Feature::Num(calendar().dt_d() as f64),
        "DT_W" => return Feature::Num(calendar().dt_w() as f64),
        "DT_M" => return Feature::Num(calendar().dt_m() as f64),
        _ => {}
    }
    let (row, col) = if let Some(col) = Table::Transaction.catalog().get(name) {
        (Some(&sample.transaction), col)
    } else {
        let col = Table::Identity.catalog().get(name).unwrap_or_else(|| panic!("no column for input {name}"));
        (sample.identity.as_ref(), col)
    };
    match want {
        ElemType::String => Feature::Str(row.and_then(|r| r.str(col)).unwrap_or("")),
        _ => Feature::Num(row.and_then(|r| r.num(col)).unwrap_or(f64::NAN)),
    }
}

fn expected() -> HashMap<i64, (i64, f32)> {
    let text = std::fs::read_to_string(reference_dir().join("seed-model/onnxruntime_outputs.csv")).expect("outputs");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f[0].parse().unwrap(), (f[1].parse().unwrap(), f[2].parse().unwrap()))
        })
        .collect()
}

fn load() -> Model {
    Model::load(reference_dir().join("seed-model/pipeline_75.onnx")).expect("seed model loads")
}

/// Named `[N, 1]` tensors for a slice of samples, as a caller of the generic `run` would build them.
fn named_tensors(model: &Model, samples: &[Sample]) -> Vec<(String, Tensor)> {
    model
        .inputs()
        .iter()
        .map(|info| {
            let elem = info.elem_type().expect("tensor input");
            let data = match elem {
                ElemType::String => TensorData::String(
                    samples
                        .iter()
                        .map(|s| match feature(s, &info.name, elem) {
                            Feature::Str(v) => v.to_string(),
                            Feature::Num(_) => unreachable!(),
                        })
                        .collect(),
                ),
                _ => TensorData::Float(
                    samples
                        .iter()
                        .map(|s| match feature(s, &info.name, elem) {
                            Feature::Num(v) => v as f32,
                            Feature::Str(_) => unreachable!(),
                        })
                        .collect(),
                ),
            };
            (info.name.clone(), Tensor::new(vec![samples.len(), 1], data).unwrap())
        })
        .collect()
}

fn fill_batch(model: &Model, batch: &mut InputBatch, samples: &[Sample]) {
    batch.clear();
    for s in samples {
        for (i, info) in model.inputs().iter().enumerate() {
            let elem = info.elem_type().unwrap();
            match feature(s, &info.name, elem) {
                Feature::Num(v) => batch.push_f64(i, v).unwrap(),
                Feature::Str(v) => batch.push_str(i, v).unwrap(),
            }
        }
    }
}

fn assert_matches(ids: impl Iterator<Item = i64>, labels: &[i64], probs: &[f32]) -> usize {
    let expected = expected();
    let mut checked = 0;
    let mut worst = 0f32;
    for ((id, &label), &p) in ids.zip(labels).zip(probs) {
        let &(want_label, want_p) = expected.get(&id).unwrap_or_else(|| panic!("no reference for {id}"));
        assert_eq!(label, want_label, "label of TransactionID {id}");
        let d = (p - want_p).abs();
        worst = worst.max(d);
        assert!(d <= TOLERANCE, "TransactionID {id}: p = {p}, onnxruntime {want_p} (|Δ| = {d})");
        checked += 1;
    }
    eprintln!("checked {checked} rows, worst |Δp| = {worst:e}");
    checked
}

#[test]
fn seed_model_declares_75_inputs_and_label_plus_probability_outputs() {
    let model = load();
    assert_eq!(model.inputs().len(), 75);
    let strings = model.inputs().iter().filter(|i| i.elem_type() == Some(ElemType::String)).count();
    assert_eq!(strings, 17);
    let names: Vec<&str> = model.outputs().iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["output_label", "output_probability"]);
}

#[test]
fn one_hot_and_imputer_preprocessing_is_fused_into_the_tree_ensemble() {
    // 23 nodes in the file; after fusion only the tree ensemble, the label Cast and ZipMap run.
    let model = load();
    let debug = format!("{model:?}");
    assert!(debug.contains("nodes: 3"), "{debug}");
}

#[test]
fn whole_sample_as_one_batch_matches_onnxruntime() {
    let model = load();
    let samples = read_samples();
    assert_eq!(samples.len(), 1500);
    let tensors = named_tensors(&model, &samples);
    let named: Vec<(&str, Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let out = pool.install(|| model.run(&named)).expect("run");
        let labels = out.get("output_label").and_then(Value::as_tensor).and_then(Tensor::as_i64).unwrap();
        let maps = out.get("output_probability").and_then(Value::as_maps).unwrap();
        let probs: Vec<f32> = (0..maps.len()).map(|r| maps.get_i64(r, 1).unwrap()).collect();
        assert_eq!(assert_matches(samples.iter().map(|s| s.id), labels, &probs), 1500);
    }
}

#[test]
fn row_by_row_through_input_batch_matches_onnxruntime() {
    let model = load();
    let samples = read_samples();
    let mut batch = InputBatch::new(&model).unwrap();
    let mut labels = Vec::new();
    let mut probs = Vec::new();
    for s in &samples {
        fill_batch(&model, &mut batch, std::slice::from_ref(s));
        let scores = model.predict_proba(&mut batch).expect("predict");
        labels.extend(scores.labels);
        probs.extend(scores.p_positive);
    }
    assert_eq!(assert_matches(samples.iter().map(|s| s.id), &labels, &probs), 1500);
}

#[test]
fn reused_input_batch_gives_the_same_scores_as_a_fresh_one() {
    let model = load();
    let samples = read_samples();
    let mut batch = InputBatch::new(&model).unwrap();
    // Large, small, larger, small again: the strings a small batch leaves out are reused by the next larger one,
    // and must hold that batch's values, not stale ones.
    for range in [0..700, 700..705, 700..1500, 3..6, 0..1500] {
        let n = range.len();
        fill_batch(&model, &mut batch, &samples[range.clone()]);
        let reused = model.predict_proba(&mut batch).unwrap();
        let mut fresh = InputBatch::new(&model).unwrap();
        fill_batch(&model, &mut fresh, &samples[range.clone()]);
        assert_eq!(reused, model.predict_proba(&mut fresh).unwrap(), "rows {range:?}");
        assert_eq!(reused.labels.len(), n);
        assert_eq!(assert_matches(samples[range].iter().map(|s| s.id), &reused.labels, &reused.p_positive), n);
    }
}

/// Reason codes on the seed model: for every sample row, the expected value plus the 75 inputs' contributions is
/// onnxruntime's logit, and every contribution lands on one of the model's named inputs (the 17 one-hot encoded
/// strings each get one contribution, not one per category).
#[test]
fn contributions_add_up_to_onnxruntime_logit_on_every_sample_row() {
    let model = load();
    let samples = read_samples();
    let expected = expected();
    let mut batch = InputBatch::new(&model).unwrap();
    fill_batch(&model, &mut batch, &samples);
    let c = model.explain(&mut batch).expect("explain");
    assert_eq!(c.features.len(), 75);
    assert_eq!(c.rows(), samples.len());
    assert_eq!(c.post, fraudstream_model::PostTransform::Logistic);
    assert_eq!(model.explainer().unwrap().covers(), &fraudstream_model::CoverSource::Uniform);
    let mut worst = 0f64;
    let mut beyond = 0;
    for (r, s) in samples.iter().enumerate() {
        let p = f64::from(expected[&s.id].1);
        let logit = (p / (1.0 - p)).ln();
        // onnxruntime sums 1,100 trees in f32 and prints a float32 probability: allow for both roundings.
        let rounding = 1e-5 + 1.2e-7 / (p * (1.0 - p));
        let err = (c.margin(r) - logit).abs();
        assert!(err <= rounding, "row {} (TransactionID {}): margin {} vs logit {logit}", r, s.id, c.margin(r));
        let p_ours = fraudstream_model::logistic(c.margin(r) as f32);
        assert!((f64::from(p_ours) - p).abs() <= 1e-6, "row {r}: logistic(margin) {p_ours} vs {p}");
        worst = worst.max(err);
        beyond += usize::from(err > 1e-5);
    }
    eprintln!("seed model: worst |expected + Σ contributions − logit(p)| = {worst:.2e}; rows beyond 1e-5: {beyond}");
    let strings: Vec<usize> = model
        .inputs()
        .iter()
        .enumerate()
        .filter(|(_, i)| i.elem_type() == Some(ElemType::String))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(strings.len(), 17);
    let used = strings.iter().filter(|&&k| (0..c.rows()).any(|r| c.row(r)[k] != 0.0)).count();
    assert!(used >= 10, "most one-hot encoded string inputs receive contributions ({used} of 17)");
}

/// The explainer gives the same contributions whichever way the rows come in: one batch, row by row, or as named
/// tensors, on one thread or several.
#[test]
fn contributions_do_not_depend_on_batching_or_threads() {
    let model = load();
    let samples = read_samples();
    let samples = &samples[..200];
    let tensors = named_tensors(&model, samples);
    let named: Vec<(&str, Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    let explainer = model.explainer().unwrap();
    let all = model.explain_with(explainer, &named).unwrap();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let single = one.install(|| model.explain_with(explainer, &named).unwrap());
    assert_eq!(all, single);
    let mut batch = InputBatch::new(&model).unwrap();
    for (r, s) in samples.iter().enumerate().step_by(37) {
        fill_batch(&model, &mut batch, std::slice::from_ref(s));
        let c = model.explain(&mut batch).unwrap();
        assert_eq!(c.row(0), all.row(r), "row {r}");
    }
    // A few rows (the alerts of a micro-batch) on the calling thread, as the stream's scoring workers explain them,
    // and spread over the pool.
    for range in [0..7, 100..140] {
        let (first, rows) = (range.start, &samples[range]);
        fill_batch(&model, &mut batch, rows);
        let here = model.explain_on(&mut batch, Threads::Caller).unwrap();
        fill_batch(&model, &mut batch, rows);
        assert_eq!(here, model.explain_on(&mut batch, Threads::Pool).unwrap());
        for r in 0..rows.len() {
            assert_eq!(here.row(r), all.row(first + r), "row {}", first + r);
        }
    }
}
