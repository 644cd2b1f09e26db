//! Training rows as the feature code produced them: [`DatasetBuilder`] takes one row of
//! [`InputValue`]s per record (from [`FeatureSet::extract`]) and a label, in event-time order, and builds a
//! [`Dataset`].
//!
//! Nothing is learned here: numeric values are stored as `f32` (the type the exported model's inputs have, NaN =
//! missing) and strings are interned per feature, so the split into training and validation parts, the
//! vocabularies and the bins are all decided later by the trainer from the training part alone.

use std::collections::{HashMap, HashSet};

use fraudstream_features::{FeatureKind, FeatureSet, InputValue};
use rayon::prelude::*;

use crate::error::{Result, TrainError};
use crate::fingerprint::Fingerprint;

/// Interned id of the missing string `""` in every categorical column.
pub(crate) const MISSING_ID: u32 = 0;

/// One feature's raw values.
#[derive(Debug, Clone)]
pub(crate) enum RawColumn {
    /// Values as the exported model's `float` input will carry them: `f64 as f32`, NaN for missing.
    Numeric(Vec<f32>),
    Categorical(CategoryColumn),
}

/// Interned strings of one categorical feature.
#[derive(Debug, Clone, Default)]
pub(crate) struct CategoryColumn {
    /// Per row, an index into `strings` ([`MISSING_ID`] for `""`).
    pub ids: Vec<u32>,
    /// Distinct strings in first-seen order; `strings[0]` is `""`.
    pub strings: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl CategoryColumn {
    fn new() -> CategoryColumn {
        let mut c = CategoryColumn::default();
        c.strings.push("".into());
        c.index.insert("".into(), MISSING_ID);
        c
    }

    fn push(&mut self, s: &str) {
        let id = match self.index.get(s) {
            Some(&id) => id,
            None => {
                let id = self.strings.len() as u32;
                self.strings.push(s.into());
                self.index.insert(s.into(), id);
                id
            }
        };
        self.ids.push(id);
    }
}

/// Collects rows for a [`Dataset`].
#[derive(Debug, Clone)]
pub struct DatasetBuilder {
    features: FeatureSet,
    columns: Vec<RawColumn>,
    labels: Vec<bool>,
}

impl DatasetBuilder {
    /// A builder for rows of `features`, in the set's order.
    pub fn new(features: &FeatureSet) -> DatasetBuilder {
        let columns = features
            .kinds()
            .iter()
            .map(|k| match k {
                FeatureKind::Numeric => RawColumn::Numeric(Vec::new()),
                FeatureKind::Categorical => RawColumn::Categorical(CategoryColumn::new()),
            })
            .collect();
        DatasetBuilder { features: features.clone(), columns, labels: Vec::new() }
    }

