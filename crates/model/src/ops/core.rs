//! Default-domain (ai.onnx) operators that converters emit around tree models: shape plumbing, casts, and the
//! element-wise arithmetic of post-processing.

use crate::attr::NodeCtx;
use crate::error::{op_err, ModelError, OpResult};
use crate::fuse::ColumnOp;
use crate::ops::{input, to_f64, Kernel};
use crate::tensor::{ElemType, Tensor, TensorData, Value};

fn resolve_axis(axis: i64, rank: usize) -> OpResult<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r.max(1) {
        return Err(op_err!("axis {axis} is out of range for rank {rank}"));
    }
    Ok(a as usize)
}

struct Cast {
    to: ElemType,
}

/// Builds `Cast` (to float, double, int64 or string).
pub(crate) fn build_cast(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let code = ctx.int("to").ok_or_else(|| ctx.err("attribute 'to' is required"))?;
    let to = i32::try_from(code).ok().and_then(ElemType::from_onnx).ok_or_else(|| {
        ctx.err(format!("casting to element type {code} is not supported (float, double, int64, string)"))
    })?;
    Ok(Box::new(Cast { to }))
}

impl Kernel for Cast {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let data = cast(&x.data, self.to)?;
        out.push(Value::Tensor(Tensor { shape: x.shape.clone(), data }));
        Ok(())
    }

    fn column_op(&self) -> Option<ColumnOp<'_>> {
        Some(ColumnOp::Cast { to: self.to })
    }
}

pub(crate) fn cast(data: &TensorData, to: ElemType) -> OpResult<TensorData> {
    use TensorData as D;
    Ok(match (data, to) {
        (d, t) if d.elem_type() == t => d.clone(),
        (D::Float(v), ElemType::Double) => D::Double(v.iter().map(|&x| x as f64).collect()),
        (D::Float(v), ElemType::Int64) => D::Int64(v.iter().map(|&x| x as i64).collect()),
        (D::Double(v), ElemType::Float) => D::Float(v.iter().map(|&x| x as f32).collect()),
        (D::Double(v), ElemType::Int64) => D::Int64(v.iter().map(|&x| x as i64).collect()),
        (D::Int64(v), ElemType::Float) => D::Float(v.iter().map(|&x| x as f32).collect()),
        (D::Int64(v), ElemType::Double) => D::Double(v.iter().map(|&x| x as f64).collect()),
        (D::Float(v), ElemType::String) => D::String(v.iter().map(|x| x.to_string()).collect()),
        (D::Double(v), ElemType::String) => D::String(v.iter().map(|x| x.to_string()).collect()),
        (D::Int64(v), ElemType::String) => D::String(v.iter().map(|x| x.to_string()).collect()),
        (D::String(v), ElemType::Float) => D::Float(v.iter().map(|s| s.trim().parse().unwrap_or(f32::NAN)).collect()),
        (D::String(v), ElemType::Double) => D::Double(v.iter().map(|s| s.trim().parse().unwrap_or(f64::NAN)).collect()),
        (D::String(v), ElemType::Int64) => D::Int64(
            v.iter()
                .map(|s| s.trim().parse().map_err(|_| op_err!("cannot cast '{s}' to int64")))
                .collect::<OpResult<_>>()?,
        ),
        (d, t) => return Err(op_err!("cannot cast {} to {}", d.elem_type().name(), t.name())),
    })
}

struct Concat {
    axis: i64,
}

/// Builds `Concat`.
pub(crate) fn build_concat(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=usize::MAX, 1..=1)?;
    let axis = ctx.int("axis").ok_or_else(|| ctx.err("attribute 'axis' is required"))?;
    Ok(Box::new(Concat { axis }))
}

