//! Categorical encoders from ai.onnx.ml: OneHotEncoder, LabelEncoder, CategoryMapper.

use std::collections::HashMap;

use crate::attr::NodeCtx;
use crate::error::{op_err, ModelError, OpResult};
use crate::fuse::ColumnOp;
use crate::ops::{input, Kernel};
use crate::tensor::{ElemType, Tensor, TensorData, Value};

enum Categories {
    Int(HashMap<i64, usize>),
    Str(HashMap<String, usize>),
}

struct OneHot {
    cats: Categories,
    /// String categories in attribute order (empty for int64 categories), for [`Kernel::column_op`].
    names: Vec<String>,
    n: usize,
    zeros: bool,
}

/// Builds `OneHotEncoder`: output shape is the input shape plus one axis of `len(cats)`.
pub(crate) fn build_one_hot(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let strings = ctx.strings("cats_strings")?;
    let ints = ctx.ints("cats_int64s");
    let names = strings.clone();
    let (cats, n) = match (strings.is_empty(), ints.is_empty()) {
        (false, true) => {
            let n = strings.len();
            (Categories::Str(strings.into_iter().enumerate().map(|(i, s)| (s, i)).rev().collect()), n)
        }
        (true, false) => (Categories::Int(ints.iter().enumerate().map(|(i, &c)| (c, i)).rev().collect()), ints.len()),
        _ => return Err(ctx.err("exactly one of cats_strings and cats_int64s must be set")),
    };
    Ok(Box::new(OneHot { cats, names, n, zeros: ctx.int("zeros").unwrap_or(1) != 0 }))
}

impl Kernel for OneHot {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let mut y = vec![0f32; x.len() * self.n];
        let mut set = |i: usize, hit: Option<&usize>| -> OpResult {
            match hit {
                Some(&k) => y[i * self.n + k] = 1.0,
                None if self.zeros => {}
                None => return Err(op_err!("unknown category and zeros=0")),
            }
            Ok(())
        };
        match (&self.cats, &x.data) {
            (Categories::Str(m), TensorData::String(v)) => {
                for (i, s) in v.iter().enumerate() {
                    set(i, m.get(s.as_str()))?;
                }
            }
            (Categories::Int(m), TensorData::Int64(v)) => {
                for (i, c) in v.iter().enumerate() {
                    set(i, m.get(c))?;
                }
            }
            (Categories::Int(m), TensorData::Float(v)) => {
                for (i, &c) in v.iter().enumerate() {
                    set(i, m.get(&(c as i64)))?;
                }
            }
            (Categories::Int(m), TensorData::Double(v)) => {
                for (i, &c) in v.iter().enumerate() {
                    set(i, m.get(&(c as i64)))?;
                }
            }
            (_, d) => return Err(op_err!("input type {} does not match the categories", d.elem_type().name())),
        }
        let mut shape = x.shape.clone();
        shape.push(self.n);
        out.push(Value::Tensor(Tensor { shape, data: TensorData::Float(y) }));
        Ok(())
    }

    fn column_op(&self) -> Option<ColumnOp<'_>> {
        // With zeros=0 an unknown category is an error, which a fused consumer would not raise.
        match self.cats {
            Categories::Str(_) if self.zeros => Some(ColumnOp::OneHotStrings { cats: &self.names }),
            _ => None,
        }
    }
}

/// A key or value column of a LabelEncoder.
#[derive(Clone)]
enum Column {
    Str(Vec<String>),
    Int(Vec<i64>),
    Float(Vec<f32>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Str(v) => v.len(),
            Column::Int(v) => v.len(),
            Column::Float(v) => v.len(),
        }
    }
}

struct LabelEncoder {
    keys: Column,
    values: Column,
    default: Column,
}

fn column(ctx: &NodeCtx<'_>, prefix: &str) -> Result<Option<Column>, ModelError> {
    if let Some(t) = ctx.tensor(&format!("{prefix}_tensor"))? {
        return Ok(Some(match t.data {
            TensorData::String(v) => Column::Str(v),
            TensorData::Int64(v) => Column::Int(v),
            TensorData::Float(v) => Column::Float(v),
            TensorData::Double(v) => Column::Float(v.into_iter().map(|x| x as f32).collect()),
        }));
    }
    let s = ctx.strings(&format!("{prefix}_strings"))?;
    if !s.is_empty() {
        return Ok(Some(Column::Str(s)));
    }
    let i = ctx.ints(&format!("{prefix}_int64s"));
    if !i.is_empty() {
        return Ok(Some(Column::Int(i.to_vec())));
    }
    let f = ctx.floats(&format!("{prefix}_floats"));
    if !f.is_empty() {
        return Ok(Some(Column::Float(f.to_vec())));
    }
    Ok(None)
}

