//! [`DriftMonitor`]: a rolling window of live observations binned like the baseline, PSI on demand, and alerts that
//! fire once per threshold crossing.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, BaselineConfig, Bins, InputBaseline, InputSample, SampleValues};
use super::lookup::CategoryIndex;
use super::DriftError;

mod state;
pub use state::DriftState;

/// Observations in the rolling window by default: about three days of IEEE-CIS traffic (3,250 a day), and enough
/// that a stable input's PSI stays near 0.001 (see the module documentation).
pub const DEFAULT_WINDOW: usize = 10_000;

/// Longest window: its counters are `u32` and its ring takes `window × (inputs + 1)` bytes.
pub const MAX_WINDOW: usize = 10_000_000;

/// PSI above which an input (or the score) alerts: the conventional "major shift" level.
pub const DEFAULT_ALERT_PSI: f64 = 0.25;

/// PSI below which an alerting input re-arms. The gap to [`DEFAULT_ALERT_PSI`] (hysteresis) is far wider than the
/// window's sampling noise, so an input hovering at the threshold raises one alert, not one per check.
pub const DEFAULT_REARM_PSI: f64 = 0.2;

/// Window length and thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftConfig {
    /// Observations in the rolling window (and in a first-window baseline).
    pub window: usize,
    /// An input alerts when its PSI rises above this.
    pub alert_psi: f64,
    /// An alerting input re-arms when its PSI falls below this (at most `alert_psi`).
    pub rearm_psi: f64,
    /// Binning of a baseline built from the first window.
    pub baseline: BaselineConfig,
}

impl Default for DriftConfig {
    fn default() -> DriftConfig {
        DriftConfig {
            window: DEFAULT_WINDOW,
            alert_psi: DEFAULT_ALERT_PSI,
            rearm_psi: DEFAULT_REARM_PSI,
            baseline: BaselineConfig::default(),
        }
    }
}

impl DriftConfig {
    fn validate(&self) -> Result<(), DriftError> {
        if self.window == 0 || self.window > MAX_WINDOW {
            return Err(DriftError::BadConfig(format!(
                "the window must hold 1 to {MAX_WINDOW} observations, not {}",
                self.window
            )));
        }
        if !(self.rearm_psi.is_finite() && self.alert_psi.is_finite() && 0.0 <= self.rearm_psi)
            || self.rearm_psi > self.alert_psi
        {
            return Err(DriftError::BadConfig(format!(
                "need 0 <= rearm_psi ({}) <= alert_psi ({})",
                self.rearm_psi, self.alert_psi
            )));
        }
        Ok(())
    }
}

/// Whether a model input carries numbers or category strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Numbers; NaN is missing.
    Numeric,
    /// Strings; `""` is missing.
    Categorical,
}

/// A model input as the monitor is told about it, in model input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    /// The model input name.
    pub name: String,
    /// Number or category.
    pub kind: InputKind,
}

impl InputSpec {
    /// A numeric input.
    pub fn numeric(name: impl Into<String>) -> InputSpec {
        InputSpec { name: name.into(), kind: InputKind::Numeric }
    }

    /// A categorical input.
    pub fn categorical(name: impl Into<String>) -> InputSpec {
        InputSpec { name: name.into(), kind: InputKind::Categorical }
    }
}

/// What a drift figure or alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitored {
    /// A model input, by name.
    Input(String),
    /// The model's score.
    Score,
}

/// A threshold crossing: `subject`'s PSI rose above the alert level (it will not alert again before it has fallen
/// below the re-arm level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftAlert {
    /// The input or the score.
    pub subject: Monitored,
    /// Its PSI at the check that saw the crossing.
    pub psi: f64,
}

/// Where the monitor's baseline came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BaselineSource {
    /// Given at construction (e.g. `model.json`'s held-out distributions).
    Provided,
    /// Built from the first window of observations.
    FirstWindow,
    /// No baseline yet: the first window is still being collected.
    Collecting {
        /// Observations collected so far.
        observed: u64,
        /// Observations the baseline will be built from.
        needed: u64,
    },
}

