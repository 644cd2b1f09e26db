//! The shared state between the job thread (writer) and the HTTP side (readers).
//!
//! Writers hold one `std::sync::Mutex` for a few pointer moves and then bump a `tokio::sync::watch` version, which
//! is a synchronous call: the job thread never awaits, never allocates per reader, and never waits for a browser.
//! Readers copy `Arc`s out under the same lock and serialize outside it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::watch;

use crate::model::{Alert, DashboardInfo, RunState, Snapshot};
use crate::monitoring::Monitoring;

/// Alerts kept for late-joining browsers and `/api/alerts` when no capacity is given.
pub const DEFAULT_ALERT_CAPACITY: usize = 200;

/// Seconds of snapshots kept for the sparklines, so a page opened mid-run draws the last two minutes at once.
pub const HISTORY_SECONDS: f64 = 120.0;

/// Upper bound on history points whatever the update rate, so a job that updates faster than once per second
/// cannot grow the history.
const HISTORY_MAX_POINTS: usize = 600;

/// An alert as stored and sent: the job's [`Alert`] plus a sequence number, which lets an event stream send only
/// the alerts newer than the last one it sent and lets the page drop duplicates after a reconnect.
#[derive(Debug, Clone, Serialize)]
pub struct StoredAlert {
    /// 1 for the first alert of the run, then +1 per alert.
    pub seq: u64,
    /// The alert as the job gave it; its fields appear at the top level of the JSON.
    #[serde(flatten)]
    pub alert: Alert,
}

/// One sparkline sample, taken from each snapshot.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HistoryPoint {
    /// `Snapshot::elapsed_seconds`.
    pub t: f64,
    /// `Snapshot::throughput_tps`.
    pub tps: f64,
    /// `Snapshot::latency_p50_ms`.
    pub p50: f64,
    /// `Snapshot::latency_p99_ms`.
    pub p99: f64,
}

pub(crate) struct Inner {
    pub snapshot: Arc<Snapshot>,
    /// Bumped by every `update`, `finish` and `fail`; 0 = nothing published yet.
    pub snapshot_version: u64,
    pub state: RunState,
    pub message: Option<String>,
    pub history: VecDeque<HistoryPoint>,
    pub alerts: VecDeque<Arc<StoredAlert>>,
    pub last_alert_seq: u64,
    /// The latest [`Dashboard::update_monitoring`]; `None` until the job publishes any.
    pub monitoring: Option<Arc<Monitoring>>,
}

pub(crate) struct Shared {
    pub info: DashboardInfo,
    pub alert_capacity: usize,
    inner: Mutex<Inner>,
    /// Wakes event streams: incremented on every change of `inner`.
    pub changes: watch::Sender<u64>,
    /// Set by [`Dashboard::close`]: every event stream ends, so a graceful server shutdown can complete.
    pub closed: watch::Sender<bool>,
}

impl Shared {
    /// The lock, recovered from poisoning: a panicking reader must not take the job's dashboard down with it, and
    /// every write leaves `Inner` consistent.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// The job's side of the dashboard: a cheap, cloneable handle (one `Arc`) whose methods are plain synchronous
/// calls, safe from any thread, and return in microseconds whether or not any browser is connected.
///
/// Serve it with [`crate::serve`] or mount [`crate::router`] in an existing axum server.
#[derive(Clone)]
pub struct Dashboard {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").field("info", &self.shared.info).finish_non_exhaustive()
    }
}

impl Dashboard {
    /// A dashboard keeping the last [`DEFAULT_ALERT_CAPACITY`] alerts.
    pub fn new(info: DashboardInfo) -> Dashboard {
        Dashboard::with_alert_capacity(info, DEFAULT_ALERT_CAPACITY)
    }

    /// A dashboard keeping the last `capacity` alerts (at least 1): the ring bounds memory however many alerts a
    /// run raises.
    pub fn with_alert_capacity(info: DashboardInfo, capacity: usize) -> Dashboard {
        let capacity = capacity.max(1);
        let inner = Inner {
            snapshot: Arc::new(Snapshot::default()),
            snapshot_version: 0,
            state: RunState::Waiting,
            message: None,
            history: VecDeque::new(),
            alerts: VecDeque::with_capacity(capacity),
            last_alert_seq: 0,
            monitoring: None,
        };
        let shared = Shared {
            info,
            alert_capacity: capacity,
            inner: Mutex::new(inner),
            changes: watch::Sender::new(0),
            closed: watch::Sender::new(false),
        };
        Dashboard { shared: Arc::new(shared) }
    }

    /// Publishes the job's current numbers (about once per second). Replaces the previous snapshot and adds a
    /// sparkline point; a run marked finished or failed stays so.
    pub fn update(&self, snapshot: Snapshot) {
        let point = HistoryPoint {
            t: snapshot.elapsed_seconds,
            tps: snapshot.throughput_tps,
            p50: snapshot.latency_p50_ms,
            p99: snapshot.latency_p99_ms,
        };
        let snapshot = Arc::new(snapshot);
        let old = {
            let mut inner = self.shared.lock();
            // A restarted clock (new run in the same dashboard) would fold the sparkline back on itself.
            if inner.history.back().is_some_and(|last| last.t > point.t) {
                inner.history.clear();
            }
            inner.history.push_back(point);
            while inner.history.len() > HISTORY_MAX_POINTS
                || inner.history.front().is_some_and(|first| point.t - first.t > HISTORY_SECONDS)
            {
                inner.history.pop_front();
            }
            if inner.state == RunState::Waiting {
                inner.state = RunState::Running;
            }
            inner.snapshot_version += 1;
            std::mem::replace(&mut inner.snapshot, snapshot)
        };
        drop(old); // outside the lock: the last reference may free a histogram
        self.shared.changed();
    }

