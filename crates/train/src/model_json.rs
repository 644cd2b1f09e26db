//! `model.json`: the human- and machine-readable description that travels with `model.onnx` — which features in
//! which order with which vocabularies, the parameters, the held-out metrics, and which data and trainer made it.
//!
//! The trees themselves live only in the ONNX file; this card is what a reviewer, a dashboard or the stream's
//! start-up check reads. `format_version` changes whenever a field changes meaning.
//!
//! Measured figures (metrics, gains, base score) are rounded to 15 significant digits — all an `f64` reliably holds
//! in decimal — so every JSON parser, serde_json's default one included, reads back exactly the value written and
//! the card round-trips.

use fraudstream_model::drift::Baseline;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fingerprint::hex;
use crate::metrics::Metrics;
use crate::model::{FeatureImportance, ModelFeature, TrainedModel};
use crate::params::TrainParams;

/// Version of the `model.json` layout written by this crate.
pub const MODEL_JSON_FORMAT: u32 = 1;

/// The contents of `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// [`MODEL_JSON_FORMAT`] of the writer.
    pub format_version: u32,
    /// `fraudstream-train <version>`.
    pub trainer: String,
    /// The model's inputs in graph order, with vocabularies of categorical features.
    pub features: Vec<ModelFeature>,
    /// Training parameters.
    pub parameters: TrainParams,
    /// Held-out metrics (absent without a validation part holding both classes).
    pub metrics: Option<Metrics>,
    /// Rounds trained before stopping.
    pub rounds_trained: usize,
    /// Rounds (trees) in the model.
    pub rounds_used: usize,
    /// Training and validation rows.
    pub train_rows: usize,
    /// Validation rows (the last ones in event time).
    pub valid_rows: usize,
    /// Initial log-odds of every prediction.
    pub base_score: f64,
    /// Fingerprint of the training data, 16 hex digits (also in the ONNX metadata).
    pub data_fingerprint: String,
    /// Importance per feature, in feature order.
    pub importance: Vec<FeatureImportance>,
    /// Drift baseline: held-out distributions of the top inputs by gain and of the score. Optional, so cards
    /// written before it existed still parse (and `format_version` did not change: no field changed meaning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
}

impl ModelCard {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Parses `model.json`.
    pub fn from_json(s: &str) -> Result<ModelCard> {
        Ok(serde_json::from_str(s)?)
    }
}

impl TrainedModel {
    /// The description written to `model.json`.
    pub fn card(&self) -> ModelCard {
        let r = &self.report;
        ModelCard {
            format_version: MODEL_JSON_FORMAT,
            trainer: format!("fraudstream-train {}", env!("CARGO_PKG_VERSION")),
            features: self.features.clone(),
            parameters: self.params.clone(),
            metrics: r.metrics.clone().map(|m| Metrics {
                valid_auc: round15(m.valid_auc),
                valid_pr_auc: round15(m.valid_pr_auc),
                recall_at_1pct_fpr: round15(m.recall_at_1pct_fpr),
                recall_at_5pct_fpr: round15(m.recall_at_5pct_fpr),
                valid_log_loss: round15(m.valid_log_loss),
                ..m
            }),
            rounds_trained: r.rounds_trained,
            rounds_used: r.rounds_used,
            train_rows: r.train_rows,
            valid_rows: r.valid_rows,
            base_score: round15(self.base_score),
            data_fingerprint: hex(self.fingerprint),
            importance: r.importance.iter().map(|i| FeatureImportance { gain: round15(i.gain), ..i.clone() }).collect(),
            baseline: self.baseline.clone(),
        }
    }
}

/// `x` rounded to 15 significant digits (unchanged when not finite).
fn round15(x: f64) -> f64 {
    format!("{x:.14e}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::round15;

    #[test]
    fn rounded_figures_survive_serde_json() {
        for x in [0.11486486486486489, -0.5537276453102001, 178.37829433458705, 1e-9, 0.0, 12345678.9] {
            let r = round15(x);
            assert!((r - x).abs() <= x.abs() * 1e-14);
            let back: f64 = serde_json::from_str(&serde_json::to_string(&r).expect("json")).expect("parse");
            assert_eq!(back.to_bits(), r.to_bits(), "{x}");
        }
    }
}
