//! From a tree ensemble as the model describes it to the trees TreeSHAP walks: which output is explained (the
//! margin), what each leaf adds to it, the node covers, and the columns the trees read.

use super::covers::Covers;
use super::shap::{Link, ShapTree, Split, TreeBuilder};
use crate::post::PostTransform;
use crate::tree::{Agg, EnsembleView, Finalizer, Mode, Spec};

/// The explained output: the positive class's margin (the score before the post-transform) of a binary
/// classifier, or a single-target regressor's prediction (before PROBIT, if any).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Margin {
    /// Leaf weights of this target are explained.
    pub target: usize,
    /// onnxruntime's single-target path reads only each leaf's first weight.
    pub first_weight_only: bool,
    /// Leaf values are multiplied by this (1 / trees for AVERAGE).
    pub scale: f64,
    /// Added to the tree sum (the base value that applies).
    pub offset: f64,
    /// What turns the margin into the model's output.
    pub post: PostTransform,
}

impl Margin {
    /// The margin of `view`'s ensemble, or why it cannot be explained.
    pub fn of(view: &EnsembleView<'_>) -> Result<Margin, String> {
        let n_trees = view.spec.roots.len().max(1) as f64;
        match view.finalizer {
            Finalizer::Classifier { post, base_values, labels, binary_case, .. } => {
                if labels.len() != 2 || !binary_case {
                    return Err(format!(
                        "reasons are computed for binary classifiers whose trees score one class (LightGBM, \
                         XGBoost, scikit-learn exports); this one has {} classes{}",
                        labels.len(),
                        if *binary_case { "" } else { " scored separately" }
                    ));
                }
                let target = weighted_class(view.spec).unwrap_or(0);
                // onnxruntime's binary path (tree/finalize.rs): a single base value shifts class 0's score, and two
                // base values make the output ignore the trees' class-1 sum, which nothing sensible exports.
                let offset = match (base_values.len(), target) {
                    (0, _) | (1, 1) => 0.0,
                    (1, _) => base_values[0],
                    (n, _) => return Err(format!("a binary classifier with {n} base values cannot be explained")),
                };
                Ok(Margin { target, first_weight_only: false, scale: 1.0, offset, post: *post })
            }
            Finalizer::Regressor { post, agg, base_values, n_targets } => {
                if *n_targets != 1 {
                    return Err(format!("reasons need a single-output regressor, this one has {n_targets} targets"));
                }
                let scale = match agg {
                    Agg::Sum => 1.0,
                    Agg::Average => 1.0 / n_trees,
                    Agg::Min | Agg::Max => {
                        return Err("a MIN or MAX tree ensemble has no additive explanation".to_string());
                    }
                };
                let offset = if base_values.len() == 1 { base_values[0] } else { 0.0 };
                let post = if *post == PostTransform::Probit { PostTransform::Probit } else { PostTransform::None };
                Ok(Margin { target: 0, first_weight_only: true, scale, offset, post })
            }
        }
    }

    /// What a leaf adds to the margin.
    fn leaf_value(&self, weights: &[(usize, f64)]) -> f64 {
        let weights = if self.first_weight_only { &weights[..weights.len().min(1)] } else { weights };
        self.scale * weights.iter().filter(|(t, _)| *t == self.target).map(|(_, w)| w).sum::<f64>()
    }
}

/// The one class every leaf weight names, if there is one.
fn weighted_class(spec: &Spec) -> Option<usize> {
    let mut classes = spec.nodes.iter().flat_map(|n| n.weights.iter().map(|(t, _)| *t));
    let first = classes.next()?;
    classes.all(|t| t == first).then_some(first)
}

/// The trees of an ensemble, with their features renumbered to the columns they read ([`Forest::columns`]).
#[derive(Debug, Clone)]
pub(crate) struct Forest {
    pub trees: Vec<ShapTree>,
    /// Tree input column of each compact feature index the trees use.
    pub columns: Vec<usize>,
    /// Sum of the trees' expected values plus the margin's offset.
    pub expected: f64,
}

/// How thresholds are rounded: the model compares in `f32` for float and int64 inputs, `f64` for doubles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precision {
    F32,
    F64,
}

impl Precision {
    fn round(self, v: f64) -> f64 {
        match self {
            Precision::F32 => f64::from(v as f32),
            Precision::F64 => v,
        }
    }
}

impl Forest {
    /// Builds every tree of `spec` with `covers`, thresholds rounded to `precision`.
    pub fn build(spec: &Spec, margin: &Margin, covers: &Covers, precision: Precision) -> Result<Forest, String> {
        let mut columns: Vec<usize> = Vec::new();
        let mut compact: std::collections::HashMap<usize, u32> = std::collections::HashMap::new();
        let mut trees = Vec::with_capacity(spec.roots.len());
        for &root in &spec.roots {
            let mut b = TreeBuilder::default();
            let mut ctx = Build { spec, margin, covers, precision, columns: &mut columns, compact: &mut compact };
            let link = ctx.node(&mut b, root, 0)?;
            trees.push(b.finish(link)?);
        }
        let expected = margin.offset + trees.iter().map(ShapTree::expected).sum::<f64>();
        Ok(Forest { trees, columns, expected })
    }
}

/// The state of one [`Forest::build`].
struct Build<'a> {
    spec: &'a Spec,
    margin: &'a Margin,
    covers: &'a Covers,
    precision: Precision,
    columns: &'a mut Vec<usize>,
    compact: &'a mut std::collections::HashMap<usize, u32>,
}

impl Build<'_> {
    fn node(&mut self, b: &mut TreeBuilder, index: usize, depth: usize) -> Result<Link, String> {
        // The tree compiler already refused cycles; depth bounds the recursion all the same.
        if depth > 4096 {
            return Err("a tree is deeper than 4,096 levels".into());
        }
        let s = &self.spec.nodes[index];
        if s.mode == Mode::Leaf {
            return Ok(b.leaf(self.margin.leaf_value(&s.weights)));
        }
        let next = self.columns.len() as u32;
        let feature = *self.compact.entry(s.feature).or_insert(next);
        if feature == next {
            self.columns.push(s.feature);
        }
        let round = |v: f64| self.precision.round(v);
        let split = Split {
            feature,
            mode: s.mode,
            threshold: round(s.threshold),
            missing_true: s.missing_true,
            members: s.members.iter().map(|&m| round(m)).collect(),
        };
        let link = b.split(split);
        let children = [self.node(b, s.children[0], depth + 1)?, self.node(b, s.children[1], depth + 1)?];
        b.set_children(link, children, self.covers.of(index), index);
        Ok(link)
    }
}
