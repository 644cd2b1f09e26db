//! [`Model`]: the loaded, planned model and its run entry points.

use std::path::Path;
use std::sync::OnceLock;

use crate::batch::InputBatch;
use crate::error::{ModelError, Result};
use crate::explain::{Contributions, Explainer, Threads};
use crate::graph::Plan;
use crate::tensor::{ElemType, Outputs, Tensor, Value, ValueInfo, ValueType};

/// A loaded ONNX model, validated and planned, ready to run from any number of threads (`Model: Sync`).
pub struct Model {
    plan: Plan,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    /// Built on first use: most callers never explain.
    explainer: OnceLock<std::result::Result<Explainer, String>>,
}

/// What [`Model::predict_proba`] returns: per row, the predicted label and the probability of the positive class
/// (class index 1), the two things a fraud decision needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BinaryScores {
    /// Predicted label per row (the model's label output).
    pub labels: Vec<i64>,
    /// Probability of class index 1 per row.
    pub p_positive: Vec<f32>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("producer", &self.plan.producer)
            .field("inputs", &self.inputs.len())
            .field("outputs", &self.outputs)
            .field("nodes", &self.plan.steps.len())
            .finish()
    }
}

impl Model {
    /// Reads and loads a `.onnx` file. See [`Model::from_bytes`].
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
        Model::from_bytes(&bytes)
    }

    /// Decodes, validates and compiles a model. Every structural problem is reported here, never at run time:
    /// unknown operators, unsupported types, dangling or duplicate value names, bad tree attributes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        let plan = Plan::from_bytes(bytes)?;
        let inputs = plan.inputs.iter().map(|(i, _)| i.clone()).collect();
        let outputs = plan.outputs.iter().map(|(i, _)| i.clone()).collect();
        Ok(Model { plan, inputs, outputs, explainer: OnceLock::new() })
    }

    /// Declared inputs in graph order: names, element types and shapes, so callers can build inputs without
    /// reading the file themselves.
    pub fn inputs(&self) -> &[ValueInfo] {
        &self.inputs
    }

    /// Declared outputs in graph order.
    pub fn outputs(&self) -> &[ValueInfo] {
        &self.outputs
    }

    /// Position of an input by name, to resolve names once and push by index in the hot path.
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|i| i.name == name)
    }

    /// Runs the model on named tensors. Every declared input must be given exactly once with the declared element
    /// type and rank (fixed dimensions must match). Large batches use the rayon thread pool of the caller's
    /// context (run inside `ThreadPool::install` to bound it).
    pub fn run(&self, inputs: &[(&str, Tensor)]) -> Result<Outputs> {
        let refs = self.ordered(inputs)?;
        let values = self.plan.execute(&refs)?;
        Ok(Outputs { names: self.plan.output_names.clone(), values })
    }

    /// Runs on a reusable [`InputBatch`] (the allocation-free way to feed a streaming engine).
    pub fn run_batch(&self, batch: &mut InputBatch) -> Result<Outputs> {
        let tensors = batch.finish()?;
        let refs: Vec<&Tensor> = tensors.iter().collect();
        self.run_refs(&refs)
    }

    /// The explainer of this model's tree ensemble (built once; see [`Explainer`]), or why the model cannot be
    /// explained. Its node covers are the model's own when it carries them, else uniform.
    pub fn explainer(&self) -> Result<&Explainer> {
        self.explainer
            .get_or_init(|| Explainer::build(&self.plan))
            .as_ref()
            .map_err(|e| ModelError::NotApplicable(format!("explain: {e}")))
    }

    /// An explainer whose node covers are counted from background rows given as [`Model::run`] takes its
    /// inputs — the training data, ideally.
    pub fn explainer_with_background(&self, background: &[(&str, Tensor)]) -> Result<Explainer> {
        let refs = self.ordered(background)?;
        self.explainer()?.with_background(&self.plan, &refs)
    }

    /// Explains every row of the batch with [`Model::explainer`]: per row, each input's contribution to the margin.
    pub fn explain(&self, batch: &mut InputBatch) -> Result<Contributions> {
        self.explain_on(batch, Threads::Pool)
    }

    /// [`Model::explain`] on `threads` (the same contributions either way).
    pub fn explain_on(&self, batch: &mut InputBatch, threads: Threads) -> Result<Contributions> {
        let explainer = self.explainer()?;
        let tensors = batch.finish()?;
        let refs: Vec<&Tensor> = tensors.iter().collect();
        self.check_inputs(&refs)?;
        explainer.explain(&self.plan, &refs, threads)
    }

    /// Explains named input tensors (as [`Model::run`] takes them) with `explainer`.
    pub fn explain_with(&self, explainer: &Explainer, inputs: &[(&str, Tensor)]) -> Result<Contributions> {
        let refs = self.ordered(inputs)?;
        explainer.explain(&self.plan, &refs, Threads::Pool)
    }

    /// Orders named inputs by graph input and checks them.
    fn ordered<'a>(&self, inputs: &'a [(&str, Tensor)]) -> Result<Vec<&'a Tensor>> {
        let mut ordered: Vec<Option<&Tensor>> = vec![None; self.inputs.len()];
        for (name, t) in inputs {
            let i = self.input_index(name).ok_or_else(|| ModelError::BadInput {
                name: (*name).to_string(),
                message: "the model has no input with this name".into(),
            })?;
            if ordered[i].replace(t).is_some() {
                return Err(ModelError::BadInput { name: (*name).to_string(), message: "given twice".into() });
            }
        }
        let mut refs = Vec::with_capacity(ordered.len());
        for (info, t) in self.inputs.iter().zip(ordered) {
            let t = t.ok_or_else(|| ModelError::BadInput { name: info.name.clone(), message: "missing".into() })?;
            refs.push(t);
        }
        self.check_inputs(&refs)?;
        Ok(refs)
    }

    fn check_inputs(&self, inputs: &[&Tensor]) -> Result<()> {
        for (info, t) in self.inputs.iter().zip(inputs) {
            check_input(info, t)?;
        }
        Ok(())
    }

    fn run_refs(&self, inputs: &[&Tensor]) -> Result<Outputs> {
        self.check_inputs(inputs)?;
        let values = self.plan.execute(inputs)?;
        Ok(Outputs { names: self.plan.output_names.clone(), values })
    }

    /// Convenience for binary classifiers: runs the batch and returns each row's label and probability of the
    /// positive class (index 1), taken from the first int64 tensor output and the first probability output
    /// (a ZipMap sequence or a `[N, 2]` float tensor).
    pub fn predict_proba(&self, batch: &mut InputBatch) -> Result<BinaryScores> {
        let out = self.run_batch(batch)?;
        binary_scores(&out)
    }
}

