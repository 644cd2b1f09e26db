//! The planned walk ([`super::plan`]) written with x86-64 vector intrinsics, which every planned walk takes on a CPU
//! with AVX2: lanes in the narrowest register that holds them (1 in a plain double, 2 in SSE, 4 in AVX2, 8 in one
//! AVX-512 register or two AVX2 ones), each node's constants for both sides in the widest register the CPU has.
//!
//! Three costs of the generic walk go away:
//! - Left to the auto-vectoriser, it built each edge on the stack, copied it into its slot, and copied the parent's
//!   products out again. Here a lane set stays in registers, a lane's side is a mask, and each edge is written once.
//! - A node's per-point constants (the factors and weights every lane picks from) took two or three scalar divides
//!   per point, which had become most of the walk's fixed cost per node. Here both sides' constants are computed
//!   together in vector registers ([`First`], [`Repeat`]): one or two divides with AVX-512.
//! - Which side each lane takes is compared in registers, as a mask, from the row values and the step's threshold.
//!
//! On the seed model (Zen 4, `score_sample explain 2 1 N`, µs per row, caches warm), against the generic walk:
//! 8 rows 97 → 70, 4 rows 126 → 88, 2 rows 273 → 183, 1 row 368 → 332.
//!
//! The arithmetic is that of [`super::walk`]'s `first_edge`, `repeat_edge`, `leaf` and `gather`, operation for
//! operation and in the same order (no fused multiply-add): a vector lane rounds exactly as a scalar does, so a row
//! gets the same bits here as in every other walk, which the kernel tests check.

use std::arch::x86_64::*;

use super::plan::{Plan, Step, NONE};
use super::walk::Edge;
use super::{Points, Scratch, ShapTree, Walk, LANES};
use crate::tree::Mode;

/// A register of lanes and the operations the walk needs. The methods use the intrinsics of the instruction set
/// the type names: they may only run on a CPU that has it, and are only fast inlined into a function compiled for
/// it (`#[target_feature]`).
trait Lanes: Copy {
    /// A per-lane yes/no.
    type Mask: Copy;
    /// Lanes in one register.
    const WIDTH: usize;
    unsafe fn load(from: &[f64]) -> Self;
    unsafe fn store(self, to: &mut [f64]);
    unsafe fn splat(v: f64) -> Self;
    unsafe fn mul(self, other: Self) -> Self;
    unsafe fn add(self, other: Self) -> Self;
    unsafe fn sub(self, other: Self) -> Self;
    unsafe fn div(self, other: Self) -> Self;
    /// Register `part` of the eight (side, point) lanes `[a, a, a, a, b, b, b, b]`.
    unsafe fn sides(a: f64, b: f64, part: usize) -> Self;
    /// Per lane: `on` where `mask`, else `off`.
    unsafe fn select(mask: Self::Mask, on: Self, off: Self) -> Self;
    /// Lanes that are not zero (the walks keep yes/no lanes as 1.0 and 0.0).
    unsafe fn nonzero(self) -> Self::Mask;
    /// Lanes whose value takes the true side of a comparison split ([`super::compare_lanes`]'s rule); `None` for
    /// other modes.
    unsafe fn goes_true(self, mode: Mode, threshold: f64, missing_true: bool) -> Option<Self::Mask>;
    unsafe fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    unsafe fn not(a: Self::Mask) -> Self::Mask;

    /// The lanes register `p` holds in a row of lanes (or of the eight (side, point) lanes).
    #[inline(always)]
    fn part(p: usize) -> std::ops::Range<usize> {
        p * Self::WIDTH..(p + 1) * Self::WIDTH
    }
}

/// Eight lanes in an AVX-512 register, masks in a mask register.
#[derive(Clone, Copy)]
struct Avx512(__m512d);

