//! The walks of [`super`] for every lane, compiled once per instruction set: the baseline one, and on x86-64 also
//! AVX2 and AVX-512F, the best the CPU has picked at run time. A walk is a few multiplies and selects per point and
//! lane; with 256-bit vectors a 4-lane walk does them a register at a time, with 512-bit ones an 8-lane walk (SSE2
//! has no blend, so a select takes three instructions per two lanes). On the seed model (Zen 4, `score_sample
//! explain 2 1 N`) AVX-512 took 8 rows from 124 to 100 µs per row and 4 rows from 174 to 134 against AVX2; a lone
//! row gains nothing. Every copy rounds alike (no fused multiply-add is asked for), so which one runs never changes
//! a result.
//!
//! Two walks share the per-edge arithmetic ([`first_edge`], [`repeat_edge`]) and its order of operations, so they
//! give the same bits: the planned walk ([`super::plan`]), two flat loops over a tree's split nodes, which rows of
//! trees with a plan take (few quadrature points, not too many nodes); and the depth-first recursion, which the
//! other trees take, one row at a time. On x86-64 with AVX2, planned walks run the same arithmetic written with
//! intrinsics instead ([`super::simd`], faster still); the portable one here serves other CPUs and the tests.

use super::plan::{Plan, NONE};
#[cfg(target_arch = "x86_64")]
use super::simd;
use super::{Points, Scratch, ShapTree, Walk, LANES, LEAF};

/// The instruction set the walk runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Isa {
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// The best this CPU supports (the standard library caches the CPUID check).
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx2") {
            return Isa::Avx512;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
        Isa::Baseline
    }

    /// Every instruction set this CPU can run, for tests that compare them.
    #[cfg(test)]
    pub fn available() -> Vec<Isa> {
        let mut all = vec![Isa::Baseline];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            all.push(Isa::Avx2);
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx2") {
            all.push(Isa::Avx512);
        }
        all
    }
}

/// Walks `tree` depth first from its root for the lanes of `w`, adding their contributions.
pub(super) fn recursive<const M: usize, const L: usize>(isa: Isa, tree: &ShapTree, w: &mut Walk<'_, L>, q: &Points<M>) {
    match isa {
        Isa::Baseline => baseline::root::<M, L>(tree, w, q),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2 (`Isa::detect`, `Isa::available`).
            unsafe { avx2::root::<M, L>(tree, w, q) };
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            // SAFETY: `Isa::Avx512` is only chosen when the CPU reports AVX-512F.
            unsafe { avx512::root::<M, L>(tree, w, q) };
        }
    }
}

/// Walks `tree` along its plan for the lanes of `w`, adding their contributions. Only trees with a plan come here
/// (`ShapTree::explain_rows_on` checks); a laned recursion would have no bound on its stack.
pub(super) fn planned<const M: usize, const L: usize>(isa: Isa, tree: &ShapTree, w: &mut Walk<'_, L>, q: &Points<M>) {
    let Some(plan) = &tree.plan else { unreachable!("the planned walk is only taken by trees with a plan") };
    match isa {
        Isa::Baseline => baseline_planned::<M, L>(tree, plan, w, q),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            // SAFETY: as in `recursive`.
            unsafe { simd::planned_avx2::<M, L>(tree, plan, w, q) };
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            // SAFETY: as in `recursive`; a CPU is only taken as `Isa::Avx512` when it has AVX2 too.
            unsafe { simd::planned_avx512::<M, L>(tree, plan, w, q) };
        }
    }
}

/// One edge of a split node for every lane: the product `F` after it, the weight `w·(r − r')` its `H` contributes
/// with, and the lanes' one fraction on the edge's feature after it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Edge<const M: usize, const L: usize> {
    pub(super) f: [[f64; L]; M],
    pub(super) dr: [[f64; L]; M],
    pub(super) o: [f64; L],
}

impl<const M: usize, const L: usize> Edge<M, L> {
    pub const ZERO: Edge<M, L> = Edge { f: [[0.0; L]; M], dr: [[0.0; L]; M], o: [0.0; L] };
}

/// The edge to `side` of a node whose feature the path has not tested yet (`(z, o) = (1, 1)`, the common case): the
/// factor before the edge is 1 and `r'` is 0; on the side a row takes the factor is `z + t(1 − z)` with
/// `r = (1 − z)/(z + t(1 − z))`, on the side it does not (`o = 0`) it is `z(1 − t)` with `r = −1/(1 − t)` — the same
/// for every lane, so each point divides once and a lane only picks one of two values.
#[inline(always)]
fn first_edge<const M: usize, const L: usize>(
    zero: &[f64; 2],
    side: usize,
    took_true: &[f64; L],
    f: &[[f64; L]; M],
    q: &Points<M>,
) -> Edge<M, L> {
    let z = zero[side];
    let mut g_on = [0.0; M];
    let mut g_off = [0.0; M];
    let mut r_on = [0.0; M];
    for m in 0..M {
        g_on[m] = z + q.t[m] * (1.0 - z);
        g_off[m] = z * q.one_minus_t[m];
        r_on[m] = q.w[m] * (1.0 - z) / g_on[m];
    }
    let o = takes(side, took_true);
    let mut fc = [[0.0; L]; M];
    let mut dr = [[0.0; L]; M];
    for m in 0..M {
        for r in 0..L {
            let takes = o[r] != 0.0;
            fc[m][r] = f[m][r] * if takes { g_on[m] } else { g_off[m] };
            dr[m][r] = if takes { r_on[m] } else { q.w_neg_inv_one_minus_t[m] };
        }
    }
    Edge { f: fc, dr, o }
}

