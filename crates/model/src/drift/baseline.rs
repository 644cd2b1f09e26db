//! [`Baseline`]: the reference distribution of each monitored input and of the score, as bins and shares.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::DriftError;

/// Value bins per numeric input at most (before deduplication): deciles, the usual PSI binning.
pub const DEFAULT_NUMERIC_BINS: usize = 10;

/// Categories kept by name per categorical input; the rest share an "other" bin. 20 covers almost all of the mass
/// of IEEE-CIS categoricals (P_emaildomain has about 60 domains, the top few hold most of it) while keeping every
/// bin's baseline share large enough for a stable PSI.
pub const DEFAULT_TOP_CATEGORIES: usize = 20;

/// Most bins per input, the missing bin included: the monitor stores one byte per input and observation.
pub const MAX_BINS: usize = 255;

/// Inner edges of the score bins: fixed, so every model's score PSI uses the same bins and a baseline never depends
/// on the score sample's quantiles. Finer near 0, where a fraud model puts almost every score (about 96 % of
/// IEEE-CIS scores are below 0.1): equal-width bins would lump them into one bin and hide their shifts.
pub const SCORE_EDGES: [f64; 12] = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// How [`Baseline::from_samples`] bins inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineConfig {
    /// Quantile bins per numeric input before deduplication ([`DEFAULT_NUMERIC_BINS`]).
    pub numeric_bins: usize,
    /// Categories kept by name ([`DEFAULT_TOP_CATEGORIES`]).
    pub top_categories: usize,
}

impl Default for BaselineConfig {
    fn default() -> BaselineConfig {
        BaselineConfig { numeric_bins: DEFAULT_NUMERIC_BINS, top_categories: DEFAULT_TOP_CATEGORIES }
    }
}

/// The reference distributions drift is measured against: one entry per monitored input, and the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Observations (scores) the baseline was computed from.
    pub rows: u64,
    /// Monitored inputs, in the order they were given (the trainer gives them by decreasing gain).
    pub inputs: Vec<InputBaseline>,
    /// The score distribution over [`SCORE_EDGES`] (plus a missing bin for NaN scores).
    pub score: InputBaseline,
}

/// One input's bins and the share of the baseline sample in each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputBaseline {
    /// The model input name.
    pub name: String,
    /// How values map to bins.
    pub bins: Bins,
    /// Share of the sample per bin, in bin order ([`Bins::count`] entries, summing to 1).
    pub proportions: Vec<f64>,
}

/// How an input's values map to bins. The last bin is always the missing one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Bins {
    /// `edges.len() + 1` value bins, bin `i` holding `edges[i-1] <= x < edges[i]`, then the missing bin (NaN).
    Numeric {
        /// Strictly increasing inner edges.
        edges: Vec<f64>,
    },
    /// One bin per category, then "other" (any other non-empty string), then missing (`""`).
    Categorical {
        /// The categories kept by name, most frequent first.
        categories: Vec<String>,
    },
}

impl Bins {
    /// Number of bins, the missing bin included.
    pub fn count(&self) -> usize {
        match self {
            Bins::Numeric { edges } => edges.len() + 2,
            Bins::Categorical { categories } => categories.len() + 2,
        }
    }

    /// Index of the missing bin (the last).
    pub fn missing_bin(&self) -> usize {
        self.count() - 1
    }

    /// The bin of a number (NaN is missing). Binary search over the edges.
    pub fn numeric_bin(edges: &[f64], x: f64) -> usize {
        if x.is_nan() {
            edges.len() + 1
        } else {
            edges.partition_point(|&e| e <= x)
        }
    }
}

/// One input's sample for [`Baseline::from_samples`].
#[derive(Debug, Clone, Copy)]
pub struct InputSample<'a> {
    /// The model input name.
    pub name: &'a str,
    /// Its values, one per sampled row.
    pub values: SampleValues<'a>,
}

