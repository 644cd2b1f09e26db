//! The binned feature matrix: every row's bin per feature, column by column, plus each feature's most frequent
//! training bin (which the histogram build skips, see [`crate::histogram`]).
//!
//! Categorical columns are encoded with their [`Vocabulary`] first, so from here on every feature is a number and
//! every split is `x <= threshold`.

use rayon::prelude::*;

use crate::binning::BinMapper;
use crate::dataset::{Dataset, RawColumn};
use crate::vocabulary::Vocabulary;

/// All rows (training part first, then validation), binned.
#[derive(Debug)]
pub(crate) struct BinnedMatrix {
    /// Bins per feature.
    pub mappers: Vec<BinMapper>,
    /// `columns[f][row]`: the bin of feature `f` in `row`.
    pub columns: Vec<Vec<u8>>,
    /// The most frequent bin of each feature among training rows.
    pub default_bins: Vec<u8>,
    /// Whether a feature has at least two non-empty bins among training rows (others can never split).
    pub splittable: Vec<bool>,
}

/// How each raw column becomes numbers: categorical columns map interned string ids to codes.
#[derive(Debug, Clone)]
pub(crate) enum Encoding {
    Numeric,
    Categorical { vocabulary: Vocabulary, codes: Vec<f32> },
}

/// Learns each categorical column's vocabulary from the first `train_rows` rows.
pub(crate) fn learn_encodings(data: &Dataset, train_rows: usize, min_rows: usize, smoothing: f64) -> Vec<Encoding> {
    data.columns()
        .par_iter()
        .map(|c| match c {
            RawColumn::Numeric(_) => Encoding::Numeric,
            RawColumn::Categorical(col) => {
                let (vocabulary, codes) = Vocabulary::learn(col, data.labels(), train_rows, min_rows, smoothing);
                Encoding::Categorical { vocabulary, codes }
            }
        })
        .collect()
}

impl BinnedMatrix {
    /// Bins every column: bounds from `sample_rows` evenly spaced training rows, then every row (in parallel over
    /// features; each feature's result depends on its own column only).
    pub fn build(
        data: &Dataset,
        encodings: &[Encoding],
        train_rows: usize,
        max_bin: usize,
        sample_rows: usize,
    ) -> BinnedMatrix {
        let n = data.len();
        let sample_rows = sample_rows.clamp(1, train_rows.max(1));
        let per_feature: Vec<(BinMapper, Vec<u8>, u8, bool)> = data
            .columns()
            .par_iter()
            .zip(encodings)
            .map(|(column, encoding)| match (column, encoding) {
                (RawColumn::Numeric(v), _) => bin_column(|r| v[r], n, train_rows, max_bin, sample_rows),
                (RawColumn::Categorical(c), Encoding::Categorical { codes, .. }) => {
                    bin_column(|r| codes[c.ids[r] as usize], n, train_rows, max_bin, sample_rows)
                }
                (RawColumn::Categorical(_), Encoding::Numeric) => {
                    bin_column(|_| f32::NAN, n, train_rows, max_bin, sample_rows)
                }
            })
            .collect();
        let mut m =
            BinnedMatrix { mappers: Vec::new(), columns: Vec::new(), default_bins: Vec::new(), splittable: Vec::new() };
        for (mapper, bins, default_bin, splittable) in per_feature {
            m.mappers.push(mapper);
            m.columns.push(bins);
            m.default_bins.push(default_bin);
            m.splittable.push(splittable);
        }
        m
    }

    pub fn n_features(&self) -> usize {
        self.columns.len()
    }
}

/// Bins one column whose row `r` has value `value(r)` (monomorphised per column kind, so the per-row loop has no
/// dispatch): bounds from evenly spaced training rows, then every row, then the most frequent training bin.
fn bin_column(
    value: impl Fn(usize) -> f32,
    n: usize,
    train_rows: usize,
    max_bin: usize,
    sample_rows: usize,
) -> (BinMapper, Vec<u8>, u8, bool) {
    let mut sample: Vec<f32> =
        (0..sample_rows).map(|i| value((i as u128 * train_rows as u128 / sample_rows as u128) as usize)).collect();
    let mapper = BinMapper::from_sample(&mut sample, max_bin);
    let bins: Vec<u8> = (0..n).map(|r| mapper.bin(value(r))).collect();
    let mut counts = [0usize; 256];
    for &b in &bins[..train_rows] {
        counts[b as usize] += 1;
    }
    // Ties go to the lowest bin, so the choice depends on the data only.
    let default_bin = (0..256).fold(0, |best, b| if counts[b] > counts[best] { b } else { best }) as u8;
    let splittable = counts.iter().filter(|&&c| c > 0).count() >= 2;
    (mapper, bins, default_bin, splittable)
}
