//! Categorical features as numbers the trees can split on: a frozen [`Vocabulary`] per feature, learned from the
//! training part only.
//!
//! Encoding rules (the exported model's `LabelEncoder` applies exactly these):
//! - Every category with at least `min_category_rows` training rows gets its own code. Rarer categories, and every
//!   category first seen after the training part (validation rows, live traffic), share one **unknown** code.
//! - Codes are `0, 1, 2, …` in order of smoothed training fraud rate, `(positives + m·prior) / (rows + m)` with
//!   `m = category_smoothing`, ties broken by the category text (the unknown bucket first). Ordering by rate means a
//!   single threshold on the code separates riskier categories from safer ones — LightGBM's categorical split
//!   idea, decided once per feature instead of per node, so the exported trees need nothing but `x <= t`.
//! - The missing string `""` is **missing** (NaN), not a category: it then goes wherever the split's learned
//!   missing-value direction sends it, as missing numbers do.

use serde::{Deserialize, Serialize};

use crate::dataset::{CategoryColumn, MISSING_ID};

/// One code of a [`Vocabulary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VocabEntry {
    /// The category, or `None` for the unknown bucket.
    pub category: Option<String>,
    /// Training rows with this code.
    pub rows: u64,
    /// Fraud rows among them.
    pub positives: u64,
}

/// The frozen code table of one categorical feature: `entries[c]` has code `c`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Codes in order.
    pub entries: Vec<VocabEntry>,
    /// The code of unseen and rare categories.
    pub unknown_code: u32,
}

impl Vocabulary {
    /// Learns the vocabulary of `column` from rows `0..train_rows` and returns it with the code of every interned
    /// string of the column (NaN for the missing string).
    pub(crate) fn learn(
        column: &CategoryColumn,
        labels: &[bool],
        train_rows: usize,
        min_rows: usize,
        smoothing: f64,
    ) -> (Vocabulary, Vec<f32>) {
        let n_ids = column.strings.len();
        let mut rows = vec![0u64; n_ids];
        let mut positives = vec![0u64; n_ids];
        for (&id, &label) in column.ids[..train_rows].iter().zip(&labels[..train_rows]) {
            rows[id as usize] += 1;
            positives[id as usize] += u64::from(label);
        }
        let total_pos = labels[..train_rows].iter().filter(|&&l| l).count() as f64;
        let prior = total_pos / train_rows.max(1) as f64;
        let mut unknown = VocabEntry { category: None, rows: 0, positives: 0 };
        let mut entries = Vec::new();
        // Which entry each interned id belongs to: Some(index into `entries`) or None for the unknown bucket.
        let mut own: Vec<Option<usize>> = vec![None; n_ids];
        for id in 0..n_ids {
            if id == MISSING_ID as usize || rows[id] == 0 {
                continue;
            }
            if rows[id] >= min_rows as u64 {
                own[id] = Some(entries.len());
                entries.push(VocabEntry {
                    category: Some(column.strings[id].to_string()),
                    rows: rows[id],
                    positives: positives[id],
                });
            } else {
                unknown.rows += rows[id];
                unknown.positives += positives[id];
            }
        }
        let unknown_slot = entries.len();
        entries.push(unknown);
        let rate = |e: &VocabEntry| {
            let denominator = e.rows as f64 + smoothing;
            if denominator > 0.0 {
                (e.positives as f64 + smoothing * prior) / denominator
            } else {
                prior
            }
        };
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| {
            rate(&entries[a]).total_cmp(&rate(&entries[b])).then_with(|| entries[a].category.cmp(&entries[b].category))
        });
        let mut code_of_slot = vec![0u32; entries.len()];
        for (code, &slot) in order.iter().enumerate() {
            code_of_slot[slot] = code as u32;
        }
        let unknown_code = code_of_slot[unknown_slot];
        let codes = (0..n_ids)
            .map(|id| {
                if id == MISSING_ID as usize {
                    f32::NAN
                } else {
                    own[id].map_or(unknown_code, |slot| code_of_slot[slot]) as f32
                }
            })
            .collect();
        let mut slots: Vec<Option<VocabEntry>> = entries.into_iter().map(Some).collect();
        let entries = order.iter().filter_map(|&slot| slots[slot].take()).collect();
        (Vocabulary { entries, unknown_code }, codes)
    }

    /// `(category, code)` for every category with its own code, in code order.
    pub fn known(&self) -> impl Iterator<Item = (&str, u32)> {
        self.entries.iter().enumerate().filter_map(|(c, e)| e.category.as_deref().map(|s| (s, c as u32)))
    }

    /// The code of `s` as the exported model's `LabelEncoder` computes it: NaN for `""`, the unknown code for rare
    /// and unseen categories. A linear scan: callers look each distinct string up once.
    pub fn code(&self, s: &str) -> f32 {
        if s.is_empty() {
            return f32::NAN;
        }
        self.known().find(|(k, _)| *k == s).map_or(self.unknown_code, |(_, c)| c) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: &[&str]) -> CategoryColumn {
        let mut c = CategoryColumn::default();
        c.strings.push("".into());
        for v in values {
            let id = c.strings.iter().position(|s| &**s == *v).unwrap_or_else(|| {
                c.strings.push((*v).into());
                c.strings.len() - 1
            });
            c.ids.push(id as u32);
        }
        c
    }

    #[test]
    fn codes_follow_fraud_rate_and_rare_categories_share_the_unknown_code() {
        // a: 0/4 fraud, b: 4/4, c: 2/4, d: 1 row (rare), "": missing; the last row is not training data.
        let values = ["a", "a", "a", "a", "b", "b", "b", "b", "c", "c", "c", "c", "d", "", "e"];
        let labels = [false, false, false, false, true, true, true, true, true, false, true, false, true, false, true];
        let col = column(&values);
        let (v, codes) = Vocabulary::learn(&col, &labels, 14, 2, 0.0);
        let code = |s: &str| v.code(s);
        assert!(code("a") < code("c") && code("c") < code("b"));
        assert_eq!(code("d"), v.unknown_code as f32);
        assert_eq!(code("e"), v.unknown_code as f32, "seen only after the training part");
        assert_eq!(code("never seen"), v.unknown_code as f32);
        assert!(code("").is_nan());
        assert_eq!(v.entries.len(), 4);
        for (i, s) in col.strings.iter().enumerate() {
            assert_eq!(codes[i].to_bits(), code(s).to_bits(), "{s}");
        }
    }
}
