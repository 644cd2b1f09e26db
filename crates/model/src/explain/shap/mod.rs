//! Path-dependent TreeSHAP (Lundberg et al. 2018, the algorithm behind LightGBM's `pred_contrib` and XGBoost's
//! `pred_contribs`), computed in time linear in the tree size.
//!
//! For a leaf `ℓ` with value `v` whose root path tests the distinct features `P`, feature `j ∈ P` with *zero
//! fraction* `z_j` (the share of the node covers that follows the path's edges on `j`) and *one fraction*
//! `o_j ∈ {0, 1}` (whether the row follows all of them) receives
//!
//! ```text
//! φ_j += v · (o_j − z_j) · Σ_{S ⊆ P∖j} |S|!(|P|−|S|−1)!/|P|! · Π_{i∈S} o_i · Π_{i∈P∖S∖j} z_i
//!      = v · (o_j − z_j) · ∫₀¹ Π_{i∈P∖j} ((1−t)·z_i + t·o_i) dt
//! ```
//!
//! (the Shapley weight is the Beta integral `∫₀¹ t^s (1−t)^{k−1−s} dt`). The integrand is a polynomial of degree
//! `|P| − 1`, so an `m`-point Gauss–Legendre rule with `2m ≥ |P|` evaluates it exactly ([`super::quadrature`]).
//! One depth-first pass per row then carries, at the rule's `m` points, the product `F(t) = Π ((1−t)z_i + t·o_i)`
//! down the path and the sum `H(t) = Σ_{leaves below} v·F(t)` back up; each edge on feature `j` adds
//! `Σ_m w_m · H(t_m) · (r(t_m) − r'(t_m))` to `φ_j`, where `r = (o − z)/((1−t)z + t·o)` with the edge's merged
//! fractions and `r'` the same before the edge. The differences telescope when a path tests `j` more than once, so
//! the sum is exact, as in Yu et al.'s *Linear TreeShap* (2022): `O(nodes · m)` per tree instead of the original
//! `O(leaves · depth²)`.
//!
//! Every row visits every node, so a few rows walk a tree together, one lane each ([`ShapTree::explain_rows`]): the
//! node, its split and the per-point factors that do not depend on the row are loaded and divided once for all of
//! them. A lane computes exactly the operations of a walk of its row alone, so results do not depend on batching.
//! What the walk tracks along a path but does not depend on the row is worked out once per tree ([`plan`]), so the
//! walk is two flat loops rather than a recursion (trees too large for a plan still recurse, row by row). The walks
//! are in [`walk`], compiled for the baseline instruction set, AVX2 and AVX-512F; on x86-64 with AVX2 the planned
//! walk runs from [`simd`], written with intrinsics.
//!
//! Node covers (how many training rows, or how much hessian, reached each node) come from the caller
//! ([`super::covers`]); the expected value is the cover-weighted mean leaf value.

mod plan;
#[cfg(target_arch = "x86_64")]
mod simd;
mod walk;

use super::quadrature::Rule;
use crate::tree::Mode;
use plan::Plan;
use walk::Isa;

/// A link to a leaf rather than a split node.
const LEAF: u32 = 1 << 31;
/// Largest supported rule size: paths testing up to `2 · MAX_POINTS` distinct features.
pub(crate) const MAX_POINTS: usize = 32;

/// How a split node routes a value, in the precision the model compares in (thresholds already rounded to it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Split {
    pub feature: u32,
    pub mode: Mode,
    pub threshold: f64,
    pub missing_true: bool,
    pub members: Box<[f64]>,
}

impl Split {
    /// Whether `v` takes the true branch, exactly as the tree evaluator decides (onnxruntime's rule).
    #[inline]
    pub fn goes_true(&self, v: f64) -> bool {
        self.mode.goes_true(v, self.threshold, &self.members, self.missing_true)
    }

    /// [`Split::goes_true`] for every lane as 1 or 0 (the walks select with it per point), the mode matched once
    /// and no branch on the values. Always inlined, so it is compiled in the walk's instruction set.
    #[inline(always)]
    fn goes_true_lanes<const L: usize>(&self, v: &[f64]) -> [f64; L] {
        compare_lanes(self.mode, self.threshold, self.missing_true, v)
            .unwrap_or_else(|| std::array::from_fn(|r| if self.goes_true(v[r]) { 1.0 } else { 0.0 }))
    }
}

