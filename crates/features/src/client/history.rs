//! One entity's recent transactions, sorted by event time, with running totals for window statistics.
//!
//! Window counts and amount statistics must be computed by event time although records arrive slightly out of
//! order, and must cost little per record on a busy key (a popular card1 holds thousands of entries in 30 days).
//! So entries are kept sorted by time (arrivals are almost always appends; a late one is inserted near the end),
//! each with the cumulative count, sum and sum of squares of amounts up to and including it: any window is then two
//! binary searches and one subtraction.
//!
//! Searches start from the newest end and widen by doubling, because queries (the windows of a new transaction)
//! and inserts are almost always about the last few entries; a 1-hour count on a card with thousands of entries in
//! 30 days touches a handful of them.
//!
//! Entries too old for any window are pruned from the front but still counted ([`History::seen`]) and remembered
//! by their newest time ([`History::prev_time`]). The live entries are `entries[head..]`; the dead prefix is
//! compacted away (and the running totals rebased to zero, so they never grow beyond the live window's) once it is
//! at least half of the vector, which keeps pruning O(1) amortised.

use super::inline_vec::InlineVec;

/// Entries kept in the entity's own slot before spilling to the heap: most client keys have one to three.
const INLINE_ENTRIES: usize = 2;

/// Cumulative totals over entries: how many carried an amount, and the sum and sum of squares of
/// `amount − shift`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Totals {
    pub(crate) n: u64,
    pub(crate) sum: f64,
    pub(crate) sq: f64,
}

impl Totals {
    fn minus(self, other: Totals) -> Totals {
        Totals { n: self.n - other.n, sum: self.sum - other.sum, sq: self.sq - other.sq }
    }

    fn plus(self, other: Totals) -> Totals {
        Totals { n: self.n + other.n, sum: self.sum + other.sum, sq: self.sq + other.sq }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Entry {
    /// Event time, milliseconds.
    pub(crate) t: i64,
    /// Totals of every entry from the last rebase up to and including this one.
    pub(crate) cum: Totals,
}

/// Amount statistics over a window: mean and sample standard deviation (NaN when undefined).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AmountStats {
    pub(crate) mean: f64,
    pub(crate) std: f64,
}

/// One entity's entries. See the module doc.
#[derive(Debug, Clone)]
pub(crate) struct History {
    entries: InlineVec<Entry, INLINE_ENTRIES>,
    /// First live entry; `entries[..head]` are pruned entries awaiting compaction.
    head: usize,
    /// Entries pruned since the last reset.
    pruned: u64,
    /// Event time of the newest pruned entry, `i64::MIN` when none.
    pruned_newest: i64,
    /// Newest event time ever inserted since the last reset, `i64::MIN` when none.
    newest: i64,
    /// Subtracted from amounts before summing, so the sum of squares does not cancel catastrophically: the first
    /// amount the entity saw (NaN until then).
    shift: f64,
}

impl Default for History {
    fn default() -> History {
        History {
            entries: InlineVec::default(),
            head: 0,
            pruned: 0,
            pruned_newest: i64::MIN,
            newest: i64::MIN,
            shift: f64::NAN,
        }
    }
}

impl History {
    /// Every field as it is, for a snapshot: entries (the pruned prefix included), head, pruned count, newest pruned
    /// time, newest time, shift.
    pub(crate) fn parts(&self) -> (&[Entry], usize, u64, i64, i64, f64) {
        (&self.entries, self.head, self.pruned, self.pruned_newest, self.newest, self.shift)
    }

    /// A history from the [`History::parts`] of another.
    pub(crate) fn from_parts(
        entries: InlineVec<Entry, INLINE_ENTRIES>,
        head: usize,
        pruned: u64,
        pruned_newest: i64,
        newest: i64,
        shift: f64,
    ) -> History {
        History { entries, head, pruned, pruned_newest, newest, shift }
    }

    /// Forgets everything, keeping the allocation.
    pub(crate) fn reset(&mut self) {
        self.entries.clear();
        self.head = 0;
        self.pruned = 0;
        self.pruned_newest = i64::MIN;
        self.newest = i64::MIN;
        self.shift = f64::NAN;
    }

    /// The newest event time inserted, `i64::MIN` for an empty history.
    pub(crate) fn newest(&self) -> i64 {
        self.newest
    }

