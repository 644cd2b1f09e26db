//! Gradient histograms: per feature and bin, the sums of gradient, hessian and row count over a leaf's rows.
//!
//! The build is the hot loop of training, so the data is laid out for it:
//! - **Sparse rows.** For each training row only the bins that are *not* their feature's most frequent bin are
//!   stored, row after row, as `u16` offsets into the histogram. IEEE-CIS rows are three-quarters missing or at
//!   their mode (whole V blocks share a missing mask), so a row is about 110 entries (220 bytes) instead of 433,
//!   and one row is one short sequential read wherever it sits — leaves deep in a tree hold rows scattered over
//!   the whole table.
//! - **Skipped bins are recovered** from the leaf totals: `hist[f][mode] = total − Σ other bins of f`.
//! - **Small histograms.** Bins are `(f64 gradient, f64 hessian)` plus a `u32` count; the full-size data set has
//!   about 29,000 bins, 580 KB, which stays in a core's L2 while rows stream past. Features are grouped in blocks
//!   of fewer than 65,536 bins so offsets fit `u16` (one block for IEEE-CIS).
//! - **Prefetch.** Below the root, a leaf's rows are scattered over the table, and waiting for each row's first
//!   cache line dominated the build; the rows 16 places ahead are prefetched (their start offset one step earlier),
//!   which took the child builds from about 2.2× to about 1.5× the per-row cost of the sequential root build.
//! - **Subtraction.** Only the smaller child of a split is built; the larger is `parent − smaller`
//!   ([`Histogram::subtract`]).
//!
//! Parallelism without losing determinism: a leaf's rows are cut into 1, 2, 4 or 8 contiguous parts by row count
//! alone (never by thread count, [`parts_for`]); each part is summed in row order into its own histogram, and the
//! parts are added in part order. Any number of threads computes exactly the same sums.

use std::ops::Range;

use rayon::prelude::*;

use crate::matrix::BinnedMatrix;
use crate::split::Stats;

/// Bins a feature block may span: entries are `u16` offsets from the block's first bin.
const BLOCK_BINS: usize = 1 << 16;
/// Rows ahead of the current one whose data is prefetched.
const AHEAD: usize = 16;

/// Asks the CPU to start loading the cache line holding `x`.
#[inline(always)]
fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it cannot fault and has no architectural effect, and the SSE feature it
    // needs is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((x as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// How many parts a leaf of `rows` rows is summed in: enough to keep a few cores busy, few enough that zeroing and
/// merging the extra part histograms (about 700 KB each on IEEE-CIS) stays small next to the rows' own work.
fn parts_for(rows: usize) -> usize {
    match rows {
        0..2_048 => 1,
        2_048..16_384 => 2,
        16_384..65_536 => 4,
        _ => 8,
    }
}
/// Rows per task when the sparse rows are built.
const BUILD_CHUNK_ROWS: usize = 16_384;

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

/// One histogram bin: gradient sum, hessian sum, row count — one 24-byte record, so an update touches one cache
/// line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[repr(C)]
pub(crate) struct Bin {
    pub g: f64,
    pub h: f64,
    pub n: u32,
}

/// The bins of every feature (see [`Layout`]), followed by [`BLOCK_BINS`] bins of padding so that every block can
/// be viewed as a `[Bin; 65536]` and indexed by a `u16` offset without a bounds check.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    bins: Vec<Bin>,
    total: usize,
}

impl Histogram {
    pub fn zeros(total: usize) -> Histogram {
        Histogram { bins: vec![Bin::default(); total + BLOCK_BINS], total }
    }

    /// The used bins.
    #[inline]
    pub fn bins(&self) -> &[Bin] {
        &self.bins[..self.total]
    }

    #[inline]
    fn bins_mut(&mut self) -> &mut [Bin] {
        &mut self.bins[..self.total]
    }

    /// `self = self − smaller`: turns a parent's histogram into its larger child's.
    pub fn subtract(&mut self, smaller: &Histogram) {
        const CHUNK: usize = 8192;
        self.bins_mut().par_chunks_mut(CHUNK).zip(smaller.bins().par_chunks(CHUNK)).for_each(|(a, b)| {
            for (x, y) in a.iter_mut().zip(b) {
                x.g -= y.g;
                x.h -= y.h;
                x.n -= y.n;
            }
        });
    }

    /// The stats of one bin.
    #[inline]
    pub fn stats(&self, bin: usize) -> Stats {
        let b = &self.bins[bin];
        Stats { g: b.g, h: b.h, n: b.n }
    }

    /// Sets one bin (tests and the skipped-bin recovery).
    #[inline]
    pub fn set(&mut self, bin: usize, s: Stats) {
        self.bins[bin] = Bin { g: s.g, h: s.h, n: s.n };
    }

    fn clear(&mut self) {
        self.bins_mut().fill(Bin::default());
    }

    /// The block starting at bin `base`, as a fixed-size array (in range thanks to the padding).
    #[inline]
    fn block(&mut self, base: usize) -> &mut [Bin; BLOCK_BINS] {
        let slice = &mut self.bins[base..base + BLOCK_BINS];
        slice.try_into().unwrap_or_else(|_| unreachable!("the padding holds a whole block"))
    }

