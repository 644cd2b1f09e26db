//! Drift: how far the live distribution of each model input, and of the score, has moved from a baseline,
//! measured with the Population Stability Index (PSI).
//!
//! Labels come back weeks after a payment is scored (chargebacks), so a model can decay for a month before its
//! online ROC AUC shows it. Input and score distributions are known at once: PSI over a rolling window of live
//! traffic against the distribution the model was validated on is the early warning.
//!
//! - [`Baseline`]: per input, bins and the share of a reference sample in each (numeric: quantile edges; categorical:
//!   the top categories, "other", missing), plus the score distribution over fixed bins. `fraudstream train` stores
//!   one in `model.json`, computed on the held-out rows; it serializes with serde.
//! - [`DriftMonitor`]: the last N observations as bin indices in a ring (N × (inputs + 1) bytes), PSI per input and
//!   for the score, a report sorted by PSI, and threshold crossings that fire once per crossing. Without a baseline
//!   the first N observations become it (models without a `model.json`, such as the seed model).
//!
//! # PSI
//! `PSI = Σ_b (a_b − e_b) · ln(a_b / e_b)` over bins `b`, with `e` the baseline shares and `a` the window's. Both are
//! floored at [`PSI_EPSILON`] so that a bin empty on one side contributes a large but finite term instead of an
//! infinite one. The usual reading (credit-scoring practice, also used by ML monitoring tools): below 0.1 stable,
//! 0.1 to 0.25 a moderate shift, above 0.25 a major one; [`DriftConfig`] alerts above 0.25 by default.
//!
//! The PSI of a finite window against its own population is not zero: with `B` bins and `N` observations it is about
//! `(B − 1) / N` (it is a chi-square statistic divided by `N`), 0.001 for 12 bins and a 10,000-row window — far below
//! any threshold, which is why the window should hold thousands of rows.

mod baseline;
mod lookup;
mod monitor;

pub use baseline::{
    Baseline, BaselineConfig, Bins, InputBaseline, InputSample, SampleValues, DEFAULT_NUMERIC_BINS,
    DEFAULT_TOP_CATEGORIES, MAX_BINS, SCORE_EDGES,
};
pub use monitor::{
    BaselineSource, DriftAlert, DriftConfig, DriftMonitor, DriftReport, DriftState, InputDrift, InputKind, InputSpec,
    Monitored, RowObserver, DEFAULT_ALERT_PSI, DEFAULT_REARM_PSI, DEFAULT_WINDOW, MAX_WINDOW,
};

/// Smallest share a bin is given in the PSI sum (0.01 %): an empty bin then contributes at most
/// `a · ln(a / 0.0001)` (0.31 for a bin holding 5 % on the other side) rather than infinity.
pub const PSI_EPSILON: f64 = 1e-4;

/// The PSI between a baseline's bin shares (`expected`) and observed ones (`actual`), both floored at
/// [`PSI_EPSILON`]. Slices of different lengths are compared over the shorter one (callers always pass equal
/// lengths; the monitor builds both from one set of bins).
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(PSI_EPSILON), a.max(PSI_EPSILON));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Why a baseline or a monitor could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriftError {
    /// A baseline needs at least one observation per input and one score.
    #[error("no observations of `{name}`: a baseline needs at least one")]
    EmptySample {
        /// The input (or `score`).
        name: String,
    },
    /// Two inputs of one baseline or monitor share a name.
    #[error("input `{0}` appears twice")]
    DuplicateInput(String),
    /// A baseline describes an input the model does not have (the baseline belongs to another model).
    #[error("the baseline describes input `{name}`, which the model does not have (model inputs: {known})")]
    UnknownInput {
        /// The baseline's input name.
        name: String,
        /// The first model input names, for the message.
        known: String,
    },
    /// A baseline's bins and proportions disagree, or it has more bins than the monitor's one-byte bin index holds.
    #[error("baseline of `{name}` is inconsistent: {reason}")]
    BadBaseline {
        /// The input (or `score`).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A configuration value out of range.
    #[error("drift configuration: {0}")]
    BadConfig(String),
}

#[cfg(test)]
mod tests;
