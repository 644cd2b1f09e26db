//! One regression tree, grown leaf-wise: the leaf whose best split gains most is split next, until the tree has
//! `num_leaves` leaves or no leaf can be split (LightGBM's growth order).
//!
//! Rows of the current bag live in one index array; each leaf owns a contiguous, ascending range of it, and a split
//! partitions that range stably in place. Only the smaller child's histogram is built from rows; the larger child
//! reuses the parent's buffer minus the smaller one. Leaf ids follow LightGBM: a split leaf keeps its id for its
//! left child and the right child gets the next id.

use std::ops::Range;

use rayon::prelude::*;

use crate::binning::MISSING_BIN;
use crate::histogram::{Histogram, HistogramInput};
use crate::matrix::BinnedMatrix;
use crate::split::{best_split, Rules, Split, Stats};

/// Where a branch leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Child {
    Node(u32),
    Leaf(u32),
}

/// A split node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node {
    pub feature: u32,
    /// Value bins `1..=bin` go left.
    pub bin: u8,
    /// The same test on values: `x <= threshold` goes left (exactly "bin ≤ `bin`", see [`crate::binning`]).
    pub threshold: f32,
    pub missing_left: bool,
    /// `[left, right]`.
    pub children: [Child; 2],
    /// Loss reduction of the split (feature importance).
    pub gain: f64,
}

impl Node {
    /// Whether a row with `bin` in this node's feature goes left.
    #[inline]
    pub fn left_by_bin(&self, bin: u8) -> bool {
        goes_left(bin, self.bin, self.missing_left)
    }

    /// Whether a row with value `x` goes left (the exported model's rule).
    #[inline]
    pub fn left_by_value(&self, x: f32) -> bool {
        if x.is_nan() {
            self.missing_left
        } else {
            x <= self.threshold
        }
    }
}

/// The routing rule of a split on value bins `1..=split_bin` (left), with missing values left when `missing_left`.
#[inline]
fn goes_left(bin: u8, split_bin: u8, missing_left: bool) -> bool {
    if bin == MISSING_BIN {
        missing_left
    } else {
        bin <= split_bin
    }
}

/// A grown tree. With no split it is a single leaf (`nodes` empty).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    /// Leaf outputs, shrinkage applied.
    pub leaf_values: Vec<f64>,
    /// Training rows (of the tree's bag) per leaf: the covers TreeSHAP weighs paths by, exported as
    /// `nodes_hitrates` (a split's cover is the sum of its leaves').
    pub leaf_counts: Vec<u32>,
}

impl Tree {
    /// The leaf `route` leads to, where `route(node)` says whether to go left at a node.
    #[inline]
    pub fn leaf(&self, mut route: impl FnMut(&Node) -> bool) -> usize {
        if self.nodes.is_empty() {
            return 0;
        }
        let mut node = &self.nodes[0];
        loop {
            match node.children[usize::from(!route(node))] {
                Child::Node(i) => node = &self.nodes[i as usize],
                Child::Leaf(l) => return l as usize,
            }
        }
    }

    /// Each split's cover: the training rows of its leaves, summed.
    pub fn node_covers(&self) -> Vec<u32> {
        fn walk(t: &Tree, c: Child, covers: &mut [u32]) -> u32 {
            match c {
                Child::Leaf(l) => t.leaf_counts.get(l as usize).copied().unwrap_or(0),
                Child::Node(i) => {
                    let node = &t.nodes[i as usize];
                    let sum = walk(t, node.children[0], covers) + walk(t, node.children[1], covers);
                    covers[i as usize] = sum;
                    sum
                }
            }
        }
        let mut covers = vec![0; self.nodes.len()];
        if !self.nodes.is_empty() {
            walk(self, Child::Node(0), &mut covers);
        }
        covers
    }

    /// Splits on the longest root-to-leaf path (0 for a single leaf).
    pub fn depth(&self) -> usize {
        fn walk(t: &Tree, c: Child) -> usize {
            match c {
                Child::Leaf(_) => 0,
                Child::Node(i) => 1 + t.nodes[i as usize].children.iter().map(|&c| walk(t, c)).max().unwrap_or(0),
            }
        }
        if self.nodes.is_empty() {
            0
        } else {
            walk(self, Child::Node(0))
        }
    }

