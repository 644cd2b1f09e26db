//! Gradient histograms: per feature and bin, the sums of gradient, hessian and row count over a leaf's rows.
//!
//! The build is the hot loop of training, so the data is laid out for it:
//! - **Row-wise sparse stripes.** Features are cut into a few stripes of neighbouring columns. For each training row a
//!   stripe stores only the bins that are *not* their feature's most frequent bin, as `u16` indices into the stripe's
//!   part of the histogram. IEEE-CIS rows are three-quarters missing or at their mode (whole V blocks share a
//!   missing mask), so a row costs about a quarter of its width, and an update is one load and one add into a
//!   histogram small enough to stay in L2.
//! - **Skipped bins are recovered** from the leaf totals: `hist[f][mode] = total − Σ other bins of f`.
//! - **Subtraction.** Only the smaller child of a split is built; the larger is `parent − smaller`
//!   ([`Histogram::subtract`]).
//!
//! Stripes run in parallel, and every stripe sums its rows sequentially in row order, so the result is the same
//! for any thread count. Stripe boundaries depend on the data only.

use std::ops::Range;

use rayon::prelude::*;

use crate::matrix::BinnedMatrix;
use crate::split::Stats;

/// Bins of one stripe at most: 16,384 bins of 20 bytes keep a stripe's histogram within a core's L2.
const STRIPE_MAX_BINS: usize = 16_384;
/// Stripes to aim for (more than cores, so work-stealing evens out unequal stripes).
const STRIPE_TARGET: usize = 16;
/// Leaves with fewer rows are built on the calling thread (the task overhead would dominate).
const PARALLEL_MIN_ROWS: usize = 2_048;

/// Where each feature's bins sit in a flat histogram.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// First bin of each feature.
    pub offsets: Vec<usize>,
    /// Bins per feature (missing bin included).
    pub n_bins: Vec<usize>,
    /// Total bins.
    pub total: usize,
}

impl Layout {
    pub fn new(n_bins: Vec<usize>) -> Layout {
        let mut offsets = Vec::with_capacity(n_bins.len());
        let mut total = 0;
        for &n in &n_bins {
            offsets.push(total);
            total += n;
        }
        Layout { offsets, n_bins, total }
    }

    /// The bin range of feature `f`.
    #[inline]
    pub fn range(&self, f: usize) -> Range<usize> {
        self.offsets[f]..self.offsets[f] + self.n_bins[f]
    }
}

/// Gradient and hessian sums (`gh`) and row counts (`n`) per bin of every feature.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    pub gh: Vec<[f64; 2]>,
    pub n: Vec<u32>,
}

impl Histogram {
    pub fn zeros(total: usize) -> Histogram {
        Histogram { gh: vec![[0.0; 2]; total], n: vec![0; total] }
    }

    /// `self = self − smaller`: turns a parent's histogram into its larger child's.
    pub fn subtract(&mut self, smaller: &Histogram) {
        let sub = |(a, b): (&mut [[f64; 2]], &[[f64; 2]])| {
            for (x, y) in a.iter_mut().zip(b) {
                x[0] -= y[0];
                x[1] -= y[1];
            }
        };
        const CHUNK: usize = 8192;
        self.gh.par_chunks_mut(CHUNK).zip(smaller.gh.par_chunks(CHUNK)).for_each(sub);
        for (x, y) in self.n.iter_mut().zip(&smaller.n) {
            *x -= y;
        }
    }

    /// The stats of one bin.
    #[inline]
    pub fn stats(&self, bin: usize) -> Stats {
        Stats { g: self.gh[bin][0], h: self.gh[bin][1], n: self.n[bin] }
    }
}

/// One stripe: a run of neighbouring features, their histogram bins `bins` (global), and per training row its
/// non-default bins.
#[derive(Debug)]
struct Stripe {
    bins: Range<usize>,
    /// `entries[starts[r]..starts[r + 1]]` are row `r`'s entries.
    starts: Vec<u32>,
    /// Stripe-local bin indices (`global bin − bins.start`).
    entries: Vec<u16>,
}

/// The training rows in the histogram build's layout.
#[derive(Debug)]
pub(crate) struct HistogramInput {
    stripes: Vec<Stripe>,
    pub layout: Layout,
    /// The skipped (most frequent) bin of each feature, as a global bin index.
    default_global: Vec<usize>,
}

