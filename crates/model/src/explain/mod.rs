//! Reason codes: exact Shapley contributions of each model input to a tree ensemble's margin (path-dependent
//! TreeSHAP, what LightGBM's `pred_contrib` and XGBoost's `pred_contribs` compute).
//!
//! [`Explainer`] explains the model's one tree ensemble ([`forest::Margin`] says which output), through whatever
//! column-wise preprocessing feeds it: contributions of derived columns (one-hot indicators, imputed or label-encoded
//! values) are summed back to the model input they come from, so a string input one-hot encoded into 200 columns
//! gets one contribution. For every row, `expected + Σ contributions = margin` to floating-point rounding.
//!
//! - [`shap`]: the algorithm, linear in tree size, with a brute-force Shapley test, and its walk per instruction set;
//! - [`covers`]: node covers from the model, counted from background data, or uniform;
//! - [`forest`]: the explained margin and the trees rebuilt for explanation;
//! - [`quadrature`]: the Gauss–Legendre rules the algorithm evaluates its polynomials with.

mod covers;
mod forest;
mod quadrature;
mod shap;

use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use crate::error::{ModelError, Result};
use crate::fuse::{self, ColumnProgram};
use crate::graph::Plan;
use crate::post::PostTransform;
use crate::tensor::{Tensor, TensorData, ValueInfo, ValueType};
use crate::tree::Spec;

pub use covers::CoverSource;
use covers::Covers;
use forest::{Forest, Margin, Precision};
use shap::{Rules, Scratch, ShapTree, LANES, MAX_POINTS};

/// Where an explanation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Threads {
    /// Spread over the rayon pool of the caller's context: the fastest answer to one request at a time (`serve`,
    /// `score`, a stream scoring one batch at a time).
    #[default]
    Pool,
    /// A few rows (the alerts of a micro-batch) on the calling thread; batches large enough to split by rows (32 and
    /// more, as with reasons on every score) still spread over the pool. For callers that already keep several
    /// batches in flight on their own threads (the stream's scoring workers): handing a batch's few rows to the
    /// shared pool only queues them behind the other batches' work. In a run over 200k generated transactions with
    /// the seed model, the workers spent 1.1-1.5 s inside explanations whose walks took about 0.3 s of CPU.
    Caller,
}

/// Trees explained per rayon task when a batch has few rows; also the chunk every path sums in (see `explain`).
const TREES_PER_TASK: usize = 64;

/// Rows explained per rayon task in large batches.
const ROWS_PER_TASK: usize = 16;

/// Explains one model's tree ensemble. [`crate::Model::explainer`] builds it once per model (covers from the model,
/// or uniform); [`crate::Model::explainer_with_background`] counts covers from data; [`crate::Model::explain`] and
/// [`crate::Model::explain_with`] run it.
pub struct Explainer {
    /// Position of the tree ensemble among the plan's steps.
    step: usize,
    /// The slot holding the ensemble's input when it does not compute it itself.
    input_slot: Option<usize>,
    /// The ensemble's fused input program, when it computes its input from the graph inputs.
    program: Option<ColumnProgram>,
    spec: Spec,
    margin: Margin,
    covers: Covers,
    /// Trees with `f32` thresholds (float and int64 inputs), built at once.
    f32: Forest,
    /// The same with `f64` thresholds (double inputs), built on first use.
    f64: OnceLock<std::result::Result<Forest, String>>,
    /// Graph input column of each tree input column (`None`: a constant column).
    lineage: Vec<Option<(usize, usize)>>,
    /// The attributed features: one per graph input column, in graph order.
    features: Arc<[String]>,
    /// Index in `features` of each graph input's first column.
    feature_base: Vec<usize>,
    rules: Rules,
}

impl std::fmt::Debug for Explainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Explainer")
            .field("trees", &self.f32.trees.len())
            .field("features", &self.features.len())
            .field("covers", &self.covers.source)
            .field("margin", &self.margin)
            .finish()
    }
}

