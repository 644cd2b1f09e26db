//! The fast evaluator for the common forest shape: gradient-boosted trees of bounded depth whose leaves each add
//! one value to one target, summed (LightGBM, XGBoost, sklearn GBM exports).
//!
//! Why it is fast:
//! - **Complete trees.** Each tree is padded to a complete binary tree of its depth `d` (a shallower leaf becomes a
//!   subtree whose leaves all hold its value), stored in heap order. Children are then implicit (`2i+1`, `2i+2`),
//!   a node is 8 bytes (`f32` threshold + column offset), and every row takes exactly `d` steps: no leaf test, no
//!   data-dependent loop exit, no branch to mispredict.
//! - **One comparison.** Every LEQ/LT/GTE/GT node with either missing-value rule is rewritten at load as
//!   `v < c` with `v = x` or `v = -x` and the children possibly swapped: `x <= t` becomes `x < next_up(t)`, `x > t`
//!   becomes `-x < -t`, and a node whose missing values go to the true branch is evaluated as its complement with
//!   swapped children. NaN fails every `<`, so it takes the second child, which is where each rewrite puts the
//!   missing-value branch. All rewrites are exact in the forest's arithmetic type.
//! - **Compact, column-major input blocks.** Only the (feature, sign) pairs the trees read are gathered, once per row,
//!   into a block of [`BLOCK`] rows stored column by column; node offsets are premultiplied by [`BLOCK`], so a lane's
//!   value is one load at `offset + row`. The seed model reads 109 of its 1,988 columns.
//! - **Lockstep lanes.** [`LANES`] rows walk each tree together, so their independent load chains overlap.
//!
//! Each row still sums its trees in tree order, so results are bit-identical to the general evaluator and to
//! onnxruntime.

use std::collections::BTreeMap;

use super::compile::{Mode, Spec, SpecNode};
use super::real::Real;

/// Rows per input block; node offsets are premultiplied by it.
pub(crate) const BLOCK: usize = 64;
/// Rows that walk one tree in lockstep.
const LANES: usize = 8;
/// Deepest tree the complete layout accepts; deeper (or badly unbalanced) forests use the general evaluator.
const MAX_DEPTH: u32 = 12;

/// A branch node of a complete tree: go to `2i+1` when `block[offset + row] < threshold`, else to `2i+2`.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct FastNode<T> {
    threshold: T,
    /// Block column × [`BLOCK`].
    offset: u32,
}

#[derive(Debug, Clone, Copy)]
struct FastTree {
    depth: u32,
    /// First node (`2^depth - 1` nodes follow).
    nodes: u32,
    /// First leaf (`2^depth` leaves follow).
    leaves: u32,
}

/// Where a run of equal-depth trees starts ([`FastForest::score_row`]).
struct TreeBase {
    nodes: usize,
    leaves: usize,
    depth: u32,
}

/// A forest compiled for [`FastForest::accumulate`].
#[derive(Debug, Clone)]
pub(crate) struct FastForest<T> {
    trees: Vec<FastTree>,
    nodes: Vec<FastNode<T>>,
    leaves: Vec<T>,
    /// Block column `c` holds input feature `columns[c].0`, negated when `columns[c].1`.
    pub columns: Vec<(usize, bool)>,
    /// The output every leaf adds to.
    pub target: usize,
}

/// `(feature, negate, threshold, swap)`: the node as `v < threshold` with `v = ±x`, and whether the children swap.
fn normalise<T: Real>(s: &SpecNode) -> Option<(usize, bool, T, bool)> {
    let t = T::from_f64(s.threshold);
    // `x <= t` as `x < next_up(t)` is wrong only for t = +inf (x = +inf would fail).
    let up = |t: T| (t != T::from_f64(f64::INFINITY)).then(|| t.next_up());
    let f = s.feature;
    Some(match (s.mode, s.missing_true) {
        (Mode::Leq, false) => (f, false, up(t)?, false),
        (Mode::Lt, false) => (f, false, t, false),
        (Mode::Gte, false) => (f, true, up(-t)?, false),
        (Mode::Gt, false) => (f, true, -t, false),
        // Missing goes to the true branch: evaluate the complement (false for NaN) and swap the children.
        (Mode::Leq, true) => (f, true, -t, true),
        (Mode::Lt, true) => (f, true, up(-t)?, true),
        (Mode::Gte, true) => (f, false, t, true),
        (Mode::Gt, true) => (f, false, up(t)?, true),
        _ => return None,
    })
}

