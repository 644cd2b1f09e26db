//! The dashboard over real HTTP: a server on 127.0.0.1:0, requests with reqwest, the event stream read raw.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fraudstream_dashboard::{
    router, serve, Alert, Dashboard, Driver, Quality, RunningDashboard, Snapshot, MAX_ALERTS_PER_BATCH, MIN_BATCH_GAP,
};
use serde_json::Value;

fn start(capacity: usize) -> (Dashboard, RunningDashboard) {
    let dashboard = Dashboard::with_alert_capacity(common::info(), capacity);
    let server = serve(dashboard.clone(), "127.0.0.1:0".parse().expect("addr")).expect("dashboard starts");
    (dashboard, server)
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().expect("client")
}

fn get_json(url: &str) -> Value {
    let response = client().get(url).send().expect("request");
    assert_eq!(response.status(), 200, "{url}");
    response.json().expect("json body")
}

fn alert(id: i64) -> Alert {
    Alert {
        transaction_id: id,
        event_time: "2017-12-01T00:00:01.000Z".into(),
        amount: 59.5,
        product: "W".into(),
        card_type: Some("visa".into()),
        score: 0.91,
        drivers: vec![Driver { feature: "C13".into(), value: "187".into(), effect: 0.2 }],
    }
}

#[test]
fn snapshot_endpoint_reflects_updates_and_the_run_state() {
    let (dashboard, server) = start(10);
    let url = format!("http://{}/api/snapshot", server.addr());

    let before = get_json(&url);
    assert_eq!(before["state"], "waiting");
    assert_eq!(before["info"]["model_name"], "pipeline_75");
    assert_eq!(before["info"]["threshold"], 0.5);
    assert_eq!(before["snapshot"]["scored"], 0);

    dashboard.update(Snapshot {
        elapsed_seconds: 2.0,
        transactions_in: 41_000,
        scored: 40_000,
        alerts: 1_400,
        throughput_tps: 20_000.0,
        latency_p50_ms: 4.3,
        latency_p99_ms: 7.9,
        latency_max_ms: f64::NAN, // not measured: sent as null
        score_histogram: vec![30_000, 8_600, 1_400],
        quality: Quality {
            labels_received: 12,
            window: 12,
            positives: 2,
            negatives: 10,
            roc_auc: Some(0.9),
            ..Quality::default()
        },
        ..Snapshot::default()
    });
    let during = get_json(&url);
    assert_eq!(during["state"], "running");
    assert_eq!(during["snapshot"]["scored"], 40_000);
    assert_eq!(during["snapshot"]["latency_p99_ms"], 7.9);
    assert_eq!(during["snapshot"]["latency_max_ms"], Value::Null);
    assert_eq!(during["snapshot"]["score_histogram"], serde_json::json!([30_000, 8_600, 1_400]));
    assert_eq!(during["snapshot"]["quality"]["roc_auc"], 0.9);
    assert_eq!(during["snapshot"]["quality"]["precision"], Value::Null);
    assert_eq!(during["history"].as_array().map(Vec::len), Some(1));
    assert!(during["version"].as_u64() > before["version"].as_u64());

    dashboard.finish("40,000 transactions in 2.0 s");
    let after = get_json(&url);
    assert_eq!(after["state"], "finished");
    assert_eq!(after["message"], "40,000 transactions in 2.0 s");
    assert_eq!(after["snapshot"]["scored"], 40_000);
    server.shutdown().expect("clean shutdown");
}

#[test]
fn alerts_endpoint_honours_limit_and_ring_size() {
    let (dashboard, server) = start(10);
    let url = |query: &str| format!("http://{}/api/alerts{query}", server.addr());
    assert_eq!(get_json(&url("")), serde_json::json!([]));

    for id in 1..=25 {
        dashboard.alert(alert(id));
    }
    let ids = |v: &Value| -> Vec<i64> {
        v.as_array().expect("array").iter().map(|a| a["transaction_id"].as_i64().expect("id")).collect()
    };
    assert_eq!(ids(&get_json(&url("?limit=3"))), [25, 24, 23]);
    assert_eq!(ids(&get_json(&url(""))), (16..=25).rev().collect::<Vec<_>>(), "the ring keeps the newest 10");
    assert_eq!(ids(&get_json(&url("?limit=1000"))).len(), 10);
    assert_eq!(ids(&get_json(&url("?limit=0"))).len(), 0);

    let one = get_json(&url("?limit=1"));
    assert_eq!(one[0]["seq"], 25);
    assert_eq!(one[0]["card_type"], "visa");
    assert_eq!(one[0]["drivers"][0]["feature"], "C13");
    assert_eq!(one[0]["drivers"][0]["effect"], 0.2);

    let bad = client().get(url("?limit=many")).send().expect("request");
    assert_eq!(bad.status(), 400);
}

