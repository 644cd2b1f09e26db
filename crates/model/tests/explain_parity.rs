//! TreeSHAP parity with the reference implementations: LightGBM's `pred_contrib` and XGBoost's `pred_contribs`
//! on 1,000 rows with missing values, for models exported to ONNX by onnxmltools with the boosters' node covers
//! written into `nodes_hitrates` (fixtures made by `fixtures/make_fixtures.py shap` with the pinned packages of
//! `fixtures/requirements.txt`). Every contribution and the expected value (the boosters' bias column) must agree
//! within 1e-5, and ours must add up to the booster's margin.

use std::path::PathBuf;

use fraudstream_model::{CoverSource, InputBatch, Model};
use serde_json::Value as Json;

const TOLERANCE: f64 = 1e-5;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One parity fixture: the model, its rows in a batch, and the booster's contributions (bias last) and margins.
struct Fixture {
    model: Model,
    batch: InputBatch,
    contrib: Vec<Vec<f64>>,
    margin: Vec<f64>,
}

fn fixture(name: &str) -> Fixture {
    let model = Model::load(fixtures().join(format!("{name}.onnx"))).expect("fixture model loads");
    let text = std::fs::read_to_string(fixtures().join(format!("{name}.json"))).expect("fixture json");
    let j: Json = serde_json::from_str(&text).expect("valid json");
    let num = |v: &Json| v.as_f64().unwrap_or(f64::NAN);
    let rows = |key: &str| -> Vec<Vec<f64>> {
        j[key].as_array().expect(key).iter().map(|r| r.as_array().expect("row").iter().map(num).collect()).collect()
    };
    let input = model.input_index(j["input"].as_str().expect("input name")).expect("model input");
    let mut batch = InputBatch::new(&model).expect("batch");
    for row in rows("x") {
        for v in row {
            batch.push_f64(input, v).expect("push");
        }
    }
    let margin = j["margin"].as_array().expect("margin").iter().map(num).collect();
    Fixture { model, batch, contrib: rows("contrib"), margin }
}

fn assert_matches_booster(name: &str) {
    let Fixture { model, mut batch, contrib, margin } = fixture(name);
    let explainer = model.explainer().expect("explainable");
    assert_eq!(*explainer.covers(), CoverSource::Hitrates, "{name}: the booster's covers are used");
    let ours = model.explain(&mut batch).expect("explain");
    assert!(contrib.len() >= 1000 && ours.rows() == contrib.len(), "{name}: {} rows explained", ours.rows());
    assert!(ours.features.len() >= 20, "{name}: at least 20 features");
    let mut worst = 0.0f64;
    for (r, want) in contrib.iter().enumerate() {
        let (bias, want) = want.split_last().expect("bias column");
        let got = ours.row(r);
        assert_eq!(got.len(), want.len(), "{name}: one contribution per feature");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= TOLERANCE, "{name} row {r} feature {i}: ours {g}, booster {w}");
            worst = worst.max((g - w).abs());
        }
        assert!((ours.expected - bias).abs() <= TOLERANCE, "{name}: expected {} vs bias {bias}", ours.expected);
        worst = worst.max((ours.expected - bias).abs());
        let m = ours.margin(r);
        assert!((m - margin[r]).abs() <= TOLERANCE, "{name} row {r}: margin {m} vs booster {}", margin[r]);
    }
    eprintln!("{name}: {} rows × {} features, largest |ours − booster| = {worst:e}", contrib.len(), want_len(&contrib));
}

fn want_len(contrib: &[Vec<f64>]) -> usize {
    contrib.first().map_or(0, |r| r.len() - 1)
}

#[test]
fn lightgbm_binary_matches_pred_contrib() {
    assert_matches_booster("shap_lgbm");
}

#[test]
fn xgboost_binary_matches_pred_contribs() {
    assert_matches_booster("shap_xgb");
}

#[test]
fn multiclass_models_are_refused_with_the_reason() {
    let model = Model::load(fixtures().join("lgbm_multiclass.onnx")).expect("model");
    let err = model.explainer().expect_err("a multiclass model has no single margin to explain");
    assert!(err.to_string().contains("classes"), "{err}");
}

/// onnxmltools writes `nodes_hitrates = 1.0` on every node of a LightGBM export without covers: not covers. The
/// explainer must notice (uniform covers), background rows must replace them, and either way every row's
/// contributions must add up to the logit of the probability the model scores.
#[test]
fn a_model_without_covers_falls_back_to_uniform_and_counts_them_from_background_rows() {
    let model = Model::load(fixtures().join("lgbm_nan.onnx")).expect("model");
    let uniform = model.explainer().expect("explainable");
    assert_eq!(*uniform.covers(), CoverSource::Uniform);
    let (rows, width) = (300, 8);
    let mut state = 12345u64;
    let x: Vec<f32> = (0..rows * width)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            if u < 0.1 {
                f32::NAN
            } else {
                ((u - 0.55) * 6.0) as f32
            }
        })
        .collect();
    let mut batch = InputBatch::new(&model).expect("batch");
    for &v in &x {
        batch.push_f64(0, f64::from(v)).expect("push");
    }
    let p = model.predict_proba(&mut batch).expect("score").p_positive;
    let tensor = fraudstream_model::Tensor::from_f32(vec![rows, width], x).expect("tensor");
    let background = model.explainer_with_background(&[("input", tensor.clone())]).expect("background covers");
    assert_eq!(*background.covers(), CoverSource::Background { rows });
    assert!((background.expected() - uniform.expected()).abs() > 1e-6, "covers changed the expected margin");
    for explainer in [uniform, &background] {
        let c = model.explain_with(explainer, &[("input", tensor.clone())]).expect("explain");
        assert_eq!(c.rows(), rows);
        for (r, &p) in p.iter().enumerate() {
            let p = f64::from(p);
            if p <= 0.01 || p >= 0.99 {
                // f32 probabilities this close to 0 or 1 do not pin the logit to 1e-4.
                continue;
            }
            let logit = (p / (1.0 - p)).ln();
            let m = c.margin(r);
            assert!((m - logit).abs() <= 1e-4, "{}: row {r}: margin {m} vs logit {logit}", explainer.covers());
        }
    }
}
