//! A bounded uniform sample of an unbounded stream (reservoir sampling, Algorithm R).
//!
//! The run summary reports latency percentiles and ROC AUC over everything scored; on an endless Kafka run keeping
//! every value would grow without bound. Up to the capacity the sample is exact (a 590,540-row replay keeps all of
//! it); beyond, each value seen so far is kept with equal probability, deterministically per run.

/// A uniform sample of at most `capacity` items.
#[derive(Debug, Clone)]
pub struct Reservoir<T> {
    items: Vec<T>,
    capacity: usize,
    seen: u64,
    state: u64,
}

/// Values kept by the job's summaries: 2 Mi of them (8-16 MiB).
pub const SUMMARY_CAPACITY: usize = 1 << 21;

impl<T> Reservoir<T> {
    pub fn new(capacity: usize) -> Reservoir<T> {
        Reservoir { items: Vec::new(), capacity: capacity.max(1), seen: 0, state: 0x9e37_79b9_7f4a_7c15 }
    }

    pub fn push(&mut self, item: T) {
        self.seen += 1;
        if self.items.len() < self.capacity {
            self.items.push(item);
            return;
        }
        // xorshift64*: a uniform slot in 0..seen; the item replaces that slot if it falls in the sample.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let slot = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) % self.seen;
        if let Some(kept) = self.items.get_mut(slot as usize) {
            *kept = item;
        }
    }

    /// How many items were pushed in all.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The sample (all items while fewer than the capacity were pushed).
    pub fn items_mut(&mut self) -> &mut [T] {
        &mut self.items
    }

    pub fn items(&self) -> &[T] {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::Reservoir;

    #[test]
    fn exact_below_capacity_bounded_and_uniform_above() {
        let mut r = Reservoir::new(1000);
        (0..500).for_each(|i| r.push(i));
        assert_eq!(r.items(), (0..500).collect::<Vec<_>>().as_slice());
        (500..100_000).for_each(|i| r.push(i));
        assert_eq!((r.items().len(), r.seen()), (1000, 100_000));
        // Uniform: about half the kept values come from each half of the stream.
        let late = r.items().iter().filter(|&&v| v >= 50_000).count();
        assert!((400..600).contains(&late), "{late} of 1000 from the second half");
    }
}