impl Kernel for Concat {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let parts: Vec<&Tensor> = inputs.iter().flatten().copied().collect();
        let first = parts.first().ok_or_else(|| op_err!("no inputs"))?;
        let rank = first.shape.len();
        let axis = resolve_axis(self.axis, rank)?;
        let outer: usize = first.shape[..axis].iter().product();
        let mut shape = first.shape.clone();
        shape[axis] = 0;
        for p in &parts {
            if p.shape.len() != rank || p.elem_type() != first.elem_type() {
                return Err(op_err!("inputs differ in rank or element type ({:?} vs {:?})", p.shape, first.shape));
            }
            for (d, (&a, &b)) in p.shape.iter().zip(&first.shape).enumerate() {
                if d != axis && a != b {
                    return Err(op_err!("input shapes {:?} and {:?} differ outside axis {axis}", p.shape, first.shape));
                }
            }
            shape[axis] += p.shape[axis];
        }
        // Each input contributes `outer` chunks of `inner * dim` elements.
        let chunk = |p: &Tensor| p.shape[axis..].iter().product::<usize>();
        macro_rules! gather {
            ($variant:ident) => {{
                let total: usize = parts.iter().map(|p| p.len()).sum();
                let mut v = Vec::with_capacity(total);
                for o in 0..outer {
                    for p in &parts {
                        let TensorData::$variant(d) = &p.data else { return Err(op_err!("mixed element types")) };
                        let c = chunk(p);
                        v.extend_from_slice(&d[o * c..(o + 1) * c]);
                    }
                }
                TensorData::$variant(v)
            }};
        }
        let data = match first.elem_type() {
            ElemType::Float => gather!(Float),
            ElemType::Double => gather!(Double),
            ElemType::Int64 => gather!(Int64),
            ElemType::String => gather!(String),
        };
        out.push(Value::Tensor(Tensor { shape, data }));
        Ok(())
    }

    fn column_op(&self) -> Option<ColumnOp<'_>> {
        Some(ColumnOp::Concat { axis: self.axis })
    }
}

struct Reshape {
    allow_zero: bool,
}

/// Builds `Reshape` (opset ≥ 5: shape as second input).
pub(crate) fn build_reshape(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    if ctx.opset < 5 {
        return Err(ctx.err("Reshape before opset 5 (shape attribute) is not supported"));
    }
    ctx.expect_arity(2..=2, 1..=1)?;
    Ok(Box::new(Reshape { allow_zero: ctx.int("allowzero").unwrap_or(0) != 0 }))
}

impl Kernel for Reshape {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let spec = input(inputs, 1)?.as_i64().ok_or_else(|| op_err!("shape must be an int64 tensor"))?;
        let mut shape = Vec::with_capacity(spec.len());
        let mut infer = None;
        for (i, &d) in spec.iter().enumerate() {
            match d {
                -1 if infer.is_none() => {
                    infer = Some(i);
                    shape.push(1);
                }
                0 if !self.allow_zero => {
                    shape.push(*x.shape.get(i).ok_or_else(|| op_err!("shape copies missing dim {i}"))?)
                }
                d if d >= 0 => shape.push(d as usize),
                d => return Err(op_err!("invalid shape entry {d}")),
            }
        }
        let known: usize = shape.iter().product();
        if let Some(i) = infer {
            if known == 0 || x.len() % known != 0 {
                return Err(op_err!("cannot reshape {:?} to {spec:?}", x.shape));
            }
            shape[i] = x.len() / known;
        }
        if shape.iter().product::<usize>() != x.len() {
            return Err(op_err!("cannot reshape {:?} ({} elements) to {spec:?}", x.shape, x.len()));
        }
        out.push(Value::Tensor(Tensor { shape, data: x.data.clone() }));
        Ok(())
    }

    fn column_op(&self) -> Option<ColumnOp<'_>> {
        Some(ColumnOp::Reshape { allow_zero: self.allow_zero })
    }
}

struct Identity;

/// Builds `Identity`.
pub(crate) fn build_identity(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    Ok(Box::new(Identity))
}

impl Kernel for Identity {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        out.push(Value::Tensor(input(inputs, 0)?.clone()));
        Ok(())
    }

    fn column_op(&self) -> Option<ColumnOp<'_>> {
        Some(ColumnOp::Identity)
    }
}

struct Flatten {
    axis: i64,
}

/// Builds `Flatten`.
pub(crate) fn build_flatten(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    Ok(Box::new(Flatten { axis: ctx.int("axis").unwrap_or(1) }))
}

impl Kernel for Flatten {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let rank = x.shape.len() as i64;
        let axis = if self.axis < 0 { self.axis + rank } else { self.axis };
        if axis < 0 || axis > rank {
            return Err(op_err!("axis {} out of range for rank {rank}", self.axis));
        }
        let outer: usize = x.shape[..axis as usize].iter().product();
        let inner: usize = x.shape[axis as usize..].iter().product();
        out.push(Value::Tensor(Tensor { shape: vec![outer, inner], data: x.data.clone() }));
        Ok(())
    }
}

struct Sigmoid;

/// Builds `Sigmoid`.
pub(crate) fn build_sigmoid(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    Ok(Box::new(Sigmoid))
}

