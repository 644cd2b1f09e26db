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
}
