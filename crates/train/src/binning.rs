//! Quantile bins: each feature's values are cut into at most `max_bin` value bins (plus bin 0 for missing), from a
//! deterministic sample of the training part.
//!
//! Bins are defined by inclusive `f32` upper bounds `u[0] < u[1] < … < u[B-1] = +inf`, and value `x` falls in bin
//! `1 + |{j : u[j] < x}|`. So "bin ≤ k" is exactly `x <= u[k-1]` in `f32` — the comparison the exported
//! `BRANCH_LEQ` node makes on the `float` input — and training, the trainer's own predictions, our inference
//! engine and onnxruntime route every value, NaN and ±inf included, the same way. Bounds are midpoints between
//! neighbouring sample values (as LightGBM's), so unseen values between them split sensibly.

/// Missing values (NaN) fall in this bin.
pub(crate) const MISSING_BIN: u8 = 0;

/// Entries of the padded bound table ([`BinMapper::bin`] searches it branch-free).
const TABLE: usize = 256;

/// The bins of one feature.
#[derive(Debug, Clone)]
pub(crate) struct BinMapper {
    /// Inclusive upper bounds of value bins `1..=B`; the last is `+inf`.
    upper: Vec<f32>,
    /// `upper` padded with `+inf` to [`TABLE`] entries.
    table: Box<[f32; TABLE]>,
    /// The power of two ≥ `upper.len()`: the part of `table` a search needs (most features have few bins).
    span: usize,
}

impl BinMapper {
    /// Bins for the non-missing values among `sample` (which is sorted in place), at most `max_bin` (≤ 255) value
    /// bins. Equal-count bins; a value holding more than a bin's share gets a bin of its own.
    pub fn from_sample(sample: &mut Vec<f32>, max_bin: usize) -> BinMapper {
        sample.retain(|x| !x.is_nan());
        radix_sort(sample);
        // Distinct values with their counts (-0.0 and 0.0 are one value: they compare equal).
        let mut distinct: Vec<(f32, usize)> = Vec::new();
        for &x in sample.iter() {
            match distinct.last_mut() {
                Some((v, n)) if *v == x => *n += 1,
                _ => distinct.push((x, 1)),
            }
        }
        let max_bin = max_bin.clamp(1, TABLE - 1);
        let mut upper = Vec::new();
        if distinct.len() <= max_bin {
            upper.extend(distinct.windows(2).map(|w| midpoint(w[0].0, w[1].0)));
        } else {
            let mut rest = sample.len() as f64;
            let mut bins_left = max_bin as f64;
            let mut in_bin = 0usize;
            for (i, w) in distinct.windows(2).enumerate() {
                in_bin += w[0].1;
                let share = rest / bins_left;
                if in_bin as f64 >= share || w[1].1 as f64 >= share {
                    upper.push(midpoint(w[0].0, w[1].0));
                    rest -= in_bin as f64;
                    in_bin = 0;
                    bins_left -= 1.0;
                    if bins_left <= 1.0 || i + 2 == distinct.len() {
                        break;
                    }
                }
            }
        }
        upper.push(f32::INFINITY);
        BinMapper::from_upper(upper)
    }

    /// A mapper from explicit bounds (ascending, last `+inf`).
    pub fn from_upper(upper: Vec<f32>) -> BinMapper {
        let mut table = Box::new([f32::INFINITY; TABLE]);
        table[..upper.len()].copy_from_slice(&upper);
        let span = upper.len().next_power_of_two().min(TABLE);
        BinMapper { upper, table, span }
    }

    /// Bins including the missing bin.
    pub fn n_bins(&self) -> usize {
        self.upper.len() + 1
    }

    /// The bin of `x`.
    #[inline]
    pub fn bin(&self, x: f32) -> u8 {
        if x.is_nan() {
            return MISSING_BIN;
        }
        // Branch-free lower bound: the number of bounds below x (all of them are in the first `span` entries).
        let t = &self.table;
        let mut base = 0usize;
        let mut n = self.span;
        while n > 1 {
            let half = n / 2;
            base = if t[base + half - 1] < x { base + half } else { base };
            n -= half;
        }
        let below = base + usize::from(t[base] < x);
        (1 + below) as u8
    }

    /// The `BRANCH_LEQ` threshold that sends value bins `1..=k` left: `x <= upper[k-1]`.
    pub fn threshold(&self, k: usize) -> f32 {
        self.upper[k - 1]
    }

    /// The bounds.
    #[cfg(test)]
    pub fn upper(&self) -> &[f32] {
        &self.upper
    }
}

