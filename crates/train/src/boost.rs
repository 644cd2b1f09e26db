//! The boosting loop: binary log-loss, one tree per round on the current gradients, time-ordered validation and
//! early stopping on validation ROC AUC.
//!
//! Order of a run:
//! 1. Split rows by position: the first `1 − valid_fraction` (earliest in event time) train, the rest validate.
//! 2. Learn vocabularies and bins from the training part only; bin every row.
//! 3. Start from the training fraud rate's log-odds. Each round: gradients and hessians of the log-loss, a new bag
//!    of rows (`bagging_freq`), a new feature subset (`feature_fraction`), one leaf-wise tree, scores updated on
//!    every training and validation row, progress reported, early stopping checked.
//! 4. Keep the best round's trees (with early stopping), measure the kept model on the validation part.
//!
//! Determinism: random draws are keyed by (seed, round, row) ([`crate::random`]); every sum is either sequential
//! or over fixed-size chunks combined in order; histogram parts and split search reduce in a fixed order. So the
//! same data and parameters give a bit-identical model on any thread count.

use std::time::Instant;

use fraudstream_features::FeatureKind;
use rayon::prelude::*;

use crate::baseline::held_out_baseline;
use crate::dataset::Dataset;
use crate::error::{Result, TrainError};
use crate::histogram::HistogramInput;
use crate::matrix::{learn_encodings, BinnedMatrix, Encoding};
use crate::metrics::{roc_auc, Metrics};
use crate::model::{FeatureImportance, ModelFeature, RoundProgress, TrainReport, TrainedModel, ValueKind};
use crate::params::TrainParams;
use crate::random::{choose, Draws, Stream};
use crate::split::Rules;
use crate::tree::{Grower, Limits, Tree};

/// Rows per chunk in parallel per-row passes; fixed, so chunk sums combine the same way on any thread count.
const CHUNK: usize = 8192;

/// Trains a model on `data` with `params`. See [`train_with_progress`].
pub fn train(data: &Dataset, params: &TrainParams) -> Result<TrainedModel> {
    train_with_progress(data, params, &mut |_| {})
}

