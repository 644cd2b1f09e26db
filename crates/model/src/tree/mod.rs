//! Tree-ensemble operators: `TreeEnsembleClassifier`, `TreeEnsembleRegressor` (ai.onnx.ml ≤ 4) and `TreeEnsemble`
//! (ai.onnx.ml 5).
//!
//! At load the attributes are compiled ([`compile`]) into a flat forest in the input's arithmetic type, plus, when
//! the forest's shape allows, the complete-tree form of the fast evaluator ([`fast`]); at run time rows are
//! evaluated in blocks ([`fast`] or the general [`eval`]) — in parallel over contiguous row chunks for large
//! batches — and each row's per-class sums are finalised exactly as onnxruntime's aggregators do ([`finalize`]).
//! When the load-time fusion ([`crate::fuse`]) traced the input to the graph inputs, the fast evaluator's blocks
//! are filled from them directly.

mod compile;
mod eval;
mod fast;
mod finalize;
mod real;
mod spec;

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::attr::NodeCtx;
use crate::error::{op_err, ModelError, OpResult};
use crate::fuse::{self, ColumnProgram};
use crate::ops::{input, Kernel};
use crate::post::PostTransform;
use crate::tensor::{Tensor, TensorData, Value};

use compile::Forest;
use eval::Acc;
use real::Real;

pub(crate) use compile::{Mode, Spec};
pub(crate) use eval::Agg;
pub(crate) use finalize::Finalizer;

/// What the explainer ([`crate::explain`]) reads of a tree-ensemble kernel: its trees as described, how they
/// finish (aggregation included), and the fused input program when the kernel computes its input from the graph inputs.
pub(crate) struct EnsembleView<'a> {
    pub spec: &'a Spec,
    pub finalizer: &'a Finalizer,
    pub fused: Option<&'a ColumnProgram>,
}

/// Rows evaluated together, tree by tree (fits a block of inputs plus one tree's nodes in L1/L2).
const BLOCK_ROWS: usize = 64;
/// Below this many rows a batch runs on the calling thread; above it blocks are spread over the rayon pool.
const PARALLEL_MIN_ROWS: usize = 256;
/// Below this many rows the fast evaluator scores row by row instead of in lockstep blocks.
const SMALL_BATCH_ROWS: usize = 8;

/// Class labels of a classifier.
#[derive(Debug, Clone)]
pub(crate) enum Labels {
    Int64(Vec<i64>),
    String(Vec<String>),
}

impl Labels {
    fn len(&self) -> usize {
        match self {
            Labels::Int64(v) => v.len(),
            Labels::String(v) => v.len(),
        }
    }
}

/// A compiled ensemble with its `f32` forest (float and int64 inputs) and, built on first use, its `f64` forest
/// (double inputs), since onnxruntime compares and accumulates in the input's precision.
struct Ensemble {
    spec: Spec,
    first_weight_only: bool,
    f32: Forest<f32>,
    f64: OnceLock<Result<Forest<f64>, String>>,
    agg: Agg,
    finalizer: Finalizer,
}

impl Ensemble {
    fn new(ctx: &NodeCtx<'_>, spec: Spec, agg: Agg, finalizer: Finalizer) -> Result<Ensemble, ModelError> {
        let first_weight_only = finalizer.single_output();
        let f32 = Forest::compile(&spec, first_weight_only).map_err(|e| ctx.err(e))?;
        Ok(Ensemble { spec, first_weight_only, f32, f64: OnceLock::new(), agg, finalizer })
    }

    /// Evaluates `x` and returns `(scores [N, width], labels [N])`.
    fn evaluate(&self, x: &Tensor) -> OpResult<(Vec<f32>, Vec<i64>, usize)> {
        let (n, stride) = match x.shape.len() {
            1 => (1, x.shape[0]),
            2 => (x.shape[0], x.shape[1]),
            r => return Err(op_err!("input must be 1-D or 2-D, got rank {r} (shape {:?})", x.shape)),
        };
        match &x.data {
            TensorData::Float(v) => self.run_forest(&self.f32, v, n, stride),
            TensorData::Int64(v) => {
                let v: Vec<f32> = v.iter().map(|&i| i as f32).collect();
                self.run_forest(&self.f32, &v, n, stride)
            }
            TensorData::Double(v) => {
                let forest = self
                    .f64
                    .get_or_init(|| Forest::compile(&self.spec, self.first_weight_only))
                    .as_ref()
                    .map_err(|e| op_err!("{e}"))?;
                self.run_forest(forest, v, n, stride)
            }
            TensorData::String(_) => Err(op_err!("input must be numeric, got strings")),
        }
    }

