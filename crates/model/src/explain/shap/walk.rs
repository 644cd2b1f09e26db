//! The depth-first walk of [`super`] for every lane, compiled once per instruction set: the baseline one, and on
//! x86-64 also AVX2, picked at run time. The walk is a few multiplies and selects per point and lane; with 256-bit
//! vectors a 4- or 8-lane walk does them a register at a time (SSE2 has no blend, so a select takes three
//! instructions per two lanes). On the seed model an 8-lane walk runs 0.53x the instructions and about 0.65x the
//! time of the baseline build (`score_sample explain 3 1 8`: 146 against 221-233 µs per row); a lone row gains
//! nothing, its cost being the node-by-node bookkeeping. Both copies round alike (no fused multiply-add is asked
//! for), so which one runs never changes a result.

use super::{Points, ShapNode, ShapTree, Walk, LEAF};

/// The instruction set the walk runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Isa {
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    /// The best this CPU supports (the standard library caches the CPUID check).
    pub fn detect() -> Isa {
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
        all
    }
}

/// Walks `tree` from its root for the lanes of `w`, adding their contributions.
pub(super) fn run<const M: usize, const L: usize>(isa: Isa, tree: &ShapTree, w: &mut Walk<'_, L>, q: &Points<M>) {
    match isa {
        Isa::Baseline => baseline::root::<M, L>(tree, w, q),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2 (`Isa::detect`, `Isa::available`).
            unsafe { avx2::root::<M, L>(tree, w, q) };
        }
    }
}

