//! [`TrainedModel`]: the trees, how features are encoded for them, and what training measured — and the trainer's
//! own predictions, computed the way the exported ONNX graph computes them.
//!
//! Prediction mirrors the export step by step so that the two can be compared to the last bit: categories through
//! the vocabulary (the `LabelEncoder`), `x <= threshold` on `f32` with the learned missing direction, leaf values
//! summed as `f32` in tree order, then the base score, then onnxruntime's `f32` logistic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fraudstream_features::InputValue;
use fraudstream_model::drift::Baseline;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, RawColumn};
use crate::error::{Result, TrainError};
use crate::metrics::Metrics;
use crate::params::TrainParams;
use crate::tree::Tree;
use crate::vocabulary::Vocabulary;

/// Whether a model input is a number or a category string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// A `float` input; NaN is missing.
    Numeric,
    /// A `string` input, encoded by the feature's vocabulary; `""` is missing.
    Categorical,
}

/// One input of a trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFeature {
    /// The feature name, which is also the exported graph input's name.
    pub name: String,
    /// Number or category.
    pub kind: ValueKind,
    /// The frozen codes of a categorical feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocabulary: Option<Vocabulary>,
}

/// A feature's share of the model: total gain of its splits and how many splits use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportance {
    /// Feature name.
    pub feature: String,
    /// Sum of the loss reduction of every split on the feature.
    pub gain: f64,
    /// Number of splits on the feature.
    pub splits: u64,
}

/// One boosting round, as the progress callback sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundProgress {
    /// Rounds done (1-based).
    pub round: usize,
    /// Rounds at most.
    pub rounds: usize,
    /// Mean log-loss on the training part after this round.
    pub train_loss: f64,
    /// Validation ROC AUC after this round, on evaluation rounds.
    pub valid_auc: Option<f64>,
    /// Time since training started.
    pub elapsed: Duration,
}

/// What a training run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Rows in the training part.
    pub train_rows: usize,
    /// Rows in the validation part.
    pub valid_rows: usize,
    /// Rounds trained before stopping.
    pub rounds_trained: usize,
    /// Rounds in the model (the best round when early stopping is on).
    pub rounds_used: usize,
    /// Held-out metrics of the final model (`None` without a validation part with both classes).
    pub metrics: Option<Metrics>,
    /// Importance per feature, in feature order.
    pub importance: Vec<FeatureImportance>,
    /// Every round's progress record.
    pub history: Vec<RoundProgress>,
    /// Wall time of the whole run: vocabularies, binning and boosting.
    pub train_seconds: f64,
}

/// A trained boosted-tree model.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    pub(crate) features: Vec<ModelFeature>,
    pub(crate) trees: Vec<Tree>,
    /// Initial log-odds (the training part's fraud rate).
    pub(crate) base_score: f64,
    pub(crate) params: TrainParams,
    pub(crate) report: TrainReport,
    pub(crate) fingerprint: u64,
    /// Held-out distributions of the top inputs and of the score, for drift monitoring.
    pub(crate) baseline: Option<Baseline>,
}

impl TrainedModel {
    pub(crate) fn new(
        features: Vec<ModelFeature>,
        trees: Vec<Tree>,
        base_score: f64,
        params: TrainParams,
        report: TrainReport,
        fingerprint: u64,
    ) -> TrainedModel {
        TrainedModel { features, trees, base_score, params, report, fingerprint, baseline: None }
    }

    /// The same model with a drift baseline (see [`crate::BASELINE_INPUTS`]).
    pub(crate) fn with_baseline(self, baseline: Option<Baseline>) -> TrainedModel {
        TrainedModel { baseline, ..self }
    }

    /// The drift baseline: the held-out rows' distributions of the top inputs by gain and of the score (`None`
    /// without held-out rows). Written to `model.json`; the stream's drift monitor compares live traffic with it.
    pub fn baseline(&self) -> Option<&Baseline> {
        self.baseline.as_ref()
    }

    /// The model's inputs in graph order.
    pub fn features(&self) -> &[ModelFeature] {
        &self.features
    }

    /// The parameters it was trained with.
    pub fn params(&self) -> &TrainParams {
        &self.params
    }

    /// What training measured.
    pub fn report(&self) -> &TrainReport {
        &self.report
    }

    /// Fingerprint of the training data ([`Dataset::fingerprint`]).
    pub fn data_fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// The deepest tree's depth (splits on its longest path). Leaf-wise trees can be deep and unbalanced; this says
    /// how many comparisons the worst row needs per tree when the model is served.
    pub fn max_depth(&self) -> usize {
        self.trees.iter().map(Tree::depth).max().unwrap_or(0)
    }

