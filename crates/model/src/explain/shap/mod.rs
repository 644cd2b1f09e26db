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
//! The walk itself is in [`walk`], compiled for the baseline instruction set and for AVX2.
//!
//! Node covers (how many training rows, or how much hessian, reached each node) come from the caller
//! ([`super::covers`]); the expected value is the cover-weighted mean leaf value.

mod walk;

use super::quadrature::Rule;
use crate::tree::Mode;
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

    /// [`Split::goes_true`] for every lane, the mode matched once and no branch on the values.
    #[inline]
    fn goes_true_lanes<const L: usize>(&self, v: &[f64]) -> [bool; L] {
        let (t, missing) = (self.threshold, self.missing_true);
        #[inline(always)]
        fn lanes<const L: usize>(v: &[f64], t: f64, missing: bool, cond: impl Fn(f64, f64) -> bool) -> [bool; L] {
            let mut out = [false; L];
            for (o, &v) in out.iter_mut().zip(v) {
                *o = cond(v, t) | (missing & v.is_nan());
            }
            out
        }
        match self.mode {
            Mode::Leq => lanes(v, t, missing, |v, t| v <= t),
            Mode::Lt => lanes(v, t, missing, |v, t| v < t),
            Mode::Gte => lanes(v, t, missing, |v, t| v >= t),
            Mode::Gt => lanes(v, t, missing, |v, t| v > t),
            _ => std::array::from_fn(|r| self.goes_true(v[r])),
        }
    }
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
    /// Whether rows may walk it in lanes: few quadrature points and a depth whose laned stack frames fit a thread's
    /// stack.
    laned: bool,
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
            ShapTree { nodes: self.nodes, leaves: self.leaves, root: root.0, points: 1, expected: 0.0, laned: false };
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
        tree.laned = tree.points <= LANED_POINTS && tree.depth(tree.root) <= LANED_DEPTH;
        Ok(tree)
    }
}

impl ShapTree {
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

    /// Split levels below `link` on its deepest path.
    fn depth(&self, link: u32) -> usize {
        if link & LEAF != 0 {
            return 0;
        }
        let node = &self.nodes[link as usize];
        1 + self.depth(node.children[0]).max(self.depth(node.children[1]))
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

    /// Adds this tree's contributions for each row loaded into `scratch` ([`Scratch::load`], at most [`LANES`])
    /// into the matching row of `phi` (`[rows, width]`). Trees with few quadrature points carry the rows in lanes
    /// through one walk (every row visits the same nodes; only which side a row takes differs), larger ones walk
    /// row by row. Each lane computes exactly what a walk of its row alone computes, so a row's contributions do
    /// not depend on the rows explained with it.
    pub fn explain_rows(&self, phi: &mut [f64], scratch: &mut Scratch, rule: &Rule) {
        self.explain_rows_on(Isa::detect(), phi, scratch, rule);
    }

    /// [`ShapTree::explain_rows`] in the kernel compiled for `isa`.
    fn explain_rows_on(&self, isa: Isa, phi: &mut [f64], scratch: &mut Scratch, rule: &Rule) {
        let n = scratch.n;
        debug_assert!(n <= LANES && phi.len() == n * scratch.width);
        macro_rules! dispatch {
            ($lanes:literal, $first:expr; $($m:literal)*) => {
                match self.points {
                    $($m => {
                        let q = Points::<$m>::new(rule);
                        let mut walk = Walk::<$lanes> { first: $first, n: n.min($lanes), phi: &mut *phi, scratch: &mut *scratch };
                        walk::run::<$m, $lanes>(isa, self, &mut walk, &q);
                    })*
                    _ => unreachable!("points are checked against MAX_POINTS at build"),
                }
            };
        }
        if self.laned && n > 1 {
            // As few lanes as hold the rows: a lane without a row costs as much as one with.
            match n {
                2 => dispatch!(2, 0; 1 2 3 4),
                3 | 4 => dispatch!(4, 0; 1 2 3 4),
                _ => dispatch!(8, 0; 1 2 3 4),
            }
        } else {
            for r in 0..n {
                dispatch!(1, r; 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
            }
        }
    }
}

/// Rows a walk carries at once (trees with up to [`LANED_POINTS`] quadrature points).
pub(crate) const LANES: usize = 8;

/// Trees needing more quadrature points walk row by row: their per-level arrays would make a laned walk's stack
/// frames large.
const LANED_POINTS: usize = 4;

/// Deeper trees walk row by row too: a laned level takes a few KiB of stack (a row's, a few hundred bytes), and a
/// path may be long while testing few distinct features. 128 levels stay well inside a 2 MiB thread stack.
const LANED_DEPTH: usize = 128;

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
}

impl Scratch {
    /// Loads up to [`LANES`] rows (row-major, `width` values each) for [`ShapTree::explain_rows`].
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
        self.n = n;
        for j in 0..width {
            for r in 0..LANES {
                let row = if r < n { r } else { 0 };
                self.x[j * LANES + r] = rows.get(row * width + j).copied().unwrap_or(0.0);
            }
        }
        debug_assert!(self.seen.iter().all(|&s| s == 0), "a walk leaves the path empty");
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

/// One walk's lanes (`L` of the loaded rows from `first`) and where their contributions go.
struct Walk<'a, const L: usize> {
    first: usize,
    /// Real rows among the lanes (the others repeat the first row and are not written).
    n: usize,
    phi: &'a mut [f64],
    scratch: &'a mut Scratch,
}

impl<const L: usize> Walk<'_, L> {
    #[inline]
    fn values(&self, feature: usize) -> &[f64] {
        let at = feature * LANES + self.first;
        &self.scratch.x[at..at + L]
    }

