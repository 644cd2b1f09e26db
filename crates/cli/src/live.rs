//! The live view of a running job: feeds the browser dashboard from the job's observer hooks.
//!
//! Per score it only bumps counters, a score histogram and a ring of recent latencies; alerts go to the dashboard
//! with their reason codes (the exact Shapley contributions the scorer computed, see
//! `fraudstream_engine::reasons`), at most [`ALERTS_PER_SECOND`] a second so a burst does not flood the page.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use fraudstream_dashboard::{
    Alert, Dashboard, DriftView, Driver, InputDrift, ModelMonitoring, ModelRole, Monitoring, Quality, Snapshot,
};
use fraudstream_data::catalog::Table;
use fraudstream_engine::flow::Scored;
use fraudstream_engine::monitor::{ModelHealth, Role};
use fraudstream_engine::observe::{JobStatus, RunObserver};
use fraudstream_engine::quality::QualitySnapshot;
use fraudstream_model::drift::{BaselineSource, DriftReport};

const HISTOGRAM_BUCKETS: usize = 20;
/// Latencies kept for the percentiles shown (the most recent ones).
const LATENCY_WINDOW: usize = 4096;
/// Alerts shown per second at most; the rest still count in the totals.
const ALERTS_PER_SECOND: u32 = 10;

/// A [`RunObserver`] that keeps a dashboard current.
pub struct LiveView {
    dashboard: Dashboard,
    histogram: [u64; HISTOGRAM_BUCKETS],
    latencies: VecDeque<f32>,
    /// (when, scored) at the previous status, for the throughput.
    last: Option<(Instant, u64)>,
    second: Instant,
    alerts_this_second: u32,
}

impl LiveView {
    pub fn new(dashboard: Dashboard) -> LiveView {
        LiveView {
            dashboard,
            histogram: [0; HISTOGRAM_BUCKETS],
            latencies: VecDeque::with_capacity(LATENCY_WINDOW),
            last: None,
            second: Instant::now(),
            alerts_this_second: 0,
        }
    }

    fn alert(&mut self, s: &Scored<'_>, score: f64) {
        let now = Instant::now();
        if now.duration_since(self.second) >= Duration::from_secs(1) {
            (self.second, self.alerts_this_second) = (now, 0);
        }
        if self.alerts_this_second >= ALERTS_PER_SECOND {
            return;
        }
        self.alerts_this_second += 1;
        let tx = &s.joined.transaction;
        let catalog = Table::Transaction.catalog();
        let text = |name: &str| catalog.get(name).and_then(|c| tx.row.strs.get(c.slot)?.as_deref().map(str::to_string));
        let drivers = s
            .reasons
            .iter()
            .map(|r| Driver {
                feature: r.feature.to_string(),
                value: r.value.as_ref().map_or_else(|| "missing".to_string(), ToString::to_string),
                effect: r.contribution,
            })
            .collect();
        let card = match (text("card4"), text("card6")) {
            (Some(a), Some(b)) => Some(format!("{a} {b}")),
            (a, b) => a.or(b),
        };
        self.dashboard.alert(Alert {
            transaction_id: tx.id(),
            event_time: tx.event_time().to_string(),
            amount: tx.row.nums[catalog.col("TransactionAmt").slot],
            product: text("ProductCD").unwrap_or_default(),
            card_type: card,
            score,
            drivers,
        });
    }
}

impl RunObserver for LiveView {
    fn scored(&mut self, s: &Scored<'_>) {
        if self.latencies.len() == LATENCY_WINDOW {
            self.latencies.pop_front();
        }
        self.latencies.push_back(s.latency_ms as f32);
        let Some(score) = s.score else { return };
        let bucket = ((score * HISTOGRAM_BUCKETS as f64) as usize).min(HISTOGRAM_BUCKETS - 1);
        self.histogram[bucket] += 1;
        if s.label {
            self.alert(s, score);
        }
    }

    fn status(&mut self, status: &JobStatus) {
        let now = Instant::now();
        let throughput = match self.last {
            Some((t, n)) if now > t => (status.scored.saturating_sub(n)) as f64 / now.duration_since(t).as_secs_f64(),
            _ => 0.0,
        };
        self.last = Some((now, status.scored));
        let mut sorted: Vec<f32> = self.latencies.iter().copied().collect();
        sorted.sort_unstable_by(f32::total_cmp);
        let at =
            |q: f64| sorted.get(((sorted.len().max(1) - 1) as f64 * q).round() as usize).map_or(0.0, |&v| v as f64);
        let quality = status.quality.as_ref().map_or_else(Quality::default, quality_view);
        if !status.models.is_empty() {
            self.dashboard.update_monitoring(Monitoring { models: status.models.iter().map(model_view).collect() });
        }
        self.dashboard.update(Snapshot {
            elapsed_seconds: status.elapsed.as_secs_f64(),
            transactions_in: status.records_in,
            scored: status.scored,
            alerts: status.alerts,
            dead_letters: status.dead_letters,
            throughput_tps: throughput,
            latency_p50_ms: at(0.5),
            latency_p99_ms: at(0.99),
            latency_max_ms: at(1.0),
            watermark_lag_seconds: status.watermark_lag_seconds,
            score_histogram: self.histogram.to_vec(),
            quality,
        });
    }
}

/// The page's view of a rolling quality snapshot.
fn quality_view(q: &QualitySnapshot) -> Quality {
    Quality {
        labels_received: q.labels_received,
        window: q.window,
        positives: q.positives,
        negatives: q.negatives,
        roc_auc: q.roc_auc,
        precision: q.precision,
        recall: q.recall,
    }
}

/// The page's view of one monitored model.
fn model_view(m: &ModelHealth) -> ModelMonitoring {
    ModelMonitoring {
        model: m.name.clone(),
        role: match m.role {
            Role::Champion => ModelRole::Champion,
            Role::Challenger => ModelRole::Challenger,
        },
        quality: m.quality.as_ref().map(quality_view),
        drift: m.drift.as_ref().map(|d| drift_view(d, m.baseline_from_model_json)),
    }
}

/// The page's view of a drift report.
fn drift_view(d: &DriftReport, from_model_json: bool) -> DriftView {
    let baseline = match d.baseline {
        BaselineSource::Provided if from_model_json => "model.json".to_string(),
        BaselineSource::Provided => "provided".to_string(),
        BaselineSource::FirstWindow => "first window".to_string(),
        BaselineSource::Collecting { observed, needed } => format!("collecting first window ({observed} of {needed})"),
    };
    DriftView {
        baseline,
        observations: d.observations,
        window: d.window,
        alert_psi: d.alert_psi,
        score_psi: d.score.as_ref().map(|s| s.psi),
        score_alerting: d.score.as_ref().is_some_and(|s| s.alerting),
        inputs: d
            .inputs
            .iter()
            .map(|i| InputDrift { name: i.name.clone(), psi: i.psi, alerting: i.alerting })
            .collect(),
    }
}