    /// Appends one row. `values` are the feature values in the set's order (as [`FeatureSet::extract`] gives them);
    /// rows must come in event-time order, because the last ones become the validation part. A row with the wrong
    /// width or a value of the wrong kind is an error and leaves the builder unchanged.
    pub fn push(&mut self, values: &[InputValue<'_>], label: bool) -> Result<()> {
        let row = self.labels.len();
        if values.len() != self.columns.len() {
            return Err(TrainError::RowWidth { row, got: values.len(), expected: self.columns.len() });
        }
        for (i, (v, c)) in values.iter().zip(&self.columns).enumerate() {
            let (expected, got) = match (c, v) {
                (RawColumn::Numeric(_), InputValue::Str(_)) => ("numeric", "a string"),
                (RawColumn::Categorical(_), InputValue::Num(_)) => ("categorical", "a number"),
                _ => continue,
            };
            return Err(TrainError::ValueKind { row, feature: self.features.names()[i].clone(), expected, got });
        }
        for (v, c) in values.iter().zip(&mut self.columns) {
            match (c, v) {
                (RawColumn::Numeric(col), InputValue::Num(x)) => col.push(*x as f32),
                (RawColumn::Categorical(col), InputValue::Str(s)) => col.push(s),
                _ => {}
            }
        }
        self.labels.push(label);
        Ok(())
    }

    /// Like [`push`](Self::push) with the label as a number, as CSV files carry it: 0 or 1, anything else (NaN
    /// included) is an error.
    pub fn push_numeric_label(&mut self, values: &[InputValue<'_>], label: f64) -> Result<()> {
        let label = match label {
            0.0 => false,
            1.0 => true,
            _ => return Err(TrainError::BadLabel { row: self.labels.len(), label }),
        };
        self.push(values, label)
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether no row was pushed.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Freezes the rows. Fails on an empty or duplicate-named feature set or when no row was pushed.
    pub fn build(self) -> Result<Dataset> {
        if self.features.is_empty() {
            return Err(TrainError::NoFeatures);
        }
        let mut seen = HashSet::new();
        if let Some(dup) = self.features.names().iter().find(|n| !seen.insert(n.as_str())) {
            return Err(TrainError::DuplicateFeature(dup.clone()));
        }
        if self.labels.is_empty() {
            return Err(TrainError::NoRows("the dataset is empty".into()));
        }
        let fingerprint = fingerprint(&self.features, &self.columns, &self.labels);
        Ok(Dataset { features: self.features, columns: self.columns, labels: self.labels, fingerprint })
    }
}

/// Training rows in event-time order, frozen.
#[derive(Debug, Clone)]
pub struct Dataset {
    features: FeatureSet,
    columns: Vec<RawColumn>,
    labels: Vec<bool>,
    fingerprint: u64,
}

impl Dataset {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Always false: a built dataset has rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features, in column order.
    pub fn features(&self) -> &FeatureSet {
        &self.features
    }

    /// Labels in row order (true = fraud).
    pub fn labels(&self) -> &[bool] {
        &self.labels
    }

    /// A 64-bit hash of feature names, kinds, every value and every label, written into the model files so a
    /// model can be traced to its data.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The value of feature `feature` in row `row`, as an [`InputValue`] (for scoring a dataset row with the
    /// exported model or [`crate::TrainedModel::predict_row`]). Panics when out of range.
    pub fn value(&self, row: usize, feature: usize) -> InputValue<'_> {
        match &self.columns[feature] {
            RawColumn::Numeric(v) => InputValue::Num(f64::from(v[row])),
            RawColumn::Categorical(c) => InputValue::Str(&c.strings[c.ids[row] as usize]),
        }
    }

    pub(crate) fn columns(&self) -> &[RawColumn] {
        &self.columns
    }
}

/// Hashes columns in parallel (each column on its own), then combines them in order, so the result does not depend
/// on the thread count.
fn fingerprint(features: &FeatureSet, columns: &[RawColumn], labels: &[bool]) -> u64 {
    let column_hashes: Vec<u64> = columns
        .par_iter()
        .map(|c| {
            let mut f = Fingerprint::new("column");
            match c {
                RawColumn::Numeric(v) => {
                    for x in v {
                        // One NaN pattern: a missing value is missing however it was produced.
                        let bits = if x.is_nan() { 0x7fc0_0000 } else { x.to_bits() };
                        f.word(u64::from(bits));
                    }
                }
                RawColumn::Categorical(c) => {
                    let string_hashes: Vec<u64> = c
                        .strings
                        .iter()
                        .map(|s| {
                            let mut h = Fingerprint::new("string");
                            h.bytes(s.as_bytes());
                            h.finish()
                        })
                        .collect();
                    for &id in &c.ids {
                        f.word(string_hashes[id as usize]);
                    }
                }
            }
            f.finish()
        })
        .collect();
    let mut f = Fingerprint::new("fraudstream-train dataset v1");
    f.word(labels.len() as u64);
    for ((name, kind), h) in features.names().iter().zip(features.kinds()).zip(column_hashes) {
        f.bytes(name.as_bytes());
        f.word(matches!(kind, FeatureKind::Categorical) as u64);
        f.word(h);
    }
    for chunk in labels.chunks(64) {
        f.word(chunk.iter().enumerate().fold(0u64, |w, (i, &l)| w | (u64::from(l) << i)));
    }
    f.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FeatureSet {
        FeatureSet::new(&["TransactionAmt", "ProductCD"]).expect("features")
    }

    #[test]
    fn rows_are_checked_before_they_are_stored() {
        let mut b = DatasetBuilder::new(&set());
        b.push(&[InputValue::Num(1.5), InputValue::Str("W")], true).expect("row");
        let err = b.push(&[InputValue::Num(1.5)], true).unwrap_err();
        assert!(matches!(err, TrainError::RowWidth { row: 1, got: 1, expected: 2 }), "{err}");
        let err = b.push(&[InputValue::Str("x"), InputValue::Str("W")], false).unwrap_err();
        assert!(err.to_string().contains("`TransactionAmt` is numeric, got a string"), "{err}");
        let err = b.push_numeric_label(&[InputValue::Num(2.0), InputValue::Str("C")], f64::NAN).unwrap_err();
        assert!(err.to_string().contains("label NaN"), "{err}");
        assert_eq!(b.len(), 1);
        let d = b.build().expect("dataset");
        assert_eq!(d.value(0, 1), InputValue::Str("W"));
        assert_eq!(d.value(0, 0), InputValue::Num(1.5));
    }

    #[test]
    fn fingerprint_sees_values_and_labels() {
        let build = |amt: f64, label: bool| {
            let mut b = DatasetBuilder::new(&set());
            b.push(&[InputValue::Num(amt), InputValue::Str("W")], label).expect("row");
            b.build().expect("dataset").fingerprint()
        };
        assert_eq!(build(1.0, true), build(1.0, true));
        assert_ne!(build(1.0, true), build(2.0, true));
        assert_ne!(build(1.0, true), build(1.0, false));
    }

    #[test]
    fn empty_and_duplicate_sets_are_refused() {
        let err = DatasetBuilder::new(&set()).build().unwrap_err();
        assert!(matches!(err, TrainError::NoRows(_)), "{err}");
        let dup = FeatureSet::new(&["card1", "card1"]).expect("features");
        let mut b = DatasetBuilder::new(&dup);
        b.push(&[InputValue::Num(1.0), InputValue::Num(1.0)], true).expect("row");
        assert!(matches!(b.build().unwrap_err(), TrainError::DuplicateFeature(n) if n == "card1"));
    }
}