/// One input's (or the score's) drift in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputDrift {
    /// The input name (`score` for the score).
    pub name: String,
    /// PSI of the window against the baseline.
    pub psi: f64,
    /// Whether it has crossed the alert level and not yet fallen below the re-arm level (as of the last
    /// [`DriftMonitor::check`]).
    pub alerting: bool,
}

/// Drift at one moment: what a dashboard or a log line shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Where the baseline came from (or how far the first window is).
    pub baseline: BaselineSource,
    /// Observations in the window now.
    pub observations: u64,
    /// Window length.
    pub window: u64,
    /// Observations since the monitor started (the first window included).
    pub total_observed: u64,
    /// The alert level, for drawing a threshold line.
    pub alert_psi: f64,
    /// Monitored inputs, highest PSI first (ties by name); empty while collecting or before any observation.
    pub inputs: Vec<InputDrift>,
    /// The score's drift; `None` while collecting or before any observation.
    pub score: Option<InputDrift>,
}

impl DriftReport {
    /// Inputs (and the score) currently alerting.
    pub fn alerting(&self) -> impl Iterator<Item = &InputDrift> {
        self.inputs.iter().chain(&self.score).filter(|d| d.alerting)
    }
}

/// Marks a model input the monitor does not track.
const UNTRACKED: u32 = u32::MAX;

/// Rolling drift of a model's inputs and score against a baseline.
///
/// Feed it one row per scored transaction: [`row`](Self::row), then [`RowObserver::num`] / [`RowObserver::str`] per
/// input (by model input index; inputs not set count as missing, untracked ones are ignored), then
/// [`RowObserver::finish`] with the score. That costs O(tracked inputs): a branch-free count over at most 12 edges
/// per numeric input, one short-key table lookup per categorical input, one byte per input written into the ring
/// and two counter updates — no allocation once the baseline exists (about 0.3 µs per row of 30 inputs, see
/// `benches/drift.rs`).
///
/// About once a second call [`check`](Self::check) (new threshold crossings) and [`report`](Self::report) (all PSI
/// figures); both are O(inputs × bins).
///
/// Without a baseline the first `window` rows are buffered as raw values (8 bytes per input and row; category
/// strings interned, so this phase allocates for each new string) and then become the baseline, binned by the same
/// rule as [`Baseline::from_samples`]; the window then starts empty and fills with the rows after it.
#[derive(Debug)]
pub struct DriftMonitor {
    config: DriftConfig,
    /// Per model input: its tracked slot, or [`UNTRACKED`].
    slot_of_input: Vec<u32>,
    /// Per tracked slot: its model input index.
    tracked_inputs: Vec<usize>,
    total: u64,
    phase: Phase,
}

#[derive(Debug)]
enum Phase {
    Collecting(Collecting),
    Active(Box<Active>),
}

/// How one tracked input turns a value into a bin.
#[derive(Debug, Clone)]
enum Binner {
    Numeric(NumericBins),
    Categorical(CategoryIndex),
}

/// Inner edges padded with +∞ to [`SHORT_EDGES`], when they fit: the bin is then a branch-free count of the edges
/// at or below the value over a fixed-size array (vectorised; no mispredicted branches on random values), about
/// faster than a binary search. 12 holds the 9 edges of decile bins and the 12 score edges; longer edge lists (only
/// from a custom `numeric_bins`) use a binary search.
#[derive(Debug, Clone)]
enum NumericBins {
    Short { edges: Box<[f64; SHORT_EDGES]>, len: u8 },
    Long(Box<[f64]>),
}

const SHORT_EDGES: usize = 12;

impl NumericBins {
    fn new(edges: &[f64]) -> NumericBins {
        if edges.len() <= SHORT_EDGES {
            let mut padded = [f64::INFINITY; SHORT_EDGES];
            padded[..edges.len()].copy_from_slice(edges);
            NumericBins::Short { edges: Box::new(padded), len: edges.len() as u8 }
        } else {
            NumericBins::Long(edges.into())
        }
    }