/// Whether each lane's value takes the true side of a comparison split, as 1 or 0; `None` for other modes.
#[inline(always)]
fn compare_lanes<const L: usize>(mode: Mode, t: f64, missing: bool, v: &[f64]) -> Option<[f64; L]> {
    #[inline(always)]
    fn lanes<const L: usize>(v: &[f64], t: f64, missing: bool, cond: impl Fn(f64, f64) -> bool) -> [f64; L] {
        let mut out = [0.0; L];
        for (o, &v) in out.iter_mut().zip(v) {
            *o = if cond(v, t) | (missing & v.is_nan()) { 1.0 } else { 0.0 };
        }
        out
    }
    Some(match mode {
        Mode::Leq => lanes(v, t, missing, |v, t| v <= t),
        Mode::Lt => lanes(v, t, missing, |v, t| v < t),
        Mode::Gte => lanes(v, t, missing, |v, t| v >= t),
        Mode::Gt => lanes(v, t, missing, |v, t| v > t),
        _ => return None,
    })
}

/// A split node with the cover fractions of its children.
#[derive(Debug, Clone)]
pub(crate) struct ShapNode {
    pub split: Split,
    /// `[true, false]` links; [`LEAF`] marks a leaf index.
    pub children: [u32; 2],
    /// `cover(child) / cover(node)` for `[true, false]`.
    pub zero: [f64; 2],
    /// Index of the node in the model's description (covers counted from data are kept by it).
    pub spec: u32,
}

/// One tree, ready for explanation.
#[derive(Debug, Clone)]
pub(crate) struct ShapTree {
    nodes: Vec<ShapNode>,
    leaves: Vec<f64>,
    root: u32,
    /// Gauss–Legendre points this tree needs (half its most distinct features on one path, rounded up).
    points: usize,
    /// Cover-weighted mean leaf value.
    expected: f64,
    /// The walk plan, for trees whose rows walk in lanes along it: few quadrature points (a lane's per-edge state
    /// is `2 · points` values) and at most [`PLANNED_NODES`] split nodes (the state of every edge is kept).
    plan: Option<Plan>,
}

/// Builds a [`ShapTree`] node by node, depth first from the root.
#[derive(Debug, Default)]
pub(crate) struct TreeBuilder {
    nodes: Vec<ShapNode>,
    leaves: Vec<f64>,
}

/// A reference to a node being built, returned by [`TreeBuilder::leaf`] and [`TreeBuilder::split`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link(u32);

impl TreeBuilder {
    pub fn leaf(&mut self, value: f64) -> Link {
        self.leaves.push(value);
        Link(LEAF | (self.leaves.len() - 1) as u32)
    }

    /// Reserves a split node; its children are set by [`TreeBuilder::set_children`] once built.
    pub fn split(&mut self, split: Split) -> Link {
        self.nodes.push(ShapNode { split, children: [0, 0], zero: [0.5, 0.5], spec: 0 });
        Link((self.nodes.len() - 1) as u32)
    }

    /// Sets a split's children and their covers (`cover_true + cover_false` is the node's cover), and which node of
    /// the model's description it is. A node no cover reached splits its (zero) weight evenly, which keeps every
    /// fraction defined.
    pub fn set_children(&mut self, node: Link, children: [Link; 2], covers: [f64; 2], spec: usize) {
        let n = &mut self.nodes[node.0 as usize];
        n.children = [children[0].0, children[1].0];
        n.spec = spec as u32;
        let total = covers[0] + covers[1];
        n.zero = if total > 0.0 { [covers[0] / total, covers[1] / total] } else { [0.5, 0.5] };
    }

    /// Finishes the tree rooted at `root`.
    pub fn finish(self, root: Link) -> Result<ShapTree, String> {
        let mut tree =
            ShapTree { nodes: self.nodes, leaves: self.leaves, root: root.0, points: 1, expected: 0.0, plan: None };
        let mut counts = std::collections::HashMap::new();
        let (expected, distinct) = tree.stats(tree.root, 1.0, &mut counts, 0);
        tree.expected = expected;
        tree.points = distinct.div_ceil(2).max(1);
        if tree.points > MAX_POINTS {
            return Err(format!(
                "a path tests {distinct} distinct features; TreeSHAP here supports up to {}",
                2 * MAX_POINTS
            ));
        }
        if tree.points <= LANED_POINTS && tree.nodes.len() <= PLANNED_NODES {
            tree.plan = Plan::of(&tree);
        }
        Ok(tree)
    }
}

