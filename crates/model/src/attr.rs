//! Typed access to a node's attributes, with errors that name the node.

use crate::error::ModelError;
use crate::proto::{AttributeProto, NodeProto};
use crate::tensor::Tensor;

/// A node being compiled: its proto plus the identity used in every error about it.
pub(crate) struct NodeCtx<'a> {
    pub node: &'a NodeProto,
    pub name: String,
    pub op: &'a str,
    pub domain: &'a str,
    pub opset: i64,
}

impl<'a> NodeCtx<'a> {
    /// An [`ModelError::InvalidNode`] for this node.
    pub fn err(&self, message: impl Into<String>) -> ModelError {
        ModelError::InvalidNode {
            node: self.name.clone(),
            op: self.op.to_string(),
            domain: self.domain.to_string(),
            opset: self.opset,
            message: message.into(),
        }
    }

    fn attr(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name.as_deref() == Some(name))
    }

    /// True when the attribute is present.
    pub fn has(&self, name: &str) -> bool {
        self.attr(name).is_some()
    }

    /// An `int` attribute.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.attr(name).and_then(|a| a.i)
    }

    /// A `float` attribute.
    pub fn float(&self, name: &str) -> Option<f32> {
        self.attr(name).and_then(|a| a.f)
    }

    /// A `string` attribute, which must be UTF-8.
    pub fn string(&self, name: &str) -> Result<Option<String>, ModelError> {
        match self.attr(name).and_then(|a| a.s.as_ref()) {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes.clone())
                .map(Some)
                .map_err(|_| self.err(format!("attribute '{name}' is not valid UTF-8"))),
        }
    }

    /// A `string` attribute with a default.
    pub fn string_or(&self, name: &str, default: &str) -> Result<String, ModelError> {
        Ok(self.string(name)?.unwrap_or_else(|| default.to_string()))
    }

    /// An `ints` attribute; empty when absent.
    pub fn ints(&self, name: &str) -> &'a [i64] {
        self.attr(name).map(|a| a.ints.as_slice()).unwrap_or(&[])
    }

    /// A `floats` attribute; empty when absent.
    pub fn floats(&self, name: &str) -> &'a [f32] {
        self.attr(name).map(|a| a.floats.as_slice()).unwrap_or(&[])
    }

    /// A `strings` attribute (UTF-8 checked); empty when absent.
    pub fn strings(&self, name: &str) -> Result<Vec<String>, ModelError> {
        let Some(a) = self.attr(name) else { return Ok(Vec::new()) };
        a.strings
            .iter()
            .map(|s| {
                String::from_utf8(s.clone())
                    .map_err(|_| self.err(format!("attribute '{name}' holds a string that is not valid UTF-8")))
            })
            .collect()
    }

    /// A `tensor` attribute, converted.
    pub fn tensor(&self, name: &str) -> Result<Option<Tensor>, ModelError> {
        match self.attr(name).and_then(|a| a.t.as_ref()) {
            None => Ok(None),
            Some(t) => crate::graph::tensor_from_proto(t, name).map(Some).map_err(|e| self.err(e.to_string())),
        }
    }

    /// A float vector given either as `<name>` (floats) or `<name>_as_tensor` (float or double tensor), widened to
    /// `f64` so callers can narrow as the operator's arithmetic type requires.
    pub fn floats_or_tensor(&self, name: &str) -> Result<Vec<f64>, ModelError> {
        let tensor_name = format!("{name}_as_tensor");
        if let Some(t) = self.tensor(&tensor_name)? {
            if self.has(name) {
                return Err(self.err(format!("both '{name}' and '{tensor_name}' are set")));
            }
            return match &t.data {
                crate::TensorData::Float(v) => Ok(v.iter().map(|&x| x as f64).collect()),
                crate::TensorData::Double(v) => Ok(v.clone()),
                _ => Err(self.err(format!("'{tensor_name}' must be a float or double tensor"))),
            };
        }
        Ok(self.floats(name).iter().map(|&x| x as f64).collect())
    }

    /// Number of declared inputs (including empty optional ones).
    pub fn n_inputs(&self) -> usize {
        self.node.input.len()
    }

    /// Checks the input and output counts against what the operator accepts.
    pub fn expect_arity(
        &self,
        inputs: std::ops::RangeInclusive<usize>,
        outputs: std::ops::RangeInclusive<usize>,
    ) -> Result<(), ModelError> {
        let (ni, no) = (self.node.input.len(), self.node.output.len());
        if !inputs.contains(&ni) {
            return Err(self.err(format!("has {ni} inputs, expected {}..={}", inputs.start(), inputs.end())));
        }
        if !outputs.contains(&no) {
            return Err(self.err(format!("has {no} outputs, expected {}..={}", outputs.start(), outputs.end())));
        }
        Ok(())
    }
}