/// Contributions for a batch of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions {
    /// Attributed features: the model's inputs (a multi-column input contributes `name[col]` per column).
    pub features: Arc<[String]>,
    /// Row-major `[rows, features.len()]`.
    pub values: Vec<f64>,
    /// The margin's expected value over the covers (the same for every row).
    pub expected: f64,
    /// How the margin becomes the model's output (`Logistic` for a binary classifier's probability).
    pub post: PostTransform,
}

impl Contributions {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.features.len()).unwrap_or(0)
    }

    /// Row `r`'s contribution per feature.
    pub fn row(&self, r: usize) -> &[f64] {
        let n = self.features.len();
        &self.values[r * n..(r + 1) * n]
    }

    /// Row `r`'s margin: the expected value plus its contributions.
    pub fn margin(&self, r: usize) -> f64 {
        self.expected + self.row(r).iter().sum::<f64>()
    }

    /// Row `r`'s `k` largest contributions by magnitude, as `(feature index, contribution)`, largest first (ties by
    /// feature order); zero contributions are left out.
    pub fn top(&self, r: usize, k: usize) -> Vec<(usize, f64)> {
        let mut all: Vec<(usize, f64)> = self.row(r).iter().copied().enumerate().filter(|(_, c)| *c != 0.0).collect();
        all.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }
}

impl Explainer {
    /// Builds the explainer of `plan`'s one tree ensemble.
    pub(crate) fn build(plan: &Plan) -> std::result::Result<Explainer, String> {
        let mut ensembles = plan.steps.iter().enumerate().filter_map(|(i, s)| s.kernel.ensemble().map(|e| (i, e)));
        let (step, view) = ensembles.next().ok_or("the model has no tree ensemble to explain")?;
        if ensembles.next().is_some() {
            return Err("the model has more than one tree ensemble; reasons need exactly one".into());
        }
        let margin = Margin::of(&view)?;
        let covers = Covers::from_spec(view.spec);
        let f32 = Forest::build(view.spec, &margin, &covers, Precision::F32)?;
        let (program, input_slot, lineage) = match view.fused {
            Some(program) => (Some(program.clone()), None, program.columns.iter().map(|c| c.source()).collect()),
            None => {
                let slot =
                    plan.steps[step].inputs.first().copied().flatten().ok_or("the tree ensemble has no input")?;
                let lineage = plan.lineage(slot).ok_or(
                    "the tree ensemble's input does not trace back column by column to the model inputs (an \
                     operator mixes columns)",
                )?;
                (None, Some(slot), lineage)
            }
        };
        if let Some(&column) = f32.columns.iter().find(|&&c| lineage.get(c).copied().flatten().is_none()) {
            return Err(format!("tree input column {column} does not come from a model input"));
        }
        let (features, feature_base) = feature_names(plan.inputs.iter().map(|(info, _)| info));
        Ok(Explainer {
            step,
            input_slot,
            program,
            spec: view.spec.clone(),
            margin,
            covers,
            f32,
            f64: OnceLock::new(),
            lineage,
            features,
            feature_base,
            rules: Rules::up_to(MAX_POINTS),
        })
    }

    /// The attributed features, in the order of [`Contributions::values`]' columns.
    pub fn features(&self) -> &Arc<[String]> {
        &self.features
    }

    /// Where the node covers came from.
    pub fn covers(&self) -> &CoverSource {
        &self.covers.source
    }

    /// How the explained margin becomes the model's output.
    pub fn post(&self) -> PostTransform {
        self.margin.post
    }

    /// The margin's expected value over the covers.
    pub fn expected(&self) -> f64 {
        self.f32.expected
    }