    fn run_forest<T: Real>(
        &self,
        forest: &Forest<T>,
        x: &[T],
        n: usize,
        stride: usize,
    ) -> OpResult<(Vec<f32>, Vec<i64>, usize)> {
        if forest.n_features > stride {
            return Err(op_err!(
                "the trees read feature {} but the input has only {stride} columns",
                forest.n_features - 1
            ));
        }
        if let (Some(fast), Agg::Sum | Agg::Average) = (&forest.fast, self.agg) {
            return Ok(self.run_fast(fast, n, |start, rows, col_stride, block| {
                fast.gather(&x[start * stride..], stride, rows, col_stride, block)
            }));
        }
        let width = self.finalizer.width();
        let mut z = vec![0f32; n * width];
        let mut labels = vec![0i64; n];
        if n == 0 {
            return Ok((z, labels, width));
        }
        let block = |(b, (z, labels)): (usize, (&mut [f32], &mut [i64]))| {
            let start = b * BLOCK_ROWS;
            let rows = labels.len();
            let mut acc = Acc::default();
            eval::accumulate(forest, self.agg, &x[start * stride..], stride, rows, &mut acc);
            let n_out = forest.n_targets;
            let mut scratch = Vec::with_capacity(n_out);
            for r in 0..rows {
                let range = r * n_out..(r + 1) * n_out;
                labels[r] = self.finalizer.finish(
                    &acc.scores[range.clone()],
                    &acc.has[range],
                    forest.roots.len(),
                    &mut z[r * width..(r + 1) * width],
                    &mut scratch,
                );
            }
        };
        if n >= PARALLEL_MIN_ROWS && rayon::current_num_threads() > 1 {
            z.par_chunks_mut(BLOCK_ROWS * width).zip(labels.par_chunks_mut(BLOCK_ROWS)).enumerate().for_each(block);
        } else {
            z.chunks_mut(BLOCK_ROWS * width).zip(labels.chunks_mut(BLOCK_ROWS)).enumerate().for_each(block);
        }
        Ok((z, labels, width))
    }
}

impl Ensemble {
    /// Whether [`Ensemble::evaluate_fused`] can run with `program` as the input.
    fn accepts(&self, program: &ColumnProgram) -> bool {
        self.f32.fast.is_some()
            && matches!(self.agg, Agg::Sum | Agg::Average)
            && program.columns.len() >= self.f32.n_features
    }

    /// Evaluates with input 0 computed from the graph inputs by `program` (only the columns the trees read).
    fn evaluate_fused(
        &self,
        program: &ColumnProgram,
        inputs: &[Option<&Tensor>],
    ) -> OpResult<(Vec<f32>, Vec<i64>, usize)> {
        let fast = self.f32.fast.as_ref().ok_or_else(|| op_err!("fused input without the fast evaluator"))?;
        let (n, sources) =
            fuse::resolve(program, fast.columns.iter().map(|&(f, _)| f), inputs).map_err(|e| op_err!("{e}"))?;
        Ok(self.run_fast(fast, n, |start, rows, col_stride, block| {
            for ((col, src), &(_, neg)) in block.chunks_exact_mut(col_stride).zip(&sources).zip(&fast.columns) {
                src.fill(start, &mut col[..rows], neg);
            }
        }))
    }