/// Defines `walk` in module `$isa`, with the function attributes given (the target features).
macro_rules! kernel {
    ($isa:ident $(, #[$feature:meta])*) => {
        mod $isa {
            use super::*;

        /// Walks `tree` from its root (`F = 1`).
        $(#[$feature])*
        pub(super) fn root<const M: usize, const L: usize>(tree: &ShapTree, w: &mut Walk<'_, L>, q: &Points<M>) {
            walk::<M, L>(tree, tree.root, w, &[[1.0; L]; M], q);
        }

        /// One depth-first step (see the module docs) for every lane: returns `H` at the rule's points for the
        /// subtree at `link`, per lane.
        $(#[$feature])*
        fn walk<const M: usize, const L: usize>(
            tree: &ShapTree,
            link: u32,
            w: &mut Walk<'_, L>,
            f: &[[f64; L]; M],
            q: &Points<M>,
        ) -> [[f64; L]; M] {
            if link & LEAF != 0 {
                let v = tree.leaves[(link & !LEAF) as usize];
                let mut h = [[0.0; L]; M];
                for m in 0..M {
                    for r in 0..L {
                        h[m][r] = f[m][r] * v;
                    }
                }
                return h;
            }
            let node = &tree.nodes[link as usize];
            let j = node.split.feature as usize;
            let took_true: [bool; L] = node.split.goes_true_lanes(w.values(j));
            if w.scratch.seen[j] == 0 {
                return walk_first::<M, L>(tree, node, &took_true, w, f, q);
            }
            // The path tested `j` before: its merged zero fraction `zp` is the node's own (a node has one path), and a
            // lane's one fraction `op` is 0 or 1. So the edge's factor ratio `g/g'` and weighted `r − r'` take one of
            // three values per point, computed once for all lanes: the row followed every earlier edge on `j` and takes
            // this side (A), followed them but not this side (B), or left the path on `j` before (C: ratio `zero`, and
            // `r = r'`, so no contribution).
            let zp = w.scratch.z[j];
            let op: [f64; L] = w.scratch.one::<L>(j, w.first);
            let mut gp_inv = [0.0; M];
            let mut rp = [0.0; M];
            for m in 0..M {
                // `zp + t(1 − zp) ≥ t > 0` at every Gauss–Legendre point.
                gp_inv[m] = 1.0 / (zp + q.t[m] * (1.0 - zp));
                rp[m] = (1.0 - zp) * gp_inv[m];
            }
            // Lanes whose row followed every earlier edge on `j` (cases A and B).
            let on: [bool; L] = op.map(|o| o != 0.0);
            let mut h = [[0.0; L]; M];
            let mut contribution = [0.0; L];
            for side in 0..2 {
                let z = zp * node.zero[side];
                let mut ratio_a = [0.0; M];
                let mut ratio_b = [0.0; M];
                let mut dr_a = [0.0; M];
                let mut dr_b = [0.0; M];
                for m in 0..M {
                    let g = z + q.t[m] * (1.0 - z);
                    ratio_a[m] = g * gp_inv[m];
                    ratio_b[m] = z * q.one_minus_t[m] * gp_inv[m];
                    dr_a[m] = q.w[m] * ((1.0 - z) / g - rp[m]);
                    dr_b[m] = q.w[m] * (q.neg_inv_one_minus_t[m] - rp[m]);
                }
                let mut o = [0.0; L];
                for r in 0..L {
                    let takes = (side == 0) == took_true[r];
                    o[r] = if on[r] && takes { 1.0 } else { 0.0 };
                }
                let mut fc = [[0.0; L]; M];
                let mut dr = [[0.0; L]; M];
                for m in 0..M {
                    for r in 0..L {
                        let took = o[r] != 0.0;
                        let ratio = if took { ratio_a[m] } else { ratio_b[m] };
                        fc[m][r] = f[m][r] * if on[r] { ratio } else { node.zero[side] };
                        let d = if took { dr_a[m] } else { dr_b[m] };
                        dr[m][r] = if on[r] { d } else { 0.0 };
                    }
                }
                w.scratch.set(j, w.first, z, &o);
                let hc = walk::<M, L>(tree, node.children[side], w, &fc, q);
                w.scratch.set(j, w.first, zp, &op);
                for m in 0..M {
                    for r in 0..L {
                        contribution[r] += hc[m][r] * dr[m][r];
                        h[m][r] += hc[m][r];
                    }
                }
            }
            w.add(j, &contribution);
            h
        }

        /// [`ShapTree::walk`] at a node whose feature the path has not tested yet (`(z, o) = (1, 1)`, the common case):
        /// the factor before the edge is 1 and `r'` is 0; on the side a row takes the factor is `z + t(1 − z)` with
        /// `r = (1 − z)/(z + t(1 − z))`, on the side it does not (`o = 0`) it is `z(1 − t)` with `r = −1/(1 − t)` — the
        /// same for every lane, so each point divides once per side and a lane only picks one of two values.
        $(#[$feature])*
        fn walk_first<const M: usize, const L: usize>(
            tree: &ShapTree,
            node: &ShapNode,
            took_true: &[bool; L],
            w: &mut Walk<'_, L>,
            f: &[[f64; L]; M],
            q: &Points<M>,
        ) -> [[f64; L]; M] {
            let j = node.split.feature as usize;
            w.scratch.seen[j] += 1;
            let mut h = [[0.0; L]; M];
            let mut contribution = [0.0; L];
            for side in 0..2 {
                let z = node.zero[side];
                let mut g_on = [0.0; M];
                let mut g_off = [0.0; M];
                let mut r_on = [0.0; M];
                for m in 0..M {
                    g_on[m] = z + q.t[m] * (1.0 - z);
                    g_off[m] = z * q.one_minus_t[m];
                    r_on[m] = q.w[m] * (1.0 - z) / g_on[m];
                }
                let mut o = [0.0; L];
                for r in 0..L {
                    o[r] = if (side == 0) == took_true[r] { 1.0 } else { 0.0 };
                }
                let mut fc = [[0.0; L]; M];
                let mut rc = [[0.0; L]; M];
                for m in 0..M {
                    for r in 0..L {
                        let takes = o[r] != 0.0;
                        fc[m][r] = f[m][r] * if takes { g_on[m] } else { g_off[m] };
                        rc[m][r] = if takes { r_on[m] } else { q.w_neg_inv_one_minus_t[m] };
                    }
                }
                w.scratch.set(j, w.first, z, &o);
                let hc = walk::<M, L>(tree, node.children[side], w, &fc, q);
                for m in 0..M {
                    for r in 0..L {
                        contribution[r] += hc[m][r] * rc[m][r];
                        h[m][r] += hc[m][r];
                    }
                }
            }
            w.scratch.seen[j] -= 1;
            w.add(j, &contribution);
            h
        }

        }
    };
}

kernel!(baseline);
#[cfg(target_arch = "x86_64")]
kernel!(avx2, #[target_feature(enable = "avx2")]);
