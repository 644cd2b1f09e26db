//! Protocol behaviour on small fixture models: auth, errors, KServe parity, versions and reload, metrics,
//! OpenAPI, shadow scoring.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// `pipeline_zipmap.onnx`: inputs f0..f7 (float [N,1]) and cat (string [N,1]).
fn zip_fixture() -> (Vec<String>, Vec<Vec<Value>>, Vec<i64>, Vec<f64>) {
    let text = std::fs::read_to_string(fixtures().join("pipeline_zipmap.json")).expect("fixture");
    let d: Value = serde_json::from_str(&text).expect("json");
    let names: Vec<String> = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "cat"].map(String::from).to_vec();
    let rows = (0..64).map(|r| names.iter().map(|n| d["inputs"][n]["data"][r].clone()).collect()).collect();
    let labels = d["outputs"]["output_label"]["data"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|v| v.as_i64().expect("l"))
        .collect();
    let probs = d["outputs"]["output_probability"]["data"].as_array().expect("probs");
    let p1 = probs.chunks(2).map(|c| c[1].as_f64().expect("p")).collect();
    (names, rows, labels, p1)
}

fn zip_config() -> fraudstream_serve::ServeConfig {
    let mut cfg = config();
    cfg.models.push(("zip".into(), fixtures().join("pipeline_zipmap.onnx")));
    cfg.models.push(("lgbm".into(), fixtures().join("lgbm_binary.onnx")));
    cfg
}

#[test]
fn azureml_and_kserve_v2_match_the_fixture_outputs() {
    let srv = start(zip_config());
    let (names, rows, labels, p1) = zip_fixture();
    let (st, got) = post(&srv.url("/score/zip"), &json!({"input_data": {"columns": names, "data": rows}}));
    assert_eq!(st, 200, "{got}");
    assert_eq!(got, json!(labels));
    let (st, got) =
        post(&srv.url("/score/zip?output=probability"), &json!({"input_data": {"columns": names, "data": rows}}));
    assert_eq!(st, 200);
    for (g, e) in got.as_array().expect("array").iter().zip(&p1) {
        assert!((g.as_f64().expect("p") - e).abs() <= 1e-6);
    }
    // v2, columns as nested [N,1] data.
    let inputs: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(c, n)| {
            json!({"name": n, "shape": [64, 1], "datatype": if n == "cat" {"BYTES"} else {"FP32"},
                   "data": rows.iter().map(|r| json!([r[c]])).collect::<Vec<_>>()})
        })
        .collect();
    let (st, got) = post(&srv.url("/v2/models/zip/infer"), &json!({"inputs": inputs, "outputs": [{"name": "label"}]}));
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["outputs"].as_array().expect("outputs").len(), 1);
    assert_eq!(got["outputs"][0]["data"], json!(labels));

    // A [N, 8] input: lgbm_binary's single `input` tensor.
    let text = std::fs::read_to_string(fixtures().join("lgbm_binary.json")).expect("fixture");
    let d: Value = serde_json::from_str(&text).expect("json");
    let (st, got) = post(
        &srv.url("/v2/models/lgbm/infer"),
        &json!({"inputs": [{"name": "input", "shape": [64, 8], "datatype": "FP32", "data": d["inputs"]["input"]["data"]}]}),
    );
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["outputs"][0]["data"], d["outputs"]["label"]["data"]);
    let (st, meta) = get(&srv.url("/v2/models/lgbm/versions/1"));
    assert_eq!(st, 200);
    assert_eq!(meta["inputs"][0]["shape"], json!([-1, 8]));
    // Same model through the Azure frame: one column holding an array of 8 values per row.
    let rows8: Vec<Value> =
        d["inputs"]["input"]["data"].as_array().expect("data").chunks(8).map(|c| json!([c])).collect();
    let (st, got) = post(&srv.url("/score/lgbm"), &json!({"input_data": {"columns": ["input"], "data": rows8}}));
    assert_eq!(st, 200, "{got}");
    assert_eq!(got, d["outputs"]["label"]["data"]);
    // v1: objects with named fields; omitted ones are missing values, not errors (a row needs at least one input).
    let (st, got) =
        post(&srv.url("/v1/models/zip:predict"), &json!({"instances": [{"f0": 1.0, "cat": "b"}, {"f1": null}]}));
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["predictions"].as_array().expect("p").len(), 2);
    // With two models loaded, /score must name one.
    let (st, got) = post(&srv.url("/score"), &json!({"input_data": {"columns": names, "data": rows}}));
    assert_eq!(st, 400, "{got}");
}