impl ShapTree {
    /// Asks the CPU to start loading the tree's walk plan into the caches, so the next walk finds it there. A
    /// stream explains a few alerts between the batches it scores, by which time the trees have left the caches;
    /// each tree's plan is a separate allocation of a few dozen cache lines, too short for the hardware prefetcher
    /// to catch up with, so without a hint every walk waited on memory (`score_sample explain-cold`).
    #[inline]
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(plan) = &self.plan {
            /// Prefetches every cache line `items` spans.
            fn lines<T>(items: &[T]) {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                let start = items.as_ptr().cast::<i8>();
                for offset in (0..std::mem::size_of_val(items)).step_by(64) {
                    // SAFETY: SSE is part of x86-64; a prefetch reads nothing and the address is inside `items`.
                    unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) };
                }
            }
            lines(&plan.steps);
            lines(&plan.post);
        }
    }

    /// Returns (cover-weighted value below `link` times `weight`, most distinct features on a path below).
    fn stats(
        &self,
        link: u32,
        weight: f64,
        counts: &mut std::collections::HashMap<u32, usize>,
        distinct: usize,
    ) -> (f64, usize) {
        if link & LEAF != 0 {
            return (weight * self.leaves[(link & !LEAF) as usize], distinct);
        }
        let node = &self.nodes[link as usize];
        let f = node.split.feature;
        let c = counts.entry(f).or_insert(0);
        *c += 1;
        let distinct = if *c == 1 { distinct + 1 } else { distinct };
        let (a, da) = self.stats(node.children[0], weight * node.zero[0], counts, distinct);
        let (b, db) = self.stats(node.children[1], weight * node.zero[1], counts, distinct);
        if let Some(c) = counts.get_mut(&f) {
            *c -= 1;
        }
        (a + b, da.max(db))
    }

    pub fn expected(&self) -> f64 {
        self.expected
    }

    pub fn points(&self) -> usize {
        self.points
    }

    /// The leaf value `row` reaches (for checks).
    #[cfg(test)]
    pub fn value(&self, row: &[f64]) -> f64 {
        let mut link = self.root;
        while link & LEAF == 0 {
            let n = &self.nodes[link as usize];
            link = n.children[usize::from(!n.split.goes_true(row[n.split.feature as usize]))];
        }
        self.leaves[(link & !LEAF) as usize]
    }

    /// Calls `f(node, took the true branch)` for each split `row` passes through (covers counted from data).
    pub fn route(&self, row: &[f64], mut f: impl FnMut(&ShapNode, bool)) {
        let mut link = self.root;
        while link & LEAF == 0 {
            let n = &self.nodes[link as usize];
            let t = n.split.goes_true(row[n.split.feature as usize]);
            f(n, t);
            link = n.children[usize::from(!t)];
        }
    }

    /// Adds this tree's contributions for each row loaded into `scratch` ([`Scratch::load`], at most [`LANES`]) to
    /// the row's sums there ([`Scratch::add_to`] hands them out). Trees with a plan carry the rows in lanes through
    /// one planned walk (every row visits the same nodes; only which side a row takes differs), others walk
    /// recursively row by row. Each lane computes exactly what a recursive walk of its row alone computes, so a
    /// row's contributions do not depend on the rows explained with it.
    pub fn explain_rows(&self, scratch: &mut Scratch, rule: &Rule) {
        self.explain_rows_on(Isa::detect(), Path::Planned, scratch, rule);
    }

    /// [`ShapTree::explain_rows`] in the kernel compiled for `isa`, along `path` where the tree allows.
    fn explain_rows_on(&self, isa: Isa, path: Path, scratch: &mut Scratch, rule: &Rule) {
        let n = scratch.n;
        debug_assert!(n <= LANES);
        macro_rules! dispatch {
            ($walk:ident, $lanes:literal, $first:expr; $($m:literal)*) => {
                match self.points {
                    $($m => {
                        let q = Points::<$m>::new(rule);
                        let mut walk = Walk::<$lanes> { first: $first, scratch: &mut *scratch };
                        walk::$walk::<$m, $lanes>(isa, self, &mut walk, &q);
                    })*
                    _ => unreachable!("points are checked against MAX_POINTS at build"),
                }
            };
        }
        if self.plan.is_some() && path == Path::Planned {
            // As few lanes as hold the rows: a lane without a row costs as much as one with.
            match n {
                0 => {}
                1 => dispatch!(planned, 1, 0; 1 2 3 4),
                2 => dispatch!(planned, 2, 0; 1 2 3 4),
                3 | 4 => dispatch!(planned, 4, 0; 1 2 3 4),
                _ => dispatch!(planned, 8, 0; 1 2 3 4),
            }
        } else {
            for r in 0..n {
                dispatch!(recursive, 1, r; 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
            }
        }
    }
}

