//! Model monitoring in the stream: online quality from labels that arrive weeks later, and input/score drift — for
//! the champion and, when one runs beside it, a challenger.
//!
//! - [`labels`]: the labels feed joined to the scores the job wrote, within a horizon (what falls outside is
//!   counted).
//! - [`drift`]: population stability of each model's inputs and score against its baseline.
//! - [`Monitoring`]: both, per model, fed by the write step for every score it writes; about twice a second the
//!   job asks it for a [`ModelHealth`] per model (the dashboard, the metrics, the status) and it logs drift alerts
//!   once per threshold crossing.
//!
//! Labels come from a file or topic ([`LabelJoin::label`]) or, with `--label-delay`, from the transactions' own
//! `isFraud` column, held back that long in event time (a simulation for replays of the labelled Kaggle data).

pub mod drift;
pub mod labels;

use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fraudstream_data::labels::Label;
use fraudstream_data::EventTime;
use fraudstream_features::InputMapping;
use fraudstream_model::drift::{Baseline, DriftConfig, DriftReport, DriftState};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;
use crate::flow::Joined;
use crate::quality::{QualitySnapshot, QualityWindow};
pub use drift::ModelDrift;
pub use labels::{LabelCounts, LabelJoin, LabelJoinState, MAX_MODELS};

/// Whether a model's scores decide or are only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Its scores are written and raise the alerts.
    Champion,
    /// Scored on the same traffic for comparison (`--challenger`); raises nothing.
    Challenger,
}

impl Role {
    /// `champion` or `challenger`, as metrics label it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Champion => "champion",
            Role::Challenger => "challenger",
        }
    }
}

/// Where labels come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LabelFeed {
    /// No labels: no online quality.
    None,
    /// A labels feed (file or topic) pushed in with [`Monitoring::label`].
    Feed,
    /// Each transaction's own `isFraud`, known this long after the transaction (`--label-delay`).
    Simulated(Duration),
}

/// What monitoring does.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub labels: LabelFeed,
    /// Scores wait this long (event time) for their label.
    pub horizon: Duration,
    /// Most recent labels the rolling quality covers.
    pub quality_window: usize,
    /// Alert threshold of the scores (precision and recall at it).
    pub threshold: f64,
    /// Only transactions at or after this event time count for quality (e.g. a model's held-out period:
    /// rows it trained on would flatter the figures); drift watches every transaction.
    pub quality_from: Option<EventTime>,
}

/// Everything monitoring needs, as plain data a job config can carry; [`MonitorSetup::build`] makes the monitors.
#[derive(Debug, Clone)]
pub struct MonitorSetup {
    pub config: MonitorConfig,
    /// The monitored models, champion first (at most [`MAX_MODELS`]).
    pub models: Vec<WatchSpec>,
    /// Labels known at the start (a labels file, read whole): each becomes known at its `label_time`.
    pub labels: Arc<Vec<Label>>,
    /// Labels arriving while the job runs (a labels topic, see `crate::kafka::labels`).
    pub live: Option<LiveLabels>,
}

/// A label read from a labels topic, with where it was read: the job remembers how far it has taken each partition,
/// so a snapshot of the monitoring state can say where the feed resumes.
#[derive(Debug, Clone)]
pub struct FedLabel {
    pub label: Label,
    pub partition: i32,
    pub offset: i64,
}

/// Commits how far the labels feed has been taken into a durable snapshot: (partition, next offset).
pub type LabelCommit = Arc<dyn Fn(&[(i32, i64)]) -> Result<(), EngineError> + Send + Sync>;

/// A channel of labels read while the job runs; the job drains it about twice a second.
#[derive(Clone)]
pub struct LiveLabels {
    rx: Arc<Mutex<Receiver<FedLabel>>>,
    /// Set when the job, not the reader, commits the feed's positions (see [`Monitoring::commit_labels`]).
    commit: Option<LabelCommit>,
}

impl LiveLabels {
    /// Labels from `rx`; `commit` when the job commits the feed's positions with its snapshots.
    pub fn new(rx: Receiver<FedLabel>, commit: Option<LabelCommit>) -> LiveLabels {
        LiveLabels { rx: Arc::new(Mutex::new(rx)), commit }
    }

