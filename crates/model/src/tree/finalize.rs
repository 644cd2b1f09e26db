//! Turning one row's per-class sums into output scores and a label, following onnxruntime's tree aggregators
//! case by case (binary classifiers with one weight class, base values of length 1 or 2, `has_score` gating, the
//! single-target regressor path that ignores every transform but PROBIT).

use super::eval::Agg;
use super::real::Real;
use crate::post::{apply_many, logistic, probit, PostTransform};

/// The operator-specific end of a tree ensemble.
#[derive(Debug, Clone)]
pub(crate) enum Finalizer {
    Classifier {
        post: PostTransform,
        base_values: Vec<f64>,
        /// Label value per class (indices for string labels).
        labels: Vec<i64>,
        /// Two classes and every weight names the same class.
        binary_case: bool,
        /// No negative class weight.
        all_positive: bool,
    },
    Regressor {
        post: PostTransform,
        agg: Agg,
        base_values: Vec<f64>,
        n_targets: usize,
    },
}

impl Finalizer {
    /// Number of output scores per row.
    pub fn width(&self) -> usize {
        match self {
            Finalizer::Classifier { labels, .. } => labels.len(),
            Finalizer::Regressor { n_targets, .. } => *n_targets,
        }
    }

    /// onnxruntime's single-output path (one regression target), which reads only each leaf's first weight.
    pub fn single_output(&self) -> bool {
        matches!(self, Finalizer::Regressor { n_targets: 1, .. })
    }

    /// Finalises one row: writes `z` (len [`Self::width`]) and returns the label value (0 for regressors).
    pub fn finish<T: Real>(
        &self,
        scores: &[T],
        has: &[bool],
        n_trees: usize,
        z: &mut [f32],
        p: &mut Vec<(T, bool)>,
    ) -> i64 {
        p.clear();
        p.extend(scores.iter().copied().zip(has.iter().copied()));
        match self {
            Finalizer::Classifier { post, base_values, labels, binary_case, all_positive } => {
                classify(p, base_values, labels, *binary_case, *all_positive, *post, z)
            }
            Finalizer::Regressor { post, agg, base_values, n_targets } => {
                let base = |k: usize| T::from_f64(base_values[k]);
                if *n_targets == 1 {
                    let origin = if base_values.len() == 1 { base(0) } else { T::ZERO };
                    let (s, h) = p[0];
                    let v = match agg {
                        Agg::Sum => s + origin,
                        Agg::Average => s / T::from_usize(n_trees) + origin,
                        Agg::Min | Agg::Max => {
                            if h {
                                s + origin
                            } else {
                                origin
                            }
                        }
                    };
                    z[0] = if *post == PostTransform::Probit { probit(v.to_f32()) } else { v.to_f32() };
                    return 0;
                }
                let use_base = base_values.len() == *n_targets;
                for (k, (s, h)) in p.iter_mut().enumerate() {
                    *s = match agg {
                        Agg::Sum if use_base => *s + base(k),
                        Agg::Sum => *s,
                        Agg::Average if use_base => *s / T::from_usize(n_trees) + base(k),
                        Agg::Average => *s / T::from_usize(n_trees),
                        Agg::Min | Agg::Max => {
                            let b = if use_base { base(k) } else { T::ZERO };
                            b + if *h { *s } else { T::ZERO }
                        }
                    };
                }
                write_scores(p, *post, z, -1);
                0
            }
        }
    }
}

fn gated<T: Real>((s, h): (T, bool)) -> T {
    if h {
        s
    } else {
        T::ZERO
    }
}

fn classify<T: Real>(
    p: &mut Vec<(T, bool)>,
    base: &[f64],
    labels: &[i64],
    binary_case: bool,
    all_positive: bool,
    post: PostTransform,
    z: &mut [f32],
) -> i64 {
    let mut extra = -1;
    let label;
    let base_len = base.len();
    if p.len() > 2 {
        for (k, &b) in base.iter().enumerate().take(p.len()) {
            let b = T::from_f64(b);
            if p[k].1 {
                p[k].0 = p[k].0 + b;
            } else {
                p[k] = (b, true);
            }
        }
        let mut best: Option<(usize, T)> = None;
        for (k, &(s, h)) in p.iter().enumerate() {
            if h && best.is_none_or(|(_, m)| s > m) {
                best = Some((k, s));
            }
        }
        label = labels.get(best.map_or(0, |(k, _)| k)).copied().unwrap_or(0);
    } else {
        let base = |k: usize| T::from_f64(base[k]);
        match base_len {
            2 => {
                if p[1].1 {
                    // onnxruntime ignores base_values[0] here and mirrors the class-1 score.
                    p[1].0 = base(1) + p[0].0;
                    p[0].0 = -p[1].0;
                } else {
                    p[1].0 = p[1].0 + base(1);
                    p[0].0 = p[0].0 + base(0);
                }
            }
            1 => {
                p[0].0 = p[0].0 + base(0);
                if !p[1].1 {
                    p.pop();
                }
            }
            _ => {
                extra = 3;
                if !p[1].1 {
                    p.pop();
                }
            }
        }
        let (s0, h0) = p[0];
        let pos = match p.get(1) {
            Some(&(s1, true)) => s1,
            _ if h0 => s0,
            _ => T::ZERO,
        };
        let label_at = |k: usize| labels.get(k).copied().unwrap_or(0);
        label = if binary_case {
            if all_positive {
                if pos > T::from_f64(0.5) {
                    extra = 0;
                    label_at(1)
                } else {
                    extra = 1;
                    label_at(0)
                }
            } else if pos > T::ZERO {
                extra = 2;
                label_at(1)
            } else {
                extra = 3;
                label_at(0)
            }
        } else if pos > T::ZERO {
            1
        } else {
            0
        };
    }
    write_scores(p, post, z, extra);
    label
}

/// onnxruntime's `write_scores`: transform and write a row, expanding a single binary score to two columns.
fn write_scores<T: Real>(p: &[(T, bool)], post: PostTransform, z: &mut [f32], extra: i32) {
    if p.len() >= 2 {
        for (zk, &v) in z.iter_mut().zip(p) {
            *zk = gated(v).to_f32();
        }
        let n = p.len().min(z.len());
        apply_many(post, &mut z[..n]);
        return;
    }
    let Some(&first) = p.first() else { return };
    let s = gated(first);
    if post == PostTransform::Probit {
        z[0] = probit(s.to_f32());
        return;
    }
    match extra {
        0 | 1 if z.len() >= 2 => {
            z[0] = (T::ONE - s).to_f32();
            z[1] = s.to_f32();
        }
        2 | 3 if z.len() >= 2 => {
            if post == PostTransform::Logistic {
                z[0] = logistic((-s).to_f32());
                z[1] = logistic(s.to_f32());
            } else {
                z[0] = (-s).to_f32();
                z[1] = s.to_f32();
            }
        }
        _ => z[0] = s.to_f32(),
    }
}