/// Builds `LabelEncoder` (opset 1 `classes_strings` form, and the `keys_*`/`values_*` form of opset 2+).
pub(crate) fn build_label_encoder(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let (keys, values) = if ctx.opset < 2 {
        let classes = ctx.strings("classes_strings")?;
        let idx: Vec<i64> = (0..classes.len() as i64).collect();
        // Direction is decided at run time by the input type.
        (Column::Str(classes), Column::Int(idx))
    } else {
        let keys = column(ctx, "keys")?.ok_or_else(|| ctx.err("keys_* is required"))?;
        let values = column(ctx, "values")?.ok_or_else(|| ctx.err("values_* is required"))?;
        (keys, values)
    };
    if keys.len() != values.len() {
        return Err(ctx.err("keys and values have different lengths"));
    }
    let default = match &values {
        Column::Str(_) => Column::Str(vec![ctx.string_or("default_string", "_Unused")?]),
        Column::Int(_) => Column::Int(vec![ctx.int("default_int64").unwrap_or(-1)]),
        Column::Float(_) => Column::Float(vec![ctx.float("default_float").unwrap_or(-0.0)]),
    };
    Ok(Box::new(LabelEncoder { keys, values, default }))
}

impl Kernel for LabelEncoder {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        // Position of each input element in `keys`, or None.
        let pos: Vec<Option<usize>> = match (&self.keys, &x.data) {
            (Column::Str(k), TensorData::String(v)) => {
                let m: HashMap<&str, usize> = k.iter().enumerate().rev().map(|(i, s)| (s.as_str(), i)).collect();
                v.iter().map(|s| m.get(s.as_str()).copied()).collect()
            }
            (Column::Int(k), TensorData::Int64(v)) => {
                let m: HashMap<i64, usize> = k.iter().enumerate().rev().map(|(i, &s)| (s, i)).collect();
                v.iter().map(|s| m.get(s).copied()).collect()
            }
            (Column::Float(k), TensorData::Float(v)) => {
                v.iter().map(|&x| k.iter().position(|&y| y == x || (x.is_nan() && y.is_nan()))).collect()
            }
            // Opset-1 reverse direction: int64 indices to class strings.
            (Column::Str(k), TensorData::Int64(v)) => {
                let default = match &self.default {
                    Column::Str(d) => d[0].clone(),
                    _ => "_Unused".to_string(),
                };
                let data = v
                    .iter()
                    .map(|&i| {
                        usize::try_from(i).ok().and_then(|i| k.get(i)).cloned().unwrap_or_else(|| default.clone())
                    })
                    .collect();
                out.push(Value::Tensor(Tensor { shape: x.shape.clone(), data: TensorData::String(data) }));
                return Ok(());
            }
            (_, d) => return Err(op_err!("input type {} does not match the keys", d.elem_type().name())),
        };
        let data = match (&self.values, &self.default) {
            (Column::Str(v), Column::Str(d)) => {
                TensorData::String(pos.iter().map(|p| p.map_or_else(|| d[0].clone(), |i| v[i].clone())).collect())
            }
            (Column::Int(v), Column::Int(d)) => {
                TensorData::Int64(pos.iter().map(|p| p.map_or(d[0], |i| v[i])).collect())
            }
            (Column::Float(v), Column::Float(d)) => {
                TensorData::Float(pos.iter().map(|p| p.map_or(d[0], |i| v[i])).collect())
            }
            _ => return Err(op_err!("inconsistent value and default types")),
        };
        out.push(Value::Tensor(Tensor { shape: x.shape.clone(), data }));
        Ok(())
    }

    fn column_op(&self) -> Option<ColumnOp<'_>> {
        let to = match self.values {
            Column::Str(_) => ElemType::String,
            Column::Int(_) => ElemType::Int64,
            Column::Float(_) => ElemType::Float,
        };
        Some(ColumnOp::PerColumn { to: Some(to) })
    }
}

struct CategoryMapper {
    strings: Vec<String>,
    ints: Vec<i64>,
    default_string: String,
    default_int: i64,
}

/// Builds `CategoryMapper` (string ↔ int64 by parallel lists).
pub(crate) fn build_category_mapper(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let strings = ctx.strings("cats_strings")?;
    let ints = ctx.ints("cats_int64s").to_vec();
    if strings.len() != ints.len() {
        return Err(ctx.err("cats_strings and cats_int64s have different lengths"));
    }
    Ok(Box::new(CategoryMapper {
        strings,
        ints,
        default_string: ctx.string_or("default_string", "_Unused")?,
        default_int: ctx.int("default_int64").unwrap_or(-1),
    }))
}

impl Kernel for CategoryMapper {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let data = match &x.data {
            TensorData::String(v) => {
                let m: HashMap<&str, i64> =
                    self.strings.iter().map(String::as_str).zip(self.ints.iter().copied()).collect();
                TensorData::Int64(v.iter().map(|s| m.get(s.as_str()).copied().unwrap_or(self.default_int)).collect())
            }
            TensorData::Int64(v) => {
                let m: HashMap<i64, &String> = self.ints.iter().copied().zip(self.strings.iter()).collect();
                TensorData::String(
                    v.iter().map(|i| m.get(i).map_or_else(|| self.default_string.clone(), |s| (*s).clone())).collect(),
                )
            }
            d => return Err(op_err!("CategoryMapper needs string or int64 input, got {}", d.elem_type().name())),
        };
        out.push(Value::Tensor(Tensor { shape: x.shape.clone(), data }));
        Ok(())
    }

    /// Strings become int64 codes and int64 codes strings, column by column (the element type is left as the
    /// input's: lineage needs only the numeric type the trees finally read, which a Cast sets).
    fn column_op(&self) -> Option<ColumnOp<'_>> {
        Some(ColumnOp::PerColumn { to: None })
    }
}