    /// Everything that arrived so far into `join`, except what a restored snapshot already took (before
    /// `positions`), which it then moves past.
    fn drain_into(&self, join: &mut LabelJoin, positions: &mut BTreeMap<i32, i64>) {
        // A poisoned lock only means another holder panicked; the receiver itself is intact.
        let rx = self.rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Ok(fed) = rx.try_recv() {
            let next = positions.entry(fed.partition).or_insert(0);
            if fed.offset >= *next {
                join.label(&fed.label);
                *next = fed.offset + 1;
            }
        }
    }
}

impl std::fmt::Debug for LiveLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveLabels")
    }
}

/// One monitored model.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// Name as the job loaded it (file stem).
    pub name: String,
    pub role: Role,
    /// Drift of its inputs and score, when monitored.
    pub drift: Option<DriftSpec>,
}

/// How to monitor one model's drift.
#[derive(Debug, Clone)]
pub struct DriftSpec {
    /// How the model's inputs are read from a joined record.
    pub mapping: InputMapping,
    /// The model's baseline (`model.json`); `None`: the first window.
    pub baseline: Option<Baseline>,
    pub config: DriftConfig,
}

impl MonitorSetup {
    /// Whether a challenger scores beside the champion.
    pub fn has_challenger(&self) -> bool {
        self.models.iter().any(|m| m.role == Role::Challenger)
    }