impl<T: Real> FastForest<T> {
    /// Compiles `spec` if it has the supported shape, else `None`. `spec` must already have passed
    /// [`super::compile::Forest::compile`] (valid links, no cycles).
    pub fn build(spec: &Spec, first_weight_only: bool) -> Option<FastForest<T>> {
        let mut target = None;
        for s in spec.nodes.iter().filter(|s| s.mode == Mode::Leaf) {
            let ws = if first_weight_only { &s.weights[..s.weights.len().min(1)] } else { &s.weights[..] };
            let [(t, _)] = ws else { return None };
            if *target.get_or_insert(*t) != *t {
                return None;
            }
        }
        // Depths, node rewrites and columns.
        let mut depths = Vec::with_capacity(spec.roots.len());
        let mut columns = BTreeMap::new();
        let mut stack = Vec::new();
        for &root in &spec.roots {
            let mut depth = 0;
            stack.push((root, 0u32));
            while let Some((i, level)) = stack.pop() {
                let s = spec.nodes.get(i)?;
                if s.mode == Mode::Leaf {
                    depth = depth.max(level);
                    continue;
                }
                if level >= MAX_DEPTH {
                    return None;
                }
                let (f, neg, _, _) = normalise::<T>(s)?;
                columns.insert((f, neg), 0u32);
                stack.push((s.children[0], level + 1));
                stack.push((s.children[1], level + 1));
            }
            depths.push(depth);
        }
        // Trees are walked in runs of LANES consecutive trees for single rows ([`FastForest::score_row`]), which needs
        // equal depths: pad each run's trees to its deepest. Batches pay for the extra steps only in runs of mixed
        // depth (boosted forests are mostly at their max_depth).
        for run in depths.chunks_mut(LANES) {
            let deepest = run.iter().copied().max().unwrap_or(0);
            run.fill(deepest);
        }
        let padded: usize = depths.iter().map(|&d| 1usize << d).sum();
        if padded > 8 * spec.nodes.len() + 4096 {
            return None; // Too unbalanced: padding would blow the forest up.
        }
        for (k, v) in columns.values_mut().enumerate() {
            *v = u32::try_from(k.checked_mul(BLOCK)?).ok()?;
        }
        let mut trees = Vec::with_capacity(spec.roots.len());
        let mut nodes = Vec::with_capacity(padded);
        let mut leaves = Vec::with_capacity(padded);
        for (&root, &depth) in spec.roots.iter().zip(&depths) {
            let tree =
                FastTree { depth, nodes: u32::try_from(nodes.len()).ok()?, leaves: u32::try_from(leaves.len()).ok()? };
            let (nb, lb) = (nodes.len(), leaves.len());
            let first_leaf = (1usize << depth) - 1;
            nodes.resize(nb + first_leaf, FastNode { threshold: T::ZERO, offset: 0 });
            leaves.resize(lb + first_leaf + 1, T::ZERO);
            stack.push((root, 0u32));
            // `pos` is the heap position within the tree, `level` its depth.
            let mut pos_stack = vec![0usize];
            while let (Some((i, level)), Some(pos)) = (stack.pop(), pos_stack.pop()) {
                let s = spec.nodes.get(i)?;
                if s.mode == Mode::Leaf {
                    let w = T::from_f64(s.weights.first()?.1);
                    let k = depth - level;
                    let start = ((pos + 1) << k) - 1 - first_leaf;
                    leaves[lb + start..lb + start + (1 << k)].fill(w);
                    continue;
                }
                let (f, neg, threshold, swap) = normalise::<T>(s)?;
                nodes[nb + pos] = FastNode { threshold, offset: *columns.get(&(f, neg))? };
                let (when_less, otherwise) =
                    if swap { (s.children[1], s.children[0]) } else { (s.children[0], s.children[1]) };
                stack.push((when_less, level + 1));
                pos_stack.push(2 * pos + 1);
                stack.push((otherwise, level + 1));
                pos_stack.push(2 * pos + 2);
            }
            trees.push(tree);
        }
        Some(FastForest { trees, nodes, leaves, columns: columns.into_keys().collect(), target: target.unwrap_or(0) })
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Columns of an input block (at least one, so padding nodes always have a valid column to read).
    pub fn width(&self) -> usize {
        self.columns.len().max(1)
    }

    /// Copies the features the trees read from `rows` rows of `x` (row-major, `stride` values per row) into `block`,
    /// column `c` at `block[c * col_stride..][..rows]` (`col_stride` is [`BLOCK`] for [`FastForest::accumulate`],
    /// 1 for a single row and [`FastForest::score_row`]).
    pub fn gather(&self, x: &[T], stride: usize, rows: usize, col_stride: usize, block: &mut [T]) {
        for (col, &(f, neg)) in block.chunks_exact_mut(col_stride).zip(&self.columns) {
            for (v, row) in col[..rows].iter_mut().zip(x.chunks(stride)) {
                *v = row[f].flip(neg);
            }
        }
    }

    /// The sum of every tree's leaf value, in tree order, for one row (`row[c]` is block column `c`, as
    /// [`FastForest::gather`] writes with `col_stride` 1). The low-latency path for single-row calls.
    pub fn score_row(&self, row: &[T]) -> T {
        let row = &row[..self.width()];
        let mut sum = T::ZERO;
        // One row has one dependent chain of loads per tree, and the forest lives in L2, so walking one tree at a
        // time is latency-bound. Runs of LANES equal-depth trees (all of them, for LightGBM's max_depth) are walked
        // in lockstep instead, then their leaves added in tree order.
        let mut trees = self.trees.as_slice();
        while let Some(first) = trees.first() {
            let depth = first.depth;
            match trees.get(..LANES) {
                Some(run) if run.iter().all(|t| t.depth == depth) => {
                    // Equal-depth neighbours are laid out back to back: lane k's nodes start k * (2^depth - 1)
                    // after the first tree's, its leaves k * 2^depth after.
                    let stride = (1usize << depth) - 1;
                    let base = TreeBase { nodes: first.nodes as usize, leaves: first.leaves as usize, depth };
                    debug_assert!(run.iter().enumerate().all(|(k, t)| t.nodes as usize == base.nodes + k * stride));
                    let mut idx = [0usize; LANES];
                    for _ in 0..depth {
                        for (k, i) in idx.iter_mut().enumerate() {
                            *i = 2 * *i + 2 - usize::from(self.branch(&base, k * stride + *i, row));
                        }
                    }
                    for (k, &i) in idx.iter().enumerate() {
                        sum = sum + self.leaf(&base, k * (stride + 1) + i);
                    }
                    trees = &trees[LANES..];
                }
                _ => {
                    let base = TreeBase { nodes: first.nodes as usize, leaves: first.leaves as usize, depth };
                    let mut i = 0usize;
                    for _ in 0..depth {
                        i = 2 * i + 2 - usize::from(self.branch(&base, i, row));
                    }
                    sum = sum + self.leaf(&base, i);
                    trees = &trees[1..];
                }
            }
        }
        sum
    }

    /// Whether `row` goes to the first child of node `base.nodes + i`.
    ///
    /// Callers pass `i = k * (2^depth - 1) + j` for the `k`-th of a run of equal-depth trees starting at `base`, with
    /// `j < 2^depth - 1` before the last step, so the node is within that tree ([`FastForest::build`] lays trees out
    /// back to back).
    #[inline(always)]
    fn branch(&self, base: &TreeBase, i: usize, row: &[T]) -> bool {
        debug_assert!(base.nodes + i < self.nodes.len() && row.len() == self.width());
        // SAFETY: see above; node offsets are `column * BLOCK` with `column < width() == row.len()`.
        let n = unsafe { *self.nodes.get_unchecked(base.nodes + i) };
        let v = unsafe { *row.get_unchecked(n.offset as usize / BLOCK) };
        v < n.threshold
    }

    /// The leaf reached at heap position `i` after `depth` steps, `i = k * 2^depth + j` for the `k`-th tree of a
    /// run as in [`FastForest::branch`], `2^depth - 1 <= j < 2^(depth+1) - 1`.
    #[inline(always)]
    fn leaf(&self, base: &TreeBase, i: usize) -> T {
        let leaf = base.leaves + i - ((1usize << base.depth) - 1);
        debug_assert!(leaf < self.leaves.len());
        // SAFETY: the run's leaves are `self.leaves[base.leaves..]`, `2^depth` per tree ([`FastForest::build`]).
        unsafe { *self.leaves.get_unchecked(leaf) }
    }

    /// Adds every tree's leaf value, in tree order, to `scores[r]` for each of the first `scores.len()` rows of
    /// `block` (filled as by [`FastForest::gather`]).
    pub fn accumulate(&self, block: &[T], scores: &mut [T]) {
        let rows = scores.len().min(BLOCK);
        let full = rows / LANES * LANES;
        let block = &block[..self.width() * BLOCK];
        for tree in &self.trees {
            let n_nodes = (1usize << tree.depth) - 1;
            let nodes = &self.nodes[tree.nodes as usize..tree.nodes as usize + n_nodes];
            let leaves = &self.leaves[tree.leaves as usize..tree.leaves as usize + n_nodes + 1];
            for row0 in (0..full).step_by(LANES) {
                walk::<T, LANES>(tree.depth, nodes, leaves, block, row0, &mut scores[row0..row0 + LANES]);
            }
            for row0 in full..rows {
                walk::<T, 1>(tree.depth, nodes, leaves, block, row0, &mut scores[row0..row0 + 1]);
            }
        }
    }
}

/// Walks `G` consecutive rows starting at `row0` through one tree of depth `depth` and adds their leaf values.
///
/// Indexing is unchecked because this is the innermost loop (bounds checks were a third of its instructions) and
/// every index is in range by construction: [`FastForest::accumulate`] passes exactly `2^depth - 1` nodes and
/// `2^depth` leaves; after `k < depth` steps a lane's heap index is below `2^(k+1) - 1`, so node reads stay in range
/// and after `depth` steps it lies in `[2^depth - 1, 2^(depth+1) - 1)`, a leaf; node offsets are `column * BLOCK`
/// with `column < width()` ([`FastForest::build`]) and `row0 + G <= BLOCK`, within the `width() * BLOCK` block.
#[inline(always)]
fn walk<T: Real, const G: usize>(
    depth: u32,
    nodes: &[FastNode<T>],
    leaves: &[T],
    block: &[T],
    row0: usize,
    scores: &mut [T],
) {
    debug_assert!(nodes.len() + 1 == 1 << depth && leaves.len() == 1 << depth);
    debug_assert!(row0 + G <= BLOCK && scores.len() == G);
    let mut idx = [0usize; G];
    let lanes = &block[row0..];
    for _ in 0..depth {
        for (g, i) in idx.iter_mut().enumerate() {
            // SAFETY: see the function comment; `*i < 2^depth - 1 = nodes.len()` before the last step.
            let n = unsafe { *nodes.get_unchecked(*i) };
            debug_assert!((n.offset as usize + g) < lanes.len());
            // SAFETY: `offset + row0 + g < width() * BLOCK <= block.len()`.
            let v = unsafe { *lanes.get_unchecked(n.offset as usize + g) };
            *i = 2 * *i + 2 - usize::from(v < n.threshold);
        }
    }
    let first_leaf = (1usize << depth) - 1;
    for (score, &i) in scores.iter_mut().zip(&idx) {
        debug_assert!(i - first_leaf < leaves.len());
        // SAFETY: after `depth` steps `first_leaf <= i < first_leaf + leaves.len()`.
        *score = *score + unsafe { *leaves.get_unchecked(i - first_leaf) };
    }
}

#[cfg(test)]
mod tests {
    use super::super::compile::Forest;
    use super::super::eval::{accumulate, Acc, Agg};
    use super::*;
    use crate::test_rng::Lcg;

