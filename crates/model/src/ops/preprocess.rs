//! Numeric feature preprocessing from ai.onnx.ml: Imputer, Scaler, Normalizer, Binarizer, FeatureVectorizer,
//! ArrayFeatureExtractor.

use crate::attr::NodeCtx;
use crate::error::{op_err, ModelError, OpResult};
use crate::fuse::ColumnOp;
use crate::ops::{input, to_f32, Kernel};
use crate::tensor::{ElemType, Tensor, TensorData, Value};

/// Per-column value from a list of length 1 (broadcast) or `cols`.
fn per_column<'a, T: Copy>(values: &'a [T], cols: usize, what: &str) -> OpResult<impl Fn(usize) -> T + 'a> {
    if values.len() != 1 && values.len() != cols {
        return Err(op_err!("{what} has {} entries but the input has {cols} columns", values.len()));
    }
    Ok(move |c: usize| if values.len() == 1 { values[0] } else { values[c] })
}

struct Imputer {
    floats: Vec<f32>,
    replaced_float: f32,
    ints: Vec<i64>,
    replaced_int: i64,
}

/// Builds `Imputer`.
pub(crate) fn build_imputer(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let floats = ctx.floats("imputed_value_floats").to_vec();
    let ints = ctx.ints("imputed_value_int64s").to_vec();
    if floats.is_empty() == ints.is_empty() {
        return Err(ctx.err("exactly one of imputed_value_floats and imputed_value_int64s must be set"));
    }
    Ok(Box::new(Imputer {
        floats,
        replaced_float: ctx.float("replaced_value_float").unwrap_or(0.0),
        ints,
        replaced_int: ctx.int("replaced_value_int64").unwrap_or(0),
    }))
}

impl Kernel for Imputer {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let (_, cols) = x.rows_cols();
        let data = match &x.data {
            TensorData::Float(v) if !self.floats.is_empty() => {
                let fill = per_column(&self.floats, cols, "imputed_value_floats")?;
                let nan = self.replaced_float.is_nan();
                let r = self.replaced_float;
                TensorData::Float(
                    v.iter()
                        .enumerate()
                        .map(|(i, &x)| if (nan && x.is_nan()) || x == r { fill(i % cols.max(1)) } else { x })
                        .collect(),
                )
            }
            TensorData::Int64(v) if !self.ints.is_empty() => {
                let fill = per_column(&self.ints, cols, "imputed_value_int64s")?;
                let r = self.replaced_int;
                TensorData::Int64(
                    v.iter().enumerate().map(|(i, &x)| if x == r { fill(i % cols.max(1)) } else { x }).collect(),
                )
            }
            d => return Err(op_err!("input type {} does not match the imputed values", d.elem_type().name())),
        };
        out.push(Value::Tensor(Tensor { shape: x.shape.clone(), data }));
        Ok(())
    }

    fn column_op(&self) -> Option<ColumnOp<'_>> {
        Some(if self.floats.is_empty() {
            ColumnOp::PerColumn { to: None }
        } else {
            ColumnOp::ImputeFloats { fill: &self.floats, replaced: self.replaced_float }
        })
    }
}

struct Scaler {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

/// Builds `Scaler`: `y = (x - offset) * scale`.
pub(crate) fn build_scaler(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let offset = ctx.floats("offset").to_vec();
    let scale = ctx.floats("scale").to_vec();
    if offset.is_empty() || scale.is_empty() {
        return Err(ctx.err("offset and scale must both be non-empty"));
    }
    Ok(Box::new(Scaler { offset, scale }))
}

impl Kernel for Scaler {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let (_, cols) = x.rows_cols();
        let off = per_column(&self.offset, cols, "offset")?;
        let sc = per_column(&self.scale, cols, "scale")?;
        let v = to_f32(x)?;
        let y = v.iter().enumerate().map(|(i, &x)| (x - off(i % cols.max(1))) * sc(i % cols.max(1))).collect();
        out.push(Value::Tensor(Tensor { shape: x.shape.clone(), data: TensorData::Float(y) }));
        Ok(())
    }

    fn column_op(&self) -> Option<ColumnOp<'_>> {
        Some(ColumnOp::PerColumn { to: Some(ElemType::Float) })
    }
}

#[derive(Clone, Copy)]
enum Norm {
    Max,
    L1,
    L2,
}

struct Normalizer(Norm);

/// Builds `Normalizer` (row-wise MAX, L1 or L2).
pub(crate) fn build_normalizer(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let s = ctx.string_or("norm", "MAX")?;
    let norm = match s.as_str() {
        "MAX" => Norm::Max,
        "L1" => Norm::L1,
        "L2" => Norm::L2,
        _ => return Err(ctx.err(format!("unknown norm '{s}'"))),
    };
    Ok(Box::new(Normalizer(norm)))
}

