//! The scoring step of the model stage: a micro-batch of joined records in, one fraud probability per record out.
//!
//! The stage around it (micro-batching, timeouts, sinks) is the same whatever does the scoring; [`Scorer`] is the
//! seam. [`InProcessScorer`] runs an ONNX model in this process through the shared [`InputMapping`], so the stream
//! feeds the model exactly what `fraudstream score` feeds it; [`RemoteScorer`] sends the same inputs to an HTTP
//! endpoint (`fraudstream serve`, Azure ML, KServe) — see [`remote`].

mod breaker;
pub mod remote;

pub use breaker::{BreakerConfig, CircuitBreaker};
pub use remote::{RemoteConfig, RemoteProtocol, RemoteScorer};

use fraudstream_features::InputMapping;
use fraudstream_model::{InputBatch, Model};

use crate::error::EngineError;
use crate::flow::Joined;

/// The scores of one micro-batch, row for row.
#[derive(Debug, Default, Clone)]
pub struct BatchScores {
    /// Probability of fraud.
    pub p: Vec<f64>,
    /// The model's own label (its argmax class), where it has one.
    pub labels: Vec<i64>,
}

impl BatchScores {
    pub fn clear(&mut self) {
        self.p.clear();
        self.labels.clear();
    }
}

/// Scores micro-batches of joined records.
pub trait Scorer {
    /// Appends one score per row of `rows` to `out`, in order.
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError>;

    /// An independent copy that can score on another thread, for scorers that gain from several batches in flight
    /// (remote endpoints); `None` for scorers that already use every core themselves.
    fn try_clone_send(&self) -> Option<Box<dyn Scorer + Send>> {
        None
    }
}

/// An ONNX model run in-process; input buffers are reused from batch to batch.
pub struct InProcessScorer<'m> {
    model: &'m Model,
    mapping: InputMapping,
    inputs: InputBatch,
}

impl<'m> InProcessScorer<'m> {
    /// Resolves the model's inputs once; an input nothing can fill is an error naming it.
    pub fn new(model: &'m Model) -> Result<InProcessScorer<'m>, EngineError> {
        Ok(InProcessScorer { model, mapping: InputMapping::for_model(model)?, inputs: InputBatch::new(model)? })
    }

    /// Whether the model reads client (velocity) features, which the job must then compute before scoring.
    pub fn uses_client_features(&self) -> bool {
        self.mapping.uses_client_features()
    }

    /// Fills the model's input buffers for `rows` (the feature step alone, without running the model).
    pub fn fill_inputs(&mut self, rows: &[Joined]) -> Result<&mut InputBatch, EngineError> {
        self.inputs.clear();
        for r in rows {
            self.mapping.push(&r.feature_row(), &mut self.inputs)?;
        }
        Ok(&mut self.inputs)
    }
}

impl Scorer for InProcessScorer<'_> {
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError> {
        if rows.is_empty() {
            return Ok(());
        }
        let model = self.model;
        let result = model.predict_proba(self.fill_inputs(rows)?)?;
        out.p.extend(result.p_positive.iter().map(|&p| p as f64));
        out.labels.extend_from_slice(&result.labels);
        Ok(())
    }
}