#[test]
fn page_and_assets_are_served_with_their_content_types() {
    let (_dashboard, server) = start(10);
    let http = client();
    let get = |path: &str| http.get(format!("http://{}{path}", server.addr())).send().expect("request");

    let page = get("/");
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"].to_str().expect("ascii").to_string();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"), "{csp}");
    let html = page.text().expect("body");
    assert!(html.contains("<html lang=\"en\">"));

    // Every asset the page refers to is served, with its type, and nothing is loaded from elsewhere.
    let mut referenced = Vec::new();
    for part in html.split(['"', '\'']) {
        if part.starts_with("assets/") && !referenced.contains(&part) {
            referenced.push(part);
        }
        assert!(!part.starts_with("http://") && !part.starts_with("https://") && !part.starts_with("//"), "{part}");
    }
    assert_eq!(referenced.len(), 3, "{referenced:?}");
    for (path, content_type) in [
        ("assets/dashboard.css", "text/css; charset=utf-8"),
        ("assets/dashboard.js", "text/javascript; charset=utf-8"),
        ("assets/favicon.svg", "image/svg+xml"),
    ] {
        assert!(referenced.contains(&path), "{path} not referenced by the page");
        let response = get(&format!("/{path}"));
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
        assert!(!response.text().expect("body").is_empty(), "{path}");
    }

    for path in ["/nope", "/assets/missing.js", "/api", "/api/snapshot/x"] {
        assert_eq!(get(path).status(), 404, "{path}");
    }
    let post = http.post(format!("http://{}/api/snapshot", server.addr())).send().expect("request");
    assert_eq!(post.status(), 405);
}

/// An SSE reader on its own thread: events arrive on the channel as (name, data) pairs.
struct EventReader {
    events: mpsc::Receiver<(String, String, Option<String>)>,
}

impl EventReader {
    fn connect(server: &RunningDashboard) -> EventReader {
        let response = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
            .get(format!("http://{}/events", server.addr()))
            .send()
            .expect("events request");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut name = String::new();
            let mut data = String::new();
            let mut retry = None;
            for line in BufReader::new(response).lines() {
                let Ok(line) = line else { return };
                if line.is_empty() {
                    if !data.is_empty()
                        && tx.send((std::mem::take(&mut name), std::mem::take(&mut data), retry.take())).is_err()
                    {
                        return;
                    }
                } else if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                } else if let Some(v) = line.strip_prefix("retry: ") {
                    retry = Some(v.to_string());
                }
            }
        });
        EventReader { events: rx }
    }

    /// The next event named `name` within `timeout`, skipping others.
    fn next_named(&self, name: &str, timeout: Duration) -> Option<(Value, Option<String>)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let (n, data, retry) = self.events.recv_timeout(left).ok()?;
            if n == name {
                return Some((serde_json::from_str(&data).expect("event data is JSON"), retry));
            }
        }
    }

    /// Every event that arrives within `window`.
    fn collect_for(&self, window: Duration) -> Vec<(String, Value)> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok((n, data, _)) => out.push((n, serde_json::from_str(&data).expect("JSON"))),
                Err(_) => break,
            }
        }
        out
    }
}

