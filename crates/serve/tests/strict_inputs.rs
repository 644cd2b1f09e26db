//! Request field names and values are checked the same way on every protocol: a name that is no model input is a
//! 400 that names it, the row and the expected inputs; a row must carry at least one input; an omitted input is a
//! missing value exactly like an explicit `null`; non-finite number strings (`"inf"`, `"NaN"`) are a 400.
//!
//! Fixture `pipeline_zipmap.onnx`: inputs f0..f7 (float [N,1]) and cat (string [N,1]), served as `zip`.

mod common;

use common::*;
use fraudstream_serve::ServerHandle;
use serde_json::{json, Value};

const ZIP_INPUTS: &str = "f0, f1, f2, f3, f4, f5, f6, f7, cat";

fn zip_server() -> ServerHandle {
    let mut cfg = config();
    cfg.models.push(("zip".into(), fixtures().join("pipeline_zipmap.onnx")));
    start(cfg)
}

/// Posts `body` and asserts a 400 whose message contains every needle; returns the error body.
fn rejected(srv: &ServerHandle, path: &str, body: &Value, needles: &[&str]) -> Value {
    let (st, err) = post(&srv.url(path), body);
    assert_eq!(st, 400, "{path} {body}: {err}");
    let msg = err["error"].as_str().expect("message");
    for n in needles {
        assert!(msg.contains(n), "{path} {body}: `{msg}` lacks `{n}`");
    }
    err
}

#[test]
fn an_unknown_column_in_a_frame_is_400_naming_it_and_the_model_inputs() {
    let srv = zip_server();
    let body = json!({"input_data": {"columns": ["f0", "f_1", "cat"], "data": [[1.0, 2.0, "b"]]}});
    let err = rejected(&srv, "/score/zip", &body, &["`f_1`", ZIP_INPUTS, "did you mean `f1`"]);
    assert_eq!(err["field"], "f_1");
}

#[test]
fn every_unknown_column_of_a_frame_is_named() {
    let srv = zip_server();
    let body = json!({"input_data": {"columns": ["f0", "nope", "cat", "zzz"], "data": [[1.0, 2.0, "b", 3]]}});
    rejected(&srv, "/score/zip", &body, &["`nope`", "`zzz`"]);
}

#[test]
fn an_unknown_field_in_a_records_row_is_400_naming_it_and_the_row() {
    let srv = zip_server();
    let body = json!({"input_data": [{"f0": 1.0}, {"f0": 1.0, "F0x": 2.0}]});
    let err = rejected(&srv, "/score/zip", &body, &["row 1", "`F0x`", ZIP_INPUTS]);
    assert_eq!((err["field"].clone(), err["row"].clone()), (json!("F0x"), json!(1)));
}

#[test]
fn an_unknown_field_in_a_json_string_cell_is_400_naming_it_and_the_row() {
    let srv = zip_server();
    let rows = [[json!({"f0": 1.0, "cat": "b"}).to_string()], [json!({"f0": 1.0, "kat": "b"}).to_string()]];
    let body = json!({"input_data": {"columns": ["features_json"], "data": rows}});
    let err = rejected(&srv, "/score/zip", &body, &["row 1", "`kat`", "did you mean `cat`", ZIP_INPUTS]);
    assert_eq!(err["row"], 1);
}

#[test]
fn an_unknown_field_in_a_v1_instance_is_400_naming_it_and_the_instance() {
    let srv = zip_server();
    let body = json!({"instances": [{"f0": 1.0}, {"f0": 1.0}, {"f0": 1.0, "f8": 0.0}]});
    let err = rejected(&srv, "/v1/models/zip:predict", &body, &["row 2", "`f8`", ZIP_INPUTS]);
    assert_eq!((err["field"].clone(), err["row"].clone()), (json!("f8"), json!(2)));
}

#[test]
fn an_unknown_v2_input_is_400_naming_the_model_inputs() {
    let srv = zip_server();
    let body = json!({"inputs": [{"name": "zz", "shape": [1], "datatype": "FP32", "data": [1.0]}]});
    let err = rejected(&srv, "/v2/models/zip/infer", &body, &["`zz`", ZIP_INPUTS]);
    assert_eq!(err["field"], "zz");
}

#[test]
fn an_empty_v1_instance_is_400() {
    let srv = zip_server();
    let body = json!({"instances": [{"f0": 1.0}, {}]});
    let err = rejected(&srv, "/v1/models/zip:predict", &body, &["row 1", "none of", ZIP_INPUTS]);
    assert_eq!(err["row"], 1);
}

#[test]
fn a_row_carrying_none_of_the_model_inputs_is_400_in_every_row_form() {
    let srv = zip_server();
    for body in [
        json!({"input_data": [{}]}),
        json!({"input_data": {"columns": ["features_json"], "data": [["{}"]]}}),
        json!({"input_data": {"columns": [], "data": [[]]}}),
    ] {
        rejected(&srv, "/score/zip", &body, &["row 0", "none of"]);
    }
}

