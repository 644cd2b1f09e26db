//! Per-model monitoring (online quality and drift) through the dashboard's JSON API and event stream.

mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use fraudstream_dashboard::{serve, Dashboard, Monitoring, Quality, Snapshot};
use serde_json::Value;

fn get_json(url: &str) -> Value {
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(url)
        .send()
        .expect("request");
    assert_eq!(response.status(), 200, "{url}");
    response.json().expect("json body")
}

fn fed() -> (Snapshot, Monitoring) {
    let mut job = common::SyntheticJob::new(3);
    let snapshot = job.step(2.0);
    let monitoring = job.monitoring(&snapshot);
    (snapshot, monitoring)
}

#[test]
fn monitoring_appears_in_the_snapshot_once_published_and_stays() {
    let dashboard = Dashboard::new(common::info());
    let server = serve(dashboard.clone(), "127.0.0.1:0".parse().expect("addr")).expect("dashboard starts");
    let url = format!("http://{}/api/snapshot", server.addr());

    let (snapshot, monitoring) = fed();
    dashboard.update(snapshot.clone());
    let before = get_json(&url);
    assert!(before.get("monitoring").is_none(), "a job that monitors nothing sends nothing: {before}");
    assert!(dashboard.monitoring().is_none());

    dashboard.update_monitoring(monitoring.clone());
    let after = get_json(&url);
    assert!(after["version"].as_u64() > before["version"].as_u64(), "publishing is a change browsers see");
    let models = after["monitoring"]["models"].as_array().expect("models");
    assert_eq!(models.len(), 2);
    assert_eq!(models[0]["model"], "pipeline_75");
    assert_eq!(models[0]["role"], "champion");
    assert_eq!(models[1]["role"], "challenger");
    assert_eq!(models[0]["drift"]["alert_psi"], 0.25);
    assert_eq!(models[0]["drift"]["inputs"][0], serde_json::json!({"name": "C13", "psi": 0.412, "alerting": true}));
    assert_eq!(models[0]["drift"]["score_psi"], 0.094);
    assert_eq!(models[0]["quality"]["roc_auc"], after["snapshot"]["quality"]["roc_auc"], "champion = snapshot quality");
    // The single-model quality field is untouched.
    assert_eq!(after["snapshot"]["quality"]["labels_received"], snapshot.quality.labels_received);

    // Later snapshots keep the last monitoring published.
    dashboard.update(Snapshot { elapsed_seconds: 3.0, quality: Quality::default(), ..snapshot });
    let later = get_json(&url);
    assert_eq!(later["monitoring"], after["monitoring"]);
    assert_eq!(dashboard.monitoring().as_deref(), Some(&monitoring));
    server.shutdown().expect("clean shutdown");
}

#[test]
fn the_event_stream_carries_monitoring_with_init_and_snapshots() {
    let dashboard = Dashboard::new(common::info());
    let server = serve(dashboard.clone(), "127.0.0.1:0".parse().expect("addr")).expect("dashboard starts");
    let (snapshot, monitoring) = fed();
    dashboard.update(snapshot);
    dashboard.update_monitoring(monitoring);

    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
        .get(format!("http://{}/events", server.addr()))
        .send()
        .expect("events");
    let mut lines = BufReader::new(response).lines();
    let mut next_event = |name: &str| -> Value {
        let mut current = String::new();
        for line in lines.by_ref() {
            let line = line.expect("line");
            if let Some(n) = line.strip_prefix("event: ") {
                current = n.to_string();
            } else if let Some(data) = line.strip_prefix("data: ") {
                if current == name {
                    return serde_json::from_str(data).expect("JSON data");
                }
            }
        }
        panic!("stream ended before a {name} event");
    };
    let init = next_event("init");
    assert_eq!(init["monitoring"]["models"][1]["model"], "challenger-v4");

    let mut changed = dashboard.monitoring().as_deref().cloned().expect("published");
    changed.models[1].drift.as_mut().expect("drift").score_psi = Some(0.5);
    dashboard.update_monitoring(changed);
    let update = next_event("snapshot");
    assert_eq!(update["monitoring"]["models"][1]["drift"]["score_psi"], 0.5);
    drop(lines);
    server.shutdown().expect("clean shutdown");
}
