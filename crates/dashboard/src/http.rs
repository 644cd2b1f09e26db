//! The HTTP side: the page and its assets (compiled in), two JSON endpoints and one Server-Sent Events stream.
//!
//! Every browser gets its own event cursor that remembers the last snapshot version and alert sequence number it
//! sent. When the job changes something, the cursor wakes, copies what is new under the lock and sends it, at most
//! every [`MIN_BATCH_GAP`] and at most [`MAX_ALERTS_PER_BATCH`] alerts at a time. Nothing is queued per browser
//! between wake-ups, so a slow or stalled browser skips intermediate snapshots and old alerts instead of growing a
//! buffer, and the job never waits for it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::model::{DashboardInfo, RunState, Snapshot};
use crate::monitoring::Monitoring;
use crate::state::{Dashboard, HistoryPoint, Shared, StoredAlert};

/// Shortest time between two batches of events on one stream: caps a browser at 4 snapshot renders per second
/// even if the job publishes faster.
pub const MIN_BATCH_GAP: Duration = Duration::from_millis(250);

/// Most alerts sent in one batch; with [`MIN_BATCH_GAP`] a browser receives at most 80 alerts per second, which
/// a table can show, however many the job raises (the rest are counted in the snapshot and kept in the ring).
pub const MAX_ALERTS_PER_BATCH: usize = 20;

/// Alerts sent to a browser when it connects, so the feed is filled at once.
const INITIAL_ALERTS: usize = 100;

/// A `ping` event after this much silence lets the page tell a quiet job from a dead connection.
const PING_AFTER: Duration = Duration::from_secs(5);

/// How long the browser waits before reconnecting a dropped stream (sent as the SSE `retry` field).
const RECONNECT_AFTER: Duration = Duration::from_secs(2);

/// Default and largest `limit` of `/api/alerts` is the ring size; this is the default when none is given.
const DEFAULT_ALERT_LIMIT: usize = 50;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const DASHBOARD_CSS: &str = include_str!("../assets/dashboard.css");
const DASHBOARD_JS: &str = include_str!("../assets/dashboard.js");
const FAVICON_SVG: &str = include_str!("../assets/favicon.svg");

/// Everything the page may load comes from this server: no CDN, no external font, no inline script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Clone)]
struct AppState {
    dashboard: Dashboard,
    /// Raised by the owning [`crate::RunningDashboard`] when it shuts down; never raised for [`router`].
    stop: watch::Receiver<bool>,
}

/// The dashboard's routes, for mounting in an existing axum server, e.g. beside `fraudstream serve`. The page uses
/// relative URLs, so nest it under a prefix that ends with a slash and redirect the bare prefix:
///
/// ```
/// # let dashboard = fraudstream_dashboard::Dashboard::new(Default::default());
/// use axum::{response::Redirect, routing::get, Router};
/// let app: Router = Router::new()
///     .nest("/dashboard/", fraudstream_dashboard::router(dashboard))
///     .route("/dashboard", get(|| async { Redirect::permanent("/dashboard/") }));
/// ```
///
/// Routes, relative to that prefix:
///
/// | route | what |
/// |---|---|
/// | `GET /` | the page |
/// | `GET /assets/{dashboard.css, dashboard.js, favicon.svg}` | its assets, compiled into the binary |
/// | `GET /api/snapshot` | `{info, state, message, version, alert_capacity, snapshot, monitoring, history}` as JSON (`monitoring` once published) |
/// | `GET /api/alerts?limit=N` | the N (default 50, at most the ring size) most recent alerts, newest first |
/// | `GET /events` | Server-Sent Events: `init` (as `/api/snapshot` plus `alerts`), then `snapshot`, `alert`, `ping` |
///
/// Call [`Dashboard::close`] before a graceful shutdown of that server so open event streams end.
pub fn router(dashboard: Dashboard) -> Router {
    // The sender is dropped at once: such a receiver never reports a stop.
    let (_, stop) = watch::channel(false);
    router_with_stop(dashboard, stop)
}

pub(crate) fn router_with_stop(dashboard: Dashboard, stop: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/dashboard.css", get(css))
        .route("/assets/dashboard.js", get(js))
        .route("/assets/favicon.svg", get(favicon))
        .route("/api/snapshot", get(snapshot))
        .route("/api/alerts", get(alerts))
        .route("/events", get(events))
        .fallback(not_found)
        .with_state(AppState { dashboard, stop })
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    let mut response = asset("text/html; charset=utf-8", INDEX_HTML);
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", DASHBOARD_CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", DASHBOARD_JS)
}

async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON_SVG)
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found\n").into_response()
}

/// The body of `/api/snapshot` and of the `init` event (which adds `alerts`); `snapshot` events carry the same
/// fields minus `info`, `alert_capacity` and `history`.
#[derive(Serialize)]
struct Status<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    info: Option<&'a DashboardInfo>,
    state: RunState,
    message: Option<String>,
    /// Increases with every published change of the snapshot or the run state.
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert_capacity: Option<usize>,
    snapshot: Arc<Snapshot>,
    /// Per-model quality and drift, once the job publishes any.
    #[serde(skip_serializing_if = "Option::is_none")]
    monitoring: Option<Arc<Monitoring>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<HistoryPoint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<Vec<Arc<StoredAlert>>>,
}

