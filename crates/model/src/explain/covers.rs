//! Node covers: how much of the training data reached each node, which path-dependent TreeSHAP uses as the
//! distribution of the features a subset leaves out.
//!
//! ONNX has a place for them, `nodes_hitrates`, but exporters (onnxmltools, skl2onnx) write 1.0 everywhere, so
//! covers are taken from it only when they add up (every split's equals its children's sum); our own trainer
//! writes real ones. Otherwise they can be counted from a background data set ([`crate::Explainer`]), or, as a
//! last resort, every split sends half of its cover each way ([`CoverSource::Uniform`]): still exact Shapley
//! values that add up to the margin, but of a model of the data that is not the training distribution.

use crate::tree::{Mode, Spec};

/// Where an explainer's node covers came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverSource {
    /// The model's `nodes_hitrates` (training counts or hessian sums, as LightGBM's and XGBoost's own
    /// explanations use).
    Hitrates,
    /// Counted by routing this many background rows through the trees.
    Background { rows: usize },
    /// None were available: every split divides its cover evenly.
    Uniform,
}

impl std::fmt::Display for CoverSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoverSource::Hitrates => f.write_str("node covers from the model (nodes_hitrates)"),
            CoverSource::Background { rows } => write!(f, "node covers counted from {rows} background rows"),
            CoverSource::Uniform => f.write_str("no node covers in the model: every split weighted 50/50"),
        }
    }
}

/// The covers of each split's `[true, false]` children, by node index of the model's description.
#[derive(Debug, Clone)]
pub(crate) struct Covers {
    children: Vec<[f64; 2]>,
    pub source: CoverSource,
}

/// Relative tolerance for "adds up": hessian sums are stored as float32.
const ADDS_UP: f64 = 1e-4;

impl Covers {
    /// The model's hitrates when they are real covers, else uniform ones.
    pub fn from_spec(spec: &Spec) -> Covers {
        if hitrates_are_covers(spec) {
            let h = &spec.hitrates;
            let children = spec.nodes.iter().map(|n| [h[n.children[0]], h[n.children[1]]]).collect();
            return Covers { children, source: CoverSource::Hitrates };
        }
        Covers { children: vec![[1.0, 1.0]; spec.nodes.len()], source: CoverSource::Uniform }
    }

    /// Covers counted from data: `counts[node]` is how many rows took each branch.
    pub fn counted(counts: Vec<[f64; 2]>, rows: usize) -> Covers {
        Covers { children: counts, source: CoverSource::Background { rows } }
    }

    /// `[cover of the true child, cover of the false child]` of split `node`.
    pub fn of(&self, node: usize) -> [f64; 2] {
        self.children.get(node).copied().unwrap_or([1.0, 1.0])
    }
}

/// Whether `spec.hitrates` are real covers: finite, non-negative, a positive root, and every split's equal to the
/// sum of its children's.
fn hitrates_are_covers(spec: &Spec) -> bool {
    let h = &spec.hitrates;
    if h.len() != spec.nodes.len() || h.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return false;
    }
    if spec.roots.iter().any(|&r| h.get(r).is_none_or(|&v| v <= 0.0)) {
        return false;
    }
    spec.nodes.iter().enumerate().filter(|(_, n)| n.mode != Mode::Leaf).all(|(i, n)| {
        let sum = h[n.children[0]] + h[n.children[1]];
        (h[i] - sum).abs() <= ADDS_UP * h[i].max(1.0)
    })
}
