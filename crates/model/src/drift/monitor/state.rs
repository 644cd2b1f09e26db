//! A [`DriftMonitor`]'s state as plain data, so a job that restarts (the Kafka scoring stage's recovery) goes on
//! with the same window, baseline and alert arming instead of starting over — for a model without `model.json`
//! starting over would even build a new first-window baseline from whatever traffic follows the restart.
//!
//! Numbers are kept as their IEEE bits: the collected values hold NaN for missing, which JSON cannot carry, and
//! bits restore every value exactly.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Active, BaselineSource, Collecting, DriftError, DriftMonitor, Phase, RawColumn};
use crate::drift::{Baseline, Bins, InputBaseline};

/// Everything a [`DriftMonitor`] has observed; see [`DriftMonitor::state`] and [`DriftMonitor::restore`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftState {
    /// Rows observed since the monitor started.
    total: u64,
    phase: PhaseState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PhaseState {
    /// The first window, still being collected: the raw values per input, and the scores.
    Collecting { columns: Vec<ColumnState>, scores: Vec<u64> },
    /// A window over a baseline: the bins of the rows in the window, oldest first, and which slots alert.
    Active { baseline: ExactBaseline, first_window: bool, rows: Vec<u8>, alerting: Vec<bool> },
}

/// A [`Baseline`] with its numbers as bits: JSON parsing may round a float's last bit, and a baseline restored from
/// a snapshot must be the one it was taken over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ExactBaseline {
    rows: u64,
    inputs: Vec<ExactInput>,
    score: ExactInput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ExactInput {
    name: String,
    bins: ExactBins,
    proportions: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ExactBins {
    Numeric(Vec<u64>),
    Categorical(Vec<String>),
}

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

fn floats(bits: &[u64]) -> Vec<f64> {
    bits.iter().map(|&b| f64::from_bits(b)).collect()
}

impl From<&InputBaseline> for ExactInput {
    fn from(b: &InputBaseline) -> ExactInput {
        let bins = match &b.bins {
            Bins::Numeric { edges } => ExactBins::Numeric(bits(edges)),
            Bins::Categorical { categories } => ExactBins::Categorical(categories.clone()),
        };
        ExactInput { name: b.name.clone(), bins, proportions: bits(&b.proportions) }
    }
}

impl From<&ExactInput> for InputBaseline {
    fn from(b: &ExactInput) -> InputBaseline {
        let bins = match &b.bins {
            ExactBins::Numeric(edges) => Bins::Numeric { edges: floats(edges) },
            ExactBins::Categorical(categories) => Bins::Categorical { categories: categories.clone() },
        };
        InputBaseline { name: b.name.clone(), bins, proportions: floats(&b.proportions) }
    }
}

impl From<&Baseline> for ExactBaseline {
    fn from(b: &Baseline) -> ExactBaseline {
        ExactBaseline { rows: b.rows, inputs: b.inputs.iter().map(Into::into).collect(), score: (&b.score).into() }
    }
}

impl From<&ExactBaseline> for Baseline {
    fn from(b: &ExactBaseline) -> Baseline {
        Baseline { rows: b.rows, inputs: b.inputs.iter().map(Into::into).collect(), score: (&b.score).into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ColumnState {
    Numeric(Vec<u64>),
    /// Distinct strings (the first is `""`, missing) and each row's index into them.
    Categorical {
        strings: Vec<String>,
        ids: Vec<u32>,
    },
}

fn bad(reason: impl Into<String>) -> DriftError {
    DriftError::BadConfig(format!("a saved drift state does not fit this monitor: {}", reason.into()))
}

impl DriftMonitor {
    /// The monitor's state (its window, baseline, and alert arming) as plain data.
    pub fn state(&self) -> DriftState {
        let phase = match &self.phase {
            Phase::Collecting(c) => PhaseState::Collecting {
                columns: c
                    .columns
                    .iter()
                    .map(|col| match col {
                        RawColumn::Numeric(v) => ColumnState::Numeric(v.iter().map(|x| x.to_bits()).collect()),
                        RawColumn::Categorical { ids, strings, .. } => ColumnState::Categorical {
                            strings: strings.iter().map(|s| s.to_string()).collect(),
                            ids: ids.clone(),
                        },
                    })
                    .collect(),
                scores: c.scores.iter().map(|x| x.to_bits()).collect(),
            },
            Phase::Active(a) => {
                let window = a.ring.len() / a.width;
                let oldest = if a.filled == window { a.head } else { 0 };
                let rows = (0..a.filled)
                    .flat_map(|i| {
                        let r = (oldest + i) % window;
                        a.ring[r * a.width..(r + 1) * a.width].iter().copied()
                    })
                    .collect();
                PhaseState::Active {
                    baseline: (&a.baseline).into(),
                    first_window: a.source == BaselineSource::FirstWindow,
                    rows,
                    alerting: a.alerting.clone(),
                }
            }
        };
        DriftState { total: self.total, phase }
    }

    /// Puts a [`DriftMonitor::state`] back into this monitor, built for the same model inputs and configuration.
    /// A state that does not fit (other inputs, another `model.json` baseline, another window) is an error and
    /// leaves the monitor as it was.
    pub fn restore(&mut self, state: DriftState) -> Result<(), DriftError> {
        let phase = match (state.phase, &self.phase) {
            (PhaseState::Collecting { columns, scores }, Phase::Collecting(now)) => {
                Phase::Collecting(collecting(now, columns, scores, self.config.window)?)
            }
            (PhaseState::Active { baseline, first_window, rows, alerting }, current) => {
                let baseline = Baseline::from(&baseline);
                baseline.validate()?;
                let source = match (first_window, current) {
                    (true, Phase::Collecting(c)) => {
                        let names: Vec<&str> = baseline.inputs.iter().map(|b| b.name.as_str()).collect();
                        if names != c.names.iter().map(String::as_str).collect::<Vec<_>>() {
                            return Err(bad("its first-window baseline describes other inputs"));
                        }
                        BaselineSource::FirstWindow
                    }
                    (false, Phase::Active(a)) if a.source == BaselineSource::Provided && a.baseline == baseline => {
                        BaselineSource::Provided
                    }
                    _ => return Err(bad("it was taken over another baseline")),
                };
                let mut active = Active::new(baseline, source, self.config.window);
                fill(&mut active, &rows, alerting)?;
                Phase::Active(Box::new(active))
            }
            (PhaseState::Collecting { .. }, Phase::Active(_)) => {
                return Err(bad("it was collecting a first window, this monitor has a baseline"))
            }
        };
        self.phase = phase;
        self.total = state.total;
        Ok(())
    }
}

/// The collecting phase of `now`'s inputs holding the saved columns and scores.
fn collecting(
    now: &Collecting,
    columns: Vec<ColumnState>,
    scores: Vec<u64>,
    window: usize,
) -> Result<Collecting, DriftError> {
    if columns.len() != now.columns.len() {
        return Err(bad(format!("{} inputs, this monitor has {}", columns.len(), now.columns.len())));
    }
    if scores.len() >= window {
        return Err(bad(format!("{} rows collected for a window of {window}", scores.len())));
    }
    let rows = scores.len();
    let mut restored = Vec::with_capacity(columns.len());
    for ((saved, current), name) in columns.into_iter().zip(&now.columns).zip(&now.names) {
        let column = match (saved, current) {
            (ColumnState::Numeric(bits), RawColumn::Numeric(_)) if bits.len() == rows => {
                RawColumn::Numeric(bits.into_iter().map(f64::from_bits).collect())
            }
            (ColumnState::Categorical { strings, ids }, RawColumn::Categorical { .. })
                if ids.len() == rows
                    && strings.first().is_some_and(String::is_empty)
                    && ids.iter().all(|&id| (id as usize) < strings.len()) =>
            {
                let strings: Vec<Box<str>> = strings.into_iter().map(String::into_boxed_str).collect();
                let index: HashMap<Box<str>, u32> =
                    strings.iter().enumerate().map(|(i, s)| (s.clone(), i as u32)).collect();
                RawColumn::Categorical { ids, strings, index }
            }
            _ => return Err(bad(format!("input `{name}` is of another kind or length"))),
        };
        restored.push(column);
    }
    let pending = restored.iter().map(RawColumn::missing).collect();
    Ok(Collecting {
        names: now.names.clone(),
        columns: restored,
        scores: scores.into_iter().map(f64::from_bits).collect(),
        pending,
    })
}

/// Puts saved rows of bins (oldest first) into a fresh window, with the saved alert arming.
fn fill(active: &mut Active, rows: &[u8], alerting: Vec<bool>) -> Result<(), DriftError> {
    let (width, window) = (active.width, active.ring.len() / active.width);
    if !rows.len().is_multiple_of(width) || rows.len() / width > window || alerting.len() != width {
        return Err(bad(format!("rows of another width or more than the window of {window}")));
    }
    for row in rows.chunks_exact(width) {
        for (slot, (&bin, &offset)) in row.iter().zip(active.offsets.iter()).enumerate() {
            if bin as usize >= active.expected[slot].len() {
                return Err(bad(format!("bin {bin} of `{}` is out of range", active.names[slot])));
            }
            active.counts[offset as usize + bin as usize] += 1;
        }
    }
    active.ring[..rows.len()].copy_from_slice(rows);
    active.filled = rows.len() / width;
    active.head = active.filled % window;
    active.alerting = alerting;
    Ok(())
}
