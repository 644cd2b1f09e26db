//! Gauss–Legendre quadrature on `[0, 1]`: `m` points integrate every polynomial of degree `≤ 2m − 1` exactly, which
//! is what turns TreeSHAP's weighted sums over feature subsets into a handful of point evaluations (see
//! [`super::shap`]).

/// Nodes and weights of an `m`-point rule on `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

impl Rule {
    /// The `m`-point Gauss–Legendre rule (`m ≥ 1`), by Newton's method on the Legendre polynomial `P_m` from the
    /// usual starting guesses; converges to machine precision in a few steps for the sizes trees need.
    pub fn gauss_legendre(m: usize) -> Rule {
        let m = m.max(1);
        let mut nodes = Vec::with_capacity(m);
        let mut weights = Vec::with_capacity(m);
        for i in 0..m {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (m as f64 + 0.5)).cos();
            let mut derivative = 1.0;
            for _ in 0..100 {
                let (p, dp) = legendre(m, x);
                derivative = dp;
                let step = p / dp;
                x -= step;
                if step.abs() < 1e-16 {
                    break;
                }
            }
            let (_, dp) = legendre(m, x);
            if dp.is_finite() {
                derivative = dp;
            }
            // Map [-1, 1] to [0, 1]: t = (1 - x) / 2 keeps the nodes ascending, and the weights halve.
            nodes.push((1.0 - x) / 2.0);
            weights.push(1.0 / ((1.0 - x * x) * derivative * derivative));
        }
        Rule { nodes, weights }
    }
}

/// `(P_m(x), P_m'(x))` by the three-term recurrence.
fn legendre(m: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    for k in 2..=m {
        let k = k as f64;
        let p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
    }
    if m == 0 {
        return (1.0, 0.0);
    }
    let dp = m as f64 * (x * p1 - p0) / (x * x - 1.0);
    (p1, dp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_polynomials_up_to_degree_2m_minus_1_exactly() {
        for m in 1..=32 {
            let rule = Rule::gauss_legendre(m);
            assert_eq!(rule.nodes.len(), m);
            for degree in 0..2 * m {
                let integral: f64 = rule.nodes.iter().zip(&rule.weights).map(|(t, w)| w * t.powi(degree as i32)).sum();
                let exact = 1.0 / (degree as f64 + 1.0);
                assert!((integral - exact).abs() < 1e-13, "m={m} degree={degree}: {integral} vs {exact}");
            }
            assert!(rule.nodes.iter().all(|&t| t > 0.0 && t < 1.0));
        }
    }

    #[test]
    fn does_not_integrate_degree_2m_exactly() {
        // The rule is exact no further than promised, so callers must size it by the degree they need.
        let rule = Rule::gauss_legendre(2);
        let integral: f64 = rule.nodes.iter().zip(&rule.weights).map(|(t, w)| w * t.powi(4)).sum();
        assert!((integral - 0.2).abs() > 1e-4);
    }
}