/// Trains a model on `data` with `params`, calling `progress` after every round (on a training thread).
///
/// Errors: invalid parameters, no training rows, a training part with one class, or early stopping without a
/// validation part that has both classes.
pub fn train_with_progress(
    data: &Dataset,
    params: &TrainParams,
    progress: &mut (dyn FnMut(&RoundProgress) + Send),
) -> Result<TrainedModel> {
    params.validate()?;
    if params.threads == 0 {
        return run(data, params, progress);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(params.threads)
        .build()
        .map_err(|e| TrainError::Threads { threads: params.threads, message: e.to_string() })?;
    pool.install(|| run(data, params, progress))
}

fn run(
    data: &Dataset,
    params: &TrainParams,
    progress: &mut (dyn FnMut(&RoundProgress) + Send),
) -> Result<TrainedModel> {
    let start = Instant::now();
    let n = data.len();
    let n_train = (n as f64 * (1.0 - params.valid_fraction)).floor() as usize;
    if n_train == 0 {
        return Err(TrainError::NoRows(format!(
            "{n} rows with valid_fraction {} leave none for training",
            params.valid_fraction
        )));
    }
    let labels = data.labels();
    let (train_labels, valid_labels) = labels.split_at(n_train);
    let train_pos = train_labels.iter().filter(|&&y| y).count();
    if train_pos == 0 || train_pos == n_train {
        return Err(TrainError::SingleClass { rows: n_train, positives: train_pos });
    }
    let valid_pos = valid_labels.iter().filter(|&&y| y).count();
    let has_valid = valid_pos > 0 && valid_pos < valid_labels.len();
    if params.early_stopping_rounds.is_some() && !has_valid {
        return Err(TrainError::NoValidation(format!(
            "the last {} rows hold {valid_pos} fraud rows; raise valid_fraction or add data",
            valid_labels.len()
        )));
    }

    let encodings = learn_encodings(data, n_train, params.min_category_rows, params.category_smoothing);
    let matrix = BinnedMatrix::build(data, &encodings, n_train, params.max_bin, params.bin_sample_rows);
    let input = HistogramInput::new(&matrix, n_train);
    let usable: Vec<usize> = (0..matrix.n_features()).filter(|&f| matrix.splittable[f]).collect();
    let per_tree = ((usable.len() as f64 * params.feature_fraction).round() as usize).clamp(1, usable.len().max(1));

    let p0 = train_pos as f64 / n_train as f64;
    let base_score = (p0 / (1.0 - p0)).ln();
    let mut train_scores = vec![base_score; n_train];
    let mut valid_scores = vec![base_score; n - n_train];
    let mut gh = vec![[0f32; 2]; n_train];
    gradients(&train_scores, train_labels, &mut gh);

    let rules = Rules {
        lambda_l2: params.lambda_l2,
        min_data_in_leaf: params.min_data_in_leaf.min(u32::MAX as usize) as u32,
        min_sum_hessian: params.min_sum_hessian_in_leaf,
        min_gain: params.min_gain_to_split,
    };
    let limits =
        Limits { num_leaves: params.num_leaves, max_depth: params.max_depth, learning_rate: params.learning_rate };
    let mut grower = Grower::new(&input, &matrix, rules, limits);
    let bagging = params.bagging_freq > 0 && params.bagging_fraction < 1.0;
    let all_rows: Vec<u32> = (0..n_train as u32).collect();
    let (mut bag, mut out_of_bag) = (Vec::new(), Vec::new());
    let mut trees: Vec<Tree> = Vec::new();
    let mut history = Vec::new();
    let mut best: Option<(f64, usize)> = None;

    for round in 0..params.rounds {
        if bagging && round % params.bagging_freq == 0 {
            (bag, out_of_bag) = draw_bag(params.seed, round as u64, n_train, params.bagging_fraction);
        }
        let features: Vec<usize> = if per_tree < usable.len() {
            let draws = Draws::new(params.seed, Stream::Features, round as u64);
            choose(&draws, usable.len(), per_tree).into_iter().map(|i| usable[i]).collect()
        } else {
            usable.clone()
        };
        let (tree, ranges) = grower.grow(if bagging { &bag } else { &all_rows }, &gh, &features);
        if tree.nodes.is_empty() {
            // No leaf can be split any more: further rounds would add nothing.
            break;
        }
        for (leaf, range) in ranges.iter().enumerate() {
            let v = tree.leaf_values[leaf];
            for &r in &grower.order[range.clone()] {
                train_scores[r as usize] += v;
            }
        }
        if bagging {
            let deltas: Vec<f64> =
                out_of_bag.par_iter().map(|&r| tree.leaf_values[tree.leaf_of_row(&matrix, r as usize)]).collect();
            for (&r, d) in out_of_bag.iter().zip(deltas) {
                train_scores[r as usize] += d;
            }
        }
        valid_scores
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, s)| *s += tree.leaf_values[tree.leaf_of_row(&matrix, n_train + i)]);
        trees.push(tree);
        let train_loss = gradients(&train_scores, train_labels, &mut gh);
        let done = round + 1;
        let evaluate = has_valid && params.eval_every > 0 && (done % params.eval_every == 0 || done == params.rounds);
        let valid_auc = if evaluate { roc_auc(&valid_scores, valid_labels) } else { None };
        let record =
            RoundProgress { round: done, rounds: params.rounds, train_loss, valid_auc, elapsed: start.elapsed() };
        progress(&record);
        history.push(record);
        if let (Some(auc), Some(patience)) = (valid_auc, params.early_stopping_rounds) {
            match best {
                Some((b, _)) if auc <= b => {}
                _ => best = Some((auc, done)),
            }
            if best.is_some_and(|(_, at)| done - at >= patience) {
                break;
            }
        }
    }
    let rounds_trained = trees.len();
    if let (Some((_, at)), Some(_)) = (best, params.early_stopping_rounds) {
        trees.truncate(at);
    }
    let rounds_used = trees.len();
    ensure_negative_leaf(&mut trees);

    let features = model_features(data, encodings);
    let importance = importance(&features, &trees);
    // The final model's held-out scores: for the metrics and for the drift baseline in model.json.
    let p: Vec<f64> = (n_train..n)
        .into_par_iter()
        .map(|r| {
            let sum = trees.iter().fold(0f32, |s, t| s + t.leaf_values[t.leaf_of_row(&matrix, r)] as f32);
            f64::from(fraudstream_model::logistic(sum + base_score as f32))
        })
        .collect();
    let metrics = if has_valid { Metrics::compute(&p, valid_labels) } else { None };
    let baseline = held_out_baseline(data, &importance, n_train..n, &p);
    let report = TrainReport {
        train_rows: n_train,
        valid_rows: n - n_train,
        rounds_trained,
        rounds_used,
        metrics,
        importance,
        history,
        train_seconds: start.elapsed().as_secs_f64(),
    };
    Ok(TrainedModel::new(features, trees, base_score, params.clone(), report, data.fingerprint())
        .with_baseline(baseline))
}

