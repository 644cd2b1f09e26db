//! The page in a real browser: headless Chromium (Debian's `chromium`) driven by `tests/browser/dashboard-check.mjs`
//! (Node + playwright-core) against a dashboard fed by a synthetic job. The script checks that the page connects,
//! shows numbers that change, fills the alert feed and draws the charts without any console error, and saves a
//! screenshot.
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
        .args(["--seconds", "10", "--min-alerts", "3"])
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
}
