//! Shared test support: paths to fixtures and the shared reference data, server start-up, an HTTP client.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use fraudstream_serve::{start_background, ServeConfig, ServerHandle};

/// `crates/model/fixtures/`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/fixtures")
}

/// `../shared/reference` beside the repository; the real sample and seed model are never copied in.
pub fn shared_reference() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference");
    assert!(p.join("seed-model/pipeline_75.onnx").exists(), "shared reference data missing at {}", p.display());
    p
}

/// A config bound to a free local port with reloading off unless set.
pub fn config() -> ServeConfig {
    ServeConfig {
        addr: "127.0.0.1:0".parse().expect("addr"),
        reload_interval: Duration::ZERO,
        ..ServeConfig::default()
    }
}

pub fn start(config: ServeConfig) -> ServerHandle {
    start_background(config).expect("server starts")
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("client")
}

/// POSTs JSON, returning status and parsed JSON body.
pub fn post(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let resp = client().post(url).json(body).send().expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON reply ({status}): {text}")))
}

pub fn get(url: &str) -> (u16, serde_json::Value) {
    let resp = client().get(url).send().expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON reply ({status}): {text}")))
}

/// Copies a fixture model to `to`, creating its directory.
pub fn copy(from: &str, to: &std::path::Path) {
    std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
    std::fs::copy(fixtures().join(from), to).expect("copy");
}

/// Polls `f` every 50 ms until it holds; fails the test after 20 s.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
