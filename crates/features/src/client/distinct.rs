//! Distinct values seen by one client, each with the earliest event time it was seen at.
//!
//! Keeping the earliest time (rather than just the set) is what makes the count exact under out-of-order arrival:
//! a transaction counts only values first seen strictly before it, whatever was processed first. Values are kept as
//! 64-bit hashes, so the state never holds the strings. One set holds several kinds of value (e-mails and devices),
//! told apart by the hash's low bit, so a client with one of each needs no heap block. A client rarely has more
//! than a few; each kind is capped so a pathological key cannot grow without bound.

use super::inline_vec::InlineVec;

/// At most this many distinct values of each kind are remembered per client; the count saturates there.
pub(crate) const MAX_DISTINCT: usize = 64;

/// What a value is; part of its stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Email = 0,
    Device = 1,
}

/// See the module doc.
#[derive(Debug, Clone, Default)]
pub(crate) struct Distinct {
    /// (value hash with the kind in its low bit, earliest event time seen).
    values: InlineVec<(u64, i64), 2>,
}

fn tagged(kind: Kind, value: u64) -> u64 {
    (value & !1) | kind as u64
}

impl Distinct {
    /// Values of `kind` first seen strictly before `t`.
    pub(crate) fn count_before(&self, kind: Kind, t: i64) -> usize {
        self.values.iter().filter(|(v, first)| *v & 1 == kind as u64 && *first < t).count()
    }

    /// Records `value` of `kind` as seen at `t`.
    pub(crate) fn insert(&mut self, kind: Kind, value: u64, t: i64) {
        let value = tagged(kind, value);
        if let Some((_, first)) = self.values.iter_mut().find(|(v, _)| *v == value) {
            *first = (*first).min(t);
        } else if self.values.iter().filter(|(v, _)| *v & 1 == kind as u64).count() < MAX_DISTINCT {
            self.values.push((value, t));
        }
    }

    /// The stored (tagged value, first time) pairs, for a snapshot.
    pub(crate) fn values(&self) -> &[(u64, i64)] {
        &self.values
    }

    /// Adds a stored pair as [`Distinct::values`] gave it (restoring a snapshot).
    pub(crate) fn push_raw(&mut self, value: u64, first: i64) {
        self.values.push((value, first));
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
    fn counts_values_by_kind_and_earliest_time_and_saturates() {
        let mut d = Distinct::default();
        d.insert(Kind::Email, 2, 100);
        d.insert(Kind::Email, 4, 50);
        d.insert(Kind::Email, 2, 20);
        // The same hash as a device is a different value.
        d.insert(Kind::Device, 2, 10);
        let email = |t| d.count_before(Kind::Email, t);
        assert_eq!((email(20), email(21), email(51), d.count_before(Kind::Device, 11), d.len()), (0, 1, 2, 1, 3));
        for v in 0..1000 {
            d.insert(Kind::Email, v << 1, 0);
        }
        assert_eq!(d.len(), MAX_DISTINCT + 1);
    }
}