    /// `self += others[0] + others[1] + …`, bin by bin in that order.
    fn merge(&mut self, others: &[Histogram]) {
        const CHUNK: usize = 4096;
        self.bins_mut().par_chunks_mut(CHUNK).enumerate().for_each(|(c, bins)| {
            let start = c * CHUNK;
            for o in others {
                for (x, y) in bins.iter_mut().zip(&o.bins[start..]) {
                    x.g += y.g;
                    x.h += y.h;
                    x.n += y.n;
                }
            }
        });
    }
}

/// The training rows in the histogram build's layout.
#[derive(Debug)]
pub(crate) struct HistogramInput {
    pub layout: Layout,
    /// First histogram bin of each feature block.
    block_bases: Vec<usize>,
    /// Row `r`'s entries in block `b` are `entries[starts[r * B + b]..starts[r * B + b + 1]]` (B = blocks).
    starts: Vec<u64>,
    /// Non-default bins as offsets from their block's first bin, rows in order, features in order within a row.
    entries: Vec<u16>,
    /// The skipped (most frequent) bin of each feature, as a histogram bin index.
    default_global: Vec<usize>,
}

impl HistogramInput {
    /// Builds the sparse rows for rows `0..train_rows` of `m` (in parallel over row chunks, concatenated in order).
    pub fn new(m: &BinnedMatrix, train_rows: usize) -> HistogramInput {
        let layout = Layout::new(m.mappers.iter().map(|b| b.n_bins()).collect());
        let default_global: Vec<usize> =
            (0..m.n_features()).map(|f| layout.offsets[f] + m.default_bins[f] as usize).collect();
        // Blocks: consecutive features while their bins fit a u16 offset.
        let mut block_of = Vec::with_capacity(m.n_features());
        let mut block_bases: Vec<usize> = Vec::new();
        for f in 0..m.n_features() {
            let end = layout.offsets[f] + layout.n_bins[f];
            if block_bases.last().is_none_or(|&base| end - base > BLOCK_BINS) {
                block_bases.push(layout.offsets[f]);
            }
            block_of.push(block_bases.len() - 1);
        }
        let n_blocks = block_bases.len().max(1);
        // Per feature: (column, skipped bin, offset of the feature's bin 0 from its block's base).
        let features: Vec<(&[u8], u8, u16)> = (0..m.n_features())
            .map(|f| {
                let local = layout.offsets[f] - block_bases[block_of[f]];
                (&m.columns[f][..train_rows], m.default_bins[f], local as u16)
            })
            .collect();
        let chunks: Vec<(Vec<u16>, Vec<u32>)> = (0..train_rows.div_ceil(BUILD_CHUNK_ROWS))
            .into_par_iter()
            .map(|c| {
                let rows = c * BUILD_CHUNK_ROWS..((c + 1) * BUILD_CHUNK_ROWS).min(train_rows);
                let mut entries = Vec::with_capacity(rows.len() * 64);
                let mut ends = Vec::with_capacity(rows.len() * n_blocks);
                for r in rows {
                    let mut f = 0;
                    for b in 0..n_blocks {
                        while f < features.len() && block_of[f] == b {
                            let (col, default, local) = features[f];
                            let bin = col[r];
                            if bin != default {
                                entries.push(local + u16::from(bin));
                            }
                            f += 1;
                        }
                        ends.push(entries.len() as u32);
                    }
                }
                (entries, ends)
            })
            .collect();
        let total: usize = chunks.iter().map(|(e, _)| e.len()).sum();
        let mut entries = Vec::with_capacity(total);
        let mut starts = Vec::with_capacity(train_rows * n_blocks + 1);
        starts.push(0u64);
        for (e, ends) in chunks {
            let base = entries.len() as u64;
            starts.extend(ends.iter().map(|&end| base + u64::from(end)));
            entries.extend_from_slice(&e);
        }
        HistogramInput { layout, block_bases, starts, entries, default_global }
    }

    /// Fills `out` with the histogram of `rows` (ascending training row indices) whose gradient/hessian pairs are
    /// `gh[row]`, given their totals `total`. The skipped bins are recovered for `features` only (the ones the tree
    /// may split on; the others' bins are left incomplete). `scratch` holds the extra part histograms between calls.
    pub fn build(
        &self,
        rows: &[u32],
        gh: &[[f32; 2]],
        total: Stats,
        features: &[usize],
        out: &mut Histogram,
        scratch: &mut Vec<Histogram>,
    ) {
        let parts = parts_for(rows.len());
        if parts == 1 {
            out.clear();
            self.accumulate(rows, gh, out);
        } else {
            let chunk = rows.len().div_ceil(parts);
            let n_parts = rows.len().div_ceil(chunk);
            while scratch.len() < n_parts - 1 {
                scratch.push(Histogram::zeros(self.layout.total));
            }
            let mut targets: Vec<&mut Histogram> =
                std::iter::once(&mut *out).chain(scratch.iter_mut()).take(n_parts).collect();
            targets.par_iter_mut().zip(rows.par_chunks(chunk)).for_each(|(h, rows)| {
                h.clear();
                self.accumulate(rows, gh, h);
            });
            out.merge(&scratch[..n_parts - 1]);
        }
        self.restore_defaults(total, features, out);
    }

