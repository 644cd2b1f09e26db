//! The two arithmetic types tree ensembles run in: `f32` for float/int64 inputs and `f64` for double inputs,
//! matching onnxruntime's threshold/accumulator type per input type.

use std::ops::{Add, Div, Neg, Sub};

/// Threshold and accumulator type of a compiled forest.
pub(crate) trait Real:
    Copy
    + PartialOrd
    + Default
    + Add<Output = Self>
    + Sub<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(v: f64) -> Self;
    fn from_usize(v: usize) -> Self;
    fn to_f32(self) -> f32;
    fn is_nan(self) -> bool;
    /// `-self` when `neg`, else `self`, without a branch.
    fn flip(self, neg: bool) -> Self;
    /// The smallest value greater than `self` (`f32::next_up`, which needs a newer toolchain than ours), so that
    /// `x <= t` can be evaluated as `x < t.next_up()`. Infinities and NaN are returned unchanged.
    fn next_up(self) -> Self;
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn from_usize(v: usize) -> f32 {
        v as f32
    }
    fn to_f32(self) -> f32 {
        self
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    #[inline(always)]
    fn flip(self, neg: bool) -> f32 {
        f32::from_bits(self.to_bits() ^ ((neg as u32) << 31))
    }
    fn next_up(self) -> f32 {
        if self.is_nan() || self == f32::INFINITY {
            return self;
        }
        let bits = self.to_bits();
        let next = if self == 0.0 {
            1 // -0.0 and +0.0 both step to the smallest positive subnormal.
        } else if bits >> 31 == 0 {
            bits + 1
        } else {
            bits - 1
        };
        f32::from_bits(next)
    }
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    fn from_f64(v: f64) -> f64 {
        v
    }
    fn from_usize(v: usize) -> f64 {
        v as f64
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    #[inline(always)]
    fn flip(self, neg: bool) -> f64 {
        f64::from_bits(self.to_bits() ^ ((neg as u64) << 63))
    }
    fn next_up(self) -> f64 {
        if self.is_nan() || self == f64::INFINITY {
            return self;
        }
        let bits = self.to_bits();
        let next = if self == 0.0 {
            1
        } else if bits >> 63 == 0 {
            bits + 1
        } else {
            bits - 1
        };
        f64::from_bits(next)
    }
}