    /// The same explainer with node covers counted from background rows (`inputs` in graph-input order) — the training data, ideally, which reproduces LightGBM's covers exactly
    /// when it trained without bagging.
    pub(crate) fn with_background(&self, plan: &Plan, inputs: &[&Tensor]) -> Result<Explainer> {
        let (rows, x, precision) = self.tree_rows(plan, inputs)?;
        let forest = self.forest(precision)?;
        let width = forest.columns.len();
        let mut counts = vec![[0.0f64; 2]; self.spec.nodes.len()];
        for row in x.chunks_exact(width.max(1)).take(rows) {
            for tree in &forest.trees {
                tree.route(row, |node, took_true| counts[node.spec as usize][usize::from(!took_true)] += 1.0);
            }
        }
        let covers = Covers::counted(counts, rows);
        let f32 = Forest::build(&self.spec, &self.margin, &covers, Precision::F32).map_err(not_applicable)?;
        Ok(Explainer {
            step: self.step,
            input_slot: self.input_slot,
            program: self.program.clone(),
            spec: self.spec.clone(),
            margin: self.margin.clone(),
            covers,
            f32,
            f64: OnceLock::new(),
            lineage: self.lineage.clone(),
            features: self.features.clone(),
            feature_base: self.feature_base.clone(),
            rules: self.rules.clone(),
        })
    }

    /// Explains every row of `inputs` (graph-input order, checked by the caller), on `threads`. Every way of
    /// running gives the same bits.
    pub(crate) fn explain(&self, plan: &Plan, inputs: &[&Tensor], threads: Threads) -> Result<Contributions> {
        let (rows, x, precision) = self.tree_rows(plan, inputs)?;
        let forest = self.forest(precision)?;
        let width = forest.columns.len().max(1);
        let n_features = self.features.len();
        // Compact tree column → attributed feature.
        let target: Vec<usize> = forest
            .columns
            .iter()
            .map(|&c| self.lineage[c].map_or(0, |(input, col)| self.feature_base[input] + col))
            .collect();
        let mut values = vec![0.0; rows * n_features];
        let rules = &self.rules;
        // One chunk of trees over some rows, into `part` (`[rows, width]`, zeros). Every path below sums the same
        // per-chunk parts in chunk order, so a row's contributions do not depend on how it was batched or spread.
        // Within a chunk, up to `LANES` rows walk each tree together (see `ShapTree::explain_rows`).
        let explain_chunk = |trees: &[ShapTree], x: &[f64], part: &mut [f64], scratch: &mut Scratch| {
            for (rows, phi) in x.chunks(width * LANES).zip(part.chunks_mut(width * LANES)) {
                scratch.load(rows, width);
                for (k, tree) in trees.iter().enumerate() {
                    if let Some(next) = trees.get(k + 1) {
                        next.prefetch();
                    }
                    tree.explain_rows(scratch, rules.get(tree.points()));
                }
                scratch.add_to(phi);
            }
        };
        let add = |part: &[f64], out: &mut [f64]| {
            for (phi, out) in part.chunks_exact(width).zip(out.chunks_exact_mut(n_features)) {
                for (&p, &f) in phi.iter().zip(&target) {
                    out[f] += p;
                }
            }
        };
        let explain_rows = |first: usize, out: &mut [f64]| {
            let n = out.len() / n_features;
            let x = &x[first * width..(first + n) * width];
            let mut part = vec![0.0; n * width];
            with_scratch(|scratch| {
                for trees in forest.trees.chunks(TREES_PER_TASK) {
                    part.fill(0.0);
                    explain_chunk(trees, x, &mut part, scratch);
                    add(&part, out);
                }
            });
        };
        let pool = rayon::current_num_threads();
        if rows >= 2 * ROWS_PER_TASK && pool > 1 {
            values
                .par_chunks_mut(ROWS_PER_TASK * n_features)
                .enumerate()
                .for_each(|(i, out)| explain_rows(i * ROWS_PER_TASK, out));
        } else if threads == Threads::Pool && pool > 1 && forest.trees.len() >= 2 * TREES_PER_TASK {
            // Few rows (the alerts of one micro-batch): spread the trees over the pool instead.
            let parts: Vec<Vec<f64>> = forest
                .trees
                .par_chunks(TREES_PER_TASK)
                .map(|trees| {
                    let mut part = vec![0.0; rows * width];
                    with_scratch(|scratch| explain_chunk(trees, &x, &mut part, scratch));
                    part
                })
                .collect();
            for part in &parts {
                add(part, &mut values);
            }
        } else {
            explain_rows(0, &mut values);
        }
        Ok(Contributions { features: self.features.clone(), values, expected: forest.expected, post: self.margin.post })
    }