/// Whether each lane takes `side`, 1 or 0, from whether it goes to the true side (1 or 0).
#[inline(always)]
fn takes<const L: usize>(side: usize, took_true: &[f64; L]) -> [f64; L] {
    if side == 0 {
        *took_true
    } else {
        took_true.map(|t| 1.0 - t)
    }
}

/// What the edges of a node share when the path tested its feature before: that feature's merged zero fraction
/// `zp` (the same for every row: a node has one path) and each lane's one fraction `op`: 1 when its row followed
/// every earlier edge on the feature, else 0.
struct Repeat<const M: usize, const L: usize> {
    zp: f64,
    op: [f64; L],
    gp_inv: [f64; M],
    rp: [f64; M],
}

impl<const M: usize, const L: usize> Repeat<M, L> {
    #[inline(always)]
    fn new(zp: f64, op: [f64; L], q: &Points<M>) -> Repeat<M, L> {
        let mut gp_inv = [0.0; M];
        let mut rp = [0.0; M];
        for m in 0..M {
            // `zp + t(1 − zp) ≥ t > 0` at every Gauss–Legendre point.
            gp_inv[m] = 1.0 / (zp + q.t[m] * (1.0 - zp));
            rp[m] = (1.0 - zp) * gp_inv[m];
        }
        Repeat { zp, op, gp_inv, rp }
    }
}

/// The edge to `side` of a node whose feature the path tested before ([`Repeat`]). The edge's factor ratio `g/g'`
/// and weighted `r − r'` take one of three values per point, computed once for all lanes: the row followed every
/// earlier edge on the feature and takes this side (A), followed them but not this side (B), or left the path on
/// the feature before (C: ratio `zero`, and `r = r'`, so no contribution).
#[inline(always)]
fn repeat_edge<const M: usize, const L: usize>(
    zero: &[f64; 2],
    side: usize,
    took_true: &[f64; L],
    p: &Repeat<M, L>,
    f: &[[f64; L]; M],
    q: &Points<M>,
) -> Edge<M, L> {
    let z = p.zp * zero[side];
    let mut ratio_a = [0.0; M];
    let mut ratio_b = [0.0; M];
    let mut dr_a = [0.0; M];
    let mut dr_b = [0.0; M];
    for m in 0..M {
        let g = z + q.t[m] * (1.0 - z);
        ratio_a[m] = g * p.gp_inv[m];
        ratio_b[m] = z * q.one_minus_t[m] * p.gp_inv[m];
        dr_a[m] = q.w[m] * ((1.0 - z) / g - p.rp[m]);
        dr_b[m] = q.w[m] * (q.neg_inv_one_minus_t[m] - p.rp[m]);
    }
    let side_o = takes(side, took_true);
    let mut o = [0.0; L];
    for r in 0..L {
        o[r] = p.op[r] * side_o[r];
    }
    let mut fc = [[0.0; L]; M];
    let mut dr = [[0.0; L]; M];
    for m in 0..M {
        for r in 0..L {
            let (on, took) = (p.op[r] != 0.0, o[r] != 0.0);
            let ratio = if took { ratio_a[m] } else { ratio_b[m] };
            fc[m][r] = f[m][r] * if on { ratio } else { zero[side] };
            let d = if took { dr_a[m] } else { dr_b[m] };
            dr[m][r] = if on { d } else { 0.0 };
        }
    }
    Edge { f: fc, dr, o }
}

/// `H` below a leaf of value `v` reached with product `f`.
#[inline(always)]
fn leaf<const M: usize, const L: usize>(f: &[[f64; L]; M], v: f64) -> [[f64; L]; M] {
    let mut h = [[0.0; L]; M];
    for m in 0..M {
        for r in 0..L {
            h[m][r] = f[m][r] * v;
        }
    }
    h
}

/// Adds an edge's `H` (`hc`) to its node's (`h`) and its weighted share to the lanes' `contribution`.
#[inline(always)]
fn gather<const M: usize, const L: usize>(
    h: &mut [[f64; L]; M],
    contribution: &mut [f64; L],
    hc: &[[f64; L]; M],
    dr: &[[f64; L]; M],
) {
    for m in 0..M {
        for r in 0..L {
            contribution[r] += hc[m][r] * dr[m][r];
            h[m][r] += hc[m][r];
        }
    }
}