    /// Live (unpruned) entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len() - self.head
    }

    fn live(&self) -> &[Entry] {
        &self.entries[self.head..]
    }

    /// Totals of the live entries before live index `i`.
    fn totals_before(&self, i: usize) -> Totals {
        let abs = self.head + i;
        if abs == 0 {
            Totals::default()
        } else {
            self.entries[abs - 1].cum
        }
    }

    /// Number of live entries strictly earlier than `t`: the entries a transaction at `t` may see.
    pub(crate) fn before(&self, t: i64) -> usize {
        first_at_or_after(self.live(), t)
    }

    /// Live index of the first entry at or after `from` among the first `end` live ones (`end` if none): the start
    /// of a window ending at `end`. Windows of growing length can pass the previous start as `end`.
    pub(crate) fn start(&self, from: i64, end: usize) -> usize {
        first_at_or_after(&self.live()[..end], from)
    }

    /// Mean and sample standard deviation of the amounts of live entries `lo..hi`.
    pub(crate) fn amount_stats(&self, lo: usize, hi: usize) -> AmountStats {
        let w = self.totals_before(hi).minus(self.totals_before(lo));
        let n = w.n as f64;
        let mean = if w.n == 0 { f64::NAN } else { self.shift + w.sum / n };
        let std = if w.n < 2 { f64::NAN } else { ((w.sq - w.sum * w.sum / n) / (n - 1.0)).max(0.0).sqrt() };
        AmountStats { mean, std }
    }

    /// Event time of the newest entry before the first `hi` live ones end, falling back to the newest pruned one.
    pub(crate) fn prev_time(&self, hi: usize) -> Option<i64> {
        if hi > 0 {
            Some(self.live()[hi - 1].t)
        } else {
            (self.pruned > 0).then_some(self.pruned_newest)
        }
    }

    /// Pruned entries plus the first `hi` live ones: everything seen before a transaction whose `before()` is `hi`.
    pub(crate) fn seen(&self, hi: usize) -> u64 {
        self.pruned + hi as u64
    }

    /// Adds an entry at event time `t`, after any entries with the same time.
    pub(crate) fn insert(&mut self, t: i64, amount: Option<f64>) {
        let contribution = match amount {
            Some(x) => {
                if self.shift.is_nan() {
                    self.shift = x;
                }
                let d = x - self.shift;
                Totals { n: 1, sum: d, sq: d * d }
            }
            None => Totals::default(),
        };
        self.newest = self.newest.max(t);
        // After any entries at the same time (times are integers).
        let at = first_at_or_after(self.live(), t.saturating_add(1));
        let cum = self.totals_before(at).plus(contribution);
        let abs = self.head + at;
        self.entries.insert(abs, Entry { t, cum });
        for later in &mut self.entries[abs + 1..] {
            later.cum = later.cum.plus(contribution);
        }
    }

    /// Prunes live entries older than `cutoff` (they stay counted by [`seen`](Self::seen)).
    pub(crate) fn prune(&mut self, cutoff: i64) {
        let start = self.head;
        while self.head < self.entries.len() && self.entries[self.head].t < cutoff {
            self.head += 1;
        }
        if self.head == start {
            return;
        }
        self.pruned += (self.head - start) as u64;
        self.pruned_newest = self.pruned_newest.max(self.entries[self.head - 1].t);
        if self.head * 2 >= self.entries.len() {
            self.compact();
        }
    }

    /// Drops the pruned prefix and rebases the running totals to start at zero.
    fn compact(&mut self) {
        let base = self.totals_before(0);
        self.entries.drain_front(self.head);
        self.head = 0;
        for e in self.entries.iter_mut() {
            e.cum = e.cum.minus(base);
        }
        // A burst long gone should not pin its memory for the entity's lifetime.
        self.entries.shrink();
    }
}