    fn forest(&self, precision: Precision) -> Result<&Forest> {
        match precision {
            Precision::F32 => Ok(&self.f32),
            Precision::F64 => self
                .f64
                .get_or_init(|| Forest::build(&self.spec, &self.margin, &self.covers, Precision::F64))
                .as_ref()
                .map_err(|e| not_applicable(e.clone())),
        }
    }

    /// The tree input of every row, reduced to the columns the trees read (row-major, in the forest's compact
    /// column order), with the precision the trees compare in.
    fn tree_rows(&self, plan: &Plan, inputs: &[&Tensor]) -> Result<(usize, Vec<f64>, Precision)> {
        let columns = &self.f32.columns;
        let width = columns.len().max(1);
        if let Some(program) = &self.program {
            let given: Vec<Option<&Tensor>> = inputs.iter().map(|t| Some(*t)).collect();
            let (rows, sources) = fuse::resolve(program, columns.iter().copied(), &given).map_err(not_applicable)?;
            let mut x = vec![0.0; rows * width];
            let mut column = vec![0f32; rows];
            for (c, source) in sources.iter().enumerate() {
                source.fill(0, &mut column, false);
                for (r, &v) in column.iter().enumerate() {
                    x[r * width + c] = f64::from(v);
                }
            }
            return Ok((rows, x, Precision::F32));
        }
        let slot = self.input_slot.ok_or_else(|| not_applicable("the tree ensemble's input is unknown"))?;
        let t = plan.execute_until(inputs, self.step, slot)?;
        let (rows, stride) = match t.shape.len() {
            1 => (1, t.shape[0]),
            2 => (t.shape[0], t.shape[1]),
            r => return Err(not_applicable(format!("the tree ensemble's input has rank {r}"))),
        };
        if let Some(&c) = columns.iter().find(|&&c| c >= stride) {
            return Err(not_applicable(format!("the trees read column {c} of a {stride}-column input")));
        }
        let gather = |get: &dyn Fn(usize) -> f64| -> Vec<f64> {
            let mut x = Vec::with_capacity(rows * width);
            for r in 0..rows {
                x.extend(columns.iter().map(|&c| get(r * stride + c)));
            }
            x
        };
        Ok(match &t.data {
            TensorData::Float(v) => (rows, gather(&|i| f64::from(v[i])), Precision::F32),
            // int64 inputs are compared as float, as the tree kernels do.
            TensorData::Int64(v) => (rows, gather(&|i| f64::from(v[i] as f32)), Precision::F32),
            TensorData::Double(v) => (rows, gather(&|i| v[i]), Precision::F64),
            TensorData::String(_) => return Err(not_applicable("the tree ensemble's input is strings")),
        })
    }
}

thread_local! {
    /// Each thread's walk state, kept between calls: a stream explains a few alerts per micro-batch, on its scoring
    /// workers or spread over the pool, and would otherwise build the per-edge buffers (tens of KiB) afresh each time.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's [`Scratch`] (a fresh one if it is in use further up this thread's stack, which a
/// rayon worker waiting inside a task could reach by stealing another).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// One feature name per graph input column (`name` for single-column inputs, `name[col]` otherwise), and the index
/// of each input's first feature.
fn feature_names<'a>(inputs: impl Iterator<Item = &'a ValueInfo>) -> (Arc<[String]>, Vec<usize>) {
    let mut names = Vec::new();
    let mut base = Vec::new();
    for info in inputs {
        base.push(names.len());
        let width = match &info.ty {
            ValueType::Tensor { shape: Some(dims), .. } => {
                dims.get(1..).map_or(1, |d| d.iter().map(|x| x.unwrap_or(1)).product::<usize>().max(1))
            }
            _ => 1,
        };
        if width == 1 {
            names.push(info.name.clone());
        } else {
            names.extend((0..width).map(|c| format!("{}[{c}]", info.name)));
        }
    }
    (names.into(), base)
}

fn not_applicable(message: impl Into<String>) -> ModelError {
    ModelError::NotApplicable(format!("explain: {}", message.into()))
}
