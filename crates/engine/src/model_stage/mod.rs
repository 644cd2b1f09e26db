//! The model step: collects joined records into micro-batches and scores them — in process, or remotely with
//! several batches in flight — handing each scored batch on in the order the batches were formed.
//!
//! A batch is sent when it is full ([`StageConfig::batch_size`]) or its oldest row has waited
//! [`StageConfig::batch_timeout`]. The number of batches in flight is bounded (`max_in_flight`): when it is
//! reached, forming the next batch waits for the oldest answer, so a slow model slows intake (backpressure) instead
//! of growing memory. What happens to an answer — written, or a failure handled — is the write step's business
//! ([`crate::write`]).

mod workers;

use std::time::{Duration, Instant};

use crate::error::EngineError;
use crate::flow::Joined;
use crate::scorer::{BatchScores, Scorer};
use workers::Workers;
pub(crate) use workers::{panicked, Answer};

/// What to do with a batch the model could not score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnModelError {
    /// Stop the run with the error (nothing is committed past the batch, so a restart retries it).
    #[default]
    Fail,
    /// Write the batch's transactions with a null score and send each to the dead letters with the error.
    Skip,
}

impl std::str::FromStr for OnModelError {
    type Err = String;

    fn from_str(s: &str) -> Result<OnModelError, String> {
        match s {
            "fail" => Ok(OnModelError::Fail),
            "skip" => Ok(OnModelError::Skip),
            other => Err(format!("unknown model-error policy `{other}` (expected `fail` or `skip`)")),
        }
    }
}

/// How the model step batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StageConfig {
    pub batch_size: usize,
    pub batch_timeout: Duration,
    pub max_in_flight: usize,
}

/// The micro-batching model step of one job.
pub(crate) struct ModelStage<'s> {
    scorer: &'s mut dyn Scorer,
    workers: Option<Workers>,
    rows: Vec<Joined>,
    config: StageConfig,
    batch_scores: BatchScores,
    oldest: Option<Instant>,
    inference_seconds: metrics::Histogram,
}

impl<'s> ModelStage<'s> {
    pub fn new(scorer: &'s mut dyn Scorer, config: StageConfig) -> ModelStage<'s> {
        let inference_seconds = metrics::histogram!("fraudstream_inference_seconds");
        let workers = Workers::start(scorer, config.max_in_flight, &inference_seconds);
        ModelStage {
            scorer,
            workers,
            rows: Vec::with_capacity(config.batch_size),
            config,
            batch_scores: BatchScores::default(),
            oldest: None,
            inference_seconds,
        }
    }

    /// Adds a record to the forming batch.
    pub fn push(&mut self, joined: Joined) {
        self.oldest.get_or_insert(joined.arrived);
        self.rows.push(joined);
    }

    /// Whether the forming batch is full.
    pub fn full(&self) -> bool {
        self.rows.len() >= self.config.batch_size
    }

    /// Whether the forming batch is full or its oldest row has waited the batch timeout.
    pub fn due(&self, now: Instant) -> bool {
        self.full() || self.oldest.is_some_and(|t| now.duration_since(t) >= self.config.batch_timeout)
    }

    /// Sends the forming batch to the model; hands every batch whose answer is in to `write`, in order.
    pub fn flush(&mut self, write: &mut dyn FnMut(Answer) -> Result<(), EngineError>) -> Result<(), EngineError> {
        if !self.rows.is_empty() {
            let rows = std::mem::replace(&mut self.rows, Vec::with_capacity(self.config.batch_size));
            self.oldest = None;
            match &mut self.workers {
                Some(w) => w.submit(rows)?,
                None => {
                    self.batch_scores.clear();
                    let started = Instant::now();
                    let result = self.scorer.score(&rows, &mut self.batch_scores);
                    self.inference_seconds.record(started.elapsed().as_secs_f64());
                    let scores = std::mem::take(&mut self.batch_scores);
                    write((rows, result.map(|()| scores)))?;
                }
            }
        }
        self.write_ready(None, write)
    }

    /// Hands on the answers that are in; with `limit`, first waits until fewer than `limit` batches are in flight
    /// (`Some(1)`: all of them).
    fn write_ready(
        &mut self,
        limit: Option<usize>,
        write: &mut dyn FnMut(Answer) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let Some(w) = &mut self.workers else { return Ok(()) };
        w.collect(limit.unwrap_or(w.max_in_flight))?;
        while let Some(answer) = w.next_ready() {
            write(answer)?;
        }
        Ok(())
    }

    /// Scores everything pending and waits for every answer (before a checkpoint or at the end).
    pub fn drain(&mut self, write: &mut dyn FnMut(Answer) -> Result<(), EngineError>) -> Result<(), EngineError> {
        self.flush(write)?;
        self.write_ready(Some(1), write)
    }

    /// Hands on answers that arrived since the last call, without waiting.
    pub fn poll(&mut self, write: &mut dyn FnMut(Answer) -> Result<(), EngineError>) -> Result<(), EngineError> {
        let limit = self.workers.as_ref().map(|w| w.max_in_flight + 1);
        self.write_ready(limit, write)
    }
}