    /// The leaf of row `row` of the binned matrix.
    #[inline]
    pub fn leaf_of_row(&self, m: &BinnedMatrix, row: usize) -> usize {
        self.leaf(|n| n.left_by_bin(m.columns[n.feature as usize][row]))
    }
}

/// Growth limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub num_leaves: usize,
    pub max_depth: Option<usize>,
    pub learning_rate: f64,
}

struct Leaf {
    range: Range<usize>,
    total: Stats,
    /// Pool slot of this leaf's histogram.
    hist: usize,
    split: Option<Split>,
    depth: usize,
    /// The node and side pointing at this leaf (`None` for the root).
    parent: Option<(usize, usize)>,
}

/// Grows trees; keeps its buffers between trees.
pub(crate) struct Grower<'a> {
    input: &'a HistogramInput,
    matrix: &'a BinnedMatrix,
    rules: Rules,
    limits: Limits,
    pool: Vec<Histogram>,
    /// Part histograms of parallel builds.
    parts: Vec<Histogram>,
    /// The bag's rows, partitioned by leaf after [`Grower::grow`].
    pub order: Vec<u32>,
    scratch: Vec<u32>,
}

/// The histogram slot of a leaf that will not be split (never read).
const NO_HISTOGRAM: usize = usize::MAX;

/// Rows above which a partition runs in parallel chunks.
const PARALLEL_PARTITION_ROWS: usize = 16_384;

