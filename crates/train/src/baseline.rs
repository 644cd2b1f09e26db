//! The drift baseline written to `model.json`: how the held-out rows' top inputs and scores were distributed.
//!
//! The stream compares live traffic with it ([`fraudstream_model::drift::DriftMonitor`]). It is taken from the
//! validation part — the latest rows, never trained on, scored by the final model — because that is the traffic the
//! held-out metrics describe: drift away from it is drift away from the measured quality. Inputs are ranked by
//! total split gain: a shift in an input the trees barely use changes few scores, and the score distribution
//! (also stored) sums up the rest.

use std::ops::Range;

use fraudstream_model::drift::{Baseline, BaselineConfig, InputSample, SampleValues};

use crate::dataset::{Dataset, RawColumn};
use crate::model::FeatureImportance;

/// Inputs the baseline describes at most: the model's top inputs by gain.
pub const BASELINE_INPUTS: usize = 30;

/// The baseline of `rows` of `data` (the held-out part) with the final model's `scores` for them, over the
/// [`BASELINE_INPUTS`] inputs of highest gain (ties in feature order). `None` without held-out rows.
pub(crate) fn held_out_baseline(
    data: &Dataset,
    importance: &[FeatureImportance],
    rows: Range<usize>,
    scores: &[f64],
) -> Option<Baseline> {
    if rows.is_empty() || scores.len() != rows.len() {
        return None;
    }
    let mut ranked: Vec<usize> = (0..importance.len().min(data.columns().len())).collect();
    // Stable: equal gains keep feature order.
    ranked.sort_by(|&a, &b| importance[b].gain.total_cmp(&importance[a].gain));
    ranked.truncate(BASELINE_INPUTS);

    let names = data.features().names();
    let numbers: Vec<Vec<f64>> = ranked
        .iter()
        .map(|&f| match &data.columns()[f] {
            RawColumn::Numeric(v) => v[rows.clone()].iter().map(|&x| f64::from(x)).collect(),
            RawColumn::Categorical(_) => Vec::new(),
        })
        .collect();
    let strings: Vec<Vec<&str>> = ranked
        .iter()
        .map(|&f| match &data.columns()[f] {
            RawColumn::Categorical(c) => c.ids[rows.clone()].iter().map(|&id| &*c.strings[id as usize]).collect(),
            RawColumn::Numeric(_) => Vec::new(),
        })
        .collect();
    let samples: Vec<InputSample<'_>> = ranked
        .iter()
        .zip(numbers.iter().zip(&strings))
        .map(|(&f, (n, s))| InputSample {
            name: &names[f],
            values: match &data.columns()[f] {
                RawColumn::Numeric(_) => SampleValues::Numeric(n),
                RawColumn::Categorical(_) => SampleValues::Categorical(s),
            },
        })
        .collect();
    // Cannot fail: the rows are not empty and a dataset's feature names are unique.
    Baseline::from_samples(&samples, scores, &BaselineConfig::default()).ok()
}