    /// Publishes the models' online quality and drift (about once per second, like [`Dashboard::update`]). It is
    /// sent with every snapshot from then on, so it may be published less often than snapshots.
    pub fn update_monitoring(&self, monitoring: Monitoring) {
        let monitoring = Arc::new(monitoring);
        let old = {
            let mut inner = self.shared.lock();
            inner.snapshot_version += 1;
            inner.monitoring.replace(monitoring)
        };
        drop(old);
        self.shared.changed();
    }

    /// Records one alert; the oldest falls out once the ring is full.
    pub fn alert(&self, alert: Alert) {
        let evicted = {
            let mut inner = self.shared.lock();
            inner.last_alert_seq += 1;
            let stored = Arc::new(StoredAlert { seq: inner.last_alert_seq, alert });
            let evicted =
                if inner.alerts.len() >= self.shared.alert_capacity { inner.alerts.pop_front() } else { None };
            inner.alerts.push_back(stored);
            evicted
        };
        drop(evicted);
        self.shared.changed();
    }

    /// Marks a bounded run as done; `summary` (e.g. "590,540 transactions in 4.1 s") is shown in the header.
    pub fn finish(&self, summary: impl Into<String>) {
        self.set_state(RunState::Finished, summary.into());
    }

    /// Marks the run as stopped by an error, shown in the header.
    pub fn fail(&self, error: impl Into<String>) {
        self.set_state(RunState::Failed, error.into());
    }

    fn set_state(&self, state: RunState, message: String) {
        {
            let mut inner = self.shared.lock();
            inner.state = state;
            inner.message = Some(message);
            inner.snapshot_version += 1;
        }
        self.shared.changed();
    }

    /// Ends every open `/events` stream and makes new ones end at once. Call it before a graceful shutdown of a
    /// server that mounts [`crate::router`]: event streams never end by themselves, so the server would otherwise
    /// wait for the browsers to go away. [`crate::RunningDashboard`] does this itself.
    pub fn close(&self) {
        self.shared.closed.send_replace(true);
    }

    /// The fixed facts given at creation.
    pub fn info(&self) -> &DashboardInfo {
        &self.shared.info
    }

    /// The latest snapshot (the default one before the first update).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.lock().snapshot.clone()
    }

    /// The latest monitoring published, if any.
    pub fn monitoring(&self) -> Option<Arc<Monitoring>> {
        self.shared.lock().monitoring.clone()
    }

    /// Where the run is.
    pub fn state(&self) -> RunState {
        self.shared.lock().state
    }

    /// Up to `limit` most recent alerts, newest first.
    pub fn recent_alerts(&self, limit: usize) -> Vec<Arc<StoredAlert>> {
        self.shared.lock().alerts.iter().rev().take(limit).cloned().collect()
    }

    /// How many alerts the ring keeps.
    pub fn alert_capacity(&self) -> usize {
        self.shared.alert_capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(t: f64) -> Snapshot {
        Snapshot { elapsed_seconds: t, throughput_tps: t * 10.0, ..Snapshot::default() }
    }

    #[test]
    fn ring_keeps_the_newest_alerts_in_order() {
        let d = Dashboard::with_alert_capacity(DashboardInfo::default(), 3);
        for id in 1..=5 {
            d.alert(Alert { transaction_id: id, ..Alert::default() });
        }
        let ids: Vec<i64> = d.recent_alerts(10).iter().map(|a| a.alert.transaction_id).collect();
        assert_eq!(ids, [5, 4, 3]);
        let seqs: Vec<u64> = d.recent_alerts(2).iter().map(|a| a.seq).collect();
        assert_eq!(seqs, [5, 4]);
    }

    #[test]
    fn history_is_bounded_by_time_and_resets_on_a_new_clock() {
        let d = Dashboard::new(DashboardInfo::default());
        for t in 0..300 {
            d.update(snap(t as f64));
        }
        {
            let inner = d.shared.lock();
            assert_eq!(inner.history.len(), 121);
            assert_eq!(inner.history.front().map(|p| p.t), Some(179.0));
        }
        d.update(snap(0.5));
        assert_eq!(d.shared.lock().history.len(), 1);
    }

    #[test]
    fn state_follows_updates_and_finish() {
        let d = Dashboard::new(DashboardInfo::default());
        assert_eq!(d.state(), RunState::Waiting);
        d.update(snap(1.0));
        assert_eq!(d.state(), RunState::Running);
        d.finish("done");
        d.update(snap(2.0));
        assert_eq!(d.state(), RunState::Finished);
        assert_eq!(d.snapshot().elapsed_seconds, 2.0);
    }

    #[test]
    fn updates_wake_watchers() {
        let d = Dashboard::new(DashboardInfo::default());
        let mut rx = d.shared.changes.subscribe();
        assert!(!rx.has_changed().unwrap_or(false));
        d.alert(Alert::default());
        assert!(rx.has_changed().unwrap_or(false));
        rx.borrow_and_update();
        d.update(snap(1.0));
        assert!(rx.has_changed().unwrap_or(false));
    }
}