    #[inline]
    fn bin(&self, x: f64) -> u8 {
        match self {
            NumericBins::Short { edges, len } => {
                // The +∞ padding is never <= a finite x; x = +∞ counts it too, hence the `min`.
                let below = edges.iter().map(|&e| u32::from(e <= x)).sum::<u32>().min(u32::from(*len));
                if x.is_nan() {
                    *len + 1
                } else {
                    below as u8
                }
            }
            NumericBins::Long(edges) => Bins::numeric_bin(edges, x) as u8,
        }
    }
}

#[derive(Debug)]
struct Active {
    source: BaselineSource,
    baseline: Baseline,
    /// Per slot (inputs, then the score last).
    binners: Vec<Binner>,
    names: Vec<String>,
    expected: Vec<Box<[f64]>>,
    /// Start of each slot's counters in `counts`.
    offsets: Box<[u32]>,
    counts: Box<[u32]>,
    /// `window × width` bin indices; row `i` at `i * width`.
    ring: Box<[u8]>,
    width: usize,
    head: usize,
    filled: usize,
    /// Each slot's missing bin: what a row starts as.
    missing: Box<[u8]>,
    /// The row being observed.
    pending: Box<[u8]>,
    alerting: Vec<bool>,
}

#[derive(Debug)]
struct Collecting {
    names: Vec<String>,
    columns: Vec<RawColumn>,
    scores: Vec<f64>,
    /// The row being observed: a number or a category id per slot.
    pending: Vec<RawValue>,
}

#[derive(Debug)]
enum RawColumn {
    Numeric(Vec<f64>),
    Categorical { ids: Vec<u32>, strings: Vec<Box<str>>, index: HashMap<Box<str>, u32> },
}

#[derive(Debug, Clone, Copy)]
enum RawValue {
    Num(f64),
    /// Id into the column's strings; 0 is `""`.
    Cat(u32),
}

impl RawColumn {
    fn missing(&self) -> RawValue {
        match self {
            RawColumn::Numeric(_) => RawValue::Num(f64::NAN),
            RawColumn::Categorical { .. } => RawValue::Cat(0),
        }
    }
}

impl DriftMonitor {
    /// A monitor for a model with `inputs` (in model input order).
    ///
    /// With a baseline, the inputs it describes are tracked (each must be one of `inputs`, of the same kind); with
    /// `None`, every input is tracked and the first `config.window` rows become the baseline.
    pub fn new(inputs: &[InputSpec], baseline: Option<Baseline>, config: DriftConfig) -> Result<Self, DriftError> {
        config.validate()?;
        let mut by_name = HashMap::new();
        for (i, spec) in inputs.iter().enumerate() {
            if by_name.insert(spec.name.as_str(), i).is_some() {
                return Err(DriftError::DuplicateInput(spec.name.clone()));
            }
        }
        let mut slot_of_input = vec![UNTRACKED; inputs.len()];
        let (tracked_inputs, phase) = match baseline {
            Some(baseline) => {
                baseline.validate()?;
                let mut tracked = Vec::with_capacity(baseline.inputs.len());
                for b in &baseline.inputs {
                    let Some(&i) = by_name.get(b.name.as_str()) else {
                        let known: Vec<&str> = inputs.iter().take(10).map(|s| s.name.as_str()).collect();
                        let more = if inputs.len() > 10 { ", …" } else { "" };
                        return Err(DriftError::UnknownInput {
                            name: b.name.clone(),
                            known: format!("{}{more}", known.join(", ")),
                        });
                    };
                    let kind = match b.bins {
                        Bins::Numeric { .. } => InputKind::Numeric,
                        Bins::Categorical { .. } => InputKind::Categorical,
                    };
                    if kind != inputs[i].kind {
                        return Err(DriftError::BadBaseline {
                            name: b.name.clone(),
                            reason: format!("binned as {kind:?}, but the model input is {:?}", inputs[i].kind),
                        });
                    }
                    tracked.push(i);
                }
                (tracked, Phase::Active(Box::new(Active::new(baseline, BaselineSource::Provided, config.window))))
            }
            None => {
                let names = inputs.iter().map(|s| s.name.clone()).collect();
                let columns: Vec<RawColumn> = inputs
                    .iter()
                    .map(|s| match s.kind {
                        InputKind::Numeric => RawColumn::Numeric(Vec::new()),
                        InputKind::Categorical => {
                            let empty: Box<str> = "".into();
                            RawColumn::Categorical {
                                ids: Vec::new(),
                                strings: vec![empty.clone()],
                                index: HashMap::from([(empty, 0)]),
                            }
                        }
                    })
                    .collect();
                let pending = columns.iter().map(RawColumn::missing).collect();
                (
                    (0..inputs.len()).collect(),
                    Phase::Collecting(Collecting { names, columns, scores: Vec::new(), pending }),
                )
            }
        };
        for (slot, &i) in tracked_inputs.iter().enumerate() {
            slot_of_input[i] = slot as u32;
        }
        Ok(DriftMonitor { config, slot_of_input, tracked_inputs, total: 0, phase })
    }