/// Which walk [`ShapTree::explain_rows_on`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// The planned walk in lanes where the tree has a plan, else the recursion (what callers get).
    Planned,
    /// The recursion, row by row (the reference the planned walk is checked against).
    #[cfg_attr(not(test), allow(dead_code))]
    Recursive,
}

/// Rows a walk carries at once (trees with up to [`LANED_POINTS`] quadrature points).
pub(crate) const LANES: usize = 8;

/// Trees needing more quadrature points walk recursively row by row: the per-edge state of the planned walk is
/// `2 · points · lanes` values, and the kernels are compiled for each point count.
const LANED_POINTS: usize = 4;

/// Trees with more split nodes walk recursively row by row too: the planned walk keeps every edge's state, per
/// thread, in one set of buffers per point count and lane count walked — up to 1.5 KiB a node in the largest set (4
/// points, 8 lanes), about 7 KiB over all sixteen. Gradient-boosted trees have tens to hundreds of nodes; 1,024
/// bound a thread's buffers by about 7 MiB even for a model that walks every set at that size.
const PLANNED_NODES: usize = 1024;
const _: () = assert!(PLANNED_NODES <= plan::MAX_NODES, "a planned tree's links must fit a step");

/// The rows being explained, lane by lane, and the per-feature state of the path being walked; reused across trees
/// and calls.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The loaded rows' values, `[feature][lane]` ([`LANES`] wide; lanes past `n` repeat the first row).
    x: Vec<f64>,
    width: usize,
    n: usize,
    /// How many splits on the current path test each feature (0: the feature is not on it).
    seen: Vec<u32>,
    /// Merged zero fraction of each feature on the path (the same for every row).
    z: Vec<f64>,
    /// Merged one fraction of each feature per lane (`[feature][lane]`, [`LANES`] wide).
    o: Vec<f64>,
    /// Each lane's contributions so far, `[feature][lane]`: a walk adds a node's to all its lanes with one vector
    /// add, where adding to row-major output would take one scattered add per lane.
    sum: Vec<f64>,
    /// The planned walk's per-edge and per-node state.
    edges: EdgeState,
}

/// What the planned walk keeps per edge and per split node ([`walk`]), one typed set per point count and lane
/// count walked (a model's trees need different point counts), grown to the largest tree walked.
#[derive(Default)]
struct EdgeState {
    /// Indexed by `(points − 1) · 4 + log2(lanes)`; each holds an [`EdgeBuffers`] of those sizes.
    typed: Vec<Option<Box<dyn std::any::Any + Send>>>,
}

impl std::fmt::Debug for EdgeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeState").field("sets", &self.typed.iter().flatten().count()).finish()
    }
}

/// The planned walk's state for `M` points and `L` lanes.
struct EdgeBuffers<const M: usize, const L: usize> {
    /// Edge `2i + side` of the node at position `i`.
    edges: Vec<walk::Edge<M, L>>,
    /// `H` below the node at each position.
    h: Vec<[[f64; L]; M]>,
}

impl EdgeState {
    /// The buffers for `M` points and `L` lanes (`M ≤ LANED_POINTS`, `L` a power of two up to [`LANES`]), with
    /// room for a tree of `nodes` split nodes. Every value a walk reads it wrote first, so nothing is cleared.
    fn get<const M: usize, const L: usize>(&mut self, nodes: usize) -> &mut EdgeBuffers<M, L> {
        let at = (M - 1) * 4 + L.trailing_zeros() as usize;
        if self.typed.len() <= at {
            self.typed.resize_with(at + 1, || None);
        }
        let slot = &mut self.typed[at];
        if !slot.as_ref().is_some_and(|b| b.is::<EdgeBuffers<M, L>>()) {
            *slot = Some(Box::new(EdgeBuffers::<M, L> { edges: Vec::new(), h: Vec::new() }));
        }
        let Some(buffers) = slot.as_mut().and_then(|b| b.downcast_mut::<EdgeBuffers<M, L>>()) else {
            unreachable!("the slot was just given buffers of this type")
        };
        if buffers.h.len() < nodes {
            buffers.edges.resize(2 * nodes, walk::Edge::ZERO);
            buffers.h.resize(nodes, [[0.0; L]; M]);
        }
        buffers
    }
}

