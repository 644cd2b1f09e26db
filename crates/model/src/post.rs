//! Score post-transforms shared by the tree and linear operators, computed in `f32` exactly as onnxruntime does
//! (same formulas, same operation order), because probabilities are compared bit-for-bit-ish against it.

/// `post_transform` attribute: how a tree or linear model turns its scores (margins) into outputs. Public so an
/// explanation can say what its margin means ([`crate::Contributions::post`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

impl PostTransform {
    /// Parses the attribute's string form (`"LOGISTIC"`, …).
    pub fn parse(s: &str) -> Option<PostTransform> {
        Some(match s {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            _ => return None,
        })
    }
}

/// onnxruntime's logistic in `f32` (`ComputeLogistic`): `1 / (1 + e^-|x|)`, mirrored for negative `x`
/// (numerically safe for large |x|). Public so a trainer's own predictions round exactly as exported models do.
#[inline]
pub fn logistic(x: f32) -> f32 {
    let v = 1.0 / (1.0 + (-x.abs()).exp());
    if x < 0.0 {
        1.0 - v
    } else {
        v
    }
}

/// Winitzki's approximation of the inverse error function, as onnxruntime uses it.
fn erf_inv(x: f32) -> f32 {
    let sgn = if x < 0.0 { -1.0f32 } else { 1.0 };
    let x = (1.0 - x) * (1.0 + x);
    let log = x.ln();
    let v = 2.0 / (std::f32::consts::PI * 0.147) + 0.5 * log;
    let v2 = 1.0 / 0.147 * log;
    let v3 = -v + (v * v - v2).sqrt();
    sgn * v3.sqrt()
}

/// Probit: `sqrt(2) * erfinv(2x - 1)`.
#[inline]
pub(crate) fn probit(x: f32) -> f32 {
    std::f32::consts::SQRT_2 * erf_inv(2.0 * x - 1.0)
}

/// Softmax in place, max-shifted.
pub(crate) fn softmax(v: &mut [f32]) {
    let max = v.iter().fold(-f32::MAX, |m, &x| if x > m { x } else { m });
    let mut sum = 0.0f32;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

/// Softmax that leaves (near-)zero scores out of the exponentiation.
pub(crate) fn softmax_zero(v: &mut [f32]) {
    let max = v.iter().fold(-f32::MAX, |m, &x| if x > m { x } else { m });
    let exp_neg_max = (-max).exp();
    let mut sum = 0.0f32;
    for x in v.iter_mut() {
        if *x > 0.0000001 || *x < -0.0000001 {
            *x = (*x - max).exp();
            sum += *x;
        } else {
            *x *= exp_neg_max;
        }
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

/// Applies a transform to a row of two or more scores.
pub(crate) fn apply_many(post: PostTransform, v: &mut [f32]) {
    match post {
        PostTransform::None => {}
        PostTransform::Logistic => v.iter_mut().for_each(|x| *x = logistic(*x)),
        PostTransform::Probit => v.iter_mut().for_each(|x| *x = probit(*x)),
        PostTransform::Softmax => softmax(v),
        PostTransform::SoftmaxZero => softmax_zero(v),
    }
}