#[test]
fn a_column_given_twice_is_400() {
    let srv = zip_server();
    let body = json!({"input_data": {"columns": ["f0", "cat", "f0"], "data": [[1.0, "b", 2.0]]}});
    let err = rejected(&srv, "/score/zip", &body, &["`f0`", "twice"]);
    assert_eq!(err["field"], "f0");
}

/// The probability of the zip model for one request.
fn probability(srv: &ServerHandle, path: &str, body: &Value) -> f64 {
    let (st, got) = post(&srv.url(path), body);
    assert_eq!(st, 200, "{path} {body}: {got}");
    let p = match path {
        p if p.starts_with("/score") => &got[0],
        p if p.starts_with("/v1") => &got["predictions"][0],
        _ => &got["outputs"][1]["data"][0],
    };
    p.as_f64().unwrap_or_else(|| panic!("{path}: no probability in {got}"))
}

#[test]
fn an_omitted_input_scores_like_an_explicit_null_in_every_protocol() {
    let srv = zip_server();
    let all_null = json!({"f0": 0.7, "f1": null, "f2": null, "f3": null, "f4": null, "f5": null, "f6": null,
                          "f7": null, "cat": "c"});
    let baseline = probability(&srv, "/v1/models/zip:predict", &json!({"instances": [all_null]}));
    let partial = json!({"f0": 0.7, "cat": "c"});
    let v2 = json!({"inputs": [
        {"name": "f0", "shape": [1, 1], "datatype": "FP32", "data": [0.7]},
        {"name": "cat", "shape": [1, 1], "datatype": "BYTES", "data": ["c"]},
    ]});
    for (path, body) in [
        ("/score/zip?output=probability", json!({"input_data": {"columns": ["f0", "cat"], "data": [[0.7, "c"]]}})),
        ("/score/zip?output=probability", json!({"input_data": [partial]})),
        ("/score/zip?output=probability", json!({"input_data": {"data": [[partial.to_string()]]}})),
        ("/v1/models/zip:predict", json!({"instances": [partial]})),
        ("/v2/models/zip/infer", v2),
    ] {
        let p = probability(&srv, path, &body);
        assert!((p - baseline).abs() <= 1e-7, "{path} {body}: {p} vs {baseline}");
    }
}

#[test]
fn non_finite_number_strings_are_400_naming_the_field_and_row() {
    let srv = zip_server();
    for s in ["inf", "INF", "-inf", "+Infinity", "infinity", "NaN", "nan", "-NaN"] {
        let frame = json!({"input_data": {"columns": ["f0", "f1"], "data": [[1.0, 2.0], [1.0, s]]}});
        let err = rejected(&srv, "/score/zip", &frame, &["row 1", "`f1`"]);
        assert_eq!((err["field"].clone(), err["row"].clone()), (json!("f1"), json!(1)), "{s}");
        let records = json!({"input_data": [{"f2": s}]});
        rejected(&srv, "/score/zip", &records, &["row 0", "`f2`"]);
        let v1 = json!({"instances": [{"f0": 1.0}, {"f3": s}]});
        rejected(&srv, "/v1/models/zip:predict", &v1, &["row 1", "`f3`"]);
        let v2 = json!({"inputs": [{"name": "f4", "shape": [2, 1], "datatype": "FP32", "data": [1.0, s]}]});
        rejected(&srv, "/v2/models/zip/infer", &v2, &["row 1", "`f4`"]);
    }
}

#[test]
fn numeric_strings_score_like_the_numbers_they_spell() {
    let srv = zip_server();
    let as_number = json!({"input_data": {"columns": ["f0", "f1", "cat"], "data": [[42.5, -0.25, "b"]]}});
    let as_string = json!({"input_data": {"columns": ["f0", "f1", "cat"], "data": [["42.5", " -0.25 ", "b"]]}});
    let a = probability(&srv, "/score/zip?output=probability", &as_number);
    let b = probability(&srv, "/score/zip?output=probability", &as_string);
    assert_eq!(a, b);
}

#[test]
fn a_misspelled_column_of_the_seed_model_points_to_its_metadata_and_the_close_name() {
    let mut cfg = config();
    cfg.models.push(("fraud".into(), shared_reference().join("seed-model/pipeline_75.onnx")));
    let srv = start(cfg);
    let body = json!({"input_data": {"columns": ["TransactionAmt", "card_1"], "data": [[68.5, 13926]]}});
    let err = rejected(&srv, "/score", &body, &["`card_1`", "did you mean `card1`", "/v2/models/fraud/versions/1"]);
    assert_eq!(err["field"], "card_1");
}
