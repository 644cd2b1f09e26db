//! Sinks: where scores, alerts and dead letters leave the job.
//!
//! [`Sink`] is what the write step writes through; the job calls [`Sink::flush`] before it checkpoints, so
//! whatever a checkpoint covers is durable in the output. The embedded implementation is [`files::FileSinks`]
//! (`scores.csv`, `alerts.jsonl`, `dead_letters.jsonl`); the Kafka topics are [`crate::kafka::sink::KafkaSinks`].

pub mod files;

use crate::error::EngineError;
use crate::flow::{DeadLetter, Scored};

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
    /// Makes everything written so far durable (files flushed, Kafka deliveries acknowledged).
    fn flush(&mut self) -> Result<(), EngineError>;
}
