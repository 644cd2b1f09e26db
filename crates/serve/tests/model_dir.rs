//! `--model-dir` operations: what `/admin/models` shows (no server paths), and a version file that stops loading
//! (overwritten with garbage) keeps serving its last good load, reports the error, and recovers once fixed.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use fraudstream_serve::ServerHandle;
use serde_json::{json, Value};

/// A server over `root` rescanning every 50 ms.
fn dir_server(root: &Path) -> ServerHandle {
    let mut cfg = config();
    cfg.model_dir = Some(root.to_path_buf());
    cfg.reload_interval = Duration::from_millis(50);
    start(cfg)
}

/// `/admin/models` entry of `name`.
fn admin_model(srv: &ServerHandle, name: &str) -> Value {
    let (st, list) = get(&srv.url("/admin/models"));
    assert_eq!(st, 200, "{list}");
    list["models"].as_array().expect("models").iter().find(|m| m["name"] == name).cloned().unwrap_or(Value::Null)
}

/// `/admin/models` entry of one version.
fn admin_version(srv: &ServerHandle, name: &str, version: u64) -> Value {
    let m = admin_model(srv, name);
    m["versions"].as_array().into_iter().flatten().find(|v| v["version"] == version).cloned().unwrap_or(Value::Null)
}

/// v2 infer with one row of the 8-wide `input` of the lgbm/xgb fixtures: (version, probability).
fn infer(srv: &ServerHandle, path: &str) -> (String, f64) {
    let body = json!({"inputs": [{"name": "input", "shape": [1, 8], "datatype": "FP32",
                                  "data": [0.5, -1.0, 0.2, 0.1, 1.5, -0.3, 0.7, 0.0]}]});
    let (st, r) = post(&srv.url(path), &body);
    assert_eq!(st, 200, "{path}: {r}");
    let version = r["model_version"].as_str().expect("version").to_string();
    (version, r["outputs"][1]["data"][0].as_f64().expect("probability"))
}

fn metrics(srv: &ServerHandle) -> String {
    client().get(srv.url("/metrics")).send().expect("send").text().expect("text")
}

#[test]
fn admin_models_shows_model_dir_paths_relative_to_the_dir_and_no_absolute_path_in_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    copy("lgbm_binary.onnx", &root.join("p/1/model.onnx"));
    copy("xgb_binary.onnx", &root.join("p/2/model.onnx"));
    std::fs::write(root.join("p/2/model.json"), "{not json").expect("json");
    let srv = dir_server(root);
    assert_eq!(admin_version(&srv, "p", 1)["path"], "p/1/model.onnx");
    let v2 = admin_version(&srv, "p", 2);
    assert_eq!(v2["path"], "p/2/model.onnx");
    assert!(v2["error"].as_str().expect("error").contains("p/2/model.json"), "{v2}");
    let root_text = root.display().to_string();
    let (_, list) = get(&srv.url("/admin/models"));
    assert!(!list.to_string().contains(&root_text), "absolute path in {list}");
    let (_, ready) = get(&srv.url("/v2/models/p/versions/2/ready"));
    assert!(!ready.to_string().contains(&root_text), "absolute path in {ready}");
}

#[test]
fn admin_models_shows_only_the_file_name_of_a_model_given_by_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config();
    cfg.models.push(("zip".into(), fixtures().join("pipeline_zipmap.onnx")));
    cfg.models.push(("gone".into(), dir.path().join("nowhere/missing.onnx")));
    let srv = start(cfg);
    assert_eq!(admin_version(&srv, "zip", 1)["path"], "pipeline_zipmap.onnx");
    let gone = admin_version(&srv, "gone", 1);
    assert_eq!(gone["path"], "missing.onnx");
    let (_, list) = get(&srv.url("/admin/models"));
    let text = list.to_string();
    assert!(!text.contains(&dir.path().display().to_string()) && !text.contains("fixtures"), "{list}");
}

#[test]
fn a_version_overwritten_with_garbage_keeps_serving_its_last_good_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    copy("lgbm_binary.onnx", &root.join("g/1/model.onnx"));
    copy("xgb_binary.onnx", &root.join("g/2/model.onnx"));
    let srv = dir_server(root);
    let (v, p2) = infer(&srv, "/v2/models/g/infer");
    assert_eq!(v, "2");

    std::fs::write(root.join("g/2/model.onnx"), b"garbage, not a model").expect("overwrite");
    wait_until("the load error of g/2", || admin_version(&srv, "g", 2)["error"].is_string());

    assert_eq!(infer(&srv, "/v2/models/g/infer"), ("2".to_string(), p2));
    assert_eq!(infer(&srv, "/v2/models/g/versions/2/infer"), ("2".to_string(), p2));
    let v2 = admin_version(&srv, "g", 2);
    assert_eq!((v2["ready"].clone(), v2["stale"].clone()), (json!(true), json!(true)), "{v2}");
    assert_eq!(admin_model(&srv, "g")["default_version"], 2);
}

#[test]
fn a_reload_error_shows_in_metrics_until_the_fixed_file_is_loaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    copy("lgbm_binary.onnx", &root.join("r/1/model.onnx"));
    copy("xgb_binary.onnx", &root.join("r/2/model.onnx"));
    let srv = dir_server(root);
    let (_, p1) = infer(&srv, "/v2/models/r/versions/1/infer");
    let failing = r#"fraudstream_serve_model_load_failing{model="r",version="2"}"#;

    // Written beside and renamed into place, so no scan sees a half-written file (that would count twice).
    std::fs::write(root.join("r/2/model.onnx.tmp"), b"garbage").expect("write");
    std::fs::rename(root.join("r/2/model.onnx.tmp"), root.join("r/2/model.onnx")).expect("rename");
    wait_until("the failing gauge", || metrics(&srv).contains(&format!("{failing} 1")));
    assert!(metrics(&srv).contains(r#"fraudstream_serve_model_load_errors_total{model="r",version="2"} 1"#));

    copy("lgbm_binary.onnx", &root.join("r/2/model.onnx"));
    wait_until("the fixed file", || !admin_version(&srv, "r", 2)["error"].is_string());
    assert!(metrics(&srv).contains(&format!("{failing} 0")), "{}", metrics(&srv));
    assert_eq!(admin_version(&srv, "r", 2)["stale"], Value::Null);
    assert_eq!(infer(&srv, "/v2/models/r/infer"), ("2".to_string(), p1), "version 2 now holds the lgbm model");
}

#[test]
fn a_bad_default_file_keeps_the_last_good_default_and_shows_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    copy("lgbm_binary.onnx", &root.join("d/1/model.onnx"));
    copy("xgb_binary.onnx", &root.join("d/2/model.onnx"));
    std::fs::write(root.join("d/default"), "1\n").expect("default");
    let srv = dir_server(root);
    assert_eq!(admin_model(&srv, "d")["default_version"], 1);

    std::fs::write(root.join("d/default"), "two\n").expect("default");
    wait_until("the default file error", || admin_model(&srv, "d")["default_file_error"].is_string());
    assert_eq!(admin_model(&srv, "d")["default_version"], 1);
    assert_eq!(infer(&srv, "/v2/models/d/infer").0, "1");

    std::fs::write(root.join("d/default"), "2\n").expect("default");
    wait_until("the fixed default file", || admin_model(&srv, "d")["default_version"] == 2);
    assert_eq!(admin_model(&srv, "d")["default_file_error"], Value::Null);
}