impl Scratch {
    /// Loads up to [`LANES`] rows (row-major, `width` values each) for [`ShapTree::explain_rows`], their
    /// contribution sums at zero.
    pub fn load(&mut self, rows: &[f64], width: usize) {
        let n = rows.len() / width.max(1);
        assert!(n <= LANES, "at most {LANES} rows at once");
        if self.width != width {
            self.width = width;
            self.x = vec![0.0; width * LANES];
            self.seen = vec![0; width];
            self.z = vec![1.0; width];
            self.o = vec![1.0; width * LANES];
        }
        self.sum.resize(width * LANES, 0.0);
        self.n = n;
        for j in 0..width {
            for r in 0..LANES {
                let row = if r < n { r } else { 0 };
                self.x[j * LANES + r] = rows.get(row * width + j).copied().unwrap_or(0.0);
            }
            // Only the rows' lanes are read back ([`Scratch::add_to`]).
            self.sum[j * LANES..j * LANES + n].fill(0.0);
        }
        // A walk leaves the path empty; one cut short by a panic would not, and scratches are reused per thread.
        self.seen.fill(0);
    }

    /// Adds the loaded rows' contribution sums to `phi` (`[rows, width]`). Into zeros, this gives each value
    /// exactly as adding every contribution to it in turn would: the same additions from the same zero.
    pub fn add_to(&self, phi: &mut [f64]) {
        for (r, row) in phi.chunks_exact_mut(self.width.max(1)).take(self.n).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v += self.sum[j * LANES + r];
            }
        }
    }

    #[inline]
    fn one<const L: usize>(&self, j: usize, first: usize) -> [f64; L] {
        let mut o = [0.0; L];
        o.copy_from_slice(&self.o[j * LANES + first..j * LANES + first + L]);
        o
    }

    #[inline]
    fn set<const L: usize>(&mut self, j: usize, first: usize, z: f64, o: &[f64; L]) {
        self.z[j] = z;
        self.o[j * LANES + first..j * LANES + first + L].copy_from_slice(o);
    }
}

/// One walk's lanes: `L` of the loaded rows from `first` (lanes past the rows repeat the first row; their sums are
/// never read).
struct Walk<'a, const L: usize> {
    first: usize,
    scratch: &'a mut Scratch,
}

impl<const L: usize> Walk<'_, L> {
    #[inline]
    fn values(&self, feature: usize) -> &[f64] {
        let at = feature * LANES + self.first;
        &self.scratch.x[at..at + L]
    }
}

/// A rule's points and weights as fixed-size arrays.
struct Points<const M: usize> {
    t: [f64; M],
    w: [f64; M],
    /// `1 − t`, `−1/(1 − t)` and `−w/(1 − t)` at each point (Gauss–Legendre points lie strictly inside (0, 1)).
    one_minus_t: [f64; M],
    neg_inv_one_minus_t: [f64; M],
    w_neg_inv_one_minus_t: [f64; M],
    /// The same per (side, point) for the vector walks ([`simd`]), which compute a node's constants for both sides
    /// at once: entry `4·side + point`, so with up to four points (planned trees) both sides fill eight lanes.
    /// Unused points have `t = ½`, `w = 0`.
    #[cfg(target_arch = "x86_64")]
    sides: SidePoints,
}

/// [`Points`] laid out per (side, point) (see `Points::sides`).
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
struct SidePoints {
    t: [f64; 8],
    w: [f64; 8],
    one_minus_t: [f64; 8],
    neg_inv_one_minus_t: [f64; 8],
}

impl<const M: usize> Points<M> {
    fn new(rule: &Rule) -> Points<M> {
        let mut t = [0.0; M];
        let mut w = [0.0; M];
        t.copy_from_slice(&rule.nodes[..M]);
        w.copy_from_slice(&rule.weights[..M]);
        let neg_inv_one_minus_t = t.map(|t| -1.0 / (1.0 - t));
        let mut w_neg_inv_one_minus_t = [0.0; M];
        for m in 0..M {
            w_neg_inv_one_minus_t[m] = w[m] * neg_inv_one_minus_t[m];
        }
        let one_minus_t = t.map(|t| 1.0 - t);
        #[cfg(target_arch = "x86_64")]
        let sides = {
            let mut p = SidePoints { t: [0.5; 8], w: [0.0; 8], one_minus_t: [0.5; 8], neg_inv_one_minus_t: [-2.0; 8] };
            for k in 0..8 {
                let m = k % 4;
                if m < M {
                    (p.t[k], p.w[k], p.one_minus_t[k]) = (t[m], w[m], one_minus_t[m]);
                    p.neg_inv_one_minus_t[k] = neg_inv_one_minus_t[m];
                }
            }
            p
        };
        Points {
            t,
            w,
            one_minus_t,
            neg_inv_one_minus_t,
            w_neg_inv_one_minus_t,
            #[cfg(target_arch = "x86_64")]
            sides,
        }
    }
}

