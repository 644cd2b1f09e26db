//! Linear models from ai.onnx.ml: `LinearClassifier` and `LinearRegressor` (`y = x·Wᵀ + b`, then a transform).

use crate::attr::NodeCtx;
use crate::error::{op_err, ModelError, OpResult};
use crate::ops::{input, to_f32, Kernel};
use crate::post::{apply_many, logistic, PostTransform};
use crate::tensor::{Tensor, TensorData, Value};

struct Linear {
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    n_out: usize,
    post: PostTransform,
}

impl Linear {
    fn new(ctx: &NodeCtx<'_>, n_out: usize) -> Result<Linear, ModelError> {
        let coefficients = ctx.floats("coefficients").to_vec();
        let intercepts = ctx.floats("intercepts").to_vec();
        if n_out == 0 || coefficients.is_empty() || !coefficients.len().is_multiple_of(n_out) {
            return Err(ctx.err(format!("{} coefficients do not split into {n_out} outputs", coefficients.len())));
        }
        if !intercepts.is_empty() && intercepts.len() != n_out {
            return Err(ctx.err(format!("{} intercepts for {n_out} outputs", intercepts.len())));
        }
        let s = ctx.string_or("post_transform", "NONE")?;
        let post = PostTransform::parse(&s).ok_or_else(|| ctx.err(format!("unknown post_transform '{s}'")))?;
        Ok(Linear { coefficients, intercepts, n_out, post })
    }

    fn scores(&self, x: &Tensor) -> OpResult<(usize, Vec<f32>)> {
        let (rows, cols) = x.rows_cols();
        if cols * self.n_out != self.coefficients.len() {
            return Err(op_err!(
                "input has {cols} features, the model expects {}",
                self.coefficients.len() / self.n_out
            ));
        }
        let v = to_f32(x)?;
        let mut y = Vec::with_capacity(rows * self.n_out);
        for row in v.chunks(cols.max(1)).take(rows) {
            for k in 0..self.n_out {
                let w = &self.coefficients[k * cols..(k + 1) * cols];
                let dot: f32 = row.iter().zip(w).map(|(a, b)| a * b).sum();
                y.push(dot + self.intercepts.get(k).copied().unwrap_or(0.0));
            }
        }
        Ok((rows, y))
    }
}

struct LinearClassifier {
    linear: Linear,
    labels: Result<Vec<i64>, Vec<String>>,
}

/// Builds `LinearClassifier`.
pub(crate) fn build_classifier(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=2)?;
    let strings = ctx.strings("classlabels_strings")?;
    let ints = ctx.ints("classlabels_ints");
    let labels = if strings.is_empty() { Ok(ints.to_vec()) } else { Err(strings) };
    let n_labels = labels.as_ref().map_or_else(Vec::len, Vec::len);
    let n_out = ctx.floats("intercepts").len().max(1);
    if n_labels < 2 || (n_out != 1 && n_out != n_labels) {
        return Err(ctx.err(format!("{n_labels} class labels for {n_out} score columns")));
    }
    Ok(Box::new(LinearClassifier { linear: Linear::new(ctx, n_out)?, labels }))
}

impl Kernel for LinearClassifier {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let (rows, raw) = self.linear.scores(x)?;
        let n_labels = self.labels.as_ref().map_or_else(Vec::len, Vec::len);
        let mut z = Vec::with_capacity(rows * n_labels);
        let mut best = Vec::with_capacity(rows);
        for row in raw.chunks(self.linear.n_out) {
            if self.linear.n_out == 1 {
                // Binary with one score column: positive class when the score is positive.
                let s = row[0];
                best.push(usize::from(s > 0.0));
                match self.linear.post {
                    PostTransform::Logistic => z.extend([logistic(-s), logistic(s)]),
                    _ => z.extend([-s, s]),
                }
            } else {
                let mut r = row.to_vec();
                let arg = r.iter().enumerate().fold(0, |b, (k, &v)| if v > r[b] { k } else { b });
                best.push(arg);
                apply_many(self.linear.post, &mut r);
                z.extend(r);
            }
        }
        let labels = match &self.labels {
            Ok(ints) => TensorData::Int64(best.iter().map(|&k| ints[k]).collect()),
            Err(strings) => TensorData::String(best.iter().map(|&k| strings[k].clone()).collect()),
        };
        out.push(Value::Tensor(Tensor { shape: vec![rows], data: labels }));
        out.push(Value::Tensor(Tensor { shape: vec![rows, n_labels], data: TensorData::Float(z) }));
        Ok(())
    }
}

struct LinearRegressor(Linear);

/// Builds `LinearRegressor`.
pub(crate) fn build_regressor(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let targets = usize::try_from(ctx.int("targets").unwrap_or(1)).map_err(|_| ctx.err("negative targets"))?;
    Ok(Box::new(LinearRegressor(Linear::new(ctx, targets)?)))
}

impl Kernel for LinearRegressor {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let (rows, mut y) = self.0.scores(x)?;
        if self.0.n_out > 1 {
            for r in y.chunks_mut(self.0.n_out) {
                apply_many(self.0.post, r);
            }
        } else if self.0.post == PostTransform::Logistic {
            y.iter_mut().for_each(|v| *v = logistic(*v));
        }
        out.push(Value::Tensor(Tensor { shape: vec![rows, self.0.n_out], data: TensorData::Float(y) }));
        Ok(())
    }
}
