//! The trainer as the CLI uses it: synthetic rows in, a model out, checked for what it learned, for reproducibility,
//! and for agreement between its own predictions and the exported ONNX graph run by `fraudstream_model`.

mod common;

use common::{dataset, noisy_rule, rows, rule, Row, FEATURES};
use fraudstream_features::{FeatureSet, InputValue};
use fraudstream_model::{InputBatch, Model};
use fraudstream_train::{
    train, train_with_progress, DatasetBuilder, ModelCard, TrainError, TrainParams, TrainedModel, ValueKind,
};

fn params() -> TrainParams {
    TrainParams { rounds: 60, learning_rate: 0.2, num_leaves: 15, min_data_in_leaf: 10, ..TrainParams::default() }
}

/// Scores rows with the exported model through `fraudstream_model`, the way the stream feeds it.
fn score_onnx(model: &TrainedModel, rows: &[Row]) -> Vec<f32> {
    let engine = Model::from_bytes(&model.to_onnx()).expect("the exported model loads");
    let mut batch = InputBatch::new(&engine).expect("batch");
    for r in rows {
        for (i, v) in r.values().iter().enumerate() {
            match v {
                InputValue::Num(x) => batch.push_f64(i, *x).expect("number"),
                InputValue::Str(s) => batch.push_str(i, s).expect("string"),
            }
        }
    }
    engine.predict_proba(&mut batch).expect("scores").p_positive
}

#[test]
fn learns_a_separable_rule() {
    let rows = rows(1, 6000, usize::MAX);
    let model = train(&dataset(&rows, |r, _| rule(r)), &params()).expect("trains");
    let m = model.report().metrics.clone().expect("validation metrics");
    assert!(m.valid_auc > 0.995, "AUC {}", m.valid_auc);
    assert!(m.recall_at_5pct_fpr > 0.95, "{m:?}");
    assert_eq!(model.report().valid_rows, 1200);
}

#[test]
fn missing_values_follow_the_side_they_resemble() {
    // Fraud when dist1 is missing or large: missing must end up on the large side.
    let rows = rows(2, 5000, usize::MAX);
    let model = train(&dataset(&rows, |r, _| r.dist1.is_nan() || r.dist1 > 80.0), &params()).expect("trains");
    let p = |dist1: f64| {
        let r = Row { dist1, ..rows[0].clone() };
        model.predict_row(&r.values()).expect("predicts")
    };
    assert!(p(f64::NAN) > 0.9, "missing: {}", p(f64::NAN));
    assert!(p(95.0) > 0.9, "large: {}", p(95.0));
    assert!(p(10.0) < 0.1, "small: {}", p(10.0));
}

#[test]
fn same_seed_same_bytes_on_one_or_two_threads() {
    // Enough rows that large leaves are summed in several parts (see histogram.rs), in parallel on two threads.
    let rows = rows(3, 30_000, usize::MAX);
    let data = dataset(&rows, noisy_rule(0.1, 3));
    let p =
        TrainParams { feature_fraction: 0.6, bagging_fraction: 0.7, bagging_freq: 1, seed: 11, rounds: 25, ..params() };
    let one = train(&data, &TrainParams { threads: 1, ..p.clone() }).expect("1 thread");
    let two = train(&data, &TrainParams { threads: 2, ..p.clone() }).expect("2 threads");
    let again = train(&data, &TrainParams { threads: 2, ..p.clone() }).expect("again");
    assert_eq!(one.to_onnx(), two.to_onnx(), "thread count changed the model");
    assert_eq!(two.to_onnx(), again.to_onnx(), "a rerun changed the model");
    let other = train(&data, &TrainParams { seed: 12, threads: 2, ..p }).expect("other seed");
    assert_ne!(two.to_onnx(), other.to_onnx(), "the seed drives bagging and feature sampling");
}