impl Lanes for Avx512 {
    type Mask = __mmask8;
    const WIDTH: usize = 8;
    #[inline(always)]
    unsafe fn load(from: &[f64]) -> Self {
        assert!(from.len() >= 8);
        Avx512(_mm512_loadu_pd(from.as_ptr()))
    }
    #[inline(always)]
    unsafe fn store(self, to: &mut [f64]) {
        assert!(to.len() >= 8);
        _mm512_storeu_pd(to.as_mut_ptr(), self.0)
    }
    #[inline(always)]
    unsafe fn splat(v: f64) -> Self {
        Avx512(_mm512_set1_pd(v))
    }
    #[inline(always)]
    unsafe fn mul(self, other: Self) -> Self {
        Avx512(_mm512_mul_pd(self.0, other.0))
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        Avx512(_mm512_add_pd(self.0, other.0))
    }
    #[inline(always)]
    unsafe fn sub(self, other: Self) -> Self {
        Avx512(_mm512_sub_pd(self.0, other.0))
    }
    #[inline(always)]
    unsafe fn div(self, other: Self) -> Self {
        Avx512(_mm512_div_pd(self.0, other.0))
    }
    #[inline(always)]
    unsafe fn sides(a: f64, b: f64, _part: usize) -> Self {
        Avx512(_mm512_mask_blend_pd(0xF0, _mm512_set1_pd(a), _mm512_set1_pd(b)))
    }
    #[inline(always)]
    unsafe fn select(mask: __mmask8, on: Self, off: Self) -> Self {
        Avx512(_mm512_mask_blend_pd(mask, off.0, on.0))
    }
    #[inline(always)]
    unsafe fn nonzero(self) -> __mmask8 {
        _mm512_cmp_pd_mask::<_CMP_NEQ_UQ>(self.0, _mm512_setzero_pd())
    }
    #[inline(always)]
    unsafe fn goes_true(self, mode: Mode, threshold: f64, missing_true: bool) -> Option<__mmask8> {
        let t = _mm512_set1_pd(threshold);
        let v = self.0;
        let k = match mode {
            Mode::Leq => _mm512_cmp_pd_mask::<_CMP_LE_OQ>(v, t),
            Mode::Lt => _mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, t),
            Mode::Gte => _mm512_cmp_pd_mask::<_CMP_GE_OQ>(v, t),
            Mode::Gt => _mm512_cmp_pd_mask::<_CMP_GT_OQ>(v, t),
            _ => return None,
        };
        Some(if missing_true { k | _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(v, v) } else { k })
    }
    #[inline(always)]
    unsafe fn and(a: __mmask8, b: __mmask8) -> __mmask8 {
        a & b
    }
    #[inline(always)]
    unsafe fn not(a: __mmask8) -> __mmask8 {
        !a
    }
}