impl Kernel for Sigmoid {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let data = match &x.data {
            TensorData::Float(v) => TensorData::Float(v.iter().map(|&x| 1.0 / (1.0 + (-x).exp())).collect()),
            TensorData::Double(v) => TensorData::Double(v.iter().map(|&x| 1.0 / (1.0 + (-x).exp())).collect()),
            _ => return Err(op_err!("Sigmoid needs float or double input")),
        };
        out.push(Value::Tensor(Tensor { shape: x.shape.clone(), data }));
        Ok(())
    }
}

struct Softmax {
    axis: i64,
    /// Before opset 13 the input is coerced to 2-D at `axis` and softmax runs over the flattened tail.
    coerce_2d: bool,
}

/// Builds `Softmax`.
pub(crate) fn build_softmax(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let coerce_2d = ctx.opset < 13;
    Ok(Box::new(Softmax { axis: ctx.int("axis").unwrap_or(if coerce_2d { 1 } else { -1 }), coerce_2d }))
}

impl Kernel for Softmax {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let axis = resolve_axis(self.axis, x.shape.len())?;
        let (outer, dim, inner) = if self.coerce_2d {
            (x.shape[..axis].iter().product(), x.shape[axis..].iter().product(), 1usize)
        } else {
            (x.shape[..axis].iter().product::<usize>(), x.shape[axis], x.shape[axis + 1..].iter().product::<usize>())
        };
        let mut v = to_f64(x)?;
        for o in 0..outer {
            for i in 0..inner {
                let idx = |k: usize| (o * dim + k) * inner + i;
                let max = (0..dim).map(|k| v[idx(k)]).fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for k in 0..dim {
                    v[idx(k)] = (v[idx(k)] - max).exp();
                    sum += v[idx(k)];
                }
                for k in 0..dim {
                    v[idx(k)] /= sum;
                }
            }
        }
        let data = match x.elem_type() {
            ElemType::Float => TensorData::Float(v.into_iter().map(|x| x as f32).collect()),
            ElemType::Double => TensorData::Double(v),
            _ => return Err(op_err!("Softmax needs float or double input")),
        };
        out.push(Value::Tensor(Tensor { shape: x.shape.clone(), data }));
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

struct Binary(Arith);

fn build_binary(ctx: &NodeCtx<'_>, op: Arith) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(2..=2, 1..=1)?;
    Ok(Box::new(Binary(op)))
}

/// Builds `Add`.
pub(crate) fn build_add(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    build_binary(ctx, Arith::Add)
}
/// Builds `Sub`.
pub(crate) fn build_sub(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    build_binary(ctx, Arith::Sub)
}
/// Builds `Mul`.
pub(crate) fn build_mul(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    build_binary(ctx, Arith::Mul)
}
/// Builds `Div`.
pub(crate) fn build_div(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    build_binary(ctx, Arith::Div)
}

/// Output shape and, per output element, the offsets into the two operands.
type Broadcast = (Vec<usize>, Vec<(usize, usize)>);

/// Numpy-style broadcast of two shapes.
fn broadcast(a: &[usize], b: &[usize]) -> OpResult<Broadcast> {
    let rank = a.len().max(b.len());
    let pad = |s: &[usize]| -> Vec<usize> { std::iter::repeat_n(1, rank - s.len()).chain(s.iter().copied()).collect() };
    let (pa, pb) = (pad(a), pad(b));
    let mut shape = Vec::with_capacity(rank);
    for (&x, &y) in pa.iter().zip(&pb) {
        shape.push(match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(op_err!("shapes {a:?} and {b:?} do not broadcast")),
        });
    }
    let strides = |s: &[usize]| -> Vec<usize> {
        let mut st = vec![0; rank];
        let mut acc = 1;
        for d in (0..rank).rev() {
            st[d] = if s[d] == 1 { 0 } else { acc };
            acc *= s[d];
        }
        st
    };
    let (sa, sb) = (strides(&pa), strides(&pb));
    let total: usize = shape.iter().product();
    let mut idx = Vec::with_capacity(total);
    let mut coord = vec![0usize; rank];
    for _ in 0..total {
        let oa = coord.iter().zip(&sa).map(|(c, s)| c * s).sum();
        let ob = coord.iter().zip(&sb).map(|(c, s)| c * s).sum();
        idx.push((oa, ob));
        for d in (0..rank).rev() {
            coord[d] += 1;
            if coord[d] < shape[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    Ok((shape, idx))
}

impl Kernel for Binary {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let (a, b) = (input(inputs, 0)?, input(inputs, 1)?);
        let (shape, idx) = broadcast(&a.shape, &b.shape)?;
        macro_rules! apply {
            ($x:expr, $y:expr, $variant:ident) => {{
                let f = |p: _, q: _| match self.0 {
                    Arith::Add => p + q,
                    Arith::Sub => p - q,
                    Arith::Mul => p * q,
                    Arith::Div => p / q,
                };
                TensorData::$variant(idx.iter().map(|&(i, j)| f($x[i], $y[j])).collect())
            }};
        }
        let data = match (&a.data, &b.data) {
            (TensorData::Float(x), TensorData::Float(y)) => apply!(x, y, Float),
            (TensorData::Double(x), TensorData::Double(y)) => apply!(x, y, Double),
            (TensorData::Int64(x), TensorData::Int64(y)) => {
                if matches!(self.0, Arith::Div) && y.contains(&0) {
                    return Err(op_err!("integer division by zero"));
                }
                let f = |p: i64, q: i64| match self.0 {
                    Arith::Add => p.wrapping_add(q),
                    Arith::Sub => p.wrapping_sub(q),
                    Arith::Mul => p.wrapping_mul(q),
                    Arith::Div => p.wrapping_div(q),
                };
                TensorData::Int64(idx.iter().map(|&(i, j)| f(x[i], y[j])).collect())
            }
            _ => return Err(op_err!("operands must have the same numeric type")),
        };
        out.push(Value::Tensor(Tensor { shape, data }));
        Ok(())
    }
}

struct ArgMax {
    axis: i64,
    keepdims: bool,
    last: bool,
}

/// Builds `ArgMax`.
pub(crate) fn build_argmax(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    Ok(Box::new(ArgMax {
        axis: ctx.int("axis").unwrap_or(0),
        keepdims: ctx.int("keepdims").unwrap_or(1) != 0,
        last: ctx.int("select_last_index").unwrap_or(0) != 0,
    }))
}

impl Kernel for ArgMax {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let axis = resolve_axis(self.axis, x.shape.len())?;
        let v = to_f64(x)?;
        let outer: usize = x.shape[..axis].iter().product();
        let dim = x.shape[axis];
        let inner: usize = x.shape[axis + 1..].iter().product();
        if dim == 0 {
            return Err(op_err!("ArgMax over an empty axis"));
        }
        let mut res = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let mut best = 0usize;
                for k in 1..dim {
                    let (cur, b) = (v[(o * dim + k) * inner + i], v[(o * dim + best) * inner + i]);
                    if cur > b || (self.last && cur == b) {
                        best = k;
                    }
                }
                res.push(best as i64);
            }
        }
        let mut shape = x.shape.clone();
        if self.keepdims {
            shape[axis] = 1;
        } else {
            shape.remove(axis);
        }
        out.push(Value::Tensor(Tensor { shape, data: TensorData::Int64(res) }));
        Ok(())
    }
}