/// Writes the log-loss gradient and hessian of every row into `gh` and returns the mean loss.
fn gradients(scores: &[f64], labels: &[bool], gh: &mut [[f32; 2]]) -> f64 {
    let losses: Vec<f64> = gh
        .par_chunks_mut(CHUNK)
        .zip(scores.par_chunks(CHUNK).zip(labels.par_chunks(CHUNK)))
        .map(|(gh, (scores, labels))| {
            let mut loss = 0.0;
            for ((out, &s), &y) in gh.iter_mut().zip(scores).zip(labels) {
                // One exponential serves the probability and the loss: e = exp(-|s|).
                let e = (-s.abs()).exp();
                let p = if s >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
                let y = f64::from(u8::from(y));
                *out = [(p - y) as f32, (p * (1.0 - p)) as f32];
                loss += s.max(0.0) + e.ln_1p() - y * s;
            }
            loss
        })
        .collect();
    losses.iter().sum::<f64>() / scores.len().max(1) as f64
}

/// The rows of round `round`'s bag (each training row independently with probability `fraction`) and the rest.
fn draw_bag(seed: u64, round: u64, n: usize, fraction: f64) -> (Vec<u32>, Vec<u32>) {
    let draws = Draws::new(seed, Stream::Bagging, round);
    let parts: Vec<(Vec<u32>, Vec<u32>)> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let (mut inside, mut outside) = (Vec::new(), Vec::new());
            for r in c * CHUNK..((c + 1) * CHUNK).min(n) {
                if draws.unit(r as u64) < fraction {
                    inside.push(r as u32);
                } else {
                    outside.push(r as u32);
                }
            }
            (inside, outside)
        })
        .collect();
    let (mut bag, mut rest) = (Vec::new(), Vec::new());
    for (i, o) in parts {
        bag.extend(i);
        rest.extend(o);
    }
    (bag, rest)
}

/// onnxruntime reads a binary classifier whose leaf weights are all non-negative as already holding probabilities
/// (no logistic). A model with no negative leaf (or no tree) gets one extra single-leaf tree of weight
/// `-f32::MIN_POSITIVE`, which changes no score by more than that and keeps the logistic in place.
fn ensure_negative_leaf(trees: &mut Vec<Tree>) {
    if !trees.iter().flat_map(|t| &t.leaf_values).any(|&v| (v as f32) < 0.0) {
        trees.push(Tree { nodes: Vec::new(), leaf_values: vec![-f64::from(f32::MIN_POSITIVE)], leaf_counts: vec![1] });
    }
}

fn model_features(data: &Dataset, encodings: Vec<Encoding>) -> Vec<ModelFeature> {
    let set = data.features();
    set.names()
        .iter()
        .zip(set.kinds())
        .zip(encodings)
        .map(|((name, kind), encoding)| ModelFeature {
            name: name.clone(),
            kind: match kind {
                FeatureKind::Numeric => ValueKind::Numeric,
                FeatureKind::Categorical => ValueKind::Categorical,
            },
            vocabulary: match encoding {
                Encoding::Categorical { vocabulary, .. } => Some(vocabulary),
                Encoding::Numeric => None,
            },
        })
        .collect()
}

fn importance(features: &[ModelFeature], trees: &[Tree]) -> Vec<FeatureImportance> {
    let mut out: Vec<FeatureImportance> =
        features.iter().map(|f| FeatureImportance { feature: f.name.clone(), gain: 0.0, splits: 0 }).collect();
    for node in trees.iter().flat_map(|t| &t.nodes) {
        if let Some(i) = out.get_mut(node.feature as usize) {
            i.gain += node.gain;
            i.splits += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_and_loss_follow_the_log_loss() {
        let scores = [-40.0, -2.0, 0.0, 0.5, 3.0, 40.0];
        let labels = [false, true, false, true, false, true];
        let mut gh = [[0f32; 2]; 6];
        let loss = gradients(&scores, &labels, &mut gh);
        let mut want = 0.0;
        for ((&s, &y), [g, h]) in scores.iter().zip(&labels).zip(gh) {
            let p = 1.0 / (1.0 + (-s).exp());
            let y = f64::from(u8::from(y));
            assert!((f64::from(g) - (p - y)).abs() < 1e-7 && (f64::from(h) - p * (1.0 - p)).abs() < 1e-7, "{s}");
            want += -(y * p.max(1e-300).ln() + (1.0 - y) * (1.0 - p).max(1e-300).ln());
        }
        assert!((loss - want / 6.0).abs() < 1e-9, "{loss} vs {}", want / 6.0);
    }

    #[test]
    fn bags_are_keyed_by_seed_and_round_and_cover_every_row_once() {
        let (bag, rest) = draw_bag(3, 5, 50_000, 0.8);
        assert_eq!(bag.len() + rest.len(), 50_000);
        assert!((bag.len() as f64 / 50_000.0 - 0.8).abs() < 0.01);
        assert!(bag.windows(2).all(|w| w[0] < w[1]) && rest.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(draw_bag(3, 5, 50_000, 0.8).0, bag);
        assert_ne!(draw_bag(3, 6, 50_000, 0.8).0, bag);
    }
}