/// Defines a lane type over an SSE or AVX register of doubles whose masks are all-ones or all-zeros lanes; the two
/// sizes differ only in the intrinsics' names.
macro_rules! blend_lanes {
    (
        $(#[$doc:meta])* $name:ident($reg:ty, $width:literal, $side_part:literal):
        $load:ident, $store:ident, $set1:ident, $setzero:ident, $mul:ident, $add:ident, $sub:ident, $div:ident,
        $blendv:ident, $cmp:ident, $or:ident, $and:ident, $xor:ident, $cast:ident, $set1_epi64x:ident
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        struct $name($reg);

        impl Lanes for $name {
            type Mask = $reg;
            const WIDTH: usize = $width;
            #[inline(always)]
            unsafe fn load(from: &[f64]) -> Self {
                assert!(from.len() >= $width);
                $name($load(from.as_ptr()))
            }
            #[inline(always)]
            unsafe fn store(self, to: &mut [f64]) {
                assert!(to.len() >= $width);
                $store(to.as_mut_ptr(), self.0)
            }
            #[inline(always)]
            unsafe fn splat(v: f64) -> Self {
                $name($set1(v))
            }
            #[inline(always)]
            unsafe fn mul(self, other: Self) -> Self {
                $name($mul(self.0, other.0))
            }
            #[inline(always)]
            unsafe fn add(self, other: Self) -> Self {
                $name($add(self.0, other.0))
            }
            #[inline(always)]
            unsafe fn sub(self, other: Self) -> Self {
                $name($sub(self.0, other.0))
            }
            #[inline(always)]
            unsafe fn div(self, other: Self) -> Self {
                $name($div(self.0, other.0))
            }
            #[inline(always)]
            unsafe fn sides(a: f64, b: f64, part: usize) -> Self {
                // Parts below `$side_part` hold side 0's four points.
                $name($set1(if part < $side_part { a } else { b }))
            }
            #[inline(always)]
            unsafe fn select(mask: $reg, on: Self, off: Self) -> Self {
                $name($blendv(off.0, on.0, mask))
            }
            #[inline(always)]
            unsafe fn nonzero(self) -> $reg {
                $cmp::<_CMP_NEQ_UQ>(self.0, $setzero())
            }
            #[inline(always)]
            unsafe fn goes_true(self, mode: Mode, threshold: f64, missing_true: bool) -> Option<$reg> {
                let (v, t) = (self.0, $set1(threshold));
                let k = match mode {
                    Mode::Leq => $cmp::<_CMP_LE_OQ>(v, t),
                    Mode::Lt => $cmp::<_CMP_LT_OQ>(v, t),
                    Mode::Gte => $cmp::<_CMP_GE_OQ>(v, t),
                    Mode::Gt => $cmp::<_CMP_GT_OQ>(v, t),
                    _ => return None,
                };
                Some(if missing_true { $or(k, $cmp::<_CMP_UNORD_Q>(v, v)) } else { k })
            }
            #[inline(always)]
            unsafe fn and(a: $reg, b: $reg) -> $reg {
                $and(a, b)
            }
            #[inline(always)]
            unsafe fn not(a: $reg) -> $reg {
                $xor(a, $cast($set1_epi64x(-1)))
            }
        }
    };
}

blend_lanes!(
    /// Four lanes in an AVX2 register.
    Avx2(__m256d, 4, 1):
    _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd, _mm256_setzero_pd, _mm256_mul_pd, _mm256_add_pd,
    _mm256_sub_pd, _mm256_div_pd, _mm256_blendv_pd, _mm256_cmp_pd, _mm256_or_pd, _mm256_and_pd, _mm256_xor_pd,
    _mm256_castsi256_pd, _mm256_set1_epi64x
);

blend_lanes!(
    /// Two lanes in an SSE register (with the VEX encodings AVX2 brings).
    Sse(__m128d, 2, 2):
    _mm_loadu_pd, _mm_storeu_pd, _mm_set1_pd, _mm_setzero_pd, _mm_mul_pd, _mm_add_pd, _mm_sub_pd, _mm_div_pd,
    _mm_blendv_pd, _mm_cmp_pd, _mm_or_pd, _mm_and_pd, _mm_xor_pd, _mm_castsi128_pd, _mm_set1_epi64x
);

/// One lane (a lone alert): plain doubles, while the node constants still come from vector registers.
#[derive(Clone, Copy)]
struct One(f64);

impl Lanes for One {
    type Mask = bool;
    const WIDTH: usize = 1;
    #[inline(always)]
    unsafe fn load(from: &[f64]) -> Self {
        One(from[0])
    }
    #[inline(always)]
    unsafe fn store(self, to: &mut [f64]) {
        to[0] = self.0;
    }
    #[inline(always)]
    unsafe fn splat(v: f64) -> Self {
        One(v)
    }
    #[inline(always)]
    unsafe fn mul(self, other: Self) -> Self {
        One(self.0 * other.0)
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        One(self.0 + other.0)
    }
    #[inline(always)]
    unsafe fn sub(self, other: Self) -> Self {
        One(self.0 - other.0)
    }
    #[inline(always)]
    unsafe fn div(self, other: Self) -> Self {
        One(self.0 / other.0)
    }
    #[inline(always)]
    unsafe fn sides(a: f64, b: f64, part: usize) -> Self {
        One(if part < 4 { a } else { b })
    }
    #[inline(always)]
    unsafe fn select(mask: bool, on: Self, off: Self) -> Self {
        if mask {
            on
        } else {
            off
        }
    }
    #[inline(always)]
    unsafe fn nonzero(self) -> bool {
        self.0 != 0.0
    }
    #[inline(always)]
    unsafe fn goes_true(self, mode: Mode, threshold: f64, missing_true: bool) -> Option<bool> {
        let (v, t) = (self.0, threshold);
        let k = match mode {
            Mode::Leq => v <= t,
            Mode::Lt => v < t,
            Mode::Gte => v >= t,
            Mode::Gt => v > t,
            _ => return None,
        };
        Some(k | (missing_true & v.is_nan()))
    }
    #[inline(always)]
    unsafe fn and(a: bool, b: bool) -> bool {
        a & b
    }
    #[inline(always)]
    unsafe fn not(a: bool) -> bool {
        !a
    }
}

/// The planned walk for `L` lanes (1, 2, 4 or 8): lanes in the narrowest register that holds them (8 in AVX-512),
/// node constants in AVX-512 registers.
///
/// # Safety
/// The CPU must have AVX-512F and AVX2 (`Isa::detect` checks both).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn planned_avx512<const M: usize, const L: usize>(
    tree: &ShapTree,
    plan: &Plan,
    w: &mut Walk<'_, L>,
    q: &Points<M>,
) {
    match L {
        1 => planned::<One, Avx512, M, L>(tree, plan, w, q),
        2 => planned::<Sse, Avx512, M, L>(tree, plan, w, q),
        4 => planned::<Avx2, Avx512, M, L>(tree, plan, w, q),
        _ => planned::<Avx512, Avx512, M, L>(tree, plan, w, q),
    }
}

