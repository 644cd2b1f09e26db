//! Model monitoring as the page shows it: per model (a champion and, when one runs beside it, a challenger), online
//! quality from delayed labels and input/score drift.
//!
//! Published with [`crate::Dashboard::update_monitoring`], separately from [`crate::Snapshot`]: a job that monitors
//! nothing never fills it, and existing snapshot producers need no change. Like the rest of the model, these are
//! plain serde structs the job fills from its own monitors (`fraudstream_model::drift::DriftReport` maps field by
//! field onto [`DriftView`]).

use serde::{Deserialize, Serialize};

use crate::model::Quality;

/// Every monitored model, champion first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Monitoring {
    /// One entry per model; the page compares two side by side.
    pub models: Vec<ModelMonitoring>,
}

/// What the job knows about one model's health.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelMonitoring {
    /// Model name as the job loaded it.
    pub model: String,
    /// Whether its scores decide (champion) or are only recorded for comparison (challenger).
    pub role: ModelRole,
    /// Online quality from delayed labels; `None` while the job joins no labels for this model.
    pub quality: Option<Quality>,
    /// Input and score drift; `None` while the job monitors no drift for this model.
    pub drift: Option<DriftView>,
}

/// A model's part in the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelRole {
    /// Its scores raise the alerts.
    #[default]
    Champion,
    /// Scored on the same traffic for comparison; raises nothing.
    Challenger,
}

/// Drift of one model's inputs and score against its baseline (Population Stability Index).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftView {
    /// Where the baseline came from, as text for the page: e.g. `model.json`, `first window`, or
    /// `collecting first window (4,000 of 10,000)`.
    pub baseline: String,
    /// Observations in the rolling window.
    pub observations: u64,
    /// Window length.
    pub window: u64,
    /// PSI above which an input alerts; the page draws it as the threshold line.
    pub alert_psi: f64,
    /// The score distribution's PSI; `None` before there is anything to compare.
    pub score_psi: Option<f64>,
    /// Whether the score's PSI has crossed the threshold (and not yet fallen back).
    pub score_alerting: bool,
    /// The most drifting inputs, highest PSI first (the page shows the first ten).
    pub inputs: Vec<InputDrift>,
}

/// One input's drift.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputDrift {
    /// Model input name.
    pub name: String,
    /// PSI of the window against the baseline.
    pub psi: f64,
    /// Whether it has crossed the threshold (and not yet fallen back).
    pub alerting: bool,
}
