//! Finding a leaf's best split from its histogram.
//!
//! For every candidate feature, thresholds are tried between value bins (`left = bins 1..=k`), each twice: with
//! the leaf's missing values sent right and sent left, and the better is kept — the learned default direction the
//! exported node records in `nodes_missing_value_tracks_true`. When the leaf has no missing values the direction
//! cannot be learned here; missing values then follow the child with more rows. Gains are LightGBM's
//! `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)`; ties go to the lower feature index, then the lower threshold, then
//! "missing right", so the choice is deterministic.

use rayon::prelude::*;

use crate::binning::MISSING_BIN;
use crate::histogram::{Histogram, Layout};

/// Gradient sum, hessian sum and row count of a set of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Stats {
    pub g: f64,
    pub h: f64,
    pub n: u32,
}

impl Stats {
    #[inline]
    pub fn add(self, o: Stats) -> Stats {
        Stats { g: self.g + o.g, h: self.h + o.h, n: self.n + o.n }
    }

    #[inline]
    pub fn sub(self, o: Stats) -> Stats {
        Stats { g: self.g - o.g, h: self.h - o.h, n: self.n.saturating_sub(o.n) }
    }
}

/// The constraints every child must meet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub lambda_l2: f64,
    pub min_data_in_leaf: u32,
    pub min_sum_hessian: f64,
    pub min_gain: f64,
}

impl Rules {
    /// `G² / (H + λ)`; 0 for an empty side (only reachable with `min_sum_hessian_in_leaf = 0` and `λ = 0`).
    #[inline]
    fn score(&self, s: Stats) -> f64 {
        let d = s.h + self.lambda_l2;
        if d > 0.0 {
            s.g * s.g / d
        } else {
            0.0
        }
    }

    #[inline]
    fn admissible(&self, s: Stats) -> bool {
        s.n >= self.min_data_in_leaf && s.h >= self.min_sum_hessian
    }

    /// The leaf value (before shrinkage) that minimises the second-order loss.
    #[inline]
    pub fn leaf_value(&self, s: Stats) -> f64 {
        let v = -s.g / (s.h + self.lambda_l2);
        if v.is_finite() {
            v
        } else {
            0.0
        }
    }
}

/// A chosen split of a leaf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Split {
    pub feature: usize,
    /// Value bins `1..=bin` go left.
    pub bin: usize,
    /// Whether missing values (bin 0) go left.
    pub missing_left: bool,
    pub gain: f64,
    pub left: Stats,
    pub right: Stats,
}

/// The best split of a leaf with totals `total` over `features`, or `None` when no split meets the rules.
pub(crate) fn best_split(
    hist: &Histogram,
    layout: &Layout,
    features: &[usize],
    total: Stats,
    rules: &Rules,
) -> Option<Split> {
    let parent = rules.score(total);
    let per_feature = |&f: &usize| best_for_feature(hist, layout, f, total, parent, rules);
    let better = |a: Option<Split>, b: Option<Split>| match (a, b) {
        (Some(x), Some(y)) => Some(if y.gain > x.gain || (y.gain == x.gain && y.feature < x.feature) { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    };
    // Parallel over features only when the leaf is big enough for it to pay; the reduction is order-independent
    // because `better` is a total order on (gain, feature).
    if features.len() * 64 >= 4096 && total.n >= 4096 {
        features.par_iter().map(per_feature).reduce(|| None, better)
    } else {
        features.iter().map(per_feature).fold(None, better)
    }
}

fn best_for_feature(
    hist: &Histogram,
    layout: &Layout,
    f: usize,
    total: Stats,
    parent: f64,
    rules: &Rules,
) -> Option<Split> {
    let range = layout.range(f);
    let base = range.start;
    let n_bins = range.len();
    let missing = hist.stats(base + MISSING_BIN as usize);
    let has_missing = missing.n > 0;
    let mut left = Stats::default();
    let mut best: Option<(f64, usize, bool, Stats, Stats)> = None;
    let mut best_gain = rules.min_gain;
    for k in 1..n_bins {
        let bin = hist.stats(base + k);
        if bin.n == 0 {
            continue;
        }
        left = left.add(bin);
        // Missing right: the right side shrinks as k grows; once too small it stays too small.
        let right = total.sub(left);
        if right.n < rules.min_data_in_leaf {
            break;
        }
        if rules.admissible(left) && rules.admissible(right) {
            let gain = rules.score(left) + rules.score(right) - parent;
            if gain > best_gain {
                best_gain = gain;
                best = Some((gain, k, false, left, right));
            }
        }
        if has_missing {
            let l = left.add(missing);
            let r = right.sub(missing);
            if rules.admissible(l) && rules.admissible(r) {
                let gain = rules.score(l) + rules.score(r) - parent;
                if gain > best_gain {
                    best_gain = gain;
                    best = Some((gain, k, true, l, r));
                }
            }
        }
    }
    best.map(|(gain, bin, missing_left, left, right)| Split {
        feature: f,
        bin,
        // No missing values seen here: send future ones with the majority.
        missing_left: if has_missing { missing_left } else { left.n > right.n },
        gain,
        left,
        right,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(bins: &[(f64, f64, u32)]) -> (Histogram, Layout, Stats) {
        let layout = Layout::new(vec![bins.len()]);
        let mut h = Histogram::zeros(bins.len());
        let mut total = Stats::default();
        for (i, &(g, hh, n)) in bins.iter().enumerate() {
            h.set(i, Stats { g, h: hh, n });
            total = total.add(Stats { g, h: hh, n });
        }
        (h, layout, total)
    }

    const RULES: Rules = Rules { lambda_l2: 0.0, min_data_in_leaf: 1, min_sum_hessian: 0.0, min_gain: 0.0 };

    #[test]
    fn separates_positive_from_negative_gradients() {
        // Bins: missing, then values with gradients -, -, +, +.
        let (h, l, t) = hist(&[(0.0, 0.0, 0), (-4.0, 1.0, 4), (-4.0, 1.0, 4), (4.0, 1.0, 4), (4.0, 1.0, 4)]);
        let s = best_split(&h, &l, &[0], t, &RULES).expect("split");
        assert_eq!((s.bin, s.left.n, s.right.n), (2, 8, 8));
        assert!(!s.missing_left, "no missing values: majority side, a tie goes right");
    }

    #[test]
    fn missing_values_go_to_the_side_they_resemble() {
        // Missing rows have negative gradients like bin 1.
        let (h, l, t) = hist(&[(-6.0, 1.5, 6), (-4.0, 1.0, 4), (4.0, 1.0, 4), (4.0, 1.0, 4)]);
        let s = best_split(&h, &l, &[0], t, &RULES).expect("split");
        assert_eq!((s.bin, s.missing_left, s.left.n), (1, true, 10));
        // And with positive gradients, right.
        let (h, l, t) = hist(&[(6.0, 1.5, 6), (-4.0, 1.0, 4), (4.0, 1.0, 4), (4.0, 1.0, 4)]);
        let s = best_split(&h, &l, &[0], t, &RULES).expect("split");
        assert_eq!((s.bin, s.missing_left, s.right.n), (1, false, 14));
    }

    #[test]
    fn min_data_in_leaf_is_respected() {
        let (h, l, t) = hist(&[(0.0, 0.0, 0), (-4.0, 1.0, 2), (4.0, 1.0, 30)]);
        assert!(best_split(&h, &l, &[0], t, &Rules { min_data_in_leaf: 3, ..RULES }).is_none());
        assert!(best_split(&h, &l, &[0], t, &Rules { min_data_in_leaf: 2, ..RULES }).is_some());
    }
}