#[test]
fn api_keys_guard_everything_but_health() {
    let mut cfg = zip_config();
    cfg.api_keys = vec!["s3cret".into()];
    let srv = start(cfg);
    let c = client();
    for path in ["/v2/health/live", "/v2/health/ready"] {
        assert_eq!(c.get(srv.url(path)).send().expect("send").status().as_u16(), 200, "{path}");
    }
    let body = json!({"input_data": {"columns": ["f0"], "data": [[1.0]]}});
    let r = c.post(srv.url("/score/zip")).json(&body).send().expect("send");
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let err: Value = r.json().expect("json");
    assert!(err["error"].as_str().expect("msg").contains("API key"), "{err}");
    let r = c.post(srv.url("/score/zip")).bearer_auth("wrong").json(&body).send().expect("send");
    assert_eq!(r.status().as_u16(), 401);
    for path in ["/metrics", "/openapi.json", "/v2/models/zip", "/admin/models"] {
        assert_eq!(c.get(srv.url(path)).send().expect("send").status().as_u16(), 401, "{path}");
    }
    let r = c.post(srv.url("/score/zip")).bearer_auth("s3cret").json(&body).send().expect("send");
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn unknown_models_and_versions_are_404() {
    let srv = start(zip_config());
    let body = json!({"input_data": {"columns": ["f0"], "data": [[1.0]]}});
    for path in [
        "/score/nope",
        "/score/zip$7",
        "/score/zip$x",
        "/v2/models/nope/infer",
        "/v2/models/zip/versions/9/infer",
        "/v1/models/nope:predict",
    ] {
        let (st, err) = post(&srv.url(path), &body);
        assert_eq!(st, 404, "{path}: {err}");
        assert!(err["error"].is_string());
    }
    for path in ["/v2/models/nope", "/v2/models/zip/versions/9", "/v2/models/zip/versions/9/ready", "/nowhere"] {
        let (st, _) = get(&srv.url(path));
        assert_eq!(st, 404, "{path}");
    }
}

#[test]
fn bodies_over_the_limit_are_413() {
    let mut cfg = zip_config();
    cfg.body_limit = 1024;
    let srv = start(cfg);
    let rows: Vec<Value> = (0..200).map(|i| json!([i as f64, "b"])).collect();
    let (st, err) = post(&srv.url("/score/zip"), &json!({"input_data": {"columns": ["f0", "cat"], "data": rows}}));
    assert_eq!(st, 413, "{err}");
    assert!(err["error"].as_str().expect("msg").contains("1024"));
}

#[test]
fn bad_input_is_400_naming_the_field_or_row() {
    let srv = start(zip_config());
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/score/zip", json!({"input_data": {"columns": ["f0", "cat"], "data": [[1.0, "b"], ["abc", "b"]]}}), "f0"),
        ("/score/zip", json!({"input_data": {"columns": ["f0", "cat"], "data": [[1.0, {"x": 1}]]}}), "cat"),
        ("/score/zip", json!({"input_data": {"columns": ["f0", "cat"], "data": [[1.0, "b"], [2.0]]}}), "row 1"),
        ("/score/zip", json!({"input_data": {"columns": ["f0", 3], "data": []}}), "columns"),
        ("/score/zip", json!({"rows": []}), "input_data"),
        ("/score/zip", json!({"input_data": {"data": [["{not json"]]}}), "row 0"),
        ("/score/zip", json!({"input_data": {"data": [[1, 2]]}}), "row 0"),
        (
            "/v2/models/zip/infer",
            json!({"inputs": [{"name": "f0", "shape": [2, 1], "datatype": "FP32", "data": [1.0]}]}),
            "f0",
        ),
        (
            "/v2/models/zip/infer",
            json!({"inputs": [{"name": "cat", "shape": [1], "datatype": "FP32", "data": [1.0]}]}),
            "cat",
        ),
        (
            "/v2/models/zip/infer",
            json!({"inputs": [{"name": "zz", "shape": [1], "datatype": "FP32", "data": [1.0]}]}),
            "zz",
        ),
        (
            "/v2/models/zip/infer",
            json!({"inputs": [{"name": "f0", "shape": [1], "datatype": "FP32", "data": ["x"]}]}),
            "f0",
        ),
        ("/v2/models/zip/infer", json!({"inputs": [{"name": "f0"}]}), "shape"),
        ("/v2/models/zip/infer", json!({"inputs": [], "outputs": [{"name": "logits"}]}), "logits"),
        ("/v1/models/zip:predict", json!({"instances": [{"f1": [1, 2]}]}), "f1"),
        ("/v1/models/zip:predict", json!({"instances": [[1, 2]]}), "row 0"),
        ("/v1/models/zip:predict", json!({"rows": []}), "instances"),
    ];
    for (path, body, needle) in cases {
        let (st, err) = post(&srv.url(path), &body);
        assert_eq!(st, 400, "{path} {body}: {err}");
        let msg = err["error"].as_str().expect("message");
        assert!(msg.contains(needle), "{path} {body}: {msg} lacks {needle}");
    }
    let r = client().post(srv.url("/score/zip")).body("{\"input_data\": ").send().expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let err: Value = r.json().expect("json");
    assert!(err["error"].as_str().expect("msg").contains("malformed JSON"), "{err}");
    // Numeric strings and nulls are accepted, as pandas frames carry them.
    let (st, got) =
        post(&srv.url("/score/zip"), &json!({"input_data": {"columns": ["f0", "cat"], "data": [["1.5", null]]}}));
    assert_eq!(st, 200, "{got}");
}