    /// Starts observing one row; see [`RowObserver`].
    #[inline]
    pub fn row(&mut self) -> RowObserver<'_> {
        match &mut self.phase {
            Phase::Active(a) => a.pending.copy_from_slice(&a.missing),
            Phase::Collecting(c) => {
                for (v, col) in c.pending.iter_mut().zip(&c.columns) {
                    *v = col.missing();
                }
            }
        }
        RowObserver { monitor: self }
    }

    /// Model input indices of the tracked inputs: a caller may compute and pass only these.
    pub fn tracked_inputs(&self) -> &[usize] {
        &self.tracked_inputs
    }

    /// The baseline in use (`None` while the first window is collected). A first-window baseline can be saved
    /// from here and given to later runs.
    pub fn baseline(&self) -> Option<&Baseline> {
        match &self.phase {
            Phase::Active(a) => Some(&a.baseline),
            Phase::Collecting(_) => None,
        }
    }

    /// Observations in the window now (0 while collecting).
    pub fn observations(&self) -> u64 {
        match &self.phase {
            Phase::Active(a) => a.filled as u64,
            Phase::Collecting(_) => 0,
        }
    }

    /// PSI of the input with this model input index, `None` when it is untracked or there is nothing to compare
    /// yet.
    pub fn psi(&self, input: usize) -> Option<f64> {
        let slot = *self.slot_of_input.get(input)?;
        match &self.phase {
            Phase::Active(a) if slot != UNTRACKED && a.filled > 0 => Some(a.psi(slot as usize)),
            _ => None,
        }
    }

    /// PSI of the score, `None` while there is nothing to compare.
    pub fn score_psi(&self) -> Option<f64> {
        match &self.phase {
            Phase::Active(a) if a.filled > 0 => Some(a.psi(a.width - 1)),
            _ => None,
        }
    }

    /// Evaluates every PSI and returns the crossings since the last check: an input (or the score) whose PSI rose
    /// above `alert_psi` while armed. It disarms until its PSI falls below `rearm_psi`. Checks need a full window:
    /// before that nothing alerts (a partly filled window is noisier, and early traffic is often unrepresentative).
    pub fn check(&mut self) -> Vec<DriftAlert> {
        let Phase::Active(a) = &mut self.phase else { return Vec::new() };
        if a.filled < a.ring.len() / a.width {
            return Vec::new();
        }
        let mut alerts = Vec::new();
        for slot in 0..a.width {
            let psi = a.psi(slot);
            if !a.alerting[slot] && psi > self.config.alert_psi {
                a.alerting[slot] = true;
                let subject =
                    if slot + 1 == a.width { Monitored::Score } else { Monitored::Input(a.names[slot].clone()) };
                alerts.push(DriftAlert { subject, psi });
            } else if a.alerting[slot] && psi < self.config.rearm_psi {
                a.alerting[slot] = false;
            }
        }
        alerts
    }

    /// Every PSI now, inputs sorted by decreasing PSI; `alerting` as of the last [`check`](Self::check).
    pub fn report(&self) -> DriftReport {
        let mut report = DriftReport {
            baseline: BaselineSource::Provided,
            observations: 0,
            window: self.config.window as u64,
            total_observed: self.total,
            alert_psi: self.config.alert_psi,
            inputs: Vec::new(),
            score: None,
        };
        match &self.phase {
            Phase::Collecting(c) => {
                report.baseline =
                    BaselineSource::Collecting { observed: c.scores.len() as u64, needed: self.config.window as u64 };
            }
            Phase::Active(a) => {
                report.baseline = a.source;
                report.observations = a.filled as u64;
                if a.filled > 0 {
                    let drift = |slot: usize| InputDrift {
                        name: a.names[slot].clone(),
                        psi: a.psi(slot),
                        alerting: a.alerting[slot],
                    };
                    report.inputs = (0..a.width - 1).map(drift).collect();
                    report.inputs.sort_by(|x, y| y.psi.total_cmp(&x.psi).then_with(|| x.name.cmp(&y.name)));
                    report.score = Some(drift(a.width - 1));
                }
            }
        }
        report
    }

    fn finish_row(&mut self, score: f64) {
        self.total += 1;
        match &mut self.phase {
            Phase::Active(a) => a.push(score),
            Phase::Collecting(c) => {
                c.push(score);
                if c.scores.len() >= self.config.window {
                    if let Some(active) = c.freeze(&self.config) {
                        self.phase = Phase::Active(Box::new(active));
                    }
                }
            }
        }
    }
}