/// Adds the lanes' contributions to feature `j` to their sums ([`Scratch`]'s `[feature][lane]`).
#[inline(always)]
fn add<const L: usize>(sum: &mut [f64], j: usize, first: usize, contribution: &[f64; L]) {
    let at = j * LANES + first;
    for (s, c) in sum[at..at + L].iter_mut().zip(contribution) {
        *s += c;
    }
}

/// Defines the walks in module `$isa`, with the function attributes given (the target features).
macro_rules! kernel {
    ($isa:ident $(, #[$feature:meta])*) => {
        mod $isa {
            use super::*;

        /// Walks `tree` from its root (`F = 1`).
        $(#[$feature])*
        pub(super) fn root<const M: usize, const L: usize>(tree: &ShapTree, w: &mut Walk<'_, L>, q: &Points<M>) {
            walk::<M, L>(tree, tree.root, w, &[[1.0; L]; M], q);
        }

        /// One depth-first step for every lane: returns `H` at the rule's points for the subtree at `link`.
        $(#[$feature])*
        fn walk<const M: usize, const L: usize>(
            tree: &ShapTree,
            link: u32,
            w: &mut Walk<'_, L>,
            f: &[[f64; L]; M],
            q: &Points<M>,
        ) -> [[f64; L]; M] {
            if link & LEAF != 0 {
                return leaf(f, tree.leaves[(link & !LEAF) as usize]);
            }
            let node = &tree.nodes[link as usize];
            let j = node.split.feature as usize;
            let took_true: [f64; L] = node.split.goes_true_lanes(w.values(j));
            let mut h = [[0.0; L]; M];
            let mut contribution = [0.0; L];
            if w.scratch.seen[j] == 0 {
                w.scratch.seen[j] += 1;
                for side in 0..2 {
                    let e = first_edge(&node.zero, side, &took_true, f, q);
                    w.scratch.set(j, w.first, node.zero[side], &e.o);
                    let hc = walk::<M, L>(tree, node.children[side], w, &e.f, q);
                    gather(&mut h, &mut contribution, &hc, &e.dr);
                }
                w.scratch.seen[j] -= 1;
            } else {
                let p = Repeat::new(w.scratch.z[j], w.scratch.one::<L>(j, w.first), q);
                for side in 0..2 {
                    let e = repeat_edge(&node.zero, side, &took_true, &p, f, q);
                    w.scratch.set(j, w.first, p.zp * node.zero[side], &e.o);
                    let hc = walk::<M, L>(tree, node.children[side], w, &e.f, q);
                    w.scratch.set(j, w.first, p.zp, &p.op);
                    gather(&mut h, &mut contribution, &hc, &e.dr);
                }
            }
            add(&mut w.scratch.sum, j, w.first, &contribution);
            h
        }
        }
    };
}

kernel!(baseline);
#[cfg(target_arch = "x86_64")]
kernel!(avx2, #[target_feature(enable = "avx2")]);
#[cfg(target_arch = "x86_64")]
kernel!(avx512, #[target_feature(enable = "avx512f")]);

/// The walk along a [`Plan`] in portable code (on x86-64 with AVX2, [`super::simd`] has it in vector registers):
/// split nodes in preorder store each edge's `F`, `w·(r − r')` and one fractions; then in postorder each node sums
/// its edges' `H` and adds its contribution, in the recursion's order.
fn baseline_planned<const M: usize, const L: usize>(tree: &ShapTree, plan: &Plan, w: &mut Walk<'_, L>, q: &Points<M>) {
    let first = w.first;
    let Scratch { x, sum, edges, .. } = &mut *w.scratch;
    let count = plan.steps.len();
    let state = edges.get::<M, L>(count);
    let (slots, below) = (&mut state.edges[..2 * count], &mut state.h[..count]);
    for (i, step) in plan.steps.iter().enumerate() {
        let j = step.feature as usize;
        let took_true: [f64; L] = step.goes_true_lanes(tree, &x[j * LANES + first..j * LANES + first + L]);
        let f = match step.parent_edge {
            NONE => [[1.0; L]; M],
            e => slots[e as usize].f,
        };
        if step.prev == NONE {
            for side in 0..2 {
                slots[2 * i + side] = first_edge(&step.zero, side, &took_true, &f, q);
            }
        } else {
            let p = Repeat::<M, L>::new(step.zp, slots[step.prev as usize].o, q);
            for side in 0..2 {
                slots[2 * i + side] = repeat_edge(&step.zero, side, &took_true, &p, &f, q);
            }
        }
    }
    for &i in &plan.post {
        let i = i as usize;
        let step = &plan.steps[i];
        let mut h = [[0.0; L]; M];
        let mut contribution = [0.0; L];
        for side in 0..2 {
            let edge = &slots[2 * i + side];
            let child = step.child[side];
            let hc = if child == NONE { leaf(&edge.f, step.leaf[side]) } else { below[child as usize] };
            gather(&mut h, &mut contribution, &hc, &edge.dr);
        }
        below[i] = h;
        add(sum, step.feature as usize, first, &contribution);
    }
}