/// v2 infer with one row of `input`, returning (version, probability).
fn one_row(url: &str) -> (u16, Value) {
    post(
        url,
        &json!({"inputs": [{"name": "input", "shape": [1, 8], "datatype": "FP32", "data": [0.5, -1.0, 0.2, 0.1, 1.5, -0.3, 0.7, 0.0]}]}),
    )
}

#[test]
fn versions_defaults_admin_reload_and_broken_models() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    copy("lgbm_binary.onnx", &root.join("m/1/model.onnx"));
    copy("xgb_binary.onnx", &root.join("m/2/model.onnx"));
    std::fs::write(root.join("m/2/model.json"), r#"{"trained_on": "fixture"}"#).expect("json");
    copy("lgbm_binary.onnx", &root.join("d/1/model.onnx"));
    copy("xgb_binary.onnx", &root.join("d/2/model.onnx"));
    std::fs::write(root.join("d/default"), "1\n").expect("default");
    std::fs::create_dir_all(root.join("broken/1")).expect("mkdir");
    std::fs::write(root.join("broken/1/model.onnx"), b"not an onnx file").expect("write");

    let mut cfg = config();
    cfg.model_dir = Some(root.to_path_buf());
    cfg.reload_interval = Duration::from_millis(100);
    let srv = start(cfg);

    // Default = highest; explicit versions by path and by Confluent's NAME$VERSION.
    let (st, r) = one_row(&srv.url("/v2/models/m/infer"));
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["model_version"], "2");
    let p2 = r["outputs"][1]["data"][0].clone();
    let (_, r) = one_row(&srv.url("/v2/models/m/versions/1/infer"));
    assert_eq!(r["model_version"], "1");
    let p1 = r["outputs"][1]["data"][0].clone();
    assert_ne!(p1, p2, "the two versions are different models");
    let frame = json!({"input_data": {"columns": ["input"], "data": [[[0.5, -1.0, 0.2, 0.1, 1.5, -0.3, 0.7, 0.0]]]}});
    let (_, got) = post(&srv.url("/score/m$1?output=probability"), &frame);
    assert_eq!(got[0], p1);
    let (_, got) = post(&srv.url("/score/m?output=probability"), &frame);
    assert_eq!(got[0], p2);
    let (_, meta) = get(&srv.url("/v2/models/m"));
    assert_eq!(meta["versions"], json!(["1", "2"]));
    assert_eq!(meta["parameters"]["metadata"]["trained_on"], "fixture");
    // The directory's default file wins over "highest".
    let (_, r) = one_row(&srv.url("/v2/models/d/infer"));
    assert_eq!(r["model_version"], "1");

    // A broken model is reported; the others keep serving; the server is still ready.
    let (st, r) = get(&srv.url("/v2/models/broken/versions/1/ready"));
    assert_eq!(st, 503, "{r}");
    assert_eq!(r["ready"], false);
    assert!(r["error"].is_string());
    let (st, _) = one_row(&srv.url("/v2/models/broken/infer"));
    assert_eq!(st, 503);
    let (st, r) = get(&srv.url("/v2/models/m/versions/2/ready"));
    assert_eq!((st, r["ready"].clone()), (200, json!(true)));

    // Admin switches the default.
    let c = client();
    let r = c.put(srv.url("/admin/models/m/default")).json(&json!({"version": 1})).send().expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let (_, r) = one_row(&srv.url("/v2/models/m/infer"));
    assert_eq!(r["model_version"], "1");
    let r = c.put(srv.url("/admin/models/m/default")).json(&json!({"version": 5})).send().expect("send");
    assert_eq!(r.status().as_u16(), 404);

    // A new version dropped in is picked up without a restart; the admin default survives the reload.
    copy("xgb_500.onnx", &root.join("m/3/model.onnx"));
    wait_until("version 3", || {
        let (st, r) = get(&srv.url("/v2/models/m/versions/3/ready"));
        if st == 503 {
            panic!("version 3 failed: {r}");
        }
        st == 200
    });
    let (_, r) = one_row(&srv.url("/v2/models/m/infer"));
    assert_eq!(r["model_version"], "1");
    let (_, r) = one_row(&srv.url("/v2/models/m/versions/3/infer"));
    assert_eq!(r["model_version"], "3");
    // A broken file fixed in place is retried.
    copy("lgbm_binary.onnx", &root.join("broken/1/model.onnx"));
    wait_until("broken/1 fixed", || get(&srv.url("/v2/models/broken/ready")).0 == 200);
    let (_, list) = get(&srv.url("/admin/models"));
    assert_eq!(list["models"].as_array().expect("models").len(), 3);
}