/// One row being observed; values not given count as missing. Dropping it without [`finish`](Self::finish)
/// discards the row.
pub struct RowObserver<'m> {
    monitor: &'m mut DriftMonitor,
}

impl RowObserver<'_> {
    /// The tracked slot of model input `input`, if it is tracked.
    #[inline]
    fn slot(&self, input: usize) -> Option<usize> {
        self.monitor.slot_of_input.get(input).filter(|&&s| s != UNTRACKED).map(|&s| s as usize)
    }

    /// The value of numeric model input `input` (NaN = missing). Ignored for untracked inputs; a number for a
    /// categorical input counts as missing.
    #[inline]
    pub fn num(&mut self, input: usize, x: f64) {
        let Some(slot) = self.slot(input) else { return };
        match &mut self.monitor.phase {
            Phase::Active(a) => {
                if let Binner::Numeric(bins) = &a.binners[slot] {
                    a.pending[slot] = bins.bin(x);
                }
            }
            Phase::Collecting(c) => {
                if let RawColumn::Numeric(_) = c.columns[slot] {
                    c.pending[slot] = RawValue::Num(x);
                }
            }
        }
    }

    /// The value of categorical model input `input` (`""` = missing). Ignored for untracked inputs; a string for a
    /// numeric input counts as missing.
    #[inline]
    pub fn str(&mut self, input: usize, s: &str) {
        let Some(slot) = self.slot(input) else { return };
        match &mut self.monitor.phase {
            Phase::Active(a) => {
                if let Binner::Categorical(index) = &a.binners[slot] {
                    a.pending[slot] = index.bin(s);
                }
            }
            Phase::Collecting(c) => {
                if let RawColumn::Categorical { strings, index, .. } = &mut c.columns[slot] {
                    let id = match index.get(s) {
                        Some(&id) => id,
                        None => {
                            let id = strings.len() as u32;
                            strings.push(s.into());
                            index.insert(s.into(), id);
                            id
                        }
                    };
                    c.pending[slot] = RawValue::Cat(id);
                }
            }
        }
    }

    /// Completes the row with its score (NaN = missing) and adds it to the window, evicting the oldest row once the
    /// window is full.
    #[inline]
    pub fn finish(self, score: f64) {
        self.monitor.finish_row(score);
    }
}