impl HistogramInput {
    /// Builds the stripes for rows `0..train_rows` of `m`.
    pub fn new(m: &BinnedMatrix, train_rows: usize) -> HistogramInput {
        let layout = Layout::new(m.mappers.iter().map(|b| b.n_bins()).collect());
        let default_global: Vec<usize> =
            (0..m.n_features()).map(|f| layout.offsets[f] + m.default_bins[f] as usize).collect();
        // Non-default values per feature decide the stripe cuts (balanced work, bounded histogram size).
        let work: Vec<u64> = m
            .columns
            .par_iter()
            .zip(&m.default_bins)
            .map(|(col, &d)| col[..train_rows].iter().filter(|&&b| b != d).count() as u64)
            .collect();
        let total_work: u64 = work.iter().sum();
        let target = (total_work / STRIPE_TARGET as u64).max(1);
        let mut cuts = vec![0usize];
        let (mut bins, mut done) = (0usize, 0u64);
        for (f, (&n_bins, &w)) in layout.n_bins.iter().zip(&work).enumerate() {
            let over_bins = bins + n_bins > STRIPE_MAX_BINS;
            let over_entries = done + w > u64::from(u32::MAX);
            if f > *cuts.last().unwrap_or(&0) && (over_bins || over_entries || done >= target) {
                cuts.push(f);
                bins = 0;
                done = 0;
            }
            bins += n_bins;
            done += w;
        }
        cuts.push(m.n_features());
        let stripes = cuts
            .windows(2)
            .collect::<Vec<_>>()
            .par_iter()
            .map(|w| Stripe::build(m, &layout, w[0]..w[1], train_rows))
            .collect();
        HistogramInput { stripes, layout, default_global }
    }

    /// Fills `out` with the histogram of `rows` (ascending training row indices) whose gradient/hessian pairs are
    /// `gh[row]`, given their totals `total`.
    pub fn build(&self, rows: &[u32], gh: &[[f32; 2]], total: Stats, out: &mut Histogram) {
        // Disjoint output slices, one per stripe.
        let mut parts = Vec::with_capacity(self.stripes.len());
        let (mut rest_gh, mut rest_n) = (out.gh.as_mut_slice(), out.n.as_mut_slice());
        for s in &self.stripes {
            let (a, b) = rest_gh.split_at_mut(s.bins.len());
            let (c, d) = rest_n.split_at_mut(s.bins.len());
            parts.push((s, a, c));
            rest_gh = b;
            rest_n = d;
        }
        let run =
            |(s, gh_out, n_out): &mut (&Stripe, &mut [[f64; 2]], &mut [u32])| s.accumulate(rows, gh, gh_out, n_out);
        if rows.len() >= PARALLEL_MIN_ROWS {
            parts.par_iter_mut().for_each(run);
        } else {
            parts.iter_mut().for_each(run);
        }
        self.restore_defaults(total, out);
    }

    /// Writes each feature's skipped bin as the leaf total minus the feature's other bins.
    fn restore_defaults(&self, total: Stats, out: &mut Histogram) {
        for (f, &d) in self.default_global.iter().enumerate() {
            let (mut g, mut h, mut n) = (total.g, total.h, total.n);
            for b in self.layout.range(f) {
                if b != d {
                    g -= out.gh[b][0];
                    h -= out.gh[b][1];
                    n -= out.n[b];
                }
            }
            out.gh[d] = [g, h];
            out.n[d] = n;
        }
    }
}

impl Stripe {
    fn build(m: &BinnedMatrix, layout: &Layout, features: Range<usize>, train_rows: usize) -> Stripe {
        let first = layout.offsets[features.start];
        let bins = first..layout.offsets[features.end - 1] + layout.n_bins[features.end - 1];
        let cols: Vec<(&[u8], u8, u16)> = features
            .clone()
            .map(|f| (&m.columns[f][..train_rows], m.default_bins[f], (layout.offsets[f] - first) as u16))
            .collect();
        let mut starts = Vec::with_capacity(train_rows + 1);
        let mut entries = Vec::new();
        starts.push(0);
        for r in 0..train_rows {
            for &(col, default, offset) in &cols {
                let b = col[r];
                if b != default {
                    entries.push(offset + u16::from(b));
                }
            }
            starts.push(entries.len() as u32);
        }
        entries.shrink_to_fit();
        Stripe { bins, starts, entries }
    }

    /// Sums this stripe's bins over `rows` into `gh_out`/`n_out` (skipped bins stay zero).
    fn accumulate(&self, rows: &[u32], gh: &[[f32; 2]], gh_out: &mut [[f64; 2]], n_out: &mut [u32]) {
        gh_out.fill([0.0; 2]);
        n_out.fill(0);
        for &r in rows {
            let r = r as usize;
            let [g, h] = gh[r];
            let (g, h) = (f64::from(g), f64::from(h));
            let (s, e) = (self.starts[r] as usize, self.starts[r + 1] as usize);
            for &b in &self.entries[s..e] {
                let b = b as usize;
                let x = &mut gh_out[b];
                x[0] += g;
                x[1] += h;
                n_out[b] += 1;
            }
        }
    }
}