/// The planned walk for `L` lanes (1, 2, 4 or 8) with AVX2: lanes in SSE or AVX2 registers (8 in two), node
/// constants in AVX2 registers.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn planned_avx2<const M: usize, const L: usize>(
    tree: &ShapTree,
    plan: &Plan,
    w: &mut Walk<'_, L>,
    q: &Points<M>,
) {
    match L {
        1 => planned::<One, Avx2, M, L>(tree, plan, w, q),
        2 => planned::<Sse, Avx2, M, L>(tree, plan, w, q),
        _ => planned::<Avx2, Avx2, M, L>(tree, plan, w, q),
    }
}

/// Registers per lane set at most (8 lanes in AVX2 registers).
const PARTS: usize = 2;

/// The walk along `plan` for `L` lanes in registers of `V`, each node's constants computed for both sides at once
/// in registers of `C`; inlined into the callers above, which compile it for their instruction set.
#[inline(always)]
unsafe fn planned<V: Lanes, C: Lanes, const M: usize, const L: usize>(
    tree: &ShapTree,
    plan: &Plan,
    w: &mut Walk<'_, L>,
    q: &Points<M>,
) {
    assert!(L.is_multiple_of(V::WIDTH) && L / V::WIDTH <= PARTS && M <= super::LANED_POINTS);
    let parts = L / V::WIDTH;
    let part = V::part;
    let first = w.first;
    let Scratch { x, sum, edges, .. } = &mut *w.scratch;
    let count = plan.steps.len();
    let state = edges.get::<M, L>(count);
    let (slots, below) = (&mut state.edges[..2 * count], &mut state.h[..count]);
    let (zero, one) = (V::splat(0.0), V::splat(1.0));
    for (i, step) in plan.steps.iter().enumerate() {
        let values = &x[step.feature as usize * LANES + first..][..L];
        if step.prev == NONE {
            let c = First::new::<C, M>(step.zero, q);
            for p in 0..parts {
                let k_true = takes_true::<V, L>(tree, step, values, p);
                let f = parent_products::<V, M, L>(slots, step.parent_edge, p);
                for side in 0..2 {
                    let k_on = if side == 0 { k_true } else { V::not(k_true) };
                    let edge = &mut slots[2 * i + side];
                    for (m, fm) in f.iter().take(M).enumerate() {
                        let k = 4 * side + m;
                        let g = V::select(k_on, V::splat(c.g_on[k]), V::splat(c.g_off[k]));
                        fm.mul(g).store(&mut edge.f[m][part(p)]);
                        let dr = V::select(k_on, V::splat(c.r_on[k]), V::splat(q.w_neg_inv_one_minus_t[m]));
                        dr.store(&mut edge.dr[m][part(p)]);
                    }
                    V::select(k_on, one, zero).store(&mut edge.o[part(p)]);
                }
            }
        } else {
            let prev = step.prev as usize;
            let c = Repeat::new::<C, M>(step.zp, step.zero, q);
            for p in 0..parts {
                let k_true = takes_true::<V, L>(tree, step, values, p);
                let k_on = V::load(&slots[prev].o[part(p)]).nonzero();
                let f = parent_products::<V, M, L>(slots, step.parent_edge, p);
                for side in 0..2 {
                    let k_took = V::and(k_on, if side == 0 { k_true } else { V::not(k_true) });
                    let off = V::splat(step.zero[side]);
                    let edge = &mut slots[2 * i + side];
                    for (m, fm) in f.iter().take(M).enumerate() {
                        let k = 4 * side + m;
                        let ratio = V::select(k_took, V::splat(c.ratio_a[k]), V::splat(c.ratio_b[k]));
                        fm.mul(V::select(k_on, ratio, off)).store(&mut edge.f[m][part(p)]);
                        let d = V::select(k_took, V::splat(c.dr_a[k]), V::splat(c.dr_b[k]));
                        V::select(k_on, d, zero).store(&mut edge.dr[m][part(p)]);
                    }
                    V::select(k_took, one, zero).store(&mut edge.o[part(p)]);
                }
            }
        }
    }
    for &i in &plan.post {
        let i = i as usize;
        let step = &plan.steps[i];
        let at = step.feature as usize * LANES + first;
        for p in 0..parts {
            let mut h = [zero; 4];
            let mut contribution = zero;
            for side in 0..2 {
                let edge = &slots[2 * i + side];
                let child = step.child[side];
                for m in 0..M {
                    let hc = if child == NONE {
                        V::load(&edge.f[m][part(p)]).mul(V::splat(step.leaf[side]))
                    } else {
                        V::load(&below[child as usize][m][part(p)])
                    };
                    contribution = contribution.add(hc.mul(V::load(&edge.dr[m][part(p)])));
                    h[m] = h[m].add(hc);
                }
            }
            for m in 0..M {
                h[m].store(&mut below[i][m][part(p)]);
            }
            let total = &mut sum[at..][V::part(p)];
            V::load(total).add(contribution).store(total);
        }
    }
}