impl Active {
    fn new(baseline: Baseline, source: BaselineSource, window: usize) -> Active {
        let all: Vec<&InputBaseline> = baseline.inputs.iter().chain(std::iter::once(&baseline.score)).collect();
        let binners = all
            .iter()
            .map(|b| match &b.bins {
                Bins::Numeric { edges } => Binner::Numeric(NumericBins::new(edges)),
                Bins::Categorical { categories } => Binner::Categorical(CategoryIndex::new(categories)),
            })
            .collect();
        let mut offsets = Vec::with_capacity(all.len());
        let mut total = 0u32;
        for b in &all {
            offsets.push(total);
            total += b.bins.count() as u32;
        }
        let missing: Box<[u8]> = all.iter().map(|b| b.bins.missing_bin() as u8).collect();
        let width = all.len();
        Active {
            source,
            binners,
            names: all.iter().map(|b| b.name.clone()).collect(),
            expected: all.iter().map(|b| b.proportions.clone().into()).collect(),
            offsets: offsets.into(),
            counts: vec![0; total as usize].into(),
            ring: vec![0; window * width].into(),
            width,
            head: 0,
            filled: 0,
            pending: missing.clone(),
            missing,
            alerting: vec![false; width],
            baseline,
        }
    }

    #[inline]
    fn push(&mut self, score: f64) {
        let last = self.width - 1;
        if let Binner::Numeric(bins) = &self.binners[last] {
            self.pending[last] = bins.bin(score);
        }
        let window = self.ring.len() / self.width;
        let row = &mut self.ring[self.head * self.width..(self.head + 1) * self.width];
        if self.filled == window {
            for (&bin, &offset) in row.iter().zip(self.offsets.iter()) {
                self.counts[offset as usize + bin as usize] -= 1;
            }
        } else {
            self.filled += 1;
        }
        row.copy_from_slice(&self.pending);
        for (&bin, &offset) in row.iter().zip(self.offsets.iter()) {
            self.counts[offset as usize + bin as usize] += 1;
        }
        self.head = if self.head + 1 == window { 0 } else { self.head + 1 };
    }

    fn psi(&self, slot: usize) -> f64 {
        let expected = &self.expected[slot];
        let offset = self.offsets[slot] as usize;
        let counts = &self.counts[offset..offset + expected.len()];
        let n = self.filled.max(1) as f64;
        expected
            .iter()
            .zip(counts)
            .map(|(&e, &c)| {
                let (e, a) = (e.max(super::PSI_EPSILON), (c as f64 / n).max(super::PSI_EPSILON));
                (a - e) * (a / e).ln()
            })
            .sum()
    }
}

impl Collecting {
    fn push(&mut self, score: f64) {
        for (col, v) in self.columns.iter_mut().zip(&self.pending) {
            match (col, *v) {
                (RawColumn::Numeric(values), RawValue::Num(x)) => values.push(x),
                (RawColumn::Categorical { ids, .. }, RawValue::Cat(id)) => ids.push(id),
                (RawColumn::Numeric(values), RawValue::Cat(_)) => values.push(f64::NAN),
                (RawColumn::Categorical { ids, .. }, RawValue::Num(_)) => ids.push(0),
            }
        }
        self.scores.push(score);
    }

    /// The first-window baseline and a monitor phase over it. `None` only if the baseline cannot be built, which
    /// the constructor's checks rule out (a full window, unique names); the window is then collected again.
    fn freeze(&mut self, config: &DriftConfig) -> Option<Active> {
        let strs: Vec<Vec<&str>> = self
            .columns
            .iter()
            .map(|c| match c {
                RawColumn::Categorical { ids, strings, .. } => ids.iter().map(|&id| &*strings[id as usize]).collect(),
                RawColumn::Numeric(_) => Vec::new(),
            })
            .collect();
        let samples: Vec<InputSample<'_>> = self
            .columns
            .iter()
            .zip(&strs)
            .zip(&self.names)
            .map(|((c, s), name)| InputSample {
                name,
                values: match c {
                    RawColumn::Numeric(v) => SampleValues::Numeric(v),
                    RawColumn::Categorical { .. } => SampleValues::Categorical(s),
                },
            })
            .collect();
        let built = Baseline::from_samples(&samples, &self.scores, &config.baseline);
        drop(samples);
        drop(strs);
        match built {
            Ok(baseline) => Some(Active::new(baseline, BaselineSource::FirstWindow, config.window)),
            Err(_) => {
                self.scores.clear();
                for c in &mut self.columns {
                    match c {
                        RawColumn::Numeric(v) => v.clear(),
                        RawColumn::Categorical { ids, .. } => ids.clear(),
                    }
                }
                None
            }
        }
    }
}
