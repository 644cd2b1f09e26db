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