/// Index of the first entry at or after `t` in time-sorted `entries`, searching from the end in doubling steps
/// (O(log d) for an answer d entries from the end).
fn first_at_or_after(entries: &[Entry], t: i64) -> usize {
    // Invariant: every entry from `hi` on is at or after `t`.
    let mut hi = entries.len();
    let mut step = 1;
    while hi > 0 {
        let probe = hi.saturating_sub(step);
        if entries[probe].t < t {
            return probe + 1 + entries[probe + 1..hi].partition_point(|e| e.t < t);
        }
        hi = probe;
        step *= 2;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(items: &[(i64, f64)]) -> History {
        let mut h = History::default();
        for &(t, x) in items {
            h.insert(t, (!x.is_nan()).then_some(x));
        }
        h
    }

    fn naive_stats(items: &[(i64, f64)], from: i64, to: i64) -> (usize, f64, f64) {
        let xs: Vec<f64> = items.iter().filter(|(t, x)| *t >= from && *t < to && !x.is_nan()).map(|i| i.1).collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        (xs.len(), mean, var.sqrt())
    }

    #[test]
    fn searching_from_the_end_finds_the_first_entry_at_or_after_a_time() {
        for n in 0..40i64 {
            // Times 0, 2, 4, ... with every third one doubled.
            let mut entries = Vec::new();
            for i in 0..n {
                entries.push(Entry { t: 2 * i, cum: Totals::default() });
                if i % 3 == 0 {
                    entries.push(Entry { t: 2 * i, cum: Totals::default() });
                }
            }
            for t in -1..2 * n + 2 {
                assert_eq!(first_at_or_after(&entries, t), entries.partition_point(|e| e.t < t), "n {n} t {t}");
            }
        }
    }

    #[test]
    fn out_of_order_inserts_keep_time_order_and_totals() {
        let items = [(10, 5.0), (30, 7.0), (20, 100.0), (30, 1.0), (5, f64::NAN), (40, 2.5), (25, 3.0)];
        let h = history(&items);
        let times: Vec<i64> = h.live().iter().map(|e| e.t).collect();
        assert_eq!(times, [5, 10, 20, 25, 30, 30, 40]);
        assert_eq!(h.before(30), 4);
        assert_eq!(h.before(31), 6);
        assert_eq!(h.before(30) - h.start(10, h.before(30)), 3);
        for (from, to) in [(0, 41), (10, 30), (20, 41), (11, 26)] {
            let (n, mean, std) = naive_stats(&items, from, to);
            let hi = h.before(to);
            let s = h.amount_stats(h.start(from, hi), hi);
            assert!((s.mean - mean).abs() < 1e-12, "{from}..{to}: {} vs {mean}", s.mean);
            if n >= 2 {
                assert!((s.std - std).abs() < 1e-12, "{from}..{to}: {} vs {std}", s.std);
            } else {
                assert!(s.std.is_nan());
            }
        }
        assert!(h.amount_stats(0, h.before(5)).mean.is_nan());
        // Nested windows: a longer one may start its search at the shorter one's start.
        let hi = h.before(41);
        let short = h.start(30, hi);
        assert_eq!((short, h.start(20, short), h.start(0, short)), (4, 2, 0));
        assert_eq!(h.prev_time(h.before(30)), Some(25));
        assert_eq!(h.prev_time(h.before(5)), None);
    }

    #[test]
    fn pruned_entries_stay_counted_and_remembered_and_totals_rebase() {
        let mut h = History::default();
        let mut items = Vec::new();
        for i in 0..1000i64 {
            let x = 1e4 + (i % 7) as f64;
            h.insert(i * 10, Some(x));
            items.push((i * 10, x));
            h.prune(i * 10 - 100);
        }
        assert!(h.len() <= 11 && h.entries.len() <= 22, "{} live, {} stored", h.len(), h.entries.len());
        let hi = h.before(10_000);
        assert_eq!(h.seen(hi), 1000);
        assert_eq!(h.seen(h.before(9_890)), 989);
        let (n, mean, std) = naive_stats(&items, 9_900, 10_000);
        let lo = h.start(9_900, hi);
        let s = h.amount_stats(lo, hi);
        assert_eq!(hi - lo, n);
        assert!((s.mean - mean).abs() < 1e-9 && (s.std - std).abs() < 1e-9, "{s:?} vs {mean} {std}");
        // Everything pruned: the newest pruned entry is still the previous one.
        h.prune(20_000);
        assert_eq!((h.len(), h.prev_time(0), h.seen(0)), (0, Some(9_990), 1000));
        h.reset();
        assert_eq!((h.prev_time(0), h.seen(0), h.newest()), (None, 0, i64::MIN));
    }
}