impl Kernel for Normalizer {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let (_, cols) = x.rows_cols();
        let mut v = to_f32(x)?.into_owned();
        for row in v.chunks_mut(cols.max(1)) {
            match self.0 {
                Norm::Max => {
                    let m = row.iter().fold(f32::MIN, |m, &x| m.max(x));
                    if m != 0.0 {
                        row.iter_mut().for_each(|x| *x /= m);
                    }
                }
                Norm::L1 => {
                    let s: f32 = row.iter().map(|x| x.abs()).sum();
                    if s != 0.0 {
                        row.iter_mut().for_each(|x| *x /= s);
                    }
                }
                Norm::L2 => {
                    let s = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                    if s != 0.0 {
                        row.iter_mut().for_each(|x| *x /= s);
                    }
                }
            }
        }
        out.push(Value::Tensor(Tensor { shape: x.shape.clone(), data: TensorData::Float(v) }));
        Ok(())
    }
}

struct Binarizer(f32);

/// Builds `Binarizer`: 1 where `x > threshold`, else 0.
pub(crate) fn build_binarizer(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    Ok(Box::new(Binarizer(ctx.float("threshold").unwrap_or(0.0))))
}

impl Kernel for Binarizer {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let t = self.0;
        let data = match &x.data {
            TensorData::Float(v) => TensorData::Float(v.iter().map(|&x| if x > t { 1.0 } else { 0.0 }).collect()),
            TensorData::Double(v) => {
                TensorData::Double(v.iter().map(|&x| if x > t as f64 { 1.0 } else { 0.0 }).collect())
            }
            _ => return Err(op_err!("Binarizer needs float or double input")),
        };
        out.push(Value::Tensor(Tensor { shape: x.shape.clone(), data }));
        Ok(())
    }

    fn column_op(&self) -> Option<ColumnOp<'_>> {
        Some(ColumnOp::PerColumn { to: None })
    }
}

struct FeatureVectorizer {
    dims: Vec<usize>,
}

/// Builds `FeatureVectorizer`: concatenates inputs' columns, each padded or cut to `inputdimensions`.
pub(crate) fn build_feature_vectorizer(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    let dims = ctx
        .ints("inputdimensions")
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| ctx.err(format!("negative input dimension {d}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if dims.len() != ctx.n_inputs() {
        return Err(ctx.err(format!("inputdimensions has {} entries for {} inputs", dims.len(), ctx.n_inputs())));
    }
    Ok(Box::new(FeatureVectorizer { dims }))
}

impl Kernel for FeatureVectorizer {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let parts: Vec<&Tensor> = (0..inputs.len()).map(|i| input(inputs, i)).collect::<OpResult<_>>()?;
        let rows = parts.first().map_or(1, |p| p.rows_cols().0);
        let width: usize = self.dims.iter().sum();
        let mut y = vec![0f32; rows * width];
        let mut offset = 0;
        for (p, &d) in parts.iter().zip(&self.dims) {
            let (r, c) = p.rows_cols();
            if r != rows {
                return Err(op_err!("inputs have different row counts ({r} vs {rows})"));
            }
            let v = to_f32(p)?;
            for row in 0..rows {
                let n = c.min(d);
                y[row * width + offset..row * width + offset + n].copy_from_slice(&v[row * c..row * c + n]);
            }
            offset += d;
        }
        out.push(Value::Tensor(Tensor { shape: vec![rows, width], data: TensorData::Float(y) }));
        Ok(())
    }
}

struct ArrayFeatureExtractor;

/// Builds `ArrayFeatureExtractor`: gathers columns of the last axis.
pub(crate) fn build_array_feature_extractor(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(2..=2, 1..=1)?;
    Ok(Box::new(ArrayFeatureExtractor))
}

impl Kernel for ArrayFeatureExtractor {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let idx = input(inputs, 1)?.as_i64().ok_or_else(|| op_err!("indices must be int64"))?;
        let last = *x.shape.last().ok_or_else(|| op_err!("input must have rank >= 1"))?;
        let idx = idx
            .iter()
            .map(|&i| {
                usize::try_from(i).ok().filter(|&i| i < last).ok_or_else(|| op_err!("index {i} out of range 0..{last}"))
            })
            .collect::<OpResult<Vec<_>>>()?;
        let outer = x.len().checked_div(last).unwrap_or(0);
        let mut shape = if x.shape.len() == 1 { vec![1] } else { x.shape[..x.shape.len() - 1].to_vec() };
        shape.push(idx.len());
        macro_rules! pick {
            ($v:expr, $variant:ident) => {
                TensorData::$variant(
                    (0..outer).flat_map(|o| idx.iter().map(move |&i| o * last + i)).map(|k| $v[k].clone()).collect(),
                )
            };
        }
        let data = match &x.data {
            TensorData::Float(v) => pick!(v, Float),
            TensorData::Double(v) => pick!(v, Double),
            TensorData::Int64(v) => pick!(v, Int64),
            TensorData::String(v) => pick!(v, String),
        };
        out.push(Value::Tensor(Tensor { shape, data }));
        Ok(())
    }
}