    /// Adds `rows` into `out` (skipped bins stay zero).
    fn accumulate(&self, rows: &[u32], gh: &[[f32; 2]], out: &mut Histogram) {
        let n_blocks = self.block_bases.len();
        for (b, &base) in self.block_bases.iter().enumerate() {
            let bins = out.block(base);
            for (k, &r) in rows.iter().enumerate() {
                if let Some(&far) = rows.get(k + 2 * AHEAD) {
                    prefetch(&self.starts[far as usize * n_blocks + b]);
                }
                if let Some(&near) = rows.get(k + AHEAD) {
                    let near = near as usize;
                    let i = near * n_blocks + b;
                    let (s, e) = (self.starts[i] as usize, self.starts[i + 1] as usize);
                    for x in self.entries[s..e].iter().step_by(32) {
                        prefetch(x);
                    }
                    prefetch(&gh[near]);
                }
                let r = r as usize;
                let [g, h] = gh[r];
                let (g, h) = (f64::from(g), f64::from(h));
                let i = r * n_blocks + b;
                let (s, e) = (self.starts[i] as usize, self.starts[i + 1] as usize);
                for &e in &self.entries[s..e] {
                    let x = &mut bins[usize::from(e)];
                    x.g += g;
                    x.h += h;
                    x.n += 1;
                }
            }
        }
    }

    /// Writes each feature's skipped bin as the leaf total minus the feature's other bins.
    fn restore_defaults(&self, total: Stats, features: &[usize], out: &mut Histogram) {
        for &f in features {
            let d = self.default_global[f];
            let mut rest = total;
            for b in self.layout.range(f) {
                if b != d {
                    rest = rest.sub(out.stats(b));
                }
            }
            out.set(d, rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binning::BinMapper;

    /// A matrix of `features` columns with `bins` value bins each, most rows at bin `1 + f % 3`.
    fn matrix(rows: usize, features: usize, bins: usize) -> BinnedMatrix {
        let upper: Vec<f32> = (1..bins).map(|b| b as f32).chain([f32::INFINITY]).collect();
        let mut state = 7u64;
        let mut next = move || {
            state = fraudstream_data::rng::splitmix64(state);
            state
        };
        let columns: Vec<Vec<u8>> = (0..features)
            .map(|f| {
                (0..rows)
                    .map(|_| if next() % 4 == 0 { (next() % (bins as u64 + 1)) as u8 } else { 1 + (f % 3) as u8 })
                    .collect()
            })
            .collect();
        BinnedMatrix {
            mappers: vec![BinMapper::from_upper(upper); features],
            default_bins: (0..features).map(|f| 1 + (f % 3) as u8).collect(),
            splittable: vec![true; features],
            columns,
        }
    }

    fn check(m: &BinnedMatrix, rows: &[u32]) {
        let input = HistogramInput::new(m, m.columns[0].len());
        let gh: Vec<[f32; 2]> =
            (0..m.columns[0].len()).map(|r| [(r % 7) as f32 - 3.0, 0.25 / (1 + r % 5) as f32]).collect();
        let total = rows.iter().fold(Stats::default(), |s, &r| {
            let [g, h] = gh[r as usize];
            s.add(Stats { g: g.into(), h: h.into(), n: 1 })
        });
        let mut out = Histogram::zeros(input.layout.total);
        let all: Vec<usize> = (0..m.n_features()).collect();
        input.build(rows, &gh, total, &all, &mut out, &mut Vec::new());
        let mut want = vec![Bin::default(); input.layout.total];
        for &r in rows {
            for (f, col) in m.columns.iter().enumerate() {
                let w = &mut want[input.layout.offsets[f] + col[r as usize] as usize];
                w.g += f64::from(gh[r as usize][0]);
                w.h += f64::from(gh[r as usize][1]);
                w.n += 1;
            }
        }
        for (b, (x, y)) in out.bins().iter().zip(&want).enumerate() {
            assert_eq!(x.n, y.n, "bin {b}");
            assert!((x.g - y.g).abs() < 1e-6 && (x.h - y.h).abs() < 1e-6, "bin {b}: {x:?} vs {y:?}");
        }
    }

    #[test]
    fn sums_match_a_direct_count_for_whole_and_partial_row_sets() {
        let m = matrix(40_000, 5, 20);
        let all: Vec<u32> = (0..40_000).collect();
        check(&m, &all);
        let some: Vec<u32> = (0..40_000).filter(|r| r % 3 == 1).collect();
        check(&m, &some);
        check(&m, &some[..100]);
    }

    #[test]
    fn features_spanning_more_than_one_block_are_summed_too() {
        let m = matrix(9_000, 300, 255);
        let input = HistogramInput::new(&m, 9_000);
        assert!(input.block_bases.len() >= 2, "{} bins", input.layout.total);
        let rows: Vec<u32> = (0..9_000).step_by(2).collect();
        check(&m, &rows);
    }
}