    const VALUES: [f64; 10] = [0.0, -0.0, 1.5, -1.5, 2.0, 1e-35, -3.25, 7.0, 1.0000001, 0.99999994];

    /// A random forest using every comparison mode and missing-value rule, with unbalanced trees.
    fn random_spec(rng: &mut Lcg, n_trees: usize, max_depth: u32, n_features: usize) -> Spec {
        let mut spec = Spec { n_targets: 2, ..Spec::default() };
        fn grow(spec: &mut Spec, rng: &mut Lcg, depth: u32, max_depth: u32, n_features: usize) -> usize {
            let idx = spec.nodes.len();
            let leaf = depth == max_depth || (depth > 0 && rng.next().is_multiple_of(4));
            spec.nodes.push(SpecNode {
                feature: rng.next() as usize % n_features,
                threshold: rng.pick(&VALUES),
                mode: if leaf { Mode::Leaf } else { rng.pick(&[Mode::Leq, Mode::Lt, Mode::Gte, Mode::Gt]) },
                missing_true: rng.next().is_multiple_of(2),
                children: [0, 0],
                members: Vec::new(),
                weights: if leaf { vec![(1, (rng.next() % 1000) as f64 / 7.0 - 70.0)] } else { Vec::new() },
            });
            if !leaf {
                let t = grow(spec, rng, depth + 1, max_depth, n_features);
                let f = grow(spec, rng, depth + 1, max_depth, n_features);
                spec.nodes[idx].children = [t, f];
            }
            idx
        }
        for _ in 0..n_trees {
            let root = grow(&mut spec, rng, 0, max_depth, n_features);
            spec.roots.push(root);
        }
        spec
    }