/// Extracts [`BinaryScores`] from a classifier's outputs.
pub(crate) fn binary_scores(out: &Outputs) -> Result<BinaryScores> {
    let not_applicable = |m: &str| ModelError::NotApplicable(format!("predict_proba: {m}"));
    let mut labels = None;
    let mut probs = None;
    for (_, v) in out.iter() {
        match v {
            Value::Tensor(t) if labels.is_none() && t.elem_type() == ElemType::Int64 => labels = t.as_i64(),
            Value::Maps(m) if probs.is_none() => {
                if m.keys.len() != 2 {
                    return Err(not_applicable("the probability output does not have exactly two classes"));
                }
                probs = Some(m.values.as_slice());
            }
            Value::Tensor(t) if probs.is_none() && t.elem_type() == ElemType::Float && t.shape.get(1) == Some(&2) => {
                probs = t.as_f32();
            }
            _ => {}
        }
    }
    let labels = labels.ok_or_else(|| not_applicable("the model has no int64 label output"))?;
    let probs = probs.ok_or_else(|| not_applicable("the model has no two-class probability output"))?;
    Ok(BinaryScores { labels: labels.to_vec(), p_positive: probs.chunks_exact(2).map(|p| p[1]).collect() })
}

fn check_input(info: &ValueInfo, t: &Tensor) -> Result<()> {
    let bad = |message: String| ModelError::BadInput { name: info.name.clone(), message };
    let ValueType::Tensor { elem, shape } = &info.ty else {
        return Err(bad("input is not a tensor".into()));
    };
    if t.elem_type() != *elem {
        return Err(bad(format!("expected element type {}, got {}", elem.name(), t.elem_type().name())));
    }
    if t.shape.iter().product::<usize>() != t.len() {
        return Err(bad(format!("shape {:?} does not match {} elements", t.shape, t.len())));
    }
    if let Some(dims) = shape {
        if dims.len() != t.shape.len() {
            return Err(bad(format!("expected rank {} (shape {dims:?}), got shape {:?}", dims.len(), t.shape)));
        }
        for (d, (want, got)) in dims.iter().zip(&t.shape).enumerate() {
            if let Some(w) = want {
                if w != got {
                    return Err(bad(format!("dimension {d} must be {w}, got {got}")));
                }
            }
        }
    }
    Ok(())
}