#[test]
fn metrics_openapi_and_shadow() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy("lgbm_binary.onnx", &dir.path().join("s/1/model.onnx"));
    copy("xgb_binary.onnx", &dir.path().join("s/2/model.onnx"));
    let mut cfg = config();
    cfg.model_dir = Some(dir.path().to_path_buf());
    cfg.shadows = vec![("s".into(), 1)];
    let srv = start(cfg);
    let text = std::fs::read_to_string(fixtures().join("lgbm_binary.json")).expect("fixture");
    let d: Value = serde_json::from_str(&text).expect("json");
    let body = json!({"inputs": [{"name": "input", "shape": [64, 8], "datatype": "FP32", "data": d["inputs"]["input"]["data"]}]});
    for _ in 0..5 {
        let (st, r) = post(&srv.url("/v2/models/s/infer"), &body);
        assert_eq!(st, 200, "{r}");
    }
    let (st, _) = post(&srv.url("/v2/models/s/infer"), &json!({"inputs": 1}));
    assert_eq!(st, 400);
    let metrics = || client().get(srv.url("/metrics")).send().expect("send").text().expect("text");
    wait_until("shadow metrics", || metrics().contains("fraudstream_serve_shadow_requests_total"));
    let m = metrics();
    for needle in [
        r#"fraudstream_serve_requests_total{endpoint="v2_infer",model="s",version="2"}"#,
        r#"fraudstream_serve_rows_total{endpoint="v2_infer",model="s",version="2"} 320"#,
        r#"fraudstream_serve_errors_total{endpoint="v2_infer",model="s",version="2"} 1"#,
        r#"fraudstream_serve_request_duration_seconds_bucket{endpoint="v2_infer",model="s",version="2",le="0.005"}"#,
        "fraudstream_serve_shadow_disagreements_total",
        "fraudstream_serve_http_errors_total",
    ] {
        assert!(m.contains(needle), "metrics lack {needle}:\n{m}");
    }
    let (st, doc) = get(&srv.url("/openapi.json"));
    assert_eq!(st, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    for p in ["/score", "/score/{target}", "/v2/models/{name}/infer", "/v1/models/{name}:predict", "/metrics"] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
}

#[test]
fn an_invalid_x_output_header_is_400_even_next_to_a_valid_output_query() {
    let srv = start(zip_config());
    let body = json!({"input_data": {"columns": ["f0"], "data": [[1.0]]}});
    let r =
        client().post(srv.url("/score/zip?output=label")).header("X-Output", "{}").json(&body).send().expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let err: Value = r.json().expect("json");
    assert_eq!(err["field"], "X-Output", "{err}");
}

#[test]
fn a_frame_index_that_is_not_an_array_is_400() {
    let srv = start(zip_config());
    let body = json!({"input_data": {"columns": ["f0"], "index": {}, "data": [[1.0]]}});
    let (st, err) = post(&srv.url("/score/zip"), &body);
    assert_eq!((st, err["field"].clone()), (400, json!("index")), "{err}");
}

#[test]
fn v2_parameters_that_are_not_an_object_are_400() {
    let srv = start(zip_config());
    let input = json!({"name": "f0", "shape": [1, 1], "datatype": "FP32", "data": [1.0]});
    for body in [
        json!({"inputs": [input], "parameters": [null, null]}),
        json!({"inputs": [{"name": "f0", "shape": [1, 1], "datatype": "FP32", "data": [1.0], "parameters": 3}]}),
    ] {
        let (st, err) = post(&srv.url("/v2/models/zip/infer"), &body);
        assert_eq!(st, 400, "{body}: {err}");
        assert!(err["error"].as_str().expect("msg").contains("parameters"), "{err}");
    }
}
