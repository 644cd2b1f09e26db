//! Compiles an ONNX tree description into the flat layout [`super::eval`] walks.
//!
//! Layout: every tree's reachable nodes are laid out depth-first in one array of 16-byte (for `f32`) nodes holding
//! threshold, feature and both child links. A child link with [`LEAF`] set is a leaf id, so reaching a leaf needs no
//! extra load. Comparisons LEQ/LT/GTE/GT are normalised to `x' < t` or `x' <= t` where `x'` is `x` or `-x`, and a
//! node whose missing values go to the true branch is rewritten as the complementary comparison with swapped
//! children — both are exact, and NaN then always fails the comparison, so one branch-free rule serves every mode.

use super::fast::FastForest;
use super::real::Real;

/// High bit of a child link: the rest is a leaf id.
pub(crate) const LEAF: u32 = 1 << 31;
/// Flag bit in [`Node::feature`]: compare `-x` instead of `x`.
pub(crate) const NEG: u32 = 1 << 31;
/// Flag bit in [`Node::feature`]: the comparison is `<=` rather than `<`.
pub(crate) const LE: u32 = 1 << 30;
/// Mask of the feature index in [`Node::feature`].
pub(crate) const FEATURE_MASK: u32 = LE - 1;

/// Comparison mode of an ONNX tree node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Member,
    Leaf,
}

impl Mode {
    /// Whether value `v` takes the true branch of a split comparing against `t` (or `members`), onnxruntime's rule:
    /// a missing (NaN) value goes true only where the node says so. The one definition every tree walker uses.
    #[inline]
    pub fn goes_true<T: super::real::Real>(self, v: T, t: T, members: &[T], missing_true: bool) -> bool {
        let cond = match self {
            Mode::Leq => v <= t,
            Mode::Lt => v < t,
            Mode::Gte => v >= t,
            Mode::Gt => v > t,
            Mode::Eq => v == t,
            Mode::Neq => v != t,
            Mode::Member => members.contains(&v),
            Mode::Leaf => false,
        };
        cond || (missing_true && v.is_nan())
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "BRANCH_LEQ" => Mode::Leq,
            "BRANCH_LT" => Mode::Lt,
            "BRANCH_GTE" => Mode::Gte,
            "BRANCH_GT" => Mode::Gt,
            "BRANCH_EQ" => Mode::Eq,
            "BRANCH_NEQ" => Mode::Neq,
            "BRANCH_MEMBER" => Mode::Member,
            "LEAF" => Mode::Leaf,
            _ => return None,
        })
    }
}

/// A tree node as the operator attributes describe it, after ids have been resolved to indices.
#[derive(Debug, Clone)]
pub(crate) struct SpecNode {
    pub feature: usize,
    pub threshold: f64,
    pub mode: Mode,
    pub missing_true: bool,
    /// `[true child, false child]` as indices into [`Spec::nodes`] (unused for leaves).
    pub children: [usize; 2],
    /// Set members for [`Mode::Member`].
    pub members: Vec<f64>,
    /// `(target, weight)` for leaves, in attribute order.
    pub weights: Vec<(usize, f64)>,
}

/// A whole ensemble as described by the attributes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Spec {
    pub nodes: Vec<SpecNode>,
    pub roots: Vec<usize>,
    pub n_targets: usize,
    /// `nodes_hitrates` per node when the attribute is present with one value per node, else empty. Exporters
    /// write 1.0 everywhere as a placeholder; the explainer uses them as node covers only when they add up
    /// (see [`crate::explain`]).
    pub hitrates: Vec<f64>,
}

/// One compiled branch node.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct Node<T> {
    pub threshold: T,
    /// Feature index in the low bits, plus [`NEG`] / [`LE`] flags.
    pub feature: u32,
    /// `[link when the comparison holds, link otherwise]`; links with [`LEAF`] set are leaf ids.
    pub children: [u32; 2],
}