#[test]
fn early_stopping_keeps_the_best_round() {
    // Labels are mostly noise: validation AUC peaks early, then overfitting sets in.
    let rows = rows(4, 3000, usize::MAX);
    let data = dataset(&rows, noisy_rule(0.45, 4));
    let p = TrainParams { rounds: 400, early_stopping_rounds: Some(10), learning_rate: 0.3, ..params() };
    let mut seen = 0;
    let model = train_with_progress(&data, &p, &mut |r| {
        seen += 1;
        assert_eq!(r.round, seen);
        assert!(r.valid_auc.is_some() && r.train_loss.is_finite());
    })
    .expect("trains");
    let report = model.report();
    assert!(report.rounds_trained < 400, "stopped early: {}", report.rounds_trained);
    assert_eq!(report.rounds_used + 10, report.rounds_trained);
    let best = report.history.iter().filter_map(|h| h.valid_auc).fold(f64::MIN, f64::max);
    assert_eq!(report.history[report.rounds_used - 1].valid_auc, Some(best));
}

#[test]
fn exported_onnx_scores_equal_the_trainers_own_on_every_row() {
    // Later rows carry categories never seen in training; NaNs and "" throughout.
    let rows = rows(5, 3000, 2000);
    let data = dataset(&rows, noisy_rule(0.05, 5));
    let p = TrainParams { feature_fraction: 0.8, bagging_fraction: 0.8, bagging_freq: 1, ..params() };
    let model = train(&data, &p).expect("trains");
    let ours = model.predict_dataset(&data).expect("predicts");
    let onnx = score_onnx(&model, &rows);
    assert_eq!(ours.len(), onnx.len());
    for (i, (a, b)) in ours.iter().zip(&onnx).enumerate() {
        assert!((a - b).abs() <= 1e-6, "row {i}: trainer {a} vs ONNX {b} ({:?})", rows[i]);
    }
    for (i, r) in rows.iter().enumerate().step_by(97) {
        assert_eq!(model.predict_row(&r.values()).expect("row"), ours[i]);
    }
    // Unknown categories and missing values really were exercised.
    assert!(rows.iter().any(|r| r.product == "NEW") && rows.iter().any(|r| r.product.is_empty()));
    assert!(rows.iter().any(|r| r.amt.is_nan()));
}

#[test]
fn exported_graph_has_one_named_input_per_feature() {
    let rows = rows(6, 1500, usize::MAX);
    let model = train(&dataset(&rows, |r, _| rule(r)), &TrainParams { rounds: 5, ..params() }).expect("trains");
    let engine = Model::from_bytes(&model.to_onnx()).expect("loads");
    let names: Vec<&str> = engine.inputs().iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, FEATURES);
    let kinds: Vec<ValueKind> = model.features().iter().map(|f| f.kind).collect();
    assert_eq!(kinds[3], ValueKind::Categorical);
    let outputs: Vec<&str> = engine.outputs().iter().map(|o| o.name.as_str()).collect();
    assert_eq!(outputs, ["label", "probabilities"]);
}