    #[inline(always)]
    fn add(&mut self, feature: usize, contribution: &[f64; L]) {
        let width = self.scratch.width;
        for (r, c) in contribution.iter().enumerate().take(self.n) {
            self.phi[(self.first + r) * width + feature] += c;
        }
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
        Points { t, w, one_minus_t: t.map(|t| 1.0 - t), neg_inv_one_minus_t, w_neg_inv_one_minus_t }
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
            let mode = [Mode::Leq, Mode::Lt, Mode::Gt, Mode::Eq][rng.below(4) as usize];
            let split = Split {
                feature: rng.below(u64::from(n_features)) as u32,
                mode,
                threshold: (rng.below(5) as f64) - 2.0,
                missing_true: rng.below(2) == 0,
                members: Box::new([]),
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

    /// The contributions of `rows` (`width` values each), explained in one call.
    fn explain(tree: &ShapTree, rows: &[f64], width: usize, rules: &Rules) -> Vec<f64> {
        explain_on(Isa::detect(), tree, rows, width, rules)
    }

    /// [`explain`] in the kernel compiled for `isa`.
    fn explain_on(isa: Isa, tree: &ShapTree, rows: &[f64], width: usize, rules: &Rules) -> Vec<f64> {
        let mut phi = vec![0.0; rows.len()];
        let mut scratch = Scratch::default();
        scratch.load(rows, width);
        tree.explain_rows_on(isa, &mut phi, &mut scratch, rules.get(tree.points()));
        phi
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
            let phi = explain(&tree, &row, row.len(), &rules);
            let want = brute_force(&tree, &row, n_features);
            for (j, (a, b)) in phi.iter().zip(&want).enumerate() {
                assert!((a - b).abs() < 1e-12, "case {case} feature {j}: {a} vs {b}");
            }
            let total: f64 = phi.iter().sum::<f64>() + tree.expected();
            assert!((total - tree.value(&row)).abs() < 1e-12, "case {case}: local accuracy");
        }
    }

    #[test]
    fn rows_walked_together_and_in_every_kernel_get_exactly_what_each_gets_alone() {
        let mut rng = Lcg(9);
        let rules = Rules::up_to(MAX_POINTS);
        let mut laned = 0;
        for case in 0..200 {
            let n_features = 1 + rng.below(10) as u32;
            let depth = 1 + rng.below(9) as u32;
            let tree = random_tree(&mut rng, depth, n_features);
            let width = n_features as usize;
            let n = 1 + rng.below(LANES as u64) as usize;
            // (n = 2, 3..4 and 5..8 walk 2, 4 and 8 lanes)
            let rows = random_values(&mut rng, n * width);
            laned += usize::from(n > 1 && tree.laned);
            // The row alone in the baseline kernel is the reference; every kernel this CPU runs, laned or not,
            // must give it bit for bit.
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for isa in Isa::available() {
                let together = explain_on(isa, &tree, &rows, width, &rules);
                for r in 0..n {
                    let row = &rows[r * width..(r + 1) * width];
                    let alone = explain_on(Isa::Baseline, &tree, row, width, &rules);
                    assert_eq!(
                        bits(&together[r * width..(r + 1) * width]),
                        bits(&alone),
                        "case {case} row {r} of {n} in {isa:?}"
                    );
                    assert_eq!(bits(&explain_on(isa, &tree, row, width, &rules)), bits(&alone), "case {case} {isa:?}");
                }
            }
        }
        assert!(laned > 100, "most cases walk lanes ({laned})");
    }

    #[test]
    fn a_deep_chain_on_few_features_walks_row_by_row_with_the_same_results() {
        // 300 levels testing two features in turn: few quadrature points, but too deep for laned stack frames.
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
        assert!(tree.points() <= LANED_POINTS && !tree.laned, "points {}", tree.points());
        let rules = Rules::up_to(MAX_POINTS);
        let rows = [-5.0, -5.0, 1.0, -2.0, 0.0, f64::NAN];
        let together = explain(&tree, &rows, 2, &rules);
        for r in 0..3 {
            let alone = explain(&tree, &rows[r * 2..r * 2 + 2], 2, &rules);
            assert_eq!(&together[r * 2..r * 2 + 2], &alone[..], "row {r}");
            let total = alone.iter().sum::<f64>() + tree.expected();
            assert!((total - tree.value(&rows[r * 2..r * 2 + 2])).abs() < 1e-9, "row {r}: local accuracy");
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
        tree.explain_rows(&mut phi, &mut scratch, &Rule::gauss_legendre(1));
        assert_eq!(phi, vec![0.0, 0.0]);
        assert_eq!(tree.expected(), 0.25);
    }
}