/// Extra per-node data for ensembles that use EQ, NEQ or MEMBER nodes, which need the general evaluator.
#[derive(Debug, Clone)]
pub(crate) struct GeneralNode<T> {
    pub mode: Mode,
    pub missing_true: bool,
    pub members: Vec<T>,
}

/// How the evaluator compares at every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Every node is `x <= t` (LightGBM without missing-value routing).
    Le,
    /// Every node is `x < t` (XGBoost without missing-value routing).
    Lt,
    /// Normalised comparisons with per-node flags.
    Uniform,
    /// EQ/NEQ/MEMBER present: per-node mode dispatch.
    General,
}

/// Leaf payloads.
#[derive(Debug, Clone)]
pub(crate) enum Leaves<T> {
    /// Every leaf adds one weight to the same target: `values[leaf]`.
    Single { target: usize, values: Vec<T> },
    /// `ranges[leaf] = (start, len)` into `weights` of `(target, weight)`.
    Multi { ranges: Vec<(u32, u32)>, weights: Vec<(u32, T)> },
}

/// A compiled ensemble.
#[derive(Debug, Clone)]
pub(crate) struct Forest<T> {
    pub nodes: Vec<Node<T>>,
    pub general: Vec<GeneralNode<T>>,
    /// Root link per tree (a leaf link for single-leaf trees).
    pub roots: Vec<u32>,
    pub kind: Kind,
    pub leaves: Leaves<T>,
    pub n_targets: usize,
    /// One more than the largest feature index used (inputs must have at least this many columns).
    pub n_features: usize,
    /// The same forest for the fast evaluator, when its shape allows (see [`super::fast`]).
    pub fast: Option<FastForest<T>>,
}

impl<T: Real> Forest<T> {
    /// Compiles `spec`. `first_weight_only` reproduces onnxruntime's single-target path, which uses only the
    /// first weight of each leaf.
    pub fn compile(spec: &Spec, first_weight_only: bool) -> Result<Forest<T>, String> {
        let n = spec.nodes.len();
        if n >= (LEAF as usize) {
            return Err("too many nodes".into());
        }
        let general = spec.nodes.iter().any(|s| matches!(s.mode, Mode::Eq | Mode::Neq | Mode::Member));
        let mut nodes: Vec<Node<T>> = Vec::with_capacity(n);
        let mut general_nodes = Vec::new();
        let mut leaf_weights: Vec<&[(usize, f64)]> = Vec::new();
        let mut roots = Vec::with_capacity(spec.roots.len());
        let mut n_features = 0usize;
        // `seen[i] == tree + 1` once node i was placed for that tree: reaching it again means a cycle or a shared
        // subtree, which a tree cannot have.
        let mut seen = vec![0usize; n];
        // Work stack of (spec index, where to write the link: node index and child slot, or the root list).
        let mut stack: Vec<(usize, Option<(usize, usize)>)> = Vec::new();
        for (tree, &root) in spec.roots.iter().enumerate() {
            stack.push((root, None));
            while let Some((si, parent)) = stack.pop() {
                let s = spec.nodes.get(si).ok_or_else(|| format!("tree {tree} links to missing node index {si}"))?;
                if seen[si] == tree + 1 {
                    return Err(format!("tree {tree}: node reached twice (cycle or shared subtree)"));
                }
                seen[si] = tree + 1;
                let link = if s.mode == Mode::Leaf {
                    if s.weights.is_empty() {
                        return Err(format!("tree {tree}: a leaf has no weight"));
                    }
                    let id = leaf_weights.len() as u32;
                    leaf_weights.push(if first_weight_only { &s.weights[..1] } else { &s.weights });
                    LEAF | id
                } else {
                    let idx = nodes.len();
                    if s.feature > FEATURE_MASK as usize {
                        return Err(format!("feature index {} is too large", s.feature));
                    }
                    n_features = n_features.max(s.feature + 1);
                    let (node, swap) = if general { (raw_node::<T>(s), false) } else { normalise::<T>(s) };
                    nodes.push(node);
                    if general {
                        general_nodes.push(GeneralNode {
                            mode: s.mode,
                            missing_true: s.missing_true,
                            members: s.members.iter().map(|&m| T::from_f64(m)).collect(),
                        });
                    }
                    let (true_slot, false_slot) = if swap { (1, 0) } else { (0, 1) };
                    // Push false first so the true child is laid out right after its parent.
                    stack.push((s.children[1], Some((idx, false_slot))));
                    stack.push((s.children[0], Some((idx, true_slot))));
                    idx as u32
                };
                match parent {
                    None => roots.push(link),
                    Some((p, slot)) => nodes[p].children[slot] = link,
                }
            }
        }
        let kind = if general {
            Kind::General
        } else if nodes.iter().all(|n| n.feature & (NEG | LE) == LE) {
            Kind::Le
        } else if nodes.iter().all(|n| n.feature & (NEG | LE) == 0) {
            Kind::Lt
        } else {
            Kind::Uniform
        };
        let leaves = single_target(&leaf_weights).map_or_else(
            || {
                let mut ranges = Vec::with_capacity(leaf_weights.len());
                let mut weights = Vec::new();
                for ws in &leaf_weights {
                    ranges.push((weights.len() as u32, ws.len() as u32));
                    weights.extend(ws.iter().map(|&(t, w)| (t as u32, T::from_f64(w))));
                }
                Leaves::Multi { ranges, weights }
            },
            |target| Leaves::Single { target, values: leaf_weights.iter().map(|ws| T::from_f64(ws[0].1)).collect() },
        );
        for ws in &leaf_weights {
            if let Some(&(t, _)) = ws.iter().find(|(t, _)| *t >= spec.n_targets) {
                return Err(format!("a leaf targets class/target {t} but there are only {}", spec.n_targets));
            }
        }
        let fast = FastForest::build(spec, first_weight_only);
        Ok(Forest { nodes, general: general_nodes, roots, kind, leaves, n_targets: spec.n_targets, n_features, fast })
    }
}