struct Gather {
    axis: i64,
}

/// Builds `Gather` (indices along one axis; skl2onnx uses it to pick columns).
pub(crate) fn build_gather(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(2..=2, 1..=1)?;
    Ok(Box::new(Gather { axis: ctx.int("axis").unwrap_or(0) }))
}

impl Kernel for Gather {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let indices = input(inputs, 1)?;
        let idx = indices.as_i64().ok_or_else(|| op_err!("indices must be int64"))?;
        let axis = resolve_axis(self.axis, x.shape.len())?;
        let dim = x.shape[axis];
        let idx = idx
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + dim as i64 } else { i };
                usize::try_from(j).ok().filter(|&j| j < dim).ok_or_else(|| op_err!("index {i} out of range 0..{dim}"))
            })
            .collect::<OpResult<Vec<_>>>()?;
        let outer: usize = x.shape[..axis].iter().product();
        let inner: usize = x.shape[axis + 1..].iter().product();
        let mut shape = x.shape[..axis].to_vec();
        shape.extend_from_slice(&indices.shape);
        shape.extend_from_slice(&x.shape[axis + 1..]);
        let positions =
            (0..outer).flat_map(|o| idx.iter().flat_map(move |&i| (0..inner).map(move |k| (o * dim + i) * inner + k)));
        let data = match &x.data {
            TensorData::Float(v) => TensorData::Float(positions.map(|p| v[p]).collect()),
            TensorData::Double(v) => TensorData::Double(positions.map(|p| v[p]).collect()),
            TensorData::Int64(v) => TensorData::Int64(positions.map(|p| v[p]).collect()),
            TensorData::String(v) => TensorData::String(positions.map(|p| v[p].clone()).collect()),
        };
        out.push(Value::Tensor(Tensor { shape, data }));
        Ok(())
    }
}