    fn check<T: Real>(seed: u64) {
        let mut rng = Lcg(seed);
        let n_features = 5;
        let spec = random_spec(&mut rng, 40, 1 + (seed % 7) as u32, n_features);
        let forest = Forest::<T>::compile(&spec, false).expect("compiles");
        let fast = FastForest::<T>::build(&spec, false).expect("fast shape");
        let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.4999999, 2.0000002];
        let rows = 150;
        let x: Vec<T> = (0..rows * n_features)
            .map(|_| T::from_f64(if rng.next().is_multiple_of(3) { rng.pick(&specials) } else { rng.pick(&VALUES) }))
            .collect();
        let mut acc = Acc::default();
        accumulate(&forest, Agg::Sum, &x, n_features, rows, &mut acc);
        let want: Vec<T> = (0..rows).map(|r| acc.scores[r * 2 + 1]).collect();
        // Lockstep blocks, including a partial last block.
        let mut block = vec![T::ZERO; fast.width() * BLOCK];
        for start in (0..rows).step_by(BLOCK) {
            let n = BLOCK.min(rows - start);
            fast.gather(&x[start * n_features..], n_features, n, BLOCK, &mut block);
            let mut sums = vec![T::ZERO; n];
            fast.accumulate(&block, &mut sums);
            for (r, s) in sums.iter().enumerate() {
                assert!(s.to_f32().to_bits() == want[start + r].to_f32().to_bits(), "seed {seed} row {}", start + r);
            }
        }
        // Row by row.
        let mut row = vec![T::ZERO; fast.width()];
        for r in 0..rows {
            fast.gather(&x[r * n_features..], n_features, 1, 1, &mut row);
            let s = fast.score_row(&row);
            assert!(s.to_f32().to_bits() == want[r].to_f32().to_bits(), "seed {seed} row {r} (single)");
        }
    }