    /// Initial log-odds every prediction starts from.
    pub fn base_score(&self) -> f64 {
        self.base_score
    }

    /// The fraud probability of one row of feature values (in [`features`](Self::features) order), exactly as the
    /// exported model computes it.
    pub fn predict_row(&self, values: &[InputValue<'_>]) -> Result<f32> {
        if values.len() != self.features.len() {
            return Err(TrainError::RowWidth { row: 0, got: values.len(), expected: self.features.len() });
        }
        let mut x = Vec::with_capacity(values.len());
        for (v, f) in values.iter().zip(&self.features) {
            x.push(match (v, &f.vocabulary) {
                (InputValue::Num(n), None) => *n as f32,
                (InputValue::Str(s), Some(vocabulary)) => vocabulary.code(s),
                (_, vocabulary) => {
                    let (expected, got) =
                        if vocabulary.is_some() { ("categorical", "a number") } else { ("numeric", "a string") };
                    return Err(TrainError::ValueKind { row: 0, feature: f.name.clone(), expected, got });
                }
            });
        }
        Ok(self.probability(|f| x[f]))
    }

    /// The fraud probability of every row of `data` (which must have this model's features, in order), exactly as
    /// the exported model computes it.
    pub fn predict_dataset(&self, data: &Dataset) -> Result<Vec<f32>> {
        let columns = self.encoded_columns(data)?;
        Ok((0..data.len()).into_par_iter().map(|r| self.probability(|f| columns[f](r))).collect())
    }

    /// The matrix the exported tree ensemble sees for `data` — numbers as `f32`, categories as their codes —
    /// row-major `[rows, features]`. For comparing other learners on exactly the same inputs.
    pub fn encoded_matrix(&self, data: &Dataset) -> Result<Vec<f32>> {
        let columns = self.encoded_columns(data)?;
        let width = columns.len();
        let mut out = vec![0f32; data.len() * width];
        out.par_chunks_mut(width.max(1)).enumerate().for_each(|(r, row)| {
            for (x, col) in row.iter_mut().zip(&columns) {
                *x = col(r);
            }
        });
        Ok(out)
    }

    /// Per feature, a row → encoded value function over `data`'s columns (each distinct string is looked up once).
    #[allow(clippy::type_complexity)]
    fn encoded_columns<'d>(&'d self, data: &'d Dataset) -> Result<Vec<Box<dyn Fn(usize) -> f32 + Sync + 'd>>> {
        let names = data.features().names();
        if names.len() != self.features.len() {
            return Err(TrainError::FeatureMismatch(format!(
                "{} features, the model has {}",
                names.len(),
                self.features.len()
            )));
        }
        if let Some((n, f)) = names.iter().zip(&self.features).find(|(n, f)| **n != f.name) {
            return Err(TrainError::FeatureMismatch(format!("`{n}` where the model has `{}`", f.name)));
        }
        Ok(data
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| -> Box<dyn Fn(usize) -> f32 + Sync + 'd> {
                match (c, &self.features[i].vocabulary) {
                    (RawColumn::Numeric(v), None) => Box::new(move |r| v[r]),
                    (RawColumn::Categorical(c), Some(vocabulary)) => {
                        let by_id: Vec<f32> = c.strings.iter().map(|s| vocabulary.code(s)).collect();
                        Box::new(move |r| by_id[c.ids[r] as usize])
                    }
                    _ => Box::new(|_| f32::NAN),
                }
            })
            .collect())
    }

    /// The probability for encoded feature values `x(f)`.
    fn probability(&self, x: impl Fn(usize) -> f32) -> f32 {
        let mut sum = 0f32;
        for t in &self.trees {
            sum += t.leaf_values[t.leaf(|n| n.left_by_value(x(n.feature as usize)))] as f32;
        }
        fraudstream_model::logistic(sum + self.base_score as f32)
    }

    /// Writes `model.onnx` and `model.json` into `dir` (created if missing); returns their paths.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<(PathBuf, PathBuf)> {
        let dir = dir.as_ref();
        let io = |path: &Path, source| TrainError::Io { path: path.display().to_string(), source };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let onnx = dir.join("model.onnx");
        let json = dir.join("model.json");
        std::fs::write(&onnx, self.to_onnx()).map_err(|e| io(&onnx, e))?;
        std::fs::write(&json, self.card().to_json()?).map_err(|e| io(&json, e))?;
        Ok((onnx, json))
    }
}