    /// The monitors, with the known labels pushed in.
    pub fn build(&self) -> Result<Monitoring, EngineError> {
        if self.models.len() > MAX_MODELS {
            return Err(EngineError::Config(format!("at most {MAX_MODELS} models can be monitored at once")));
        }
        let models = self
            .models
            .iter()
            .map(|w| {
                let drift = w
                    .drift
                    .as_ref()
                    .map(|d| ModelDrift::new(d.mapping.clone(), d.baseline.clone(), d.config))
                    .transpose()?;
                Ok(Model {
                    name: w.name.clone(),
                    role: w.role,
                    drift,
                    quality: QualityWindow::new(self.config.quality_window, self.config.threshold),
                    drift_alerts: 0,
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let mut monitoring = Monitoring::new(models, &self.config);
        monitoring.live = self.live.clone();
        for label in self.labels.iter() {
            monitoring.label(label);
        }
        Ok(monitoring)
    }
}

#[derive(Debug)]
struct Model {
    name: String,
    role: Role,
    drift: Option<ModelDrift>,
    quality: QualityWindow,
    /// Drift alerts raised in the run.
    drift_alerts: u64,
}

/// One model's health at one moment.
#[derive(Debug, Clone)]
pub struct ModelHealth {
    pub name: String,
    pub role: Role,
    /// Rolling online quality; `None` without labels.
    pub quality: Option<QualitySnapshot>,
    /// Drift figures; `None` when drift is not monitored.
    pub drift: Option<DriftReport>,
    /// Whether the drift baseline is the model's own `model.json` (else the first window).
    pub baseline_from_model_json: bool,
    /// Drift alerts raised so far.
    pub drift_alerts: u64,
}

/// Labels and drift for up to [`MAX_MODELS`] models (see the module docs).
#[derive(Debug)]
pub struct Monitoring {
    models: Vec<Model>,
    labels: Option<LabelJoin>,
    simulated_delay: Option<i64>,
    live: Option<LiveLabels>,
    /// How far the labels topic has been taken, per partition (next offset).
    label_positions: BTreeMap<i32, i64>,
    quality_from: Option<EventTime>,
}

/// What [`Monitoring`] holds, as plain data: a snapshot lets a restarted job go on with the scores awaiting their
/// labels, the quality windows, the drift windows and the labels feed's positions (see `crate::kafka::snapshot`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorState {
    models: Vec<ModelState>,
    labels: Option<LabelJoinState>,
    label_positions: Vec<(i32, i64)>,
}

impl MonitorState {
    /// How far the state had taken each partition of the labels topic: (partition, next offset).
    pub fn label_positions(&self) -> &[(i32, i64)] {
        &self.label_positions
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ModelState {
    name: String,
    role: Role,
    /// The quality window: (score as its bits, exact through JSON; label), oldest first.
    quality: Vec<(u64, bool)>,
    labels_received: u64,
    drift: Option<DriftState>,
    drift_alerts: u64,
}

impl Monitoring {
    fn new(models: Vec<Model>, config: &MonitorConfig) -> Monitoring {
        let (labels, simulated_delay) = match config.labels {
            LabelFeed::None => (None, None),
            LabelFeed::Feed => (Some(LabelJoin::new(config.horizon)), None),
            LabelFeed::Simulated(delay) => (
                Some(LabelJoin::new(config.horizon.max(delay))),
                Some(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
            ),
        };
        Monitoring {
            models,
            labels,
            simulated_delay,
            live: None,
            label_positions: BTreeMap::new(),
            quality_from: config.quality_from,
        }
    }

    /// Everything monitoring holds (see [`MonitorState`]).
    pub fn state(&self) -> MonitorState {
        MonitorState {
            models: self
                .models
                .iter()
                .map(|m| {
                    let (quality, labels_received) = m.quality.state();
                    ModelState {
                        name: m.name.clone(),
                        role: m.role,
                        quality: quality.into_iter().map(|(s, l)| (s.to_bits(), l)).collect(),
                        labels_received,
                        drift: m.drift.as_ref().map(ModelDrift::state),
                        drift_alerts: m.drift_alerts,
                    }
                })
                .collect(),
            labels: self.labels.as_ref().map(LabelJoin::state),
            label_positions: self.label_positions.iter().map(|(&p, &o)| (p, o)).collect(),
        }
    }

    /// Replaces what monitoring holds with a [`Monitoring::state`] of the same models. A state of other models or
    /// without labels where these have them (or the reverse) is an error, and nothing changes. A model whose drift
    /// state does not fit (its `model.json` baseline changed) starts its drift window over, logged.
    pub fn restore(&mut self, state: MonitorState) -> Result<(), EngineError> {
        let ours: Vec<(&str, Role)> = self.models.iter().map(|m| (m.name.as_str(), m.role)).collect();
        let theirs: Vec<(&str, Role)> = state.models.iter().map(|m| (m.name.as_str(), m.role)).collect();
        if ours != theirs {
            return Err(EngineError::Config(format!(
                "the monitoring snapshot is of models {theirs:?}, this job monitors {ours:?}"
            )));
        }
        if self.labels.is_some() != state.labels.is_some() {
            return Err(EngineError::Config("the monitoring snapshot was taken with another labels feed".into()));
        }
        for (model, saved) in self.models.iter_mut().zip(state.models) {
            let quality: Vec<(f64, bool)> = saved.quality.iter().map(|&(s, l)| (f64::from_bits(s), l)).collect();
            model.quality.restore(&quality, saved.labels_received);
            model.drift_alerts = saved.drift_alerts;
            if let (Some(drift), Some(saved)) = (&mut model.drift, saved.drift) {
                if let Err(e) = drift.restore(saved) {
                    tracing::warn!("drift of {} model {}: starts over ({e})", model.role.as_str(), model.name);
                }
            }
        }
        if let (Some(join), Some(saved)) = (&mut self.labels, state.labels) {
            join.restore(saved);
        }
        self.label_positions = state.label_positions.into_iter().collect();
        Ok(())
    }

    /// A score written before a restart but after the snapshot monitoring was restored from (read back from the
    /// output): it awaits its label again. Drift does not see it (the output holds no inputs), and `--label-delay`
    /// cannot label it (the output holds no `isFraud`).
    pub fn rescored(&mut self, id: i64, time: EventTime, scores: [f64; MAX_MODELS]) {
        self.await_label(id, time, scores, None);
    }

    /// Commits the labels feed's positions of a state that is now durable ([`MonitorState::label_positions`]),
    /// when the job commits them; a failure is logged: the feed then resumes earlier and the labels it reads again
    /// are passed over.
    pub fn commit_labels(&self, positions: &[(i32, i64)]) {
        let Some(commit) = self.live.as_ref().and_then(|l| l.commit.as_ref()) else { return };
        if positions.is_empty() {
            return;
        }
        if let Err(e) = commit(positions) {
            tracing::warn!("committing the labels feed's positions: {e}");
        }
    }

    /// Whether labels are joined (online quality is computed).
    pub fn has_labels(&self) -> bool {
        self.labels.is_some()
    }

    /// A label from the feed.
    pub fn label(&mut self, label: &Label) {
        if let Some(join) = &mut self.labels {
            join.label(label);
        }
    }

    /// A transaction was written: `scores` per model (champion first; `None` where a model gave no score).
    pub fn scored(&mut self, joined: &Joined, scores: &[Option<f64>]) {
        let row = joined.feature_row();
        for (model, score) in self.models.iter_mut().zip(scores) {
            if let (Some(drift), Some(score)) = (&mut model.drift, score) {
                drift.observe(&row, *score);
            }
        }
        let tx = &joined.transaction;
        let mut by_model = [f64::NAN; MAX_MODELS];
        for (slot, score) in by_model.iter_mut().zip(scores) {
            *slot = score.unwrap_or(f64::NAN);
        }
        self.await_label(tx.id(), tx.event_time(), by_model, tx.is_fraud());
    }

    /// Scores that wait for their label (transactions before `quality_from` do not count); with `--label-delay`
    /// the transaction's own label, `own_label`, is fed in after the delay.
    fn await_label(&mut self, id: i64, time: EventTime, scores: [f64; MAX_MODELS], own_label: Option<bool>) {
        let Some(join) = &mut self.labels else { return };
        if self.quality_from.is_some_and(|from| time < from) {
            return;
        }
        if let (Some(delay), Some(fraud)) = (self.simulated_delay, own_label) {
            join.label(&Label {
                transaction_id: id,
                is_fraud: fraud,
                label_time: EventTime(time.millis().saturating_add(delay)),
                source: fraudstream_data::labels::LabelSource::Generated,
            });
        }
        let models = &mut self.models;
        join.scored(id, time, scores, &mut |s, l| push_quality(models, s, l));
    }

    /// Applies the labels known at event time `now` (none before the stream has an event time), logs new drift
    /// alerts, and returns every model's health.
    pub fn report(&mut self, now: Option<EventTime>) -> Vec<ModelHealth> {
        if let Some(now) = now {
            self.advance(Some(now));
        }
        self.health()
    }

    /// The input is finished, and so is the labels feed: applies every label, expires every score still waiting,
    /// and returns every model's final health.
    pub fn finish(&mut self) -> Vec<ModelHealth> {
        self.advance(None);
        self.health()
    }

    fn advance(&mut self, now: Option<EventTime>) {
        if let Some(join) = &mut self.labels {
            if let Some(live) = &self.live {
                live.drain_into(join, &mut self.label_positions);
            }
            let models = &mut self.models;
            join.advance(now, &mut |s, l| push_quality(models, s, l));
        }
    }

    fn health(&mut self) -> Vec<ModelHealth> {
        let with_labels = self.labels.is_some();
        self.models
            .iter_mut()
            .map(|m| {
                if let Some(drift) = &mut m.drift {
                    let alerts = drift.check();
                    if !alerts.is_empty() {
                        m.drift_alerts += alerts.len() as u64;
                        log_drift(m.role, &m.name, alerts);
                    }
                }
                ModelHealth {
                    name: m.name.clone(),
                    role: m.role,
                    quality: with_labels.then(|| m.quality.snapshot()),
                    drift: m.drift.as_ref().map(ModelDrift::report),
                    baseline_from_model_json: m.drift.as_ref().is_some_and(ModelDrift::baseline_from_model_json),
                    drift_alerts: m.drift_alerts,
                }
            })
            .collect()
    }

    /// What became of labels and scores awaiting them.
    pub fn label_counts(&self) -> Option<LabelCounts> {
        self.labels.as_ref().map(LabelJoin::counts)
    }
}

/// A joined (scores, label) pair into each model's quality window (models that gave no score skip it).
fn push_quality(models: &mut [Model], scores: &[f64], label: bool) {
    for (model, &score) in models.iter_mut().zip(scores) {
        if !score.is_nan() {
            model.quality.push(score, label);
        }
    }
}

/// One log line for the threshold crossings of one check, largest shifts first.
fn log_drift(role: Role, model: &str, mut alerts: Vec<fraudstream_model::drift::DriftAlert>) {
    alerts.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    let shown: Vec<String> = alerts
        .iter()
        .take(8)
        .map(|a| match &a.subject {
            fraudstream_model::drift::Monitored::Input(name) => format!("{name} {:.3}", a.psi),
            fraudstream_model::drift::Monitored::Score => format!("the score {:.3}", a.psi),
        })
        .collect();
    let more =
        if alerts.len() > shown.len() { format!(" and {} more", alerts.len() - shown.len()) } else { String::new() };
    tracing::warn!(
        "drift: {} model {model}: {} moved from the baseline (PSI): {}{more}",
        role.as_str(),
        if alerts.len() == 1 { "1 input".to_string() } else { format!("{} inputs", alerts.len()) },
        shown.join(", ")
    );
}
