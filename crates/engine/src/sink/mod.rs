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
}

/// An output of the job.
pub trait Sink {
    /// Writes one scored transaction, and its alert when `label` is set.
    fn write_score(&mut self, s: &Scored<'_>) -> Result<(), EngineError>;
    /// Writes one dead letter.
    fn write_dead_letter(&mut self, d: &DeadLetter) -> Result<(), EngineError>;
    /// Writes one joined record for the scoring stage (the join stage of the repartitioned Kafka topology, see
    /// [`crate::repartition`]), with `frontier_ms`, the latest event time the join stage has read; outputs without
    /// an internal topic refuse.
    fn write_joined(&mut self, _joined: &Joined, _frontier_ms: i64) -> Result<(), EngineError> {
        Err(EngineError::Config("this output has no internal topic for joined records".into()))
    }
    /// Tells every partition of the internal topic where the join stage stands (`frontier_ms`, or
    /// [`crate::repartition::Progress::FINISHED`] when it stops), so the scoring stages need not wait for records
    /// from it that will not come. Outputs without an internal topic ignore it.
    fn write_progress(&mut self, _frontier_ms: i64) -> Result<(), EngineError> {
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

    /// The TransactionIDs this output already holds, for outputs that can be read back (`None` otherwise).
    fn already_written(&mut self) -> Result<Option<std::collections::HashSet<i64>>, EngineError> {
        Ok(None)
    }
}