/// The values of one input: numbers (NaN = missing) or category strings (`""` = missing).
#[derive(Debug, Clone, Copy)]
pub enum SampleValues<'a> {
    /// A numeric input.
    Numeric(&'a [f64]),
    /// A categorical input.
    Categorical(&'a [&'a str]),
}

impl Baseline {
    /// A baseline from samples of each input and of the score (usually the same rows).
    ///
    /// Numeric inputs get quantile bins ([`InputBaseline::numeric`]), categorical inputs their most frequent
    /// categories ([`InputBaseline::categorical`]), the score the fixed [`SCORE_EDGES`]. Fails on an empty sample
    /// or a repeated input name.
    pub fn from_samples(
        inputs: &[InputSample<'_>],
        scores: &[f64],
        config: &BaselineConfig,
    ) -> Result<Baseline, DriftError> {
        let mut seen = HashSet::new();
        if let Some(dup) = inputs.iter().find(|i| !seen.insert(i.name)) {
            return Err(DriftError::DuplicateInput(dup.name.to_string()));
        }
        let inputs = inputs
            .iter()
            .map(|i| match i.values {
                SampleValues::Numeric(v) => InputBaseline::numeric(i.name, v, config.numeric_bins),
                SampleValues::Categorical(v) => InputBaseline::categorical(i.name, v, config.top_categories),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let score = InputBaseline::with_edges("score", SCORE_EDGES.to_vec(), scores)?;
        Ok(Baseline { rows: scores.len() as u64, inputs, score })
    }

    /// Checks what a deserialized baseline promises: proportions match the bins, no input has more than
    /// [`MAX_BINS`] bins, numeric edges increase, names are unique.
    pub fn validate(&self) -> Result<(), DriftError> {
        let mut seen = HashSet::new();
        for input in self.inputs.iter().chain(std::iter::once(&self.score)) {
            if !std::ptr::eq(input, &self.score) && !seen.insert(input.name.as_str()) {
                return Err(DriftError::DuplicateInput(input.name.clone()));
            }
            input.validate()?;
        }
        Ok(())
    }
}

impl InputBaseline {
    /// Quantile bins: up to `bins` bins holding about equal shares of the sample, plus the missing bin.
    ///
    /// The `k`-th cut is the `k/bins` quantile `q` of the non-missing values (the value at rank `⌊k·n/bins⌋` of
    /// the sorted sample); the edge is placed halfway between `q` and the largest sample value below it, so values
    /// equal to `q` start the upper bin and an edge never sits on a value that occurs in the data (a sample of `f32`
    /// model inputs and live `f64` values that round to them therefore bin alike). Cuts that fall on
    /// the same value (discrete inputs such as counts, where one value holds more than a tenth of the rows) are
    /// deduplicated, so a count that is 0 in 70 % of rows gets one bin for the 0s. Edges are rounded to 15
    /// significant digits, which JSON reads back exactly.
    pub fn numeric(name: &str, values: &[f64], bins: usize) -> Result<InputBaseline, DriftError> {
        let mut present: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        present.sort_unstable_by(f64::total_cmp);
        let bins = bins.clamp(1, MAX_BINS - 1);
        let n = present.len();
        let mut edges: Vec<f64> = Vec::new();
        for k in 1..bins {
            let Some(&q) = present.get(k * n / bins) else { break };
            let below = present.partition_point(|&v| v < q);
            let Some(&lo) = below.checked_sub(1).and_then(|i| present.get(i)) else { continue };
            let Some(edge) = edge_between(lo, q) else { continue };
            if edges.last().is_none_or(|&last| edge > last) {
                edges.push(edge);
            }
        }
        InputBaseline::with_edges(name, edges, values)
    }

    /// Numeric bins with given inner edges (strictly increasing), shares taken from `values`.
    pub fn with_edges(name: &str, edges: Vec<f64>, values: &[f64]) -> Result<InputBaseline, DriftError> {
        if values.is_empty() {
            return Err(DriftError::EmptySample { name: name.to_string() });
        }
        let mut counts = vec![0u64; edges.len() + 2];
        for &x in values {
            counts[Bins::numeric_bin(&edges, x)] += 1;
        }
        let out = InputBaseline {
            name: name.to_string(),
            bins: Bins::Numeric { edges },
            proportions: shares(&counts, values.len()),
        };
        out.validate()?;
        Ok(out)
    }

    /// The `top` most frequent non-empty categories by name (ties by name, so the result does not depend on row
    /// order), then "other" and missing (`""`).
    pub fn categorical(name: &str, values: &[&str], top: usize) -> Result<InputBaseline, DriftError> {
        if values.is_empty() {
            return Err(DriftError::EmptySample { name: name.to_string() });
        }
        let mut freq: HashMap<&str, u64> = HashMap::new();
        let mut missing = 0u64;
        for &v in values {
            if v.is_empty() {
                missing += 1;
            } else {
                *freq.entry(v).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, u64)> = freq.into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let kept = ranked.len().min(top.min(MAX_BINS - 2));
        let mut counts: Vec<u64> = ranked[..kept].iter().map(|&(_, c)| c).collect();
        counts.push(ranked[kept..].iter().map(|&(_, c)| c).sum());
        counts.push(missing);
        Ok(InputBaseline {
            name: name.to_string(),
            bins: Bins::Categorical { categories: ranked[..kept].iter().map(|&(s, _)| s.to_string()).collect() },
            proportions: shares(&counts, values.len()),
        })
    }

    fn validate(&self) -> Result<(), DriftError> {
        let bad = |reason: String| Err(DriftError::BadBaseline { name: self.name.clone(), reason });
        let count = self.bins.count();
        if count > MAX_BINS {
            return bad(format!("{count} bins, at most {MAX_BINS} are supported"));
        }
        if self.proportions.len() != count {
            return bad(format!("{} proportions for {count} bins", self.proportions.len()));
        }
        if self.proportions.iter().any(|p| !(0.0..=1.0).contains(p)) {
            return bad("a proportion outside [0, 1]".into());
        }
        let sum: f64 = self.proportions.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return bad(format!("proportions sum to {sum}, not 1"));
        }
        match &self.bins {
            Bins::Numeric { edges } if edges.iter().any(|e| e.is_nan()) => bad("a NaN edge".into()),
            Bins::Numeric { edges } if edges.windows(2).any(|w| w[0] >= w[1]) => {
                bad("numeric edges do not strictly increase".into())
            }
            Bins::Categorical { categories } => {
                let mut seen = HashSet::new();
                match categories.iter().find(|c| c.is_empty() || !seen.insert(c.as_str())) {
                    Some(c) => bad(format!("category `{c}` is empty or repeated")),
                    None => Ok(()),
                }
            }
            Bins::Numeric { .. } => Ok(()),
        }
    }
}

/// A bin edge strictly between `lo` and `hi` (`lo < hi`), halfway, rounded to 15 significant digits when that
/// stays strictly between them; `None` when the two are not finite.
fn edge_between(lo: f64, hi: f64) -> Option<f64> {
    let mid = lo / 2.0 + hi / 2.0;
    if !(mid.is_finite() && lo < mid && mid <= hi) {
        return None;
    }
    let rounded = round15(mid);
    Some(if lo < rounded && rounded <= hi { rounded } else { mid })
}

/// Shares of `total`, rounded to 15 significant digits so that JSON (serde_json's default parser included) reads
/// back exactly the values written.
fn shares(counts: &[u64], total: usize) -> Vec<f64> {
    counts.iter().map(|&c| round15(c as f64 / total as f64)).collect()
}

/// `x` rounded to 15 significant digits (unchanged when not finite).
fn round15(x: f64) -> f64 {
    format!("{x:.14e}").parse().unwrap_or(x)
}
