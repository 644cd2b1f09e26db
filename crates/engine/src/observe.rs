//! What the world outside a running job sees of it: live counters for a progress bar ([`RunProgress`]), a status
//! about twice a second and every written score for a dashboard ([`RunObserver`]), and the final account
//! ([`RunSummary`]).
//!
//! The operators only report into these types; none of them reads them back.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use fraudstream_data::EventTime;

use crate::flow::Scored;
use crate::join::JoinStats;
use crate::monitor::{LabelCounts, ModelHealth};
use crate::quality::QualitySnapshot;

/// Live counters for a status line, readable from another thread while the job runs.
#[derive(Debug, Default)]
pub struct RunProgress {
    pub records_in: AtomicU64,
    pub scored: AtomicU64,
    pub alerts: AtomicU64,
    pub dead_letters: AtomicU64,
    pub state_size: AtomicU64,
}

/// The job's state as an observer sees it about twice a second.
#[derive(Debug, Clone, Default)]
pub struct JobStatus {
    pub elapsed: Duration,
    pub records_in: u64,
    pub scored: u64,
    pub alerts: u64,
    pub dead_letters: u64,
    pub join_state: u64,
    /// Newest event time seen minus the watermark, in seconds.
    pub watermark_lag_seconds: f64,
    /// Newest event time seen.
    pub event_time: Option<EventTime>,
    /// The champion's rolling quality from delayed labels (when monitoring joins labels).
    pub quality: Option<QualitySnapshot>,
    /// Every monitored model's quality and drift, champion first (when [`crate::job::JobConfig::monitor`] is set).
    pub models: Vec<ModelHealth>,
}

/// Hooks into a running job, called on the job thread: keep them cheap.
pub trait RunObserver {
    /// A score was written.
    fn scored(&mut self, _scored: &Scored<'_>) {}
    /// About twice a second, and once at the end.
    fn status(&mut self, _status: &JobStatus) {}
}

/// The final account of a bounded run.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub scored: u64,
    /// Transactions not written again because the output already held them (Kafka restart).
    pub skipped_already_scored: u64,
    /// Joined records handed to the scoring stage (the join stage of the repartitioned topology).
    pub forwarded: u64,
    /// Transactions written with a null score because the model failed (`--on-model-error skip`).
    pub model_errors: u64,
    /// Transactions whose TransactionID the run had written before (each scored again), counted exactly where the
    /// input is bounded (files); `None` on Kafka, where [`JoinStats::duplicate_transactions`] counts those within
    /// the join's window.
    pub duplicate_transactions: Option<u64>,
    pub alerts: u64,
    /// Dead letters of the source and the join (model errors are [`RunSummary::model_errors`]).
    pub dead_letters: u64,
    /// Every dead letter, model errors included, by kind.
    pub dead_letters_by_kind: std::collections::BTreeMap<crate::flow::DeadLetterKind, u64>,
    pub join: JoinStats,
    pub elapsed: Duration,
    /// Arrival → score latency percentiles in milliseconds: p50, p99, max (over a uniform sample of 2 Mi beyond
    /// that many transactions, as is the ROC AUC).
    pub latency_ms: (f64, f64, f64),
    /// ROC AUC of the scores against `isFraud`, when the input is labelled.
    pub auc: Option<f64>,
    /// The champion's rolling online quality at the end (when monitoring joins labels).
    pub quality: Option<QualitySnapshot>,
    /// Every monitored model's final quality and drift, champion first.
    pub models: Vec<ModelHealth>,
    /// What became of labels and the scores awaiting them.
    pub labels: Option<LabelCounts>,
    /// Time spent recovering after partition assignments (Kafka): reading back output, rebuilding state.
    pub recovery: Duration,
}