#[test]
fn model_json_round_trips_and_names_the_metrics() {
    let rows = rows(7, 2000, usize::MAX);
    let data = dataset(&rows, noisy_rule(0.1, 7));
    let model = train(&data, &TrainParams { rounds: 10, ..params() }).expect("trains");
    let card = model.card();
    let json = card.to_json().expect("json");
    assert_eq!(ModelCard::from_json(&json).expect("parses"), card);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json value");
    for key in ["valid_auc", "valid_pr_auc", "recall_at_1pct_fpr", "recall_at_5pct_fpr"] {
        assert!(v["metrics"][key].is_number(), "metrics.{key} in {json}");
    }
    assert_eq!(v["data_fingerprint"].as_str(), Some(format!("{:016x}", data.fingerprint()).as_str()));
    assert_eq!(v["rounds_used"], 10);
    assert!(v["features"][3]["vocabulary"]["entries"].is_array());
    let dir = std::env::temp_dir().join(format!("fraudstream-train-test-{}", std::process::id()));
    let (onnx, json_path) = model.save(&dir).expect("saves");
    assert_eq!(std::fs::read(&onnx).expect("onnx"), model.to_onnx());
    assert_eq!(ModelCard::from_json(&std::fs::read_to_string(&json_path).expect("json")).expect("parses"), card);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_gives_a_clear_error() {
    let set = FeatureSet::new(FEATURES).expect("features");
    let err = DatasetBuilder::new(&set).build().unwrap_err();
    assert!(err.to_string().contains("no rows"), "{err}");

    let rows = rows(8, 500, usize::MAX);
    let one_class = dataset(&rows, |_, _| false);
    let err = train(&one_class, &params()).unwrap_err();
    assert!(matches!(err, TrainError::SingleClass { rows: 400, positives: 0 }), "{err}");

    let mut b = DatasetBuilder::new(&set);
    let err = b.push_numeric_label(&rows[0].values(), f64::NAN).unwrap_err();
    assert!(err.to_string().contains("label NaN is not 0 or 1"), "{err}");

    let data = dataset(&rows, |r, _| rule(r));
    let err = train(&data, &TrainParams { num_leaves: 1, ..params() }).unwrap_err();
    assert!(err.to_string().contains("num_leaves"), "{err}");
    let err =
        train(&data, &TrainParams { valid_fraction: 0.0, early_stopping_rounds: Some(5), ..params() }).unwrap_err();
    assert!(matches!(err, TrainError::NoValidation(_)), "{err}");
}

/// The exported model carries its training counts as covers, so its reason codes are LightGBM-style path-dependent
/// TreeSHAP out of the box: they add up to the model's logit on every row, the categorical (label-encoded) inputs
/// get contributions under their own names, and counting covers from the training rows again gives the same
/// explanations (the trainer's bin routing and the exported thresholds agree exactly).
#[test]
fn exported_model_explains_with_its_training_covers() {
    let rows = rows(8, 5000, 4000);
    let model = train(&dataset(&rows, noisy_rule(0.05, 8)), &params()).expect("trains");
    let engine = Model::from_bytes(&model.to_onnx()).expect("loads");
    let explainer = engine.explainer().expect("explainable");
    assert_eq!(explainer.covers(), &fraudstream_model::CoverSource::Hitrates);
    assert_eq!(explainer.features().iter().map(String::as_str).collect::<Vec<_>>(), FEATURES);
    let tensors = named_tensors(&rows);
    let named: Vec<(&str, fraudstream_model::Tensor)> = tensors.iter().map(|(n, t)| (*n, t.clone())).collect();
    let c = engine.explain_with(explainer, &named).expect("explains");
    let p = score_onnx(&model, &rows);
    for (r, &p) in p.iter().enumerate() {
        let logit = (f64::from(p) / (1.0 - f64::from(p))).ln();
        let rounding = 1e-5 + 1.2e-7 / (f64::from(p) * (1.0 - f64::from(p)));
        assert!((c.margin(r) - logit).abs() <= rounding, "row {r}: {} vs {logit}", c.margin(r));
    }
    let product = FEATURES.iter().position(|&f| f == "ProductCD").expect("ProductCD");
    assert!((0..c.rows()).any(|r| c.row(r)[product].abs() > 0.1), "the categorical rule shows in ProductCD");
    // Counting covers from the training part of the rows reproduces the exported ones.
    let train_rows = model.report().train_rows;
    let background = named_tensors(&rows[..train_rows]);
    let background: Vec<(&str, fraudstream_model::Tensor)> = background.iter().map(|(n, t)| (*n, t.clone())).collect();
    let counted = engine.explainer_with_background(&background).expect("background covers");
    assert_eq!(counted.covers(), &fraudstream_model::CoverSource::Background { rows: train_rows });
    let again = engine.explain_with(&counted, &named).expect("explains");
    assert!((again.expected - c.expected).abs() < 1e-9);
    for (a, b) in again.values.iter().zip(&c.values) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
}

/// The rows as named `[N, 1]` tensors, the exported graph's inputs.
fn named_tensors(rows: &[Row]) -> Vec<(&'static str, fraudstream_model::Tensor)> {
    use fraudstream_model::{Tensor, TensorData};
    FEATURES
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let data = match rows[0].values()[i] {
                InputValue::Num(_) => TensorData::Float(
                    rows.iter().map(|r| if let InputValue::Num(x) = r.values()[i] { x as f32 } else { 0.0 }).collect(),
                ),
                InputValue::Str(_) => TensorData::String(
                    rows.iter()
                        .map(|r| if let InputValue::Str(s) = r.values()[i] { s.to_string() } else { String::new() })
                        .collect(),
                ),
            };
            (name, Tensor::new(vec![rows.len(), 1], data).expect("tensor"))
        })
        .collect()
}