/// The products `F` on the edge into a node, register `p` of each point (1 at the root).
#[inline(always)]
unsafe fn parent_products<V: Lanes, const M: usize, const L: usize>(
    slots: &[Edge<M, L>],
    parent_edge: u16,
    p: usize,
) -> [V; 4] {
    let mut f = [V::splat(1.0); 4];
    if parent_edge != NONE {
        let parent = &slots[parent_edge as usize];
        for (fm, from) in f.iter_mut().zip(&parent.f) {
            *fm = V::load(&from[V::part(p)]);
        }
    }
    f
}

/// The register `p` of a (side, point) table of [`Points`].
#[inline(always)]
unsafe fn table<V: Lanes>(values: &[f64; 8], p: usize) -> V {
    V::load(&values[V::part(p)])
}

/// A first test of a node's feature: per (side, point), lane `4·side + point`, the factor on the side a row takes
/// (`g = z + t(1 − z)`) and on the other (`z(1 − t)`), and `w·r = w(1 − z)/g` — `walk::first_edge`'s scalars,
/// computed for both sides in a few vector operations (one divide with AVX-512) instead of one scalar divide per
/// side and point, which had become most of a node's cost.
struct First {
    g_on: [f64; 8],
    g_off: [f64; 8],
    r_on: [f64; 8],
}

