//! Walking compiled trees over a block of rows.
//!
//! The loop is tree-major within a block (every row of the block walks tree 0, then tree 1, …): one tree's nodes
//! stay in L1 while the block's rows stream past, and each row still sums its trees in tree order, which keeps
//! floating-point results identical to onnxruntime's sequential accumulation.

use super::compile::{Forest, Kind, Leaves, Node, FEATURE_MASK, LE, LEAF, NEG};
use super::real::Real;

/// How leaf values of different trees combine (`aggregate_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agg {
    Sum,
    Average,
    Min,
    Max,
}

/// Per-row, per-target accumulators of a block: `(score, has_score)` as onnxruntime tracks them.
#[derive(Debug, Default)]
pub(crate) struct Acc<T> {
    pub scores: Vec<T>,
    pub has: Vec<bool>,
}

impl<T: Real> Acc<T> {
    fn reset(&mut self, len: usize) {
        self.scores.clear();
        self.scores.resize(len, T::ZERO);
        self.has.clear();
        self.has.resize(len, false);
    }
}

const K_LE: u8 = 0;
const K_LT: u8 = 1;
const K_UNIFORM: u8 = 2;

#[inline(always)]
fn find_leaf<T: Real, const K: u8>(nodes: &[Node<T>], root: u32, row: &[T]) -> usize {
    let mut link = root;
    while link & LEAF == 0 {
        let n = &nodes[link as usize];
        let v = row[(n.feature & FEATURE_MASK) as usize];
        let go = match K {
            K_LE => v <= n.threshold,
            K_LT => v < n.threshold,
            _ => {
                let xs = v.flip(n.feature & NEG != 0);
                (xs < n.threshold) | ((n.feature & LE != 0) & (xs == n.threshold))
            }
        };
        link = n.children[usize::from(!go)];
    }
    (link & !LEAF) as usize
}

fn find_leaf_general<T: Real>(forest: &Forest<T>, root: u32, row: &[T]) -> usize {
    let mut link = root;
    while link & LEAF == 0 {
        let i = link as usize;
        let n = &forest.nodes[i];
        let g = &forest.general[i];
        let v = row[(n.feature & FEATURE_MASK) as usize];
        let go = g.mode.goes_true(v, n.threshold, &g.members, g.missing_true);
        link = n.children[usize::from(!go)];
    }
    (link & !LEAF) as usize
}

/// Evaluates every tree on `rows` rows of `x` (row-major, `stride` values per row, `stride >= n_features`) and
/// leaves the per-target accumulations in `acc` (`rows * n_targets` entries).
pub(crate) fn accumulate<T: Real>(forest: &Forest<T>, agg: Agg, x: &[T], stride: usize, rows: usize, acc: &mut Acc<T>) {
    acc.reset(rows * forest.n_targets);
    match forest.kind {
        Kind::Le => accumulate_with(forest, agg, x, stride, rows, acc, find_leaf::<T, K_LE>),
        Kind::Lt => accumulate_with(forest, agg, x, stride, rows, acc, find_leaf::<T, K_LT>),
        Kind::Uniform => accumulate_with(forest, agg, x, stride, rows, acc, find_leaf::<T, K_UNIFORM>),
        Kind::General => {
            accumulate_with(forest, agg, x, stride, rows, acc, |_, root, row| find_leaf_general(forest, root, row))
        }
    }
}

#[inline(always)]
fn accumulate_with<T: Real, F>(
    forest: &Forest<T>,
    agg: Agg,
    x: &[T],
    stride: usize,
    rows: usize,
    acc: &mut Acc<T>,
    find: F,
) where
    F: Fn(&[Node<T>], u32, &[T]) -> usize,
{
    let nodes = forest.nodes.as_slice();
    let n_out = forest.n_targets;
    let rows_x: Vec<&[T]> = x.chunks_exact(stride).take(rows).collect();
    match (&forest.leaves, agg) {
        (Leaves::Single { target, values }, Agg::Sum | Agg::Average) => {
            let target = *target;
            if n_out == 1 {
                // The hot path: one accumulator per row.
                let scores = &mut acc.scores[..rows];
                for &root in &forest.roots {
                    for (score, row) in scores.iter_mut().zip(&rows_x) {
                        *score = *score + values[find(nodes, root, row)];
                    }
                }
            } else {
                for &root in &forest.roots {
                    for (r, row) in rows_x.iter().enumerate() {
                        let s = &mut acc.scores[r * n_out + target];
                        *s = *s + values[find(nodes, root, row)];
                    }
                }
            }
            if !forest.roots.is_empty() {
                for r in 0..rows {
                    acc.has[r * n_out + target] = true;
                }
            }
        }
        _ => {
            for &root in &forest.roots {
                for (r, row) in rows_x.iter().enumerate() {
                    let leaf = find(nodes, root, row);
                    let base = r * n_out;
                    match &forest.leaves {
                        Leaves::Single { target, values } => {
                            combine(agg, &mut acc.scores[base + target], &mut acc.has[base + target], values[leaf])
                        }
                        Leaves::Multi { ranges, weights } => {
                            let (start, len) = ranges[leaf];
                            for &(t, w) in &weights[start as usize..(start + len) as usize] {
                                let k = base + t as usize;
                                combine(agg, &mut acc.scores[k], &mut acc.has[k], w);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn combine<T: Real>(agg: Agg, score: &mut T, has: &mut bool, w: T) {
    match agg {
        Agg::Sum | Agg::Average => *score = *score + w,
        Agg::Min => {
            if !*has || w < *score {
                *score = w
            }
        }
        Agg::Max => {
            if !*has || w > *score {
                *score = w
            }
        }
    }
    *has = true;
}
