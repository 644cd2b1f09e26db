//! The scoring step of the model stage: a micro-batch of joined records in, one fraud probability per record out.
//!
//! The stage around it (micro-batching, timeouts, sinks) is the same whatever does the scoring; [`Scorer`] is the
//! seam. [`InProcessScorer`] runs an ONNX model in this process through the shared [`InputMapping`], so the stream
//! feeds the model exactly what `fraudstream score` feeds it; [`RemoteScorer`] sends the same inputs to an HTTP
//! endpoint (`fraudstream serve`, Azure ML, KServe) — see [`remote`].

mod breaker;
pub mod challenger;
pub mod remote;

pub use breaker::{BreakerConfig, CircuitBreaker};
pub use challenger::WithChallenger;
pub use remote::{RemoteConfig, RemoteProtocol, RemoteScorer};

use std::sync::Arc;

use fraudstream_features::InputMapping;
use fraudstream_model::{CoverSource, InputBatch, Model, Threads};

use crate::error::EngineError;
use crate::flow::Joined;
use crate::reasons::{top_reasons, Reason, ReasonsConfig};

/// The scores of one micro-batch, row for row.
#[derive(Debug, Default, Clone)]
pub struct BatchScores {
    /// Probability of fraud.
    pub p: Vec<f64>,
    /// The model's own label (its argmax class), where it has one.
    pub labels: Vec<i64>,
    /// Reason codes per row, when the scorer gives them (see [`crate::reasons`]); empty for rows without, and
    /// shorter than `p` when the scorer gives none.
    pub reasons: Vec<Vec<Reason>>,
    /// A challenger's probability per row (NaN where it failed), when one scores beside the model (see
    /// [`challenger`]); empty otherwise.
    pub challenger: Vec<f64>,
}

impl BatchScores {
    pub fn clear(&mut self) {
        self.p.clear();
        self.labels.clear();
        self.reasons.clear();
        self.challenger.clear();
    }

    /// Row `i`'s reasons (none when not given).
    pub fn reasons_of(&self, i: usize) -> &[Reason] {
        self.reasons.get(i).map_or(&[], Vec::as_slice)
    }

    /// Row `i`'s challenger score, if a challenger scored it.
    pub fn challenger_of(&self, i: usize) -> Option<f64> {
        self.challenger.get(i).copied().filter(|p| !p.is_nan())
    }
}

/// Scores micro-batches of joined records.
pub trait Scorer {
    /// Appends one score per row of `rows` to `out`, in order.
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError>;

    /// An independent copy that can score on another thread, so several batches are in flight while the job goes
    /// on (remote endpoints, in-process models shared through [`InProcessScorer::shared`]); `None` for scorers
    /// that must stay on the job thread.
    fn try_clone_send(&self) -> Option<Box<dyn Scorer + Send>> {
        None
    }
}

/// A model borrowed for the scorer's lifetime, or shared: a shared one lets the scorer be copied to other threads.
#[derive(Clone)]
enum ModelRef<'m> {
    Borrowed(&'m Model),
    Shared(Arc<Model>),
}

impl std::ops::Deref for ModelRef<'_> {
    type Target = Model;
    fn deref(&self) -> &Model {
        match self {
            ModelRef::Borrowed(m) => m,
            ModelRef::Shared(m) => m,
        }
    }
}

/// An ONNX model run in-process; input buffers are reused from batch to batch.
pub struct InProcessScorer<'m> {
    model: ModelRef<'m>,
    mapping: InputMapping,
    inputs: InputBatch,
    /// The rows being explained: apart from `inputs`, so a few alerts do not shrink the scored batch's buffers
    /// (its strings would then be moved aside and back on every batch).
    explained: InputBatch,
    /// Which rows to explain, when reasons are asked for.
    reasons: Option<ReasonsConfig>,
    /// Model input names, shared by every reason.
    names: Arc<[Arc<str>]>,
    /// Where explanations run: a copy scoring beside others ([`Scorer::try_clone_send`]) keeps them on its thread.
    explain_threads: Threads,
}

