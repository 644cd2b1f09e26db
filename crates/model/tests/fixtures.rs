//! Small models exported by skl2onnx / onnxmltools (see fixtures/make_fixtures.py) must reproduce the stored
//! onnxruntime outputs: labels exactly, probabilities within 1e-6, regression values within 1e-5 relative.

use std::path::PathBuf;

use fraudstream_model::{Model, Tensor, TensorData, Value};
use serde_json::Value as Json;

fn fixture(name: &str) -> (Model, Json) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let model = Model::load(dir.join(format!("{name}.onnx"))).unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("fixture json");
    (model, serde_json::from_str(&text).expect("valid json"))
}

fn tensor(j: &Json) -> Tensor {
    let shape: Vec<usize> = j["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let data = j["data"].as_array().unwrap();
    let num = |v: &Json| v.as_f64().unwrap_or(f64::NAN);
    let data = match j["type"].as_str().unwrap() {
        "float" => TensorData::Float(data.iter().map(|v| num(v) as f32).collect()),
        "double" => TensorData::Double(data.iter().map(num).collect()),
        "int64" => TensorData::Int64(data.iter().map(|v| v.as_i64().unwrap()).collect()),
        "string" => TensorData::String(data.iter().map(|v| v.as_str().unwrap().to_string()).collect()),
        t => panic!("unknown type {t}"),
    };
    Tensor::new(shape, data).unwrap()
}

fn close(got: f32, want: f64, relative: bool) -> bool {
    let tol = if relative { 1e-5 * want.abs().max(1e-3) } else { 1e-6 };
    (got as f64 - want).abs() <= tol
}

/// Runs a fixture and compares every output with onnxruntime's.
fn check(name: &str) {
    let (model, j) = fixture(name);
    let inputs: Vec<(String, Tensor)> =
        j["inputs"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), tensor(v))).collect();
    let named: Vec<(&str, Tensor)> = inputs.iter().map(|(k, t)| (k.as_str(), t.clone())).collect();
    let out = model.run(&named).unwrap_or_else(|e| panic!("{name}: {e}"));
    let relative = name.contains("regressor");
    for (oname, want) in j["outputs"].as_object().unwrap() {
        let got = out.get(oname).unwrap_or_else(|| panic!("{name}: no output {oname}"));
        let expected = want["data"].as_array().unwrap();
        match (got, want["type"].as_str().unwrap()) {
            (Value::Maps(m), "maps") => {
                assert_eq!(m.values.len(), expected.len(), "{name}/{oname} length");
                for (i, (g, w)) in m.values.iter().zip(expected).enumerate() {
                    assert!(close(*g, w.as_f64().unwrap(), false), "{name}/{oname}[{i}]: {g} vs {w}");
                }
            }
            (Value::Tensor(t), "int64") => {
                let w: Vec<i64> = expected.iter().map(|v| v.as_i64().unwrap()).collect();
                assert_eq!(t.as_i64().unwrap(), w.as_slice(), "{name}/{oname}");
            }
            (Value::Tensor(t), "string") => {
                let w: Vec<&str> = expected.iter().map(|v| v.as_str().unwrap()).collect();
                assert_eq!(t.as_strings().unwrap(), w.as_slice(), "{name}/{oname}");
            }
            (Value::Tensor(t), "float") => {
                let g = t.as_f32().unwrap();
                assert_eq!(g.len(), expected.len(), "{name}/{oname} length");
                for (i, (g, w)) in g.iter().zip(expected).enumerate() {
                    assert!(close(*g, w.as_f64().unwrap_or(f64::NAN), relative), "{name}/{oname}[{i}]: {g} vs {w}");
                }
            }
            (v, t) => panic!("{name}/{oname}: got {v:?}, expected type {t}"),
        }
    }
}

#[test]
fn lightgbm_binary_classifier() {
    check("lgbm_binary");
}

#[test]
fn lightgbm_binary_classifier_with_zipmap() {
    check("lgbm_binary_zipmap");
}

#[test]
fn lightgbm_multiclass_classifier() {
    check("lgbm_multiclass");
}

#[test]
fn lightgbm_regressor() {
    check("lgbm_regressor");
}

#[test]
fn lightgbm_trained_and_scored_with_missing_values() {
    check("lgbm_nan");
}

#[test]
fn xgboost_binary_classifier_with_branch_lt_and_missing_values() {
    check("xgb_binary");
}

#[test]
fn xgboost_with_500_trees() {
    check("xgb_500");
}

#[test]
fn sklearn_random_forest_classifier() {
    check("rf_classifier");
}

#[test]
fn sklearn_random_forest_regressor() {
    check("rf_regressor");
}

#[test]
fn sklearn_gradient_boosting_multiclass() {
    check("gb_classifier");
}

#[test]
fn sklearn_pipeline_with_imputer_scaler_one_hot_and_zipmap() {
    check("pipeline_zipmap");
}