/// Sorts non-NaN `f32`s ascending (-0.0 before 0.0): an LSD radix sort over order-preserving `u32` keys, several
/// times faster than a comparison sort on the 200,000-value samples binning sorts for every feature.
fn radix_sort(v: &mut [f32]) {
    // Flip all bits of negatives and the sign bit of the rest: unsigned order is then numeric order.
    let key = |x: f32| {
        let b = x.to_bits();
        if b >> 31 == 1 {
            !b
        } else {
            b | 0x8000_0000
        }
    };
    let unkey = |k: u32| f32::from_bits(if k >> 31 == 1 { k & 0x7fff_ffff } else { !k });
    let mut keys: Vec<u32> = v.iter().map(|&x| key(x)).collect();
    let mut buf = vec![0u32; keys.len()];
    for shift in [0, 8, 16, 24] {
        let mut counts = [0usize; 257];
        for &k in &keys {
            counts[((k >> shift) & 0xff) as usize + 1] += 1;
        }
        if counts.contains(&keys.len()) {
            continue; // every key has the same byte here: the pass would not move anything
        }
        for i in 1..257 {
            counts[i] += counts[i - 1];
        }
        for &k in &keys {
            let slot = &mut counts[((k >> shift) & 0xff) as usize];
            buf[*slot] = k;
            *slot += 1;
        }
        std::mem::swap(&mut keys, &mut buf);
    }
    for (x, k) in v.iter_mut().zip(keys) {
        *x = unkey(k);
    }
}

/// A bound between neighbouring values `a < b`: their midpoint when it lies in `[a, b)` in `f32`, else `a`.
fn midpoint(a: f32, b: f32) -> f32 {
    let m = ((f64::from(a) + f64::from(b)) * 0.5) as f32;
    if m >= a && m < b {
        m
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each_with_midpoint_bounds() {
        let mut s = vec![3.0, 1.0, f32::NAN, 2.0, 1.0, 3.0];
        let m = BinMapper::from_sample(&mut s, 255);
        assert_eq!(m.upper(), &[1.5, 2.5, f32::INFINITY]);
        assert_eq!(m.n_bins(), 4);
        assert_eq!(
            [m.bin(f32::NAN), m.bin(-7.0), m.bin(1.5), m.bin(1.6), m.bin(3.0), m.bin(f32::INFINITY)],
            [0, 1, 1, 2, 3, 3]
        );
    }

    #[test]
    fn bin_agrees_with_the_leq_threshold_everywhere() {
        let mut s: Vec<f32> = (0..10_000).map(|i| ((i * 7919) % 1000) as f32 * 0.37 - 50.0).collect();
        let m = BinMapper::from_sample(&mut s, 63);
        assert!(m.n_bins() <= 64);
        let probes = [f32::NEG_INFINITY, -50.0, -49.99, 0.0, -0.0, 12.345, 319.63, 1e9, f32::INFINITY, f32::MAX];
        for x in probes.into_iter().chain((0..3000).map(|i| i as f32 * 0.123 - 60.0)) {
            let b = m.bin(x) as usize;
            for k in 1..m.n_bins() {
                assert_eq!(b <= k, x <= m.threshold(k), "x={x} bin={b} k={k}");
            }
        }
    }

    #[test]
    fn quantile_bins_have_similar_counts_and_heavy_values_their_own_bin() {
        let mut s: Vec<f32> = (0..100_000).map(|i| if i % 2 == 0 { 0.0 } else { i as f32 }).collect();
        let m = BinMapper::from_sample(&mut s, 16);
        assert!(m.n_bins() <= 17);
        let zero_bin = m.bin(0.0);
        assert!(m.bin(-0.0) == zero_bin && m.bin(1.0) != zero_bin, "zero holds half the rows: a bin of its own");
        let mut counts = vec![0usize; m.n_bins()];
        (1..100_000).step_by(2).for_each(|i| counts[m.bin(i as f32) as usize] += 1);
        let nonzero: Vec<usize> = counts.into_iter().filter(|&c| c > 0).collect();
        let (lo, hi) = (nonzero.iter().min().copied().unwrap_or(0), nonzero.iter().max().copied().unwrap_or(0));
        assert!(hi < 2 * lo, "{nonzero:?}");
    }

    #[test]
    fn radix_sort_orders_like_total_cmp() {
        let mut v: Vec<f32> = (0..5000).map(|i| ((i * 7919) % 2001) as f32 * 0.37 - 370.0).collect();
        v.extend([f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, f32::MIN_POSITIVE, -f32::MAX, 1e-30, -1e-30]);
        let mut want = v.clone();
        want.sort_unstable_by(f32::total_cmp);
        radix_sort(&mut v);
        assert_eq!(
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_all_missing_feature_has_one_value_bin() {
        let m = BinMapper::from_sample(&mut vec![f32::NAN; 4], 255);
        assert_eq!(m.n_bins(), 2);
        assert_eq!(m.bin(5.0), 1);
    }
}