/// `Some(target)` when every leaf has exactly one weight and all target the same output.
fn single_target(leaves: &[&[(usize, f64)]]) -> Option<usize> {
    let first = leaves.first()?.first()?.0;
    leaves.iter().all(|ws| ws.len() == 1 && ws[0].0 == first).then_some(first)
}

/// The node for the general evaluator: raw threshold, mode kept in [`GeneralNode`].
fn raw_node<T: Real>(s: &SpecNode) -> Node<T> {
    Node { threshold: T::from_f64(s.threshold), feature: s.feature as u32, children: [0, 0] }
}

/// The normalised node for a LEQ/LT/GTE/GT branch, and whether its children must be swapped.
fn normalise<T: Real>(s: &SpecNode) -> (Node<T>, bool) {
    let t = T::from_f64(s.threshold);
    let f = s.feature as u32;
    let node = |threshold, feature| Node { threshold, feature, children: [0, 0] };
    match (s.mode, s.missing_true) {
        (Mode::Leq, false) => (node(t, f | LE), false),
        (Mode::Lt, false) => (node(t, f), false),
        (Mode::Gte, false) => (node(-t, f | NEG | LE), false),
        (Mode::Gt, false) => (node(-t, f | NEG), false),
        // Missing goes to the true branch: evaluate the complement (false for NaN) and swap the children.
        (Mode::Leq, true) => (node(-t, f | NEG), true),
        (Mode::Lt, true) => (node(-t, f | NEG | LE), true),
        (Mode::Gte, true) => (node(t, f), true),
        (Mode::Gt, true) => (node(t, f | LE), true),
        // Not reached: ensembles with other modes use the general evaluator.
        _ => (raw_node(s), false),
    }
}