    /// Runs the fast evaluator on `n` rows; `fill(start, rows, col_stride, block)` writes rows `start..start + rows`
    /// into `block` as [`fast::FastForest::gather`] does. Returns `(scores [N, width], labels [N], width)`.
    fn run_fast<T: Real, F>(&self, fast: &fast::FastForest<T>, n: usize, fill: F) -> (Vec<f32>, Vec<i64>, usize)
    where
        F: Fn(usize, usize, usize, &mut [T]) + Sync,
    {
        let width = self.finalizer.width();
        let mut z = vec![0f32; n * width];
        let mut labels = vec![0i64; n];
        let n_out = width.max(fast.target + 1);
        let has_trees = fast.n_trees() > 0;
        let mut scores = vec![T::ZERO; n_out];
        let mut has = vec![false; n_out];
        let mut scratch = Vec::with_capacity(n_out);
        // Writes row `row`'s outputs from its tree sum.
        let finish = |row: usize, sum: T, z: &mut [f32], scores: &mut [T], has: &mut [bool], scratch: &mut Vec<_>| {
            scores[fast.target] = sum;
            has[fast.target] = has_trees;
            self.finalizer.finish(scores, has, fast.n_trees(), &mut z[row * width..(row + 1) * width], scratch)
        };
        if n < SMALL_BATCH_ROWS {
            // Too few rows to fill lockstep lanes: one compact row at a time, no block.
            let mut row = vec![T::ZERO; fast.width()];
            for (r, label) in labels.iter_mut().enumerate() {
                fill(r, 1, 1, &mut row);
                *label = finish(r, fast.score_row(&row), &mut z, &mut scores, &mut has, &mut scratch);
            }
            return (z, labels, width);
        }
        // One contiguous run of rows per task, processed in blocks of `fast::BLOCK` rows.
        let task = |start: usize, z: &mut [f32], labels: &mut [i64]| {
            let mut block = vec![T::ZERO; fast.width() * fast::BLOCK];
            let mut sums = [T::ZERO; fast::BLOCK];
            let mut scores = vec![T::ZERO; n_out];
            let mut has = vec![false; n_out];
            let mut scratch = Vec::with_capacity(n_out);
            for (b, labels) in labels.chunks_mut(fast::BLOCK).enumerate() {
                let rows = labels.len();
                let first = b * fast::BLOCK;
                fill(start + first, rows, fast::BLOCK, &mut block);
                let sums = &mut sums[..rows];
                sums.fill(T::ZERO);
                fast.accumulate(&block, sums);
                for (r, (label, &s)) in labels.iter_mut().zip(sums.iter()).enumerate() {
                    *label = finish(first + r, s, z, &mut scores, &mut has, &mut scratch);
                }
            }
        };
        let threads = rayon::current_num_threads();
        if n >= PARALLEL_MIN_ROWS && threads > 1 {
            // Contiguous chunks, a few per thread for balance, each a whole number of blocks.
            let chunk = n.div_ceil(threads * 4).div_ceil(fast::BLOCK) * fast::BLOCK;
            z.par_chunks_mut(chunk * width)
                .zip(labels.par_chunks_mut(chunk))
                .enumerate()
                .for_each(|(c, (z, labels))| task(c * chunk, z, labels));
        } else {
            task(0, &mut z, &mut labels);
        }
        (z, labels, width)
    }
}

/// An ensemble together with the fused input program it runs on, if the graph's preprocessing was fused into it.
struct FusableEnsemble {
    ensemble: Ensemble,
    /// Set when the input is computed from the graph inputs ([`crate::fuse`]).
    fused: Option<ColumnProgram>,
}

impl FusableEnsemble {
    fn new(ensemble: Ensemble) -> FusableEnsemble {
        FusableEnsemble { ensemble, fused: None }
    }

    fn evaluate(&self, inputs: &[Option<&Tensor>]) -> OpResult<(Vec<f32>, Vec<i64>, usize)> {
        match &self.fused {
            Some(program) => self.ensemble.evaluate_fused(program, inputs),
            None => self.ensemble.evaluate(input(inputs, 0)?),
        }
    }

    fn view(&self) -> EnsembleView<'_> {
        let e = &self.ensemble;
        EnsembleView { spec: &e.spec, finalizer: &e.finalizer, fused: self.fused.as_ref() }
    }

    fn fuse(&mut self, program: &ColumnProgram) -> bool {
        let ok = self.ensemble.accepts(program);
        if ok {
            self.fused = Some(program.clone());
        }
        ok
    }
}

struct TreeClassifier {
    ensemble: FusableEnsemble,
    labels: Labels,
}

impl Kernel for TreeClassifier {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let (z, labels, width) = self.ensemble.evaluate(inputs)?;
        let n = labels.len();
        let label_tensor = match &self.labels {
            Labels::Int64(_) => Tensor { shape: vec![n], data: TensorData::Int64(labels) },
            Labels::String(names) => {
                let strings = labels
                    .iter()
                    .map(|&i| usize::try_from(i).ok().and_then(|i| names.get(i)).cloned().unwrap_or_default())
                    .collect();
                Tensor { shape: vec![n], data: TensorData::String(strings) }
            }
        };
        out.push(Value::Tensor(label_tensor));
        out.push(Value::Tensor(Tensor { shape: vec![n, width], data: TensorData::Float(z) }));
        Ok(())
    }

    fn fuse_input(&mut self, program: &ColumnProgram) -> bool {
        self.ensemble.fuse(program)
    }

    fn ensemble(&self) -> Option<EnsembleView<'_>> {
        Some(self.ensemble.view())
    }
}