impl<'a> Grower<'a> {
    pub fn new(input: &'a HistogramInput, matrix: &'a BinnedMatrix, rules: Rules, limits: Limits) -> Grower<'a> {
        Grower {
            input,
            matrix,
            rules,
            limits,
            pool: Vec::new(),
            parts: Vec::new(),
            order: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Grows one tree on `bag` (ascending training rows) with per-row gradient/hessian `gh`, splitting only on
    /// `features`. Returns the tree and each leaf's range of [`Grower::order`].
    pub fn grow(&mut self, bag: &[u32], gh: &[[f32; 2]], features: &[usize]) -> (Tree, Vec<Range<usize>>) {
        self.order.clear();
        self.order.extend_from_slice(bag);
        let total = bag.iter().fold(Stats::default(), |s, &r| {
            let [g, h] = gh[r as usize];
            s.add(Stats { g: f64::from(g), h: f64::from(h), n: 1 })
        });
        let mut free: Vec<usize> = (0..self.pool.len()).rev().collect();
        let root_hist = self.take_slot(&mut free);
        self.input.build(&self.order, gh, total, features, &mut self.pool[root_hist], &mut self.parts);
        let mut leaves =
            vec![Leaf { range: 0..bag.len(), total, hist: root_hist, split: None, depth: 0, parent: None }];
        leaves[0].split = self.find(&leaves[0], features);
        let mut nodes: Vec<Node> = Vec::new();
        while leaves.len() < self.limits.num_leaves {
            // The best leaf to split; ties go to the lower leaf id.
            let mut pick: Option<(usize, f64)> = None;
            for (i, l) in leaves.iter().enumerate() {
                if let Some(s) = &l.split {
                    if pick.is_none_or(|(_, g)| s.gain > g) {
                        pick = Some((i, s.gain));
                    }
                }
            }
            let Some((li, _)) = pick else { break };
            let Some(split) = leaves[li].split.take() else { break };
            let node_index = nodes.len();
            let right_id = leaves.len();
            let m = self.matrix.mappers.get(split.feature);
            nodes.push(Node {
                feature: split.feature as u32,
                bin: split.bin as u8,
                threshold: m.map_or(f32::INFINITY, |m| m.threshold(split.bin)),
                missing_left: split.missing_left,
                children: [Child::Leaf(li as u32), Child::Leaf(right_id as u32)],
                gain: split.gain,
            });
            if let Some((p, side)) = leaves[li].parent {
                nodes[p].children[side] = Child::Node(node_index as u32);
            }
            let range = leaves[li].range.clone();
            let mid = self.partition(range.clone(), &split);
            debug_assert_eq!(mid - range.start, split.left.n as usize, "histogram counts match the partition");
            let depth = leaves[li].depth + 1;
            let parent_hist = leaves[li].hist;
            let (small_range, small_total, small_is_left) = if split.left.n <= split.right.n {
                (range.start..mid, split.left, true)
            } else {
                (mid..range.end, split.right, false)
            };
            // Histograms only matter for children that may split again.
            let (left_hist, right_hist) = if self.may_split(depth, split.left.n) || self.may_split(depth, split.right.n)
            {
                let small_hist = self.take_slot(&mut free);
                let rows = &self.order[small_range];
                self.input.build(rows, gh, small_total, features, &mut self.pool[small_hist], &mut self.parts);
                let (a, b) = if parent_hist < small_hist {
                    let (x, y) = self.pool.split_at_mut(small_hist);
                    (&mut x[parent_hist], &y[0])
                } else {
                    let (x, y) = self.pool.split_at_mut(parent_hist);
                    (&mut y[0], &x[small_hist])
                };
                a.subtract(b);
                if small_is_left {
                    (small_hist, parent_hist)
                } else {
                    (parent_hist, small_hist)
                }
            } else {
                free.push(parent_hist);
                (NO_HISTOGRAM, NO_HISTOGRAM)
            };
            let left = Leaf {
                range: range.start..mid,
                total: split.left,
                hist: left_hist,
                split: None,
                depth,
                parent: Some((node_index, 0)),
            };
            let right = Leaf {
                range: mid..range.end,
                total: split.right,
                hist: right_hist,
                split: None,
                depth,
                parent: Some((node_index, 1)),
            };
            let left_split = self.find(&left, features);
            let right_split = self.find(&right, features);
            leaves[li] = Leaf { split: left_split, ..left };
            leaves.push(Leaf { split: right_split, ..right });
        }
        let leaf_values =
            leaves.iter().map(|l| self.rules.leaf_value(l.total) * self.limits.learning_rate).collect::<Vec<_>>();
        let leaf_counts = leaves.iter().map(|l| l.total.n).collect();
        let ranges = leaves.iter().map(|l| l.range.clone()).collect();
        (Tree { nodes, leaf_values, leaf_counts }, ranges)
    }

    fn take_slot(&mut self, free: &mut Vec<usize>) -> usize {
        free.pop().unwrap_or_else(|| {
            self.pool.push(Histogram::zeros(self.input.layout.total));
            self.pool.len() - 1
        })
    }

    /// Whether a leaf at `depth` with `rows` rows may be split (both children need `min_data_in_leaf` rows).
    fn may_split(&self, depth: usize, rows: u32) -> bool {
        self.limits.max_depth.is_none_or(|d| depth < d) && rows >= 2 * self.rules.min_data_in_leaf
    }

    fn find(&self, leaf: &Leaf, features: &[usize]) -> Option<Split> {
        if !self.may_split(leaf.depth, leaf.total.n) {
            return None;
        }
        best_split(&self.pool[leaf.hist], &self.input.layout, features, leaf.total, &self.rules)
    }

    /// Stable in-place partition of `order[range]` by the split; returns the first index of the right part.
    fn partition(&mut self, range: Range<usize>, split: &Split) -> usize {
        let col = &self.matrix.columns[split.feature];
        let (split_bin, missing_left) = (split.bin as u8, split.missing_left);
        let left = |row: u32| goes_left(col[row as usize], split_bin, missing_left);
        let rows = &mut self.order[range.clone()];
        if rows.len() >= PARALLEL_PARTITION_ROWS {
            let parts: Vec<(Vec<u32>, Vec<u32>)> = rows
                .par_chunks(PARALLEL_PARTITION_ROWS / 4)
                .map(|chunk| {
                    let mut l = Vec::with_capacity(chunk.len());
                    let mut r = Vec::with_capacity(chunk.len());
                    for &row in chunk {
                        if left(row) {
                            l.push(row);
                        } else {
                            r.push(row);
                        }
                    }
                    (l, r)
                })
                .collect();
            let mut w = 0;
            for (l, _) in &parts {
                rows[w..w + l.len()].copy_from_slice(l);
                w += l.len();
            }
            let mid = w;
            for (_, r) in &parts {
                rows[w..w + r.len()].copy_from_slice(r);
                w += r.len();
            }
            return range.start + mid;
        }
        self.scratch.clear();
        let mut w = 0;
        for i in 0..rows.len() {
            let row = rows[i];
            if left(row) {
                rows[w] = row;
                w += 1;
            } else {
                self.scratch.push(row);
            }
        }
        rows[w..].copy_from_slice(&self.scratch);
        range.start + w
    }
}
