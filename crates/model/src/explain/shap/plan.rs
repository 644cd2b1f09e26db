//! A tree's static walk plan, so rows can be explained without recursion (see [`super::walk`]).
//!
//! Everything the recursive walk tracks per path, except which side a row takes, depends only on the tree: the
//! edge whose factor product feeds a node, whether the path has tested the node's feature before and on which edge,
//! and that feature's merged zero fraction there. Computing these once per tree leaves a walk two flat loops: split
//! nodes in preorder (parents before children) to carry the products down, then in postorder (children before
//! parents, the recursion's order) to sum `H` back up and add contributions. On the seed model, against the laned
//! recursion it replaced (`score_sample explain 2 1 N`, µs per row): 1 row 567 → 387, 2 rows 416 → 211, 4 rows
//! 208 → 172, 8 rows 170 → 119.
//!
//! Each split node's step holds everything a walk reads of it, split and leaf values included, in one 64-byte
//! record (plus two bytes of postorder): a stream explains a few alerts between the batches it scores, so the trees
//! are out of the caches at every call and a walk waits on reading them (`score_sample explain-cold`). Spread over
//! the tree's nodes, the plan's links and zero fractions, and the leaves, a split node had cost about 110 bytes in
//! five arrays. With [`super::ShapTree::prefetch`] and the compares in registers ([`super::simd`]), on the seed
//! model (µs per row, cold caches, against the layout before): 8 rows 134 → 83, 4 rows 212 → 115, 1 row 733 → 465.

use super::{ShapTree, LEAF};
use crate::tree::Mode;

/// No such edge (a root's feeding edge; the previous edge on a feature the path has not tested) or, as a child, a
/// leaf.
pub(super) const NONE: u16 = u16::MAX;

/// Split nodes a plan can hold: positions and edges (two per node) must fit the steps' 16-bit links below
/// [`NONE`].
pub(super) const MAX_NODES: usize = (NONE as usize) / 2;

/// The walk plan of one tree. Split nodes are numbered in preorder ("positions"); the edge to side `s` (0: true,
/// 1: false) of the node at position `i` is edge `2i + s`.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    /// The split node at each position.
    pub steps: Vec<Step>,
    /// Positions in postorder.
    pub post: Vec<u16>,
}

/// What a walk reads of the split node at one position, in a cache line's worth of bytes. Not aligned to one:
/// with `align(64)` the seed model's 8-lane walk measured 70 → 84 µs per row (`score_sample explain 2 1 8`),
/// although every step then sits in one line.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(super) struct Step {
    /// The split's threshold (comparison modes).
    pub threshold: f64,
    /// `cover(child) / cover(node)` for `[true, false]`.
    pub zero: [f64; 2],
    /// The merged zero fraction of the node's feature on the path above it (1 when the path has not tested it).
    pub zp: f64,
    /// Per side: the leaf's value when that side is a leaf.
    pub leaf: [f64; 2],
    /// The feature tested.
    pub feature: u32,
    /// Index in the tree's nodes (whose split the tests other than comparisons need: equality, set membership).
    pub node: u16,
    /// The edge into it ([`NONE`] for the root).
    pub parent_edge: u16,
    /// The nearest edge above it on the same feature ([`NONE`]: the path has not tested it).
    pub prev: u16,
    /// Per side: the child's position, or [`NONE`] for a leaf.
    pub child: [u16; 2],
    pub mode: Mode,
    pub missing_true: bool,
}

impl Step {
    /// Whether each lane's value takes the true side, as 1 or 0 ([`super::Split::goes_true_lanes`]).
    #[inline(always)]
    pub fn goes_true_lanes<const L: usize>(&self, tree: &ShapTree, v: &[f64]) -> [f64; L] {
        super::compare_lanes(self.mode, self.threshold, self.missing_true, v)
            .unwrap_or_else(|| tree.nodes[self.node as usize].split.goes_true_lanes(v))
    }
}

impl Plan {
    /// The plan of `tree`, or `None` when its root is a leaf or it has more than [`MAX_NODES`] split nodes.
    pub fn of(tree: &ShapTree) -> Option<Plan> {
        let count = tree.nodes.len();
        if tree.root & LEAF != 0 || count > MAX_NODES {
            return None;
        }
        let mut plan = Plan { steps: Vec::with_capacity(count), post: Vec::with_capacity(count) };
        let features = tree.nodes.iter().map(|n| n.split.feature as usize + 1).max().unwrap_or(0);
        let mut zero = Vec::with_capacity(2 * count);
        plan.visit(tree, tree.root, NONE, &mut vec![NONE; features], &mut zero);
        Some(plan)
    }

    /// Numbers the split node `node` and those below it; `last` holds the last edge on each feature along the path
    /// (restored before returning) and `zero` each numbered edge's merged zero fraction. Returns the node's
    /// position.
    fn visit(&mut self, tree: &ShapTree, node: u32, parent_edge: u16, last: &mut [u16], zero: &mut Vec<f64>) -> u16 {
        debug_assert!(self.steps.len() < MAX_NODES, "`of` checks the node count");
        let position = self.steps.len() as u16;
        let n = &tree.nodes[node as usize];
        let feature = n.split.feature as usize;
        let prev = last[feature];
        let zp = if prev == NONE { 1.0 } else { zero[prev as usize] };
        let mut leaf = [0.0; 2];
        for (value, &child) in leaf.iter_mut().zip(&n.children) {
            if child & LEAF != 0 {
                *value = tree.leaves[(child & !LEAF) as usize];
            }
        }
        self.steps.push(Step {
            threshold: n.split.threshold,
            zero: n.zero,
            zp,
            leaf,
            feature: n.split.feature,
            node: node as u16,
            parent_edge,
            prev,
            child: [NONE; 2],
            mode: n.split.mode,
            missing_true: n.split.missing_true,
        });
        for side in 0..2 {
            // The recursive walk's product: the side's own fraction on a first test, else times the merged one.
            zero.push(if prev == NONE { n.zero[side] } else { zp * n.zero[side] });
        }
        for (side, &child) in n.children.iter().enumerate() {
            if child & LEAF == 0 {
                let edge = 2 * position + side as u16;
                last[feature] = edge;
                let at = self.visit(tree, child, edge, last, zero);
                self.steps[position as usize].child[side] = at;
            }
        }
        last[feature] = prev;
        self.post.push(position);
        position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_a_cache_line_s_worth() {
        assert_eq!(std::mem::size_of::<Step>(), 64);
    }
}