    #[test]
    fn fast_evaluator_matches_the_general_one_bit_for_bit() {
        for seed in 0..40 {
            check::<f32>(seed);
            check::<f64>(seed);
        }
    }

    #[test]
    fn next_up_is_the_next_representable_value() {
        assert_eq!(0.0f32.next_up(), f32::from_bits(1));
        assert_eq!((-0.0f32).next_up(), f32::from_bits(1));
        assert_eq!(1.0f32.next_up(), 1.0000001);
        assert_eq!((-1.0f32).next_up(), -0.99999994);
        assert_eq!(f32::NEG_INFINITY.next_up(), f32::MIN);
        assert_eq!(f32::INFINITY.next_up(), f32::INFINITY);
        assert_eq!(Real::next_up(1.0f64), 1.0000000000000002);
    }

    #[test]
    fn too_deep_or_multi_weight_forests_are_left_to_the_general_evaluator() {
        // A chain: branch 2d (depth d) has leaf 2d+1 on the true side and branch 2d+2 (or, last, one more leaf) on
        // the false side, so the tree is MAX_DEPTH + 2 deep.
        let depth = MAX_DEPTH as usize + 2;
        let mut chain = Spec { n_targets: 1, roots: vec![0], ..Spec::default() };
        let node = |mode, children, weights| SpecNode {
            feature: 0,
            threshold: 0.5,
            mode,
            missing_true: false,
            children,
            members: Vec::new(),
            weights,
        };
        for d in 0..depth {
            chain.nodes.push(node(Mode::Leq, [2 * d + 1, 2 * d + 2], Vec::new()));
            chain.nodes.push(node(Mode::Leaf, [0, 0], vec![(0, 1.0)]));
        }
        chain.nodes.push(node(Mode::Leaf, [0, 0], vec![(0, 2.0)]));
        assert!(Forest::<f32>::compile(&chain, false).is_ok());
        assert!(FastForest::<f32>::build(&chain, false).is_none());

        let mut multi = random_spec(&mut Lcg(3), 3, 3, 2);
        if let Some(leaf) = multi.nodes.iter_mut().find(|n| n.mode == Mode::Leaf) {
            leaf.weights.push((0, 1.0));
        }
        assert!(FastForest::<f32>::build(&multi, false).is_none());
        // onnxruntime's single-target path reads only the first weight, so there the forest qualifies.
        assert!(FastForest::<f32>::build(&multi, true).is_some());
    }
}
