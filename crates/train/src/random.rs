//! Counter-based random numbers: every draw is a pure function of `(seed, stream, round, index)`.
//!
//! Why not `rand`: `SmallRng`'s algorithm may change between versions and platforms, and a stateful generator makes
//! the result depend on the order threads draw in. A keyed hash of the draw's coordinates gives the same bag of
//! rows and the same feature subset on any machine, thread count or schedule, which is what "same seed, same model"
//! needs.

/// What a draw is for, so bagging and feature sampling never share a sequence.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Bagging = 1,
    Features = 2,
}

use fraudstream_data::rng::splitmix64 as mix64;

/// A generator keyed by seed, stream and round.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draws {
    key: u64,
}

impl Draws {
    pub fn new(seed: u64, stream: Stream, round: u64) -> Draws {
        let key = mix64(mix64(seed ^ 0x5851_f42d_4c95_7f2d) ^ mix64((stream as u64) << 32 | round));
        Draws { key }
    }

    /// The `index`-th 64-bit draw.
    #[inline]
    pub fn u64(&self, index: u64) -> u64 {
        mix64(self.key ^ mix64(index.wrapping_add(0x9e37_79b9_7f4a_7c15)))
    }

    /// The `index`-th draw, uniform in `[0, 1)` with 53 bits.
    #[inline]
    pub fn unit(&self, index: u64) -> f64 {
        (self.u64(index) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// `k` distinct indices out of `0..n`, ascending: a partial Fisher-Yates shuffle driven by `draws`.
pub(crate) fn choose(draws: &Draws, n: usize, k: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    let k = k.min(n);
    for i in 0..k {
        let span = (n - i) as u64;
        let j = i + (draws.u64(i as u64) % span) as usize;
        all.swap(i, j);
    }
    let mut chosen = all[..k].to_vec();
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_depend_only_on_their_coordinates() {
        let a = Draws::new(7, Stream::Bagging, 3);
        let b = Draws::new(7, Stream::Bagging, 3);
        assert_eq!(a.u64(12), b.u64(12));
        assert_ne!(a.u64(12), Draws::new(7, Stream::Features, 3).u64(12));
        assert_ne!(a.u64(12), Draws::new(8, Stream::Bagging, 3).u64(12));
        let mean = (0..10_000).map(|i| a.unit(i)).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    #[test]
    fn choose_returns_distinct_sorted_indices() {
        let c = choose(&Draws::new(1, Stream::Features, 0), 100, 80);
        assert_eq!(c.len(), 80);
        assert!(c.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(choose(&Draws::new(1, Stream::Features, 0), 5, 9), vec![0, 1, 2, 3, 4]);
    }
}