impl First {
    #[inline(always)]
    unsafe fn new<V: Lanes, const M: usize>(zero: [f64; 2], q: &Points<M>) -> First {
        let s = &q.sides;
        let one = V::splat(1.0);
        let (mut g_on, mut g_off, mut r_on) = ([0.0; 8], [0.0; 8], [0.0; 8]);
        for p in 0..8 / V::WIDTH {
            let z = V::sides(zero[0], zero[1], p);
            let g = z.add(table::<V>(&s.t, p).mul(one.sub(z)));
            let at = V::part(p);
            g.store(&mut g_on[at.clone()]);
            z.mul(table::<V>(&s.one_minus_t, p)).store(&mut g_off[at.clone()]);
            table::<V>(&s.w, p).mul(one.sub(z)).div(g).store(&mut r_on[at]);
        }
        First { g_on, g_off, r_on }
    }
}

/// A repeated test of a node's feature, whose merged zero fraction above is `zp`: per (side, point), lane
/// `4·side + point`, the factor ratios and weighted `r − r'` of `walk::repeat_edge` for a row that took the
/// earlier edges and this side (A) or not this side (B).
struct Repeat {
    ratio_a: [f64; 8],
    ratio_b: [f64; 8],
    dr_a: [f64; 8],
    dr_b: [f64; 8],
}

impl Repeat {
    #[inline(always)]
    unsafe fn new<V: Lanes, const M: usize>(zp: f64, zero: [f64; 2], q: &Points<M>) -> Repeat {
        let s = &q.sides;
        let one = V::splat(1.0);
        let mut c = Repeat { ratio_a: [0.0; 8], ratio_b: [0.0; 8], dr_a: [0.0; 8], dr_b: [0.0; 8] };
        for p in 0..8 / V::WIDTH {
            let t = table::<V>(&s.t, p);
            let gp_inv = one.div(V::splat(zp).add(t.mul(V::splat(1.0 - zp))));
            let rp = V::splat(1.0 - zp).mul(gp_inv);
            let z = V::sides(zp * zero[0], zp * zero[1], p);
            let g = z.add(t.mul(one.sub(z)));
            let w = table::<V>(&s.w, p);
            let at = V::part(p);
            g.mul(gp_inv).store(&mut c.ratio_a[at.clone()]);
            z.mul(table::<V>(&s.one_minus_t, p)).mul(gp_inv).store(&mut c.ratio_b[at.clone()]);
            w.mul(one.sub(z).div(g).sub(rp)).store(&mut c.dr_a[at.clone()]);
            w.mul(table::<V>(&s.neg_inv_one_minus_t, p).sub(rp)).store(&mut c.dr_b[at]);
        }
        c
    }
}

/// Which lanes of register `p` take the true side of `step`'s split: compared in registers, or for other tests as
/// the generic walk decides.
#[inline(always)]
unsafe fn takes_true<V: Lanes, const L: usize>(tree: &ShapTree, step: &Step, values: &[f64], p: usize) -> V::Mask {
    let at = V::part(p);
    match V::load(&values[at.clone()]).goes_true(step.mode, step.threshold, step.missing_true) {
        Some(mask) => mask,
        None => {
            let took: [f64; L] = step.goes_true_lanes(tree, values);
            V::load(&took[at]).nonzero()
        }
    }
}