impl<'m> InProcessScorer<'m> {
    /// Resolves the model's inputs once; an input nothing can fill is an error naming it.
    pub fn new(model: &'m Model) -> Result<InProcessScorer<'m>, EngineError> {
        Self::with_model(ModelRef::Borrowed(model))
    }

    fn with_model(model: ModelRef<'m>) -> Result<InProcessScorer<'m>, EngineError> {
        let names = model.inputs().iter().map(|i| Arc::from(i.name.as_str())).collect();
        Ok(InProcessScorer {
            mapping: InputMapping::for_model(&model)?,
            inputs: InputBatch::new(&model)?,
            explained: InputBatch::new(&model)?,
            model,
            reasons: None,
            names,
            explain_threads: Threads::Pool,
        })
    }

    /// Gives reason codes for the rows `config` selects. Fails when the model cannot be explained (not one tree
    /// ensemble, or not a binary classifier or single-output regressor); warns when it carries no node covers.
    pub fn with_reasons(mut self, config: ReasonsConfig) -> Result<InProcessScorer<'m>, EngineError> {
        if config.top == 0 {
            self.reasons = None;
            return Ok(self);
        }
        let explainer = self.model.explainer().map_err(|e| {
            EngineError::Config(format!("reasons (--reasons {}) need an explainable model: {e}", config.top))
        })?;
        if *explainer.covers() == CoverSource::Uniform {
            tracing::warn!(
                "the model carries no node covers (nodes_hitrates): reasons weigh every split 50/50 rather than by \
                 the training data; models from `fraudstream train` carry them"
            );
        }
        self.reasons = Some(config);
        Ok(self)
    }

    /// Explains the rows of `rows` whose probabilities in `out` the reasons config selects.
    fn explain(&mut self, rows: &[Joined], out: &mut BatchScores, first: usize) -> Result<(), EngineError> {
        let Some(config) = self.reasons else { return Ok(()) };
        let picked: Vec<usize> = (0..rows.len()).filter(|&i| config.wants(out.p[first + i])).collect();
        out.reasons.resize_with(first + rows.len(), Vec::new);
        if picked.is_empty() {
            return Ok(());
        }
        self.explained.clear();
        for &i in &picked {
            self.mapping.push(&rows[i].feature_row(), &mut self.explained)?;
        }
        let contributions = self.model.explain_on(&mut self.explained, self.explain_threads)?;
        for (k, &i) in picked.iter().enumerate() {
            let values = self.mapping.values(&rows[i].feature_row());
            out.reasons[first + i] = top_reasons(&contributions, k, config.top, &self.names, &values);
        }
        Ok(())
    }

    /// Whether the model reads client (velocity) features, which the job must then compute before scoring.
    pub fn uses_client_features(&self) -> bool {
        self.mapping.uses_client_features()
    }

    /// How each model input is filled from a joined record: lets a backtest write the values it feeds the model.
    pub fn mapping(&self) -> &InputMapping {
        &self.mapping
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

impl InProcessScorer<'static> {
    /// A scorer of a shared model: unlike one that borrows its model, it can be copied to other threads, so the job
    /// scores one micro-batch while it joins the next (`--max-in-flight`).
    pub fn shared(model: Arc<Model>) -> Result<InProcessScorer<'static>, EngineError> {
        Self::with_model(ModelRef::Shared(model))
    }
}

impl Scorer for InProcessScorer<'_> {
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError> {
        if rows.is_empty() {
            return Ok(());
        }
        let first = out.p.len();
        self.fill_inputs(rows)?;
        let result = self.model.predict_proba(&mut self.inputs)?;
        out.p.extend(result.p_positive.iter().map(|&p| p as f64));
        out.labels.extend_from_slice(&result.labels);
        self.explain(rows, out, first)
    }

    fn try_clone_send(&self) -> Option<Box<dyn Scorer + Send>> {
        let ModelRef::Shared(model) = &self.model else { return None };
        let mut copy = InProcessScorer::shared(model.clone()).ok()?;
        copy.reasons = self.reasons;
        copy.explain_threads = Threads::Caller;
        Some(Box::new(copy))
    }
}
