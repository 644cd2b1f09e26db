//! `fraudstream demo` end to end: generate, train, serve, replay, dashboard — and the dashboard checked in headless
//! Chromium while the replay runs (numbers change, alerts appear, no console errors; screenshot saved).
//!
//! Needs Debian's chromium and `npm ci` in tests/browser (scripts/setup.sh installs both). Without them the test is
//! skipped with a message, except under CI (`CI` set), where it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn browser_ready() -> Result<(), String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!("no browser at {chromium}"));
    }
    if !repo_root().join("tests/browser/node_modules/playwright-core").exists() {
        return Err("playwright-core is not installed (npm ci --prefix tests/browser)".into());
    }
    Command::new("node").arg("--version").output().map(|_| ()).map_err(|e| format!("node: {e}"))
}

#[test]
fn the_demo_runs_end_to_end_and_its_dashboard_is_live_in_a_browser() {
    if let Err(why) = browser_ready() {
        assert!(std::env::var_os("CI").is_none(), "CI must have the browser test's tools: {why}");
        eprintln!("SKIPPED: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let (dashboard, server) = (free_port(), free_port());
    let out = tmp.path().join("demo");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_fraudstream"))
        .args(["demo", "--rows", "30000", "--speedup", "300000", "--exit-when-done", "--quiet", "--out"])
        .arg(&out)
        .args(["--dashboard-addr", &format!("127.0.0.1:{dashboard}"), "--serve-addr", &format!("127.0.0.1:{server}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo");

    // Wait for the dashboard (data generation and training come first).
    let url = format!("http://127.0.0.1:{dashboard}/");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !reqwest::blocking::get(format!("{url}api/snapshot")).is_ok_and(|r| r.status().is_success()) {
        assert!(demo.try_wait().expect("wait").is_none(), "the demo exited before its dashboard was up");
        assert!(Instant::now() < deadline, "no dashboard after 300 s");
        std::thread::sleep(Duration::from_millis(200));
    }

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("demo-browser");
    let check = Command::new("node")
        .arg(repo_root().join("tests/browser/dashboard-check.mjs"))
        .arg(&url)
        .arg(&shots)
        .args(["--seconds", "8", "--min-alerts", "1"])
        .output()
        .expect("run the browser check");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "browser check failed:\n{report}\n{}", String::from_utf8_lossy(&check.stderr));
    assert!(shots.join("dashboard.png").is_file(), "screenshot saved");
    eprintln!("dashboard screenshot: {}", shots.join("dashboard.png").display());

    let output = demo.wait_with_output().expect("demo finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("transactions scored        30000"), "{stdout}");
    assert!(stdout.contains("ROC AUC") && stdout.contains("precision / recall"), "{stdout}");
    // Honest figures: the all-rows ones say the model trained on most of them; the online ones cover only the
    // held-out rows.
    assert!(stdout.contains("80 % of them trained the model"), "{stdout}");
    assert!(stdout.contains("held-out rows (TransactionDT ≥") && stdout.contains("never trained on"), "{stdout}");
    assert!(out.join("model/model.onnx").is_file() && out.join("output/scores.csv").is_file());
}