/// Quadrature rules by size, built once.
#[derive(Debug, Clone)]
pub(crate) struct Rules(Vec<Rule>);

impl Rules {
    pub fn up_to(points: usize) -> Rules {
        Rules((0..=points).map(Rule::gauss_legendre).collect())
    }

    pub fn get(&self, points: usize) -> &Rule {
        &self.0[points]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Lcg;

    /// A random tree over `n_features` features (repeats along paths included), with random covers (some zero).
    fn random_tree(rng: &mut Lcg, depth: u32, n_features: u32) -> ShapTree {
        fn grow(b: &mut TreeBuilder, rng: &mut Lcg, depth: u32, n_features: u32, cover: f64) -> Link {
            if depth == 0 || rng.below(5) == 0 {
                return b.leaf(rng.unit() * 2.0 - 1.0);
            }
            // Every comparison the walks compare in registers, and tests they hand back to the split.
            let modes = [Mode::Leq, Mode::Lt, Mode::Gte, Mode::Gt, Mode::Eq, Mode::Neq, Mode::Member];
            let mode = modes[rng.below(modes.len() as u64) as usize];
            let split = Split {
                feature: rng.below(u64::from(n_features)) as u32,
                mode,
                threshold: (rng.below(5) as f64) - 2.0,
                missing_true: rng.below(2) == 0,
                members: if mode == Mode::Member { Box::new([-1.0, 1.0]) } else { Box::new([]) },
            };
            let node = b.split(split);
            // Now and then a child no training row reached (zero cover), which the walk must take exactly too.
            let share = match rng.below(10) {
                0 => 0.0,
                1 => 1.0,
                _ => 0.1 + 0.8 * rng.unit(),
            };
            let (ca, cb) = (cover * share, cover * (1.0 - share));
            let a = grow(b, rng, depth - 1, n_features, ca);
            let c = grow(b, rng, depth - 1, n_features, cb);
            b.set_children(node, [a, c], [ca, cb], 0);
            node
        }
        let mut b = TreeBuilder::default();
        let root = grow(&mut b, rng, depth, n_features, 100.0);
        b.finish(root).unwrap()
    }

    /// `E[f(x) | x_S]` under the path-dependent model: follow the row on features in `S`, average by cover on the
    /// others (Algorithm 1 of Lundberg et al.).
    fn conditional(tree: &ShapTree, link: u32, row: &[f64], s: u32) -> f64 {
        if link & LEAF != 0 {
            return tree.leaves[(link & !LEAF) as usize];
        }
        let n = &tree.nodes[link as usize];
        let j = n.split.feature;
        if s & (1 << j) != 0 {
            let side = usize::from(!n.split.goes_true(row[j as usize]));
            conditional(tree, n.children[side], row, s)
        } else {
            n.zero[0] * conditional(tree, n.children[0], row, s) + n.zero[1] * conditional(tree, n.children[1], row, s)
        }
    }

    fn factorial(n: u32) -> f64 {
        (1..=n).map(f64::from).product()
    }

    /// Exact Shapley values by enumerating every subset.
    fn brute_force(tree: &ShapTree, row: &[f64], n_features: u32) -> Vec<f64> {
        let n = n_features;
        (0..n)
            .map(|i| {
                let mut phi = 0.0;
                for s in 0u32..(1 << n) {
                    if s & (1 << i) != 0 {
                        continue;
                    }
                    let k = s.count_ones();
                    let w = factorial(k) * factorial(n - k - 1) / factorial(n);
                    phi += w * (conditional(tree, tree.root, row, s | (1 << i)) - conditional(tree, tree.root, row, s));
                }
                phi
            })
            .collect()
    }

    /// `count` values from -2 to 2 in halves, one in six missing.
    fn random_values(rng: &mut Lcg, count: usize) -> Vec<f64> {
        (0..count)
            .map(|_| if rng.below(6) == 0 { f64::NAN } else { rng.below(5) as f64 - 2.0 + rng.below(2) as f64 * 0.5 })
            .collect()
    }

    /// A random tree on up to `max_features` features and `max_depth` levels, with 1 to [`LANES`] rows for it:
    /// `(tree, width, rows, values)`.
    fn random_case(rng: &mut Lcg, max_features: u64, max_depth: u64) -> (ShapTree, usize, usize, Vec<f64>) {
        let n_features = 1 + rng.below(max_features) as u32;
        let depth = 1 + rng.below(max_depth) as u32;
        let tree = random_tree(rng, depth, n_features);
        let width = n_features as usize;
        let n = 1 + rng.below(LANES as u64) as usize;
        let rows = random_values(rng, n * width);
        (tree, width, n, rows)
    }

    /// The contributions of `rows` (`width` values each), explained in one call.
    fn explain(tree: &ShapTree, rows: &[f64], width: usize, rules: &Rules) -> Vec<f64> {
        explain_on(Isa::detect(), Path::Planned, tree, rows, width, rules)
    }

    /// [`explain`] in the kernel compiled for `isa`, along `path`.
    fn explain_on(isa: Isa, path: Path, tree: &ShapTree, rows: &[f64], width: usize, rules: &Rules) -> Vec<f64> {
        let mut phi = vec![0.0; rows.len()];
        let mut scratch = Scratch::default();
        scratch.load(rows, width);
        tree.explain_rows_on(isa, path, &mut scratch, rules.get(tree.points()));
        scratch.add_to(&mut phi);
        phi
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn equals_shapley_values_by_enumeration_on_random_trees() {
        let mut rng = Lcg(42);
        let rules = Rules::up_to(MAX_POINTS);
        for case in 0..300 {
            let n_features = 1 + rng.below(6) as u32;
            let depth = 1 + rng.below(7) as u32;
            let tree = random_tree(&mut rng, depth, n_features);
            let row = random_values(&mut rng, n_features as usize);
            let want = brute_force(&tree, &row, n_features);
            for path in [Path::Planned, Path::Recursive] {
                let phi = explain_on(Isa::detect(), path, &tree, &row, row.len(), &rules);
                for (j, (a, b)) in phi.iter().zip(&want).enumerate() {
                    assert!((a - b).abs() < 1e-12, "case {case} feature {j} {path:?}: {a} vs {b}");
                }
                let total: f64 = phi.iter().sum::<f64>() + tree.expected();
                assert!((total - tree.value(&row)).abs() < 1e-12, "case {case} {path:?}: local accuracy");
            }
        }
    }

    #[test]
    fn rows_walked_together_and_in_every_kernel_get_exactly_what_each_gets_alone() {
        let mut rng = Lcg(9);
        let rules = Rules::up_to(MAX_POINTS);
        let mut planned = 0;
        for case in 0..200 {
            // (n = 2, 3..4 and 5..8 rows walk 2, 4 and 8 lanes)
            let (tree, width, n, rows) = random_case(&mut rng, 10, 9);
            planned += usize::from(tree.plan.is_some());
            // The row alone in the baseline kernel's recursion is the reference; every kernel this CPU runs, along
            // either walk, with the row alone or among others, must give it bit for bit.
            for isa in Isa::available() {
                let together = explain_on(isa, Path::Planned, &tree, &rows, width, &rules);
                for r in 0..n {
                    let row = &rows[r * width..(r + 1) * width];
                    let alone = explain_on(Isa::Baseline, Path::Recursive, &tree, row, width, &rules);
                    assert_eq!(
                        bits(&together[r * width..(r + 1) * width]),
                        bits(&alone),
                        "case {case} row {r} of {n} in {isa:?}"
                    );
                    for path in [Path::Planned, Path::Recursive] {
                        let own = explain_on(isa, path, &tree, row, width, &rules);
                        assert_eq!(bits(&own), bits(&alone), "case {case} {isa:?} {path:?}");
                    }
                }
            }
        }
        assert!(planned > 150, "most cases walk planned ({planned})");
    }

    #[test]
    fn a_deep_chain_on_few_features_walks_planned_with_the_recursion_s_results() {
        // 300 levels testing two features in turn: few quadrature points, a long path of repeats.
        let mut b = TreeBuilder::default();
        let split = |feature, threshold| Split {
            feature,
            mode: Mode::Leq,
            threshold,
            missing_true: false,
            members: Box::new([]),
        };
        let nodes: Vec<Link> = (0..300).map(|i| b.split(split(i % 2, f64::from(i % 7) - 3.0))).collect();
        let mut below = b.leaf(0.5);
        for (i, &node) in nodes.iter().enumerate().rev() {
            let leaf = b.leaf(i as f64 / 100.0 - 1.0);
            b.set_children(node, [below, leaf], [0.6, 0.4], 0);
            below = node;
        }
        let tree = b.finish(nodes[0]).unwrap();
        assert!(tree.points() <= LANED_POINTS && tree.plan.is_some(), "points {}", tree.points());
        let rules = Rules::up_to(MAX_POINTS);
        let rows = [-5.0, -5.0, 1.0, -2.0, 0.0, f64::NAN];
        let together = explain(&tree, &rows, 2, &rules);
        for r in 0..3 {
            let row = &rows[r * 2..r * 2 + 2];
            let alone = explain_on(Isa::Baseline, Path::Recursive, &tree, row, 2, &rules);
            assert_eq!(bits(&together[r * 2..r * 2 + 2]), bits(&alone), "row {r}");
            let total = alone.iter().sum::<f64>() + tree.expected();
            assert!((total - tree.value(&rows[r * 2..r * 2 + 2])).abs() < 1e-9, "row {r}: local accuracy");
        }
    }

    #[test]
    fn a_scratch_reused_for_rows_of_other_widths_and_counts_gives_what_a_fresh_one_gives() {
        // A thread keeps its scratch across calls, models (a challenger's width) and lane counts.
        let mut rng = Lcg(5);
        let rules = Rules::up_to(MAX_POINTS);
        let mut scratch = Scratch::default();
        for case in 0..60 {
            let (tree, width, _, rows) = random_case(&mut rng, 10, 8);
            let mut reused = vec![0.0; rows.len()];
            scratch.load(&rows, width);
            tree.explain_rows(&mut scratch, rules.get(tree.points()));
            scratch.add_to(&mut reused);
            assert_eq!(bits(&reused), bits(&explain(&tree, &rows, width, &rules)), "case {case}");
        }
    }

    #[test]
    fn a_tree_too_large_to_plan_walks_recursively_row_by_row() {
        // A full tree of 13 levels (8,191 split nodes) on three features.
        fn grow(b: &mut TreeBuilder, level: u32, at: u32) -> Link {
            if level == 13 {
                return b.leaf(f64::from(at % 17) / 8.0 - 1.0);
            }
            let node = b.split(Split {
                feature: level % 3,
                mode: Mode::Lt,
                threshold: f64::from(at % 5) - 2.0,
                missing_true: at.is_multiple_of(2),
                members: Box::new([]),
            });
            let children = [grow(b, level + 1, 2 * at), grow(b, level + 1, 2 * at + 1)];
            b.set_children(node, children, [f64::from(1 + at % 3), 2.0], 0);
            node
        }
        let mut b = TreeBuilder::default();
        let root = grow(&mut b, 0, 1);
        let tree = b.finish(root).unwrap();
        assert!(tree.nodes.len() > PLANNED_NODES && tree.plan.is_none());
        let rules = Rules::up_to(MAX_POINTS);
        let rows = [-1.5, 0.5, f64::NAN, 2.0, -3.0, 0.0];
        let together = explain(&tree, &rows, 3, &rules);
        for r in 0..2 {
            let row = &rows[r * 3..r * 3 + 3];
            assert_eq!(bits(&together[r * 3..r * 3 + 3]), bits(&explain(&tree, row, 3, &rules)), "row {r}");
            let total = together[r * 3..r * 3 + 3].iter().sum::<f64>() + tree.expected();
            assert!((total - tree.value(row)).abs() < 1e-9, "row {r}: local accuracy");
        }
    }

    #[test]
    fn a_single_leaf_explains_nothing() {
        let mut b = TreeBuilder::default();
        let root = b.leaf(0.25);
        let tree = b.finish(root).unwrap();
        let mut phi = vec![0.0; 2];
        let mut scratch = Scratch::default();
        scratch.load(&[1.0, 2.0], 2);
        tree.explain_rows(&mut scratch, &Rule::gauss_legendre(1));
        scratch.add_to(&mut phi);
        assert_eq!(phi, vec![0.0, 0.0]);
        assert_eq!(tree.expected(), 0.25);
    }
}