#[test]
fn event_stream_sends_init_then_snapshots_and_alerts() {
    let (dashboard, server) = start(10);
    dashboard.alert(alert(7));
    let reader = EventReader::connect(&server);

    let (init, retry) = reader.next_named("init", Duration::from_secs(5)).expect("init event");
    assert_eq!(retry.as_deref(), Some("2000"), "the browser is told how soon to reconnect");
    assert_eq!(init["info"]["title"], "fraudstream test");
    assert_eq!(init["state"], "waiting");
    assert_eq!(init["alerts"][0]["transaction_id"], 7, "the backlog comes with init");

    dashboard.update(Snapshot { elapsed_seconds: 1.0, scored: 123, ..Snapshot::default() });
    let (snapshot, _) = reader.next_named("snapshot", Duration::from_secs(5)).expect("snapshot event");
    assert_eq!(snapshot["state"], "running");
    assert_eq!(snapshot["snapshot"]["scored"], 123);
    assert!(snapshot.get("info").is_none() && snapshot.get("history").is_none(), "only init carries the rest");

    dashboard.alert(alert(8));
    let (alert_event, _) = reader.next_named("alert", Duration::from_secs(5)).expect("alert event");
    assert_eq!(alert_event["transaction_id"], 8);
    assert_eq!(alert_event["seq"], 2);

    dashboard.fail("broker unreachable");
    let (failed, _) = reader.next_named("snapshot", Duration::from_secs(5)).expect("state change event");
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["message"], "broker unreachable");

    // A quiet job: the stream says it is alive.
    assert!(reader.next_named("ping", Duration::from_secs(8)).is_some(), "ping after 5 s of silence");

    let started = Instant::now();
    server.shutdown().expect("clean shutdown");
    assert!(started.elapsed() < Duration::from_secs(2), "an open event stream does not hold up shutdown");
}

#[test]
fn a_lagging_browser_skips_alerts_and_never_slows_the_job() {
    let (dashboard, server) = start(200);
    let reader = EventReader::connect(&server);
    reader.next_named("init", Duration::from_secs(5)).expect("init");
    // A browser that stopped reading altogether (its socket buffers fill up).
    let mut stalled = std::net::TcpStream::connect(server.addr()).expect("connect");
    std::io::Write::write_all(&mut stalled, b"GET /events HTTP/1.1\r\nHost: dashboard\r\n\r\n").expect("request");

    // A burst far beyond what a page can show: 20,000 alerts and 1,000 snapshots.
    let started = Instant::now();
    for id in 1..=20_000 {
        dashboard.alert(alert(id));
        if id % 20 == 0 {
            dashboard.update(Snapshot {
                elapsed_seconds: id as f64 / 1000.0,
                scored: id as u64 * 30,
                ..Snapshot::default()
            });
        }
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "20,000 alerts + 1,000 snapshots took {took:?}");

    let events = reader.collect_for(Duration::from_millis(1500));
    // However slow this machine is, a stream sends at most one batch per MIN_BATCH_GAP.
    let batches = (started.elapsed().as_millis() / MIN_BATCH_GAP.as_millis() + 1) as usize;
    let alerts: Vec<&Value> = events.iter().filter(|(n, _)| n == "alert").map(|(_, v)| v).collect();
    let snapshots = events.iter().filter(|(n, _)| n == "snapshot").count();
    assert!(!alerts.is_empty() && alerts.len() <= batches * MAX_ALERTS_PER_BATCH, "{} alerts sent", alerts.len());
    assert_eq!(alerts.last().map(|a| a["transaction_id"].clone()), Some(20_000.into()), "the newest arrives");
    assert!((1..=batches).contains(&snapshots), "{snapshots} snapshots in {batches} batches");
    let seqs: Vec<u64> = alerts.iter().map(|a| a["seq"].as_u64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    drop(stalled);
    drop(server);
}

#[test]
fn router_can_be_nested_in_another_server() {
    let dashboard = Dashboard::new(common::info());
    dashboard.update(Snapshot { scored: 5, ..Snapshot::default() });
    // The documented way to mount it: under a trailing-slash prefix (the page uses relative URLs), with the bare
    // prefix redirected.
    let app = axum::Router::new()
        .nest("/dashboard/", router(dashboard.clone()))
        .route("/dashboard", axum::routing::get(|| async { axum::response::Redirect::permanent("/dashboard/") }));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        rt.block_on(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await
        })
    });

    let http = client();
    let get = |path: &str| http.get(format!("http://{addr}{path}")).send().expect("request");
    assert_eq!(get("/dashboard/api/snapshot").json::<Value>().expect("json")["snapshot"]["scored"], 5);
    for path in ["/dashboard", "/dashboard/"] {
        let page = get(path); // reqwest follows the redirect
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(page.url().path(), "/dashboard/");
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    }
    assert_eq!(get("/dashboard/assets/dashboard.js").status(), 200);

    // An open event stream ends on `close`, so the embedding server's graceful shutdown completes.
    let stream = http.get(format!("http://{addr}/dashboard/events")).send().expect("events");
    assert_eq!(stream.status(), 200);
    dashboard.close();
    let _ = stop_tx.send(());
    let started = Instant::now();
    thread.join().expect("server thread").expect("server");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(stream);
}