/// A full status copied under the lock (the caller serializes it after the lock is released).
fn full_status(shared: &Shared, alerts: usize) -> (Status<'_>, u64) {
    let inner = shared.lock();
    let status = Status {
        info: Some(&shared.info),
        state: inner.state,
        message: inner.message.clone(),
        version: inner.snapshot_version,
        alert_capacity: Some(shared.alert_capacity),
        snapshot: inner.snapshot.clone(),
        monitoring: inner.monitoring.clone(),
        history: Some(inner.history.iter().copied().collect()),
        alerts: (alerts > 0).then(|| inner.alerts.iter().rev().take(alerts).cloned().collect()),
    };
    (status, inner.last_alert_seq)
}

async fn snapshot(State(app): State<AppState>) -> Response {
    let (status, _) = full_status(&app.dashboard.shared, 0);
    Json(status).into_response()
}

#[derive(Deserialize)]
struct AlertsQuery {
    limit: Option<usize>,
}

async fn alerts(State(app): State<AppState>, Query(query): Query<AlertsQuery>) -> Response {
    let limit = query.limit.unwrap_or(DEFAULT_ALERT_LIMIT);
    Json(app.dashboard.recent_alerts(limit)).into_response()
}

async fn events(State(app): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let shared = app.dashboard.shared.clone();
    let cursor = Cursor {
        changes: shared.changes.subscribe(),
        closed: shared.closed.subscribe(),
        shared,
        stop: app.stop,
        sent_version: 0,
        sent_seq: 0,
        queue: VecDeque::new(),
        started: false,
        next_batch: Instant::now(),
    };
    Sse::new(futures_util::stream::unfold(cursor, Cursor::next))
}

/// Completes once the flag is raised; never if its sender is gone without raising it.
async fn raised(flag: &mut watch::Receiver<bool>) {
    loop {
        if *flag.borrow_and_update() {
            return;
        }
        if flag.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// One browser's position in the dashboard's updates.
struct Cursor {
    shared: Arc<Shared>,
    changes: watch::Receiver<u64>,
    closed: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
    sent_version: u64,
    sent_seq: u64,
    /// Events of the current batch not yet handed to the response (at most one batch).
    queue: VecDeque<Event>,
    started: bool,
    next_batch: Instant,
}

enum Wake {
    Changed,
    Quiet,
    Stop,
}

impl Cursor {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Cursor)> {
        loop {
            if *self.closed.borrow() || *self.stop.borrow() {
                return None;
            }
            if let Some(event) = self.queue.pop_front() {
                return Some((Ok(event), self));
            }
            if !self.started {
                self.started = true;
                self.changes.borrow_and_update();
                self.start();
                continue;
            }
            match self.wait().await {
                Wake::Stop => return None,
                Wake::Quiet => self.push("ping", &serde_json::json!({})),
                Wake::Changed => {
                    self.collect();
                    self.next_batch = Instant::now() + MIN_BATCH_GAP;
                }
            }
        }
    }

    async fn wait(&mut self) -> Wake {
        let next_batch = self.next_batch;
        let Cursor { changes, closed, stop, .. } = self;
        tokio::select! {
            _ = raised(closed) => return Wake::Stop,
            _ = raised(stop) => return Wake::Stop,
            _ = tokio::time::sleep_until(next_batch) => {}
        }
        tokio::select! {
            _ = raised(closed) => Wake::Stop,
            _ = raised(stop) => Wake::Stop,
            changed = changes.changed() => if changed.is_ok() { Wake::Changed } else { Wake::Stop },
            _ = tokio::time::sleep(PING_AFTER) => Wake::Quiet,
        }
    }

    fn start(&mut self) {
        let (status, last_seq) = full_status(&self.shared, INITIAL_ALERTS);
        self.sent_version = status.version;
        self.sent_seq = last_seq;
        if let Some(event) = json_event("init", &status) {
            self.queue.push_back(event.retry(RECONNECT_AFTER));
        }
    }

    fn collect(&mut self) {
        self.changes.borrow_and_update();
        let (status, new_alerts) = {
            let inner = self.shared.lock();
            let status = (inner.snapshot_version != self.sent_version).then(|| Status {
                info: None,
                state: inner.state,
                message: inner.message.clone(),
                version: inner.snapshot_version,
                alert_capacity: None,
                snapshot: inner.snapshot.clone(),
                monitoring: inner.monitoring.clone(),
                history: None,
                alerts: None,
            });
            let sent_seq = self.sent_seq;
            let mut new_alerts: Vec<Arc<StoredAlert>> = inner
                .alerts
                .iter()
                .rev()
                .take_while(|a| a.seq > sent_seq)
                .take(MAX_ALERTS_PER_BATCH)
                .cloned()
                .collect();
            new_alerts.reverse(); // oldest first, so the page can prepend them in order
            self.sent_seq = inner.last_alert_seq.max(sent_seq);
            (status, new_alerts)
        };
        if let Some(status) = status {
            self.sent_version = status.version;
            self.push("snapshot", &status);
        }
        for alert in &new_alerts {
            self.push("alert", alert);
        }
    }

    fn push(&mut self, name: &str, data: &impl Serialize) {
        if let Some(event) = json_event(name, data) {
            self.queue.push_back(event);
        }
    }
}

fn json_event(name: &str, data: &impl Serialize) -> Option<Event> {
    match Event::default().event(name).json_data(data) {
        Ok(event) => Some(event),
        Err(e) => {
            tracing::warn!(event = name, "dashboard event not serializable: {e}");
            None
        }
    }
}
