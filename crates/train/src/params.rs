//! [`TrainParams`]: every knob of a training run, with LightGBM's names and defaults where LightGBM has the knob,
//! so a LightGBM parameter set carries over and figures can be compared like for like.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Parameters of one training run. `Default` gives LightGBM's defaults (learning rate 0.05 as fraud models use),
/// a 20 % time-ordered validation part, 300 rounds and no early stopping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainParams {
    /// Shrinkage applied to every tree's leaf values.
    pub learning_rate: f64,
    /// Boosting rounds (trees) at most.
    pub rounds: usize,
    /// Leaves per tree; trees grow leaf-wise (best gain first) until they have this many.
    pub num_leaves: usize,
    /// Depth limit per tree; `None` is unlimited (LightGBM's `-1`).
    pub max_depth: Option<usize>,
    /// Value bins per feature at most (one more bin holds missing values). At most 255.
    pub max_bin: usize,
    /// Fewest training rows a leaf may hold.
    pub min_data_in_leaf: usize,
    /// Smallest hessian sum a leaf may hold.
    pub min_sum_hessian_in_leaf: f64,
    /// L2 regularisation of leaf values.
    pub lambda_l2: f64,
    /// Smallest gain a split must bring.
    pub min_gain_to_split: f64,
    /// Share of features each tree may split on, drawn per tree.
    pub feature_fraction: f64,
    /// Share of training rows each bag holds.
    pub bagging_fraction: f64,
    /// Draw a new bag every this many rounds; 0 disables bagging.
    pub bagging_freq: usize,
    /// Stop when validation ROC AUC has not improved for this many rounds, and keep the best round's trees.
    pub early_stopping_rounds: Option<usize>,
    /// Share of rows, the last ones in push (event-time) order, held out for validation and metrics.
    pub valid_fraction: f64,
    /// Compute validation AUC every this many rounds (0: only at the end). Early stopping checks on these rounds.
    pub eval_every: usize,
    /// Seed for bagging and feature sampling; the same seed and data give a bit-identical model.
    pub seed: u64,
    /// Training threads; 0 uses every core. The model does not depend on it.
    pub threads: usize,
    /// Training rows sampled (evenly spaced, deterministic) to find bin boundaries.
    pub bin_sample_rows: usize,
    /// A category needs this many training rows to get its own code; rarer ones share the unknown code.
    pub min_category_rows: usize,
    /// Pseudo-rows of the overall fraud rate mixed into each category's rate before categories are ordered.
    pub category_smoothing: f64,
}

impl Default for TrainParams {
    fn default() -> TrainParams {
        TrainParams {
            learning_rate: 0.05,
            rounds: 300,
            num_leaves: 31,
            max_depth: None,
            max_bin: 255,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            lambda_l2: 0.0,
            min_gain_to_split: 0.0,
            feature_fraction: 1.0,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            early_stopping_rounds: None,
            valid_fraction: 0.2,
            eval_every: 1,
            seed: 0,
            threads: 0,
            bin_sample_rows: 200_000,
            min_category_rows: 20,
            category_smoothing: 10.0,
        }
    }
}

impl TrainParams {
    /// Checks every range; the first bad parameter is the error.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |name: &'static str, value: String, reason: &'static str| Err(TrainError::BadParam { name, value, reason });
        let unit_open = |v: f64| v > 0.0 && v <= 1.0;
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning_rate", self.learning_rate.to_string(), "must be a positive number");
        }
        if self.rounds == 0 {
            return bad("rounds", "0".into(), "at least one round");
        }
        if self.num_leaves < 2 || self.num_leaves > 1 << 16 {
            return bad("num_leaves", self.num_leaves.to_string(), "between 2 and 65536");
        }
        if self.max_depth == Some(0) {
            return bad("max_depth", "0".into(), "at least 1 (or unset for no limit)");
        }
        if !(2..=255).contains(&self.max_bin) {
            return bad("max_bin", self.max_bin.to_string(), "between 2 and 255");
        }
        if self.min_data_in_leaf == 0 {
            return bad("min_data_in_leaf", "0".into(), "at least 1");
        }
        if !(self.min_sum_hessian_in_leaf >= 0.0 && self.min_sum_hessian_in_leaf.is_finite()) {
            return bad("min_sum_hessian_in_leaf", self.min_sum_hessian_in_leaf.to_string(), "a number >= 0");
        }
        if !(self.lambda_l2 >= 0.0 && self.lambda_l2.is_finite()) {
            return bad("lambda_l2", self.lambda_l2.to_string(), "a number >= 0");
        }
        if !(self.min_gain_to_split >= 0.0 && self.min_gain_to_split.is_finite()) {
            return bad("min_gain_to_split", self.min_gain_to_split.to_string(), "a number >= 0");
        }
        if !unit_open(self.feature_fraction) {
            return bad("feature_fraction", self.feature_fraction.to_string(), "in (0, 1]");
        }
        if !unit_open(self.bagging_fraction) {
            return bad("bagging_fraction", self.bagging_fraction.to_string(), "in (0, 1]");
        }
        if !(self.valid_fraction >= 0.0 && self.valid_fraction < 1.0) {
            return bad("valid_fraction", self.valid_fraction.to_string(), "in [0, 1)");
        }
        if self.early_stopping_rounds == Some(0) {
            return bad("early_stopping_rounds", "0".into(), "at least 1 (or unset to disable)");
        }
        if self.early_stopping_rounds.is_some() && self.eval_every == 0 {
            return bad("eval_every", "0".into(), "early stopping needs evaluations during training");
        }
        if self.bin_sample_rows == 0 {
            return bad("bin_sample_rows", "0".into(), "at least 1");
        }
        if !(self.category_smoothing >= 0.0 && self.category_smoothing.is_finite()) {
            return bad("category_smoothing", self.category_smoothing.to_string(), "a number >= 0");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_out_of_range_values_are_named() {
        TrainParams::default().validate().expect("defaults");
        let err = TrainParams { bagging_fraction: 1.5, ..TrainParams::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("bagging_fraction = 1.5"), "{err}");
        let err = TrainParams { learning_rate: f64::NAN, ..TrainParams::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("learning_rate"), "{err}");
    }
}
