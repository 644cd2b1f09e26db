//! The page in a real browser: headless Chromium (Debian's `chromium`) driven by `tests/browser/dashboard-check.mjs`
//! (Node + playwright-core) against a dashboard fed by a synthetic job. The script checks that the page connects,
//! shows numbers that change, fills the alert feed, draws the charts and the drift panel of a champion and a
//! challenger without any console error, and saves a screenshot; this test then checks that the drift figures and
//! the quality comparison on the page are the ones the job fed.
//!
//! Needs `chromium`, `node` and `npm ci` in `tests/browser` (all installed by `scripts/setup.sh`). When they are
//! missing the test is skipped with a message, except when `CI` is set: CI installs them, so there it fails.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fraudstream_dashboard::{serve, Dashboard};

/// Generous: the check itself takes 3-5 s, Chromium's first start on a cold disk can take 10 s or more.
const TIMEOUT: Duration = Duration::from_secs(120);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What is missing to run the browser check, if anything.
fn missing_tools(root: &Path, chromium: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if !chromium.is_file() {
        missing.push(format!("Chromium at {}", chromium.display()));
    }
    let node_ok = Command::new("node").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !node_ok {
        missing.push("node".into());
    }
    if !root.join("tests/browser/node_modules/playwright-core/package.json").is_file() {
        missing.push("playwright-core (npm ci in tests/browser)".into());
    }
    missing
}

fn spawn_reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[test]
fn dashboard_shows_live_data_in_headless_chromium() {
    let root = workspace_root();
    let chromium = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into());
    let missing = missing_tools(&root, &chromium);
    if !missing.is_empty() {
        let message = format!("browser test needs {} (scripts/setup.sh installs them)", missing.join(", "));
        if std::env::var_os("CI").is_some() {
            panic!("{message}; CI is set, so this fails instead of skipping");
        }
        eprintln!("SKIPPED: {message}");
        return;
    }

    let dashboard = Dashboard::new(common::info());
    let server = serve(dashboard.clone(), "127.0.0.1:0".parse().expect("addr")).expect("dashboard starts");
    // Like the job: a snapshot per second, alerts in between.
    let feeder = common::Feeder::start(dashboard.clone(), Duration::from_secs(1), 6.0);

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-browser");
    let screenshot = out.join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let started = Instant::now();
    let mut child = Command::new("node")
        .arg(root.join("tests/browser/dashboard-check.mjs"))
        .arg(server.url())
        .arg(&out)
        .args(["--seconds", "10", "--min-alerts", "3", "--expect-drift", "2"])
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let stdout = spawn_reader(child.stdout.take().expect("stdout"));
    let stderr = spawn_reader(child.stderr.take().expect("stderr"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("browser check still running after {TIMEOUT:?}; stderr:\n{}", stderr.join().unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let took = started.elapsed();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    feeder.stop();
    server.shutdown().expect("clean shutdown");

    println!("{stdout}");
    assert!(status.success(), "browser check failed ({status}):\n{stdout}\n{stderr}");
    let png = std::fs::read(&screenshot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "not a real screenshot: {} bytes", png.len());
    println!(
        "screenshot: {} ({} KiB); browser check took {:.1} s",
        screenshot.display(),
        png.len() / 1024,
        took.as_secs_f64()
    );

    // What the page showed is what the job published.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("dashboard-check.json")).expect("report")).expect("json report");
    assert_eq!(report["ok"], true);
    let first_row = report["firstAlert"].as_str().expect("an alert row");
    let shown_id: i64 = first_row.split_whitespace().next().and_then(|s| s.parse().ok()).expect("TransactionID first");
    assert!(
        dashboard
            .recent_alerts(fraudstream_dashboard::DEFAULT_ALERT_CAPACITY)
            .iter()
            .any(|a| a.alert.transaction_id == shown_id),
        "row {first_row:?} is not one of the job's alerts"
    );

    // The drift panel shows what the job fed: per model, the top ten inputs in order with their PSI and alert
    // state, the score's PSI, and a badge counting the alerting inputs.
    let fed = dashboard.monitoring().expect("the feeder published monitoring");
    let shown = report["drift"]["models"].as_array().expect("drift models on the page");
    assert_eq!(report["drift"]["visible"], true);
    assert_eq!(shown.len(), fed.models.len());
    for (page, model) in shown.iter().zip(&fed.models) {
        let drift = model.drift.as_ref().expect("fed drift");
        assert_eq!(page["model"], model.model.as_str());
        let inputs = page["inputs"].as_array().expect("inputs");
        assert_eq!(inputs.len(), drift.inputs.len().min(10), "{}: the top ten", model.model);
        for (bar, input) in inputs.iter().zip(&drift.inputs) {
            assert_eq!(bar["name"], input.name.as_str());
            assert_eq!(bar["psi"], format!("{:.3}", input.psi).as_str(), "{}", input.name);
            assert_eq!(bar["alerting"], input.alerting, "{}", input.name);
        }
        let score = drift.score_psi.expect("fed score PSI");
        assert_eq!(page["score"]["psi"], format!("{score:.3}").as_str());
        let alerting = drift.inputs.iter().filter(|i| i.alerting).count();
        let badge = if alerting > 0 { format!("{alerting} drifting") } else { "stable".to_string() };
        assert_eq!(page["badge"], badge.as_str(), "{}", model.model);
    }
    assert_eq!(shown[0]["badgeLevel"], "alert");
    assert_eq!(shown[1]["role"], "challenger");

    // Two models with quality: a comparison table, champion first, the better ROC AUC marked.
    let compare = report["drift"]["qualityCompare"].as_array().expect("quality comparison");
    let names: Vec<&str> = compare.iter().filter_map(|r| r["model"].as_str()).collect();
    assert_eq!(names, ["pipeline_75", "challenger-v4"]);
    assert_eq!((compare[0]["best"].as_bool(), compare[1]["best"].as_bool()), (Some(false), Some(true)));
}
