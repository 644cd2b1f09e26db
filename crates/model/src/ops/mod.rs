//! Operator kernels and the table that maps `(domain, op_type)` to a kernel builder.
//!
//! Every kernel is built once at load from the node's attributes (parsing and validating them then), and at run time
//! only reads its input tensors and returns freshly allocated outputs.

use crate::attr::NodeCtx;
use crate::error::{op_err, ModelError, OpResult};
use crate::fuse::{ColumnOp, ColumnProgram};
use crate::tensor::{Tensor, Value};

mod core;
mod encode;
mod linear;
mod preprocess;
mod zipmap;

/// The default ONNX domain, as it appears in a node (empty) and in messages.
pub(crate) const CORE: &str = "ai.onnx";
/// The ONNX-ML domain.
pub(crate) const ML: &str = "ai.onnx.ml";

/// A compiled operator.
pub(crate) trait Kernel: Send + Sync {
    /// Runs on the node's inputs (`None` for an omitted optional input) and pushes one value per node output.
    fn run(&self, inputs: &[Option<&Tensor>], out: &mut Vec<Value>) -> OpResult;

    /// Column-wise semantics, for operators the load-time fusion ([`crate::fuse`]) can trace through.
    fn column_op(&self) -> Option<ColumnOp<'_>> {
        None
    }

    /// Offers the kernel a way to compute its input 0 straight from the graph inputs. A kernel that accepts
    /// (returns true) is then run with the graph inputs, in graph order, as its inputs.
    fn fuse_input(&mut self, _program: &ColumnProgram) -> bool {
        false
    }

    /// Tree ensembles describe their trees here, for the explainer ([`crate::explain`]).
    fn ensemble(&self) -> Option<crate::tree::EnsembleView<'_>> {
        None
    }
}

/// Builds a kernel from a node.
pub(crate) type Builder = fn(&NodeCtx<'_>) -> Result<Box<dyn Kernel>, ModelError>;

/// `(domain, op_type, builder)` for every supported operator.
pub(crate) const OPS: &[(&str, &str, Builder)] = &[
    (ML, "TreeEnsembleClassifier", crate::tree::build_classifier),
    (ML, "TreeEnsembleRegressor", crate::tree::build_regressor),
    (ML, "TreeEnsemble", crate::tree::build_tree_ensemble),
    (ML, "ZipMap", zipmap::build),
    (ML, "Imputer", preprocess::build_imputer),
    (ML, "Scaler", preprocess::build_scaler),
    (ML, "Normalizer", preprocess::build_normalizer),
    (ML, "Binarizer", preprocess::build_binarizer),
    (ML, "FeatureVectorizer", preprocess::build_feature_vectorizer),
    (ML, "ArrayFeatureExtractor", preprocess::build_array_feature_extractor),
    (ML, "OneHotEncoder", encode::build_one_hot),
    (ML, "LabelEncoder", encode::build_label_encoder),
    (ML, "CategoryMapper", encode::build_category_mapper),
    (ML, "LinearClassifier", linear::build_classifier),
    (ML, "LinearRegressor", linear::build_regressor),
    (CORE, "Cast", core::build_cast),
    (CORE, "Concat", core::build_concat),
    (CORE, "Reshape", core::build_reshape),
    (CORE, "Identity", core::build_identity),
    (CORE, "Flatten", core::build_flatten),
    (CORE, "Sigmoid", core::build_sigmoid),
    (CORE, "Softmax", core::build_softmax),
    (CORE, "Add", core::build_add),
    (CORE, "Sub", core::build_sub),
    (CORE, "Mul", core::build_mul),
    (CORE, "Div", core::build_div),
    (CORE, "ArgMax", core::build_argmax),
    (CORE, "Gather", core::build_gather),
];

/// Highest opset version accepted per domain. Older versions of the supported operators share the semantics we
/// implement; newer ones are refused rather than guessed.
pub(crate) fn max_opset(domain: &str) -> Option<i64> {
    match domain {
        CORE => Some(23),
        ML => Some(5),
        _ => None,
    }
}

/// `domain::Op, …` for error messages.
pub(crate) fn supported_list() -> String {
    OPS.iter().map(|(d, o, _)| format!("{d}::{o}")).collect::<Vec<_>>().join(", ")
}

/// Looks up the builder for an operator.
pub(crate) fn builder(domain: &str, op: &str) -> Option<Builder> {
    OPS.iter().find(|(d, o, _)| *d == domain && *o == op).map(|(_, _, b)| *b)
}

/// The `i`-th input, which the operator requires.
pub(crate) fn input<'a>(inputs: &[Option<&'a Tensor>], i: usize) -> OpResult<&'a Tensor> {
    inputs.get(i).copied().flatten().ok_or_else(|| op_err!("missing required input #{i}"))
}

/// Numeric tensor data widened to `f64`, for operators whose arithmetic does not care about the input type.
pub(crate) fn to_f64(t: &Tensor) -> OpResult<Vec<f64>> {
    use crate::TensorData as D;
    Ok(match &t.data {
        D::Float(v) => v.iter().map(|&x| x as f64).collect(),
        D::Double(v) => v.clone(),
        D::Int64(v) => v.iter().map(|&x| x as f64).collect(),
        D::String(_) => return Err(op_err!("expected a numeric tensor, got strings")),
    })
}

/// Numeric tensor data as `f32` (the ML operators' arithmetic type).
pub(crate) fn to_f32(t: &Tensor) -> OpResult<std::borrow::Cow<'_, [f32]>> {
    use crate::TensorData as D;
    use std::borrow::Cow;
    Ok(match &t.data {
        D::Float(v) => Cow::Borrowed(v.as_slice()),
        D::Double(v) => Cow::Owned(v.iter().map(|&x| x as f32).collect()),
        D::Int64(v) => Cow::Owned(v.iter().map(|&x| x as f32).collect()),
        D::String(_) => return Err(op_err!("expected a numeric tensor, got strings")),
    })
}
