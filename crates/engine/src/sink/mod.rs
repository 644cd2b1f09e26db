//! Sinks: where scores, alerts and dead letters leave the job.
//!
//! - [`files::FileSinks`]: `scores.csv`, `alerts.jsonl`, `dead_letters.jsonl` (embedded mode).
//! - [`kafka::KafkaSinks`]: the `scores`, `alerts` and `dead-letters` topics (Avro via the registry).
//!
//! The job writes through [`Sink`] and calls [`Sink::flush`] before it commits input offsets, so whatever a
//! commit covers is durable in the output.

pub mod files;
pub mod kafka;

use crate::error::EngineError;
use crate::join::Joined;
use crate::source::DeadLetter;

/// A scored transaction as the sinks write it.
pub struct Scored<'a> {
    pub joined: &'a Joined,
    /// `None` when the model failed and the run skips failures (`--on-model-error skip`).
    pub score: Option<f64>,
    /// Score at or above the alert threshold.
    pub label: bool,
    pub latency_ms: f64,
    /// The output already holds this transaction's score (written before a restart): only a missing alert is
    /// written.
    pub score_written: bool,
    /// The output already holds this transaction's alert.
    pub alert_written: bool,
}

impl Scored<'_> {
    /// Whether the score is to be written now.
    pub fn writes_score(&self) -> bool {
        !self.score_written
    }

    /// Whether an alert is to be written now: the score is at or above the threshold and no alert is out yet.
    pub fn writes_alert(&self) -> bool {
        self.label && !self.alert_written
    }
}

/// What an output already holds, read back after a restart: the transactions with a score, and those with an
/// alert, each with the score it carries (`None`: a null score, or one not recorded there). Scores and alerts are
/// separate messages, so a crash can leave one without the other.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    pub scored: std::collections::HashMap<i64, Option<f64>>,
    pub alerted: std::collections::HashMap<i64, Option<f64>>,
}

/// An output of the job.
pub trait Sink {
    /// Writes one scored transaction's score and alert, as far as [`Scored::writes_score`] and
    /// [`Scored::writes_alert`] say.
    fn write_score(&mut self, s: &Scored<'_>) -> Result<(), EngineError>;
    /// Writes one dead letter.
    fn write_dead_letter(&mut self, d: &DeadLetter) -> Result<(), EngineError>;
    /// Writes one joined record for the scoring stage (the join stage of the repartitioned Kafka topology, see
    /// [`crate::repartition`]), with `frontier_ms`, the latest event time the join stage has read; outputs without
    /// an internal topic refuse.
    fn write_joined(&mut self, _joined: &Joined, _frontier_ms: i64) -> Result<(), EngineError> {
        Err(EngineError::Config("this output has no internal topic for joined records".into()))
    }
    /// Tells the partitions of the internal topic this stage has written nothing to for `quiet_for` (all of them
    /// with zero) where the join stage stands (`frontier_ms`, or [`crate::repartition::Progress::IDLE`] /
    /// [`crate::repartition::Progress::FINISHED`]), so the scoring stages need not wait for records from it that
    /// will not come. Outputs without an internal topic ignore it.
    fn write_progress(&mut self, _frontier_ms: i64, _quiet_for: std::time::Duration) -> Result<(), EngineError> {
        Ok(())
    }
    /// Makes everything written so far durable (files flushed, Kafka deliveries acknowledged).
    fn flush(&mut self) -> Result<(), EngineError>;

    /// Commits everything written since the last call together with the input `positions`, as one Kafka
    /// transaction; `false` when this output is not transactional (the caller then flushes and commits the input
    /// itself).
    fn commit_in_transaction(
        &mut self,
        _positions: &crate::source::Positions,
        _group: &rdkafka::consumer::ConsumerGroupMetadata,
    ) -> Result<bool, EngineError> {
        Ok(false)
    }

    /// What this output already holds, for outputs that can be read back (`None` otherwise).
    fn already_written(&mut self) -> Result<Option<Written>, EngineError> {
        Ok(None)
    }
}
