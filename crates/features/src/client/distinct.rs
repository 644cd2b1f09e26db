//! Distinct values seen by one client, each with the earliest event time it was seen at.
//!
//! Keeping the earliest time (rather than just the set) is what makes the count exact under out-of-order arrival:
//! a transaction counts only values first seen strictly before it, whatever was processed first. Values are kept as
//! 64-bit hashes, so the state never holds the strings; a client rarely has more than a few, and the set is capped
//! so a pathological key cannot grow without bound.

/// At most this many distinct values are remembered per client; the count saturates there.
pub(crate) const MAX_DISTINCT: usize = 64;

/// See the module doc.
#[derive(Debug, Clone, Default)]
pub(crate) struct Distinct {
    /// (value hash, earliest event time seen).
    values: Vec<(u64, i64)>,
}

impl Distinct {
    /// Values first seen strictly before `t`.
    pub(crate) fn count_before(&self, t: i64) -> usize {
        self.values.iter().filter(|(_, first)| *first < t).count()
    }

    /// Records `value` as seen at `t`.
    pub(crate) fn insert(&mut self, value: u64, t: i64) {
        if let Some((_, first)) = self.values.iter_mut().find(|(v, _)| *v == value) {
            *first = (*first).min(t);
        } else if self.values.len() < MAX_DISTINCT {
            self.values.push((value, t));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    pub(crate) fn clear(&mut self) {
        self.values.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_values_by_their_earliest_time_and_saturates() {
        let mut d = Distinct::default();
        d.insert(1, 100);
        d.insert(2, 50);
        d.insert(1, 20);
        assert_eq!((d.count_before(20), d.count_before(21), d.count_before(51), d.len()), (0, 1, 2, 2));
        for v in 0..1000 {
            d.insert(v, 0);
        }
        assert_eq!(d.len(), MAX_DISTINCT);
    }
}
