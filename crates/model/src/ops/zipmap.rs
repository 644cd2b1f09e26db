//! `ZipMap`: class-probability matrix to one `{label: probability}` map per row.

use crate::attr::NodeCtx;
use crate::error::{op_err, ModelError, OpResult};
use crate::ops::{input, Kernel};
use crate::tensor::{MapKeys, MapSequence, Tensor, TensorData, Value};

struct ZipMap {
    keys: MapKeys,
}

/// Builds `ZipMap`.
pub(crate) fn build(ctx: &NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError> {
    ctx.expect_arity(1..=1, 1..=1)?;
    let strings = ctx.strings("classlabels_strings")?;
    let ints = ctx.ints("classlabels_int64s");
    let keys = match (strings.is_empty(), ints.is_empty()) {
        (false, true) => MapKeys::String(strings),
        (true, false) => MapKeys::Int64(ints.to_vec()),
        _ => return Err(ctx.err("exactly one of classlabels_strings and classlabels_int64s must be set")),
    };
    Ok(Box::new(ZipMap { keys }))
}

impl Kernel for ZipMap {
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult {
        let x = input(inputs, 0)?;
        let TensorData::Float(v) = &x.data else { return Err(op_err!("ZipMap needs a float tensor")) };
        let cols = match x.shape.len() {
            1 => x.shape[0],
            2 => x.shape[1],
            r => return Err(op_err!("ZipMap needs a 1-D or 2-D input, got rank {r}")),
        };
        if cols != self.keys.len() {
            return Err(op_err!("input has {cols} columns but there are {} class labels", self.keys.len()));
        }
        out.push(Value::Maps(MapSequence { keys: self.keys.clone(), values: v.clone() }));
        Ok(())
    }
}