struct TreeRegressor {
    ensemble: FusableEnsemble,
}

impl Kernel for TreeRegressor {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let (z, labels, width) = self.ensemble.evaluate(inputs)?;
        let n = labels.len();
        out.push(Value::Tensor(Tensor { shape: vec![n, width], data: TensorData::Float(z) }));
        Ok(())
    }

    fn fuse_input(&mut self, program: &ColumnProgram) -> bool {
        self.ensemble.fuse(program)
    }

    fn ensemble(&self) -> Option<EnsembleView<'_>> {
        Some(self.ensemble.view())
    }
}

fn parse_post(ctx: &NodeCtx<'_>) -> Result<PostTransform, ModelError> {
    let s = ctx.string_or("post_transform", "NONE")?;
    PostTransform::parse(&s).ok_or_else(|| ctx.err(format!("unknown post_transform '{s}'")))
}

fn parse_agg(ctx: &NodeCtx<'_>) -> Result<Agg, ModelError> {
    let s = ctx.string_or("aggregate_function", "SUM")?;
    Ok(match s.as_str() {
        "SUM" => Agg::Sum,
        "AVERAGE" => Agg::Average,
        "MIN" => Agg::Min,
        "MAX" => Agg::Max,
        _ => return Err(ctx.err(format!("unknown aggregate_function '{s}'"))),
    })
}

/// Builds `ai.onnx.ml::TreeEnsembleClassifier`.
pub(crate) fn build_classifier(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=2)?;
    let strings = ctx.strings("classlabels_strings")?;
    let ints = ctx.ints("classlabels_int64s");
    let labels = match (strings.is_empty(), ints.is_empty()) {
        (false, true) => Labels::String(strings),
        (true, false) => Labels::Int64(ints.to_vec()),
        _ => return Err(ctx.err("exactly one of classlabels_strings and classlabels_int64s must be set")),
    };
    let n_classes = labels.len();
    if n_classes < 2 {
        return Err(ctx.err("a classifier needs at least two class labels"));
    }
    let spec = spec::from_legacy_attributes(ctx, "class", n_classes)?;
    let base_values = ctx.floats_or_tensor("base_values")?;
    if !(base_values.is_empty() || base_values.len() == n_classes || (n_classes == 2 && base_values.len() == 1)) {
        return Err(ctx.err(format!("base_values has {} entries for {n_classes} classes", base_values.len())));
    }
    let class_ids = ctx.ints("class_ids");
    let distinct: std::collections::BTreeSet<i64> = class_ids.iter().copied().collect();
    let all_positive = ctx.floats_or_tensor("class_weights")?.iter().all(|&w| w >= 0.0);
    let label_values = match &labels {
        Labels::Int64(v) => v.clone(),
        Labels::String(v) => (0..v.len() as i64).collect(),
    };
    let finalizer = Finalizer::Classifier {
        post: parse_post(ctx)?,
        base_values,
        labels: label_values,
        binary_case: n_classes == 2 && distinct.len() == 1,
        all_positive,
    };
    Ok(Box::new(TreeClassifier {
        ensemble: FusableEnsemble::new(Ensemble::new(ctx, spec, Agg::Sum, finalizer)?),
        labels,
    }))
}

/// Builds `ai.onnx.ml::TreeEnsembleRegressor`.
pub(crate) fn build_regressor(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let n_targets = ctx.int("n_targets").unwrap_or(0);
    let n_targets = usize::try_from(n_targets)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| ctx.err(format!("n_targets must be at least 1, got {n_targets}")))?;
    let spec = spec::from_legacy_attributes(ctx, "target", n_targets)?;
    let base_values = ctx.floats_or_tensor("base_values")?;
    let finalizer = Finalizer::Regressor { post: parse_post(ctx)?, agg: parse_agg(ctx)?, base_values, n_targets };
    Ok(Box::new(TreeRegressor {
        ensemble: FusableEnsemble::new(Ensemble::new(ctx, spec, parse_agg(ctx)?, finalizer)?),
    }))
}

/// Builds `ai.onnx.ml::TreeEnsemble` (opset 5).
pub(crate) fn build_tree_ensemble(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let (spec, agg, post) = spec::from_v5_attributes(ctx)?;
    let n_targets = spec.n_targets;
    let finalizer = Finalizer::Regressor { post, agg, base_values: Vec::new(), n_targets };
    Ok(Box::new(TreeRegressor { ensemble: FusableEnsemble::new(Ensemble::new(ctx, spec, agg, finalizer)?) }))
}
